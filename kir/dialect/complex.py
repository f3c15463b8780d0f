"""Complex formula ops: vectors of interleaved (real, imaginary) pairs, as KeOps stores them.

A complex vector of n numbers is a real vector of dimension 2n: entries 2k and 2k + 1 are the
real and imaginary parts of number k. KeOps' shape rules, kept here:

- entrywise ops (ComplexAdd, ComplexMult, Conj, ComplexExp, ...) take complex operands of one
  dimension 2n, except that a complex scalar (dimension 2) broadcasts against the others;
- ComplexReal, ComplexImag, ComplexAbs, ComplexSquareAbs and ComplexAngle give one real number
  per complex entry (dimension 2n -> n); Real2Complex, Imag2Complex and ComplexExp1j give one
  complex number per real entry (n -> 2n);
- ComplexRealScal multiplies a complex vector by a real scalar (dimension 1), in either order;
- ComplexSum adds a complex vector's numbers (2n -> 2); ComplexSumT(f, dim) repeats the
  complex scalar f (dimension 2) into a complex vector of dimension dim.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.irdl import irdl_op_definition, prop_def, traits_def
from xdsl.traits import Commutative, Pure
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import FormulaOp


def complex_dim(op_name: str, dim: int, what: str = "operand") -> int:
    """`dim` when it can hold interleaved complex numbers; VerifyException naming the op otherwise."""
    if dim % 2:
        raise VerifyException(
            f"{op_name}: a complex {what} has an even dimension (interleaved real and imaginary parts), "
            f"got dimension {dim}"
        )
    return dim


class ComplexEntrywiseOp(FormulaOp, ABC):
    """An op applied to each complex number of its operands; a complex scalar (dimension 2) broadcasts."""

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        for dim in dims:
            complex_dim(cls.name, dim)
        wide = {d for d in dims if d != 2}
        if len(wide) > 1:
            spelled = " and ".join(str(d) for d in dims)
            raise VerifyException(
                f"{cls.name}: complex dimensions {spelled} do not broadcast "
                "(they must be equal, or 2 for a complex scalar)"
            )
        return wide.pop() if wide else 2


class ComplexToRealOp(FormulaOp, ABC):
    """A real number from each complex number (dimension 2n -> n)."""

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        return complex_dim(cls.name, dims[0]) // 2


class RealToComplexOp(FormulaOp, ABC):
    """A complex number from each real number (dimension n -> 2n)."""

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        return 2 * dims[0]


@irdl_op_definition
class ComplexAddOp(ComplexEntrywiseOp):
    """`kir.complexadd %a, %b`: a + b on complex numbers."""

    name = "kir.complexadd"
    ARITY: ClassVar[int] = 2
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class ComplexSubtractOp(ComplexEntrywiseOp):
    """`kir.complexsubtract %a, %b`: a - b on complex numbers."""

    name = "kir.complexsubtract"
    ARITY: ClassVar[int] = 2


@irdl_op_definition
class ComplexMultOp(ComplexEntrywiseOp):
    """`kir.complexmult %a, %b`: a * b on complex numbers: (ar br - ai bi, ar bi + ai br)."""

    name = "kir.complexmult"
    ARITY: ClassVar[int] = 2
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class ComplexDivideOp(ComplexEntrywiseOp):
    """`kir.complexdivide %a, %b`: a / b on complex numbers, KeOps' a conj(b) / |b|^2 (NaN where b = 0)."""

    name = "kir.complexdivide"
    ARITY: ClassVar[int] = 2


@irdl_op_definition
class ConjOp(ComplexEntrywiseOp):
    """`kir.conj %a`: the complex conjugate (ar, -ai)."""

    name = "kir.conj"


@irdl_op_definition
class ComplexExpOp(ComplexEntrywiseOp):
    """`kir.complexexp %a`: e^a on complex numbers, KeOps' (e^ar cos ai, e^ar sin ai)."""

    name = "kir.complexexp"


