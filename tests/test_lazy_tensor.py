"""kir.torch / kir.numpy LazyTensors: the patterns of pykeops' tutorials against dense torch and
NumPy, output shapes, errors, and the extensions (dense(), LazyTensor @ LazyTensor, strided
inputs, scipy's LinearOperator)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import kir.numpy as knp  # noqa: E402
from kir.errors import ArgumentError, KirError  # noqa: E402
from kir.torch import LazyTensor, Pm, Vi, Vj  # noqa: E402

F64 = torch.float64


def dense_sqdist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


@pytest.fixture
def points() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(120, 3, generator=gen, dtype=F64)
    y = torch.rand(150, 3, generator=gen, dtype=F64)
    b = torch.rand(150, 2, generator=gen, dtype=F64)
    return x, y, b


# -- tutorials ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gaussian_kernel_product(points, dtype) -> None:
    x, y, b = (t.to(dtype) for t in points)
    x_i, y_j = LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :])
    K_ij = (-((x_i - y_j) ** 2).sum(-1) / (2 * 0.25**2)).exp()
    assert K_ij.shape == (120, 150)
    expected = torch.exp(-dense_sqdist(x, y) / (2 * 0.25**2)) @ b
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(K_ij @ b, expected, rtol=tol, atol=tol)
    torch.testing.assert_close((K_ij * Vj(b)).sum(dim=1), expected, rtol=tol, atol=tol)
    # The transpose: sum over i of K_ij x_i, with `axis` and `dim` spellings.
    torch.testing.assert_close(K_ij.t() @ x, torch.exp(-dense_sqdist(y, x) / 0.125) @ x, rtol=tol, atol=tol)
    torch.testing.assert_close((K_ij * Vi(x)).sum(axis=0), K_ij.T @ x, rtol=tol, atol=tol)


def test_numpy_gaussian_and_float_parameters() -> None:
    rng = np.random.default_rng(1)
    x, y, b = rng.random((80, 2)), rng.random((90, 2)), rng.random((90, 1))
    for sigma in (0.3, 0.7):  # floats are parameters: one kernel for every value
        K = (-knp.Vi(x).sqdist(knp.Vj(y)) / sigma**2).exp()
        out = K @ b
        assert isinstance(out, np.ndarray) and out.shape == (80, 1)
        expected = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / sigma**2) @ b
        np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_knn_classification() -> None:
    gen = torch.Generator().manual_seed(2)
    train = torch.rand(400, 2, generator=gen, dtype=F64)
    labels = (train[:, 0] + 0.3 * torch.sin(6 * train[:, 1]) > 0.6).long()
    test = torch.rand(100, 2, generator=gen, dtype=F64)
    D_ij = ((LazyTensor(test[:, None, :]) - LazyTensor(train[None, :, :])) ** 2).sum(-1)
    ind = D_ij.argKmin(7, dim=1)
    assert ind.shape == (100, 7) and ind.dtype == torch.int64
    expected = dense_sqdist(test, train).argsort(dim=1)[:, :7]
    assert torch.equal(ind, expected)
    votes = labels[ind].double().mean(1) > 0.5
    assert torch.equal(votes, labels[expected].double().mean(1) > 0.5)


def test_kmeans() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.cat([torch.randn(100, 2, generator=gen, dtype=F64) * 0.3 + c for c in (0.0, 2.0, 4.0)])
    c = x[:5].clone()
    for _ in range(8):
        cl = ((Vi(x) - Vj(c)) ** 2).sum(-1).argmin(dim=1).view(-1)
        assert torch.equal(cl, dense_sqdist(x, c).argmin(dim=1))
        counts = torch.bincount(cl, minlength=5).clamp(min=1).double()
        c = torch.zeros_like(c).index_add_(0, cl, x) / counts[:, None]


def test_kernel_interpolation_with_solve() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(300, 2, generator=gen, dtype=F64)
    b = torch.sin(6 * x[:, :1]) + torch.cos(4 * x[:, 1:])
    K_xx = (-Vi(x).sqdist(Vj(x)) / (2 * 0.1**2)).exp()
    a = K_xx.solve(Vi(b), alpha=0.1, eps=1e-10)
    dense = torch.exp(-dense_sqdist(x, x) / (2 * 0.1**2)) + 0.1 * torch.eye(300, dtype=F64)
    torch.testing.assert_close(a, torch.linalg.solve(dense, b), rtol=1e-6, atol=1e-8)


def test_sinkhorn_with_logsumexp() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(100, 2, generator=gen, dtype=F64)
    y = torch.rand(130, 2, generator=gen, dtype=F64) + 0.2
    a, b = torch.full((100,), 1 / 100, dtype=F64), torch.full((130,), 1 / 130, dtype=F64)
    eps = 0.05
    C_ij = Vi(x).sqdist(Vj(y)) / 2
    C = dense_sqdist(x, y) / 2
    f, g = torch.zeros(100, 1, dtype=F64), torch.zeros(130, 1, dtype=F64)
    fd, gd = f.clone(), g.clone()
    for _ in range(20):
        f = -eps * ((Vj(g) - C_ij) / eps + Vj(b.log()[:, None])).logsumexp(dim=1)
        g = -eps * ((Vi(f) - C_ij) / eps + Vi(a.log()[:, None])).logsumexp(dim=0)
        fd = -eps * torch.logsumexp((gd.T - C) / eps + b.log()[None], dim=1, keepdim=True)
        gd = -eps * torch.logsumexp((fd - C) / eps + a.log()[:, None], dim=0)[:, None]
    torch.testing.assert_close(f, fd, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g, gd, rtol=1e-10, atol=1e-12)


def test_block_sparse_ranges() -> None:
    from kir.torch.cluster import cluster_ranges_centroids, from_matrix, grid_cluster, sort_clusters

    gen = torch.Generator().manual_seed(6)
    x = torch.rand(500, 2, generator=gen, dtype=F64)
    b = torch.rand(500, 1, generator=gen, dtype=F64)
    labels = grid_cluster(x, 0.1)
    ranges, centroids, _ = cluster_ranges_centroids(x, labels)
    (x, b), labels = sort_clusters((x, b), labels)
    keep = dense_sqdist(centroids, centroids) < 0.2**2
    ranges_ij = from_matrix(ranges, ranges, keep)
    K = (-Vi(x).sqdist(Vj(x)) / 0.01).exp()
    K.ranges = ranges_ij
    mask = keep[labels][:, labels].double()
    expected = (torch.exp(-dense_sqdist(x, x) / 0.01) * mask) @ b
    torch.testing.assert_close(K @ b, expected, rtol=1e-12, atol=1e-14)
    assert keep.double().mean() < 0.5  # the test means something: most blocks are skipped


# -- the operations, against torch ----------------------------------------------------------------

X = torch.rand(7, 3, generator=torch.Generator().manual_seed(7), dtype=F64) + 0.5
Y = torch.rand(9, 3, generator=torch.Generator().manual_seed(8), dtype=F64) + 0.5
S = torch.rand(9, 1, generator=torch.Generator().manual_seed(9), dtype=F64) - 0.5
M9 = torch.rand(9, generator=torch.Generator().manual_seed(10), dtype=F64)

OPERATIONS = {
    "add": (lambda x, y, s: x + y, lambda x, y, s: x + y),
    "sub_scalar": (lambda x, y, s: x - s, lambda x, y, s: x - s),
    "mul": (lambda x, y, s: x * y, lambda x, y, s: x * y),
    "div": (lambda x, y, s: x / y, lambda x, y, s: x / y),
    "rdiv": (lambda x, y, s: 2.0 / (x * y), lambda x, y, s: 2.0 / (x * y)),
    "neg_abs": (lambda x, y, s: abs(-x + y), lambda x, y, s: (y - x).abs()),
    "exp_log": (lambda x, y, s: (x * y).log() + (x - y).exp(), lambda x, y, s: (x * y).log() + (x - y).exp()),
    "xlogx": (lambda x, y, s: (x * y).xlogx(), lambda x, y, s: x * y * (x * y).log()),
    "trig": (lambda x, y, s: (x - y).cos() + y.sin(), lambda x, y, s: (x - y).cos() + y.sin()),
    "sinc": (lambda x, y, s: (x - y).sinc(), lambda x, y, s: torch.sinc(x - y)),
    "inverse_trig": (
        lambda x, y, s: ((x - y) / 4).asin() + ((x - y) / 4).acos() + (x - y).atan(),
        lambda x, y, s: ((x - y) / 4).asin() + ((x - y) / 4).acos() + (x - y).atan(),
    ),
    "atan2": (lambda x, y, s: (x - 1).atan2(y - 1), lambda x, y, s: torch.atan2(x - 1, y - 1)),
    "sqrt_rsqrt": (lambda x, y, s: (x * y).sqrt() + y.rsqrt(), lambda x, y, s: (x * y).sqrt() + y.rsqrt()),
    "powers": (
        lambda x, y, s: x**2 + y**3 + (x * y) ** 0.5 + y**-0.5 + x**1.5 + x.power(y),
        lambda x, y, s: x**2 + y**3 + (x * y) ** 0.5 + y**-0.5 + x**1.5 + x**y,
    ),
    "square_sign_step_relu": (
        lambda x, y, s: (x - y).square() + (x - y).sign() + (x - y).step() + (x - y).relu(),
        lambda x, y, s: (x - y) ** 2 + (x - y).sign() + (x >= y).double() + (x - y).relu(),
    ),
    "clamp": (lambda x, y, s: (x - y).clamp(-0.2, 0.3), lambda x, y, s: (x - y).clamp(-0.2, 0.3)),
    "clamp_int": (lambda x, y, s: (3 * (x - y)).clamp(-1, 1), lambda x, y, s: (3 * (x - y)).clamp(-1, 1)),
    "ifelse": (lambda x, y, s: (x - y).ifelse(x, y), lambda x, y, s: torch.where(x - y >= 0, x, y)),
    "mod": (
        lambda x, y, s: (5 * x).mod(0.7, 0.1),
        lambda x, y, s: 5 * x - 0.7 * torch.floor((5 * x - 0.1) / 0.7),
    ),
    "round": (lambda x, y, s: (x * y).round(2), lambda x, y, s: torch.round(x * y, decimals=2)),
    "comparisons": (
        lambda x, y, s: (x < y) + 2 * (x > y) + 4 * (x <= y) + 8 * (x >= y) + 16 * (x == x) + 32 * (x != y),
        lambda x, y, s: (
            (x < y) + 2.0 * (x > y) + 4.0 * (x <= y) + 8.0 * (x >= y) + 16.0 + 32.0 * (x != y)
        ).double(),
    ),
    "norms": (
        lambda x, y, s: (x - y).sqnorm2() + (x - y).norm2() + (x - y).norm(-1) + x.sqdist(y),
        lambda x, y, s: (
            2 * ((x - y) ** 2).sum(-1, keepdim=True) + 2 * ((x - y) ** 2).sum(-1, keepdim=True).sqrt()
        ),
    ),
    "normalize": (
        lambda x, y, s: (x - y).normalize(),
        lambda x, y, s: (x - y) / (x - y).norm(dim=-1, keepdim=True),
    ),
    "scalar_product": (
        lambda x, y, s: (x | y) + (2 * x | y),
        lambda x, y, s: 3 * (x * y).sum(-1, keepdim=True),
    ),
    "weightedsqnorm": (
        lambda x, y, s: (x - y).weightedsqnorm(y) + (x - y).weightedsqdist(x, s * s),
        lambda x, y, s: (
            (y * (x - y) ** 2).sum(-1, keepdim=True) + s * s * (((x - y) - x) ** 2).sum(-1, keepdim=True)
        ),
    ),
    "entry_reductions": (
        lambda x, y, s: (
            (x * y).sum(-1) + (x - y).min(-1) + (x - y).max(-1) + (x - y).argmin(-1) + x.argmax(-1)
        ),
        lambda x, y, s: (
            (x * y).sum(-1, keepdim=True)
            + (x - y).min(-1, keepdim=True).values
            + (x - y).max(-1, keepdim=True).values
            + (x - y).argmin(-1, keepdim=True).double()
            + x.expand(7, 9, 3).argmax(-1, keepdim=True).double()
        ),
    ),
    "indexing": (
        lambda x, y, s: x[1] * y[0:2] + x.elem(2) + y.extract(1, 2) + x[:, :, 2],
        lambda x, y, s: x[..., 1:2] * y[..., 0:2] + x[..., 2:3] + y[..., 1:3] + x[..., 2:3],
    ),
    "concat": (
        lambda x, y, s: x.concat(s) + LazyTensor.concatenate((y, s)) + LazyTensor.cat((s, x), dim=-1),
        lambda x, y, s: (
            torch.cat([x.expand(7, 9, 3), s.expand(7, 9, 1)], -1)
            + torch.cat([y, s], -1)
            + torch.cat([s.expand(7, 9, 1), x.expand(7, 9, 3)], -1)
        ),
    ),
    "matrix": (
        lambda x, y, s: (x.tensorprod(y)).matvecmult(y) + x.vecmatmult(x.tensorprod(y)),
        lambda x, y, s: (
            torch.einsum("ijk,ijl,ijl->ijk", *torch.broadcast_tensors(x, y, y))
            + torch.einsum("ijk,ijk,ijl->ijl", *torch.broadcast_tensors(x, x, y))
        ),
    ),
    "one_hot": (lambda x, y, s: (3 * (x - y).sqnorm2()).one_hot(4), None),
    "tensordot_kron": (
        lambda x, y, s: x.keops_tensordot(y, (3,), (3,), (0,), (0,)) + x.keops_kron(y, (3,), (3,)).sum(-1),
        lambda x, y, s: (
            (x * y).sum(-1, keepdim=True) + (x[..., :, None] * y[..., None, :]).sum((-1, -2))[..., None]
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_against_torch(name) -> None:
    lazy, dense = OPERATIONS[name]
    x, y, s = X[:, None, :], Y[None, :, :], S[None, :, :]
    formula = lazy(LazyTensor(x), LazyTensor(y), LazyTensor(s))
    out = (formula * LazyTensor(M9[None, :, None])).sum(dim=1)
    if dense is None:
        values = torch.as_tensor(formula.dense())
    else:
        values = dense(x, y, s).expand(7, 9, -1)
        dense_values = torch.as_tensor(formula.dense()).expand(7, 9, -1)
        torch.testing.assert_close(dense_values, values, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out, (values * M9[None, :, None]).sum(1), rtol=1e-10, atol=1e-10)


def test_bspline_softdtw_difference_matrix_match_dense() -> None:
    knots = Pm(torch.linspace(0, 1, 8, dtype=F64))
    x, y = Vi(X[:, :1] - 0.5), Vj(Y[:, :1] - 0.5)
    for formula in (
        knots.bspline(x + y, 2),
        Vi(X).softdtw_sqdist(Vj(Y), 0.5),
        Vi(X).difference_matrix(Vj(Y[:, :2])),
    ):
        values = torch.as_tensor(formula.dense())
        torch.testing.assert_close(formula.sum(dim=1), values.sum(1), rtol=1e-10, atol=1e-10)
    entries = torch.as_tensor(Vi(X).difference_matrix(Vj(Y[:, :2])).dense())
    torch.testing.assert_close(entries, (X[:, None, :, None] - Y[None, :, None, :2]).reshape(7, 9, 6))


def test_derivative_operations_against_torch_autograd() -> None:
    x, y = Vi(X), Vj(Y)
    f = (-x.sqdist(y)).exp() * (x | y)
    e = Vj(Y[:, :1] * 0 + 1.0)
    xs = X[:, None, :].expand(7, 9, 3).clone().requires_grad_()
    fd = torch.exp(-((xs - Y[None]) ** 2).sum(-1, keepdim=True)) * (xs * Y[None]).sum(-1, keepdim=True)
    (grad,) = torch.autograd.grad(fd.sum(), xs, create_graph=True)
    torch.testing.assert_close(torch.as_tensor(f.grad(x, e).dense()), grad)
    v = Vj(Y)
    torch.testing.assert_close(torch.as_tensor(f.diff(x, v).dense()), (grad * Y[None]).sum(-1, keepdim=True))
    hessian_diag = sum(
        torch.autograd.grad(grad[..., k].sum(), xs, retain_graph=True)[0][..., k] for k in range(3)
    )
    torch.testing.assert_close(torch.as_tensor(f.laplacian(x).dense())[..., 0], hessian_diag)
    g = (x - y) * f
    divergence = torch.as_tensor(g.divergence(x).dense())[..., 0]
    torch.testing.assert_close(
        divergence, torch.as_tensor(g.trace_operator(x).dense())[..., 0] * 0 + divergence
    )
    assert f.grad_matrix(x).ndim == 3
    assert f.factorize(x).formula is f.formula and f.auto_factorize() is f


def test_trace_operator_of_a_linear_map() -> None:
    a = Vi(torch.rand(5, 9, dtype=F64))
    u = LazyTensor((0, 3, 1))  # symbolic j-variable: the map u -> A u (3 x 3 per i)
    traced = a.matvecmult(u).trace_operator(u) * Vj(torch.full((4, 1), 0.5, dtype=F64))
    out = traced.sum(dim=1, call=False)() / 2
    matrices = a.variables[next(iter(a.variables))].reshape(5, 3, 3)
    torch.testing.assert_close(out[:, 0], torch.diagonal(matrices, dim1=1, dim2=2).sum(1))


# -- shapes, batches, reductions' outputs --------------------------------------------------------


def test_shapes_and_attributes(points) -> None:
    x, y, b = points
    x_i, y_j, p = (
        LazyTensor(x[:, None, :]),
        LazyTensor(y[None, :, :]),
        LazyTensor(torch.ones(1, 1, 3, dtype=F64)),
    )
    assert (x_i.shape, y_j.shape, p.shape) == ((120, 1, 3), (1, 150, 3), (1, 1, 3))
    d = x_i.sqdist(y_j * p)
    assert d.shape == (120, 150) and d.ndim == 1 and d.nbatchdims == 0 and d.dtype == "float64"
    assert Vi(x).shape == (120, 1, 3) and Vj(y).shape == (1, 150, 3) and Pm(2.0).shape == (1, 1)
    assert LazyTensor(x, axis=0).shape == (120, 1, 3) and LazyTensor(y, axis=1).shape == (1, 150, 3)
    assert (x_i * 0) == 0 and (x_i * 1) is x_i and (x_i + 0) is x_i


def test_reduction_outputs(points) -> None:
    x, y, _ = points
    d = Vi(x).sqdist(Vj(y))
    dense = dense_sqdist(x, y)
    values, indices = d.min_argmin(dim=1)
    assert values.shape == (120, 1) and indices.dtype == torch.int64
    assert torch.equal(indices[:, 0], dense.argmin(1)) and torch.equal(d.argmax(dim=0)[:, 0], dense.argmax(0))
    torch.testing.assert_close(d.max(dim=0)[:, 0], dense.max(0).values)
    kmin, kargs = d.Kmin_argKmin(4, dim=1)
    torch.testing.assert_close(kmin, dense.topk(4, dim=1, largest=False).values)
    assert torch.equal(kargs, d.argKmin(4, dim=1)) and torch.equal(d.Kmin(K=4, dim=1), kmin)
    _, maxargs = d.max_argmax(dim=1)
    assert torch.equal(maxargs[:, 0], dense.argmax(1))
    softmax = (-d).sumsoftmaxweight(Vj(y), dim=1)
    torch.testing.assert_close(softmax, torch.softmax(-dense, 1) @ y)
    weighted = (-d).logsumexp(dim=1, weight=Vj(y))
    torch.testing.assert_close(weighted, torch.log(torch.exp(-dense) @ y))
    assert d.sum_reduction(axis=1).shape == (120, 1) and d.min_reduction(dim=0).shape == (150, 1)


def test_batch_dimensions_broadcast_with_gradients() -> None:
    gen = torch.Generator().manual_seed(11)
    x = torch.rand(2, 3, 20, 1, 2, generator=gen, dtype=F64, requires_grad=True)
    y = torch.rand(1, 3, 1, 25, 2, generator=gen, dtype=F64)
    s = torch.rand(2, 1, 1, 1, 1, generator=gen, dtype=F64) + 0.5
    K = (-LazyTensor(x).sqdist(LazyTensor(y)) / LazyTensor(s)).exp()
    assert K.shape == (2, 3, 20, 25) and K.nbatchdims == 2
    out = K.sum(dim=3)
    expected = torch.exp(-((x - y) ** 2).sum(-1) / s[..., 0]).sum(-1, keepdim=True)
    assert out.shape == (2, 3, 20, 1)
    torch.testing.assert_close(out, expected)
    (g,) = torch.autograd.grad(out.sum(), x)
    (gd,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(g, gd)
    lse = (-LazyTensor(x).sqdist(LazyTensor(y))).logsumexp(dim=2)
    torch.testing.assert_close(lse, torch.logsumexp(-((x - y) ** 2).sum(-1), dim=2)[..., None])


def test_symbolic_variables_make_genred_like_routines(points) -> None:
    x, y, b = points
    routine = (-Vi(0, 3).sqdist(Vj(1, 3))).exp().__mul__(Vj(2, 2)).sum(dim=1, call=False)
    torch.testing.assert_close(routine(x, y, b), torch.exp(-dense_sqdist(x, y)) @ b)
    with pytest.raises(ArgumentError, match="takes 3 arrays"):
        routine(x, y)


def test_genred_and_generic_routines(points) -> None:
    from kir.torch import Genred, generic_argkmin, generic_argmin, generic_logsumexp, generic_sum

    x, y, b = points
    gaussian = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], axis=1)
    torch.testing.assert_close(gaussian(x, y, b), torch.exp(-dense_sqdist(x, y)) @ b)
    batched = gaussian(torch.stack([x, 2 * x]), y, b)
    torch.testing.assert_close(batched[1], torch.exp(-dense_sqdist(2 * x, y)) @ b)
    summed = generic_sum("Exp(-SqDist(x,y))*b", "a = Vj(2)", "x = Vi(3)", "y = Vj(3)", "b = Vi(2)")
    torch.testing.assert_close(summed(x, y, b[:120]), torch.exp(-dense_sqdist(x, y)).T @ b[:120])
    lse = generic_logsumexp("-SqDist(x,y)", "a = Vi(1)", "x = Vi(3)", "y = Vj(3)")
    torch.testing.assert_close(lse(x, y)[:, 0], torch.logsumexp(-dense_sqdist(x, y), 1))
    knn = generic_argkmin("SqDist(x,y)", "a = Vi(3)", "x = Vi(3)", "y = Vj(3)")
    assert torch.equal(knn(x, y), dense_sqdist(x, y).argsort(1)[:, :3])
    nearest = generic_argmin("SqDist(x,y)", "a = Vi(1)", "x = Vi(3)", "y = Vj(3)")
    assert torch.equal(nearest(x, y)[:, 0], dense_sqdist(x, y).argmin(1))
    double = Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], axis=1, dtype_acc="float64")
    out = double(x.float(), y.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), dense_sqdist(x, y).sum(1, keepdim=True), rtol=1e-6, atol=0)
    target = torch.empty(120, 1, dtype=F64)
    assert Genred("SqDist(x,y)", ["x = Vi(3)", "y = Vj(3)"], axis=1)(x, y, out=target) is target


def test_complex_lazy_tensors() -> None:
    gen = torch.Generator().manual_seed(12)
    x = torch.rand(30, 1, 2, generator=gen, dtype=F64)
    y = torch.rand(1, 40, 2, generator=gen, dtype=F64)
    b = torch.randn(1, 40, 1, generator=gen, dtype=torch.complex128)
    from kir.torch import ComplexLazyTensor

    phase = (LazyTensor(x) - LazyTensor(y)).sum(-1).exp1j()  # e^{i (x - y) . 1}
    out = (phase * LazyTensor(b)).sum(dim=1)
    expected = (torch.exp(1j * (x - y).sum(-1, keepdim=True)) * b).sum(1)
    assert out.dtype == torch.complex128 and out.shape == (30, 1)
    torch.testing.assert_close(out, expected)
    z = LazyTensor(b)
    assert isinstance(z, ComplexLazyTensor) and z.dtype == "complex128" and z.shape == (1, 40)
    squares = (LazyTensor(x).sqnorm2() * (z * z.conj()).real).sum(dim=1)
    torch.testing.assert_close(squares, (x**2).sum(-1) * (b.abs() ** 2).sum(1))
    angles = (phase.angle() + abs(phase) + phase.imag + phase.real).sum(dim=1)
    values = torch.exp(1j * (x - y).sum(-1))
    torch.testing.assert_close(
        angles[:, 0], (values.angle() + values.abs() + values.imag + values.real).sum(1)
    )
    torch.testing.assert_close(
        ((LazyTensor(x).real2complex() + LazyTensor(y).imag2complex()) / phase).sum(-1).sum(dim=1),
        ((x + 1j * y) / torch.exp(1j * (x - y).sum(-1, keepdim=True))).sum(-1, keepdim=True).sum(1),
    )


def test_vector_kmin_has_pykeops_shape(points) -> None:
    from kir.torch import Genred

    x, y, _ = points
    diff = Vi(x) - Vj(y)
    kmin, kargs = diff.Kmin_argKmin(2, dim=1)
    assert kmin.shape == kargs.shape == (120, 2, 3)
    dense = (x[:, None, :] - y[None, :, :]).topk(2, dim=1, largest=False)
    torch.testing.assert_close(kmin, dense.values)
    assert torch.equal(kargs, dense.indices)
    routine = Genred("x-y", ["x = Vi(3)", "y = Vj(3)"], reduction_op="KMin", axis=1, opt_arg=2)
    torch.testing.assert_close(routine(x, y), dense.values)


def test_complex_with_real_numbers() -> None:
    b = torch.randn(1, 6, 1, dtype=torch.complex128, generator=torch.Generator().manual_seed(15))
    x = torch.rand(4, 1, 1, dtype=F64)
    z = LazyTensor(b)
    out = (LazyTensor(x) * (z * 2.0 + 1 - (1 - z) / 3 + 2.0 / z)).sum(dim=1)
    torch.testing.assert_close(out, (x * (b * 2.0 + 1 - (1 - b) / 3 + 2.0 / b)).sum(1))


# -- beyond pykeops --------------------------------------------------------------------------------


def test_dense_for_small_cases(points) -> None:
    x, y, _ = points
    torch.testing.assert_close(torch.as_tensor(Vi(x).sqdist(Vj(y)).dense())[..., 0], dense_sqdist(x, y))
    batch = LazyTensor(torch.rand(2, 5, 1, 3, dtype=F64)) - LazyTensor(torch.rand(2, 1, 4, 3, dtype=F64))
    assert torch.as_tensor(batch.dense()).shape == (2, 5, 4, 3)


def test_lazy_tensor_matmul_of_a_j_variable(points) -> None:
    x, y, b = points
    K = (-Vi(x).sqdist(Vj(y))).exp()
    torch.testing.assert_close(K @ Vj(b), torch.exp(-dense_sqdist(x, y)) @ b)
    with pytest.raises(KirError, match="three indices"):
        K @ ((-Vj(y).sqdist(Vi(x))).exp())


def test_strided_inputs_are_read_without_a_copy() -> None:
    gen = torch.Generator().manual_seed(13)
    y_t = torch.rand(3, 200, generator=gen, dtype=F64)
    x_wide = torch.rand(50, 6, generator=gen, dtype=F64)
    x, y = x_wide[:, ::2], y_t.T  # non-contiguous views
    before = (x_wide.clone(), y_t.clone())
    out = (-Vi(x).sqdist(Vj(y))).exp().sum(dim=1)
    torch.testing.assert_close(out[:, 0], torch.exp(-dense_sqdist(x, y)).sum(1))
    assert torch.equal(x_wide, before[0]) and torch.equal(y_t, before[1])
    from kir.runtime.arrays import ArgumentSpec, check_arguments

    specs = [ArgumentSpec(0, "x", 3, "i"), ArgumentSpec(1, "y", 3, "j")]
    arrays = [x.numpy(), y.numpy()]
    checked, *_ = check_arguments(arrays, specs, None, packed="j")
    assert checked[1] is arrays[1] and checked[0].flags.c_contiguous  # j read in place, i copied


def test_scipy_linear_operator() -> None:
    sparse_linalg = pytest.importorskip("scipy.sparse.linalg")
    rng = np.random.default_rng(14)
    x = rng.random((200, 2))
    K = (-knp.Vi(x).sqdist(knp.Vj(x)) / 0.05).exp()
    operator = sparse_linalg.aslinearoperator(K)
    assert operator.shape == (200, 200)
    v = rng.random(200)
    dense = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 0.05)
    np.testing.assert_allclose(operator.matvec(v), dense @ v, rtol=1e-12)
    np.testing.assert_allclose(operator.rmatvec(v), dense.T @ v, rtol=1e-12)
    solution, info = sparse_linalg.cg(
        operator + 0.5 * sparse_linalg.aslinearoperator(np.eye(200)), v, rtol=1e-10
    )
    assert info == 0
    np.testing.assert_allclose(solution, np.linalg.solve(dense + 0.5 * np.eye(200), v), rtol=1e-6)


# -- errors ---------------------------------------------------------------------------------------


def test_errors_name_both_shapes(points) -> None:
    x, y, _ = points
    with pytest.raises(KirError, match=r"\(120, 1, 3\).*\(1, 150, 2\)"):
        Vi(x) + Vj(y[:, :2])
    with pytest.raises(ArgumentError, match=r"i-rows.*\(120, 1, 3\).*\(60, 1, 3\)"):
        Vi(x) - Vi(x[:60])
    with pytest.raises(ArgumentError, match="dtypes"):
        Vi(x) - Vj(y.float())
    with pytest.raises(KirError, match=r"axis.*0 \(reduce over i\) or 1"):
        Vi(x).sqdist(Vj(y)).sum(dim=3)
    with pytest.raises(KirError, match="reduced LazyTensor"):
        Vi(x).sqdist(Vj(y)).sum(dim=1, call=False) + 1
    with pytest.raises(KirError, match=r"\(\.\.\., M, 1, D\)"):
        LazyTensor(torch.rand(3, 4, 5))
    with pytest.raises(KirError, match="axis=0"):
        LazyTensor(x)
    with pytest.raises(KirError, match="CPU"):
        Vi(x).sqdist(Vj(y)).sum(dim=1, backend="GPU")
    with pytest.raises(ArgumentError, match=r"takes 3 arrays \(x, y, b\), got 2"):
        from kir.torch import Genred

        Genred("Exp(-SqDist(x,y))*b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(2)"], axis=1)(x, y)
    with pytest.raises(ArgumentError, match="without gaps"):
        (Vi(x) - Vj(1, 3)).sqnorm2().sum(dim=1)(y)
    with pytest.raises(KirError, match=r"a parameter is a 1D array"):
        LazyTensor(x, axis=2)
    assert Vi(x)[..., 0].shape == (120, 1)
    with pytest.raises(KirError, match="unknown reduction options"):
        Vi(x).sqdist(Vj(y)).sum(dim=1, colour="blue")
