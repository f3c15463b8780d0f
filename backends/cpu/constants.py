"""LLVM vector constants made once per process.

A kernel's IR uses the same few splat constants hundreds of times, and llvmlite formats the
text of every new constant object anew: made afresh at each use they took a third of the
Python time of a compile."""

from __future__ import annotations

from llvmlite import ir

_SPLATS: dict[tuple, ir.Constant] = {}


def splat(vector: ir.VectorType, value: float | int) -> ir.Constant:
    """`value` in every lane of `vector` (one shared constant per type and value)."""
    # -0.0 == 0.0 and NaN != NaN: floats are keyed by their exact bits.
    key = (str(vector), value.hex() if isinstance(value, float) else value)
    constant = _SPLATS.get(key)
    if constant is None:
        constant = _SPLATS[key] = ir.Constant(vector, [value] * vector.count)
    return constant


def undefined(vector: ir.VectorType) -> ir.Constant:
    """An undefined `vector` (the other operand of a broadcast's shuffle)."""
    key = (str(vector), "undef")
    constant = _SPLATS.get(key)
    if constant is None:
        constant = _SPLATS[key] = ir.Constant(vector, ir.Undefined)
    return constant
