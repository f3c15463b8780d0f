"""The call path: launch plans kept per argument layout, threads by problem size, data pointers."""

from __future__ import annotations

import numpy as np
import pytest

import kir
from kir.errors import ArgumentError
from kir.runtime import launch as launch_module
from kir.runtime.launch import LaunchPlan, Output, data_pointer

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
FORMULA = "Exp(-SqDist(x, y) * s) * b"


def _dense(x: np.ndarray, y: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    x, y, b = (a.astype(np.float64) for a in (x, y, b))
    return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) * float(s.reshape(-1)[0])) @ b


def _arrays(rng: np.random.Generator, m: int, n: int, dtype: str = "float32") -> list[np.ndarray]:
    shapes = ((m, 3), (n, 3), (n, 1))
    return [rng.normal(size=s).astype(dtype) for s in shapes] + [np.array([0.5], dtype=dtype)]


def test_calls_with_new_sizes_dtypes_and_layouts_are_right(rng) -> None:
    kernel = kir.compile(FORMULA, ALIASES)
    for m, n, dtype in ((40, 50, "float32"), (40, 50, "float32"), (7, 123, "float64"), (40, 50, "float32")):
        arrays = _arrays(rng, m, n, dtype)
        np.testing.assert_allclose(kernel(*arrays), _dense(*arrays), rtol=2e-5, atol=1e-5)
    x, y, b, s = _arrays(rng, 30, 20)
    fortran = np.asfortranarray(x)  # another layout: checked and copied, not read wrongly
    strided = np.repeat(y, 2, axis=0)[::2]
    row_param = s.reshape(1, 1)
    np.testing.assert_allclose(
        kernel(fortran, strided, b, row_param), _dense(x, y, b, s), rtol=2e-5, atol=1e-5
    )
    np.testing.assert_array_equal(fortran, x)  # inputs untouched


def test_bad_arguments_are_refused_after_good_calls(rng) -> None:
    kernel = kir.compile(FORMULA, ALIASES)
    x, y, b, s = _arrays(rng, 20, 30)
    kernel(x, y, b, s)
    with pytest.raises(ArgumentError, match="expected a 2D array of shape"):
        kernel(x[:, :2].copy(), y, b, s)
    with pytest.raises(ArgumentError, match="has 29 rows but"):
        kernel(x, y, b[:29].copy(), s)
    with pytest.raises(ArgumentError, match="share one dtype"):
        kernel(x.astype(np.float64), y, b, s)
    with pytest.raises(ArgumentError, match="takes 4 arguments"):
        kernel(x, y, b)


def test_small_problems_run_on_one_thread_and_large_ones_on_all(monkeypatch) -> None:
    monkeypatch.setattr(launch_module, "get_num_threads", lambda: 2)
    outputs = [Output(100, 1, np.float32, False)]

    def plan(rows: int, reduced: int) -> LaunchPlan:
        return LaunchPlan(None, 16, [False], outputs, rows, reduced)

    assert plan(100, 100).threads() == 1  # 10^4 pairs: a thread costs more than it saves
    assert plan(10, 10**6).threads() == 1  # fewer rows than MIN_ROWS_PER_THREAD per thread
    assert plan(10**4, 10**4).threads() == 2


def test_data_pointer_matches_numpy(rng) -> None:
    base = rng.normal(size=(10, 4))
    read_only = base.copy()
    read_only.flags.writeable = False
    for array in (base, base[3:], base[:, 1:], read_only, np.empty((0, 3)), base.reshape(-1)):
        assert data_pointer(array) == array.ctypes.data


@pytest.mark.parametrize("lanes_and_rows", [(1, 1), (4, 2), (16, 8)])
@pytest.mark.parametrize("threads", [2, 3])
def test_few_rows_split_the_reduced_index_over_threads(lanes_and_rows, threads, rng, monkeypatch) -> None:
    """Sums over few output rows: each thread sums a range of j, the partial sums are added."""
    monkeypatch.setattr(launch_module, "MIN_PAIRS_PER_THREAD", 64)
    lanes, rows = lanes_and_rows
    kernel = kir.compile([FORMULA, "b * x"], ALIASES).use_schedule(
        kir.pipeline.Schedule(lanes=lanes, rows=rows)
    )
    previous = kir.get_num_threads()
    kir.set_num_threads(threads)
    try:
        for m, n, dtype, split in (
            (3, 1001, "float64", True),
            (5, 4099, "float32", True),
            (1, 37, "float64", False),
        ):
            x, y, b, s = _arrays(rng, m, n, dtype)
            plan = kernel._launch_plan(dtype, m, n)
            assert plan.reduced_splits() == (threads if split else 1)
            value, linear = kernel(x, y, b, s)
            np.testing.assert_allclose(value, _dense(x, y, b, s), rtol=1e-5 if dtype == "float32" else 1e-12)
            np.testing.assert_allclose(linear, b.sum() * x, rtol=1e-5 if dtype == "float32" else 1e-12)
    finally:
        kir.set_num_threads(previous)


def test_other_reductions_over_few_rows_keep_one_thread(monkeypatch) -> None:
    monkeypatch.setattr(launch_module, "MIN_PAIRS_PER_THREAD", 64)
    kernel = kir.compile("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", opt_arg=3)
    assert kernel._launch_plan("float32", 3, 10**4).reduced_splits() == 1
