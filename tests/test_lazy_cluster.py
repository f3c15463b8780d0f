"""The pykeops-style block-sparse helpers (kir.frontends.lazy.cluster), on NumPy and torch inputs.

Expectations are computed here independently: hand-made cases (those of the pykeops docs) and
brute-force loops over points, labels and cluster pairs.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from kir.errors import ArgumentError
from kir.frontends.lazy.cluster import (
    cluster_centroids,
    cluster_ranges,
    cluster_ranges_centroids,
    from_matrix,
    grid_cluster,
    sort_clusters,
    swap_axes,
)


@dataclass(frozen=True)
class Backend:
    """How a test makes inputs of one kind (NumPy or torch) and reads the answers back."""

    name: str
    wrap: Callable[[Any], Any]
    label_dtype: str  # grid_cluster's labels: int64 in pykeops.numpy, int32 in pykeops.torch
    count_dtype: str  # the counts cluster_ranges_centroids returns as weights: float64 / float32

    def read(self, value: Any) -> np.ndarray:
        assert type(value).__module__.split(".")[0] == self.name, f"expected a {self.name} answer"
        return value.detach().numpy() if self.name == "torch" else value


def dtype_name(value: Any) -> str:
    return str(value.dtype).removeprefix("torch.")


@pytest.fixture(params=["numpy", "torch"])
def xp(request: pytest.FixtureRequest) -> Backend:
    if request.param == "numpy":
        return Backend("numpy", np.array, "int64", "float64")
    torch = pytest.importorskip("torch")
    return Backend("torch", lambda a: torch.as_tensor(np.array(a)), "int32", "float32")


# ---------------------------------------------------------------------------------------- grid_cluster


def test_grid_cluster_documented_example(xp: Backend) -> None:
    labels = grid_cluster(xp.wrap([[0.0], [0.1], [0.9], [0.05], [0.5]]), 0.2)
    assert dtype_name(labels) == xp.label_dtype
    assert xp.read(labels).tolist() == [0, 0, 2, 0, 1]


@pytest.mark.parametrize("dim", [1, 2, 3, 4])
def test_grid_cluster_labels_are_the_voxels(xp: Backend, dim: int) -> None:
    rng = np.random.default_rng(dim)
    x = rng.uniform(-3.0, 3.0, size=(200, dim))
    size = 0.7
    labels = xp.read(grid_cluster(xp.wrap(x), size))
    # pykeops.numpy cuts the grid from the origin, pykeops.torch from the cloud's lower corner
    anchor = x.min(axis=0) if xp.name == "torch" else np.zeros(dim)
    voxels = [tuple(int(np.floor(c)) for c in (p - anchor) / size) for p in x]
    same_voxel = np.array([[a == b for b in voxels] for a in voxels])
    assert np.array_equal(labels[:, None] == labels[None, :], same_voxel)
    # compact labels in [0, C), numbered in the lexicographic order of the voxels
    ordered = sorted(set(voxels))
    assert labels.tolist() == [ordered.index(v) for v in voxels]


def test_grid_cluster_per_axis_size(xp: Backend) -> None:
    x = xp.wrap([[0.0, 0.0], [0.9, 1.9], [1.1, 0.0], [0.2, 2.1]])
    labels = xp.read(grid_cluster(x, xp.wrap([1.0, 2.0])))
    assert labels.tolist() == [0, 0, 2, 1]  # cells (0, 0), (0, 0), (1, 0), (0, 1)


def test_grid_cluster_far_apart_cells_keep_distinct_labels(xp: Backend) -> None:
    # pykeops packs cell coordinates 10 bits apart, so these two cells would share a label there
    x = xp.wrap([[0.0, 0.0], [1.0, -1024.0], [0.0, 0.5]])
    labels = xp.read(grid_cluster(x, 1.0))
    assert labels[0] == labels[2] != labels[1]


def test_grid_cluster_refuses_bad_input(xp: Backend) -> None:
    x = xp.wrap(np.zeros((4, 2)))
    with pytest.raises(ArgumentError, match=r"'x' must be a 2D array .* got shape \(4,\)"):
        grid_cluster(xp.wrap(np.zeros(4)), 1.0)
    with pytest.raises(ArgumentError, match=r"'size' must be a number or of shape \(2,\), got shape \(3,\)"):
        grid_cluster(x, xp.wrap(np.ones(3)))
    with pytest.raises(ValueError, match="'size' must be > 0"):
        grid_cluster(x, 0.0)
    with pytest.raises(ArgumentError, match="must be a NumPy array or a torch tensor, got list"):
        grid_cluster([[0.0]], 1.0)


# ------------------------------------------------------------------------------ cluster_ranges, centroids


def test_cluster_ranges_documented_example(xp: Backend) -> None:
    ranges = cluster_ranges(xp.wrap([0, 0, 0, 1, 2]))
    assert dtype_name(ranges) == "int64"
    assert xp.read(ranges).tolist() == [[0, 3], [3, 4], [4, 5]]


def test_cluster_ranges_partition_sorted_labels(xp: Backend) -> None:
    rng = np.random.default_rng(1)
    lab = np.sort(rng.choice([0, 1, 2, 4, 5, 8], size=60))  # labels 3, 6 and 7 have no points
    for nlab in (None, np.bincount(lab), np.bincount(lab).astype(np.float32)):
        ranges = xp.read(cluster_ranges(xp.wrap(lab), None if nlab is None else xp.wrap(nlab)))
        assert ranges.shape == (9, 2) and ranges[0, 0] == 0 and ranges[-1, 1] == len(lab)
        assert np.array_equal(ranges[1:, 0], ranges[:-1, 1])  # contiguous, no gap, no overlap
        for k, (start, end) in enumerate(ranges):
            assert np.all(lab[start:end] == k) and end - start == np.count_nonzero(lab == k)


def test_cluster_centroids_are_per_label_means(xp: Backend) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    lab = rng.integers(0, 5, size=50)
    weights = rng.uniform(0.1, 2.0, size=50)
    plain = xp.read(cluster_centroids(xp.wrap(x), xp.wrap(lab)))
    weighted = xp.read(cluster_centroids(xp.wrap(x), xp.wrap(lab), weights=xp.wrap(weights)))
    for k in range(5):
        members = lab == k
        np.testing.assert_allclose(plain[k], x[members].mean(axis=0), rtol=1e-12)
        expected = (weights[members, None] * x[members]).sum(axis=0) / weights[members].sum()
        np.testing.assert_allclose(weighted[k], expected, rtol=1e-12)


def test_cluster_centroids_documented_example_and_dtype(xp: Backend) -> None:
    x = xp.wrap(np.array([[0.0], [1.0], [4.0], [5.0], [6.0]], dtype=np.float32))
    weights = xp.wrap(np.array([0.5, 0.5, 2.0, 1.0, 1.0], dtype=np.float32))
    centroids = cluster_centroids(x, xp.wrap([0, 0, 1, 1, 1]), weights=weights)
    assert dtype_name(centroids) == "float32"
    np.testing.assert_allclose(xp.read(centroids), [[0.5], [4.75]])


def test_cluster_centroids_of_an_empty_cluster_are_nan(xp: Backend) -> None:
    x = xp.wrap([[1.0, 2.0], [3.0, 4.0]])
    centroids = xp.read(cluster_centroids(x, xp.wrap([0, 2]), Nlab=xp.wrap([1, 0, 1, 0])))
    assert centroids.shape == (4, 2)
    np.testing.assert_array_equal(centroids[[0, 2]], [[1.0, 2.0], [3.0, 4.0]])
    assert np.isnan(centroids[[1, 3]]).all()


def test_cluster_centroids_refuse_bad_labels(xp: Backend) -> None:
    x = xp.wrap(np.zeros((3, 2)))
    with pytest.raises(ArgumentError, match=r"'lab' must be a 1D integer array of length 3 .* \(2,\)"):
        cluster_centroids(x, xp.wrap([0, 1]))
    with pytest.raises(ArgumentError, match="dtype .*float64"):
        cluster_centroids(x, xp.wrap([0.0, 1.0, 1.0]))
    with pytest.raises(ArgumentError, match="labels >= 0, got -1"):
        cluster_centroids(x, xp.wrap([0, -1, 1]))
    with pytest.raises(ArgumentError, match="labels up to 4, but the per-cluster vectors have only 2"):
        cluster_centroids(x, xp.wrap([0, 4, 1]), Nlab=xp.wrap([1, 1]))


def test_cluster_ranges_centroids_documented_examples(xp: Backend) -> None:
    x, lab = xp.wrap([[0.0], [0.5], [1.0], [2.0], [3.0]]), xp.wrap([0, 0, 1, 1, 1])
    ranges, centroids, weights_c = cluster_ranges_centroids(x, lab)
    assert (dtype_name(ranges), dtype_name(centroids), dtype_name(weights_c)) == (
        "int64",
        "float64",
        xp.count_dtype,
    )
    assert xp.read(ranges).tolist() == [[0, 2], [2, 5]]
    np.testing.assert_allclose(xp.read(centroids), [[0.25], [2.0]])
    np.testing.assert_array_equal(xp.read(weights_c), [2.0, 3.0])

    weights = xp.wrap([1.0, 0.5, 1.0, 1.0, 10.0])
    ranges, centroids, weights_c = cluster_ranges_centroids(x, lab, weights=weights)
    assert xp.read(ranges).tolist() == [[0, 2], [2, 5]]
    np.testing.assert_allclose(xp.read(centroids), [[1 / 6], [2.75]])
    np.testing.assert_allclose(xp.read(weights_c), [1.5, 12.0])


def test_cluster_ranges_centroids_raise_tiny_weights_to_min_weight(xp: Backend) -> None:
    x, lab = xp.wrap([[0.0], [2.0], [4.0], [8.0]]), xp.wrap([0, 0, 1, 1])
    weights = xp.wrap([0.0, 0.0, 1.0, -1.0])
    _, centroids, weights_c = cluster_ranges_centroids(x, lab, weights=weights, min_weight=0.5)
    # cluster 0: both weights become 0.5 (a plain mean), cluster 1: weights 1 and 0.5
    np.testing.assert_allclose(xp.read(centroids), [[1.0], [(4.0 + 0.5 * 8.0) / 1.5]])
    np.testing.assert_allclose(xp.read(weights_c), [1.0, 1.5])
    np.testing.assert_array_equal(xp.read(weights), [0.0, 0.0, 1.0, -1.0])  # the input is untouched


# ------------------------------------------------------------------------------------------ sort_clusters


def test_sort_clusters_sorts_points_and_labels_together(xp: Backend) -> None:
    rng = np.random.default_rng(3)
    lab = rng.integers(0, 6, size=40)
    x = np.stack([np.arange(40.0), rng.normal(size=40)], axis=1)  # column 0 remembers each row's index
    x_sorted, lab_sorted = sort_clusters(xp.wrap(x), xp.wrap(lab))
    x_sorted, lab_sorted = xp.read(x_sorted), xp.read(lab_sorted)
    order = x_sorted[:, 0].astype(int)
    assert sorted(order) == list(range(40)) and np.array_equal(x_sorted, x[order])
    assert np.array_equal(lab_sorted, lab[order]) and np.all(np.diff(lab_sorted) >= 0)
    for k in range(6):  # stable: a cluster keeps its points in input order
        assert np.array_equal(order[lab_sorted == k], np.flatnonzero(lab == k))


@pytest.mark.parametrize("container", [tuple, list])
def test_sort_clusters_sorts_every_array_of_a_tuple_or_list(xp: Backend, container: type) -> None:
    lab = np.array([2, 0, 1, 0])
    points, values = np.arange(8.0).reshape(4, 2), np.array([20.0, 0.0, 10.0, 1.0])
    sorted_arrays, lab_sorted = sort_clusters(container([xp.wrap(points), xp.wrap(values)]), xp.wrap(lab))
    assert type(sorted_arrays) is container and len(sorted_arrays) == 2
    assert xp.read(lab_sorted).tolist() == [0, 0, 1, 2]
    assert xp.read(sorted_arrays[0]).tolist() == [[2.0, 3.0], [6.0, 7.0], [4.0, 5.0], [0.0, 1.0]]
    assert xp.read(sorted_arrays[1]).tolist() == [0.0, 1.0, 10.0, 20.0]


def test_sort_clusters_refuses_mismatched_rows(xp: Backend) -> None:
    with pytest.raises(ArgumentError, match=r"'x\[1\]' must have 3 rows .* shape \(2,\)"):
        sort_clusters((xp.wrap(np.zeros((3, 1))), xp.wrap(np.zeros(2))), xp.wrap([0, 1, 0]))


# ------------------------------------------------------------------------------ from_matrix, swap_axes


def test_from_matrix_documented_example(xp: Backend) -> None:
    ranges_i, ranges_j = xp.wrap([[2, 5], [7, 12]]), xp.wrap([[1, 4], [4, 9], [20, 30]])
    keep = xp.wrap([[True, True, False], [False, True, False]])
    answer = from_matrix(ranges_i, ranges_j, keep)
    assert len(answer) == 6 and all(dtype_name(a) == "int64" for a in answer)
    r_i, s_i, red_j, r_j, s_j, red_i = (xp.read(a).tolist() for a in answer)
    assert r_i == [[2, 5], [7, 12]] and s_i == [2, 3] and red_j == [[1, 4], [4, 9], [4, 9]]
    assert r_j == [[1, 4], [4, 9], [20, 30]] and s_j == [1, 3, 3] and red_i == [[2, 5], [2, 5], [7, 12]]


def blocks(slices: np.ndarray, redranges: np.ndarray) -> list[list[list[int]]]:
    """The reduction intervals of each output cluster, read from a (slices, redranges) pair."""
    starts = [0, *slices[:-1]]
    return [redranges[a:b].tolist() for a, b in zip(starts, slices, strict=True)]


@pytest.mark.parametrize("seed", range(4))
def test_from_matrix_enumerates_exactly_the_kept_pairs(xp: Backend, seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 7, size=2)
    ranges_i = np.cumsum(rng.integers(0, 4, size=(m, 2)), axis=None).reshape(m, 2)
    ranges_j = np.cumsum(rng.integers(0, 4, size=(n, 2)), axis=None).reshape(n, 2)
    keep = rng.random((m, n)) < 0.5
    r_i, s_i, red_j, r_j, s_j, red_i = (
        xp.read(a) for a in from_matrix(*map(xp.wrap, (ranges_i, ranges_j, keep)))
    )
    assert np.array_equal(r_i, ranges_i) and np.array_equal(r_j, ranges_j)
    assert s_i.shape == (m,) and s_j.shape == (n,)
    assert blocks(s_i, red_j) == [[ranges_j[j].tolist() for j in range(n) if keep[k, j]] for k in range(m)]
    assert blocks(s_j, red_i) == [[ranges_i[k].tolist() for k in range(m) if keep[k, j]] for j in range(n)]


def test_from_matrix_takes_an_integer_mask(xp: Backend) -> None:
    ranges = xp.wrap([[0, 1], [1, 3]])
    as_bool = from_matrix(ranges, ranges, xp.wrap([[True, False], [True, True]]))
    as_uint8 = from_matrix(ranges, ranges, xp.wrap(np.array([[1, 0], [1, 1]], dtype=np.uint8)))
    for a, b in zip(as_bool, as_uint8, strict=True):
        assert np.array_equal(xp.read(a), xp.read(b))


def test_from_matrix_refuses_bad_input(xp: Backend) -> None:
    ranges = xp.wrap([[0, 1], [1, 3]])
    with pytest.raises(ArgumentError, match=r"'keep' must be a boolean array of shape \(2, 3\) .* \(3, 2\)"):
        from_matrix(ranges, xp.wrap([[0, 1], [1, 2], [2, 3]]), xp.wrap(np.ones((3, 2), dtype=bool)))
    with pytest.raises(ArgumentError, match=r"'ranges_j' must be an integer array of shape \(C, 2\)"):
        from_matrix(ranges, xp.wrap([0.0, 1.0]), xp.wrap(np.ones((2, 2), dtype=bool)))
    with pytest.raises(ArgumentError, match="'keep' must be a boolean array .*float"):
        from_matrix(ranges, ranges, xp.wrap(np.ones((2, 2))))


def test_swap_axes_swaps_the_two_halves(xp: Backend) -> None:
    assert swap_axes(None) is None
    assert swap_axes(("a", "b", "c", "d", "e", "f")) == ("d", "e", "f", "a", "b", "c")
    with pytest.raises(ArgumentError, match="6-tuple"):
        swap_axes(("a", "b"))
    # the ranges of the reduction over i are those over j of the transposed problem
    ranges_i, ranges_j = xp.wrap([[0, 2], [2, 3]]), xp.wrap([[0, 1], [1, 4], [4, 5]])
    keep = np.array([[True, False, True], [False, False, True]])
    swapped = swap_axes(from_matrix(ranges_i, ranges_j, xp.wrap(keep)))
    transposed = from_matrix(ranges_j, ranges_i, xp.wrap(keep.T))
    for a, b in zip(swapped, transposed, strict=True):
        assert np.array_equal(xp.read(a), xp.read(b))


# ------------------------------------------------------------------------------------------- both kinds


def test_inputs_are_neither_modified_nor_aliased(xp: Backend) -> None:
    rng = np.random.default_rng(4)
    x, lab, weights = rng.normal(size=(12, 2)), rng.integers(0, 3, size=12), rng.uniform(0, 1, size=12)
    ranges, keep = np.array([[0, 4], [4, 12]]), np.array([[True, False], [True, True]])
    arrays = [xp.wrap(a) for a in (x, lab, weights, ranges, keep)]
    x_, lab_, weights_, ranges_, keep_ = arrays
    grid_cluster(x_, 0.5)
    cluster_ranges(lab_)
    cluster_centroids(x_, lab_, weights=weights_)
    cluster_ranges_centroids(x_, lab_, weights=weights_, min_weight=0.5)
    sort_clusters(x_, lab_)
    answer = from_matrix(ranges_, ranges_, keep_)
    answer[0][0, 0] = 99  # the answer is a copy, not the caller's ranges
    for before, after in zip((x, lab, weights, ranges, keep), arrays, strict=True):
        assert np.array_equal(before, xp.read(after))


def test_mixing_numpy_and_torch_is_refused() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ArgumentError, match="not both .*'ranges_i' is Tensor, 'ranges_j' is ndarray"):
        from_matrix(torch.tensor([[0, 1]]), np.array([[0, 1]]), np.ones((1, 1), dtype=bool))


def test_torch_centroids_pass_gradients_to_the_points() -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], dtype=torch.float64, requires_grad=True)
    lab = torch.tensor([0, 0, 1])
    cluster_centroids(x, lab).sum().backward()
    # each centroid is the mean of its cluster: d(sum)/dx = 1 / (size of the point's cluster)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0.5], [0.5, 0.5], [1.0, 1.0]])
    labels = grid_cluster(x, 1.5)  # a tensor that requires grad is fine, no graph is built
    assert labels.tolist() == [0, 1, 2] and not labels.requires_grad


def test_numpy_inputs_never_import_torch() -> None:
    script = (
        "import sys, numpy as np\n"
        "from kir.frontends.lazy import cluster as c\n"
        "lab = c.grid_cluster(np.random.rand(10, 2), 0.3)\n"
        "r, x, w = c.cluster_ranges_centroids(np.random.rand(10, 2), lab)\n"
        "c.from_matrix(r, r, np.ones((len(r), len(r)), dtype=bool))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pairs_of_labels_agree_across_backends() -> None:
    """On a cloud whose lower corner is the origin, both anchorings of the grid coincide."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = np.vstack([np.zeros((1, 3)), rng.uniform(0, 4, size=(80, 3))])
    from_numpy, from_torch = grid_cluster(x, 0.9), grid_cluster(torch.from_numpy(x), 0.9)
    assert np.array_equal(from_numpy, from_torch.numpy())
    for a, b in itertools.combinations(range(len(x)), 2):
        same_cell = np.array_equal(np.floor(x[a] / 0.9), np.floor(x[b] / 0.9))
        assert (from_numpy[a] == from_numpy[b]) == same_cell
