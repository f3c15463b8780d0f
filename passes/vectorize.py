"""kir-vectorize: compute `width` consecutive reduced indices at once, one per SIMD lane.

The loop over the reduced index that folds pairs into reduction states (or adds them to
column sums) steps by `width` and is marked `kirl.lanes = width`: every value computed in it
that depends on the reduced index holds `width` lanes, the index of lane l being %j + l, and
lanes past the loop's end are masked out of the states. Reduction states of the nest become
`!kirl.acc<..., lanes = width>` (lane l folds the indices equal to l modulo width, blocks
combine lane by lane), and `kirl.acc_reduce_lanes` folds the lanes into one state once per
output row, in index order, so ties resolve as without lanes. Reductions that keep the best
values (Min, ArgKMin, ...: those with an `admits` rule) keep one state instead: a vector of
values is tested against it at once and only admitted lanes are folded in, in index order; their
blocks then continue from the state so far. Values of the output index stay
scalars and are broadcast where lanes use them. A scheduling pass: results do not change
beyond the order of additions.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IndexType, IntegerAttr, ModuleOp
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from kir.dialect import loops as kirl
from kir.dialect.types import AccType
from kir.reductions import REDUCTION_RULES

PAIR_OPS = (kirl.AccUpdateOp, kirl.AccumulateOp)


def row_loop(func: kirl.FuncOp) -> scf.ForOp | None:
    """The loop over output rows: the loop in the function's body."""
    return next((op for op in func.body.block.ops if isinstance(op, scf.ForOp)), None)


def pair_loop(nest: scf.ForOp) -> scf.ForOp | None:
    """The loop of `nest` whose body folds pairs into states or column sums."""
    for op in nest.walk():
        if isinstance(op, scf.ForOp) and any(isinstance(o, PAIR_OPS) for o in op.body.block.ops):
            return op
    return None


def _constant(value: int) -> arith.ConstantOp:
    return arith.ConstantOp.from_int_and_width(value, IndexType())


def vectorize_row(row: scf.ForOp, width: int) -> None:
    """Vectorize the reduction nests in the body of `row`."""
    for nest in [op for op in row.body.block.ops if isinstance(op, scf.ForOp)]:
        inner = pair_loop(nest)
        if inner is None or "kirl.lanes" in inner.attributes:
            continue
        for loop in nest.walk():
            if isinstance(loop, scf.ForOp) and loop is not inner and "kirl.block" in loop.attributes:
                step = loop.step.owner
                if not isinstance(step, arith.ConstantOp) or step.value.value.data % width:
                    raise PassFailedException(
                        f"kir-vectorize: the reduction blocks must hold a multiple of {width} indices"
                    )
        lanes = _constant(width)
        Rewriter.insert_op([lanes], InsertPoint.before(nest))
        lanes.result.name_hint = "lanes"
        inner.operands[2] = lanes.result
        inner.attributes["kirl.lanes"] = IntegerAttr(width, IndexType())

        # States of the nest, and the initial states feeding it, hold one state per lane; but
        # reductions that can test a vector of values at once (K-min and the like) keep one
        # state, folded through the blocks in index order.
        states = [
            value
            for op in nest.walk()
            for value in (*op.results, *(arg for region in op.regions for arg in region.block.args))
            if isinstance(value.type, AccType) and not _filtered(value.type)
        ]
        initial = [v for v in nest.iter_args if isinstance(v.owner, kirl.AccInitOp) and not _filtered(v.type)]
        for value in [*states, *initial]:
            Rewriter.replace_value_with_new_type(value, value.type.with_lanes(width))
        _fold_blocks_in_order(nest)
        results = [r for r in nest.results if isinstance(r.type, AccType) and r.type.lanes.data > 1]
        for result in results:
            folded = kirl.AccReduceLanesOp(result)
            Rewriter.insert_op([folded], InsertPoint.after(nest))
            result.replace_uses_with_if(folded.result, lambda use, op=folded: use.operation is not op)


def _filtered(acc: AccType) -> bool:
    """A reduction whose vectorized update tests whole vectors (kir.reductions' `admits`)."""
    return REDUCTION_RULES[acc.kind.data].admits is not None


def _fold_blocks_in_order(nest: scf.ForOp) -> None:
    """For one-state reductions, each block starts from the state so far instead of an empty
    one (then combined): the same result for reductions that keep the best values, and the
    vector test stays effective from the first index of every block."""
    for combine in [op for op in nest.walk() if isinstance(op, kirl.AccCombineOp)]:
        if not _filtered(combine.result.type) or not isinstance(combine.later.owner, scf.ForOp):
            continue
        block_loop: scf.ForOp = combine.later.owner
        position = list(block_loop.results).index(combine.later)
        if not isinstance(block_loop.iter_args[position].owner, kirl.AccInitOp):
            continue
        block_loop.operands[3 + position] = combine.earlier
        combine.result.replace_all_uses_with(combine.later)
        Rewriter.erase_op(combine)


@dataclass(frozen=True)
class Vectorize(ModulePass):
    """Give the reduced index `width` SIMD lanes (1: leave the loops scalar)."""

    name = "kir-vectorize"

    width: int = 8

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.width < 1:
            raise PassFailedException(f"kir-vectorize: width must be >= 1, got {self.width}")
        if self.width == 1:
            return
        for func in [f for f in op.walk() if isinstance(f, kirl.FuncOp)]:
            row = row_loop(func)
            if row is not None:
                vectorize_row(row, self.width)
