"""Rules of the complex ops (kir/dialect/complex.py)."""

from __future__ import annotations

from kir.rules.common import OpRule

RULES: dict[type, OpRule] = {}
