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

Two canonicalizations let the `cse` that follows merge more; both are exact, fast-math or not:
  - norms become squared distances: SqNorm2(a - b) -> SqDist(a, b) (a, b of one dimension) and
    Norm2(v) -> Sqrt(SqNorm2(v)), hence Norm2(a - b) -> Sqrt(SqDist(a, b)). The lowerings
    (kir/rules/vector.py) compute the same differences, squares and pairwise sum in the same
    order, and Norm2 is Sqrt of that sum: bit-identical. Norm2 is kept while kir.grad / kir.diff
    ops remain, as Norm2'(0) = 0 but Sqrt(SqNorm2)'(0) is NaN;
  - the operands of commutative ops are put in one order (`order_commutative_operands`), so
    that SqDist(y, x) and SqDist(x, y) become one op. Exact up to NaN payloads (which NaN of
    two an addition returns).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from itertools import count

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
from xdsl.traits import Pure
from xdsl.transforms.dead_code_elimination import region_dce

from kir.dialect.autodiff import DerivativeOp
from kir.dialect.base import FormulaOp
from kir.dialect.core import ConstantOp
from kir.dialect.elementwise import (
    AddOp,
    DivOp,
    EqualOp,
    ExpOp,
    LogOp,
    MulOp,
    NegOp,
    NotEqualOp,
    PowfOp,
    PowOp,
    SqrtOp,
    SquareOp,
    SubOp,
)
from kir.dialect.types import VecType
from kir.dialect.vector import Norm2Op, ScalprodOp, SqDistOp, SqNorm2Op
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


def replace_by(
    op: Operation, new: Operation, rewriter: PatternRewriter, before: list[Operation] | None = None
) -> None:
    """Replace `op` by the new op `new` (preceded by the new ops `before`), when that keeps the
    result type."""
    if new.results[0].type == op.results[0].type:
        rewriter.replace(op, [*(before or []), new], new.results)


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


def power_of_two(value: SSAValue) -> float | None:
    """The number c if `value` is a constant splat c = +-2^k (multiplying by it is exact)."""
    values = constant_values(value)
    if not values or any(v != values[0] for v in values) or values[0] == 0 or not math.isfinite(values[0]):
        return None
    mantissa, _ = math.frexp(abs(values[0]))
    return values[0] if mantissa == 0.5 else None


def single_use(value: SSAValue) -> bool:
    return value.uses.get_length() == 1


class ScaleTheSmallerOperand(RewritePattern):
    """x * (y * c) -> (x * c) * y for c = +-2^k and x of fewer entries than y; (-x) * c -> x * (-c).

    Autodiff's `-w * (2 * (x - y))` multiplies each entry of x - y by 2, then by -w; scaling the
    scalar w instead saves an op per entry. Scaling by a power of two (or negating) is exact, so
    both orders round once, the same way: the results agree unless y * c overflows or is
    subnormal, where the rewritten order is the more accurate."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MulOp, rewriter: PatternRewriter) -> None:
        for x, other in (op.args, op.args[::-1]):
            scale = power_of_two(other)
            if scale is not None and isinstance(x.owner, NegOp) and single_use(x):
                negated = splat_constant(-scale, other.type)
                return replace_by(op, MulOp(x.owner.args[0], negated.result), rewriter, [negated])
            inner = other.owner
            if not isinstance(inner, MulOp) or not single_use(other) or x.type.size >= other.type.size:
                continue
            for y, c in (inner.args, inner.args[::-1]):
                if power_of_two(c) is not None and y.type.size == other.type.size:
                    scaled = MulOp(x, c)
                    return replace_by(op, MulOp(scaled.result, y), rewriter, [scaled])
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


class SqNorm2OfDifference(RewritePattern):
    """SqNorm2(a - b) -> SqDist(a, b), for a and b of one dimension (SqDist does not broadcast)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SqNorm2Op, rewriter: PatternRewriter) -> None:
        inner = op.args[0].owner
        if isinstance(inner, SubOp) and inner.args[0].type.size == inner.args[1].type.size:
            replace_by(op, SqDistOp(*inner.args), rewriter)


