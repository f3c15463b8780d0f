"""The derivative rule of every op against central finite differences of the reference.

For each op, F = op(operands) with operands that depend on an i-variable x; the kernel computes
out_i = sum_j Grad(F, x, e)_ij, which must equal the finite-difference derivative of
sum_j <F_ij, e_i> with respect to x_i, evaluated by the float64 reference evaluator.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.errors import FormulaError
from kir.frontends.expr import Expr, apply, variable
from kir.kernel import Kernel
from kir.reference import evaluate
from kir.registry import OP_RULES

DIMS = (1, 2, 3, 4, 6, 8, 9)
ATTRIBUTE_VALUES = (0, 1, 2, (2,), (2, 2), (1,), (0,), ())
DIFFERENTIABLE = [op for op in sorted(OP_RULES, key=lambda op: op.name) if op not in (ops.GradOp, ops.DiffOp)]
STEP = 1e-6


def some_application(op: type) -> tuple[Expr, list[Expr]]:
    """A well-shaped application of `op` to variables (even positions i, odd positions j)."""
    names = OP_RULES[op].dsl_attrs
    for dims in itertools.product(DIMS, repeat=op.ARITY):
        operands = [variable(k, d, "ij"[k % 2]) for k, d in enumerate(dims)]
        for values in itertools.product(ATTRIBUTE_VALUES, repeat=len(names)):
            try:
                return apply(op, *operands, **dict(zip(names, values, strict=True))), operands
            except FormulaError:
                continue
    raise AssertionError(f"no small well-shaped application of {op.name} found")


def finite_difference(
    formula: Expr, arrays: list[np.ndarray], position: int, e: np.ndarray, sizes: tuple[int, int]
) -> np.ndarray:
    """d/dx_i of sum_j <F_ij, e_i> for the i-variable at `position`, by central differences."""
    kernel = Kernel.from_expr(formula, "Sum", 1)
    columns = []
    for k in range(arrays[position].shape[1]):
        values = []
        for sign in (1, -1):
            shifted = [a.copy() for a in arrays]
            shifted[position][:, k] += sign * STEP
            (out,) = evaluate(kernel.module("float64"), shifted, sizes)
            values.append((out * e).sum(1))
        columns.append((values[0] - values[1]) / (2 * STEP))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
def test_derivative_rule_matches_finite_differences(op: type) -> None:
    if OP_RULES[op].vjp is None:
        pytest.fail(f"{op.name} has no derivative rule")
    formula, operands = some_application(op)
    rng = np.random.default_rng(zlib.crc32(op.name.encode()))
    size_i, size_j = 3, 4
    arrays = [rng.uniform(0.2, 0.9, size=(size_i if v.category == "i" else size_j, v.dim)) for v in operands]
    e_var = variable(len(operands), formula.dim, "i")
    e = rng.uniform(0.5, 1.5, size=(size_i, formula.dim))
    y_var, y = variable(len(operands) + 1, 1, "j"), np.zeros((size_j, 1))  # fixes N for unary ops
    for position, x in enumerate(operands):
        if x.category != "i":
            continue
        gradient = apply(ops.GradOp, formula, x, e_var)
        kernel = Kernel.from_expr(gradient, "Sum", 1, declared=[*operands, e_var, y_var])
        result = kernel(*arrays, e, y)
        expected = finite_difference(formula, arrays, position, e, (size_i, size_j))
        np.testing.assert_allclose(
            result, expected, rtol=1e-5, atol=1e-6, err_msg=f"{op.name} w.r.t. operand {position}"
        )


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=lambda op: op.name)
def test_gradcheck_and_gradgradcheck_through_torch(op: type) -> None:
    """First and second order, float64, with respect to every operand, through torch.autograd."""
    torch = pytest.importorskip("torch")
    if OP_RULES[op].vjp is None:
        pytest.fail(f"{op.name} has no derivative rule")
    formula, operands = some_application(op)
    generator = torch.Generator().manual_seed(zlib.crc32(op.name.encode()))
    y_var = variable(len(operands), 1, "j")
    kernel = Kernel.from_expr(formula, "Sum", 1, declared=[*operands, y_var])
    inputs = [
        (
            0.2
            + 0.7 * torch.rand(3 if v.category == "i" else 4, v.dim, generator=generator, dtype=torch.float64)
        ).requires_grad_()
        for v in operands
    ]
    inputs.append(torch.zeros(4, 1, dtype=torch.float64))

    def function(*tensors):
        return kernel(*tensors)

    assert torch.autograd.gradcheck(function, tuple(inputs), atol=1e-6, rtol=1e-4)
    assert torch.autograd.gradgradcheck(function, tuple(inputs), atol=1e-5, rtol=1e-3)
