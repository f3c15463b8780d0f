"""The CPU back-end's default schedule, from what LLVM says about the host.

- lanes: two SIMD registers' worth of elements (AVX-512: 512 bits, AVX/AVX2: 256, otherwise
  SSE/NEON's 128): 16 float32 or 8 float64 lanes on AVX2. Two registers per value give the
  core two independent chains of work (measured: 16 float32 lanes beat 8 by 1.5x on AVX2
  at D = 256).
- rows: as many output rows per tile as the register file holds states for: the states of
  one row take `state_registers` registers per lane group (x2 for the two registers), from
  the 16 (AVX2, SSE, NEON) or 32 (AVX-512) registers, at most 4; one for reductions that
  keep the best values (ArgKMin, ...), whose rows test vectors against one state each.
- block: 256 reduced indices per block (whole groups of lanes), KeOps' block_sum size.
- chunk: wide vectors (>= 64 entries) are streamed 8 entries at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from kir.backends.cpu.jit import host_cpu
from kir.pipeline import Schedule
from kir.reductions import REDUCTION_RULES, ReductionSpec


@cache
def host_vector_bits() -> int:
    """The width of the host's SIMD registers, in bits."""
    features = set(host_cpu()[1].split(","))
    if "+avx512f" in features:
        return 512
    if "+avx2" in features or "+avx" in features:
        return 256
    return 128


def state_registers(specs: Sequence[ReductionSpec], lanes: int, element_bytes: int) -> int:
    """Vector registers holding the reduction states of one output row."""
    total = 0
    for spec in specs:
        components = REDUCTION_RULES[spec.kind].layout(spec)
        entries = spec.dim * max(spec.k, 1) + spec.weight_dim
        for component in components:
            # An index lane is 8 bytes: it takes 8 / element_bytes registers per vector.
            total += entries * (8 // element_bytes if component == "index" else 1)
    return max(total, 1)


MAX_ROWS = 4
"""More rows per tile measured no faster on AVX2 (the states and the formula's temporaries
spill) and compile slower: 8 rows doubled a Gaussian kernel's compile time."""

ROW_ENTRIES = 96
"""Entries computed per pair, summed over the rows of a tile, beyond which more rows only
grow the code: LLVM's compile time grows with the tile, the registers are already full."""


def default_schedule(specs: Sequence[ReductionSpec], element_bytes: int, pair_entries: int) -> Schedule:
    """The schedule for a kernel with reduction states `specs`, elements of `element_bytes`,
    computing `pair_entries` formula entries per pair (wide vectors count one chunk)."""
    bits = host_vector_bits()
    lanes = 2 * bits // (8 * element_bytes)
    registers = 32 if bits == 512 else 16
    if any(REDUCTION_RULES[spec.kind].admits is not None for spec in specs):
        # One state per row tested a vector at a time (kir-vectorize): each row adds a branch
        # of W scalar updates; measured no faster with more rows, and much slower to compile.
        return Schedule(block=256, lanes=lanes, rows=1, chunk=8, chunk_threshold=64)
    rows = registers // (2 * state_registers(specs, lanes, element_bytes))
    rows = max(1, min(MAX_ROWS, rows, ROW_ENTRIES // max(pair_entries, 1)))
    return Schedule(block=256, lanes=lanes, rows=rows, chunk=8, chunk_threshold=64)
