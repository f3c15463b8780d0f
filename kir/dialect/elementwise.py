"""Elementwise formula ops: each result entry depends on the same entry of each operand.

Operands of dimension 1 broadcast (KeOps' rule); the result has the common dimension.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.irdl import irdl_op_definition, prop_def, traits_def
from xdsl.traits import Commutative, Pure

from kir.dialect.base import BinaryOp, UnaryOp


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


OPS = [NegOp, ExpOp, LogOp, SqrtOp, SquareOp, PowOp, AddOp, SubOp, MulOp, DivOp, PowfOp]
