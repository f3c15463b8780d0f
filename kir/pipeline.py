"""The compile pipeline: which passes run, in which order, and why there."""

from __future__ import annotations

from collections.abc import Callable

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


def loop_passes(block: int = 256) -> list[str]:
    """Passes from the formula level down to the loop level a back-end starts from."""
    return [
        # Explicit loops: output rows outside, the reduced index inside, reduction states
        # carried between; formula ops hoisted to the loop their category allows.
        "kir-lower-to-loops",
        # Accumulate in blocks then combine: float32 sums stay accurate (KeOps' block_sum),
        # and the block is the tile that cache and GPU schedules refine.
        f"kir-block-reduction{{block={block}}}",
        # The lowering duplicates index constants per loop; share them.
        "cse",
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


def lower_to_loops(module: ModuleOp, verify: bool = True) -> ModuleOp:
    """Formula level -> loop level, in place."""
    return run_passes(module, formula_passes() + loop_passes(), verify=verify)
