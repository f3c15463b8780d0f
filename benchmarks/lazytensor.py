"""LazyTensor benchmark: the same pykeops-style torch code on kir.torch, on pykeops.torch, and
dense torch, in one table.

    python benchmarks/lazytensor.py [--quick] [--repeat R] [--only NAME ...]

Cases (float32, torch CPU tensors, x, y ~ N(0, 1/4) in 3D; --only takes the names in brackets):
- [small_call] the whole call (K @ b, LazyTensors built inside) on 100 x 100 points: the
  front-end's overhead;
- [gauss] (K @ b) with K_ij = exp(-|x_i - y_j|^2), then the gradient in x (backward),
  M = N = 1e4 (2e3 with --quick);
- [knn] argKmin(K=10) over j, 1e4 x 1e4 (2e3 with --quick);
- [ranges] the Gaussian K @ b restricted to the pairs of clusters (points uniform in the unit
  cube, cubes of side 0.2 from grid_cluster) whose centroids are closer than 0.25, `ranges=`
  from from_matrix: kir and pykeops visit those blocks only, torch multiplies the dense kernel
  by the block mask; M = N = 1e4 (2e3 with --quick); the share of pairs kept is printed;
- [sinkhorn] GeomLoss' SamplesLoss("sinkhorn", p=2, blur=0.05, backend="online") and its
  gradient, N = M = 5e3 (1e3 with --quick); GeomLoss picks kir through a module alias
  (sys.modules["pykeops"]), pykeops when it is the real one, and backend="tensorized" for torch.

Every (library, case) runs in a fresh process: a warm-up call (compiles: excluded), then the
median of R timed calls (R = 5; small_call: the median of 7 rounds of 200 calls). kir and
pykeops run with every core (pykeops' CPU back-end uses OpenMP). "n/a" where a library is not
installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CASES = ("small_call", "gauss", "knn", "ranges", "sinkhorn")
LIBRARIES = ("kir", "pykeops", "torch")


def _install_kir_alias() -> None:
    """Make `import pykeops` give kir (what a user does for libraries that import pykeops)."""
    import types

    import kir.numpy
    import kir.numpy.cluster
    import kir.torch
    import kir.torch.cluster

    shim = types.ModuleType("pykeops")
    shim.torch, shim.numpy = kir.torch, kir.numpy
    sys.modules.update(
        {
            "pykeops": shim,
            "pykeops.torch": kir.torch,
            "pykeops.torch.cluster": kir.torch.cluster,
            "pykeops.numpy": kir.numpy,
            "pykeops.numpy.cluster": kir.numpy.cluster,
        }
    )


def _lazy_tensor(library: str):
    if library == "kir":
        from kir.torch import LazyTensor
    else:
        from pykeops.torch import LazyTensor
    return LazyTensor


def _median_time(run, repeat: int) -> float:
    run()  # warm-up: compiles
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(library: str, case: str, quick: bool, repeat: int) -> float:
    """Seconds per call of `case` on `library` (run in this process)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    n = {"small_call": 100, "gauss": 10_000, "knn": 10_000, "ranges": 10_000, "sinkhorn": 5_000}[case]
    if quick and case != "small_call":
        n = 1_000 if case == "sinkhorn" else 2_000
    x = torch.randn(n, 3, generator=gen) / 2
    y = torch.randn(n, 3, generator=gen) / 2
    b = torch.rand(n, 1, generator=gen)

    if case == "sinkhorn":
        if library == "kir":
            _install_kir_alias()
        from geomloss import SamplesLoss

        backend = "tensorized" if library == "torch" else "online"
        loss = SamplesLoss("sinkhorn", p=2, blur=0.05, backend=backend)
        if library != "torch":
            assert sys.modules["pykeops"].__name__ == "pykeops" and (
                library == "pykeops" or sys.modules["pykeops.torch"].__name__ == "kir.torch"
            )

        def run() -> None:
            xg = x.clone().requires_grad_()
            (g,) = torch.autograd.grad(loss(xg, y), xg)

        return _median_time(run, repeat)

    if case == "ranges":
        return _ranges(library, x, b, repeat)

    if library == "torch":

        def kernel(xs: torch.Tensor) -> torch.Tensor:
            return torch.exp(-(torch.cdist(xs, y) ** 2))

        def gauss() -> torch.Tensor:
            return kernel(x) @ b

        def knn() -> torch.Tensor:
            return torch.cdist(x, y).topk(10, dim=1, largest=False).indices

    else:
        LazyTensor = _lazy_tensor(library)

        def kernel(xs: torch.Tensor):
            return (-((LazyTensor(xs[:, None, :]) - LazyTensor(y[None, :, :])) ** 2).sum(-1)).exp()

        def gauss() -> torch.Tensor:
            return kernel(x) @ b

        def knn() -> torch.Tensor:
            return ((LazyTensor(x[:, None, :]) - LazyTensor(y[None, :, :])) ** 2).sum(-1).argKmin(10, dim=1)

    if case == "small_call":
        gauss()
        rounds = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(200):
                gauss()
            rounds.append((time.perf_counter() - start) / 200)
        return statistics.median(rounds)
    if case == "knn":
        return _median_time(knn, repeat)

    def forward_backward() -> None:
        xg = x.clone().requires_grad_()
        (g,) = torch.autograd.grad((kernel(xg) @ b).sum(), xg)

    return _median_time(forward_backward, repeat)


