"""kir-tile-rows: compute `rows` output rows per iteration, sharing the reduced index's work.

The loop over output rows steps by `rows` (marked `kirl.rows`); its body is unrolled `rows`
times and jammed: what depends on the output row (its loads, its formula values, its
reduction states, the loops carrying them) is computed once per row of the tile, while what
depends only on the reduced index (the loads of y_j and the j-only part of the formula) is
computed once for all of them. This is register blocking: each y_j brought into registers
serves `rows` output rows. The rows of a tile add their column sums
(`kirl.accumulate`) together before updating the column once. The rows left over when the
range is not a multiple of `rows` run one at a time in the original loop, after the tiles. A
scheduling pass: results do not change beyond the order of additions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IndexType, IntegerAttr, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from kir.dialect import loops as kirl
from kir.dialect.formula import AddOp
from kir.passes.vectorize import row_loop

Mapping = dict[SSAValue, SSAValue]


def row_dependent(loop: scf.ForOp) -> set[SSAValue]:
    """Values of `loop`'s body that depend on its index: operands, or loops using such values."""
    dependent: set[SSAValue] = {loop.body.block.args[0]}
    changed = True
    while changed:
        changed = False
        for op in loop.body.walk():
            if op is loop:
                continue
            uses = any(o in dependent for o in op.operands)
            if isinstance(op, scf.ForOp):
                uses = uses or any(o in dependent for inner in op.body.walk() for o in inner.operands)
            if uses:
                new = set(op.results) | (set(op.body.block.args[1:]) if isinstance(op, scf.ForOp) else set())
                if not new <= dependent:
                    dependent |= new
                    changed = True
    return dependent


@dataclass
class Jam:
    """Unroll-and-jam of one row loop body into `rows` copies."""

    rows: int
    dependent: set[SSAValue]

    def copy(
        self, ops: list[Operation], maps: list[Mapping], into: Block, slots: tuple[SSAValue, ...] = ()
    ) -> None:
        """Append to `into` the copies of `ops` (their operands mapped by `maps`); `slots` are
        the carried values of the loop whose body this is."""
        for op in ops:
            if isinstance(op, scf.YieldOp):
                values = [
                    maps[r].get(v, v)
                    for v, slot in zip(op.operands, slots, strict=True)
                    for r in self._copies(slot)
                ]
                into.add_op(scf.YieldOp(*values))
            elif not self._depends(op):
                new = op.clone(value_mapper=dict(maps[0]))
                into.add_op(new)
                for mapping in maps:
                    mapping.update(zip(op.results, new.results, strict=True))
            elif isinstance(op, scf.ForOp):
                self.copy_loop(op, maps, into)
            elif isinstance(op, kirl.AccumulateOp):
                # The rows of the tile add to the same column: add their values first, then
                # update the column once.
                values = [m.get(op.value, op.value) for m in maps]
                total = values[0]
                for value in values[1:]:
                    added = AddOp(total, value)
                    into.add_op(added)
                    total = added.results[0]
                into.add_op(kirl.AccumulateOp(total, op.position, maps[0].get(op.row, op.row)))
            else:
                for mapping in maps:
                    new = op.clone(value_mapper=dict(mapping))
                    into.add_op(new)
                    mapping.update(zip(op.results, new.results, strict=True))

    def _depends(self, op: Operation) -> bool:
        # A column sum is added once per pair, so once per row even when its value is not
        # the row's; a store writes the row's output.
        return (
            isinstance(op, kirl.AccumulateOp)
            or any(r in self.dependent for r in op.results)
            or any(o in self.dependent for o in op.operands)
        )

    def _copies(self, value: SSAValue) -> range:
        return range(self.rows) if value in self.dependent else range(1)

    def _bind(self, originals: Sequence[SSAValue], copies: Sequence[SSAValue], maps: list[Mapping]) -> None:
        """Map each original carried value to its copies (one per row when it depends on the
        row, else one shared by all rows), taken in order from `copies`."""
        remaining = iter(copies)
        for original in originals:
            for r in self._copies(original):
                maps[r][original] = copy = next(remaining)
                copy.name_hint = original.name_hint
            if original not in self.dependent:
                for mapping in maps[1:]:
                    mapping[original] = maps[0][original]

    def copy_loop(self, loop: scf.ForOp, maps: list[Mapping], into: Block) -> None:
        """One loop carrying every copy's states."""
        bounds = [maps[0].get(v, v) for v in (loop.lb, loop.ub, loop.step)]
        block_args = loop.body.block.args
        initial = [
            maps[r].get(v, v)
            for v, slot in zip(loop.iter_args, block_args[1:], strict=True)
            for r in self._copies(slot)
        ]
        body = Block(arg_types=[block_args[0].type, *(v.type for v in initial)])
        body.args[0].name_hint = block_args[0].name_hint
        inner_maps = [dict(m) for m in maps]
        for mapping in inner_maps:
            mapping[block_args[0]] = body.args[0]
        self._bind(block_args[1:], body.args[1:], inner_maps)
        self.copy(list(loop.body.block.ops), inner_maps, body, tuple(block_args[1:]))
        new = scf.ForOp(*bounds, initial, Region(body))
        new.attributes.update(loop.attributes)
        into.add_op(new)
        self._bind(loop.results, new.results, maps)


def tile_rows(func: kirl.FuncOp, rows: int) -> None:
    """Tile the row loop of `func` by `rows` rows; the remaining rows run one by one."""
    loop = row_loop(func)
    if loop is None or "kirl.rows" in loop.attributes:
        return
    index = IndexType()
    tile = arith.ConstantOp.from_int_and_width(rows, index)
    count = arith.SubiOp(loop.ub, loop.lb)
    remainder = arith.RemUIOp(count, tile)
    full_end = arith.SubiOp(loop.ub, remainder)
    full_end.result.name_hint = "tiles_end"
    Rewriter.insert_op([tile, count, remainder, full_end], InsertPoint.before(loop))

    body = Block(arg_types=[index])
    first = body.args[0]
    first.name_hint = "i0" if loop.body.block.args[0].name_hint == "i" else "row0"
    maps: list[Mapping] = [{loop.body.block.args[0]: first}]
    for r in range(1, rows):
        offset = arith.ConstantOp.from_int_and_width(r, index)
        row = arith.AddiOp(first, offset)
        body.add_ops([offset, row])
        row.result.name_hint = f"row{r}"
        maps.append({loop.body.block.args[0]: row.result})
    Jam(rows, row_dependent(loop)).copy(list(loop.body.block.ops), maps, body)
    tiled = scf.ForOp(loop.lb, full_end.result, tile.result, [], Region(body))
    tiled.attributes.update(loop.attributes)
    tiled.attributes["kirl.rows"] = IntegerAttr(rows, index)
    Rewriter.insert_op(tiled, InsertPoint.before(loop))
    # The last (end - begin) % rows rows: the untiled loop, from the end of the tiles.
    loop.operands[0] = full_end.result
    loop.attributes["kirl.rows"] = IntegerAttr(1, index)


@dataclass(frozen=True)
class TileRows(ModulePass):
    """Compute `rows` output rows per iteration of the row loop (1: leave it)."""

    name = "kir-tile-rows"

    rows: int = 4

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.rows < 1:
            raise PassFailedException(f"kir-tile-rows: rows must be >= 1, got {self.rows}")
        if self.rows == 1:
            return
        for func in [f for f in op.walk() if isinstance(f, kirl.FuncOp)]:
            tile_rows(func, self.rows)
