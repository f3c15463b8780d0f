"""Elementwise formula ops: each result entry depends on the same entry of each operand.

Operands of dimension 1 broadcast (KeOps' rule); the result has the common dimension.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.irdl import irdl_op_definition, prop_def, traits_def
from xdsl.traits import Commutative, Pure
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import BinaryOp, TernaryOp, UnaryOp


@irdl_op_definition
class NegOp(UnaryOp):
    """`kir.neg %x`: -x (KeOps' Minus)."""

    name = "kir.neg"


@irdl_op_definition
class ExpOp(UnaryOp):
    """`kir.exp %x`: e^x."""

    name = "kir.exp"


@irdl_op_definition
class LogOp(UnaryOp):
    """`kir.log %x`: natural logarithm."""

    name = "kir.log"


@irdl_op_definition
class SqrtOp(UnaryOp):
    """`kir.sqrt %x`: square root."""

    name = "kir.sqrt"


@irdl_op_definition
class SquareOp(UnaryOp):
    """`kir.square %x`: x * x."""

    name = "kir.square"


@irdl_op_definition
class PowOp(UnaryOp):
    """`kir.pow %x {exponent = 3 : i64}`: x ** n for an integer n (KeOps' Pow)."""

    name = "kir.pow"
    exponent = prop_def(IntegerAttr[i64])


@irdl_op_definition
class AddOp(BinaryOp):
    """`kir.add %a, %b`: a + b."""

    name = "kir.add"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class SubOp(BinaryOp):
    """`kir.sub %a, %b`: a - b."""

    name = "kir.sub"


@irdl_op_definition
class MulOp(BinaryOp):
    """`kir.mul %a, %b`: a * b."""

    name = "kir.mul"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class DivOp(BinaryOp):
    """`kir.div %a, %b`: a / b."""

    name = "kir.div"


@irdl_op_definition
class PowfOp(BinaryOp):
    """`kir.powf %a, %b`: a ** b for a real exponent (KeOps' Powf)."""

    name = "kir.powf"


# -- KeOps' other elementwise functions ------------------------------------------------------------
# Special points follow KeOps' C expression for each op (keopscore/utils/math_functions.py),
# evaluated with IEEE rules; the rules in kir/rules/elementwise.py say what that gives at each kink.


@irdl_op_definition
class RsqrtOp(UnaryOp):
    """`kir.rsqrt %x`: 1 / sqrt(x), and 0 at x = 0 (KeOps' Rsqrt)."""

    name = "kir.rsqrt"


@irdl_op_definition
class InvOp(UnaryOp):
    """`kir.inv %x`: 1 / x."""

    name = "kir.inv"


@irdl_op_definition
class XLogXOp(UnaryOp):
    """`kir.xlogx %x`: x * log(x), and 0 at x = 0."""

    name = "kir.xlogx"


@irdl_op_definition
class SinOp(UnaryOp):
    """`kir.sin %x`: sine."""

    name = "kir.sin"


@irdl_op_definition
class CosOp(UnaryOp):
    """`kir.cos %x`: cosine."""

    name = "kir.cos"


@irdl_op_definition
class AsinOp(UnaryOp):
    """`kir.asin %x`: arcsine (NaN outside [-1, 1])."""

    name = "kir.asin"


@irdl_op_definition
class AcosOp(UnaryOp):
    """`kir.acos %x`: arccosine (NaN outside [-1, 1])."""

    name = "kir.acos"


@irdl_op_definition
class AtanOp(UnaryOp):
    """`kir.atan %x`: arctangent."""

    name = "kir.atan"


@irdl_op_definition
class SinXDivXOp(UnaryOp):
    """`kir.sinxdivx %x`: sin(x) / x, and 1 at x = 0."""

    name = "kir.sinxdivx"


@irdl_op_definition
class AbsOp(UnaryOp):
    """`kir.abs %x`: |x|."""

    name = "kir.abs"


@irdl_op_definition
class SignOp(UnaryOp):
    """`kir.sign %x`: 1 for x > 0, -1 for x < 0, else 0 (at 0 and at NaN, as KeOps)."""

    name = "kir.sign"


@irdl_op_definition
class StepOp(UnaryOp):
    """`kir.step %x`: 0 for x < 0, else 1 (at 0 and at NaN, as KeOps)."""

    name = "kir.step"


@irdl_op_definition
class ReluOp(UnaryOp):
    """`kir.relu %x`: 0 for x < 0, else x (KeOps' ReLU)."""

    name = "kir.relu"


@irdl_op_definition
class FloorOp(UnaryOp):
    """`kir.floor %x`: the largest integer <= x."""

    name = "kir.floor"


MAX_ROUND_DECIMALS = 38
"""|decimals| of Round: 10^38 is about the largest power of ten a float32 holds."""


@irdl_op_definition
class RoundOp(UnaryOp):
    """`kir.round %x {decimals = 2 : i64}`: x rounded to `decimals` decimals, halves away from 0."""

    name = "kir.round"
    decimals = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        decimals = attrs.get("decimals", 0)
        if abs(decimals) > MAX_ROUND_DECIMALS:
            raise VerifyException(
                f"{cls.name}: the number of decimals must be between {-MAX_ROUND_DECIMALS} and "
                f"{MAX_ROUND_DECIMALS}, got {decimals}"
            )
        return dims[0]


@irdl_op_definition
class ClampIntOp(UnaryOp):
    """`kir.clampint %x {low = -1 : i64, high = 2 : i64}`: x < low ? low : (x > high ? high : x)."""

    name = "kir.clampint"
    low = prop_def(IntegerAttr[i64])
    high = prop_def(IntegerAttr[i64])


@irdl_op_definition
class DiffClampIntOp(UnaryOp):
    """`kir.diffclampint %x {low = -1 : i64, high = 2 : i64}`: 1 for low <= x <= high, else 0."""

    name = "kir.diffclampint"
    low = prop_def(IntegerAttr[i64])
    high = prop_def(IntegerAttr[i64])


@irdl_op_definition
class Atan2Op(BinaryOp):
    """`kir.atan2 %y, %x`: the angle of the point (x, y), C's atan2(y, x)."""

    name = "kir.atan2"


@irdl_op_definition
class EqualOp(BinaryOp):
    """`kir.equal %a, %b`: 1.0 where a == b, else 0.0 (0 when either is NaN)."""

    name = "kir.equal"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class NotEqualOp(BinaryOp):
    """`kir.not_equal %a, %b`: 1.0 where a != b, else 0.0 (1 when either is NaN)."""

    name = "kir.not_equal"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class LessThanOp(BinaryOp):
    """`kir.less_than %a, %b`: 1.0 where a < b, else 0.0 (0 when either is NaN)."""

    name = "kir.less_than"


@irdl_op_definition
class LessOrEqualOp(BinaryOp):
    """`kir.less_or_equal %a, %b`: 1.0 where a <= b, else 0.0 (0 when either is NaN)."""

    name = "kir.less_or_equal"


@irdl_op_definition
class MaximumOp(BinaryOp):
    """`kir.maximum %a, %b`: the larger of a and b, NaN when either is (as torch.maximum)."""

    name = "kir.maximum"


@irdl_op_definition
class MinimumOp(BinaryOp):
    """`kir.minimum %a, %b`: the smaller of a and b, NaN when either is (as torch.minimum)."""

    name = "kir.minimum"


@irdl_op_definition
class ModOp(TernaryOp):
    """`kir.mod %x, %n, %d`: x - n * floor((x - d) / n), x modulo n between d and d + n (KeOps' Mod)."""

    name = "kir.mod"


@irdl_op_definition
class ClampOp(TernaryOp):
    """`kir.clamp %x, %a, %b`: x < a ? a : (x > b ? b : x)."""

    name = "kir.clamp"


@irdl_op_definition
class IfElseOp(TernaryOp):
    """`kir.ifelse %f, %a, %b`: f >= 0 ? a : b (b where f is NaN)."""

    name = "kir.ifelse"


OPS = [
    NegOp,
    ExpOp,
    LogOp,
    SqrtOp,
    SquareOp,
    PowOp,
    AddOp,
    SubOp,
    MulOp,
    DivOp,
    PowfOp,
    RsqrtOp,
    InvOp,
    XLogXOp,
    SinOp,
    CosOp,
    AsinOp,
    AcosOp,
    AtanOp,
    SinXDivXOp,
    AbsOp,
    SignOp,
    StepOp,
    ReluOp,
    FloorOp,
    RoundOp,
    ClampIntOp,
    DiffClampIntOp,
    Atan2Op,
    EqualOp,
    NotEqualOp,
    LessThanOp,
    LessOrEqualOp,
    MaximumOp,
    MinimumOp,
    ModOp,
    ClampOp,
    IfElseOp,
]
