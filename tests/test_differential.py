"""Every op and every reduction of the dialect, compiled for the CPU, against the reference.

Random shapes, both axes, float32 and float64. Formulas are built with the `Expr` API, so
these tests reach the back-end without going through the string parser.
"""

from __future__ import annotations

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, constant, variable
from kir.kernel import Kernel, signature
from kir.reductions import KEOPS_NAMES
from kir.registry import OP_RULES
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]


def _formula(op: type, dim: int) -> Expr:
    """A formula applying `op` to values that depend on i, j and a parameter."""
    x, y, p = variable(0, dim, "i"), variable(1, dim, "j"), variable(2, 1, "p")
    pair = apply(ops.AddOp, apply(ops.MulOp, x, p), y)  # positive, depends on i and j
    if op is ops.PowOp:
        return apply(ops.AddOp, apply(ops.PowOp, pair, exponent=3), apply(ops.PowOp, x, exponent=-2))
    if issubclass(op, ops.BinaryOp):
        return apply(op, pair, y)
    return apply(op, pair)


FORMULA_OPS = [op for op in OP_RULES if op not in (ops.VarOp, ops.ConstantOp)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("op", FORMULA_OPS, ids=lambda op: op.name)
def test_op_matches_reference(op: type, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(abs(hash((op.name, axis, dtype))) % 2**32)
    dim = int(rng.integers(1, 6))
    size_i, size_j = (int(n) for n in rng.choice([1, 7, 37], size=2))
    expr = _formula(op, dim)
    kernel = Kernel(expr, signature([expr]), "Sum", axis, None)
    arrays = [
        rng.uniform(
            0.5, 2.0, size={"i": (size_i, s.dim), "j": (size_j, s.dim), "p": (s.dim,)}[s.category]
        ).astype(dtype)
        for s in kernel.args
    ]
    check_against_reference(kernel, arrays, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("left, right", [(3, 1), (1, 3), (4, 4)])
def test_broadcasting_matches_reference(left: int, right: int, axis: int, dtype: str, rng) -> None:
    x, y = variable(0, left, "i"), variable(1, right, "j")
    expr = apply(ops.DivOp, apply(ops.SubOp, x, y), apply(ops.AddOp, constant(3.0), x))
    kernel = Kernel(expr, signature([expr]), "Sum", axis, None)
    arrays = [
        rng.uniform(0.5, 2.0, size=(9, left)).astype(dtype),
        rng.uniform(0.5, 2.0, (11, right)).astype(dtype),
    ]
    result = check_against_reference(kernel, arrays, dtype)
    assert result.shape == ((9 if axis == 1 else 11), max(left, right))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("reduction", list(KEOPS_NAMES))
def test_reduction_matches_reference(reduction: str, axis: int, dtype: str, rng) -> None:
    x, y = variable(0, 2, "i"), variable(1, 2, "j")
    expr = apply(ops.MulOp, apply(ops.SubOp, x, y), apply(ops.SqDistOp, x, y))  # signed, dim 2
    kernel = Kernel(expr, signature([expr]), reduction, axis, None)
    for size_i, size_j in [(1, 1), (7, 300), (300, 7), (40, 1000)]:
        arrays = [rng.normal(size=(size_i, 2)).astype(dtype), rng.normal(size=(size_j, 2)).astype(dtype)]
        check_against_reference(kernel, arrays, dtype, normwise=reduction == "Sum")


@pytest.mark.parametrize("reduction", list(KEOPS_NAMES))
def test_ties_nan_and_inf_follow_the_reference(reduction: str) -> None:
    """Ties go to the smallest index; NaN is skipped by Min/ArgMin, propagated by Sum/LogSumExp."""
    x, y = variable(0, 1, "i"), variable(1, 1, "j")
    expr = apply(ops.MulOp, x, y)
    kernel = Kernel(expr, signature([expr]), reduction, 1, None)
    xs = np.array([[1.0], [1.0], [-1.0], [np.nan], [0.0]])
    for ys in (
        np.array([[2.0], [1.0], [1.0], [3.0], [1.0]]),
        np.array([[np.nan], [2.0], [-np.inf], [np.inf], [2.0]]),
        np.array([[np.nan], [np.nan], [np.nan], [np.nan], [np.nan]]),
        np.full((600, 1), -np.inf),
    ):
        check_against_reference(kernel, [xs, ys], "float64")


@pytest.mark.parametrize(
    "reduction, neutral",
    [("Sum", 0.0), ("Min", np.inf), ("Max", -np.inf), ("ArgMin", -1), ("LogSumExp", -np.inf)],
)
@pytest.mark.parametrize("axis", AXES)
def test_empty_reduced_index_gives_the_neutral_value(reduction: str, neutral: float, axis: int) -> None:
    x, y = variable(0, 2, "i"), variable(1, 2, "j")
    kernel = Kernel(apply(ops.AddOp, x, y), signature([apply(ops.AddOp, x, y)]), reduction, axis, None)
    xs, ys = np.ones((3, 2)), np.ones((0, 2))
    if axis == 0:
        xs, ys = np.ones((0, 2)), np.ones((3, 2))
    result = kernel(xs, ys)
    assert result.shape == (3, 2)
    assert np.all(result == neutral)


@pytest.mark.parametrize("axis", AXES)
def test_empty_output_index_gives_an_empty_result(axis: int) -> None:
    x, y = variable(0, 2, "i"), variable(1, 2, "j")
    expr = apply(ops.SqDistOp, x, y)
    kernel = Kernel(expr, signature([expr]), "Sum", axis, None)
    xs, ys = (np.ones((0, 2)), np.ones((5, 2))) if axis == 1 else (np.ones((5, 2)), np.ones((0, 2)))
    assert kernel(xs, ys).shape == (0, 1)
