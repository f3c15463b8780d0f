"""Float64 ground truth on sampled rows, and each method's error against it (benchmarks/cpu.py).

The truth is computed densely in float64, independently of every method, on up to 256 rows
spread over the output (all of M would cost as much as the benchmark itself at 1e5). The error
of a method is normwise: max |result - truth| / max |truth| over those rows; for ArgKMin, the
float64 squared distances of the neighbours it returns (sorted per row) against the true K
smallest, so that ties and near-ties between equally good neighbours do not count as errors.
"""

from __future__ import annotations

import numpy as np

SAMPLE_ROWS = 256
ROWS_PER_CHUNK = 16
TOLERANCE = {"gauss": 1e-4, "grad": 1e-4, "lse": 1e-4, "argkmin": 1e-3}
"""Largest error accepted: float32 accumulation and distance rounding stay far below; ArgKMin's
nearest distances are small, so the rounding of |x|^2 + |y|^2 - 2 x.y (faiss) weighs more."""


def sample_rows(m: int) -> np.ndarray:
    return np.unique(np.linspace(0, m - 1, min(m, SAMPLE_ROWS)).astype(np.int64))


def _reduce(kind: str, d2: np.ndarray, x: np.ndarray, y: np.ndarray, rest: list, k: int) -> np.ndarray:
    if kind == "argkmin":
        return np.sort(np.partition(d2, k - 1, axis=1)[:, :k], axis=1)
    if kind == "lse":
        s = rest[0].T - d2
        top = s.max(1, keepdims=True)
        return top + np.log(np.exp(s - top).sum(1, keepdims=True))
    weights = np.exp(-d2) * rest[0].T
    if kind == "gauss":
        return weights.sum(1, keepdims=True)
    return -2 * rest[1] * (x * weights.sum(1, keepdims=True) - weights @ y)


def truth(kind: str, arrays: list[np.ndarray], rows: np.ndarray, k: int = 0) -> np.ndarray:
    """The exact (float64) result of `kind` on `rows` of x."""
    x, y, *rest = (a.astype(np.float64) for a in arrays)
    parts = []
    for chunk in np.array_split(rows, max(1, len(rows) // ROWS_PER_CHUNK)):
        xr = x[chunk]
        d2 = np.maximum((xr * xr).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * xr @ y.T, 0)
        row_rest = rest[:1] + [e[chunk] for e in rest[1:]]  # b is over j, e (grad) over i
        parts.append(_reduce(kind, d2, xr, y, row_rest, k))
    return np.concatenate(parts)


def error(
    kind: str, result: np.ndarray, arrays: list[np.ndarray], rows: np.ndarray, expected: np.ndarray
) -> float:
    """Normwise relative error of `result` (all rows) against the truth on `rows`."""
    if kind != "argkmin":
        if result.shape[0] != len(arrays[0]):
            return float("inf")
        got = result[rows].astype(np.float64)
        return float(np.abs(got - expected).max() / np.abs(expected).max())
    x, y = (a.astype(np.float64) for a in arrays[:2])
    index = result[rows]
    if index.shape != expected.shape or index.min() < 0 or index.max() >= len(y):
        return float("inf")
    distances = np.sort(((x[rows][:, None, :] - y[index]) ** 2).sum(-1), axis=1)
    return float(np.abs(distances - expected).max() / np.abs(expected).max())
