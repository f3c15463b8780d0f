"""Matrix formula ops: vectors read as row-major matrices and tensors (MatVecMult, TensorDot, ...).

As in KeOps (compiled with C_CONTIGUOUS, its default), a vector of dimension n*m read as an
n x m matrix holds row r in entries r*m .. r*m + m - 1, and a tensor of shape (d0, d1, ...)
is flattened in row-major (C) order. Shapes are tuples of integers: `(2, 3)` in the DSL, a
`DenseArrayBase` property in the IR.
"""

from __future__ import annotations

import math
from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import DenseArrayBase
from xdsl.irdl import irdl_op_definition, prop_def
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import FormulaOp


def int_tuple(op_name: str, attr: str, value: Any, example: str = "(2, 3)") -> tuple[int, ...]:
    """`value` as a tuple of integers; VerifyException naming the op when it is something else."""
    if value is None:
        raise VerifyException(f"{op_name}: missing the tuple argument {attr}")
    if not isinstance(value, tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise VerifyException(
            f"{op_name}: {attr} must be a tuple of integers such as {example}, got {value!r}"
        )
    return value


def tensor_shape(op_name: str, attr: str, value: Any, operand: str, dim: int) -> tuple[int, ...]:
    """A tensor shape that must flatten to an operand of dimension `dim`."""
    shape = int_tuple(op_name, attr, value)
    if any(d < 1 for d in shape):
        raise VerifyException(f"{op_name}: the sizes in {attr} must be >= 1, got {shape}")
    if math.prod(shape) != dim:
        raise VerifyException(
            f"{op_name}: {attr} {shape} holds {math.prod(shape)} entries, but {operand} has dimension {dim}"
        )
    return shape


def contracted_axes(op_name: str, attr: str, value: Any, rank: int) -> tuple[int, ...]:
    """Distinct axes of a tensor of `rank` axes."""
    axes = int_tuple(op_name, attr, value, "(0,)")
    if any(not 0 <= a < rank for a in axes) or len(set(axes)) != len(axes):
        raise VerifyException(f"{op_name}: {attr} must list distinct axes in 0..{rank - 1}, got {axes}")
    return axes


def tensordot_keep_shape(
    op_name: str,
    dims: Sequence[int],
    dimfa: Any,
    dimfb: Any,
    contfa: Any,
    contfb: Any,
    permute: Any = None,
) -> tuple[int, ...]:
    """The shape of TensorDot's result before flattening (in output order); VerifyException if invalid.

    The natural result axes are a's kept axes then b's, as numpy.tensordot orders them;
    KeOps' `permute` sends natural axis k to output position permute[k]."""
    shape_a = tensor_shape(op_name, "dimfa", dimfa, "operand a", dims[0])
    shape_b = tensor_shape(op_name, "dimfb", dimfb, "operand b", dims[1])
    axes_a = contracted_axes(op_name, "contfa", contfa, len(shape_a))
    axes_b = contracted_axes(op_name, "contfb", contfb, len(shape_b))
    if len(axes_a) != len(axes_b):
        raise VerifyException(
            f"{op_name}: contfa and contfb must list as many axes, got {axes_a} and {axes_b}"
        )
    sizes_a = tuple(shape_a[k] for k in axes_a)
    sizes_b = tuple(shape_b[k] for k in axes_b)
    if sizes_a != sizes_b:
        raise VerifyException(
            f"{op_name}: contracted axes must have equal sizes, got {sizes_a} (contfa {axes_a} of a) "
            f"and {sizes_b} (contfb {axes_b} of b)"
        )
    natural = tuple(d for k, d in enumerate(shape_a) if k not in axes_a)
    natural += tuple(d for k, d in enumerate(shape_b) if k not in axes_b)
    if permute is None:
        return natural
    order = int_tuple(op_name, "permute", permute, "(1, 0)")
    if sorted(order) != list(range(len(natural))):
        raise VerifyException(
            f"{op_name}: permute must be a permutation of 0..{len(natural) - 1} "
            f"(one entry per axis of the result), got {order}"
        )
    output = [0] * len(natural)
    for axis, position in enumerate(order):
        output[position] = natural[axis]
    return tuple(output)


def _matrix_side(name: str, matrix: int, vector: int) -> int:
    """The other side of a row-major matrix of `matrix` entries with one side `vector`."""
    if matrix % vector:
        raise VerifyException(
            f"{name}: the matrix's dimension must be a multiple of the vector's dimension {vector}, "
            f"got {matrix}"
        )
    return matrix // vector


@irdl_op_definition
class MatVecMultOp(FormulaOp):
    """`kir.matvecmult %a, %v`: A v, A of dimension n*m (a row-major n x m matrix), v of dimension m."""

    name = "kir.matvecmult"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        matrix, vector = dims
        return _matrix_side(cls.name, matrix, vector)


@irdl_op_definition
class VecMatMultOp(FormulaOp):
    """`kir.vecmatmult %v, %a`: v^T A, v of dimension n, A of dimension n*m (a row-major n x m matrix)."""

    name = "kir.vecmatmult"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        vector, matrix = dims
        return _matrix_side(cls.name, matrix, vector)


@irdl_op_definition
class TensorProdOp(FormulaOp):
    """`kir.tensorprod %a, %b`: the outer product a b^T, flattened row-major (dimension |a| * |b|)."""

    name = "kir.tensorprod"
    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        return dims[0] * dims[1]


class TensorDotBase(FormulaOp, ABC):
    """What both TensorDot spellings share: the shapes of a and b and their contracted axes."""

    ARITY: ClassVar[int] = 2
    dimfa = prop_def(DenseArrayBase)
    dimfb = prop_def(DenseArrayBase)
    contfa = prop_def(DenseArrayBase)
    contfb = prop_def(DenseArrayBase)

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        shape = tensordot_keep_shape(
            cls.name,
            dims,
            attrs.get("dimfa"),
            attrs.get("dimfb"),
            attrs.get("contfa"),
            attrs.get("contfb"),
            attrs.get("permute"),
        )
        return math.prod(shape)


@irdl_op_definition
class TensorDotOp(TensorDotBase):
    """`kir.tensordot %a, %b {dimfa, dimfb, contfa, contfb}`: numpy.tensordot(a, b, (contfa, contfb))."""

    name = "kir.tensordot"


@irdl_op_definition
class TensorDotPermutedOp(TensorDotBase):
    """`kir.tensordot_permuted %a, %b {dimfa, dimfb, contfa, contfb, permute}`: TensorDot, axes permuted."""

    name = "kir.tensordot_permuted"
    permute = prop_def(DenseArrayBase)

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        if attrs.get("permute") is None:
            raise VerifyException(f"{cls.name}: missing the tuple argument permute")
        return super().result_dim(dims, **attrs)


@irdl_op_definition
class KronOp(FormulaOp):
    """`kir.kron %a, %b {dimfa, dimfb}`: numpy.kron of a and b read as tensors of shapes dimfa, dimfb."""

    name = "kir.kron"
    ARITY: ClassVar[int] = 2
    dimfa = prop_def(DenseArrayBase)
    dimfb = prop_def(DenseArrayBase)

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        shape_a = tensor_shape(cls.name, "dimfa", attrs.get("dimfa"), "operand a", dims[0])
        shape_b = tensor_shape(cls.name, "dimfb", attrs.get("dimfb"), "operand b", dims[1])
        if len(shape_a) != len(shape_b):
            raise VerifyException(
                f"{cls.name}: dimfa and dimfb must have the same number of axes, "
                f"got {len(shape_a)} ({shape_a}) and {len(shape_b)} ({shape_b})"
            )
        return dims[0] * dims[1]


OPS = [MatVecMultOp, VecMatMultOp, TensorProdOp, TensorDotOp, TensorDotPermutedOp, KronOp]
