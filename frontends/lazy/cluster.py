"""Block-sparse helpers of pykeops 2.3 (`pykeops.numpy.cluster`, `pykeops.torch.cluster`).

Points are binned into clusters (`grid_cluster`), sorted so that each cluster is contiguous
(`sort_clusters`), summarised by [start, end) row ranges and centroids (`cluster_ranges_centroids`),
and a cluster-to-cluster boolean mask becomes the 6-tuple `ranges` argument of a block-sparse
reduction (`from_matrix`). Every function takes NumPy arrays or torch tensors and answers in the same
kind, with pykeops' dtypes; torch is only imported when a tensor comes in. Inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kir.errors import ArgumentError
from kir.runtime.arrays import is_torch_tensor

Array = Any  # a NumPy array or a torch tensor: torch stays an optional dependency


def _uses_torch(function: str, **arrays: object) -> bool:
    """True for torch tensors, False for NumPy arrays (None is skipped); others, or a mix, are refused."""
    kinds = {}
    for name, a in arrays.items():
        if a is None:
            continue
        if not (is_torch_tensor(a) or isinstance(a, np.ndarray)):
            raise ArgumentError(
                f"{function}: '{name}' must be a NumPy array or a torch tensor, got {type(a).__name__}"
            )
        kinds[name] = is_torch_tensor(a)
    if len(set(kinds.values())) > 1:
        spelled = ", ".join(f"'{name}' is {type(arrays[name]).__name__}" for name in kinds)
        raise ArgumentError(f"{function}: pass NumPy arrays or torch tensors, not both ({spelled})")
    return any(kinds.values())


def _describe(a: Array) -> str:
    return f"shape {tuple(a.shape)} and dtype {a.dtype}"


def _is_bool(a: Array) -> bool:
    if is_torch_tensor(a):
        import torch

        return a.dtype == torch.bool
    return a.dtype == np.bool_


def _is_integer(a: Array) -> bool:
    if is_torch_tensor(a):
        return not (a.dtype.is_floating_point or a.dtype.is_complex or _is_bool(a))
    return np.issubdtype(a.dtype, np.integer)


def _check_points(function: str, x: Array, rows: int | None = None) -> None:
    if x.ndim != 2 or (rows is not None and x.shape[0] != rows):
        expected = "(M, D)" if rows is None else f"({rows}, D)"
        raise ArgumentError(f"{function}: 'x' must be a 2D array of shape {expected}, got {_describe(x)}")


def _check_labels(function: str, lab: Array, rows: int | None = None) -> None:
    if lab.ndim != 1 or not _is_integer(lab) or (rows is not None and lab.shape[0] != rows):
        length = "" if rows is None else f" of length {rows} (one label per row of 'x')"
        raise ArgumentError(f"{function}: 'lab' must be a 1D integer array{length}, got {_describe(lab)}")
    if lab.shape[0] and int(lab.min()) < 0:
        raise ArgumentError(f"{function}: 'lab' must hold labels >= 0, got {int(lab.min())}")


def _check_vector(function: str, name: str, v: Array, length: int) -> None:
    # pykeops flattens weights with .view(-1), so a column (length, 1) is accepted too
    if v.ndim not in (1, 2) or (v.ndim == 2 and v.shape[1] != 1) or v.shape[0] != length:
        raise ArgumentError(f"{function}: '{name}' must have shape ({length},), got {_describe(v)}")


def _label_count(function: str, lab: Array, given: int | None) -> int:
    """The number of clusters C: the length of a given per-cluster vector, else max(lab) + 1."""
    needed = int(lab.max()) + 1 if lab.shape[0] else 0
    if given is not None and given < needed:
        raise ArgumentError(
            f"{function}: 'lab' holds labels up to {needed - 1}, but the per-cluster vectors have "
            f"only {given} entries"
        )
    return needed if given is None else given


def grid_cluster(x: Array, size: float | Array) -> Array:
    """Labels (M,) in [0, C) of the cubic cells of side `size` that hold the points x (M, D)."""
    torch_input = _uses_torch("grid_cluster", x=x)
    _check_points("grid_cluster", x)
    if torch_input:
        import torch

        size = size if isinstance(size, (int, float)) else torch.as_tensor(size, device=x.device)
        _check_size(size, x.shape[1])
        if x.shape[0] == 0:
            return torch.empty(0, dtype=torch.int32, device=x.device)
        with torch.no_grad():
            # pykeops.torch anchors the grid at the cloud's lower corner, pykeops.numpy at the origin
            cells = torch.floor((x - x.min(dim=0).values) / size).long()
            # pykeops packs the cell coordinates 10 bits apart, so far-apart cells can share a label;
            # numbering the distinct cells, in the same lexicographic order, cannot
            return torch.unique(cells, dim=0, return_inverse=True)[1].to(torch.int32)
    size = size if isinstance(size, (int, float)) else np.asarray(size)
    _check_size(size, x.shape[1])
    if x.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    cells = np.floor(x / size).astype(np.int64)
    return np.unique(cells, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _check_size(size: float | Array, dim: int) -> None:
    shape = () if isinstance(size, (int, float)) else tuple(size.shape)
    if shape not in ((), (dim,)):
        raise ArgumentError(f"grid_cluster: 'size' must be a number or of shape ({dim},), got shape {shape}")
    positive = size > 0 if isinstance(size, (int, float)) else bool((size > 0).all())
    if not positive:
        raise ArgumentError(f"grid_cluster: 'size' must be > 0, got {size}")


def _counts(function: str, lab: Array, Nlab: Array | None) -> Array:
    """Points per cluster as int64: the given `Nlab` (counts, maybe as floats) or counted in `lab`."""
    torch_input = _uses_torch(function, lab=lab, Nlab=Nlab)
    _check_labels(function, lab)
    if Nlab is not None:
        if Nlab.ndim != 1:
            raise ArgumentError(f"{function}: 'Nlab' must have shape (C,), got {_describe(Nlab)}")
        if torch_input:
            return Nlab.long() if _is_integer(Nlab) else Nlab.round().long()
        return Nlab.astype(np.int64) if _is_integer(Nlab) else np.rint(Nlab).astype(np.int64)
    return lab.bincount() if torch_input else np.bincount(lab).astype(np.int64)


def cluster_ranges(lab: Array, Nlab: Array | None = None) -> Array:
    """[start, end) row ranges (C, 2), int64, of the C clusters of a point cloud sorted by label."""
    counts = _counts("cluster_ranges", lab, Nlab)
    # integer sums: pykeops.torch adds the counts in float32, which is inexact beyond 2**24 points
    ends = counts.cumsum(0)
    if is_torch_tensor(counts):
        import torch

        return torch.stack((ends - counts, ends), dim=1)
    return np.stack((ends - counts, ends), axis=1)


def cluster_centroids(
    x: Array,
    lab: Array,
    Nlab: Array | None = None,
    weights: Array | None = None,
    weights_c: Array | None = None,
) -> Array:
    """Centroids (C, D) of the labelled points x, weighted by `weights`; an empty cluster's are NaN."""
    function = "cluster_centroids"
    torch_input = _uses_torch(function, x=x, lab=lab, Nlab=Nlab, weights=weights, weights_c=weights_c)
    _check_points(function, x)
    _check_labels(function, lab, x.shape[0])
    if weights is not None:
        _check_vector(function, "weights", weights, x.shape[0])
    else:
        weights_c = None  # as in pykeops, total weights only matter with weights
    # C is the length of the per-cluster vectors the caller gave, else max(lab) + 1
    given = [v.shape[0] for v in (Nlab, weights_c) if v is not None]
    count = _label_count(function, lab, given[0] if given else None)
    for name, v in (("Nlab", Nlab), ("weights_c", weights_c)):
        if v is not None:
            _check_vector(function, name, v, count)
    totals = Nlab if weights is None else weights_c
    if torch_input:
        import torch

        dtype = x.dtype if x.dtype.is_floating_point else torch.get_default_dtype()
        w = torch.ones(x.shape[0], dtype=dtype, device=x.device) if weights is None else weights.reshape(-1)
        # index_add, unlike the bincount of pykeops, lets gradients reach x and the weights
        sums = torch.zeros((count, x.shape[1]), dtype=dtype, device=x.device)
        sums = sums.index_add(0, lab.long(), (x * w[:, None]).to(dtype))
        if totals is None:
            totals = torch.zeros(count, dtype=w.dtype, device=x.device).index_add(0, lab.long(), w)
        return sums / totals.reshape(-1, 1).to(dtype)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    w = np.ones(x.shape[0]) if weights is None else weights.reshape(-1)
    # one bincount over (label, coordinate) pairs sums every coordinate of every cluster, in float64
    dim = x.shape[1]
    bins = (lab[:, None] * dim + np.arange(dim)).reshape(-1)
    sums = np.bincount(bins, weights=(x * w[:, None]).reshape(-1), minlength=count * dim).reshape(count, dim)
    if totals is None:
        totals = np.bincount(lab, weights=w, minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty clusters: 0 / 0 = NaN, as in pykeops
        return (sums / totals.reshape(-1, 1)).astype(dtype)


def cluster_ranges_centroids(
    x: Array, lab: Array, weights: Array | None = None, min_weight: float = 1e-9
) -> tuple[Array, Array, Array]:
    """Ranges (C, 2), centroids (C, D) and total weights (C,) of the clusters of a labelled cloud."""
    function = "cluster_ranges_centroids"
    torch_input = _uses_torch(function, x=x, lab=lab, weights=weights)
    _check_points(function, x)
    _check_labels(function, lab, x.shape[0])
    counts = _counts(function, lab, None)
    if weights is None:
        # pykeops returns the counts as floats: float32 in torch, float64 in NumPy
        totals = counts.float() if torch_input else counts.astype(np.float64)
        return cluster_ranges(lab, counts), cluster_centroids(x, lab, counts), totals
    _check_vector(function, "weights", weights, x.shape[0])
    # weights at or below min_weight are raised to it, so that no cluster has a zero total weight
    if torch_input:
        import torch

        w = weights.reshape(-1)
        w = (w if w.is_floating_point() else w.to(torch.get_default_dtype())).clamp_min(min_weight)
        totals = torch.zeros(counts.shape[0], dtype=w.dtype, device=w.device).index_add(0, lab.long(), w)
    else:
        w = np.maximum(weights.reshape(-1).astype(np.float64), min_weight)
        totals = np.bincount(lab, weights=w, minlength=counts.shape[0])
    centroids = cluster_centroids(x, lab, counts, weights=w, weights_c=totals)
    return cluster_ranges(lab, counts), centroids, totals


def sort_clusters(x: Array | Sequence[Array], lab: Array) -> tuple[Array | Sequence[Array], Array]:
    """The points x (or each array of a tuple or list x) and the labels, sorted by label."""
    several = isinstance(x, (tuple, list))
    named = {f"x[{i}]": a for i, a in enumerate(x)} if several else {"x": x}
    torch_input = _uses_torch("sort_clusters", lab=lab, **named)
    if lab.ndim != 1:
        raise ArgumentError(f"sort_clusters: 'lab' must be a 1D array of shape (M,), got {_describe(lab)}")
    for name, a in named.items():
        if a.ndim == 0 or a.shape[0] != lab.shape[0]:
            raise ArgumentError(
                f"sort_clusters: '{name}' must have {lab.shape[0]} rows (one per label), got {_describe(a)}"
            )
    # a stable sort keeps each cluster's points in input order: deterministic, and just as valid
    if torch_input:
        lab_sorted, perm = lab.sort(stable=True)
    else:
        perm = np.argsort(lab, kind="stable")
        lab_sorted = lab[perm]
    if not several:
        return x[perm], lab_sorted
    sorted_arrays = [a[perm] for a in x]
    return (sorted_arrays if isinstance(x, list) else tuple(sorted_arrays)), lab_sorted


def swap_axes(ranges: Sequence[Array] | None) -> tuple[Array, ...] | None:
    """The `ranges` 6-tuple of a reduction over j made that of the reduction over i; None stays None."""
    if ranges is None:
        return None
    if len(ranges) != 6:
        raise ArgumentError(f"swap_axes: 'ranges' must be a 6-tuple or None, got {len(ranges)} items")
    return (*ranges[3:6], *ranges[0:3])


def from_matrix(ranges_i: Array, ranges_j: Array, keep: Array) -> tuple[Array, ...]:
    """The `ranges` 6-tuple (int64) of a block-sparse reduction over the cluster pairs where keep is True."""
    function = "from_matrix"
    torch_input = _uses_torch(function, ranges_i=ranges_i, ranges_j=ranges_j, keep=keep)
    for name, ranges in (("ranges_i", ranges_i), ("ranges_j", ranges_j)):
        if ranges.ndim != 2 or ranges.shape[1] != 2 or not _is_integer(ranges):
            raise ArgumentError(
                f"{function}: '{name}' must be an integer array of shape (C, 2), got {_describe(ranges)}"
            )
    expected = (ranges_i.shape[0], ranges_j.shape[0])
    if tuple(keep.shape) != expected or not (_is_bool(keep) or _is_integer(keep)):
        raise ArgumentError(
            f"{function}: 'keep' must be a boolean array of shape {expected} (i-clusters, j-clusters), "
            f"got {_describe(keep)}"
        )
    keep = keep if _is_bool(keep) else keep != 0  # pykeops' own examples pass uint8 masks
    # nonzero() lists the kept pairs row by row: grouped by i-cluster, then (on keep.T) by j-cluster
    if torch_input:
        j_by_i, i_by_j = keep.nonzero(as_tuple=True)[1], keep.T.nonzero(as_tuple=True)[1]
    else:
        j_by_i, i_by_j = keep.nonzero()[1], keep.T.nonzero()[1]
    # copies, ranges_i and ranges_j too: the answer never aliases the caller's arrays
    return (
        _int64_copy(ranges_i),
        _int64_copy(keep.sum(1).cumsum(0)),
        _int64_copy(ranges_j[j_by_i]),
        _int64_copy(ranges_j),
        _int64_copy(keep.sum(0).cumsum(0)),
        _int64_copy(ranges_i[i_by_j]),
    )


def _int64_copy(a: Array) -> Array:
    if is_torch_tensor(a):
        import torch

        return a.to(torch.int64, copy=True)
    return a.astype(np.int64)
