"""KeOps' chunked scheme for wide variables, as kir-chunk-d does on the CPU: sums over the
entries of wide vectors (SqDist, Scalprod, SqNorm2, Sum) are accumulated chunk by chunk.

A D = 1000 squared distance in the plain 1D scheme would keep x_i (1000 entries) in registers
(spilled to local memory) and stage only a few rows of y_j per tile. With chunks, a tile of
rows of the *narrow* reduced variables is staged as usual; then, for each chunk of `chunk`
entries, the block stages those entries of the wide reduced variables for the whole tile,
every thread reads its row's chunk from global memory, and each pair adds the chunk's terms
to its running sums (one per chunked subformula and pair of the tile, in local memory); the
rest of the formula then reads the sums. Registers stay bounded whatever D is.

`chunk_plan` decides whether a group can be chunked: every use of a wide variable must lie in
a sum over entries whose operands are built entry by entry (kir-chunk-d's ENTRYWISE ops) from
wide variables and scalars that do not involve wide variables; the wide variables must share
one dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from kir.autodiff import expand
from kir.dialect.formula import ConstantOp, VarOp
from kir.passes.chunk_d import ENTRYWISE, SUMS_OVER_ENTRIES
from kir.registry import OP_RULES

if TYPE_CHECKING:
    from kir.backends.cuda.codegen import DeviceEmitter, Group
    from kir.kernel import Kernel

THRESHOLD = 64
"""Variables of this many entries or more are wide (kir-chunk-d's default)."""

CHUNK = 16
"""Entries per chunk."""


@dataclass(frozen=True)
class ChunkPlan:
    """How a group is chunked: the wide variables' positions and dimension, the chunk size and
    the sums over entries accumulated chunk by chunk (formula nodes)."""

    wide: frozenset[int]
    width: int
    chunk: int
    roots: tuple

    @property
    def full_chunks(self) -> int:
        return self.width // self.chunk

    @property
    def tail(self) -> int:
        return self.width % self.chunk


def chunk_plan(
    kernel: Kernel, group: Group, threshold: int = THRESHOLD, chunk: int = CHUNK
) -> ChunkPlan | None:
    """The group's chunk plan, or None when it has no wide variable or one is used otherwise."""
    wide = {s.position: s.dim for s in kernel.args if s.dim >= threshold}
    if not wide or len(set(wide.values())) > 1:
        return None
    width = next(iter(wide.values()))
    formulas = [expand(root) for p in group.members for root in kernel.reductions[p].roots]

    def uses_wide(node) -> bool:
        return any(n.op is VarOp and n.attributes["index"] in wide for n in node.walk())

    def entrywise(node) -> bool:
        if node.dim == 1:
            return not uses_wide(node)
        if node.dim != width:
            return False
        if node.op is VarOp:
            return node.attributes["index"] in wide
        return node.op in ENTRYWISE and all(entrywise(a) for a in node.args)

    roots: list = []

    def visit(node) -> bool:
        """False where a wide variable is used outside a chunkable sum."""
        if node in roots:
            return True
        if node.op in SUMS_OVER_ENTRIES and max(a.dim for a in node.args) == width and uses_wide(node):
            if all(entrywise(a) for a in node.args):
                roots.append(node)
                return True
            return False
        if node.op is VarOp:
            return node.attributes["index"] not in wide
        return all(visit(a) for a in node.args)

    if not all(visit(f) for f in formulas) or not roots:
        return None
    return ChunkPlan(frozenset(wide), width, min(chunk, width), tuple(roots))


def chunk_terms(
    plan: ChunkPlan,
    em: DeviceEmitter,
    totals: list[ir.Value],
    slices: dict[int, list[ir.Value]],
    scalars,
) -> list[ir.Value]:
    """The running sums `totals` (one per root of `plan`) plus one chunk's terms. `slices`:
    the chunk's entries of each wide variable; `scalars(node)`: the entries of a node of
    dimension 1 (computed from the narrow variables)."""
    values: dict[int, list[ir.Value]] = {}

    def entries(node) -> list[ir.Value]:
        if id(node) in values:
            return values[id(node)]
        if node.dim == 1:
            found = scalars(node)
        elif node.op is VarOp:
            found = slices[node.attributes["index"]]
        elif node.op is ConstantOp:  # excluded by chunk_plan (dim 1 constants go above)
            raise AssertionError("a wide constant in a chunked sum")
        else:
            found = OP_RULES[node.op].lower(em, *(entries(a) for a in node.args), **node.attributes)
        values[id(node)] = found
        return found

    updated = []
    for root, total in zip(plan.roots, totals, strict=True):
        rule = OP_RULES[root.op]
        operands = [entries(a) for a in root.args]
        count = max(len(o) for o in operands)
        operands = [o * count if len(o) == 1 else o for o in operands]  # scalars broadcast
        if rule.lower_into is not None:
            updated.append(rule.lower_into(em, [total], *operands, **root.attributes)[0])
        else:
            updated.append(em.add(total, rule.lower(em, *operands, **root.attributes)[0]))
    return updated
