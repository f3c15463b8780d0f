"""kir-lower-to-loops: each `kir.kernel` becomes a `kirl.func` with explicit loops.

The output index runs in the outer loop, the reduced index in the inner one, and every
reduction carries its accumulator state through the inner loop. Each formula op is placed at
the shallowest level its category allows: parameters and constants once per call, values of
the output index once per output row, the rest per pair. That is loop-invariant code motion
decided by the type system rather than by analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IndexType, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from kir.dialect import loops as kirl
from kir.dialect.formula import KernelOp, OutputOp, ReduceOp, VarOp
from kir.dialect.types import AccType


def _level(category: str, output_category: str) -> int:
    """0: once per call; 1: once per output row; 2: once per (output row, reduced index)."""
    if category == "p":
        return 0
    return 1 if category == output_category else 2


def lower_kernel(kernel: KernelOp) -> kirl.FuncOp:
    """The loop-level function computing `kernel`."""
    reductions: list[ReduceOp] = kernel.reductions
    axis = reductions[0].axis_value if reductions else 1
    output_category = "i" if axis == 1 else "j"

    index = IndexType()
    func_block = Block(arg_types=[index, index, index])
    begin, end, reduced_size = func_block.args
    begin.name_hint, end.name_hint, reduced_size.name_hint = "begin", "end", "reduced"
    zero = arith.ConstantOp.from_int_and_width(0, index)
    one = arith.ConstantOp.from_int_and_width(1, index)
    func_block.add_ops([zero, one])

    outer_block = Block(arg_types=[index])
    inner_block = Block(arg_types=[index])
    outer_index, reduced_index = outer_block.args[0], inner_block.args[0]
    outer_index.name_hint = output_category
    reduced_index.name_hint = "j" if axis == 1 else "i"
    rows = {0: None, 1: outer_index, 2: reduced_index}
    blocks = {0: func_block, 1: outer_block, 2: inner_block}

    values: dict[SSAValue, SSAValue] = {}
    for op in kernel.body.block.ops:
        if isinstance(op, ReduceOp | OutputOp):
            continue
        level = _level(op.results[0].type.cat, output_category)
        if isinstance(op, VarOp):
            new_op: Operation = kirl.LoadOp(op.position, rows[level], op.result.type)
        else:
            new_op = op.clone(value_mapper=values)
        blocks[level].add_op(new_op)
        values[op.results[0]] = new_op.results[0]
        new_op.results[0].name_hint = op.results[0].name_hint

    # Row reductions carry a state through the inner loop; sums over the other index (column
    # sums) add each pair's value to their output row in place, in the same pass.
    row_reductions = [(k, r) for k, r in enumerate(reductions) if r.axis_value == axis]
    column_sums = [(k, r) for k, r in enumerate(reductions) if r.axis_value != axis]
    acc_types = [
        AccType(
            r.kind_name,
            r.formula.type.size,
            r.formula.type.element_type,
            r.k_value or 0,
            r.weight.type.size if r.weight is not None else 0,
        )
        for _, r in row_reductions
    ]
    inits = [kirl.AccInitOp(t) for t in acc_types]
    outer_block.add_ops(inits)
    accs = [inner_block.insert_arg(t, len(inner_block.args)) for t in acc_types]
    updates = [
        kirl.AccUpdateOp(acc, reduced_index, [values[v] for v in r.args])
        for acc, (_, r) in zip(accs, row_reductions, strict=True)
    ]
    inner_block.add_ops(updates)
    inner_block.add_ops([kirl.AccumulateOp(values[r.formula], k, reduced_index) for k, r in column_sums])
    inner_block.add_op(scf.YieldOp(*[u.result for u in updates]))

    reduction_loop = scf.ForOp(zero, reduced_size, one, [i.result for i in inits], Region(inner_block))
    outer_block.add_op(reduction_loop)
    for acc, (k, reduction) in zip(reduction_loop.results, row_reductions, strict=True):
        final = kirl.AccFinalizeOp(acc, reduction.result.type)
        outer_block.add_ops([final, kirl.StoreOp(final.result, k, outer_index)])
    outer_block.add_op(scf.YieldOp())

    func_block.add_op(scf.ForOp(begin, end, one, [], Region(outer_block)))
    func_block.add_op(kirl.ReturnOp())
    return kirl.FuncOp(kernel.sym_name.data, Region(func_block))


@dataclass(frozen=True)
class LowerToLoops(ModulePass):
    """Replace every `kir.kernel` by its loop-level `kirl.func`."""

    name = "kir-lower-to-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for kernel in [k for k in op.walk() if isinstance(k, KernelOp)]:
            Rewriter.replace_op(kernel, lower_kernel(kernel))
