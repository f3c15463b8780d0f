"""Vector formula ops: results that mix the entries of a vector (sums, norms, products, slices).

Shapes follow KeOps 2.3 (keopscore/formulas/maths/*.py); an ill-shaped use raises a
VerifyException naming the op, what it expected and what it got. Values at special points (NaN,
inf, zero vectors) are given in each op's rule (kir/rules/vector.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.irdl import irdl_op_definition, prop_def, traits_def
from xdsl.traits import Commutative, Pure
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import FormulaOp, PairToScalarOp, ToScalarOp, broadcast_dims


def _require(condition: bool, op_name: str, message: str) -> None:
    if not condition:
        raise VerifyException(f"{op_name}: {message}")


def _require_scalar(op_name: str, what: str, dim: int) -> None:
    _require(dim == 1, op_name, f"{what} must be a scalar (dimension 1), got dimension {dim}")


def _weights_kind(op_name: str, weights: int, dim: int) -> str:
    """'iso', 'diag' or 'full': how KeOps reads weights of dimension `weights` for vectors of `dim`."""
    if weights == 1:
        return "iso"
    if weights == dim:
        return "diag"
    if weights == dim * dim:
        return "full"
    raise VerifyException(
        f"{op_name}: the weights s must have dimension 1, D or D*D for vectors of dimension D={dim} "
        f"(1, {dim} or {dim * dim}), got dimension {weights}"
    )


@irdl_op_definition
class SumOp(ToScalarOp):
    """`kir.sum %x`: the sum of a vector's entries, a scalar."""

    name = "kir.sum"


@irdl_op_definition
class ScalprodOp(PairToScalarOp):
    """`kir.scalprod %a, %b`: the scalar product <a, b> (KeOps' `|`)."""

    name = "kir.scalprod"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class SqDistOp(PairToScalarOp):
    """`kir.sqdist %a, %b`: the squared distance |a - b|^2."""

    name = "kir.sqdist"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class SumTOp(FormulaOp):
    """`kir.sumt %x {dim = 3 : i64}`: the scalar x repeated `dim` times (KeOps' SumT)."""

    name = "kir.sumt"
    dim = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, dim: int) -> int:
        _require_scalar(cls.name, "the operand", dims[0])
        _require(dim >= 1, cls.name, f"the dimension must be >= 1, got {dim}")
        return dim


@irdl_op_definition
class MaxEntryOp(ToScalarOp):
    """`kir.max_entry %x`: the largest entry of x (KeOps' Max with one argument)."""

    name = "kir.max_entry"


@irdl_op_definition
class MinEntryOp(ToScalarOp):
    """`kir.min_entry %x`: the smallest entry of x (KeOps' Min with one argument)."""

    name = "kir.min_entry"


@irdl_op_definition
class ArgMaxOp(ToScalarOp):
    """`kir.argmax %x`: the position of x's largest entry, as a float (the first one on ties)."""

    name = "kir.argmax"


@irdl_op_definition
class ArgMinOp(ToScalarOp):
    """`kir.argmin %x`: the position of x's smallest entry, as a float (the first one on ties)."""

    name = "kir.argmin"


@irdl_op_definition
class Norm2Op(ToScalarOp):
    """`kir.norm2 %x`: the Euclidean norm |x|."""

    name = "kir.norm2"


@irdl_op_definition
class SqNorm2Op(ToScalarOp):
    """`kir.sqnorm2 %x`: the squared Euclidean norm |x|^2."""

    name = "kir.sqnorm2"


@irdl_op_definition
class NormalizeOp(FormulaOp):
    """`kir.normalize %x`: x / |x| (the zero vector for x = 0, as KeOps' Rsqrt(0) = 0)."""

    name = "kir.normalize"

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        return dims[0]


@irdl_op_definition
class WeightedSqNormOp(FormulaOp):
    """`kir.weightedsqnorm %s, %x`: x's squared norm weighted by s (isotropic, diagonal or full)."""

    name = "kir.weightedsqnorm"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        _weights_kind(cls.name, dims[0], dims[1])
        return 1


@irdl_op_definition
class WeightedSqDistOp(FormulaOp):
    """`kir.weightedsqdist %s, %x, %y`: WeightedSqNorm(s, x - y)."""

    name = "kir.weightedsqdist"
    ARITY: ClassVar[int] = 3

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        _weights_kind(cls.name, dims[0], broadcast_dims(cls.name, dims[1:]))
        return 1


@irdl_op_definition
class SqNormDiagOp(FormulaOp):
    """`kir.sqnormdiag %s, %x`: sum_k s_k x_k^2 (an s of dimension 1 broadcasts, as in KeOps)."""

    name = "kir.sqnormdiag"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        _require(
            dims[0] in (1, dims[1]),
            cls.name,
            f"the weights s must have the dimension of x ({dims[1]}) or 1, got dimension {dims[0]}",
        )
        return 1


