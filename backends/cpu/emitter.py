"""The `kir.emitter.Emitter` instruction set over llvmlite's IRBuilder, for the host CPU.

Entries are LLVM scalars of the kernel's float type (or i64 for indices), or, with `lanes` >
1, SIMD vectors of that many lanes (one per reduced index). Math functions are LLVM
intrinsics (llvm.exp, llvm.atan2, ...), which LLVM lowers to instructions (sqrt, floor, fabs)
or to calls of the C library that the JIT resolves in the process; on vectors, exp, log, sin
and cos are kir's own (backends/cpu/vector_math.py) since LLVM would call the scalar library
once per lane.
`mul_add`, and `accumulate` of a product, may become a fused multiply-add (one rounding);
nothing else is contracted.
"""

from __future__ import annotations

from llvmlite import ir

from kir.backends.cpu import vector_math
from kir.backends.cpu.constants import splat
from kir.emitter import MATH_FUNCTIONS

I1 = ir.IntType(1)
I64 = ir.IntType(64)
CONTRACT = ("contract",)


class LLVMEmitter:
    """Arithmetic in `float_type` (`lanes` at a time) appended through `builder`."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type, lanes: int = 1):
        self.builder = builder
        self.scalar_type = float_type
        self.lanes = lanes
        self.float_type = float_type if lanes == 1 else ir.VectorType(float_type, lanes)
        self.index_type = I64 if lanes == 1 else ir.VectorType(I64, lanes)
        self._module = builder.module

    def constant(self, value: float) -> ir.Value:
        if self.lanes == 1:
            return ir.Constant(self.float_type, float(value))
        return splat(self.float_type, float(value))

    def index_constant(self, value: int) -> ir.Value:
        return ir.Constant(self.index_type, value) if self.lanes == 1 else splat(self.index_type, value)

    def add(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fadd(a, b)

    def sub(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fsub(a, b)

    def mul(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fmul(a, b)

    def accumulate(self, total: ir.Value, value: ir.Value) -> ir.Value:
        # A sum's term that is a product is fused with its addition (one rounding, one
        # instruction): a fresh contractible pair; the original product, if nothing else
        # reads it, is dead code.
        if isinstance(value, ir.Instruction) and value.opname == "fmul":
            value = self.builder.fmul(*value.operands, flags=CONTRACT)
            return self.builder.fadd(total, value, flags=CONTRACT)
        return self.builder.fadd(total, value)

    def mul_add(self, a: ir.Value, b: ir.Value, c: ir.Value) -> ir.Value:
        # `contract` lets LLVM fuse this pair (and only this pair) into one fma instruction.
        return self.builder.fadd(self.builder.fmul(a, b, flags=CONTRACT), c, flags=CONTRACT)

    def div(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.fdiv(a, b)

    def neg(self, a: ir.Value) -> ir.Value:
        return self.builder.fneg(a)

    def math(self, name: str, *args: ir.Value) -> ir.Value:
        if MATH_FUNCTIONS.get(name) != len(args):
            raise ValueError(f"unknown math function {name} of {len(args)} argument(s)")
        if self.lanes == 1:
            signature = ir.FunctionType(self.float_type, [self.float_type] * len(args))
            function = self._module.declare_intrinsic(f"llvm.{name}", [self.float_type], signature)
            return self.builder.call(function, list(args))
        if name in ("exp", "log", "sin", "cos"):
            return getattr(vector_math, name)(self.builder, args[0])
        suffix = f"v{self.lanes}{'f32' if isinstance(self.scalar_type, ir.FloatType) else 'f64'}"
        full_name = f"llvm.{name}.{suffix}"
        function = self._module.globals.get(full_name) or ir.Function(
            self._module, ir.FunctionType(self.float_type, [self.float_type] * len(args)), full_name
        )
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

    def index_less(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.icmp_signed("<", a, b)

    def logical_and(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.and_(a, b)

    def logical_or(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.or_(a, b)

    def logical_not(self, a: ir.Value) -> ir.Value:
        true = ir.Constant(I1, 1) if self.lanes == 1 else splat(ir.VectorType(I1, self.lanes), 1)
        return self.builder.xor(a, true)

    def select(self, condition: ir.Value, if_true: ir.Value, if_false: ir.Value) -> ir.Value:
        return self.builder.select(condition, if_true, if_false)
