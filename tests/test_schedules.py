"""Scheduling passes change how, not what: every reduction under every schedule equals the reference.

Schedules (kir.pipeline.Schedule) combine SIMD lanes (kir-vectorize), row tiles
(kir-tile-rows), block sizes (kir-block-reduction) and chunks of wide vectors (kir-chunk-d);
sizes are odd so that the last lanes, the last rows of a tile and the last block are partial.
Threads split the output rows, column sums are added per thread.
"""

from __future__ import annotations

import numpy as np
import pytest

import kir
from kir.dialect import formula as ops
from kir.frontends.expr import apply, variable
from kir.kernel import Kernel
from kir.pipeline import Schedule
from kir.reductions import KEOPS_REDUCTIONS
from kir.runtime import launch as launch_module
from kir.runtime.threads import get_num_threads, set_num_threads
from tests.conftest import check_against_reference

SCHEDULES = [
    Schedule(lanes=1, rows=1),
    Schedule(lanes=4, rows=3, block=16),
    Schedule(lanes=16, rows=8, block=32),
    Schedule(lanes=8, rows=2, block=256, chunk=2, chunk_threshold=2),
]
OPTIONS = {"KMin": {"opt_arg": 3}, "ArgKMin": {"opt_arg": 3}, "KMin_ArgKMin": {"opt_arg": 3}}
WEIGHTED = {"Max_SumShiftExpWeight", "SumSoftMaxWeight"}
SIZES = [(1, 1), (13, 37), (37, 13), (70, 301)]


def _kernel(reduction: str, axis: int) -> Kernel:
    x, y, w = variable(0, 2, "i"), variable(1, 2, "j"), variable(2, 3, "j")
    options = OPTIONS.get(reduction, {})
    if reduction in WEIGHTED:
        return Kernel.from_expr(apply(ops.ScalprodOp, x, y), reduction, axis, formula2=w, **options)
    formula = apply(ops.MulOp, apply(ops.SubOp, x, y), apply(ops.SqDistOp, x, y))
    return Kernel.from_expr(formula, reduction, axis, **options)


def _arrays(
    kernel: Kernel, rng, size_i: int, size_j: int, dtype: str, ties: bool = False
) -> list[np.ndarray]:
    shape = {"i": lambda d: (size_i, d), "j": lambda d: (size_j, d), "p": lambda d: (d,)}
    draw = (lambda s: rng.integers(-1, 2, size=s)) if ties else (lambda s: rng.normal(size=s))
    return [draw(shape[s.category](s.dim)).astype(dtype) for s in kernel.args]


def _with_schedule(kernel: Kernel, schedule: Schedule) -> Kernel:
    return kernel.use_schedule(schedule)


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"lanes{s.lanes}-rows{s.rows}-block{s.block}")
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("reduction", list(KEOPS_REDUCTIONS))
def test_every_reduction_under_every_schedule(reduction: str, axis: int, schedule: Schedule, rng) -> None:
    kernel = _with_schedule(_kernel(reduction, axis), schedule)
    for dtype in ("float32", "float64"):
        for size_i, size_j in SIZES:
            arrays = _arrays(kernel, rng, size_i, size_j, dtype)
            check_against_reference(
                kernel,
                arrays,
                dtype,
                normwise=reduction in ("Sum", "Max_SumShiftExpWeight", "SumSoftMaxWeight"),
            )


@pytest.mark.parametrize("schedule", SCHEDULES[1:3], ids=["lanes4", "lanes16"])
@pytest.mark.parametrize("reduction", ["ArgMin", "ArgMax", "ArgKMin", "Min_ArgMin", "KMin_ArgKMin"])
def test_ties_keep_the_first_index_across_lanes(reduction: str, schedule: Schedule, rng) -> None:
    """Lane l holds the indices l modulo the width: folding lanes must still pick the first."""
    kernel = _with_schedule(_kernel(reduction, 1), schedule)
    arrays = _arrays(kernel, rng, 11, 203, "float64", ties=True)
    check_against_reference(kernel, arrays, "float64")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: f"lanes{s.lanes}-rows{s.rows}")
def test_value_and_gradients_in_one_pass_under_threads(
    schedule: Schedule, threads: int, rng, monkeypatch
) -> None:
    """Column sums (the gradient in y) are added by every thread and every row of a tile once."""
    monkeypatch.setattr(launch_module, "MIN_PAIRS_PER_THREAD", 0)  # small problems use threads too
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "g = Vi(1)"]
    formulas = [
        "Exp(-SqDist(x, y)) * b",
        "Grad(Exp(-SqDist(x, y)) * b, x, g)",
        "Grad(Exp(-SqDist(x, y)) * b, y, g)",
    ]
    kernel = _with_schedule(kir.compile(formulas, aliases, "Sum", axis=[1, 1, 0]), schedule)
    x, y = rng.normal(size=(83, 3)), rng.normal(size=(41, 3))
    b, g = rng.normal(size=(41, 1)), rng.normal(size=(83, 1))
    previous = get_num_threads()
    set_num_threads(threads)
    try:
        for dtype, tolerance in (("float64", 1e-12), ("float32", 2e-5)):
            value, grad_x, grad_y = kernel(*(a.astype(dtype) for a in (x, y, b, g)))
            k = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1))
            diff = x[:, None] - y[None]
            expected_x = (-2 * (k * b[:, 0][None] * g)[..., None] * diff).sum(1)
            expected_y = (2 * (k * b[:, 0][None] * g)[..., None] * diff).sum(0)
            for got, expected in ((value, k @ b), (grad_x, expected_x), (grad_y, expected_y)):
                assert got.dtype == np.dtype(dtype)
                np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance * np.abs(expected).max())
    finally:
        set_num_threads(previous)


