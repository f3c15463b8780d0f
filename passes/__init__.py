"""kir's passes, by name: the one table `kir-opt` and the compile pipeline both read."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.passes import ModulePass


def _autodiff() -> type[ModulePass]:
    from kir.passes.autodiff import Autodiff

    return Autodiff


def _simplify() -> type[ModulePass]:
    from kir.passes.simplify import Simplify

    return Simplify


def _lower_to_loops() -> type[ModulePass]:
    from kir.passes.lower_to_loops import LowerToLoops

    return LowerToLoops


def _block_reduction() -> type[ModulePass]:
    from kir.passes.block_reduction import BlockReduction

    return BlockReduction


def _chunk_d() -> type[ModulePass]:
    from kir.passes.chunk_d import ChunkEntries

    return ChunkEntries


def _vectorize() -> type[ModulePass]:
    from kir.passes.vectorize import Vectorize

    return Vectorize


def _tile_rows() -> type[ModulePass]:
    from kir.passes.tile_rows import TileRows

    return TileRows


def _cse() -> type[ModulePass]:
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    return CommonSubexpressionElimination


def _dce() -> type[ModulePass]:
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Pass name -> lazy factory of the pass class (imports stay off the start-up path)."""
    return {
        "cse": _cse,
        "dce": _dce,
        "kir-autodiff": _autodiff,
        "kir-simplify": _simplify,
        "kir-lower-to-loops": _lower_to_loops,
        "kir-block-reduction": _block_reduction,
        "kir-chunk-d": _chunk_d,
        "kir-vectorize": _vectorize,
        "kir-tile-rows": _tile_rows,
    }
