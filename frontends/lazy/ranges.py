"""Block-sparse reductions (pykeops' `ranges=`): the dense kernel run on each block's gathered rows.

`ranges` is pykeops' 6-tuple (ranges_i, slices_i, redranges_j, ranges_j, slices_j, redranges_i),
as `pykeops.torch.cluster.from_matrix` makes it. For a reduction over j (axis=1), block k covers
the output rows [ranges_i[k, 0], ranges_i[k, 1]) and reduces over the j-intervals
redranges_j[slices_i[k-1]:slices_i[k]] (slices_i[-1] read as 0); over i (axis=0) the last three
play these roles. The intervals are concatenated as listed, like KeOps' loops: one listed twice
counts twice. Output rows that no block covers, and blocks that list no interval, get the
reduction of the empty set, as KeOps gives them: Sum 0, Min +inf, LogSumExp -inf; index outputs
are -1 there (pykeops writes 0, a valid index, and NaN for LogSumExp over a block with no
interval).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.dialect.core import REDUCTIONS
from kir.errors import ArgumentError, KirError
from kir.kernel import Kernel
from kir.runtime.arrays import check_arguments, is_torch_tensor

NAMES = ("ranges_i", "slices_i", "redranges_j", "ranges_j", "slices_j", "redranges_i")
"""The entries of `ranges`, in pykeops' order."""


def reduce_blocks(kernel: Kernel, arrays: Sequence[Any], ranges: Sequence[Any]) -> Any:
    """`kernel(*arrays)` restricted to the (output row, reduced index) pairs `ranges` admits.

    Returns what `kernel(*arrays)` returns (types, shapes, dtypes); with torch tensors only
    torch operations touch them, so gradients of any order flow through. Blocks that reduce
    over the same intervals share one kernel call. Raises ArgumentError for malformed `ranges`.
    """
    if any(r.axis != kernel.axis for r in kernel.reductions):
        raise KirError("ranges= takes a kernel whose reductions all run over one index (no column sums)")
    checked, _, size_i, size_j = check_arguments(arrays, kernel.args, kernel.dtype)
    for size, index in ((size_i, "i"), (size_j, "j")):
        if size is None:
            raise ArgumentError(f"the formula has no {index}-variable, so the number of {index} is unknown")
    sides = _check_ranges(ranges, size_i, size_j)
    blocks, slices, intervals = sides[0] if kernel.axis == 1 else sides[1]
    rows = size_i if kernel.axis == 1 else size_j
    use_torch = any(is_torch_tensor(a) for a in arrays)
    if use_torch and not _records_autograd(arrays):
        # Nothing for autograd to record: NumPy views, NumPy gathers, one conversion at the end.
        outputs = reduce_blocks(kernel, checked, ranges)
        import torch

        if isinstance(outputs, tuple):
            return tuple(torch.from_numpy(o) for o in outputs)
        return torch.from_numpy(outputs)
    if use_torch:
        import torch

        values = [
            a if is_torch_tensor(a) else torch.from_numpy(c) for a, c in zip(arrays, checked, strict=True)
        ]
        concat: Any = torch.cat
    else:
        values, concat = checked, np.concatenate
    if rows == 0:
        return kernel(*values)

    row_side = "i" if kernel.axis == 1 else "j"
    index_outputs = [REDUCTIONS[r.kind].index_output for r in kernel.reductions]
    results, pieces = [], []  # pieces: (first row, result number, start, end) in that result
    for reduced, runs in _groups(blocks, slices, intervals, rows):
        listed = reduced.tolist()
        call = [
            v if spec.category == "p" else _take(v, runs if spec.category == row_side else listed, concat)
            for v, spec in zip(values, kernel.args, strict=True)
        ]
        out = kernel(*call)
        out = list(out) if isinstance(out, tuple) else [out]
        results.append(
            [_global(o, reduced, use_torch) if k else o for o, k in zip(out, index_outputs, strict=True)]
        )
        offset = 0
        for lo, hi in runs:
            pieces.append((lo, len(results) - 1, offset, offset + hi - lo))
            offset += hi - lo
    if len(pieces) == 1:
        outputs = results[0]
    else:
        pieces.sort()
        outputs = [concat([results[g][k][a:b] for _, g, a, b in pieces]) for k in range(len(index_outputs))]
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _records_autograd(arrays: Sequence[Any]) -> bool:
    """True when a torch transform or autograd may need to see these tensors' operations."""
    import torch
    import torch.autograd.forward_ad as fwad

    tensors = [a for a in arrays if is_torch_tensor(a)]
    if any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors):
        return True
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return True
    return fwad._current_level >= 0


def _take(value: Any, intervals: list[list[int]], concat: Any) -> Any:
    """The rows of `value` in `intervals`, in order (a view for one interval)."""
    if len(intervals) <= 1:
        lo, hi = intervals[0] if intervals else (0, 0)
        return value[lo:hi]
    return concat([value[lo:hi] for lo, hi in intervals])


def _global(index: Any, intervals: np.ndarray, use_torch: bool) -> Any:
    """Indices into the gathered rows of `intervals` -> indices into the whole index (-1 kept)."""
    if not len(intervals):
        return index  # nothing gathered: every index is already -1
    lengths = intervals[:, 1] - intervals[:, 0]
    gathered = np.arange(lengths.sum()) + np.repeat(intervals[:, 0] - (np.cumsum(lengths) - lengths), lengths)
    if use_torch:
        import torch

        return torch.where(index >= 0, torch.from_numpy(gathered)[index.clamp(min=0)], index)
    return np.where(index >= 0, gathered[np.maximum(index, 0)], index)