@pytest.mark.parametrize("dim", [64, 70, 256])
def test_wide_vectors_are_chunked_and_exact(dim: int, rng) -> None:
    """D >= 64: the sums over entries run as loops over chunks (the IR shows them)."""
    kernel = kir.compile(
        "Exp(-SqDist(x, y) * s) * b + (x | w)",
        [f"x = Vi({dim})", f"y = Vj({dim})", f"w = Vj({dim})", "b = Vj(1)", "s = Pm(1)"],
    )
    loops = kernel.ir("loops", "float32")
    assert "kirl.chunk" in loops and f"of {dim}" in loops
    assert f"!kir.vec<{dim}xf32" not in loops.split("kirl.func")[1]
    for dtype in ("float32", "float64"):
        arrays = [
            rng.normal(size=s).astype(dtype) / dim**0.5 for s in ((29, dim), (45, dim), (45, dim), (45, 1))
        ]
        check_against_reference(kernel, [*arrays, np.array([0.7], dtype=dtype)], dtype, normwise=True)


def test_default_schedule_uses_simd_lanes_and_row_tiles() -> None:
    kernel = kir.compile("Inv(IntCst(1) + SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
    schedule = kernel.schedule("float32")
    assert schedule.lanes >= 4 and schedule.rows >= 2
    assert kernel.schedule("float64").lanes == schedule.lanes // 2
    loops = kernel.ir("loops")
    assert f"kirl.lanes = {schedule.lanes}" in loops and f"kirl.rows = {schedule.rows}" in loops


def test_narrow_formulas_with_exp_take_wider_lanes_and_one_row() -> None:
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
    plain = kir.compile("Inv(IntCst(1) + SqDist(x, y)) * b", aliases).schedule("float32")
    gaussian = kir.compile("Exp(-SqDist(x, y)) * b", aliases).schedule("float32")
    assert gaussian.lanes == 2 * plain.lanes and gaussian.rows == 1
    wide = kir.compile("Exp(-SqDist(x, y)) * b", ["x = Vi(16)", "y = Vj(16)", "b = Vj(1)"])
    assert wide.schedule("float32").lanes == plain.lanes and wide.schedule("float32").rows > 1


def test_ranked_reductions_take_row_tiles() -> None:
    knn = kir.compile("SqDist(x, y)", ["x = Vi(16)", "y = Vj(16)"], "ArgKMin", opt_arg=10)
    assert knn.schedule("float32").rows == 4 and "kirl.rows = 4" in knn.ir("loops")


def test_wide_formulas_get_fewer_rows_per_tile() -> None:
    narrow = kir.compile("Inv(IntCst(1) + SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
    wide = kir.compile("TensorProd(x, y)", ["x = Vi(40)", "y = Vj(40)"])
    assert wide.schedule("float32").rows == 1 < narrow.schedule("float32").rows


@pytest.mark.parametrize("reduction", ["ArgKMin", "KMin_ArgKMin", "Min_ArgMin", "Max_ArgMax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ranked_reductions_keep_one_state_tested_a_vector_at_a_time(reduction: str, dtype: str, rng) -> None:
    """Vectorized K-min and the like: one state per row, no per-lane states to fold; exact
    with ties, NaN, infinities, K above N and sizes that leave partial vectors."""
    kernel = kir.compile("SqDist(x, y) * s", ["x = Vi(2)", "y = Vj(2)", "s = Vj(1)"], reduction, opt_arg=12)
    loops = kernel.ir("loops", dtype)
    assert "kirl.lanes" in loops and "acc_reduce_lanes" not in loops and ", lanes = " not in loops
    for size_j in (7, 37, 300):
        x = rng.integers(-1, 2, size=(41, 2)).astype(dtype)
        y = rng.integers(-1, 2, size=(size_j, 2)).astype(dtype)
        s = rng.integers(0, 2, size=(size_j, 1)).astype(dtype)
        s[rng.random(size_j) < 0.1] = np.nan
        s[rng.random(size_j) < 0.1] = np.inf
        check_against_reference(kernel, [x, y, s], dtype)


@pytest.mark.parametrize("value", [0, -1, 2.5, "2"])
def test_bad_thread_counts_are_refused(value) -> None:
    with pytest.raises(kir.KirError, match="number of threads"):
        set_num_threads(value)
