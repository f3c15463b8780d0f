"""kir-chunk-d: stream wide vectors through a loop over chunks of their entries.

A sum over the entries of a wide vector (`kir.sum`, `kir.sqdist`, `kir.scalprod`,
`kir.sqnorm2` of dimension >= `threshold`) whose operands are built entry by entry
(elementwise ops) from loaded variables is rewritten as a loop over chunks of `chunk` entries:
each iteration loads `chunk` entries of each variable (`kirl.load ... entries %d of D`),
computes the elementwise ops on them and adds the chunk's partial sum. A D = 256 squared
distance then needs a few registers per pair instead of 2 x 256 (KeOps' issues #57 and #110:
register spills at large D), and the generated code does not grow with D. The entries are
added chunk by chunk in order; within a chunk the op's own rule sums them. A scheduling pass:
the algorithm is unchanged, only the order of the additions over entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IndexType, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from kir.dialect import elementwise
from kir.dialect import loops as kirl
from kir.dialect.formula import AddOp
from kir.dialect.types import VecType
from kir.dialect.vector import ScalprodOp, SqDistOp, SqNorm2Op, SumOp

SUMS_OVER_ENTRIES = (SumOp, SqDistOp, ScalprodOp, SqNorm2Op)
"""Ops whose result is a sum over their operands' entries: a sum of per-chunk results."""

ENTRYWISE = tuple(elementwise.OPS)
"""Ops whose result entry k depends only on entry k of each operand (or a broadcast scalar)."""


def _chunkable(value: SSAValue, width: int, seen: dict[SSAValue, bool]) -> bool:
    """True when `value` (of `width` entries) is computed entry by entry from loaded rows."""
    if value in seen:
        return seen[value]
    op = value.owner
    if isinstance(op, kirl.LoadOp):
        result = op.offset is None
    elif isinstance(op, ENTRYWISE):
        result = all(
            o.type.size == 1 or (o.type.size == width and _chunkable(o, width, seen)) for o in op.operands
        )
    else:
        result = False
    seen[value] = result
    return result


def _chunk_of(
    value: SSAValue,
    offset: SSAValue,
    size: int,
    width: int,
    new_ops: list[Operation],
    cache: dict[SSAValue, SSAValue],
) -> SSAValue:
    """Entries [offset, offset + size) of `value`, computed by ops appended to `new_ops`."""
    if value.type.size == 1:
        return value
    if value in cache:
        return cache[value]
    op = value.owner
    chunk_type = VecType(size, value.type.element_type, value.type.cat)
    if isinstance(op, kirl.LoadOp):
        new = kirl.LoadOp(op.position, op.row, chunk_type, offset, width)
    else:
        operands = [_chunk_of(o, offset, size, width, new_ops, cache) for o in op.operands]
        new = type(op).create(operands=operands, result_types=[chunk_type], properties=dict(op.properties))
    new_ops.append(new)
    cache[value] = new.results[0]
    return new.results[0]


def _partial(root: Operation, offset: SSAValue, size: int, width: int) -> tuple[list[Operation], SSAValue]:
    """Ops computing `root` over entries [offset, offset + size) of its operands."""
    new_ops: list[Operation] = []
    cache: dict[SSAValue, SSAValue] = {}
    operands = [_chunk_of(o, offset, size, width, new_ops, cache) for o in root.operands]
    partial = type(root).create(
        operands=operands, result_types=[root.results[0].type], properties=dict(root.properties)
    )
    new_ops.append(partial)
    return new_ops, partial.results[0]


def chunk_root(root: Operation, chunk: int) -> None:
    """Replace `root` (a sum over `width` entries) by a loop over chunks of its entries."""
    width = max(o.type.size for o in root.operands)
    index = IndexType()
    steps = width // chunk
    constants = {
        value: arith.ConstantOp.from_int_and_width(value, index)
        for value in sorted({0, chunk, steps * chunk})
    }
    ops: list[Operation] = list(constants.values())
    first_ops, total = _partial(root, constants[0].result, chunk, width)
    ops += first_ops
    if steps > 1:
        body = Block(arg_types=[index, total.type])
        offset, running = body.args
        offset.name_hint = "d"
        body_ops, partial = _partial(root, offset, chunk, width)
        added = AddOp(running, partial)
        body.add_ops([*body_ops, added, scf.YieldOp(added.results[0])])
        loop = scf.ForOp(
            constants[chunk].result,
            constants[steps * chunk].result,
            constants[chunk].result,
            [total],
            Region(body),
        )
        loop.attributes["kirl.chunk"] = constants[chunk].value
        ops.append(loop)
        total = loop.results[0]
    if width % chunk:
        tail_ops, partial = _partial(root, constants[steps * chunk].result, width % chunk, width)
        added = AddOp(total, partial)
        ops += [*tail_ops, added]
        total = added.results[0]
    Rewriter.insert_op(ops, InsertPoint.before(root))
    total.name_hint = root.results[0].name_hint
    root.results[0].replace_all_uses_with(total)
    root.detach()
    root.erase()


@dataclass(frozen=True)
class ChunkEntries(ModulePass):
    """Loop over chunks of `chunk` entries for sums over `threshold` or more entries."""

    name = "kir-chunk-d"

    threshold: int = 64
    chunk: int = 8

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.chunk < 1 or self.threshold < 1:
            raise PassFailedException(
                f"kir-chunk-d: chunk and threshold must be >= 1, got {self.chunk} and {self.threshold}"
            )
        seen: dict[SSAValue, bool] = {}
        roots = [
            o
            for o in op.walk()
            if isinstance(o, SUMS_OVER_ENTRIES)
            and (width := max(v.type.size for v in o.operands)) >= max(self.threshold, self.chunk)
            and all(v.type.size in (1, width) and _chunkable(v, width, seen) for v in o.operands)
            and isinstance(o.parent_op(), kirl.FuncOp | scf.ForOp)
        ]
        for root in roots:
            chunk_root(root, self.chunk)
