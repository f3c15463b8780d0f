"""Fusion benchmark: value + gradients of a Gaussian kernel sum, fused vs separate kernels.

    python benchmarks/fusion.py [--size 20000] [--repeat 5]

Measures, in one run, medians of `repeat` timings (float32, D = 3):
- separate: three kernels — the value (sum over j), the gradient in x (sum over j), the
  gradient in y (sum over i);
- fused: what kir's torch backward does — value and gradient in x in one kernel over j
  (one pass over the pairs), the gradient in y in one kernel over i.
The issue's target (value + both gradients fused >= 1.8x) needs fusion across the two
reduced indices (one pass accumulating rows and columns), which kir does not do yet.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import kir

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "g = Vi(1)"]
VALUE = "Exp(-SqDist(x, y)) * b"
GRAD_X = "Grad(Exp(-SqDist(x, y)) * b, x, g)"
GRAD_Y = "Grad(Exp(-SqDist(x, y)) * b, y, g)"


def median_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.size
    arrays = [rng.random((n, 3)), rng.random((n, 3)), rng.random((n, 1)), rng.random((n, 1))]
    arrays = [a.astype(np.float32) for a in arrays]

    value = kir.compile(VALUE, ALIASES)
    grad_x = kir.compile(GRAD_X, ALIASES)
    grad_y = kir.compile(GRAD_Y, ALIASES, axis=0)
    fused_j = kir.compile([VALUE, GRAD_X], ALIASES)
    for kernel in (value, grad_x, grad_y, fused_j):  # compile outside the timings
        kernel(*(a[:2] for a in arrays))

    separate = median_time(lambda: (value(*arrays), grad_x(*arrays), grad_y(*arrays)), args.repeat)
    fused = median_time(lambda: (fused_j(*arrays), grad_y(*arrays)), args.repeat)
    v1, gx1 = fused_j(*arrays)
    agree = np.allclose(v1, value(*arrays), rtol=1e-6) and np.allclose(
        gx1, grad_x(*arrays), rtol=1e-5, atol=1e-6
    )
    print(
        f"Gaussian kernel sum, value + grad x + grad y, M = N = {n}, D = 3, float32, median of {args.repeat}"
    )
    print(f"{'schedule':<40}{'time (s)':>10}{'speed-up':>10}")
    print(f"{'separate (3 kernels)':<40}{separate:>10.3f}{1.0:>10.2f}")
    print(f"{'fused by index (2 kernels)':<40}{fused:>10.3f}{separate / fused:>10.2f}")
    print(f"fused and separate results agree: {agree}")


if __name__ == "__main__":
    main()
