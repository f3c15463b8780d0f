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

MATH_FUNCTIONS: dict[str, int] = {
    "exp": 1,
    "log": 1,
    "sqrt": 1,
    "sin": 1,
    "cos": 1,
    "asin": 1,
    "acos": 1,
    "atan": 1,
    "atan2": 2,
    "pow": 2,
    "floor": 1,
    "round": 1,
    "fabs": 1,
}
"""Math functions `Emitter.math` knows, with their arity. Semantics are C's (`round` rounds
half away from zero, `atan2(y, x)`); back-ends map them to intrinsics or their own code."""


class Emitter(Protocol):
    """Scalar operations in the kernel's element type; comparisons give booleans."""

    def constant(self, value: float) -> Value:
        """A floating-point constant (inf and nan allowed)."""

    def index_constant(self, value: int) -> Value:
        """A 64-bit integer constant (for index state such as ArgMin's)."""

    def add(self, a: Value, b: Value) -> Value: ...
    def sub(self, a: Value, b: Value) -> Value: ...
    def mul(self, a: Value, b: Value) -> Value: ...
    def div(self, a: Value, b: Value) -> Value: ...
    def neg(self, a: Value) -> Value: ...

    def accumulate(self, total: Value, value: Value) -> Value:
        """total + value for a sum's state; where `value` is a product, the back-end may fuse
        it with the addition (one rounding instead of two, as a sum of squares does)."""

    def mul_add(self, a: Value, b: Value, c: Value) -> Value:
        """a * b + c, possibly rounded once (a fused multiply-add): only where that cannot
        change an infinity, NaN or sign, e.g. sums of squares."""

    def math(self, name: str, *args: Value) -> Value:
        """A function of MATH_FUNCTIONS applied to `args`."""

    def less(self, a: Value, b: Value) -> Value:
        """Ordered a < b (false when either is NaN)."""

    def less_equal(self, a: Value, b: Value) -> Value:
        """Ordered a <= b (false when either is NaN)."""

    def greater(self, a: Value, b: Value) -> Value:
        """Ordered a > b (false when either is NaN)."""

    def greater_equal(self, a: Value, b: Value) -> Value:
        """Ordered a >= b (false when either is NaN)."""

    def equal(self, a: Value, b: Value) -> Value:
        """Ordered a == b (false when either is NaN)."""

    def not_equal(self, a: Value, b: Value) -> Value:
        """Unordered a != b (true when either is NaN), as C's `!=`."""

    def is_nan(self, a: Value) -> Value: ...
    def index_equal(self, a: Value, b: Value) -> Value: ...
    def index_less(self, a: Value, b: Value) -> Value: ...
    def index_to_float(self, a: Value) -> Value: ...
    def logical_and(self, a: Value, b: Value) -> Value: ...
    def logical_or(self, a: Value, b: Value) -> Value: ...
    def logical_not(self, a: Value) -> Value: ...

    def select(self, condition: Value, if_true: Value, if_false: Value) -> Value:
        """Entry-wise condition ? if_true : if_false."""