def _ranges(library: str, x, b, repeat: int) -> float:
    """K @ b over the kept cluster pairs (see the module docstring)."""
    import torch

    if library == "pykeops":
        from pykeops.torch.cluster import cluster_ranges_centroids, from_matrix, grid_cluster, sort_clusters
    else:
        from kir.torch.cluster import cluster_ranges_centroids, from_matrix, grid_cluster, sort_clusters
    x = torch.rand(x.shape, generator=torch.Generator().manual_seed(1))  # the unit cube
    labels = grid_cluster(x, 0.2)
    ranges, centroids, _ = cluster_ranges_centroids(x, labels)
    (x, b), labels = sort_clusters((x, b), labels)
    keep = torch.cdist(centroids, centroids) < 0.25
    counts = (ranges[:, 1] - ranges[:, 0]).double()
    kept = float((counts[:, None] * counts[None, :] * keep).sum() / len(x) ** 2)
    print(f"KEPT {kept!r}")
    if library == "torch":
        mask = keep[labels.long()][:, labels.long()].to(x.dtype)

        def run() -> torch.Tensor:
            return (torch.exp(-(torch.cdist(x, x) ** 2)) * mask) @ b

        return _median_time(run, repeat)
    LazyTensor = _lazy_tensor(library)
    ranges_ij = from_matrix(ranges, ranges, keep)

    def run() -> torch.Tensor:
        K = (-((LazyTensor(x[:, None, :]) - LazyTensor(x[None, :, :])) ** 2).sum(-1)).exp()
        K.ranges = ranges_ij
        return K @ b

    return _median_time(run, repeat)


def _available(library: str, case: str) -> bool:
    import importlib.util

    needed = {"kir": "kir", "pykeops": "pykeops", "torch": "torch"}[library]
    if importlib.util.find_spec(needed) is None:
        return False
    return case != "sinkhorn" or importlib.util.find_spec("geomloss") is not None


def _in_fresh_process(library: str, case: str, quick: bool, repeat: int) -> float | None:
    command = [sys.executable, __file__, "--measure", library, case, "--repeat", str(repeat)]
    command += ["--quick"] if quick else []
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("SECONDS ")]
    for line in done.stdout.splitlines():
        if line.startswith("KEPT ") and library == "kir":
            print(f"  {case}: {float(line.split()[1]):.1%} of the pairs kept")
    if done.returncode != 0 or not lines:
        print(f"  {library} {case} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return float(lines[-1].split()[1])


def _format(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-2 else f"{seconds * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=CASES)
    parser.add_argument("--json")
    parser.add_argument("--measure", nargs=2, metavar=("LIBRARY", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        library, case = args.measure
        print(f"SECONDS {measure(library, case, args.quick, args.repeat)!r}")
        return
    results: dict[str, dict[str, float | None]] = {}
    for case in args.only or CASES:
        results[case] = {
            library: _in_fresh_process(library, case, args.quick, args.repeat)
            if _available(library, case)
            else None
            for library in LIBRARIES
        }
    print(f"{'case':<12} {'kir':>10} {'pykeops':>10} {'torch':>10} {'pykeops/kir':>12} {'torch/kir':>10}")
    for case, row in results.items():
        ratios = [
            f"{row[other] / row['kir']:.1f}x" if row["kir"] and row[other] else "n/a"
            for other in ("pykeops", "torch")
        ]
        cells = " ".join(f"{_format(row[lib]):>10}" for lib in LIBRARIES)
        print(f"{case:<12} {cells} {ratios[0]:>12} {ratios[1]:>10}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
