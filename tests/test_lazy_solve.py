"""KernelSolve, solve_linear and conjugate_gradient against dense solves (NumPy, torch autograd)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import kir
from kir.errors import ArgumentError, KirError
from kir.frontends.lazy.solve import KernelSolve, conjugate_gradient, solve_linear

GAUSS = "Exp(-SqDist(x,y)/(2*s*s)) * b"
SCALE = 0.5


def aliases(dim: int, cols: int, axis: int) -> list[str]:
    """x, y, the solved b (on the reduced index: j for axis=1, i for axis=0) and s."""
    b = "Vj" if axis == 1 else "Vi"
    return [f"x = Vi({dim})", f"y = Vj({dim})", f"b = {b}({cols})", "s = Pm(1)"]


def dense(x: np.ndarray, scale: float) -> np.ndarray:
    """The Gaussian kernel matrix of the points x with themselves, in float64."""
    x = x.astype(np.float64)
    return np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * scale**2))


def points(rng: np.random.Generator, m: int, dim: int, dtype: str) -> np.ndarray:
    return rng.standard_normal((m, dim)).astype(dtype)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("cols", [1, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_matches_dense_solve(dtype: str, cols: int, axis: int) -> None:
    """(alpha Id + K) a = b by conjugate gradient agrees with numpy.linalg.solve on the dense matrix."""
    rng = np.random.default_rng(cols + 10 * axis)
    m, dim, alpha = 600, 3 if cols == 3 else 2, 0.1
    x, b = points(rng, m, dim, dtype), rng.standard_normal((m, cols)).astype(dtype)
    s = np.array([SCALE], dtype)
    eps = 1e-6 if dtype == "float32" else 1e-10
    a = KernelSolve(GAUSS, aliases(dim, cols, axis), "b", axis=axis)(x, x, b, s, alpha=alpha, eps=eps)
    assert a.dtype == np.dtype(dtype) and a.shape == (m, cols)
    matrix = alpha * np.eye(m) + dense(x, SCALE)
    reference = np.linalg.solve(matrix, b.astype(np.float64))
    tolerance = 2e-4 if dtype == "float32" else 1e-8
    assert np.abs(a - reference).max() <= tolerance * np.abs(reference).max()
    assert np.abs(matrix @ a - b).max() <= (1e-4 if dtype == "float32" else 1e-9)


def test_default_alpha_and_var_spelling() -> None:
    """varinvalias may be "Var(k,d,c)"; the default alpha (1e-10) solves K a = b for a well-conditioned K."""
    rng = np.random.default_rng(1)
    x = points(rng, 300, 2, "float64") * 10  # far apart: K is close to the identity
    b = rng.standard_normal((300, 1))
    formula = "Exp(-SqDist(Var(0,2,0),Var(1,2,1))) * Var(2,1,1)"
    a = KernelSolve(formula, [], "Var(2,1,1)", axis=1)(x, x, b, eps=1e-12)
    reference = np.linalg.solve(dense(x, np.sqrt(0.5)) + 1e-10 * np.eye(300), b)
    np.testing.assert_allclose(a, reference, atol=1e-9)


def test_solve_linear_on_a_built_kernel() -> None:
    """solve_linear takes a compiled Sum kernel and the position of b (the LazyTensor .solve path)."""
    rng = np.random.default_rng(2)
    x, b = points(rng, 400, 3, "float64"), rng.standard_normal((400, 2))
    kernel = kir.compile("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], axis=1)
    a = solve_linear(kernel, [x, x, b], 2, alpha=0.5, eps=1e-10)
    np.testing.assert_allclose(0.5 * a + kernel(x, x, a), b, atol=1e-8)


def test_zero_right_hand_side_gives_zero() -> None:
    a = conjugate_gradient(lambda p: 2 * p, np.zeros((5, 2)))
    assert a.shape == (5, 2) and not a.any()


def test_indefinite_operator_hits_the_iteration_cap() -> None:
    """cos(3|x-y|^2) is indefinite (eigenvalues -26..35): the solve stops at the cap, naming the residual."""
    rng = np.random.default_rng(0)
    x, b = points(rng, 200, 2, "float64"), rng.standard_normal((200, 1))
    solver = KernelSolve("Cos(3*SqDist(x,y)) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "b", axis=1)
    with pytest.raises(KirError, match=r"did not converge in 2000 iterations: residual \|r\|\^2 = "):
        solver(x, x, b)


def test_iteration_cap_and_divergence_of_conjugate_gradient() -> None:
    """max_iterations bounds the loop; a NaN residual (here p.Mp = 0) stops at once."""
    rng = np.random.default_rng(4)
    spectrum = np.concatenate([np.linspace(-1, -0.1, 50), np.linspace(0.1, 1, 50)])[:, None]
    with pytest.raises(KirError, match="did not converge in 7 iterations"):
        conjugate_gradient(lambda p: spectrum * p, rng.standard_normal((100, 1)), max_iterations=7)
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    with pytest.raises(KirError, match="diverged after 1 iterations: residual"), np.errstate(all="ignore"):
        conjugate_gradient(lambda p: rotation @ p, np.ones((2, 1)))


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    a = conjugate_gradient(lambda p: 3 * p, np.ones((4, 1)), progress=True)
    np.testing.assert_allclose(a, 1 / 3)
    assert "conjugate gradient" in capsys.readouterr().err


def test_progress_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    with pytest.raises(KirError, match="needs tqdm"):
        conjugate_gradient(lambda p: 3 * p, np.ones((4, 1)), progress=True)


def test_bad_input_is_named() -> None:
    names = ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
    with pytest.raises(KirError, match="unknown varinvalias 'c'"):
        KernelSolve("Exp(-SqDist(x,y)) * b", names, "c")
    with pytest.raises(KirError, match="does not match"):
        KernelSolve("Exp(-SqDist(x,y)) * b", names, "Var(2,3,1)")
    with pytest.raises(KirError, match="Vi or Vj variable with the dimension"):
        KernelSolve("Exp(-SqDist(x,y)) * b", names, "x", axis=1)  # dimension 2, output 1
    with pytest.raises(KirError, match="unknown option"):
        KernelSolve("Exp(-SqDist(x,y)) * b", names, "b", sum_schem="block_sum")
    KernelSolve("Exp(-SqDist(x,y)) * b", names, "b", axis=1, sum_scheme="block_sum", dtype="float32")
    kernel = kir.compile("Exp(-SqDist(x,y)) * b", names, reduction="Max", axis=1)
    x, b = np.zeros((5, 2)), np.ones((5, 1))
    with pytest.raises(KirError, match="one Sum reduction, got max"):
        solve_linear(kernel, [x, x, b], 2)
    solver = KernelSolve("Exp(-SqDist(x,y)) * b", names, "b", axis=1)
    with pytest.raises(ArgumentError, match="2D array with 1 columns, got \\(5,\\)"):
        solver(x, x, b[:, 0])
    with pytest.raises(ArgumentError, match="K is not square: it gives 4 rows"):
        solver(x[:4], x, b)
    with pytest.raises(ArgumentError, match="takes 3 arguments, got 2"):
        solver(x, b)


@pytest.mark.parametrize("axis", [0, 1])
def test_torch_matches_dense_solve_and_gradients(axis: int) -> None:
    """Values and gradients in b, x and s agree with torch autograd through torch.linalg.solve."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(axis)
    m, dim, alpha = 300, 2, 0.2
    x0, b0 = torch.randn(m, dim, dtype=torch.float64), torch.randn(m, 3, dtype=torch.float64)
    solver = KernelSolve(GAUSS, aliases(dim, 3, axis), "b", axis=axis)
    weights = torch.randn(m, 3, dtype=torch.float64)

    def run(solve):  # the loss, its gradients in (x, b, s), and the solution
        x, b = x0.clone().requires_grad_(), b0.clone().requires_grad_()
        s = torch.tensor([SCALE], dtype=torch.float64, requires_grad=True)
        a = solve(x, b, s)
        return a, torch.autograd.grad((a * weights).sum() + (a**2).sum(), [x, b, s])

    def dense_solve(x, b, s):
        matrix = torch.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * s * s))
        return torch.linalg.solve(alpha * torch.eye(m, dtype=torch.float64) + matrix, b)

    a, grads = run(lambda x, b, s: solver(x, x, b, s, alpha=alpha, eps=1e-11))
    reference, expected = run(dense_solve)
    assert isinstance(a, torch.Tensor) and a.shape == (m, 3)
    torch.testing.assert_close(a, reference, rtol=0, atol=1e-8)
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-7 * want.abs().max().item())


