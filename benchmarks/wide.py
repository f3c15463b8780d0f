"""Wide variables: a Gaussian kernel sum at D = 256, kir against torch's dense computation.

    python benchmarks/wide.py [--size 10000] [--dim 256] [--repeat 3] [--threads N]

out_i = sum_j exp(-|x_i - y_j|^2) b_j, float32. torch dense builds the (M, N) matrix:
exp(-cdist(x, y)^2) @ b. Each method runs in a fresh process (so that peak memory is its
own): the table gives the median time of `repeat` calls after one warm-up call, and the peak
resident memory the call added on top of the inputs, at M = N = size and twice that: memory
linear in M = N grows 2x (at most the inputs' own size), quadratic 4x.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, size: int, dim: int, repeat: int, threads: int | None) -> dict:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((size, dim)) / dim**0.5).astype(np.float32)
    y = (rng.standard_normal((size, dim)) / dim**0.5).astype(np.float32)
    b = rng.standard_normal((size, 1)).astype(np.float32)
    if method == "kir":
        import kir
        from kir.runtime.threads import set_num_threads

        set_num_threads(threads)
        kernel = kir.compile("Exp(-SqDist(x, y)) * b", [f"x = Vi({dim})", f"y = Vj({dim})", "b = Vj(1)"])
        small = min(size, 64)
        kernel(x[:small], y[:small], b[:small])  # compile before measuring memory

        def run() -> np.ndarray:
            return kernel(x, y, b)
    else:
        import torch

        if threads:
            torch.set_num_threads(threads)
        tx, ty, tb = (torch.from_numpy(a) for a in (x, y, b))

        def run() -> np.ndarray:
            return (torch.exp(-(torch.cdist(tx, ty) ** 2)) @ tb).numpy()

    baseline = peak_rss_mib()
    result = run()
    memory = peak_rss_mib() - baseline
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return {"time": float(np.median(times)), "memory": memory, "checksum": float(np.sum(result[:100]))}


def measure(method: str, size: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", method, "--size", str(size), "--dim", str(args.dim)]
    command += ["--repeat", str(args.repeat)] + (["--threads", str(args.threads)] if args.threads else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--child", choices=["kir", "torch"], default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.size, args.dim, args.repeat, args.threads)))
        return

    rows = {}
    for method in ("torch", "kir"):
        rows[method] = (measure(method, args.size, args), measure(method, 2 * args.size, args))
    size, twice = args.size, 2 * args.size
    print(f"Gaussian kernel sum, D = {args.dim}, M = N = {size}, float32 (memory also at M = N = {twice})")
    inputs = [(2 * n * args.dim + n) * 4 / 2**20 for n in (size, twice)]
    print(f"inputs: {inputs[0]:.1f} MiB, at 2x size {inputs[1]:.1f} MiB")
    header = ("method", "time (s)", "vs kir", "memory (MiB)", "at 2x size")
    print("{:8} {:>9} {:>7} {:>13} {:>11}".format(*header))
    for method, (one, two) in rows.items():
        speed = one["time"] / rows["kir"][0]["time"]
        cells = (method, one["time"], speed, one["memory"], two["memory"])
        print("{:8} {:9.3f} {:7.2f} {:13.1f} {:11.1f}".format(*cells))
    ours, theirs = rows["kir"][0]["checksum"], rows["torch"][0]["checksum"]
    print(
        f"checksum of 100 rows: kir {ours:.6g}, torch {theirs:.6g} (relative difference "
        f"{abs(ours - theirs) / abs(theirs):.2g})"
    )


if __name__ == "__main__":
    main()
