"""The `kir.emitter.Emitter` instruction set over llvmlite's IRBuilder, for the host CPU.

Entries are LLVM scalars of the kernel's float type (or i64 for indices). Math functions are
LLVM intrinsics (llvm.exp, llvm.atan2, ...), which LLVM lowers to instructions (sqrt, floor,
fabs) or to calls of the C library that the JIT resolves in the process.
"""

from __future__ import annotations

from llvmlite import ir

from kir.emitter import MATH_FUNCTIONS

I1 = ir.IntType(1)
I64 = ir.IntType(64)


class LLVMEmitter:
    """Scalar arithmetic in `float_type` appended through `builder`."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type):
        self.builder = builder
        self.float_type = float_type
        self._module = builder.module

    def constant(self, value: float) -> ir.Value:
        return ir.Constant(self.float_type, float(value))

    def index_constant(self, value: int) -> ir.Value:
        return ir.Constant(I64, value)

    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fadd(a, b)

    def sub(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fsub(a, b)

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fmul(a, b)

    def div(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fdiv(a, b)

    def neg(self, a: ir.Value) -> ir.Value:
        return self.builder.fneg(a)

    def math(self, name: str, *args: ir.Value) -> ir.Value:
        if MATH_FUNCTIONS.get(name) != len(args):
            raise ValueError(f"unknown math function {name} of {len(args)} argument(s)")
        signature = ir.FunctionType(self.float_type, [self.float_type] * len(args))
        function = self._module.declare_intrinsic(f"llvm.{name}", [self.float_type], signature)
        return self.builder.call(function, list(args))

    def less(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered("<", a, b)

    def greater(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered(">", a, b)

    def less_equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered("<=", a, b)

    def greater_equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered(">=", a, b)

    def equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered("==", a, b)

    def not_equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_unordered("!=", a, b)

    def index_to_float(self, a: ir.Value) -> ir.Value:
        return self.builder.sitofp(a, self.float_type)

    def is_nan(self, a: ir.Value) -> ir.Value:
        return self.builder.fcmp_unordered("uno", a, a)

    def index_equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.icmp_signed("==", a, b)

    def logical_and(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.and_(a, b)

    def logical_or(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.or_(a, b)

    def logical_not(self, a: ir.Value) -> ir.Value:
        return self.builder.xor(a, ir.Constant(I1, 1))

    def select(self, condition: ir.Value, if_true: ir.Value, if_false: ir.Value) -> ir.Value:
        return self.builder.select(condition, if_true, if_false)
