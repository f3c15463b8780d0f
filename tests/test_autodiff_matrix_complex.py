"""Derivative rules of the matrix and complex ops, beyond tests/test_autodiff_ops.py.

The shared test differentiates each op at its first well-shaped application, which for the
matrix ops is a 1 x 1 product. Here: wide shapes, TensorDot with several, unordered, full or no
contractions and permutations, Kron of rank 2, broadcast complex scalars, ComplexRealScal in
both orders (first order against central finite differences of the float64 reference); torch's
autograd on the same dense formulas (complex tensors viewed as real pairs), including the
values of ComplexAbs and ComplexAngle at 0; second order (a Grad of a Grad against finite
differences of the first-order Grad), and forward mode (Diff) for a few ops.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, variable
from kir.kernel import Kernel
from kir.reference import evaluate

torch = pytest.importorskip("torch")

STEP = 1e-6
SIZE_I, SIZE_J = 3, 2


def _td(dimfa, dimfb, contfa, contfb, permute=None) -> dict:
    attrs = {"dimfa": dimfa, "dimfb": dimfb, "contfa": contfa, "contfb": contfb}
    return attrs if permute is None else {**attrs, "permute": permute}


# (op, operand dimensions, attributes)
FIRST_ORDER = [
    (ops.MatVecMultOp, (6, 3), {}),
    (ops.MatVecMultOp, (4, 1), {}),
    (ops.VecMatMultOp, (2, 6), {}),
    (ops.TensorProdOp, (2, 3), {}),
    (ops.TensorDotOp, (24, 8), _td((2, 3, 4), (4, 2), (2,), (0,))),
    (ops.TensorDotOp, (12, 12), _td((2, 3, 2), (3, 2, 2), (2, 1), (1, 0))),
    (ops.TensorDotOp, (6, 6), _td((2, 3), (3, 2), (0, 1), (1, 0))),
    (ops.TensorDotOp, (2, 3), _td((2,), (3,), (), ())),
    (ops.TensorDotPermutedOp, (24, 8), _td((2, 3, 4), (4, 2), (2,), (0,), (2, 0, 1))),
    (ops.TensorDotPermutedOp, (12, 12), _td((2, 3, 2), (2, 3, 2), (1,), (1,), (3, 1, 0, 2))),
    (ops.TensorDotPermutedOp, (2, 3), _td((2,), (3,), (), (), (1, 0))),
    (ops.KronOp, (6, 4), {"dimfa": (2, 3), "dimfb": (2, 2)}),
    (ops.KronOp, (3, 2), {"dimfa": (3,), "dimfb": (2,)}),
    (ops.ComplexAddOp, (4, 4), {}),
    (ops.ComplexAddOp, (2, 6), {}),
    (ops.ComplexSubtractOp, (6, 2), {}),
    (ops.ComplexSubtractOp, (2, 4), {}),
    (ops.ComplexMultOp, (4, 4), {}),
    (ops.ComplexMultOp, (2, 6), {}),
    (ops.ComplexMultOp, (6, 2), {}),
    (ops.ComplexDivideOp, (4, 4), {}),
    (ops.ComplexDivideOp, (2, 4), {}),
    (ops.ComplexDivideOp, (4, 2), {}),
    (ops.ConjOp, (4,), {}),
    (ops.ComplexExpOp, (6,), {}),
    (ops.ComplexExp1jOp, (3,), {}),
    (ops.Real2ComplexOp, (3,), {}),
    (ops.Imag2ComplexOp, (3,), {}),
    (ops.ComplexRealOp, (6,), {}),
    (ops.ComplexImagOp, (6,), {}),
    (ops.ComplexAbsOp, (6,), {}),
    (ops.ComplexSquareAbsOp, (6,), {}),
    (ops.ComplexAngleOp, (8,), {}),
    (ops.ComplexRealScalOp, (1, 4), {}),
    (ops.ComplexRealScalOp, (6, 1), {}),
    (ops.ComplexSumOp, (6,), {}),
    (ops.ComplexSumTOp, (2,), {"dim": 6}),
]


def _case_id(case) -> str:
    op, dims, attrs = case
    permute = attrs.get("permute")
    return f"{op.name}-{'x'.join(map(str, dims))}" + (f"-permute{permute}" if permute else "")


def _values(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """Entries of both signs, away from 0 (ComplexAngle, ComplexDivide and Abs are smooth there)."""
    return rng.uniform(0.3, 1.0, size=(rows, dim)) * rng.choice([-1.0, 1.0], size=(rows, dim))


def _finite_difference(formula: Expr, arrays: list[np.ndarray], position: int, v: np.ndarray) -> np.ndarray:
    """d/dx_i of sum_j <F_ij, v_i> for the i-variable at `position`, by central differences."""
    module = Kernel.from_expr(formula, "Sum", 1).module("float64")
    columns = []
    for k in range(arrays[position].shape[1]):
        values = []
        for sign in (1, -1):
            shifted = [a.copy() for a in arrays]
            shifted[position][:, k] += sign * STEP
            (out,) = evaluate(module, shifted, (SIZE_I, SIZE_J))
            values.append((out * v).sum(1))
        columns.append((values[0] - values[1]) / (2 * STEP))
    return np.stack(columns, axis=1)


def _check_gradients(
    formula: Expr, wrt: list[Expr], declared: list[Expr], arrays: list[np.ndarray], seed: int
):
    """The compiled Grad(formula, x, e) for each x of `wrt` against finite differences."""
    rng = np.random.default_rng(seed)
    e_var = variable(len(declared), formula.dim, "i")
    e = rng.uniform(0.5, 1.5, size=(SIZE_I, formula.dim))
    y_var, y = variable(len(declared) + 1, 1, "j"), np.zeros((SIZE_J, 1))  # fixes N
    gradients = [apply(ops.GradOp, formula, x, e_var) for x in wrt]
    joined = gradients[0]
    for gradient in gradients[1:]:
        joined = apply(ops.ConcatOp, joined, gradient)
    kernel = Kernel.from_expr(joined, "Sum", 1, declared=[*declared, e_var, y_var])
    result = kernel(*arrays, e, y)
    full = [*arrays, e, y]
    expected = np.concatenate([_finite_difference(formula, full, x.attributes["index"], e) for x in wrt], 1)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", FIRST_ORDER, ids=_case_id)
def test_first_order_against_finite_differences(case) -> None:
    op, dims, attrs = case
    seed = zlib.crc32(_case_id(case).encode())
    rng = np.random.default_rng(seed)
    operands = [variable(k, d, "i") for k, d in enumerate(dims)]
    arrays = [_values(rng, SIZE_I, d) for d in dims]
    _check_gradients(apply(op, *operands, **attrs), operands, operands, arrays, seed)


# -- against torch's autograd ------------------------------------------------------------------------


def _kir_gradient(formula: Expr, x: Expr, e_var: Expr, arrays: list[np.ndarray]) -> np.ndarray:
    """sum_j Grad(formula, x, e) for N = 1 (x and e are i-variables)."""
    y_var = variable(e_var.attributes["index"] + 1, 1, "j")
    kernel = Kernel.from_expr(apply(ops.GradOp, formula, x, e_var), "Sum", 1, declared=[y_var])
    return kernel(*arrays, np.zeros((1, 1)))


def _as_complex(t: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(t.reshape(t.shape[0], -1, 2))


def _torch_gradient(function, inputs: list[np.ndarray], e: np.ndarray) -> list[np.ndarray]:
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = function(*tensors)
    (out * torch.tensor(e)).sum().backward()
    return [t.grad.numpy() for t in tensors]


def test_abs_and_angle_at_zero_match_torch() -> None:
    # The second and fourth numbers are 0 (and -0): torch's abs and angle give a zero gradient.
    z = np.array([[0.6, -0.8, 0.0, 0.0, -1.5, 0.25, -0.0, 0.0]])
    e = np.array([[1.0, 2.0, -0.5, 3.0]])
    x, e_var = variable(0, 8, "i"), variable(1, 4, "i")
    for op, function in ((ops.ComplexAbsOp, torch.abs), (ops.ComplexAngleOp, torch.angle)):
        ours = _kir_gradient(apply(op, x), x, e_var, [z, e])
        (theirs,) = _torch_gradient(lambda t, f=function: f(_as_complex(t)), [z], e)
        assert np.all(np.isfinite(ours)), op.name
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=op.name)
        assert np.all(ours[0, 2:4] == 0.0) and np.all(ours[0, 6:8] == 0.0), op.name


TORCH_BINARY = [
    (ops.ComplexMultOp, lambda a, b: torch.view_as_real(_as_complex(a) * _as_complex(b))),
    (ops.ComplexDivideOp, lambda a, b: torch.view_as_real(_as_complex(a) / _as_complex(b))),
]


@pytest.mark.parametrize("op, function", TORCH_BINARY, ids=[op.name for op, _ in TORCH_BINARY])
def test_complex_products_match_torch(op: type, function) -> None:
    rng = np.random.default_rng(7)
    a, b, e = (_values(rng, 1, 6) for _ in range(3))
    x, y, e_var = variable(0, 6, "i"), variable(1, 6, "i"), variable(2, 6, "i")
    theirs = _torch_gradient(lambda s, t: function(s, t).reshape(1, -1), [a, b], e)
    for variable_, expected in zip((x, y), theirs, strict=True):
        ours = _kir_gradient(apply(op, x, y), variable_, e_var, [a, b, e])
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14, err_msg=op.name)


def test_complex_exp_matches_torch() -> None:
    rng = np.random.default_rng(8)
    z, e = _values(rng, 1, 6), _values(rng, 1, 6)
    x, e_var = variable(0, 6, "i"), variable(1, 6, "i")
    ours = _kir_gradient(apply(ops.ComplexExpOp, x), x, e_var, [z, e])
    (theirs,) = _torch_gradient(
        lambda t: torch.view_as_real(torch.exp(_as_complex(t))).reshape(1, -1), [z], e
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_permuted_tensordot_matches_torch() -> None:
    rng = np.random.default_rng(9)
    attrs = _td((2, 3, 4), (4, 3, 2), (2, 1), (0, 1), (1, 0))
    a, b, e = _values(rng, 1, 24), _values(rng, 1, 24), _values(rng, 1, 4)
    x, y, e_var = variable(0, 24, "i"), variable(1, 24, "i"), variable(2, 4, "i")

    def function(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        product = torch.tensordot(s.reshape(2, 3, 4), t.reshape(4, 3, 2), dims=([2, 1], [0, 1]))
        return product.T.reshape(1, -1)  # permute (1, 0): natural axis 0 goes to position 1

    theirs = _torch_gradient(function, [a, b], e)
    for variable_, expected in zip((x, y), theirs, strict=True):
        ours = _kir_gradient(apply(ops.TensorDotPermutedOp, x, y, **attrs), variable_, e_var, [a, b, e])
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)


# -- second order ------------------------------------------------------------------------------------

# (op, operand dimensions, attributes, differentiate first w.r.t., then w.r.t.): "same" applies
# the op to one variable twice, so that a bilinear op has a nonzero second derivative.
SECOND_ORDER = [
    (ops.TensorDotPermutedOp, (6, 6), _td((2, 3), (2, 3), (1,), (1,), (1, 0)), "same"),
    (ops.KronOp, (4, 4), {"dimfa": (2, 2), "dimfb": (2, 2)}, "same"),
    (ops.MatVecMultOp, (6, 3), {}, "cross"),
    (ops.ComplexMultOp, (2, 4), {}, "cross"),
    (ops.ComplexDivideOp, (4, 4), {}, "both"),
    (ops.ComplexDivideOp, (4, 2), {}, "both"),
    (ops.ComplexExpOp, (4,), {}, "both"),
    (ops.ComplexExp1jOp, (3,), {}, "both"),
    (ops.ComplexAbsOp, (4,), {}, "both"),
    (ops.ComplexAngleOp, (4,), {}, "both"),
]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=lambda case: f"{case[0].name}-{case[3]}")
def test_second_order_against_finite_differences(case) -> None:
    op, dims, attrs, mode = case
    seed = zlib.crc32(f"{op.name}{dims}{mode}".encode())
    rng = np.random.default_rng(seed)
    if mode == "same":
        operands = [variable(0, dims[0], "i")]
        formula = apply(op, operands[0], operands[0], **attrs)
    else:
        operands = [variable(k, d, "i") for k, d in enumerate(dims)]
        formula = apply(op, *operands, **attrs)
    arrays = [_values(rng, SIZE_I, v.dim) for v in operands]
    # The inner direction w is a variable too: the outer Grad sees it as a constant.
    w_var = variable(len(operands), formula.dim, "i")
    arrays.append(rng.uniform(0.5, 1.5, size=(SIZE_I, formula.dim)))
    first = operands[0]
    inner = apply(ops.GradOp, formula, first, w_var)
    wrt = operands if mode != "cross" else operands[1:]
    _check_gradients(inner, wrt, [*operands, w_var], arrays, seed)


# -- forward mode (Diff transposes the rules: they must be linear in the cotangent) -------------------

FORWARD = [
    (ops.TensorDotPermutedOp, (24, 8), _td((2, 3, 4), (4, 2), (2,), (0,), (2, 0, 1))),
    (ops.KronOp, (6, 4), {"dimfa": (2, 3), "dimfb": (2, 2)}),
    (ops.ComplexDivideOp, (2, 4), {}),
    (ops.ComplexAngleOp, (6,), {}),
    (ops.ComplexRealScalOp, (4, 1), {}),
]


@pytest.mark.parametrize("case", FORWARD, ids=_case_id)
def test_diff_against_finite_differences(case) -> None:
    op, dims, attrs = case
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    operands = [variable(k, d, "i") for k, d in enumerate(dims)]
    formula = apply(op, *operands, **attrs)
    v_var, y_var = variable(len(dims), dims[0], "i"), variable(len(dims) + 1, 1, "j")
    declared = [*operands, v_var, y_var]
    arrays = [_values(rng, SIZE_I, d) for d in dims]
    v, y = rng.uniform(-1.0, 1.0, size=(SIZE_I, dims[0])), np.zeros((SIZE_J, 1))
    result = Kernel.from_expr(apply(ops.DiffOp, formula, operands[0], v_var), "Sum", 1, declared=declared)(
        *arrays, v, y
    )
    module = Kernel.from_expr(formula, "Sum", 1, declared=declared).module("float64")
    shifted = [[arrays[0] + sign * STEP * v, *arrays[1:], v, y] for sign in (1, -1)]
    plus, minus = (evaluate(module, s, (SIZE_I, SIZE_J))[0] for s in shifted)
    np.testing.assert_allclose(result, (plus - minus) / (2 * STEP), rtol=1e-5, atol=1e-6)
