"""Derivatives as ops: they stand in the formula until the autodiff pass replaces them.

    %g = kir.grad %f, %x, %e : !kir.vec<1xf32, ij>, !kir.vec<3xf32, i>, !kir.vec<1xf32, p>
                             -> !kir.vec<3xf32, ij>

`kir-autodiff` (passes/autodiff.py) rewrites each of them into plain formula ops, with the
derivative rule of every op (kir/rules/, field `vjp`). GradMatrix, Divergence and Laplacian are
compositions of Grad, built by the front-ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.irdl import irdl_op_definition
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import FormulaOp


class DerivativeOp(FormulaOp):
    """An op of (F, x, direction) whose second operand must be a variable."""

    ARITY: ClassVar[int] = 3
    VARIABLE_OPERANDS: ClassVar[tuple[int, ...]] = (1,)

    def verify_(self) -> None:
        super().verify_()
        from kir.dialect.core import VarOp

        if not isinstance(self.args[1].owner, VarOp):
            raise VerifyException(f"{self.name}: the second operand must be a variable (kir.var)")


@irdl_op_definition
class GradOp(DerivativeOp):
    """`kir.grad %f, %x, %e`: the gradient of <F, e> with respect to variable x (KeOps' Grad)."""

    name = "kir.grad"

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        f, x, e = dims
        if e != f:
            raise VerifyException(f"{cls.name}: the direction e must have F's dimension {f}, got {e}")
        return x


@irdl_op_definition
class DiffOp(DerivativeOp):
    """`kir.diff %f, %x, %v`: the derivative of F in the direction v of variable x (KeOps' Diff)."""

    name = "kir.diff"

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        f, x, v = dims
        if v != x:
            raise VerifyException(f"{cls.name}: the direction v must have x's dimension {x}, got {v}")
        return f


OPS = [GradOp, DiffOp]