@irdl_op_definition
class SqNormIsoOp(FormulaOp):
    """`kir.sqnormiso %s, %x`: s |x|^2 for a scalar s."""

    name = "kir.sqnormiso"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        _require_scalar(cls.name, "the weight s", dims[0])
        return 1


@irdl_op_definition
class SymSqNormOp(FormulaOp):
    """`kir.symsqnorm %a, %x`: sum_kl a[k*D + l] x_k x_l, a read as a row-major D x D matrix."""

    name = "kir.symsqnorm"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        matrix, dim = dims
        _require(
            matrix == dim * dim,
            cls.name,
            f"the matrix a must have dimension D*D = {dim * dim} for x of dimension D={dim}, "
            f"got dimension {matrix}",
        )
        return 1


@irdl_op_definition
class ElemOp(FormulaOp):
    """`kir.elem %x {m = 2 : i64}`: the entry x[m], a scalar."""

    name = "kir.elem"
    m = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, m: int) -> int:
        _require(0 <= m < dims[0], cls.name, f"the position m must be in [0, {dims[0]}), got {m}")
        return 1


@irdl_op_definition
class ElemTOp(FormulaOp):
    """`kir.elemt %x {n = 5 : i64, m = 2 : i64}`: the scalar x at position m of a zero n-vector."""

    name = "kir.elemt"
    n = prop_def(IntegerAttr[i64])
    m = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, n: int, m: int) -> int:
        _require_scalar(cls.name, "the operand", dims[0])
        _require(0 <= m < n, cls.name, f"the position m must be in [0, n) = [0, {n}), got {m}")
        return n


@irdl_op_definition
class ExtractOp(FormulaOp):
    """`kir.extract %x {start = 1 : i64, length = 2 : i64}`: x[start : start + length]."""

    name = "kir.extract"
    start = prop_def(IntegerAttr[i64])
    length = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, start: int, length: int) -> int:
        _require(
            start >= 0 and length >= 1 and start + length <= dims[0],
            cls.name,
            f"the slice [start, start + length) must lie within [0, {dims[0]}) and be non-empty, "
            f"got start={start}, length={length}",
        )
        return length


@irdl_op_definition
class ExtractTOp(FormulaOp):
    """`kir.extractt %x {start = 1 : i64, dim = 5 : i64}`: x written at `start` in a zero `dim`-vector."""

    name = "kir.extractt"
    start = prop_def(IntegerAttr[i64])
    dim = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, start: int, dim: int) -> int:
        _require(
            start >= 0 and start + dims[0] <= dim,
            cls.name,
            f"an operand of dimension {dims[0]} at start={start} must fit in dimension {dim} "
            f"(0 <= start <= {dim - dims[0]})",
        )
        return dim


@irdl_op_definition
class ConcatOp(FormulaOp):
    """`kir.concat %a, %b`: the entries of a, then those of b."""

    name = "kir.concat"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        return dims[0] + dims[1]


@irdl_op_definition
class OneHotOp(FormulaOp):
    """`kir.onehot %x {dim = 4 : i64}`: the `dim`-vector with 1 at x rounded half up, 0 elsewhere."""

    name = "kir.onehot"
    dim = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, dim: int) -> int:
        _require_scalar(cls.name, "the operand", dims[0])
        _require(dim >= 1, cls.name, f"the dimension must be >= 1, got {dim}")
        return dim


@irdl_op_definition
class BSplineOp(FormulaOp):
    """`kir.bspline %knots, %x {order = 3 : i64}`: the K - order - 1 B-spline basis values at x."""

    name = "kir.bspline"
    ARITY: ClassVar[int] = 2
    order = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], *, order: int) -> int:
        knots, x = dims
        _require(order >= 0, cls.name, f"the order must be >= 0, got {order}")
        _require_scalar(cls.name, "the sampling point x", x)
        _require(
            knots >= order + 2,
            cls.name,
            f"order {order} needs at least {order + 2} knots, got a knot vector of dimension {knots}",
        )
        return knots - order - 1


@irdl_op_definition
class SoftDTWSqDistOp(FormulaOp):
    """`kir.softdtw_sqdist %x, %y, %gamma`: soft-DTW of series x and y, squared-difference cost."""

    name = "kir.softdtw_sqdist"
    ARITY: ClassVar[int] = 3

    @classmethod
    def result_dim(cls, dims: Sequence[int]) -> int:
        _require_scalar(cls.name, "gamma", dims[2])
        return 1


OPS = [
    SumOp,
    ScalprodOp,
    SqDistOp,
    SumTOp,
    MaxEntryOp,
    MinEntryOp,
    ArgMaxOp,
    ArgMinOp,
    Norm2Op,
    SqNorm2Op,
    NormalizeOp,
    WeightedSqNormOp,
    WeightedSqDistOp,
    SqNormDiagOp,
    SqNormIsoOp,
    SymSqNormOp,
    ElemOp,
    ElemTOp,
    ExtractOp,
    ExtractTOp,
    ConcatOp,
    OneHotOp,
    BSplineOp,
    SoftDTWSqDistOp,
]
