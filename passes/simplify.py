"""kir-simplify: fold constants and drop algebraic identities on the formula level.

Autodiff writes derivatives mechanically (`g * 1`, `-(-x)`, `2 * (x - y)` twice...); these
patterns shrink them back. Every rewrite replaces a value by one of exactly the same type
(dimension, element type and category): an op whose result would change type is left alone
(e.g. `x * [1, 1, 1]` with a dimension-1 x, or `0 * x` with an i-variable x, whose zero would be
a p-category constant).

IEEE semantics are kept by default, NaN, infinities and signed zeros included:
  - constant folding evaluates the op's NumPy reference rule in float64 and rounds the result to
    the element type; a result that is NaN or infinite is not folded (the op stays);
  - x * 1, 1 * x, x / 1, x - 0, x + (-0), (-0) + x, -(-x) -> x and x * -1, -1 * x -> -x are exact;
  - Pow(x, 1) -> x, Pow(x, 2) -> Square(x), Pow(x, 0) -> 1 (C's pow(NaN, 0) = 1 too),
    Powf(x, 1) -> x, Powf(x, 2) -> Square(x) are exact.
With the option `fast-math` (`-p 'kir-simplify{fast-math=true}'`, default false), rewrites that
are wrong at special points are allowed too, as a C compiler's -ffast-math does:
  - 0 * x, x * 0 -> 0 (wrong for x = inf or NaN) and x - x -> 0 (wrong for inf and NaN);
  - x + 0, 0 + x -> x (wrong for x = -0: -0 + 0 = +0, which 1/x or Atan2 can tell apart);
  - Powf(x, 0.5) -> Sqrt(x) (pow(-inf, 0.5) = +inf but sqrt(-inf) = NaN; pow(-0, 0.5) = +0);
  - Exp(Log(x)) -> x (NaN for x < 0 before) and Log(Exp(x)) -> x (inf where exp overflows).
Ops left dead by the rewrites are erased.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import Float32Type, ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.dead_code_elimination import region_dce

from kir.dialect.autodiff import DerivativeOp
from kir.dialect.base import FormulaOp
from kir.dialect.core import ConstantOp
from kir.dialect.elementwise import (
    AddOp,
    DivOp,
    ExpOp,
    LogOp,
    MulOp,
    NegOp,
    PowfOp,
    PowOp,
    SqrtOp,
    SquareOp,
    SubOp,
)
from kir.dialect.types import VecType
from kir.registry import OP_RULES


def constant_values(value: SSAValue) -> tuple[float, ...] | None:
    """The entries of `value` if a `kir.constant` defines it, else None."""
    return value.owner.values if isinstance(value.owner, ConstantOp) else None


def is_splat(value: SSAValue, number: float) -> bool:
    """`value` is a constant whose every entry is `number` (zeros: of the same sign)."""
    values = constant_values(value)
    return values is not None and all(
        v == number and math.copysign(1.0, v) == math.copysign(1.0, number) for v in values
    )


def forward(op: Operation, value: SSAValue, rewriter: PatternRewriter) -> None:
    """Replace `op` by an existing `value`, when that keeps the result type."""
    if value.type == op.results[0].type:
        rewriter.replace(op, [], [value])


def replace_by(op: Operation, new: Operation, rewriter: PatternRewriter) -> None:
    """Replace `op` by the new op `new`, when that keeps the result type."""
    if new.results[0].type == op.results[0].type:
        rewriter.replace(op, new)


def splat_constant(number: float, type_: VecType) -> ConstantOp:
    """A constant of `type_` (category p) with every entry `number`."""
    return ConstantOp([number] * type_.size, VecType(type_.size, type_.element_type, "p"))


def replace_by_constant(op: Operation, values: list[float], rewriter: PatternRewriter) -> None:
    """Replace `op` by a constant, when its result is already of category p (else the type changes)."""
    type_: VecType = op.results[0].type
    if type_.cat == "p" and len(values) == type_.size:
        rewriter.replace(op, ConstantOp(values, type_))


class FoldConstants(RewritePattern):
    """An op of constants -> the constant its reference rule gives (finite results only)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: FormulaOp, rewriter: PatternRewriter) -> None:
        if isinstance(op, DerivativeOp) or type(op) not in OP_RULES:
            return
        operands = [constant_values(v) for v in op.args]
        if any(values is None for values in operands):
            return
        arrays = [np.asarray(values, dtype=np.float64).reshape(1, 1, -1) for values in operands]
        with np.errstate(all="ignore"):
            result = np.asarray(OP_RULES[type(op)].reference(*arrays, **op.attribute_values), np.float64)
            if isinstance(op.result.type.element_type, Float32Type):
                result = result.astype(np.float32).astype(np.float64)
        result = result.reshape(-1)
        if len(result) != op.result.type.size or not np.all(np.isfinite(result)):
            return
        replace_by_constant(op, [float(v) for v in result], rewriter)


