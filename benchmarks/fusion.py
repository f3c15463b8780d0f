"""Fusion benchmark: value + gradients of a Gaussian kernel sum, fused vs separate kernels.

    python benchmarks/fusion.py [--size 20000] [--repeat 5]

Measures, in one run, medians of `repeat` timings (float32, D = 3):
- separate: three kernels — the value (sum over j), the gradient in x (sum over j), the
  gradient in y (sum over i);
- fused by index: value and gradient in x in one kernel over j (one pass over the pairs),
  the gradient in y in one kernel over i (what kir's torch backward does today);
- one pass: all three in one kernel: the sums over j in registers, the gradient in y as a
  column sum accumulated in place (`kir.compile([...], axis=[1, 1, 0])`).
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
    one_pass = kir.compile([VALUE, GRAD_X, GRAD_Y], ALIASES, axis=[1, 1, 0])
    for kernel in (value, grad_x, grad_y, fused_j, one_pass):  # compile outside the timings
        kernel(*(a[:2] for a in arrays))

    separate = median_time(lambda: (value(*arrays), grad_x(*arrays), grad_y(*arrays)), args.repeat)
    fused = median_time(lambda: (fused_j(*arrays), grad_y(*arrays)), args.repeat)
    single = median_time(lambda: one_pass(*arrays), args.repeat)
    references = (value(*arrays), grad_x(*arrays), grad_y(*arrays))
    agree = all(
        float(np.abs(ours - theirs).max() / np.abs(theirs).max()) <= 1e-5
        for ours, theirs in zip(one_pass(*arrays), references, strict=True)
    )
    print(
        f"Gaussian kernel sum, value + grad x + grad y, M = N = {n}, D = 3, float32, median of {args.repeat}"
    )
    print(f"{'schedule':<40}{'time (s)':>10}{'speed-up':>10}")
    print(f"{'separate (3 kernels)':<40}{separate:>10.3f}{1.0:>10.2f}")
    print(f"{'fused by index (2 kernels)':<40}{fused:>10.3f}{separate / fused:>10.2f}")
    print(f"{'one pass (1 kernel, column sums)':<40}{single:>10.3f}{separate / single:>10.2f}")
    print(f"one-pass and separate results agree (max error / max value <= 1e-5): {agree}")


if __name__ == "__main__":
    main()