class Norm2AsSqrt(RewritePattern):
    """Norm2(v) -> Sqrt(SqNorm2(v)): the same sum of squares, shared with SqNorm2(v) or SqDist."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: Norm2Op, rewriter: PatternRewriter) -> None:
        squared = SqNorm2Op(op.args[0])
        root = SqrtOp(squared.result)
        if root.result.type == op.result.type:
            rewriter.replace(op, [squared, root])


COMMUTATIVE: tuple[type[Operation], ...] = (AddOp, MulOp, SqDistOp, ScalprodOp, EqualOp, NotEqualOp)
"""Ops whose lowering gives the same bits (NaN payloads aside) with the operands swapped: IEEE
+ and * commute (broadcasting and the category join are symmetric too), SqDist squares
a - b = -(b - a) entry by entry, Scalprod sums the same products in the same order, == and !=
are symmetric. Left out: Max(a, b) and Min(a, b). Their NaN handling is symmetric (NaN when
either is), but their lowering (kir/rules/elementwise.py) returns a on ties, so Max(+0, -0) = +0
and Max(-0, +0) = -0 (NumPy's reference returns b on ties: asymmetric too). ComplexAdd and
ComplexMult carry xDSL's Commutative trait but are not reordered here (not checked)."""


def order_commutative_operands(module: Operation) -> None:
    """Put the two operands of each COMMUTATIVE op in one canonical order, in place.

    The order is that of value numbers: ops that compute the same thing from the same operands
    (what `cse` merges) share a number, given in order of first appearance, constants last. The
    order of SqDist(y, x) and SqDist(x, y) is thus one even when x and y were each computed
    twice, before cse merges the copies. Never changes a result type."""
    numbers: dict[SSAValue, tuple[int, int]] = {}
    classes: dict[Hashable, int] = {}
    fresh = count()

    def number(value: SSAValue) -> tuple[int, int]:
        if value not in numbers:  # defined outside the walk (a block argument): a number of its own
            numbers[value] = (0, next(fresh))
        return numbers[value]

    for op in module.walk():
        if isinstance(op, COMMUTATIVE) and len(op.operands) == 2:
            a, b = op.operands
            swapped_type = type(op).infer_type(b.type, a.type, **op.attribute_values)
            if number(b) < number(a) and swapped_type == op.results[0].type:
                op.operands = [b, a]
        rank = 1 if isinstance(op, ConstantOp) else 0
        key = (
            op.name,
            tuple(number(v) for v in op.operands),
            tuple(sorted(op.properties.items())),
            tuple(sorted(op.attributes.items())),
            tuple(op.result_types),
        )
        for result in op.results:
            if not op.has_trait(Pure) or op.regions:  # not a value cse would merge
                numbers[result] = (rank, next(fresh))
                continue
            if (key, result.index) not in classes:
                classes[key, result.index] = next(fresh)
            numbers[result] = (rank, classes[key, result.index])


def simplify_patterns(fast_math: bool = False, keep_norms: bool = False) -> list[RewritePattern]:
    """The rewrite patterns of kir-simplify; `keep_norms` leaves Norm2 alone (derivatives pending)."""
    patterns: list[RewritePattern] = [
        FoldConstants(),
        SimplifyMul(fast_math),
        ScaleTheSmallerOperand(),
        SimplifyAdd(fast_math),
        SimplifySub(fast_math),
        SimplifyDiv(),
        SimplifyNeg(),
        SimplifyPow(),
        SimplifyPowf(fast_math),
    ]
    patterns.append(SqNorm2OfDifference())
    if not keep_norms:  # Norm2'(0) = 0; autodiff through Sqrt(SqNorm2(v)) would give NaN there
        patterns.append(Norm2AsSqrt())
    if fast_math:
        patterns.append(SimplifyExpLog())
    return patterns


@dataclass(frozen=True)
class Simplify(ModulePass):
    """Fold constants and algebraic identities of formula ops; `fast_math` allows the unsafe ones."""

    name = "kir-simplify"

    fast_math: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        derivatives_pending = any(isinstance(o, DerivativeOp) for o in op.walk())
        PatternRewriteWalker(
            GreedyRewritePatternApplier(simplify_patterns(self.fast_math, keep_norms=derivatives_pending)),
            post_walk_func=region_dce,
        ).rewrite_module(op)
        order_commutative_operands(op)