class SimplifyMul(RewritePattern):
    """x * 1, 1 * x -> x; x * -1, -1 * x -> -x; with fast-math, 0 * x, x * 0 -> 0."""

    def __init__(self, fast_math: bool):
        self.fast_math = fast_math

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MulOp, rewriter: PatternRewriter) -> None:
        a, b = op.args
        for value, other in ((a, b), (b, a)):
            if is_splat(other, 1.0):
                return forward(op, value, rewriter)
            if is_splat(other, -1.0):
                return replace_by(op, NegOp(value), rewriter)
            if self.fast_math and (is_splat(other, 0.0) or is_splat(other, -0.0)):
                return replace_by_constant(op, [0.0] * op.result.type.size, rewriter)
        return None


class SimplifyAdd(RewritePattern):
    """x + (-0), (-0) + x -> x; with fast-math, x + 0, 0 + x -> x too."""

    def __init__(self, fast_math: bool):
        self.fast_math = fast_math

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: AddOp, rewriter: PatternRewriter) -> None:
        a, b = op.args
        for value, other in ((a, b), (b, a)):
            if is_splat(other, -0.0) or (self.fast_math and is_splat(other, 0.0)):
                return forward(op, value, rewriter)
        return None


class SimplifySub(RewritePattern):
    """x - 0 -> x; with fast-math, x - (-0) -> x and x - x -> 0."""

    def __init__(self, fast_math: bool):
        self.fast_math = fast_math

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SubOp, rewriter: PatternRewriter) -> None:
        a, b = op.args
        if is_splat(b, 0.0) or (self.fast_math and is_splat(b, -0.0)):
            forward(op, a, rewriter)
        elif self.fast_math and a == b:
            replace_by_constant(op, [0.0] * op.result.type.size, rewriter)


class SimplifyDiv(RewritePattern):
    """x / 1 -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: DivOp, rewriter: PatternRewriter) -> None:
        if is_splat(op.args[1], 1.0):
            forward(op, op.args[0], rewriter)


class SimplifyNeg(RewritePattern):
    """-(-x) -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: NegOp, rewriter: PatternRewriter) -> None:
        inner = op.args[0].owner
        if isinstance(inner, NegOp):
            forward(op, inner.args[0], rewriter)


class SimplifyPow(RewritePattern):
    """Pow(x, 1) -> x, Pow(x, 2) -> Square(x), Pow(x, 0) -> 1 (C's pow(x, 0) is 1, even for NaN)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PowOp, rewriter: PatternRewriter) -> None:
        x, exponent = op.args[0], op.exponent.value.data
        if exponent == 1:
            forward(op, x, rewriter)
        elif exponent == 2:
            replace_by(op, SquareOp(x), rewriter)
        elif exponent == 0:
            replace_by_constant(op, [1.0] * op.result.type.size, rewriter)


class SimplifyPowf(RewritePattern):
    """Powf(x, 1) -> x, Powf(x, 2) -> Square(x); with fast-math, Powf(x, 0.5) -> Sqrt(x)."""

    def __init__(self, fast_math: bool):
        self.fast_math = fast_math

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PowfOp, rewriter: PatternRewriter) -> None:
        x, exponent = op.args
        if is_splat(exponent, 1.0):
            forward(op, x, rewriter)
        elif is_splat(exponent, 2.0):
            replace_by(op, SquareOp(x), rewriter)
        elif self.fast_math and is_splat(exponent, 0.5):
            replace_by(op, SqrtOp(x), rewriter)


class SimplifyExpLog(RewritePattern):
    """Fast-math only: Exp(Log(x)) -> x and Log(Exp(x)) -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ExpOp | LogOp, rewriter: PatternRewriter) -> None:
        inner = op.args[0].owner
        inverse = LogOp if isinstance(op, ExpOp) else ExpOp
        if isinstance(inner, inverse):
            forward(op, inner.args[0], rewriter)


def simplify_patterns(fast_math: bool = False) -> list[RewritePattern]:
    """The rewrite patterns of kir-simplify."""
    patterns: list[RewritePattern] = [
        FoldConstants(),
        SimplifyMul(fast_math),
        SimplifyAdd(fast_math),
        SimplifySub(fast_math),
        SimplifyDiv(),
        SimplifyNeg(),
        SimplifyPow(),
        SimplifyPowf(fast_math),
    ]
    if fast_math:
        patterns.append(SimplifyExpLog())
    return patterns


@dataclass(frozen=True)
class Simplify(ModulePass):
    """Fold constants and algebraic identities of formula ops; `fast_math` allows the unsafe ones."""

    name = "kir-simplify"

    fast_math: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier(simplify_patterns(self.fast_math)),
            post_walk_func=region_dce,
        ).rewrite_module(op)
