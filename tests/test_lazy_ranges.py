"""kir.frontends.lazy.ranges: block-sparse reductions against dense ones on the masked pair matrix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import kir
from kir.frontends.lazy.ranges import reduce_blocks

GAUSS = "Exp(-SqDist(x,y))*b"


def aliases(axis: int, weight: int = 0) -> list[str]:
    """x = Vi(3), y = Vj(3), and a weight b of the reduced index when `weight` > 0."""
    names = ["x=Vi(3)", "y=Vj(3)"]
    return names + ([f"b={'Vj' if axis == 1 else 'Vi'}({weight})"] if weight else [])


def cuts(size: int, clusters: int) -> np.ndarray:
    """[start, end) of `clusters` consecutive ranges of about equal sizes covering [0, size)."""
    ends = np.linspace(0, size, clusters + 1).round().astype(np.int64)
    return np.stack([ends[:-1], ends[1:]], 1)


def from_keep(ranges_i: np.ndarray, ranges_j: np.ndarray, keep: np.ndarray) -> tuple:
    """pykeops' 6-tuple for the pairs of clusters (k, l) with keep[k, l] (from_matrix's layout)."""
    slices_i, slices_j = np.cumsum(keep.sum(1)), np.cumsum(keep.sum(0))
    return (
        ranges_i,
        slices_i,
        ranges_j[np.nonzero(keep)[1]],
        ranges_j,
        slices_j,
        ranges_i[np.nonzero(keep.T)[1]],
    )


def clustered(m: int, n: int, dtype: type = np.float64, seed: int = 0) -> tuple:
    """Points sorted along a line (first coordinate) cut into clusters; the pairs of clusters
    whose centres are close are kept. Returns x, y and the ranges."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(scale=0.5, size=(m, 3)), rng.normal(scale=0.5, size=(n, 3))
    x[:, 0], y[:, 0] = np.sort(rng.uniform(0, 10, m)), np.sort(rng.uniform(0, 10, n))
    ranges_i, ranges_j = cuts(m, 10), cuts(n, 12)
    centre_i = np.array([x[a:b, 0].mean() for a, b in ranges_i])
    centre_j = np.array([y[a:b, 0].mean() for a, b in ranges_j])
    keep = np.abs(centre_i[:, None] - centre_j[None, :]) < 2.5
    return x.astype(dtype), y.astype(dtype), from_keep(ranges_i, ranges_j, keep)


def admitted(ranges: tuple, m: int, n: int, axis: int) -> np.ndarray:
    """The (output rows, reduced index) boolean matrix of the pairs `ranges` admits, by its definition."""
    blocks, slices, intervals = [np.asarray(r) for r in (ranges[:3] if axis == 1 else ranges[3:])]
    mask = np.zeros((m, n) if axis == 1 else (n, m), dtype=bool)
    for k, (lo, hi) in enumerate(blocks):
        for start, end in intervals[(slices[k - 1] if k else 0) : slices[k]]:
            mask[lo:hi, start:end] = True
    return mask


def pair_values(x: np.ndarray, y: np.ndarray, axis: int, formula: str) -> np.ndarray:
    """The (output rows, reduced index) matrix of SqDist or -SqDist, in float64."""
    d = ((x[:, None, :].astype(np.float64) - y[None, :, :]) ** 2).sum(-1)
    d = d if axis == 1 else d.T
    return -d if formula.startswith("-") else d


