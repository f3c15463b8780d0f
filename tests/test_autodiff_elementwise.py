"""Derivative rules of the elementwise ops at their special points, and at higher orders.

The shared test (tests/test_autodiff_ops.py) draws inputs in [0.2, 0.9], away from every kink;
here the compiled gradient at kinks, ties, bounds and NaN is compared with torch's autograd on
the same dense formula, and Grad of Grad (of Grad) with finite differences of the lower order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, constant, variable
from kir.kernel import Kernel

torch = pytest.importorskip("torch")

NAN = float("nan")


def _gradients(build, columns: list[list[float]]) -> list[np.ndarray]:
    """Compiled Grad(F, x_k, 1) for each operand x_k of F = build(*x), one row per input point.

    `columns[k]` lists operand k's value at each point (scalar operands, N = 1).
    """
    operands = [variable(k, 1, "i") for k in range(len(columns))]
    formula = build(*operands)
    e_var, y_var = variable(len(operands), formula.dim, "i"), variable(len(operands) + 1, 1, "j")
    arrays = [np.array(c, dtype=np.float64)[:, None] for c in columns]
    e, y = np.ones((len(columns[0]), formula.dim)), np.zeros((1, 1))
    results = []
    for x in operands:
        gradient = apply(ops.GradOp, formula, x, e_var)
        kernel = Kernel.from_expr(gradient, "Sum", 1, declared=[*operands, e_var, y_var])
        results.append(np.asarray(kernel(*arrays, e, y))[:, 0])
    return results


def _torch_gradients(function, columns: list[list[float]]) -> list[np.ndarray]:
    tensors = [torch.tensor(c, dtype=torch.float64, requires_grad=True) for c in columns]
    function(*tensors).sum().backward()
    return [
        np.zeros(len(c)) if t.grad is None else t.grad.numpy() for c, t in zip(columns, tensors, strict=True)
    ]


def _unary(op: type, **attrs):
    return lambda x: apply(op, x, **attrs)


# (name, kir formula, torch formula, operand values at the special points)
KINKS = [
    ("abs", _unary(ops.AbsOp), torch.abs, [[0.0, -0.0, -2.0, 3.0, NAN]]),
    ("relu", _unary(ops.ReluOp), torch.relu, [[0.0, -0.0, -2.0, 3.0, NAN]]),
    ("sign", _unary(ops.SignOp), torch.sign, [[0.0, -2.0, 3.0]]),
    ("floor", _unary(ops.FloorOp), torch.floor, [[0.0, 1.0, -2.5, 0.7]]),
    ("round", _unary(ops.RoundOp, decimals=0), torch.round, [[0.0, 1.0, 2.5, -0.7]]),
    ("inv", _unary(ops.InvOp), torch.reciprocal, [[0.0, -0.0, 2.0]]),
    ("asin", _unary(ops.AsinOp), torch.asin, [[1.0, -1.0, 0.0, 0.5]]),
    ("acos", _unary(ops.AcosOp), torch.acos, [[1.0, -1.0, 0.0, 0.5]]),
    ("atan", _unary(ops.AtanOp), torch.atan, [[0.0, math.inf, -3.0]]),
    (
        "sinxdivx",
        _unary(ops.SinXDivXOp),
        lambda x: torch.sinc(x / math.pi),
        [[0.0, -0.0, 1e-3, -2.0, 5.0]],
    ),
    (
        "clampint",
        _unary(ops.ClampIntOp, low=-1, high=2),
        lambda x: torch.clamp(x, -1, 2),
        [[-1.0, 2.0, -3.0, 5.0, 0.5, NAN]],
    ),
    (
        "clamp",
        lambda x, a, b: apply(ops.ClampOp, x, a, b),
        torch.clamp,
        [[0.0, 1.0, -1.0, 2.0, 0.5, NAN, 0.5], [0.0] * 7, [1.0] * 6 + [0.5]],
    ),
    (
        "maximum",
        lambda a, b: apply(ops.MaximumOp, a, b),
        torch.maximum,
        [[1.0, 2.0, 0.0, NAN, 1.0, 0.0], [1.0, 1.0, 3.0, 1.0, NAN, -0.0]],
    ),
    (
        "minimum",
        lambda a, b: apply(ops.MinimumOp, a, b),
        torch.minimum,
        [[1.0, 2.0, 0.0, NAN, 1.0, 0.0], [1.0, 1.0, 3.0, 1.0, NAN, -0.0]],
    ),
    (
        "atan2",
        lambda y, x: apply(ops.Atan2Op, y, x),
        torch.atan2,
        [[0.0, 0.0, 1.0, -2.0], [0.0, 1.0, 0.0, 0.5]],
    ),
    (
        "ifelse",
        lambda f, a, b: apply(ops.IfElseOp, f, a, b),
        lambda f, a, b: torch.where(f >= 0, a, b),
        [[0.0, -0.0, -1.0, 2.0, NAN], [1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]],
    ),
    (
        "mod",
        lambda x, n, d: apply(ops.ModOp, x, n, d),
        lambda x, n, d: x - n * torch.floor((x - d) / n),
        [[0.5, 3.0, -1.25, 2.0], [2.0, 1.5, 0.5, 1.0], [0.0, 0.5, -0.25, 0.0]],
    ),
]


@pytest.mark.parametrize(("name", "build", "reference", "columns"), KINKS, ids=[k[0] for k in KINKS])
def test_gradient_at_special_points_matches_torch(name, build, reference, columns) -> None:
    results = _gradients(build, columns)
    expected = _torch_gradients(reference, columns)
    for position, (result, value) in enumerate(zip(results, expected, strict=True)):
        # rtol: sin(x)/x' near 0 cancels (cos x - sin(x)/x), in torch's formula as in ours.
        np.testing.assert_allclose(
            result, value, rtol=1e-9, atol=1e-14, err_msg=f"{name} w.r.t. operand {position}"
        )


def test_documented_choices_where_torch_differs() -> None:
    # Rsqrt(0) = 0 (KeOps), so its derivative -Rsqrt^3 / 2 is 0 there; XLogX'(0) = log(0) + 1.
    (rsqrt,) = _gradients(_unary(ops.RsqrtOp), [[0.0, 4.0]])
    np.testing.assert_allclose(rsqrt, [0.0, -1.0 / 16.0])
    (xlogx,) = _gradients(_unary(ops.XLogXOp), [[0.0, 1.0]])
    np.testing.assert_array_equal(xlogx, [-np.inf, 1.0])
    # Step, DiffClampInt and the comparisons are piecewise constant: no gradient, even at a jump.
    for op, attrs in ((ops.StepOp, {}), (ops.DiffClampIntOp, {"low": 0, "high": 1})):
        (step,) = _gradients(_unary(op, **attrs), [[0.0, 1.0, -1.0]])
        np.testing.assert_array_equal(step, 0.0)
    for op in (ops.EqualOp, ops.NotEqualOp, ops.LessThanOp, ops.LessOrEqualOp):
        for gradient in _gradients(lambda a, b, op=op: apply(op, a, b), [[1.0, 0.0], [1.0, 2.0]]):
            np.testing.assert_array_equal(gradient, 0.0)


# -- higher orders -------------------------------------------------------------------------------------

STEP = 1e-5


def _higher_order(build, order: int, dim: int, rng: np.random.Generator, low: float, high: float) -> None:
    """Grad^order of sum_j <F(x_i, y_j), e> in directions u against central differences of Grad^(order-1)."""
    x, y = variable(0, dim, "i"), variable(1, dim, "j")
    formula = build(x, y)
    directions = [variable(2, formula.dim, "i")] + [variable(2 + k, dim, "i") for k in range(1, order)]
    lower: Expr = formula
    for direction in directions[:-1]:
        lower = apply(ops.GradOp, lower, x, direction)
    higher = apply(ops.GradOp, lower, x, directions[-1])
    declared = [x, y, *directions]
    arrays = [rng.uniform(low, high, size=(3, dim)), rng.uniform(low, high, size=(5, dim))]
    arrays += [rng.uniform(0.5, 1.5, size=(3, v.dim)) for v in directions]
    result = np.asarray(Kernel.from_expr(higher, "Sum", 1, declared=declared)(*arrays))
    kernel = Kernel.from_expr(lower, "Sum", 1, declared=declared)
    columns = []
    for k in range(dim):
        values = []
        for sign in (1, -1):
            shifted = [a.copy() for a in arrays]
            shifted[0][:, k] += sign * STEP
            values.append((np.asarray(kernel(*shifted)) * arrays[-1]).sum(1))
        columns.append((values[0] - values[1]) / (2 * STEP))
    np.testing.assert_allclose(result, np.stack(columns, axis=1), rtol=1e-6, atol=1e-8)


SECOND_ORDER = [
    ("sin*cos", lambda x, y: apply(ops.SinOp, x * y) * apply(ops.CosOp, x + y), -1.0, 1.0),
    ("asin+acos", lambda x, y: apply(ops.AsinOp, x * y) + apply(ops.AcosOp, x - y) * x, -0.45, 0.45),
    ("atan", lambda x, y: apply(ops.AtanOp, x * y + x), -2.0, 2.0),
    ("atan2", lambda x, y: apply(ops.Atan2Op, x, y), -2.0, 2.0),
    ("sinxdivx", lambda x, y: apply(ops.SinXDivXOp, x * y), -3.0, 3.0),
    ("rsqrt*xlogx", lambda x, y: apply(ops.RsqrtOp, x * y) * apply(ops.XLogXOp, x + y), 0.3, 2.0),
    ("inv", lambda x, y: apply(ops.InvOp, x + y) * x, 0.3, 2.0),
    ("abs*relu", lambda x, y: apply(ops.AbsOp, x - y) * apply(ops.ReluOp, x * y - 0.5) * x, -1.0, 1.0),
    ("max*min", lambda x, y: apply(ops.MaximumOp, x * x, y) * apply(ops.MinimumOp, x, y * x), -1.0, 1.0),
    (
        "clamp",
        lambda x, y: (
            apply(ops.ClampOp, x * x, y, y + 0.5) * x + apply(ops.ClampIntOp, x * y, low=0, high=1) * x
        ),
        -1.5,
        1.5,
    ),
    ("mod", lambda x, y: apply(ops.ModOp, x * x, y + 2.0, y * x), -1.0, 1.0),
    ("ifelse", lambda x, y: apply(ops.IfElseOp, x - y, x * x * y, apply(ops.SinOp, x)), -1.0, 1.0),
]


@pytest.mark.parametrize(("name", "build", "low", "high"), SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_second_order(name, build, low, high) -> None:
    _higher_order(build, 2, 2, np.random.default_rng(len(name)), low, high)


@pytest.mark.parametrize(
    ("name", "build", "low", "high"), SECOND_ORDER[:6], ids=[s[0] for s in SECOND_ORDER[:6]]
)
def test_third_order(name, build, low, high) -> None:
    _higher_order(build, 3, 2, np.random.default_rng(len(name) + 7), low, high)


@pytest.mark.parametrize(("name", "build", "low", "high"), SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
def test_forward_mode(name, build, low, high) -> None:
    # Diff transposes the rules, which must therefore be linear in the cotangent.
    rng = np.random.default_rng(len(name) + 3)
    x, y, v = variable(0, 2, "i"), variable(1, 2, "j"), variable(2, 2, "i")
    formula = build(x, y)
    arrays = [rng.uniform(low, high, size=(3, 2)), rng.uniform(low, high, size=(5, 2))]
    direction = rng.uniform(-1.0, 1.0, size=(3, 2))
    result = np.asarray(Kernel.from_expr(apply(ops.DiffOp, formula, x, v), "Sum", 1)(*arrays, direction))
    kernel = Kernel.from_expr(formula, "Sum", 1)
    plus = np.asarray(kernel(arrays[0] + STEP * direction, arrays[1]))
    minus = np.asarray(kernel(arrays[0] - STEP * direction, arrays[1]))
    np.testing.assert_allclose(result, (plus - minus) / (2 * STEP), rtol=1e-6, atol=1e-8)


def test_guarded_points_stay_finite_at_second_order() -> None:
    # SinXDivX at 0 and Atan2 at (0, 0): first derivative 0 as torch; higher orders 0, not NaN.
    x, e, u = variable(0, 1, "i"), variable(1, 1, "i"), variable(2, 1, "i")
    y = variable(3, 1, "j")
    for formula in (apply(ops.SinXDivXOp, x), apply(ops.Atan2Op, x, x * constant(2.0))):
        twice = apply(ops.GradOp, apply(ops.GradOp, formula, x, e), x, u)
        kernel = Kernel.from_expr(twice, "Sum", 1, declared=[x, e, u, y])
        ones = np.ones((1, 1))
        result = np.asarray(kernel(np.zeros((1, 1)), ones, ones, np.zeros((1, 1))))
        assert np.isfinite(result).all(), formula
