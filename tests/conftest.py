"""Shared helpers: random arguments for a kernel, and the reference comparison."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest

from kir.kernel import Kernel
from kir.reference import evaluate

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def pytest_configure(config: pytest.Config) -> None:
    """The tests keep compiled kernels in a folder of their own, removed at the end."""
    if "KIR_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="kir-test-cache-")
        os.environ["KIR_CACHE_DIR"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def random_arguments(
    kernel: Kernel,
    rng: np.random.Generator,
    size_i: int,
    size_j: int,
    dtype: str,
    low: float = 0.5,
    high: float = 2.0,
) -> list[np.ndarray]:
    """Arrays matching the kernel's signature, entries in [low, high)."""
    arrays = []
    for spec in kernel.args:
        shape = {"i": (size_i, spec.dim), "j": (size_j, spec.dim), "p": (spec.dim,)}[spec.category]
        arrays.append(rng.uniform(low, high, size=shape).astype(dtype))
    return arrays


def max_relative_error(result: np.ndarray, reference: np.ndarray) -> float:
    """max |result - reference| / max(|reference|, tiny), NaN-aware (NaN must match NaN)."""
    result = np.asarray(result, dtype=np.float64)
    nan_mismatch = np.isnan(result) != np.isnan(reference)
    assert not nan_mismatch.any(), "NaN in one result but not the other"
    same_inf = np.isinf(reference) & (result == reference)
    scale = np.maximum(np.abs(reference), 1e-30)
    with np.errstate(invalid="ignore"):
        errors = np.where(np.isnan(reference) | same_inf, 0.0, np.abs(result - reference) / scale)
    return float(errors.max()) if errors.size else 0.0


def check_against_reference(
    kernel: Kernel,
    arrays: list[np.ndarray],
    dtype: str,
    tolerance: float | None = None,
    normwise: bool = False,
):
    """Run the kernel and the reference evaluator on `arrays`; assert they agree.

    `normwise` measures errors relative to the largest reference entry, the right yardstick
    for sums of signed terms, whose small entries come from cancellation.
    """
    results = kernel(*arrays)
    results = results if isinstance(results, tuple) else (results,)
    references = evaluate(kernel.module(dtype), arrays)
    assert len(results) == len(references)
    for result, reference in zip(results, references, strict=True):
        assert result.shape == reference.shape
        if reference.dtype == np.int64:
            np.testing.assert_array_equal(result, reference)
            continue
        if normwise:
            scale = max(np.abs(reference).max(), 1e-30) if reference.size else 1.0
            error = float(np.abs(result - reference).max() / scale) if result.size else 0.0
        else:
            error = max_relative_error(result, reference)
        assert error <= (tolerance or TOLERANCE[dtype]), f"max relative error {error:.3g}"
    return results[0] if len(results) == 1 else results


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
