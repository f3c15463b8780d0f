"""The `kir.emitter.Emitter` instruction set over llvmlite's IRBuilder, for the host CPU.

Entries are LLVM scalars of the kernel's float type (or i64 for indices). Math functions are
LLVM intrinsics (llvm.exp, llvm.log, ...), which the JIT resolves to the C library.
"""

from __future__ import annotations

from llvmlite import ir

I1 = ir.IntType(1)
I64 = ir.IntType(64)


class LLVMEmitter:
    """Scalar arithmetic in `float_type` appended through `builder`."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type):
        self.builder = builder
        self.float_type = float_type
        self._module = builder.module

    def _intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        function = self._module.declare_intrinsic(name, [self.float_type])
        return self.builder.call(function, list(args))

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

    def exp(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.exp", a)

    def log(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.log", a)

    def sqrt(self, a: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.sqrt", a)

    def powf(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self._intrinsic("llvm.pow", a, b)

    def less(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered("<", a, b)

    def greater(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered(">", a, b)

    def equal(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fcmp_ordered("==", a, b)

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
