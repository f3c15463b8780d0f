"""The compile pipeline: which passes run, in which order, and why there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline

from kir.context import kir_context
from kir.passes import get_all_passes

STAGES = ("kir", "loops", "llvm")
"""Stages a module can be printed at: formula level, loop level, LLVM IR."""


def formula_passes() -> list[str]:
    """Passes on the formula level (`kir` dialect)."""
    return [
        # Derivatives first: they become plain formula ops that everything after can optimize.
        "kir-autodiff",
        # Autodiff output multiplies by ones and negates twice; identities that are exact in
        # IEEE arithmetic (no fast-math: x + 0 and 0 * x stay) and constant folding.
        "kir-simplify",
        # The front-ends hash-cons what is written twice; CSE also catches values that become
        # equal only after other rewrites (and hand-written IR).
        "cse",
        # Ops no reduction reads (an alias declared but unused, a dead branch) cost nothing.
        "dce",
    ]


@dataclass(frozen=True)
class Schedule:
    """How the loops of a kernel are shaped: options of the scheduling passes. The algorithm
    (the kir formula) knows none of this; a back-end picks defaults for its target
    (kir/backends/cpu/target.py)."""

    block: int = 256
    """tile-j: indices of the reduced index accumulated per block before combining."""
    lanes: int = 1
    """vector width: consecutive reduced indices computed at once (SIMD lanes)."""
    rows: int = 1
    """tile-i: output rows computed per iteration, sharing the reduced index's loads."""
    chunk: int = 8
    """chunk-d: entries per step of the loop streaming a wide vector."""
    chunk_threshold: int = 64
    """chunk-d: vectors this wide or wider are streamed rather than held in registers."""


def loop_passes(schedule: Schedule | None = None) -> list[str]:
    """Passes from the formula level down to the loop level a back-end starts from."""
    s = schedule or Schedule()
    return [
        # Explicit loops: output rows outside, the reduced index inside, reduction states
        # carried between; formula ops hoisted to the loop their category allows.
        "kir-lower-to-loops",
        # Wide vectors (D >= threshold) become loops over chunks of entries, before anything
        # multiplies the loop body (lanes, rows): their registers are the scarce resource.
        f"kir-chunk-d{{threshold={s.chunk_threshold} chunk={s.chunk}}}",
        # Accumulate in blocks then combine: float32 sums stay accurate (KeOps' block_sum);
        # the block is also the cache tile of the reduced index.
        f"kir-block-reduction{{block={s.block}}}",
        # SIMD lanes across the reduced index, inside the blocks (a block holds whole groups
        # of lanes); states per lane, folded once per row.
        f"kir-vectorize{{width={s.lanes}}}",
        # Last: unroll-and-jam the rows, so each loaded y_j (and its lanes) serves several
        # rows; copying the already scheduled body copies every decision above.
        f"kir-tile-rows{{rows={s.rows}}}",
        # The passes above leave duplicated index constants and dead wide values behind.
        "cse",
        "dce",
    ]


def run_passes(
    module: ModuleOp,
    passes: list[str],
    verify: bool = True,
    callback: Callable[[ModulePass, ModuleOp, ModulePass], None] | None = None,
    context: Context | None = None,
) -> ModuleOp:
    """Apply the named passes (`name{option=value}` specs) to `module` in place."""
    if not passes:
        return module

    def between(previous: ModulePass, module: ModuleOp, following: ModulePass) -> None:
        if verify:
            module.verify()
        if callback is not None:
            callback(previous, module, following)

    pipeline = PassPipeline.parse_spec(get_all_passes(), ",".join(passes), between)
    pipeline.apply(context or kir_context(), module)
    if verify:
        module.verify()
    return module


def lower_to_loops(module: ModuleOp, verify: bool = True, schedule: Schedule | None = None) -> ModuleOp:
    """Formula level -> loop level, in place."""
    return run_passes(module, formula_passes() + loop_passes(schedule), verify=verify)
