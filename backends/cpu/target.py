"""The CPU back-end's default schedule, from what LLVM says about the host.

- lanes: two SIMD registers' worth of elements (AVX-512: 512 bits, AVX/AVX2: 256, otherwise
  SSE/NEON's 128): 16 float32 or 8 float64 lanes on AVX2. Two registers per value give the
  core two independent chains of work (measured: 16 float32 lanes beat 8 by 1.5x on AVX2
  at D = 256). Narrow formulas that call exp, sin or cos (a Gaussian kernel at D = 3 and its
  gradient) take four registers of lanes and one row instead: their work is arithmetic, not
  loads that rows would share, and each row's math adds a rarely taken branch that splits
  the loop (AVX2, float32 and float64: 1.1x faster for the Gaussian sum, 1.2x for its
  gradient, and half the compile time of 16 lanes x 4 rows).
- rows: as many output rows per tile as the register file holds states for: the states of
  one row take `state_registers` registers per lane group (x2 for the two registers), from
  the 16 (AVX2, SSE, NEON) or 32 (AVX-512) registers, at most 4. Reductions that keep the
  best values (ArgKMin, ...) keep one scalar state per row, touched only when a lane is
  admitted: they take 4 rows, so that each loaded y_j serves four distance computations
  (ArgKMin K = 10, 1e5 points: 1.3x faster at D = 3 and 16 than one row, 3x at D = 64).
- block: 256 reduced indices per block (whole groups of lanes), KeOps' block_sum size.
- chunk: vectors of 8 entries or more are streamed one entry at a time: the row tile's running
  sums stay in registers while each entry of y_j is loaded once for all rows, and a chunked sum
  of squares or products runs into its running total as a chain of multiply-adds (Gaussian
  kernel sum at D = 8, 12, 16, 64: 1.1-1.35x faster than holding the whole vectors; ArgKMin
  K = 10 at D = 8 and 16: 1.25x and 1.35x; chunks of 2 and 4 entries measured no faster).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from kir.backends.cpu.jit import host_cpu
from kir.dialect.elementwise import CosOp, ExpOp, SinOp
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

VECTOR_MATH_OPS = (ExpOp, SinOp, CosOp)
"""Ops whose SIMD code (backends/cpu/vector_math.py) branches to a rare full path."""

ROW_ENTRIES = 96
"""Entries computed per pair, summed over the rows of a tile, beyond which more rows only
grow the code: LLVM's compile time grows with the tile, the registers are already full."""

CHUNK = 1
CHUNK_THRESHOLD = 8
"""Vectors of CHUNK_THRESHOLD entries or more are streamed CHUNK entries at a time."""


NARROW_ENTRIES = 24
"""Formulas computing at most this many entries per pair count as narrow (for wide lanes)."""


def pair_entries(nodes: Sequence[tuple[int, int]]) -> int:
    """Entries computed per pair by formula nodes of (dimension, entries computed): a streamed
    vector counts one chunk."""
    return sum(min(dim, CHUNK) if dim >= CHUNK_THRESHOLD else work for dim, work in nodes)


def default_schedule(
    specs: Sequence[ReductionSpec],
    element_bytes: int,
    nodes: Sequence[tuple[int, int]],
    calls_vector_math: bool,
) -> Schedule:
    """The schedule for a kernel with reduction states `specs`, elements of `element_bytes`,
    whose formulas have nodes of (dimension, entries computed per pair) `nodes` and call exp,
    sin or cos if `calls_vector_math`."""
    bits = host_vector_bits()
    lanes = 2 * bits // (8 * element_bytes)
    registers = 32 if bits == 512 else 16
    entries = pair_entries(nodes)
    ranked = any(REDUCTION_RULES[spec.kind].admits is not None for spec in specs)
    streamed = any(dim >= CHUNK_THRESHOLD for dim, _ in nodes)
    if ranked:
        rows = MAX_ROWS
    elif calls_vector_math and not streamed and entries <= NARROW_ENTRIES:
        lanes, rows = 2 * lanes, 1
    else:
        rows = registers // (2 * state_registers(specs, lanes, element_bytes))
    rows = max(1, min(MAX_ROWS, rows, ROW_ENTRIES // max(entries, 1)))
    return Schedule(block=256, lanes=lanes, rows=rows, chunk=CHUNK, chunk_threshold=CHUNK_THRESHOLD)
