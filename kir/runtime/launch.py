"""Calling compiled kernel code: data layout, output buffers and threads.

A function vectorized with W lanes reads the arguments of the reduced index in lane groups,
padded to a multiple of W: (N_padded / W, dim, W), so that W consecutive rows of one entry are
one vector load and one group's rows are contiguous; the padding is zeros and masked out of
the reductions. Column sums (sums over the other index, accumulated in place) are float64
buffers in the same layout, one per thread, added and converted at the end: their additions are
spread over the other index's whole range, so float64 keeps them as accurate as the blocked row
sums. The output rows are split in equal ranges over the threads; ctypes releases the GIL while
native code runs. Sums over too few output rows to keep every thread busy split the reduced index
instead (each thread a range of whole lane groups, the partial sums added in float64). Problems
of fewer than MIN_PAIRS_PER_THREAD pairs per thread run on the calling thread.

Everything that depends only on the arguments' shapes and dtypes is worked out once, in a
`LaunchPlan`, so that a call on a small problem costs a few microseconds of Python.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kir.runtime.threads import get_num_threads, pool

MIN_ROWS_PER_THREAD = 16
"""Fewer rows per thread than this, and threads cost more than they give."""

MIN_PAIRS_PER_THREAD = 1 << 16
"""Fewer (row, reduced index) pairs per thread than this, and handing work to a thread costs
more than it saves: small problems run on the calling thread."""


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
    full, left = divmod(rows, lanes)
    if dim == 1:
        # One entry per row: the groups are the column itself, padded (no transpose to do).
        if not left:  # a view of a contiguous column; a strided one is copied
            return np.ascontiguousarray(array.reshape(full, 1, lanes))
        result = np.empty((full + 1) * lanes, dtype=array.dtype)
        result[:rows] = array.reshape(rows)
        result[rows:] = 0
        return result.reshape(full + 1, 1, lanes)
    result = np.empty((full + (left > 0), dim, lanes), dtype=array.dtype)
    result[:full] = array[: full * lanes].reshape(full, lanes, dim).transpose(0, 2, 1)
    if left:
        tail = result[full]
        tail.fill(0)
        tail[:, :left] = array[full * lanes :].T
    return result


def _from_lane_groups(groups: np.ndarray, rows: int) -> np.ndarray:
    """(groups, dim, lanes) -> (rows, dim)."""
    count, dim, lanes = groups.shape
    return groups.transpose(0, 2, 1).reshape(count * lanes, dim)[:rows]


def _find_data_offset() -> int | None:
    """Where an ndarray object holds its data pointer (NumPy's PyArrayObject: after the object
    header), checked on a probe; None where that does not hold (then `.ctypes.data` is used)."""
    probe = np.arange(3.0)
    for offset in (16, 24, 32):
        if ctypes.c_void_p.from_address(id(probe) + offset).value == probe.ctypes.data:
            return offset
    return None


_DATA_OFFSET = _find_data_offset()


def data_pointer(array: np.ndarray) -> int:
    """The address of `array`'s first element (`.ctypes.data`, without its ~2 µs of overhead)."""
    if _DATA_OFFSET is None or type(array) is not np.ndarray:
        return array.ctypes.data
    return ctypes.c_void_p.from_address(id(array) + _DATA_OFFSET).value or 0