def dense_sum(x: np.ndarray, y: np.ndarray, b: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """sum over the admitted pairs of exp(-|x_i - y_j|^2) b, in float64."""
    return (np.exp(-pair_values(x, y, axis, "SqDist")) * mask) @ b.astype(np.float64)


def dense_kmin(values: np.ndarray, mask: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest admitted values per row and their indices (+inf and -1 past the admitted)."""
    masked = np.where(mask, values, np.inf)
    order = np.argsort(masked, axis=1, kind="stable")[:, :k]
    smallest = np.take_along_axis(masked, order, 1)
    return smallest, np.where(np.isfinite(smallest), order, -1)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("axis", [1, 0])
def test_sum_of_vectors_on_clusters(dtype: type, rtol: float, axis: int) -> None:
    """A Gaussian sum with vector weights only sees the pairs of close clusters."""
    x, y, ranges = clustered(300, 250, dtype)
    b = np.random.default_rng(1).normal(size=(250 if axis == 1 else 300, 2)).astype(dtype)
    kernel = kir.compile(GAUSS, aliases(axis, 2), axis=axis)
    mask = admitted(ranges, 300, 250, axis)
    assert 0.2 < mask.mean() < 0.8  # a real block-sparse case, neither empty nor full
    out = reduce_blocks(kernel, (x, y, b), ranges)
    assert out.dtype == dtype and out.shape == (300 if axis == 1 else 250, 2)
    np.testing.assert_allclose(out, dense_sum(x, y, b, mask, axis), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("axis", [1, 0])
def test_min_argmin_tuple(axis: int) -> None:
    """Min_ArgMin gives (values, indices into the whole reduced index)."""
    x, y, ranges = clustered(200, 230)
    kernel = kir.compile("SqDist(x,y)", aliases(axis), reduction="Min_ArgMin", axis=axis)
    values, indices = reduce_blocks(kernel, (x, y), ranges)
    expected, where = dense_kmin(pair_values(x, y, axis, "SqDist"), admitted(ranges, 200, 230, axis), 1)
    assert indices.dtype == np.int64
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    np.testing.assert_array_equal(indices, where)


@pytest.mark.parametrize("axis", [1, 0])
def test_argkmin(axis: int) -> None:
    """ArgKMin (K = 3) maps each block's indices back to the whole index."""
    x, y, ranges = clustered(180, 210, seed=3)
    kernel = kir.compile("SqDist(x,y)", aliases(axis), reduction="ArgKMin", axis=axis, opt_arg=3)
    _, expected = dense_kmin(pair_values(x, y, axis, "SqDist"), admitted(ranges, 180, 210, axis), 3)
    np.testing.assert_array_equal(reduce_blocks(kernel, (x, y), ranges), expected)


@pytest.mark.parametrize("axis", [1, 0])
def test_logsumexp(axis: int) -> None:
    """LogSumExp over the admitted pairs."""
    x, y, ranges = clustered(150, 170, seed=4)
    kernel = kir.compile("-SqDist(x,y)", aliases(axis), reduction="LogSumExp", axis=axis)
    values, mask = pair_values(x, y, axis, "-SqDist"), admitted(ranges, 150, 170, axis)
    expected = np.log((np.exp(values) * mask).sum(1, keepdims=True))
    np.testing.assert_allclose(reduce_blocks(kernel, (x, y), ranges), expected, rtol=1e-12)


def doc_ranges() -> tuple:
    """from_matrix's docstring example: rows 0, 1, 5, 6 in no block; j-block [20, 30) reduces over none."""
    blocks_i, blocks_j = np.array([[2, 5], [7, 12]]), np.array([[1, 4], [4, 9], [20, 30]])
    return from_keep(blocks_i, blocks_j, np.array([[1, 1, 0], [0, 1, 0]], dtype=bool))


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize(
    "reduction, formula, empty",
    [("Sum", GAUSS, 0.0), ("Min", "SqDist(x,y)", np.inf), ("ArgMin", "SqDist(x,y)", -1)]
    + [("LogSumExp", "-SqDist(x,y)", -np.inf)],
)
def test_rows_in_no_block_get_the_empty_reduction(
    axis: int, reduction: str, formula: str, empty: float
) -> None:
    """Uncovered rows and blocks listing no interval: the reduction of the empty set."""
    rng = np.random.default_rng(5)
    x, y, b = (
        rng.normal(size=(12, 3)),
        rng.normal(size=(30, 3)),
        rng.normal(size=(30 if axis == 1 else 12, 1)),
    )
    kernel = kir.compile(formula, aliases(axis, 1 if formula == GAUSS else 0), reduction=reduction, axis=axis)
    arrays = (x, y, b) if formula == GAUSS else (x, y)
    out = reduce_blocks(kernel, arrays, doc_ranges())
    mask = admitted(doc_ranges(), 12, 30, axis)
    none = ~mask.any(1)
    assert none.sum() == (4 if axis == 1 else 22)
    np.testing.assert_array_equal(out[none], empty)
    if reduction == "Sum":
        np.testing.assert_allclose(out, dense_sum(x, y, b, mask, axis), rtol=1e-12, atol=1e-15)
    else:
        assert np.isfinite(out[~none]).all() and (out[~none] != -1).all()


def test_empty_blocks_intervals_and_sharing() -> None:
    """Empty blocks and intervals are skipped; unsorted blocks with the same intervals share a call;
    touching intervals are joined; an interval listed twice counts twice, as in KeOps' loops."""
    rng = np.random.default_rng(6)
    x, y, b = rng.normal(size=(40, 3)), rng.normal(size=(50, 3)), rng.normal(size=(50, 1))
    kernel = kir.compile(GAUSS, aliases(1, 1))
    ranges_i = np.array([[30, 40], [0, 10], [10, 10], [20, 30], [10, 20]])
    slices_i = np.array([2, 4, 5, 7, 9])
    redranges_j = np.array(
        [[5, 10], [10, 20], [5, 20], [7, 7], [3, 3], [5, 15], [15, 20], [20, 25], [20, 25]]
    )
    ranges = (ranges_i, slices_i, redranges_j, np.zeros((0, 2)), [], np.zeros((0, 2), np.int32))
    calls = []

    class Counted:
        axis, args, reductions, dtype = 1, kernel.args, kernel.reductions, kernel.dtype

        def __call__(self, *arrays: np.ndarray) -> np.ndarray:
            calls.append(arrays[1].shape[0])
            return kernel(*arrays)

    out = reduce_blocks(Counted(), (x, y, b), ranges)
    weights = np.exp(-pair_values(x, y, 1, "SqDist"))
    expected = np.empty((40, 1))
    expected[:10], expected[20:] = weights[:10, 5:20] @ b[5:20], weights[20:, 5:20] @ b[5:20]
    expected[10:20] = 2 * weights[10:20, 20:25] @ b[20:25]  # not joined to the block before
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    # One call for rows [0, 10) and [20, 40) over j in [5, 20), one for [10, 20) over [20, 25) twice.
    assert sorted(calls) == [10, 15]


def test_one_block_over_everything_is_the_dense_kernel() -> None:
    """Ranges admitting every pair give exactly the kernel's own result."""
    x, y, _ = clustered(64, 80)
    kernel = kir.compile("SqDist(x,y)", aliases(1), reduction="Min_ArgMin")
    everything = ([[0, 64]], [1], [[0, 80]], [[0, 80]], [1], [[0, 64]])
    for got, want in zip(reduce_blocks(kernel, (x, y), everything), kernel(x, y), strict=True):
        np.testing.assert_array_equal(got, want)


def torch_case(m: int, n: int, axis: int, seed: int) -> tuple:
    """Float64 tensors x, y, b needing gradients, the ranges as int32 tensors and the mask."""
    torch = pytest.importorskip("torch")
    x, y, ranges = clustered(m, n, seed=seed)
    b = np.random.default_rng(seed).normal(size=(n if axis == 1 else m, 2))
    tensors = [torch.tensor(a, requires_grad=True) for a in (x, y, b)]
    ranges = tuple(torch.tensor(np.asarray(r), dtype=torch.int32) for r in ranges)
    mask = torch.tensor(admitted(ranges, m, n, axis))
    return tensors, ranges, mask


def dense_torch(x: Any, y: Any, b: Any, mask: Any, axis: int) -> Any:
    """sum over admitted pairs of exp(-|x_i - y_j|^2) b, in torch (differentiable)."""
    weights = (-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)).exp()
    return ((weights if axis == 1 else weights.T) * mask) @ b


@pytest.mark.parametrize("axis", [1, 0])
def test_torch_gradient_matches_dense_autograd(axis: int) -> None:
    """First-order gradients in x, y and b flow through the gathered blocks; inputs untouched."""
    torch = pytest.importorskip("torch")
    (x, y, b), ranges, mask = torch_case(120, 140, axis, seed=7)
    before = [t.detach().clone() for t in (x, y, b)]
    kernel = kir.compile(GAUSS, aliases(axis, 2), axis=axis)
    out = reduce_blocks(kernel, (x, y, b), ranges)
    expected = dense_torch(x, y, b, mask, axis)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-13)
    cotangent = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, y, b), cotangent)
    want = torch.autograd.grad(expected, (x, y, b), cotangent)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)
    for t, original in zip((x, y, b), before, strict=True):
        assert torch.equal(t.detach(), original)


