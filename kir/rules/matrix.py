"""Rules of the matrix ops (kir/dialect/matrix.py)."""

from __future__ import annotations

from kir.rules.common import OpRule

RULES: dict[type, OpRule] = {}
