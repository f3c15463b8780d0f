"""GPU benchmark: kir's CUDA back-end, pykeops' and dense torch on the same card, float32 torch
CUDA tensors, in one markdown table.

    python benchmarks/gpu.py [--quick] [--repeat R] [--only NAME ...]

Cases (x, y ~ N(0, 1/4); --only takes the names in brackets):
- [gauss] sum_j exp(-|x_i - y_j|^2) b_j, D = 3, M = N = 1e4, 1e5, 1e6 (--quick: 1e4, 1e5);
- [gauss_grad] its gradient in x (torch.autograd.grad of the sum), same sizes;
- [argkmin] the 10 nearest y_j of each x_i, D = 16, M = N = 1e4, 1e5 (--quick: 1e4);
- [logsumexp] log sum_j exp(-|x_i - y_j|^2), D = 3, M = N = 1e4, 1e5 (--quick: 1e4);
- the cold compile of a new formula (a constant no cache has seen) to a module loaded on the
  device, printed after the table.

kir runs kir.compile kernels, pykeops the same formulas through pykeops.torch.Genred, torch the
dense formula (only where its M x N matrices fit in a third of the free memory: "n/a" else).
Each timing is the median of R calls (R = 5) after a warm-up call (compiles: excluded), with
torch.cuda.synchronize() before and after each. Without a GPU the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable

CASES = ("gauss", "gauss_grad", "argkmin", "logsumexp")
LIBRARIES = ("kir", "pykeops", "torch")
SIZES = {"gauss": (10**4, 10**5, 10**6), "argkmin": (10**4, 10**5), "logsumexp": (10**4, 10**5)}
SIZES["gauss_grad"] = SIZES["gauss"]
QUICK_SIZES = {"gauss": (10**4, 10**5), "argkmin": (10**4,), "logsumexp": (10**4,)}
QUICK_SIZES["gauss_grad"] = QUICK_SIZES["gauss"]

GAUSS = ("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", None)
FORMULAS = {
    "gauss": GAUSS,
    "gauss_grad": GAUSS,
    "argkmin": ("SqDist(x, y)", ["x = Vi(16)", "y = Vj(16)"], "ArgKMin", 10),
    "logsumexp": ("-SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "LogSumExp", None),
}


def _gpu_message() -> str | None:
    """Why this machine cannot run the benchmark; None when it can."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    from kir.backends.cuda.driver import CudaUnavailable
    from kir.backends.cuda.runtime import runtime

    try:
        runtime()
    except CudaUnavailable as error:
        return f"kir cannot use the CUDA driver: {error}"
    return None


def _median_time(run: Callable[[], object], repeat: int) -> float:
    import torch

    run()  # warm-up: compiles and loads
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _data(case: str, n: int) -> list:
    import torch

    gen = torch.Generator(device="cuda").manual_seed(0)
    dim = 16 if case == "argkmin" else 3
    x = torch.randn(n, dim, device="cuda", generator=gen) / 2
    y = torch.randn(n, dim, device="cuda", generator=gen) / 2
    if case in ("gauss", "gauss_grad"):
        return [x, y, torch.rand(n, 1, device="cuda", generator=gen)]
    return [x, y]


def _reduction(library: str, case: str) -> Callable:
    formula, aliases, reduction, k = FORMULAS[case]
    if library == "kir":
        import kir

        return kir.compile(formula, aliases, reduction=reduction, axis=1, opt_arg=k)
    from pykeops.torch import Genred

    routine = Genred(formula, aliases, reduction_op=reduction, axis=1, opt_arg=k)
    return lambda *args: routine(*args, backend="GPU")


def _dense(case: str) -> Callable:
    import torch

    def squared(x, y):
        return torch.cdist(x, y) ** 2

    if case in ("gauss", "gauss_grad"):
        return lambda x, y, b: torch.exp(-squared(x, y)) @ b
    if case == "argkmin":
        return lambda x, y: squared(x, y).topk(10, dim=1, largest=False).indices
    return lambda x, y: torch.logsumexp(-squared(x, y), dim=1, keepdim=True)


def _dense_fits(n: int) -> bool:
    import torch

    free, _ = torch.cuda.mem_get_info()
    return 3 * n * n * 4 <= free / 3  # cdist, its square and exp: three M x N float32 matrices


def measure(library: str, case: str, n: int, repeat: int) -> float | None:
    """Seconds per call of `case` with M = N = n on `library`; None where it does not run."""
    import torch

    if library == "pykeops" and importlib.util.find_spec("pykeops") is None:
        return None
    if library == "torch" and not _dense_fits(n):
        return None
    try:
        return _median_time(_call(library, case, n), repeat)
    except torch.cuda.OutOfMemoryError:
        return None
    except Exception as error:  # noqa: BLE001 - a library that fails here is reported, not fatal
        print(f"  {library} {case} n={n:.0e} failed: {type(error).__name__}: {error}", file=sys.stderr)
        return None
    finally:
        torch.cuda.empty_cache()  # the call's arrays are gone once _call's closure is


def _call(library: str, case: str, n: int) -> Callable[[], object]:
    import torch

    arrays = _data(case, n)
    function = _dense(case) if library == "torch" else _reduction(library, case)
    if case != "gauss_grad":
        return lambda: function(*arrays)
    x, y, b = arrays

    def run() -> object:
        xg = x.clone().requires_grad_()
        return torch.autograd.grad(function(xg, y, b).sum(), xg)

    return run


def cold_compile() -> float:
    """Seconds from kir.compile of a formula no cache has seen to its module loaded on cuda:0."""
    import random

    import kir
    from kir.backends.cuda.runtime import load

    formula, aliases, reduction, _ = FORMULAS["logsumexp"]
    load(kir.compile(formula, aliases, reduction=reduction), schemes=("1d",))  # the process's warm-up
    start = time.perf_counter()
    kernel = kir.compile(f"Exp(-SqDist(x, y) * {1 + random.random()!r}) * b", GAUSS[1])
    load(kernel, "float32", 0, schemes=("1d",))
    return time.perf_counter() - start


def _format(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-2 else f"{seconds * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=CASES)
    args = parser.parse_args()
    reason = _gpu_message()
    if reason is not None:
        print(f"benchmarks/gpu.py needs an NVIDIA GPU: {reason}. Nothing measured.")
        return
    import torch

    print(f"card: {torch.cuda.get_device_name(0)}, float32, median of {args.repeat} calls\n")
    print("| case | M = N | kir | pykeops | torch | pykeops / kir | torch / kir |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for case in args.only or CASES:
        for n in (QUICK_SIZES if args.quick else SIZES)[case]:
            row = {library: measure(library, case, n, args.repeat) for library in LIBRARIES}
            ratios = [
                f"{row[other] / row['kir']:.2f}x" if row["kir"] and row[other] else "n/a"
                for other in ("pykeops", "torch")
            ]
            cells = " | ".join(_format(row[library]) for library in LIBRARIES)
            print(f"| {case} | {n:.0e} | {cells} | {ratios[0]} | {ratios[1]} |", flush=True)
    print(f"\ncold compile of a new formula to a loaded module: {cold_compile() * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
