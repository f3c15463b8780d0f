"""Libraries written for pykeops (GeomLoss, GPyTorch's KeOps kernels) run unchanged on kir.

A module-scoped fixture puts a `pykeops` shim into sys.modules (pykeops.torch -> kir.torch,
pykeops.torch.cluster -> kir.torch.cluster, the same for numpy) and imports the client libraries
afresh behind it, so that they bind to kir at import time whether or not the real pykeops is
installed. Every case compares against the library's own pure-torch path on the same data and
counts kir's reductions (a spy on `engine.run`), so that it cannot pass on torch alone; the
block-sparse reductions of GeomLoss' multiscale backend are also checked one by one against a
masked evaluation by kir's NumPy reference evaluator.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import kir.numpy  # noqa: E402 - after the torch check: kir.torch needs torch
import kir.numpy.cluster  # noqa: E402
import kir.torch  # noqa: E402
import kir.torch.cluster  # noqa: E402
from kir.frontends.lazy import engine  # noqa: E402
from kir.reference import evaluate  # noqa: E402

CLIENTS = ("pykeops", "geomloss", "gpytorch", "linear_operator")
"""Top-level packages dropped from sys.modules while the shim is in place (restored afterwards)."""

N, M, D = 300, 250, 3


# ----------------------------------------------------------------------------------------------
# The shim, the libraries behind it, and the spy on kir's reductions
# ----------------------------------------------------------------------------------------------


def _client_modules() -> list[str]:
    return [name for name in sys.modules if name.split(".")[0] in CLIENTS]


@pytest.fixture(scope="module")
def pykeops_shim() -> Iterator[types.ModuleType]:
    """sys.modules with `pykeops` standing for kir; client libraries imported from now on bind to it."""
    shim = types.ModuleType("pykeops")
    shim.torch, shim.numpy = kir.torch, kir.numpy
    with pytest.MonkeyPatch.context() as patch:
        for name in _client_modules():  # the real pykeops, and clients that already bound to it
            patch.delitem(sys.modules, name)
        for name, module in {
            "pykeops": shim,
            "pykeops.torch": kir.torch,
            "pykeops.torch.cluster": kir.torch.cluster,
            "pykeops.numpy": kir.numpy,
            "pykeops.numpy.cluster": kir.numpy.cluster,
        }.items():
            patch.setitem(sys.modules, name, module)
        yield shim
        # Modules imported behind the shim are unknown to the MonkeyPatch: drop them before it
        # puts the ones it removed back, so that later imports see the real pykeops again.
        for name in _client_modules():
            if name.split(".")[0] != "pykeops":
                del sys.modules[name]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The torch references run on one thread: on a loaded machine, torch's OpenMP barriers wait
    for descheduled threads (logsumexp of 300 x 250 entries: 0.3 ms on one thread, 40 ms on two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def geomloss(pykeops_shim: types.ModuleType) -> types.ModuleType:
    module = pytest.importorskip("geomloss")
    from geomloss._legacy import kernel_samples, sinkhorn_samples, utils

    # GeomLoss swallows any error of its pykeops imports (bare `except:`) and falls back to torch.
    assert sinkhorn_samples.keops_available and kernel_samples.keops_available and utils.keops_available
    assert sinkhorn_samples.LazyTensor is kir.torch.LazyTensor
    assert sinkhorn_samples.generic_logsumexp is kir.torch.generic_logsumexp
    assert sinkhorn_samples.from_matrix is kir.torch.cluster.from_matrix
    assert sys.modules["pykeops"] is pykeops_shim
    return module


@pytest.fixture(scope="module")
def gpytorch(pykeops_shim: types.ModuleType) -> types.ModuleType:
    module = pytest.importorskip("gpytorch")
    from gpytorch.kernels.keops import keops_kernel

    # Without pykeops, GPyTorch's KeOps kernels warn and compute with torch: make sure they did not.
    assert keops_kernel.LazyTensor is kir.torch.LazyTensor
    return module


@dataclass
class Call:
    """One reduction kir ran: its kernel, and for block-sparse ones the data to check it again."""

    kernel: Any
    ranged: bool
    batched: bool
    arrays: list[np.ndarray] | None = None
    ranges: list[np.ndarray] | None = None
    result: np.ndarray | None = None


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)


@pytest.fixture
def kir_calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """The reductions kir runs during the test (LazyTensor and Genred both go through engine.run)."""
    calls: list[Call] = []
    run = engine.run

    def spy(kernel: Any, arrays: Any, *args: Any, **kwargs: Any) -> Any:
        ranges = args[0] if args else kwargs.get("ranges")
        result = run(kernel, arrays, *args, **kwargs)
        call = Call(kernel, ranges is not None, any(len(a.shape) > 2 for a in arrays))
        if ranges is not None:
            call.arrays = [_numpy(a) for a in arrays]
            call.ranges = [_numpy(r) for r in ranges]
            call.result = _numpy(result[0] if isinstance(result, tuple) else result)
        calls.append(call)
        return result

    monkeypatch.setattr(engine, "run", spy)
    return calls


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def assert_close(actual: Any, expected: Any, rtol: float, what: str) -> None:
    """max |actual - expected| <= rtol * max |expected|: normwise, as gradients have entries near 0."""
    actual, expected = torch.as_tensor(actual).double(), torch.as_tensor(expected).double()
    assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    error = (actual - expected).abs().max().item()
    scale = expected.abs().max().item()
    assert error <= rtol * scale, f"{what}: max abs diff {error:.3g} > {rtol:g} * max |expected| {scale:.3g}"


def point_clouds(dtype: torch.dtype, batch: tuple[int, ...] = (), seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Weights a, b (positive, summing to 1) and points x, y in overlapping unit cubes."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(*batch, N, D, generator=gen, dtype=dtype)
    y = torch.rand(*batch, M, D, generator=gen, dtype=dtype) + 0.2
    a = torch.rand(*batch, N, generator=gen, dtype=dtype) + 0.5
    b = torch.rand(*batch, M, generator=gen, dtype=dtype) + 0.5
    return a / a.sum(-1, keepdim=True), x, b / b.sum(-1, keepdim=True), y


def loss_and_grads(loss: Any, inputs: tuple[torch.Tensor, ...], wrt: tuple[int, ...]) -> list[torch.Tensor]:
    """[loss value, gradient w.r.t. inputs[k] for k in wrt] (the value summed over a batch)."""
    inputs = tuple(t.detach().clone().requires_grad_(k in wrt) for k, t in enumerate(inputs))
    value = loss(*inputs)
    grads = torch.autograd.grad(value.sum(), [inputs[k] for k in wrt])
    return [value.detach(), *grads]


def compare(online: list, tensorized: list, rtol_value: float, rtol_grad: float, names: list[str]) -> None:
    assert_close(online[0], tensorized[0], rtol_value, "value")
    for k, name in enumerate(names, start=1):
        assert_close(online[k], tensorized[k], rtol_grad, f"gradient w.r.t. {name}")


# (value, gradient) tolerances of online against tensorized. kir subtracts before squaring, the
# tensorized backend expands |x - y|^2 as |x|^2 - 2<x, y> + |y|^2: the costs differ by rounding,
# of order eps_machine * |x|^2 / blur^p, that the annealing carries into the potentials. Measured on
# Sinkhorn: values within 2e-7 (float32) and 2e-9 (float64), gradients within 3e-5 and 1e-7.
RTOL = {torch.float32: (1e-4, 1e-3), torch.float64: (1e-8, 1e-6)}


# ----------------------------------------------------------------------------------------------
# GeomLoss, backend="online": kir's Genred (batch size 1) and batched LazyTensors (batch size > 1)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "options, weighted",
    [
        (dict(blur=0.05, scaling=0.5), False),
        (dict(blur=0.1, scaling=0.8, debias=False), True),
        (dict(blur=0.02, scaling=0.7), True),
        (dict(blur=0.05, scaling=0.6, reach=0.5), True),  # unbalanced OT
    ],
    ids=["blur0.05", "blur0.1-raw", "blur0.02-weighted", "unbalanced"],
)
def test_sinkhorn_p2_online_matches_tensorized(geomloss, kir_calls, dtype, options, weighted):
    a, x, b, y = point_clouds(dtype)
    results = {}
    for backend in ("tensorized", "online"):
        loss = geomloss.SamplesLoss("sinkhorn", p=2, backend=backend, **options)
        if weighted:
            results[backend] = loss_and_grads(loss, (a, x, b, y), wrt=(0, 1))
        else:
            results[backend] = loss_and_grads(loss, (x, y), wrt=(0,))
        if backend == "tensorized":
            assert not kir_calls
    # One softmin per annealing step and pair of clouds, each a Genred logsumexp on kir.
    assert len(kir_calls) >= 8 and not any(c.ranged or c.batched for c in kir_calls)
    compare(results["online"], results["tensorized"], *RTOL[dtype], ["a", "x"] if weighted else ["x"])


def exact_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|x_i - y_j| with exact zeros (and zero gradient) at coincident points, as KeOps' Sqrt has."""
    squares = ((x[:, :, None, :] - y[:, None, :, :]) ** 2).sum(-1)
    positive = squares > 0
    return torch.where(
        positive, squares.clamp_min(torch.finfo(x.dtype).tiny).sqrt(), torch.zeros_like(squares)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_sinkhorn_p1_online_matches_tensorized(geomloss, kir_calls, dtype):
    a, x, b, y = point_clouds(dtype, seed=1)
    online = loss_and_grads(
        geomloss.SamplesLoss("sinkhorn", p=1, blur=0.1, backend="online"), (a, x, b, y), (0, 1)
    )
    assert len(kir_calls) >= 8
    # GeomLoss' tensorized p=1 cost is sqrt(max(|x-y|^2, 1e-8)): the N + M self-pairs of the
    # debiasing terms cost 1e-4 instead of 0, which moves the divergence by a fraction of that
    # (2e-4 relative here). With the same cost written without the clamp, the backends agree closely.
    exact = geomloss.SamplesLoss("sinkhorn", p=1, blur=0.1, backend="tensorized", cost=exact_distances)
    compare(online, loss_and_grads(exact, (a, x, b, y), (0, 1)), *RTOL[dtype], ["a", "x"])
    clamped = loss_and_grads(
        geomloss.SamplesLoss("sinkhorn", p=1, blur=0.1, backend="tensorized"), (a, x, b, y), (0, 1)
    )
    compare(online, clamped, 1e-3, 1e-2, ["a", "x"])


def undo_self_pair_clamp(tensorized: list, name: str, a: torch.Tensor, b: torch.Tensor) -> None:
    """Moves GeomLoss' tensorized kernel loss [value, d/da, d/dx] to what exact distances give.

    The tensorized backend computes |x_i - x_i| as sqrt(1e-8) = 1e-4 (in units of blur for the
    laplacian kernel), so the diagonals of K_xx and K_yy hold k(1e-4) instead of k(0). The loss
    holds them with weights a_i^2 / 2 and b_j^2 / 2, its gradient in a with a_i; not its gradient
    in x, which the clamp zeroes there as KeOps' Sqrt' at 0 does. No other pair is that close here.
    In float32 the expansion |x|^2 - 2<x, x> + |x|^2 rounds to more than 1e-8, so the self-distances
    are ~1e-3 and this correction only approximate (the laplacian then agrees to 3e-5, not 1e-7).
    """
    gap = {"gaussian": 0.0, "laplacian": 1.0 - np.exp(-1e-4), "energy": 1e-4}[name]  # k(0) - k(1e-4)
    tensorized[0] += 0.5 * gap * ((a**2).sum(-1) + (b**2).sum(-1))
    tensorized[1] += gap * a


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name, blur", [("gaussian", 0.3), ("laplacian", 0.3), ("energy", 0.05)])
def test_kernel_losses_online_match_tensorized(geomloss, kir_calls, dtype, name, blur):
    a, x, b, y = point_clouds(dtype, seed=2)
    results = {
        backend: loss_and_grads(geomloss.SamplesLoss(name, blur=blur, backend=backend), (a, x, b, y), (0, 1))
        for backend in ("tensorized", "online")
    }
    assert len(kir_calls) == 3  # K_xx @ a, K_yy @ b, K_xy @ b (LazyTensor matrix products)
    undo_self_pair_clamp(results["tensorized"], name, a, b)
    compare(results["online"], results["tensorized"], *RTOL[dtype], ["a", "x"])


@pytest.mark.parametrize("loss, options", [("sinkhorn", dict(p=2, blur=0.05)), ("gaussian", dict(blur=0.3))])
def test_batched_online_matches_tensorized(geomloss, kir_calls, loss, options):
    a, x, b, y = point_clouds(torch.float64, batch=(3,), seed=3)
    results = {
        backend: loss_and_grads(geomloss.SamplesLoss(loss, backend=backend, **options), (a, x, b, y), (0, 1))
        for backend in ("tensorized", "online")
    }
    # (B, N, 1, D) LazyTensors: kir loops over the batch dimension.
    assert kir_calls and all(c.batched for c in kir_calls)
    assert results["online"][0].shape == (3,)
    compare(results["online"], results["tensorized"], *RTOL[torch.float64], ["a", "x"])


@pytest.mark.parametrize("loss", ["sinkhorn", "gaussian"])  # gaussian: K_xy.t() @ a, a transposed LazyTensor
def test_potentials_online_match_tensorized(geomloss, kir_calls, loss):
    a, x, b, y = point_clouds(torch.float64, seed=4)
    potentials = {
        backend: geomloss.SamplesLoss(loss, blur=0.05, potentials=True, backend=backend)(a, x, b, y)
        for backend in ("tensorized", "online")
    }
    assert kir_calls
    for k, name in enumerate(["F", "G"]):
        assert_close(potentials["online"][k], potentials["tensorized"][k], 1e-8, f"potential {name}")


# ----------------------------------------------------------------------------------------------
# GeomLoss, backend="multiscale": grid_cluster, sort_clusters, from_matrix and ranges= on kir
# ----------------------------------------------------------------------------------------------


def blocks(ranges: list[np.ndarray], axis: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first row, end row, reduced indices) of each block of pykeops' 6-tuple `ranges`."""
    row_blocks, slices, intervals = ranges[:3] if axis == 1 else ranges[3:]
    start = 0
    for (lo, hi), end in zip(row_blocks.tolist(), slices.tolist(), strict=True):
        listed = [np.arange(s, e) for s, e in intervals[start:end].tolist()]
        yield lo, hi, np.concatenate(listed) if listed else np.zeros(0, dtype=np.int64)
        start = end


BLOCK_RTOL = {torch.float32: 2e-6, torch.float64: 1e-13}
"""kir's reductions against the float64 reference evaluator (measured: 1.4e-7 and 4e-16)."""


def check_block_sparse(calls: list[Call], dtype: torch.dtype, dropped_shows: bool = True) -> None:
    """Each ranged reduction equals the reference evaluation of its kept blocks. With
    `dropped_shows`, the dropped blocks also move the dense reduction by 10x the tolerance, so
    that a kir ignoring `ranges` would fail here. At most 8 calls are checked: they differ in data."""
    rtol = BLOCK_RTOL[dtype]
    effect = 10 * rtol if dropped_shows else 0.0
    ranged = [c for c in calls if c.ranged]
    assert ranged, "no block-sparse reduction ran"
    dropped_weight, kept_fraction = 0.0, 1.0
    for call in ranged[:: -(-len(ranged) // 8)]:
        kernel, arrays = call.kernel, call.arrays
        sides = ("i", "j") if kernel.axis == 1 else ("j", "i")
        sizes = {spec.category: len(a) for a, spec in zip(arrays, kernel.args, strict=True)}
        module = kernel.module("float64")
        expected = np.full(call.result.shape, np.nan)
        kept = 0
        for lo, hi, reduced in blocks(call.ranges, kernel.axis):
            if hi == lo:
                continue
            assert reduced.size, "a block with no reduced index (GeomLoss always keeps the diagonal)"
            sub = [
                a if spec.category == "p" else a[lo:hi] if spec.category == sides[0] else a[reduced]
                for a, spec in zip(arrays, kernel.args, strict=True)
            ]
            expected[lo:hi] = evaluate(module, sub)[0]
            kept += (hi - lo) * reduced.size
        assert not np.isnan(expected).any(), "some output rows are in no block"
        assert_close(call.result, expected, rtol, "block-sparse reduction")
        dense = evaluate(module, arrays)[0]
        dropped_weight = max(dropped_weight, np.abs(dense - expected).max() / np.abs(expected).max())
        kept_fraction = min(kept_fraction, kept / (sizes["i"] * sizes["j"]))
    assert kept_fraction < 1.0 and dropped_weight >= effect, (
        f"the ranges dropped nothing that matters: kept {kept_fraction:.0%} of the pairs, "
        f"moving the reductions by {dropped_weight:.3g}"
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_sinkhorn_multiscale(geomloss, kir_calls, dtype):
    a, x, b, y = point_clouds(dtype, seed=5)
    options = dict(p=2, blur=0.05, scaling=0.9, cluster_scale=0.25)

    def run(backend: str, **more: Any) -> list[torch.Tensor]:
        return loss_and_grads(
            geomloss.SamplesLoss("sinkhorn", backend=backend, **options, **more), (a, x, b, y), (0, 1)
        )

    truncated = run("multiscale", truncate=5)
    check_block_sparse(kir_calls, dtype)
    # truncate=None: the same coarse-to-fine annealing, dense reductions at the fine scale. Blocks
    # are dropped only where the transport plan is below exp(-5) of its diagonal, which moves
    # the divergence by a small fraction of that.
    kir_calls.clear()
    untruncated = run("multiscale", truncate=None)
    assert kir_calls and not any(c.ranged for c in kir_calls)
    compare(truncated, untruncated, 1e-4, 1e-3, ["a", "x"])
    # Against tensorized, the annealing itself differs: the first scales iterate on the cluster
    # centroids, the fine potentials start from their extrapolation. At scaling=0.9 the fine
    # iterations nearly converge, and the divergences agree to a few 1e-4.
    tensorized = run("tensorized")
    compare(truncated, tensorized, 1e-3, 5e-2, ["a", "x"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_kernel_losses_multiscale(geomloss, kir_calls, dtype, name):
    a, x, b, y = point_clouds(dtype, seed=6)
    blur = 0.1
    results = {
        backend: loss_and_grads(geomloss.SamplesLoss(name, blur=blur, backend=backend), (a, x, b, y), (0, 1))
        for backend in ("tensorized", "multiscale")
    }
    # The multiscale kernels drop cluster pairs more than truncate=5 blurs apart (plus a cell's
    # diameter): laplacian terms below exp(-5) of the diagonal, which shows in the reductions;
    # gaussian ones below exp(-12.5), 3e-9 of them: visible in float64 only.
    check_block_sparse(kir_calls, dtype, dropped_shows=name == "laplacian" or dtype == torch.float64)
    undo_self_pair_clamp(results["tensorized"], name, a, b)
    rtol = {"gaussian": 1e-4, "laplacian": 1e-2}[name]
    compare(results["multiscale"], results["tensorized"], rtol, 10 * rtol, ["a", "x"])


# ----------------------------------------------------------------------------------------------
# GPyTorch: gpytorch.kernels.keops (LazyTensor covariance functions behind KernelLinearOperator)
# ----------------------------------------------------------------------------------------------


def keops_on(gpytorch: types.ModuleType) -> Any:
    """GPyTorch runs its KeOps kernels through pykeops only when both sides have at least
    max_cholesky_size points (800 by default), and computes with torch below that. 100 keeps our
    300 points on kir, while the one-point batches GPyTorch makes for a kernel's diagonal stay
    dense (with 0 they would reach linear_operator's to_dense as LazyTensors, which fails with
    the real pykeops as well)."""
    return gpytorch.settings.max_cholesky_size(100)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "kind, options",
    [("RBFKernel", {}), ("RBFKernel", dict(ard_num_dims=D)), ("MaternKernel", dict(nu=2.5))],
    ids=["rbf", "rbf-ard", "matern2.5"],
)
def test_gpytorch_keops_kernel_matches_torch(gpytorch, kir_calls, dtype, kind, options):
    gen = torch.Generator().manual_seed(7)
    x1 = torch.randn(N, D, generator=gen, dtype=dtype)
    x2 = torch.randn(M, D, generator=gen, dtype=dtype)
    v = torch.randn(M, 2, generator=gen, dtype=dtype)
    results = {}
    for name, module in (("keops", gpytorch.kernels.keops), ("torch", gpytorch.kernels)):
        kernel = getattr(module, kind)(**options).to(dtype)
        kernel.lengthscale = torch.linspace(0.6, 1.2, kernel.lengthscale.numel(), dtype=dtype)
        inputs = [t.clone().requires_grad_() for t in (x1, v)]
        with keops_on(gpytorch):
            product = kernel(inputs[0], x2) @ inputs[1]
            dense = kernel(inputs[0], x2).to_dense()
        value = (product**2).sum() + (dense * torch.cos(dense)).sum()
        grads = torch.autograd.grad(value, [kernel.raw_lengthscale, *inputs])
        results[name] = [product.detach(), dense.detach(), *grads]
        if name == "keops":
            assert kir_calls, "GPyTorch's KeOps kernel did not reach kir"
            kir_calls.clear()
    assert not kir_calls, "GPyTorch's plain kernel ran on kir"
    rtol = {torch.float32: 1e-4, torch.float64: 1e-10}[dtype]
    for k, what in enumerate(["K @ v", "to_dense()", "d/d raw_lengthscale", "d/d x1", "d/d v"]):
        assert_close(results["keops"][k], results["torch"][k], rtol, what)


def test_gpytorch_keops_batched_kernel(gpytorch, kir_calls):
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(2, N, D, generator=gen, dtype=torch.float64)
    v = torch.randn(2, N, 1, generator=gen, dtype=torch.float64)
    results = {}
    for name, module in (("keops", gpytorch.kernels.keops), ("torch", gpytorch.kernels)):
        kernel = module.RBFKernel(batch_shape=torch.Size([2])).double()
        kernel.lengthscale = torch.tensor([[[0.7]], [[1.3]]], dtype=torch.float64)
        with keops_on(gpytorch):
            product = kernel(x) @ v
        (grad,) = torch.autograd.grad((product**2).sum(), [kernel.raw_lengthscale])
        results[name] = [product.detach(), grad]
    assert kir_calls and all(c.batched for c in kir_calls)
    assert_close(results["keops"][0], results["torch"][0], 1e-10, "K @ v")
    assert_close(results["keops"][1], results["torch"][1], 1e-10, "d/d raw_lengthscale")


def test_gpytorch_exact_gp_with_keops_rbf(gpytorch, kir_calls):
    """An exact GP's marginal log likelihood, its hyperparameter gradients and its predictions.

    fast_computations off: GPyTorch then solves and takes log-determinants with Cholesky on the
    (KeOps) covariance evaluated through K @ I, instead of conjugate gradients and stochastic
    Lanczos, whose outputs move by 1e-5 under a 1e-15 perturbation of the matrix.
    """
    gen = torch.Generator().manual_seed(9)
    x = torch.rand(N, 2, generator=gen, dtype=torch.float64)
    y = torch.sin(6 * x[:, 0]) + 0.1 * torch.randn(N, generator=gen, dtype=torch.float64)
    test_x = torch.rand(120, 2, generator=gen, dtype=torch.float64)  # >= 100: on kir too

    class ExactGP(gpytorch.models.ExactGP):
        def __init__(self, kernel: Any):
            super().__init__(x, y, gpytorch.likelihoods.GaussianLikelihood())
            self.mean = gpytorch.means.ConstantMean()
            self.covariance = gpytorch.kernels.ScaleKernel(kernel)

        def forward(self, z: torch.Tensor) -> Any:
            return gpytorch.distributions.MultivariateNormal(self.mean(z), self.covariance(z))

    results, counts = {}, {}
    for name, module in (("keops", gpytorch.kernels.keops), ("torch", gpytorch.kernels)):
        model = ExactGP(module.RBFKernel()).double()
        model.covariance.base_kernel.lengthscale = 0.3
        model.likelihood.noise = 0.1
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
        exact = gpytorch.settings.fast_computations(
            covar_root_decomposition=False, log_prob=False, solves=False
        )
        kir_calls.clear()
        with keops_on(gpytorch), exact:
            model.train()
            value = mll(model(x), y)
            names, parameters = zip(*sorted(model.named_parameters()), strict=True)
            grads = torch.autograd.grad(value, parameters)
            training = len(kir_calls)
            model.eval()
            with torch.no_grad():
                mean = model(test_x).mean
        results[name] = [value.detach(), *grads, mean]
        counts[name] = (training, len(kir_calls) - training)
    # On kir: K(x, x) and its backward for the likelihood; K(x, x) and K(test_x, x) for predictions.
    assert min(counts["keops"]) >= 1 and counts["torch"] == (0, 0), counts
    for got, expected, what in zip(
        results["keops"], results["torch"], ["mll", *(f"d/d {n}" for n in names), "mean"], strict=True
    ):
        assert_close(got, expected, 1e-9, what)
