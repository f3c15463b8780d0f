"""Calling compiled kernel code: data layout, output buffers and threads.

A function vectorized with W lanes reads the arguments of the reduced index in lane groups,
padded to a multiple of W: (N_padded / W, dim, W), so that W consecutive rows of one entry are
one vector load and one group's rows are contiguous; the padding is zeros and masked out of
the reductions. Column sums (sums over
the other index, accumulated in place) are float64 buffers in the same layout, one per thread,
added and converted at the end: their additions are spread over the other index's whole range,
so float64 keeps them as accurate as the blocked row sums. The output rows are split in equal
ranges over the threads; ctypes releases the GIL while native code runs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kir.runtime.threads import get_num_threads, pool

MIN_ROWS_PER_THREAD = 16
"""Fewer rows per thread than this, and threads cost more than they give."""


@dataclass(frozen=True)
class Output:
    """One output buffer: rows x dim of `dtype`; a column sum when `column` is True."""

    rows: int
    dim: int
    dtype: type
    column: bool


def _padded(size: int, lanes: int) -> int:
    return -(-size // lanes) * lanes


def _lane_groups(array: np.ndarray, lanes: int) -> np.ndarray:
    """(rows, dim) -> (padded rows / lanes, dim, lanes), zero padded."""
    rows, dim = array.shape
    result = np.zeros((_padded(rows, lanes) // lanes, dim, lanes), dtype=array.dtype)
    padded = np.zeros((_padded(rows, lanes), dim), dtype=array.dtype) if rows % lanes else array
    if padded is not array:
        padded[:rows] = array
    result[...] = padded.reshape(-1, lanes, dim).transpose(0, 2, 1)
    return result


def _from_lane_groups(groups: np.ndarray, rows: int) -> np.ndarray:
    """(groups, dim, lanes) -> (rows, dim)."""
    count, dim, lanes = groups.shape
    return groups.transpose(0, 2, 1).reshape(count * lanes, dim)[:rows]


def launch(
    function: ctypes._CFuncPtr,
    lanes: int,
    arrays: Sequence[np.ndarray],
    reduced_index_args: Sequence[bool],
    outputs: Sequence[Output],
    rows: int,
    reduced: int,
) -> list[np.ndarray]:
    """Run `function` over `rows` output rows; the outputs, in their own dtypes."""
    if lanes > 1:
        arrays = [
            _lane_groups(a, lanes) if reduced_arg else a
            for a, reduced_arg in zip(arrays, reduced_index_args, strict=True)
        ]
    threads = max(1, min(get_num_threads(), rows // MIN_ROWS_PER_THREAD))
    bounds = [rows * t // threads for t in range(threads + 1)]

    def column_buffer(out: Output) -> np.ndarray:
        shape = (_padded(out.rows, lanes) // lanes, out.dim, lanes) if lanes > 1 else (out.rows, out.dim)
        return np.zeros(shape, dtype=np.float64)

    row_outputs = [None if o.column else np.empty((o.rows, o.dim), dtype=o.dtype) for o in outputs]
    per_thread = [[column_buffer(o) if o.column else None for o in outputs] for _ in range(threads)]
    arg_pointers = (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])

    def run(t: int) -> None:
        buffers = [r if r is not None else c for r, c in zip(row_outputs, per_thread[t], strict=True)]
        out_pointers = (ctypes.c_void_p * len(buffers))(*[b.ctypes.data for b in buffers])
        function(bounds[t], bounds[t + 1], reduced, arg_pointers, out_pointers)

    if rows:
        if threads == 1:
            run(0)
        else:
            for future in [pool(threads).submit(run, t) for t in range(threads)]:
                future.result()

    results = []
    for k, out in enumerate(outputs):
        if not out.column:
            results.append(row_outputs[k])
            continue
        total = per_thread[0][k]
        for buffers in per_thread[1:]:
            total += buffers[k]
        if lanes > 1:
            total = _from_lane_groups(total, out.rows)
        results.append(np.ascontiguousarray(total, dtype=out.dtype))
    return results