class LaunchPlan:
    """How to call one compiled function on arguments of given shapes: layouts, outputs, sizes."""

    def __init__(
        self,
        function: ctypes._CFuncPtr,
        lanes: int,
        reduced_index_args: Sequence[bool],
        outputs: Sequence[Output],
        rows: int,
        reduced: int,
        sums: bool = False,
    ):
        self.function, self.lanes, self.rows, self.reduced = function, lanes, rows, reduced
        self.outputs = list(outputs)
        self.reduced_index_args = list(reduced_index_args)
        self.regroup = [lanes > 1 and flag for flag in reduced_index_args]
        self.sums = sums
        self.pointer_array = ctypes.c_void_p * max(1, len(self.regroup))
        self.out_pointer_array = ctypes.c_void_p * max(1, len(self.outputs))
        self.has_columns = any(o.column for o in self.outputs)
        by_rows = rows // MIN_ROWS_PER_THREAD
        by_pairs = rows * reduced // MIN_PAIRS_PER_THREAD if MIN_PAIRS_PER_THREAD else by_rows
        self.max_threads = max(1, min(by_rows, by_pairs))
        # Small problems: one call on this thread, whatever the thread count (no split of the
        # reduced index either); the common case of repeated small calls takes the shortest path.
        self.on_this_thread = (
            self.max_threads == 1
            and not self.has_columns
            and rows > 0
            and (not sums or rows * reduced < 2 * MIN_PAIRS_PER_THREAD)
        )

    def threads(self) -> int:
        """Threads for one call: at most one per MIN_ROWS_PER_THREAD rows and MIN_PAIRS_PER_THREAD pairs."""
        return 1 if self.max_threads == 1 else min(get_num_threads(), self.max_threads)

    def reduced_splits(self) -> int:
        """Threads over ranges of the reduced index (1: none). Only for sums without column sums
        (partial sums add up), and only where the output rows leave threads idle."""
        if not self.sums or self.has_columns or self.rows * self.reduced < 2 * MIN_PAIRS_PER_THREAD:
            return 1
        available = get_num_threads()
        if self.threads() >= available:
            return 1
        parts = min(available, -(-self.reduced // self.lanes))
        if MIN_PAIRS_PER_THREAD:
            parts = min(parts, self.rows * self.reduced // MIN_PAIRS_PER_THREAD)
        return max(1, parts)

    def _column_buffer(self, out: Output) -> np.ndarray:
        lanes = self.lanes
        shape = (_padded(out.rows, lanes) // lanes, out.dim, lanes) if lanes > 1 else (out.rows, out.dim)
        return np.zeros(shape, dtype=np.float64)

    def run(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The outputs, in their own dtypes, for native-order `arrays`, C-contiguous except the
        reduced index's (any strides: they are copied into lane groups here)."""
        lanes = self.lanes
        arrays = [_lane_groups(a, lanes) if g else a for a, g in zip(arrays, self.regroup, strict=True)]
        args = self.pointer_array(*[data_pointer(a) for a in arrays])
        if self.on_this_thread:
            row_outputs = [np.empty((o.rows, o.dim), dtype=o.dtype) for o in self.outputs]
            outs = self.out_pointer_array(*map(data_pointer, row_outputs))
            self.function(0, self.rows, self.reduced, args, outs)
            return row_outputs
        threads = self.threads()
        if threads < 2 and self.rows:
            parts = self.reduced_splits()
            if parts > 1:
                return self._run_split_reduced(arrays, parts)
        row_outputs = [None if o.column else np.empty((o.rows, o.dim), dtype=o.dtype) for o in self.outputs]
        if threads == 1 and not self.has_columns:
            outs = self.out_pointer_array(*[data_pointer(r) for r in row_outputs])
            self.function(0, self.rows, self.reduced, args, outs)
            return row_outputs
        per_thread = [
            [self._column_buffer(o) if o.column else None for o in self.outputs] for _ in range(threads)
        ]
        bounds = [self.rows * t // threads for t in range(threads + 1)]

        def run_rows(t: int) -> None:
            buffers = [r if r is not None else c for r, c in zip(row_outputs, per_thread[t], strict=True)]
            outs = self.out_pointer_array(*[data_pointer(b) for b in buffers])
            self.function(bounds[t], bounds[t + 1], self.reduced, args, outs)

        if threads == 1:
            if self.rows:
                run_rows(0)
        else:
            for future in [pool(threads).submit(run_rows, t) for t in range(threads)]:
                future.result()
        return [
            row_outputs[k] if not out.column else self._column_total(per_thread, k, out)
            for k, out in enumerate(self.outputs)
        ]

    def _run_split_reduced(self, arrays: list[np.ndarray], parts: int) -> list[np.ndarray]:
        """Each thread sums over its own range of the reduced index (whole lane groups); the
        partial sums are added in float64 and rounded once."""
        groups = -(-self.reduced // self.lanes)
        starts = [min(self.reduced, groups * t // parts * self.lanes) for t in range(parts + 1)]
        starts[-1] = self.reduced
        partials = [[np.empty((o.rows, o.dim), dtype=o.dtype) for o in self.outputs] for _ in range(parts)]

        def run_part(t: int) -> None:
            # Row j of a reduced-index argument starts j * dim elements in, lane groups or not.
            pointers = [
                data_pointer(a) + (starts[t] * a.shape[1] * a.itemsize if reduced else 0)
                for a, reduced in zip(arrays, self.reduced_index_args, strict=True)
            ]
            outs = self.out_pointer_array(*[data_pointer(b) for b in partials[t]])
            self.function(0, self.rows, starts[t + 1] - starts[t], self.pointer_array(*pointers), outs)

        for future in [pool(parts).submit(run_part, t) for t in range(parts)]:
            future.result()
        return [
            np.sum([p[k] for p in partials], axis=0, dtype=np.float64).astype(out.dtype)
            for k, out in enumerate(self.outputs)
        ]

    def _column_total(self, per_thread: list[list], k: int, out: Output) -> np.ndarray:
        total = per_thread[0][k]
        for buffers in per_thread[1:]:
            total += buffers[k]
        if self.lanes > 1:
            total = _from_lane_groups(total, out.rows)
        return np.ascontiguousarray(total, dtype=out.dtype)
