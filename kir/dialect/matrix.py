"""Matrix formula ops: vectors read as row-major matrices (MatVecMult, TensorDot, ...)."""

from __future__ import annotations

OPS: list[type] = []
