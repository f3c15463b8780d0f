"""Sums apply their factors that do not depend on the reduced index once per row
(kir-lower-to-loops): sum_j a_i f_ij = a_i sum_j f_ij. Compared with the reference evaluator,
which computes the formula as written, in float64."""

from __future__ import annotations

import numpy as np
import pytest

import kir
from tests.conftest import check_against_reference, random_arguments

FORMULAS = [
    # (formula, aliases): a scalar i-factor, a vector i-factor, negations and constants,
    # a parameter, the Gaussian gradient autodiff writes, a factor shared with a column sum.
    ("e * Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "e = Vi(1)"]),
    ("x * Exp(-SqDist(x, y))", ["x = Vi(3)", "y = Vj(3)"]),
    ("-(IntCst(2) * (e * (x - y)))", ["x = Vi(3)", "y = Vj(3)", "e = Vi(1)"]),
    ("-(-(p * e) * b)", ["e = Vi(2)", "b = Vj(1)", "p = Pm(1)"]),
    ("Grad(Exp(-SqDist(x, y)) * b, x, e)", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "e = Vi(1)"]),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("formula,aliases", FORMULAS)
def test_factored_sums_match_the_reference(
    formula: str, aliases: list[str], axis: int, dtype: str, rng
) -> None:
    kernel = kir.compile(formula, aliases, "Sum", axis=axis)
    arrays = random_arguments(kernel, rng, 37, 53, dtype, low=-1.0, high=1.0)
    check_against_reference(kernel, arrays, dtype, normwise=True)


def test_factors_leave_the_loop() -> None:
    kernel = kir.compile(*FORMULAS[0], "Sum")
    loops = kernel.ir("loops")
    assert "!kirl.acc<sum, 1xf32" in loops
    # e is multiplied after the loop, once per row: the pair loop's products are b * exp(...)
    after_loop = loops[loops.index("kirl.acc_finalize") :]
    assert "kir.mul" in after_loop and "%e" in after_loop


def test_a_vector_factor_shrinks_the_state() -> None:
    """sum_j x_i exp(-|x_i - y_j|^2): the loop sums one entry per pair, not three."""
    kernel = kir.compile(*FORMULAS[1], "Sum")
    assert "!kirl.acc<sum, 1xf32" in kernel.ir("loops")
    assert "!kirl.acc<sum, 3xf32" not in kernel.ir("loops")


@pytest.mark.parametrize("reduction", ["Min", "Max", "LogSumExp", "ArgKMin"])
def test_non_linear_reductions_are_not_factored(reduction: str, rng) -> None:
    aliases = ["x = Vi(3)", "y = Vj(3)", "e = Vi(1)"]
    kernel = kir.compile(
        "e * SqDist(x, y)", aliases, reduction, opt_arg=3 if reduction == "ArgKMin" else None
    )
    finalize = kernel.ir("loops").split("kirl.acc_finalize")[1]
    assert "kir.mul" not in finalize.split("kirl.store")[0]
    arrays = random_arguments(kernel, rng, 21, 34, "float64")
    check_against_reference(kernel, arrays, "float64")


def test_special_values_of_the_factor_propagate(rng) -> None:
    """e = NaN or inf, and terms that are zero: what IEEE gives for e * (sum of terms)."""
    kernel = kir.compile(*FORMULAS[0], "Sum")
    x, y, b, e = random_arguments(kernel, rng, 4, 40, "float64")
    e[:, 0] = [np.nan, np.inf, -np.inf, 0.0]
    out = kernel(x, y, b, e)
    sums = (np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) @ b)[:, 0]
    assert np.isnan(out[0, 0]) and out[1, 0] == np.inf and out[2, 0] == -np.inf and out[3, 0] == 0.0
    assert np.all(sums > 0)
