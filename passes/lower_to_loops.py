"""kir-lower-to-loops: each `kir.kernel` becomes a `kirl.func` with explicit loops.

The output index runs in the outer loop, the reduced index in the inner one, and every
reduction carries its accumulator state through the inner loop. Each formula op is placed at
the shallowest level its category allows: parameters and constants once per call, values of
the output index once per output row, the rest per pair. That is loop-invariant code motion
decided by the type system rather than by analysis.

A sum is linear, so the factors of a summed product that do not depend on the reduced index
leave the loop too: sum_j a_i b_ij -> a_i sum_j b_ij, negations included (a gradient's
cotangent e_i and its -2 are applied once per row, not once per pair). The products are then
rounded in another order: the result differs from the formula's literal order by rounding only
(as the blocked and lane-wise summation order already does), except where a_i is 0 or infinite
and the sum is not finite (0 * inf is NaN where the literal order might have summed zeros).
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
from kir.dialect.elementwise import MulOp, NegOp
from kir.dialect.formula import KernelOp, OutputOp, ReduceOp, VarOp
from kir.dialect.types import AccType, VecType


def _level(category: str, output_category: str) -> int:
    """0: once per call; 1: once per output row; 2: once per (output row, reduced index)."""
    if category == "p":
        return 0
    return 1 if category == output_category else 2


def split_product(value: SSAValue, level: dict[SSAValue, int]) -> tuple[list[SSAValue], list[SSAValue], bool]:
    """The factors of the product `value` that vary with the reduced index (`level` 2), those
    that do not, and whether an odd number of negations was met: through Mul and Neg ops of the
    reduced index used only by this product."""
    inner: list[SSAValue] = []
    outer: list[SSAValue] = []
    negated = False
    pending = [value]
    while pending:
        v = pending.pop()
        owner = v.owner
        through = v is value or v.uses.get_length() == 1
        if level[v] == 2 and through and isinstance(owner, MulOp):
            pending.extend(reversed(owner.args))
        elif level[v] == 2 and through and isinstance(owner, NegOp):
            negated = not negated
            pending.append(owner.args[0])
        else:
            (inner if level[v] == 2 else outer).append(v)
    return inner, outer, negated


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
    levels: dict[SSAValue, int] = {}
    for op in kernel.body.block.ops:
        if isinstance(op, ReduceOp | OutputOp):
            continue
        level = _level(op.results[0].type.cat, output_category)
        levels[op.results[0]] = level
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
    # What each row reduction accumulates, and the factors it applies once the loop is done.
    summed: list[list[SSAValue]] = []
    after: list[tuple[list[SSAValue], bool]] = []
    for _, r in row_reductions:
        inner, outer, negated = split_product(r.formula, levels) if r.kind_name == "sum" else ([], [], False)
        if not inner or not (outer or negated):
            summed.append([values[v] for v in r.args])
            after.append(([], False))
            continue
        # Narrow factors first: b * exp(...) once per pair, then times the vector.
        inner.sort(key=lambda v: v.type.size)
        product = values[inner[0]]
        for factor in inner[1:]:
            multiply = MulOp(product, values[factor])
            inner_block.add_op(multiply)
            product = multiply.result
        summed.append([product])
        after.append(([values[v] for v in sorted(outer, key=lambda v: v.type.size)], negated))
    acc_types = [
        AccType(
            r.kind_name,
            args[0].type.size,
            r.formula.type.element_type,
            r.k_value or 0,
            r.weight.type.size if r.weight is not None else 0,
        )
        for args, (_, r) in zip(summed, row_reductions, strict=True)
    ]
    inits = [kirl.AccInitOp(t) for t in acc_types]
    outer_block.add_ops(inits)
    accs = [inner_block.insert_arg(t, len(inner_block.args)) for t in acc_types]
    updates = [kirl.AccUpdateOp(acc, reduced_index, args) for acc, args in zip(accs, summed, strict=True)]
    inner_block.add_ops(updates)
    inner_block.add_ops([kirl.AccumulateOp(values[r.formula], k, reduced_index) for k, r in column_sums])
    inner_block.add_op(scf.YieldOp(*[u.result for u in updates]))

    reduction_loop = scf.ForOp(zero, reduced_size, one, [i.result for i in inits], Region(inner_block))
    outer_block.add_op(reduction_loop)
    for acc, acc_type, (factors, negated), (k, reduction) in zip(
        reduction_loop.results, acc_types, after, row_reductions, strict=True
    ):
        result_type: VecType = reduction.result.type
        if factors or negated:  # the sum of the remaining factors: possibly fewer entries
            result_type = VecType(acc_type.dim.data, result_type.element_type, result_type.cat)
        final = kirl.AccFinalizeOp(acc, result_type)
        outer_block.add_op(final)
        # The factors' product first (narrow ones first), then one product with the sum.
        scale = factors[0] if factors else None
        for factor in factors[1:]:
            multiply = MulOp(scale, factor)
            outer_block.add_op(multiply)
            scale = multiply.result
        value = final.result
        if scale is not None:
            multiply = MulOp(value, scale)
            outer_block.add_op(multiply)
            value = multiply.result
        if negated:
            negation = NegOp(value)
            outer_block.add_op(negation)
            value = negation.result
        outer_block.add_op(kirl.StoreOp(value, k, outer_index))
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
