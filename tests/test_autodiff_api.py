"""Derivatives in formulas, on NumPy arrays: Grad, Diff, GradMatrix, Divergence, Laplacian."""

from __future__ import annotations

import numpy as np
import pytest

import kir

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "e = Vi(1)", "v = Vi(3)"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((6, 3)), rng.random((8, 3)), rng.random((8, 1)), rng.random((6, 1)), rng.random((6, 3))


def _gaussian(x, y):
    return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1))  # (M, N)


def test_grad_of_the_gaussian_kernel_on_numpy(data) -> None:
    x, y, b, e, v = data
    kernel = kir.compile("Grad(Exp(-SqDist(x,y)) * b, x, e)", ALIASES)
    expected = (-2 * (x[:, None] - y[None]) * (_gaussian(x, y) * b[:, 0])[..., None] * e[:, None]).sum(1)
    np.testing.assert_allclose(kernel(x, y, b, e, v), expected, rtol=1e-12)


def test_diff_is_the_directional_derivative(data) -> None:
    x, y, b, e, v = data
    kernel = kir.compile("Diff(Exp(-SqDist(x,y)) * b, x, v)", ALIASES)
    expected = (-2 * ((x[:, None] - y[None]) * v[:, None]).sum(-1) * _gaussian(x, y) * b[:, 0]).sum(
        1, keepdims=True
    )
    np.testing.assert_allclose(kernel(x, y, b, e, v), expected, rtol=1e-12)


def test_grad_matrix_divergence_and_laplacian(data) -> None:
    x, y, b, e, v = data
    kernel = kir.compile("Laplacian(Exp(-SqDist(x,y)), x)", ALIASES)
    r2 = ((x[:, None] - y[None]) ** 2).sum(-1)
    expected = ((4 * r2 - 6) * _gaussian(x, y)).sum(1, keepdims=True)  # in 3 dimensions
    np.testing.assert_allclose(kernel(x, y, b, e, v), expected, rtol=1e-11)
    divergence = kir.compile("Divergence(x - y, x)", ALIASES)
    np.testing.assert_allclose(divergence(x, y, b, e, v), np.full((6, 1), 3.0 * 8))
    matrix = kir.compile("GradMatrix(x * Sum(y), x)", ALIASES)
    expected = np.tile(np.eye(3).reshape(1, 9) * 1.0, (6, 1)) * y.sum()
    np.testing.assert_allclose(matrix(x, y, b, e, v), expected, rtol=1e-12)


def test_builder_derivatives_match_the_string(data) -> None:
    x_, y_, b_, e_, v_ = data
    x, y, b, e = kir.Vi(0, 3), kir.Vj(1, 3), kir.Vj(2, 1), kir.Vi(3, 1)
    from_builder = kir.compile(kir.grad(kir.exp(-kir.sqdist(x, y)) * b, x, e))
    from_string = kir.compile("Grad(Exp(-SqDist(x,y)) * b, x, e)", ALIASES[:4])
    np.testing.assert_allclose(from_builder(x_, y_, b_, e_), from_string(x_, y_, b_, e_), rtol=1e-15)


def test_derivative_errors_name_the_problem() -> None:
    with pytest.raises(kir.FormulaError, match="kir.grad: operand 2 must be a variable"):
        kir.compile("Grad(Exp(x), Exp(x), e)", ["x = Vi(3)", "e = Vi(3)"])
    with pytest.raises(kir.FormulaError, match="kir.grad: the direction e must have F's dimension 1, got 3"):
        kir.compile("Grad(SqDist(x, y), x, x)", ["x = Vi(3)", "y = Vj(3)"])
    with pytest.raises(kir.FormulaError, match="Laplacian needs a scalar formula"):
        kir.compile("Laplacian(x, x)", ["x = Vi(3)"])