def test_torch_float32_and_no_grad() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(5)
    x, b = torch.randn(500, 3), torch.randn(500, 1)
    solver = KernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "b", axis=1)
    a = solver(x, x, b, alpha=0.1)
    assert a.dtype == torch.float32 and not a.requires_grad
    reference = torch.linalg.solve(0.1 * torch.eye(500) + torch.exp(-(torch.cdist(x, x) ** 2)), b)
    assert (a - reference).abs().max() <= 2e-4 * reference.abs().max()
    with pytest.raises(ArgumentError, match="not a mix"):
        solver(x, x.numpy(), b)


def test_torch_second_order() -> None:
    """Gradients of gradients (create_graph=True) agree with the dense solve's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(6)
    m = 150
    x0, b0 = torch.randn(m, 2, dtype=torch.float64), torch.randn(m, 1, dtype=torch.float64)
    solver = KernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "b", axis=1)

    def run(solve):
        x, b = x0.clone().requires_grad_(), b0.clone().requires_grad_()
        a = solve(x, b)
        gx, gb = torch.autograd.grad((a**2).sum(), [x, b], create_graph=True)
        return torch.autograd.grad((gx**2).sum() + (gb**3).sum(), [x, b])

    def dense_solve(x, b):
        matrix = torch.exp(-((x[:, None] - x[None]) ** 2).sum(-1))
        return torch.linalg.solve(0.5 * torch.eye(m, dtype=torch.float64) + matrix, b)

    for got, want in zip(
        run(lambda x, b: solver(x, x, b, alpha=0.5, eps=1e-12)), run(dense_solve), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-7 * want.abs().max().item())


def test_ranges_block_diagonal() -> None:
    """Two clusters that see only themselves: the solve is that of the block-diagonal matrix."""
    ranges_module = pytest.importorskip("kir.frontends.lazy.ranges")
    if not hasattr(ranges_module, "reduce_blocks"):
        pytest.skip("kir.frontends.lazy.ranges has no reduce_blocks yet")
    rng = np.random.default_rng(7)
    m, half = 200, 100
    x, b = points(rng, m, 2, "float64"), rng.standard_normal((m, 1))
    blocks = np.array([[0, half], [half, m]], dtype=np.int32)
    slices = np.array([1, 2], dtype=np.int32)
    ranges = (blocks, slices, blocks, blocks, slices, blocks)
    solver = KernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "b", axis=1)
    a = solver(x, x, b, alpha=0.1, eps=1e-10, ranges=ranges)
    matrix = dense(x, np.sqrt(0.5))
    matrix[:half, half:] = matrix[half:, :half] = 0
    np.testing.assert_allclose(a, np.linalg.solve(0.1 * np.eye(m) + matrix, b), atol=1e-8)


def test_ranges_go_through_reduce_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every product K(p), in the solve and in its backward, is reduce_blocks(kernel, arrays, ranges)."""
    torch = pytest.importorskip("torch")
    calls = []

    def reduce_blocks(kernel, arrays, ranges):  # a stand-in: block-diagonal by halves
        calls.append(ranges)
        x, y, b = arrays
        half = len(x) // 2
        return torch.cat([kernel(x[:half], y[:half], b[:half]), kernel(x[half:], y[half:], b[half:])])

    fake = type(sys)("kir.frontends.lazy.ranges")
    fake.reduce_blocks = reduce_blocks
    monkeypatch.setitem(sys.modules, "kir.frontends.lazy.ranges", fake)
    torch.manual_seed(8)
    x, b = (
        torch.randn(100, 2, dtype=torch.float64, requires_grad=True),
        torch.randn(100, 1, dtype=torch.float64),
    )
    solver = KernelSolve("Exp(-SqDist(x,y)) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "b", axis=1)
    a = solver(x, x, b, alpha=0.1, eps=1e-10, ranges="blocks")
    forward_calls = len(calls)
    assert forward_calls > 0 and set(calls) == {"blocks"}
    (a**2).sum().backward()
    assert len(calls) > forward_calls + 1 and set(calls) == {"blocks"}
    matrix = torch.exp(-(torch.cdist(x, x) ** 2)).detach()
    matrix[:50, 50:] = matrix[50:, :50] = 0
    torch.testing.assert_close(a, torch.linalg.solve(0.1 * torch.eye(100, dtype=torch.float64) + matrix, b))


def test_torch_gradcheck_and_gradgradcheck() -> None:
    """Finite differences agree with the first and second derivatives in x, b and the parameter s."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(9)
    solver = KernelSolve(GAUSS, aliases(2, 2, 1), "b", axis=1)
    x, b = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 2, dtype=torch.float64)
    s = torch.tensor([0.8], dtype=torch.float64)
    inputs = tuple(t.requires_grad_() for t in (x, b, s))

    def solve(x, b, s):
        return solver(x, x, b, s, alpha=0.3, eps=1e-14)

    assert torch.autograd.gradcheck(solve, inputs)
    assert torch.autograd.gradgradcheck(solve, inputs)
