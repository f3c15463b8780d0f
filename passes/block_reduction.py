"""kir-block-reduction: reduce in blocks of the reduced index, then combine the blocks.

A loop that carries reduction states (`!kirl.acc`) over the reduced index is split into an
outer loop over blocks of `block` indices and an inner loop that starts each block from a fresh
state; `kirl.acc_combine` folds each block into the running state. For float32 sums this is
KeOps' `block_sum` scheme: the error grows with block + N/block instead of N. The same shape
is what cache tiles and GPU thread blocks need later. A scheduling pass: values do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IndexType, ModuleOp
from xdsl.ir import Block, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.utils.exceptions import PassFailedException

from kir.dialect import loops as kirl
from kir.dialect.types import AccType


def is_reduction_loop(loop: scf.ForOp) -> bool:
    """A loop whose carried values are all reduction states, and that is not yet blocked."""
    carried = [arg.type for arg in loop.iter_args]
    return (
        bool(carried) and all(isinstance(t, AccType) for t in carried) and "kirl.block" not in loop.attributes
    )


@dataclass
class SplitReductionLoop(RewritePattern):
    """Split one reduction loop into blocks of `block` iterations."""

    block: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, loop: scf.ForOp, rewriter: PatternRewriter) -> None:
        if not is_reduction_loop(loop):
            return
        index = IndexType()
        block_size = arith.ConstantOp.from_int_and_width(self.block, index)

        outer_block = Block(arg_types=[index, *[a.type for a in loop.iter_args]])
        block_start, *running = outer_block.args
        block_start.name_hint = "block"
        stop = arith.AddiOp(block_start, block_size)
        block_end = arith.MinUIOp(stop, loop.ub)
        fresh = [kirl.AccInitOp(a.type) for a in loop.iter_args]
        inner = scf.ForOp(block_start, block_end, loop.step, [f.result for f in fresh], loop.detach_region(0))
        inner.attributes["kirl.block"] = block_size.value
        combined = [kirl.AccCombineOp(r, b) for r, b in zip(running, inner.results, strict=True)]
        outer_block.add_ops([stop, block_end, *fresh, inner, *combined])
        outer_block.add_op(scf.YieldOp(*[c.result for c in combined]))

        outer = scf.ForOp(loop.lb, loop.ub, block_size, list(loop.iter_args), Region(outer_block))
        outer.attributes["kirl.block"] = block_size.value
        rewriter.replace(loop, [block_size, outer], outer.results)
        block_size.result.name_hint = "block_size"


@dataclass(frozen=True)
class BlockReduction(ModulePass):
    """Accumulate reductions block by block (`block` indices each), then combine."""

    name = "kir-block-reduction"

    block: int = 256

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.block < 1:
            raise PassFailedException(f"kir-block-reduction: block must be >= 1, got {self.block}")
        PatternRewriteWalker(SplitReductionLoop(self.block), apply_recursively=False).rewrite_module(op)
