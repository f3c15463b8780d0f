"""Derivative rules of the vector ops (kir/rules/vector.py) beyond the generic check.

tests/test_autodiff_ops.py differentiates every op on the first shapes that fit it: SoftDTW_SqDist
on series of length 1 (no soft-min), BSpline of order 0 (zero derivative), weights of dimension 1.
Here: the wider shapes (gradcheck and gradgradcheck through torch), the values at kinks and ties
against torch's autograd, BSpline and SoftDTW_SqDist against torch's autograd of the same
recurrence (with respect to every operand, knots and gamma included), and Grad of Grad against
finite differences of the compiled first-order Grad kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, variable
from kir.kernel import Kernel

torch = pytest.importorskip("torch")

ROWS = 3


def _dummy(position: int) -> Expr:
    """A j-variable that only fixes N = 1, so that a Sum over j is the formula itself."""
    return variable(position, 1, "j")


def _kernel(formula: Expr, operands: list[Expr]) -> Kernel:
    return Kernel.from_expr(formula, "Sum", 1, declared=[*operands, _dummy(len(operands))])


def _grad_kernel(formula: Expr, operands: list[Expr], x: Expr) -> Kernel:
    """Sum_j Grad(F, x, e) with the direction e as the last argument before the dummy."""
    e = variable(len(operands), formula.dim, "i")
    gradient = apply(ops.GradOp, formula, x, e)
    return Kernel.from_expr(gradient, "Sum", 1, declared=[*operands, e, _dummy(len(operands) + 1)])


def _tensor(values: np.ndarray | list, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


def _series(rng: np.random.Generator, dim: int) -> np.ndarray:
    return rng.uniform(0.2, 0.9, size=(ROWS, dim))


# -- first and second order on shapes the generic test does not reach ---------------------------------


def _v(index: int, dim: int, category: str = "i") -> Expr:
    return variable(index, dim, category)


CASES: dict[str, tuple[Expr, list[Expr]]] = {
    "sumt": (apply(ops.SumTOp, _v(0, 1), dim=4), [_v(0, 1)]),
    "max_entry": (apply(ops.MaxEntryOp, _v(0, 5)), [_v(0, 5)]),
    "min_entry": (apply(ops.MinEntryOp, _v(0, 5)), [_v(0, 5)]),
    "norm2": (apply(ops.Norm2Op, _v(0, 3)), [_v(0, 3)]),
    "normalize": (apply(ops.NormalizeOp, _v(0, 3)), [_v(0, 3)]),
    "weightedsqnorm_diag": (apply(ops.WeightedSqNormOp, _v(0, 3), _v(1, 3)), [_v(0, 3), _v(1, 3)]),
    "weightedsqnorm_full": (apply(ops.WeightedSqNormOp, _v(0, 9), _v(1, 3)), [_v(0, 9), _v(1, 3)]),
    "weightedsqdist_iso_broadcast": (
        apply(ops.WeightedSqDistOp, _v(0, 1), _v(1, 1), _v(2, 3)),
        [_v(0, 1), _v(1, 1), _v(2, 3)],
    ),
    "weightedsqdist_full": (
        apply(ops.WeightedSqDistOp, _v(0, 4), _v(1, 2), _v(2, 2)),
        [_v(0, 4), _v(1, 2), _v(2, 2)],
    ),
    "sqnormdiag_scalar": (apply(ops.SqNormDiagOp, _v(0, 1), _v(1, 3)), [_v(0, 1), _v(1, 3)]),
    "sqnormdiag_vector": (apply(ops.SqNormDiagOp, _v(0, 3), _v(1, 3)), [_v(0, 3), _v(1, 3)]),
    "sqnormiso": (apply(ops.SqNormIsoOp, _v(0, 1), _v(1, 3)), [_v(0, 1), _v(1, 3)]),
    "symsqnorm": (apply(ops.SymSqNormOp, _v(0, 4), _v(1, 2)), [_v(0, 4), _v(1, 2)]),
    "elem_elemt": (
        apply(ops.ElemTOp, apply(ops.ElemOp, _v(0, 3), m=2), n=4, m=1) * _v(1, 4),
        [_v(0, 3), _v(1, 4)],
    ),
    "extract_extractt_concat": (
        apply(
            ops.ConcatOp,
            apply(ops.ExtractTOp, apply(ops.ExtractOp, _v(0, 4), start=1, length=2), start=2, dim=5),
            _v(1, 2) * _v(1, 2),
        ),
        [_v(0, 4), _v(1, 2)],
    ),
    "softdtw_gamma_param": (
        apply(ops.SoftDTWSqDistOp, _v(0, 3), _v(1, 2), _v(2, 1, "p")),
        [_v(0, 3), _v(1, 2), _v(2, 1, "p")],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_and_gradgradcheck(name: str) -> None:
    formula, operands = CASES[name]
    kernel = _kernel(formula, operands)
    rng = np.random.default_rng(7)
    inputs = [
        _tensor(rng.uniform(0.2, 0.9, size=(1 if v.category == "p" else ROWS, v.dim))) for v in operands
    ]
    if operands[-1].category == "p":  # SoftDTW's gamma: a parameter is a flat vector
        inputs[-1] = _tensor([0.6])
    inputs.append(torch.zeros(1, 1, dtype=torch.float64))
    assert torch.autograd.gradcheck(lambda *t: kernel(*t), tuple(inputs), atol=1e-6, rtol=1e-4)
    assert torch.autograd.gradgradcheck(lambda *t: kernel(*t), tuple(inputs), atol=1e-5, rtol=1e-3)


# -- kinks and ties against torch ---------------------------------------------------------------------


@pytest.mark.parametrize("largest", [True, False], ids=["max", "min"])
def test_extreme_entry_ties_and_nan_like_torch_max_over_a_dim(largest: bool) -> None:
    # torch.max(x, dim) (and KeOps) give the whole gradient to the first extreme entry / first NaN.
    x = np.array(
        [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [2.0, 0.0, 0.0, 4.0], [1.0, np.nan, 3.0, np.nan]]
    )
    e = np.array([[1.5], [0.5], [2.0], [1.0]])
    op, torch_op = (ops.MaxEntryOp, torch.max) if largest else (ops.MinEntryOp, torch.min)
    var = variable(0, 4, "i")
    result = _grad_kernel(apply(op, var), [var], var)(x, e, np.zeros((1, 1)))
    tx = _tensor(x)
    (torch_op(tx, dim=-1).values * torch.from_numpy(e[:, 0])).sum().backward()
    np.testing.assert_array_equal(result, tx.grad.numpy())


def test_norm2_and_normalize_at_zero() -> None:
    x = np.array([[0.0, 0.0, 0.0], [0.3, -0.4, 1.2]])
    e = np.array([[1.0, 2.0, -1.0], [0.5, 1.0, 2.0]])
    var = variable(0, 3, "i")
    norm = _grad_kernel(apply(ops.Norm2Op, var), [var], var)(x, e[:, :1], np.zeros((1, 1)))
    tx = _tensor(x)
    (torch.linalg.vector_norm(tx, dim=-1) * torch.from_numpy(e[:, 0])).sum().backward()
    np.testing.assert_allclose(norm, tx.grad.numpy(), rtol=1e-14, atol=0)
    assert (norm[0] == 0).all()  # torch's norm'(0) = 0
    normalize = _grad_kernel(apply(ops.NormalizeOp, var), [var], var)(x, e, np.zeros((1, 1)))
    assert (normalize[0] == 0).all()  # KeOps' Rsqrt(0) = 0 (torch's x / |x| gives NaN there)
    tx = _tensor(x[1:])
    (tx / torch.linalg.vector_norm(tx, dim=-1, keepdim=True) * torch.from_numpy(e[1:])).sum().backward()
    np.testing.assert_allclose(normalize[1:], tx.grad.numpy(), rtol=1e-13)


# -- BSpline and SoftDTW_SqDist against torch's autograd of the recurrence --------------------------


def _torch_bspline(t: torch.Tensor, x: torch.Tensor, order: int) -> torch.Tensor:
    """De Boor's recurrence on rows, ratios 0 where knots do not increase (the reference's rule)."""
    count = t.shape[-1]
    basis = ((t[:, :-1] <= x) & (x < t[:, 1:])).double()
    for k in range(1, order + 1):
        low, high = t[:, : count - k], t[:, k:]
        valid = low < high
        ratio = torch.where(valid, (x - low) / torch.where(valid, high - low, 1.0), 0.0)
        basis = ratio[:, :-1] * basis[:, :-1] + (1 - ratio[:, 1:]) * basis[:, 1:]
    return basis


def _against_torch(formula: Expr, operands: list[Expr], arrays: list[np.ndarray], torch_fn) -> None:
    e = np.random.default_rng(3).uniform(0.5, 1.5, size=(arrays[0].shape[0], formula.dim))
    tensors = [_tensor(a) for a in arrays]
    (torch_fn(*tensors) * torch.from_numpy(e)).sum().backward()
    for x, tensor in zip(operands, tensors, strict=True):
        result = _grad_kernel(formula, operands, x)(*arrays, e, np.zeros((1, 1)))
        expected = np.zeros_like(result) if tensor.grad is None else tensor.grad.numpy()  # None: unused
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12, err_msg=repr(x))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_bspline_derivatives_like_torch(order: int) -> None:
    # Row 0: sorted knots, a double knot; row 1: x on a knot (the derivative from the right);
    # row 2: unsorted knots (the recurrence's own chain rule); row 3: x outside (all zero).
    knots = np.array(
        [
            [0.0, 0.5, 0.5, 1.2, 2.0, 2.5, 3.1],
            [0.0, 0.4, 0.9, 1.3, 2.0, 2.6, 3.0],
            [0.3, 0.1, 0.9, 0.8, 2.0, 1.5, 3.0],
            [0.0, 0.4, 0.9, 1.3, 2.0, 2.6, 3.0],
        ]
    )
    x = np.array([[1.05], [1.3], [0.85], [3.5]])
    t_var, x_var = variable(0, 7, "i"), variable(1, 1, "i")
    formula = apply(ops.BSplineOp, t_var, x_var, order=order)
    _against_torch(formula, [t_var, x_var], [knots, x], lambda t, s: _torch_bspline(t, s, order))


def _torch_softdtw(x: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    n, m = x.shape[-1], y.shape[-1]
    cost = (x[:, :, None] - y[:, None, :]) ** 2
    r: list[list[torch.Tensor]] = [[None] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                r[i][j] = cost[:, 0, 0]
            elif j == 0 or i == 0:
                r[i][j] = cost[:, i, j] + (r[i - 1][0] if j == 0 else r[0][j - 1])
            else:
                previous = torch.stack([r[i - 1][j - 1], r[i - 1][j], r[i][j - 1]], dim=-1)
                r[i][j] = cost[:, i, j] - gamma[:, 0] * torch.logsumexp(-previous / gamma, dim=-1)
    return r[n - 1][m - 1][:, None]


@pytest.mark.parametrize("n, m", [(4, 3), (1, 3), (2, 1)])
def test_softdtw_derivatives_like_torch(n: int, m: int) -> None:
    rng = np.random.default_rng(11)
    arrays = [rng.uniform(-1.0, 1.0, size=(ROWS, n)), rng.uniform(-1.0, 1.0, size=(ROWS, m))]
    arrays.append(np.array([[0.1], [0.5], [2.0]]))
    operands = [variable(0, n, "i"), variable(1, m, "i"), variable(2, 1, "i")]
    formula = apply(ops.SoftDTWSqDistOp, *operands)
    _against_torch(formula, operands, arrays, _torch_softdtw)


# -- Grad of Grad against finite differences of the compiled Grad kernel ---------------------------


def _second_order(formula: Expr, operands: list[Expr], arrays: list[np.ndarray], position: int) -> None:
    """Grad(<Grad(F, x, e), v>, x) against central differences of the Grad kernel's output."""
    x = operands[position]
    base = len(operands)
    e, v = variable(base, formula.dim, "i"), variable(base + 1, x.dim, "i")
    first = apply(ops.GradOp, formula, x, e)
    declared = [*operands, e, v, _dummy(base + 2)]
    second = Kernel.from_expr(apply(ops.GradOp, first, x, v), "Sum", 1, declared=declared)
    first_kernel = Kernel.from_expr(first, "Sum", 1, declared=declared)
    rng = np.random.default_rng(5)
    extra = [rng.uniform(0.5, 1.5, size=(ROWS, formula.dim)), rng.uniform(0.5, 1.5, size=(ROWS, x.dim))]
    extra.append(np.zeros((1, 1)))
    result = second(*arrays, *extra)
    step, columns = 1e-5, []
    for k in range(x.dim):
        values = []
        for sign in (1, -1):
            shifted = [a.copy() for a in arrays]
            shifted[position][:, k] += sign * step
            values.append((first_kernel(*shifted, *extra) * extra[1]).sum(1))
        columns.append((values[0] - values[1]) / (2 * step))
    np.testing.assert_allclose(result, np.stack(columns, axis=1), rtol=1e-6, atol=1e-8)


