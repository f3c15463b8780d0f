"""Every reduction, with Genred's options, compiled for the CPU against the reference evaluator."""

from __future__ import annotations

import numpy as np
import pytest

import kir
from kir.dialect import formula as ops
from kir.frontends.expr import apply, variable
from kir.kernel import Kernel
from kir.reductions import KEOPS_REDUCTIONS
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]
OPTIONS = {"KMin": {"opt_arg": 3}, "ArgKMin": {"opt_arg": 3}, "KMin_ArgKMin": {"opt_arg": 3}}
WEIGHTED = {"Max_SumShiftExpWeight", "SumSoftMaxWeight"}
SIZES = [(1, 1), (7, 300), (300, 7), (40, 1000)]


def _kernel(reduction: str, axis: int, **options) -> Kernel:
    x, y, w = variable(0, 2, "i"), variable(1, 2, "j"), variable(2, 3, "j")
    if reduction in WEIGHTED or options.get("formula2") is not None:
        # A scalar formula and weights of dimension 3 (KeOps' formula2).
        return Kernel.from_expr(apply(ops.ScalprodOp, x, y), reduction, axis, formula2=w, **options)
    return Kernel.from_expr(
        apply(ops.MulOp, apply(ops.SubOp, x, y), apply(ops.SqDistOp, x, y)), reduction, axis, **options
    )


def _arrays(kernel: Kernel, rng, size_i: int, size_j: int, dtype: str) -> list[np.ndarray]:
    shape = {"i": lambda d: (size_i, d), "j": lambda d: (size_j, d), "p": lambda d: (d,)}
    return [rng.normal(size=shape[s.category](s.dim)).astype(dtype) for s in kernel.args]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("reduction", list(KEOPS_REDUCTIONS))
def test_reduction_matches_reference(reduction: str, axis: int, dtype: str, rng) -> None:
    kernel = _kernel(reduction, axis, **OPTIONS.get(reduction, {}))
    for size_i, size_j in SIZES:
        arrays = _arrays(kernel, rng, size_i, size_j, dtype)
        check_against_reference(
            kernel, arrays, dtype, normwise=reduction in ("Sum", "Max_SumShiftExpWeight", "SumSoftMaxWeight")
        )