def test_torch_second_order() -> None:
    """The gradient in x, itself differentiated (create_graph=True), matches dense autograd."""
    torch = pytest.importorskip("torch")
    (x, y, b), ranges, mask = torch_case(24, 30, 1, seed=8)
    kernel = kir.compile(GAUSS, aliases(1, 2))
    v = torch.randn(24, 3, dtype=torch.float64)
    results = []
    for value in (reduce_blocks(kernel, (x, y, b), ranges), dense_torch(x, y, b, mask, 1)):
        (gx,) = torch.autograd.grad(value.sum(), x, create_graph=True)
        results.append(torch.autograd.grad((gx * v).sum(), (x, y, b)))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-11)


def test_torch_argkmin_indices() -> None:
    """Index outputs come back as int64 tensors of whole-index positions."""
    torch = pytest.importorskip("torch")
    x, y, ranges = clustered(90, 100, seed=9)
    kernel = kir.compile("SqDist(x,y)", aliases(1), reduction="ArgKMin", opt_arg=3)
    out = reduce_blocks(kernel, (torch.tensor(x), torch.tensor(y)), tuple(torch.tensor(r) for r in ranges))
    _, expected = dense_kmin(pair_values(x, y, 1, "SqDist"), admitted(ranges, 90, 100, 1), 3)
    assert out.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), expected)


