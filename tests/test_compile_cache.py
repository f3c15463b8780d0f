"""Kernels built again from the same formula reuse the machine code compiled for the first."""

from __future__ import annotations

import numpy as np

import kir
from kir import kernel as kernel_module

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def test_the_same_formula_compiles_once_per_dtype_and_schedule(rng) -> None:
    first = kir.compile("Exp(-SqDist(x, y) * 0.25) * b", ALIASES)
    second = kir.compile("Exp(-SqDist(x, y) * 0.25) * b", ALIASES)
    x, y, b = rng.normal(size=(7, 3)), rng.normal(size=(9, 3)), rng.normal(size=(9, 1))
    np.testing.assert_array_equal(first(x, y, b), second(x, y, b))
    assert first._compile("float64") is second._compile("float64")
    assert first._compile("float32") is not first._compile("float64")


def test_different_formulas_or_schedules_do_not_share_code() -> None:
    one = kir.compile("Exp(-SqDist(x, y) * 0.5) * b", ALIASES)
    other = kir.compile("Exp(-SqDist(x, y) * 0.75) * b", ALIASES)
    assert one._compile("float32") is not other._compile("float32")
    rescheduled = kir.compile("Exp(-SqDist(x, y) * 0.5) * b", ALIASES)
    rescheduled.use_schedule(kir.pipeline.Schedule(lanes=1, rows=1))
    assert rescheduled._compile("float32") is not one._compile("float32")
    assert rescheduled._compile("float32").lanes == 1


def test_the_cache_is_bounded() -> None:
    previous = kernel_module.CACHE_SIZE
    kernel_module.CACHE_SIZE = 2
    try:
        for scale in (1.5, 2.5, 3.5):
            kir.compile(f"Exp(-SqDist(x, y) * {scale}) * b", ALIASES)._compile("float32")
        assert len(kernel_module._MACHINE_CODE) <= 2
    finally:
        kernel_module.CACHE_SIZE = previous