@irdl_op_definition
class ComplexExp1jOp(RealToComplexOp):
    """`kir.complexexp1j %x`: e^(i x) = (cos x, sin x) for each real entry x."""

    name = "kir.complexexp1j"


@irdl_op_definition
class Real2ComplexOp(RealToComplexOp):
    """`kir.real2complex %x`: each real entry x as the complex number (x, 0)."""

    name = "kir.real2complex"


@irdl_op_definition
class Imag2ComplexOp(RealToComplexOp):
    """`kir.imag2complex %x`: each real entry x as the complex number (0, x)."""

    name = "kir.imag2complex"


@irdl_op_definition
class ComplexRealOp(ComplexToRealOp):
    """`kir.complexreal %a`: the real parts."""

    name = "kir.complexreal"


@irdl_op_definition
class ComplexImagOp(ComplexToRealOp):
    """`kir.compleximag %a`: the imaginary parts."""

    name = "kir.compleximag"


@irdl_op_definition
class ComplexAbsOp(ComplexToRealOp):
    """`kir.complexabs %a`: the moduli, KeOps' sqrt(ar^2 + ai^2) (which overflows where hypot would not)."""

    name = "kir.complexabs"


@irdl_op_definition
class ComplexSquareAbsOp(ComplexToRealOp):
    """`kir.complexsquareabs %a`: the squared moduli ar^2 + ai^2."""

    name = "kir.complexsquareabs"


@irdl_op_definition
class ComplexAngleOp(ComplexToRealOp):
    """`kir.complexangle %a`: the arguments atan2(ai, ar) in [-pi, pi] (C's atan2 at zeros, infinities)."""

    name = "kir.complexangle"


@irdl_op_definition
class ComplexRealScalOp(FormulaOp):
    """`kir.complexrealscal %s, %a`: a complex vector times a real scalar (the scalar may come second)."""

    name = "kir.complexrealscal"
    ARITY: ClassVar[int] = 2
    traits = traits_def(Pure(), Commutative())

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        # KeOps takes the first operand as the scalar when it has dimension 1, else the second.
        scalar, vector = dims if dims[0] == 1 else reversed(dims)
        if scalar != 1:
            raise VerifyException(
                f"{cls.name}: one operand must be a real scalar (dimension 1), "
                f"got dimensions {dims[0]} and {dims[1]}"
            )
        return complex_dim(cls.name, vector, "vector operand")


@irdl_op_definition
class ComplexSumOp(FormulaOp):
    """`kir.complexsum %a`: the sum of a complex vector's numbers, a complex scalar (dimension 2)."""

    name = "kir.complexsum"

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        complex_dim(cls.name, dims[0])
        return 2


@irdl_op_definition
class ComplexSumTOp(FormulaOp):
    """`kir.complexsumt %a {dim = 6 : i64}`: dim / 2 copies of the complex scalar a (dimension dim)."""

    name = "kir.complexsumt"
    dim = prop_def(IntegerAttr[i64])

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        if dims[0] != 2:
            raise VerifyException(
                f"{cls.name}: the operand must be a complex scalar (dimension 2), got {dims[0]}"
            )
        dim = attrs.get("dim")
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 2:
            raise VerifyException(f"{cls.name}: dim must be an even integer >= 2, got {dim!r}")
        return complex_dim(cls.name, dim, "result")


OPS = [
    ComplexAddOp,
    ComplexSubtractOp,
    ComplexMultOp,
    ComplexDivideOp,
    ConjOp,
    ComplexExpOp,
    ComplexExp1jOp,
    Real2ComplexOp,
    Imag2ComplexOp,
    ComplexRealOp,
    ComplexImagOp,
    ComplexAbsOp,
    ComplexSquareAbsOp,
    ComplexAngleOp,
    ComplexRealScalOp,
    ComplexSumOp,
    ComplexSumTOp,
]
