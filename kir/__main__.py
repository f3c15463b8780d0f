"""`python -m kir`: a Gaussian kernel sum on generated data, end to end.

Prints the formula's IR at the formula and loop levels, the result's largest relative error
against the float64 reference evaluator, and its time next to NumPy's dense computation.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kir
from kir.reference import evaluate

FORMULA = "Exp(-SqDist(x, y) * g) * b"


def _median_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def numpy_dense(x: np.ndarray, y: np.ndarray, b: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The same sum with the (M, N) kernel matrix stored: what kir avoids."""
    squared = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T
    return np.exp(-squared * g[0]) @ b


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10000, help="M = N (default 10000)")
    parser.add_argument("--dim", type=int, default=3, help="D (default 3)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median is shown")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    size, dim = args.size, args.dim
    x = rng.random((size, dim)).astype(args.dtype)
    y = rng.random((size, dim)).astype(args.dtype)
    b = rng.random((size, 1)).astype(args.dtype)
    g = np.array([2.0], dtype=args.dtype)
    aliases = [f"x = Vi({dim})", f"y = Vj({dim})", "b = Vj(1)", "g = Pm(1)"]

    print(f"kir {kir.__version__}: out[i] = sum_j exp(-g |x_i - y_j|^2) b_j")
    print(f"M = N = {size}, D = {dim}, {args.dtype}\n")
    start = time.perf_counter()
    kernel = kir.compile(FORMULA, aliases, reduction="Sum", axis=1)
    result = kernel(x, y, b, g)
    first_call = time.perf_counter() - start

    print("Formula-level IR (kir dialect):")
    print(kernel.ir("kir", args.dtype))
    print("Loop-level IR (kirl + scf), what the CPU back-end compiles:")
    print(kernel.ir("loops", args.dtype))

    (reference,) = evaluate(kernel.module("float64"), [a.astype(np.float64) for a in (x, y, b, g)])
    error = float(np.max(np.abs(result - reference) / np.abs(reference)))
    print(f"max relative error vs the float64 reference: {error:.2e}")

    kir_time = _median_time(lambda: kernel(x, y, b, g), args.repeat)
    dense_time = _median_time(lambda: numpy_dense(x, y, b, g), args.repeat)
    dense_error = float(np.max(np.abs(numpy_dense(x, y, b, g) - reference) / np.abs(reference)))
    dense_bytes = size * size * np.dtype(args.dtype).itemsize
    print(f"compile + first call:             {first_call * 1e3:8.1f} ms")
    print(
        f"kir (median of {args.repeat}):              {kir_time * 1e3:8.1f} ms   "
        f"{size * size / kir_time:.2e} pairs/s, memory O(M + N)"
    )
    print(
        f"NumPy dense (median of {args.repeat}):      {dense_time * 1e3:8.1f} ms   "
        f"{size * size / dense_time:.2e} pairs/s, stores a {dense_bytes / 2**20:.0f} MiB matrix, "
        f"max relative error {dense_error:.2e}"
    )
    print(f"kir / NumPy time ratio: {kir_time / dense_time:.2f}")


if __name__ == "__main__":
    main()
