"""Every op of the dialect, compiled for the CPU, against the reference evaluator.

Random shapes, both axes, float32 and float64. Formulas are built with the `Expr` API, so
these tests reach the back-end without going through the string parser.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, constant, variable
from kir.kernel import Kernel
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]


def _formula(op: type, dim: int) -> Expr:
    """A formula applying `op` to values that depend on i, j and a parameter."""
    x, y, p = variable(0, dim, "i"), variable(1, dim, "j"), variable(2, 1, "p")
    pair = apply(ops.AddOp, apply(ops.MulOp, x, p), y)  # positive, depends on i and j
    if op is ops.PowOp:
        return apply(ops.AddOp, apply(ops.PowOp, pair, exponent=3), apply(ops.PowOp, x, exponent=-2))
    if op.ARITY == 2:
        return apply(op, pair, y)
    return apply(op, pair)


# The ops of the walking skeleton, on one generic formula; each op group has its own test file
# (tests/test_ops_*.py) with formulas that respect its shape rules and domains.
FORMULA_OPS = [
    ops.NegOp,
    ops.ExpOp,
    ops.LogOp,
    ops.SqrtOp,
    ops.SquareOp,
    ops.PowOp,
    ops.AddOp,
    ops.SubOp,
    ops.MulOp,
    ops.DivOp,
    ops.PowfOp,
    ops.SumOp,
    ops.ScalprodOp,
    ops.SqDistOp,
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("op", FORMULA_OPS, ids=lambda op: op.name)
def test_op_matches_reference(op: type, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{op.name} {axis} {dtype}".encode()))
    dim = int(rng.integers(1, 6))
    size_i, size_j = (int(n) for n in rng.choice([1, 7, 37], size=2))
    expr = _formula(op, dim)
    kernel = Kernel.from_expr(expr, "Sum", axis)
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
    kernel = Kernel.from_expr(expr, "Sum", axis)
    arrays = [
        rng.uniform(0.5, 2.0, size=(9, left)).astype(dtype),
        rng.uniform(0.5, 2.0, (11, right)).astype(dtype),
    ]
    result = check_against_reference(kernel, arrays, dtype)
    assert result.shape == ((9 if axis == 1 else 11), max(left, right))