@pytest.mark.parametrize("k", [1, 2, 5, 12])
@pytest.mark.parametrize("axis", AXES)
def test_argkmin_for_several_k_against_numpy(k: int, axis: int, rng) -> None:
    """Includes K larger than the reduced size: missing ranks are (+inf, -1)."""
    kernel = kir.compile("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "KMin_ArgKMin", axis=axis, opt_arg=k)
    x, y = rng.normal(size=(37, 3)), rng.normal(size=(9, 3))
    values, indices = kernel(x, y)
    distances = ((x[:, None] - y[None]) ** 2).sum(-1)
    distances = distances if axis == 1 else distances.T
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    kept = min(k, distances.shape[1])
    np.testing.assert_array_equal(indices[:, :kept], order)
    np.testing.assert_allclose(values[:, :kept], np.take_along_axis(distances, order, 1), rtol=1e-12)
    assert np.all(indices[:, kept:] == -1) and np.all(values[:, kept:] == np.inf)


def test_logsumexp_with_weights_and_softmax(rng) -> None:
    aliases = ["x = Vi(2)", "y = Vj(2)", "b = Vj(3)"]
    x, y, b = rng.normal(size=(20, 2)), rng.normal(size=(30, 2)), rng.uniform(0.5, 2, size=(30, 3))
    scores = x @ y.T
    weighted = kir.compile("x | y", aliases, "LogSumExp", formula2="b")(x, y, b)
    expected = np.log(np.exp(scores) @ b)
    np.testing.assert_allclose(weighted, expected, rtol=1e-12)
    softmax = kir.compile("x | y", aliases, "SumSoftMaxWeight", formula2="b")(x, y, b)
    probabilities = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    np.testing.assert_allclose(softmax, probabilities @ b, rtol=1e-12)
    raw = kir.compile("x | y", aliases, "Max_SumShiftExp")(x, y, b)
    np.testing.assert_allclose(raw[:, :1] + np.log(raw[:, 1:]), np.log(np.exp(scores).sum(1, keepdims=True)))


def test_logsumexp_does_not_overflow(rng) -> None:
    kernel = kir.compile("-SqDist(x, y) * s", ["x = Vi(1)", "y = Vj(1)", "s = Pm(1)"], "LogSumExp")
    x, y = rng.normal(size=(5, 1)), rng.normal(size=(1000, 1))
    result = kernel(x, y, np.array([-1e4]))  # exp(+huge): overflows without the running max
    d = 1e4 * (x - y.T) ** 2
    expected = d.max(1) + np.log(np.exp(d - d.max(1, keepdims=True)).sum(1))
    np.testing.assert_allclose(result[:, 0], expected, rtol=1e-12)


def test_min_argmin_returns_a_tuple(rng) -> None:
    kernel = kir.compile("SqDist(x, y)", ["x = Vi(2)", "y = Vj(2)"], "Min_ArgMin")
    x, y = rng.normal(size=(8, 2)), rng.normal(size=(13, 2))
    values, indices = kernel(x, y)
    distances = ((x[:, None] - y[None]) ** 2).sum(-1)
    np.testing.assert_allclose(values[:, 0], distances.min(1), rtol=1e-12)
    np.testing.assert_array_equal(indices[:, 0], distances.argmin(1))
    assert indices.dtype == np.int64


@pytest.mark.parametrize(
    "reduction", ["Min", "Max", "ArgMin", "ArgMax", "KMin", "ArgKMin", "Sum", "LogSumExp"]
)
def test_ties_nan_and_inf_follow_the_reference(reduction: str) -> None:
    """Ties go to the smallest index; NaN is skipped by the Min/Max family, propagated by sums."""
    x, y = variable(0, 1, "i"), variable(1, 1, "j")
    kernel = Kernel.from_expr(
        apply(ops.MulOp, x, y), reduction, 1, **({"opt_arg": 2} if "K" in reduction else {})
    )
    xs = np.array([[1.0], [1.0], [-1.0], [np.nan], [0.0]])
    for ys in (
        np.array([[2.0], [1.0], [1.0], [3.0], [1.0]]),
        np.array([[np.nan], [2.0], [-np.inf], [np.inf], [2.0]]),
        np.full((5, 1), np.nan),
        np.full((600, 1), -np.inf),
        np.full((300, 1), np.inf),
    ):
        check_against_reference(kernel, [xs, ys], "float64")


NEUTRAL = {
    "Sum": 0.0,
    "Min": np.inf,
    "Max": -np.inf,
    "ArgMin": -1,
    "ArgMax": -1,
    "LogSumExp": -np.inf,
    "KMin": np.inf,
    "ArgKMin": -1,
    "Zero": 0.0,
}


@pytest.mark.parametrize("reduction", list(NEUTRAL))
@pytest.mark.parametrize("axis", AXES)
def test_empty_reduced_index_gives_the_neutral_value(reduction: str, axis: int) -> None:
    options = {"opt_arg": 2} if "K" in reduction else {}
    kernel = Kernel.from_expr(
        apply(ops.AddOp, variable(0, 2, "i"), variable(1, 2, "j")), reduction, axis, **options
    )
    xs, ys = (np.ones((3, 2)), np.ones((0, 2))) if axis == 1 else (np.ones((0, 2)), np.ones((3, 2)))
    result = kernel(xs, ys)
    assert result.shape == (3, 2 * options.get("opt_arg", 1))
    assert np.all(result == NEUTRAL[reduction])


@pytest.mark.parametrize(
    "reduction, options, message",
    [
        ("ArgKMin", {}, "needs opt_arg"),
        ("ArgKMin", {"opt_arg": 0}, "needs opt_arg"),
        ("SumSoftMaxWeight", {}, "needs formula2"),
        ("Sum", {"formula2": "y"}, "takes no formula2"),
        ("SumSoftMaxWeight", {"formula2": "y", "formula": "x"}, "reduces a scalar formula"),
        ("Median", {}, "unknown reduction 'Median'"),
    ],
)
def test_bad_reduction_options_name_the_problem(reduction: str, options: dict, message: str) -> None:
    formula = options.pop("formula", "SqDist(x, y)")
    with pytest.raises(kir.KirError, match=message):
        kir.compile(formula, ["x = Vi(2)", "y = Vj(2)"], reduction, **options)