GOOD = ([[0, 4], [4, 8]], [1, 2], [[0, 5], [5, 10]], [[0, 10]], [2], [[0, 4], [4, 8]])


def bad(index: int, value: object) -> tuple:
    """GOOD with entry `index` replaced by `value`."""
    return tuple(value if k == index else r for k, r in enumerate(GOOD))


@pytest.mark.parametrize(
    "ranges, message",
    [
        (GOOD[:3], "must be a 6-tuple"),
        (None, "must be a 6-tuple"),
        (bad(0, [[0, 4, 1], [4, 8, 1]]), r"ranges_i must have shape \(n, 2\)"),
        (bad(1, [[1], [2]]), r"slices_i must have shape \(n,\)"),
        (bad(2, [[0.0, 5.0], [5.0, 10.0]]), "redranges_j must hold integers"),
        (bad(1, [2, 1]), r"slices_i must be nondecreasing: slices_i\[1\] = 1 < slices_i\[0\] = 2"),
        (bad(1, [-1, 2]), "slices_i must be nondecreasing"),
        (bad(1, [1, 3]), "slices_i reaches 3 but redranges_j has only 2 intervals"),
        (bad(1, [2]), "slices_i has 1 entries but ranges_i has 2 blocks"),
        (bad(2, [[0, 5], [5, 11]]), r"redranges_j\[1\] = \[5, 11\) is not an interval of the 10 j-rows"),
        (bad(2, [[-1, 5], [5, 10]]), r"redranges_j\[0\] = \[-1, 5\)"),
        (bad(0, [[0, 4], [6, 5]]), r"ranges_i\[1\] = \[6, 5\) is not an interval of the 8 i-rows"),
        (bad(0, [[0, 5], [4, 8]]), r"ranges_i has overlapping blocks \[0, 5\) and \[4, 8\)"),
        (bad(5, [[0, 4], [4, 9]]), r"redranges_i\[1\] = \[4, 9\)"),
    ],
)
def test_bad_ranges_raise_argument_errors(ranges: object, message: str) -> None:
    """Malformed ranges name the entry and what is wrong with it."""
    kernel = kir.compile(GAUSS, aliases(1, 1))
    arrays = (np.zeros((8, 3)), np.zeros((10, 3)), np.zeros((10, 1)))
    with pytest.raises(kir.ArgumentError, match=message):
        reduce_blocks(kernel, arrays, ranges)
