"""The scalar instruction set that op and reduction lowerings are written against.

A lowering rule turns a kir op on vectors into per-entry scalar work: it receives each operand
as a list of entries and returns the result's entries, calling an `Emitter` for arithmetic.
Each back-end implements `Emitter` once (the CPU one over llvmlite's IRBuilder, where an entry
may be a scalar or a SIMD vector of lanes across the reduced index; the CUDA one adds libdevice
math), so one rule per op serves every back-end.
"""

from __future__ import annotations

from typing import Any, Protocol

Value = Any
"""A back-end value: one entry of a formula vector (scalar or SIMD lanes)."""


class Emitter(Protocol):
    """Scalar operations in the kernel's element type; comparisons give booleans."""

    def constant(self, value: float) -> Value:
        """A floating-point constant."""

    def index_constant(self, value: int) -> Value:
        """A 64-bit integer constant (for index state such as ArgMin's)."""

    def add(self, a: Value, b: Value) -> Value: ...
    def sub(self, a: Value, b: Value) -> Value: ...
    def mul(self, a: Value, b: Value) -> Value: ...
    def div(self, a: Value, b: Value) -> Value: ...
    def neg(self, a: Value) -> Value: ...
    def exp(self, a: Value) -> Value: ...
    def log(self, a: Value) -> Value: ...
    def sqrt(self, a: Value) -> Value: ...
    def powf(self, a: Value, b: Value) -> Value: ...

    def less(self, a: Value, b: Value) -> Value:
        """Ordered a < b (false when either is NaN)."""

    def greater(self, a: Value, b: Value) -> Value:
        """Ordered a > b (false when either is NaN)."""

    def equal(self, a: Value, b: Value) -> Value:
        """Ordered a == b (false when either is NaN)."""

    def is_nan(self, a: Value) -> Value: ...
    def index_equal(self, a: Value, b: Value) -> Value: ...
    def logical_and(self, a: Value, b: Value) -> Value: ...
    def logical_or(self, a: Value, b: Value) -> Value: ...
    def logical_not(self, a: Value) -> Value: ...

    def select(self, condition: Value, if_true: Value, if_false: Value) -> Value:
        """Entry-wise condition ? if_true : if_false."""