def _merged(intervals: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`intervals` without empty ones, each joined to the one before of the same owner it touches."""
    keep = intervals[:, 1] > intervals[:, 0]
    intervals, owner = intervals[keep], owner[keep]
    joined = (owner[1:] == owner[:-1]) & (intervals[1:, 0] == intervals[:-1, 1])
    first = np.flatnonzero(np.concatenate([[True], ~joined]))
    last = np.append(first[1:], len(intervals)) - 1
    return np.stack([intervals[first, 0], intervals[last, 1]], 1), owner[first]


def _groups(blocks: np.ndarray, slices: np.ndarray, intervals: np.ndarray, rows: int) -> list:
    """(reduced intervals, output row runs reducing over them) pairs; uncovered rows reduce over none."""
    counts = np.diff(slices, prepend=0)
    owner = np.repeat(np.arange(len(blocks)), counts)
    merged, owner = _merged(intervals[: len(owner)], owner)
    bounds = np.searchsorted(owner, np.arange(len(blocks) + 1)).tolist()
    none = merged[:0]
    groups: dict[bytes, tuple[np.ndarray, list]] = {b"": (none, [])}
    for k, (lo, hi) in enumerate(blocks.tolist()):
        if hi > lo:  # blocks of the same intervals share one call: keyed by their bytes
            own = merged[bounds[k] : bounds[k + 1]]
            groups.setdefault(own.tobytes(), (own, []))[1].append((lo, hi))
    covered = 0
    for lo, hi in sorted(b for b in blocks.tolist() if b[1] > b[0]):
        if lo > covered:
            groups[b""][1].append((covered, lo))
        covered = hi
    if covered < rows:
        groups[b""][1].append((covered, rows))
    return [(own, _runs(runs)) for own, runs in groups.values() if runs]


def _runs(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Row ranges sorted, those that touch joined."""
    joined: list[tuple[int, int]] = []
    for lo, hi in sorted(runs):
        if joined and joined[-1][1] == lo:
            joined[-1] = (joined[-1][0], hi)
        else:
            joined.append((lo, hi))
    return joined


def _check_ranges(ranges: Any, size_i: int, size_j: int) -> list[tuple[np.ndarray, ...]]:
    """The two sides of `ranges` as int64 arrays, (blocks, slices, intervals) each, checked."""
    if not isinstance(ranges, Sequence) or len(ranges) != 6:
        count = f"{len(ranges)} entries" if isinstance(ranges, Sequence) else type(ranges).__name__
        raise ArgumentError(f"ranges must be a 6-tuple ({', '.join(NAMES)}), got {count}")
    dims = [1 if name.startswith("slices") else 2 for name in NAMES]
    arrays = [_int_array(r, name, d) for r, name, d in zip(ranges, NAMES, dims, strict=True)]
    sizes = {"i": size_i, "j": size_j}
    sides = []
    for names, (blocks, slices, intervals) in ((NAMES[:3], arrays[:3]), (NAMES[3:], arrays[3:])):
        rows, reduced = names[0][-1], names[2][-1]
        _check_intervals(blocks, names[0], sizes[rows], rows)
        _check_intervals(intervals, names[2], sizes[reduced], reduced)
        if len(slices) != len(blocks):
            raise ArgumentError(
                f"{names[1]} has {len(slices)} entries but {names[0]} has {len(blocks)} blocks: "
                "it needs one (the end of the block's intervals in " + names[2] + ") per block"
            )
        steps = np.diff(slices, prepend=0)
        if (steps < 0).any():
            k = int(np.flatnonzero(steps < 0)[0])
            before = f"{names[1]}[{k - 1}] = {slices[k - 1]}" if k else "the implicit 0 before it"
            raise ArgumentError(f"{names[1]} must be nondecreasing: {names[1]}[{k}] = {slices[k]} < {before}")
        if len(slices) and slices[-1] > len(intervals):
            raise ArgumentError(
                f"{names[1]} reaches {slices[-1]} but {names[2]} has only {len(intervals)} intervals"
            )
        nonempty = blocks[blocks[:, 1] > blocks[:, 0]]
        nonempty = nonempty[np.argsort(nonempty[:, 0], kind="stable")]
        overlap = np.flatnonzero(nonempty[1:, 0] < nonempty[:-1, 1])
        if overlap.size:
            a, b = nonempty[overlap[0]].tolist(), nonempty[overlap[0] + 1].tolist()
            raise ArgumentError(
                f"{names[0]} has overlapping blocks [{a[0]}, {a[1]}) and [{b[0]}, {b[1]}): "
                "each output row may belong to one block only"
            )
        sides.append((blocks, slices, intervals))
    return sides


def _check_intervals(array: np.ndarray, name: str, size: int, index: str) -> None:
    """Raises unless every row of `array` is an interval [start, end) of [0, size]."""
    bad = np.flatnonzero((array[:, 0] < 0) | (array[:, 0] > array[:, 1]) | (array[:, 1] > size))
    if bad.size:
        k = int(bad[0])
        lo, hi = array[k].tolist()
        raise ArgumentError(
            f"{name}[{k}] = [{lo}, {hi}) is not an interval of the {size} {index}-rows: "
            f"it needs 0 <= start <= end <= {size}"
        )


def _int_array(value: Any, name: str, ndim: int) -> np.ndarray:
    """`value` (array, tensor or nested list) as int64 NumPy, of shape (n,) or (n, 2)."""
    if is_torch_tensor(value):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise ArgumentError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.size == 0 and array.ndim == 1:  # [] (float64 for NumPy) for no blocks
        array = array.reshape((0,) if ndim == 1 else (0, 2))
    expected = "(n,)" if ndim == 1 else "(n, 2)"
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 2):
        raise ArgumentError(f"{name} must have shape {expected}, got {tuple(array.shape)}")
    return array.astype(np.int64, copy=False)