def test_second_order_normalize() -> None:
    x = variable(0, 3, "i")
    _second_order(apply(ops.NormalizeOp, x), [x], [_series(np.random.default_rng(1), 3)], 0)


def test_second_order_weighted_sqdist_full() -> None:
    operands = [variable(0, 9, "i"), variable(1, 3, "i"), variable(2, 3, "i")]
    rng = np.random.default_rng(2)
    arrays = [_series(rng, 9), _series(rng, 3), _series(rng, 3)]
    formula = apply(ops.WeightedSqDistOp, *operands)
    for position in range(3):
        _second_order(apply(ops.SqrtOp, formula), operands, arrays, position)


def test_second_order_bspline() -> None:
    operands = [variable(0, 6, "i"), variable(1, 1, "i")]
    knots = np.array(
        [[0.0, 0.4, 0.9, 1.3, 2.0, 2.6], [0.0, 0.5, 0.5, 1.2, 2.0, 2.5], [0.1, 0.3, 0.9, 1.0, 1.4, 3.0]]
    )
    arrays = [knots, np.array([[1.0], [0.7], [0.95]])]
    formula = apply(ops.BSplineOp, *operands, order=3)
    for position in range(2):
        _second_order(formula, operands, arrays, position)


def test_second_order_softdtw() -> None:
    operands = [variable(0, 3, "i"), variable(1, 2, "i"), variable(2, 1, "i")]
    rng = np.random.default_rng(4)
    arrays = [_series(rng, 3), _series(rng, 2), np.array([[0.3], [0.7], [1.5]])]
    formula = apply(ops.SoftDTWSqDistOp, *operands)
    for position in range(3):
        _second_order(formula, operands, arrays, position)
