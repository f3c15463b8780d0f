"""Complex formula ops: vectors of interleaved (real, imaginary) pairs, as KeOps stores them."""

from __future__ import annotations

OPS: list[type] = []
