"""Vector formula ops: results that mix the entries of a vector (sums, norms, products)."""

from __future__ import annotations

from xdsl.irdl import irdl_op_definition, traits_def
from xdsl.traits import Commutative, Pure

from kir.dialect.base import PairToScalarOp, ToScalarOp


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


OPS = [SumOp, ScalprodOp, SqDistOp]
