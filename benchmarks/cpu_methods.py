"""The methods benchmarks/cpu.py compares, and the measurement one child process makes.

Each method's factory (kind, dim, K) gives a function of the case's arrays (x, y, then b and
e where the kind has them) returning the result as a NumPy array (indices as int64).
`measure` runs one method on one case: it builds the inputs, warms the method up on a 64-row
slice (compiles kir and pykeops, loads the C library), then times full calls and records the
peak resident memory the first full call adds.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable

import numpy as np

FORMULAS = {
    # kind: (formula, reduction); the same KeOps 2.3 strings for kir and pykeops.
    "gauss": ("Exp(-SqDist(x, y)) * b", "Sum"),
    "grad": ("Grad(Exp(-SqDist(x, y)) * b, x, e)", "Sum"),
    "lse": ("-SqDist(x, y) + b", "LogSumExp"),
    "argkmin": ("SqDist(x, y)", "ArgKMin"),
}

SLOW_RUN_S = 5.0
"""A first full call longer than this is the only timed call (no further repeats)."""

FAST_RUN_S = 0.1
"""Calls shorter than this are repeated more than `repeat` times: about 0.5 s worth, at most 50."""

WARM_ROWS = 64
"""Rows of the slice each method is warmed up (compiled) on, outside the measurements."""


def cores() -> int:
    return len(os.sched_getaffinity(0))


def aliases(kind: str, dim: int) -> list[str]:
    names = [f"x = Vi({dim})", f"y = Vj({dim})"]
    names += {"gauss": ["b = Vj(1)"], "grad": ["b = Vj(1)", "e = Vi(1)"], "lse": ["b = Vj(1)"]}.get(kind, [])
    return names


def make_data(kind: str, m: int, n: int, dim: int, seed: int = 0) -> list[np.ndarray]:
    """x (m, dim), y (n, dim) ~ N(0, 3 / (4 dim)) so that |x - y|^2 is about 1.5 at every dim (no
    underflow of the whole sum); b ~ U(0, 1) (N(0, 1) for lse), e ~ U(0, 1)."""
    rng = np.random.default_rng(seed)
    scale = np.float32(0.5 * (3 / dim) ** 0.5)
    x = rng.standard_normal((m, dim), dtype=np.float32) * scale
    y = rng.standard_normal((n, dim), dtype=np.float32) * scale
    if kind == "argkmin":
        return [x, y]
    if kind == "lse":
        return [x, y, rng.standard_normal((n, 1), dtype=np.float32)]
    b = rng.random((n, 1), dtype=np.float32)
    return [x, y, b] if kind == "gauss" else [x, y, b, rng.random((m, 1), dtype=np.float32)]


def kir_method(kind: str, dim: int, k: int) -> Callable:
    import kir

    kir.set_num_threads(cores())
    formula, reduction = FORMULAS[kind]
    opt_arg = k if kind == "argkmin" else None
    return kir.compile(formula, aliases(kind, dim), reduction=reduction, axis=1, opt_arg=opt_arg)


def pykeops_method(kind: str, dim: int, k: int) -> Callable:
    import pykeops
    from pykeops.numpy import Genred

    pykeops.set_verbose(False)
    formula, reduction = FORMULAS[kind]
    opt_arg = k if kind == "argkmin" else None
    routine = Genred(formula, aliases(kind, dim), reduction_op=reduction, axis=1, opt_arg=opt_arg)

    def run(*arrays: np.ndarray) -> np.ndarray:
        out = routine(*arrays, backend="CPU")
        return out.astype(np.int64) if kind == "argkmin" else out  # pykeops gives float indices

    return run


def torch_method(kind: str, dim: int, k: int) -> Callable:
    """Dense: the (M, N) matrix of squared distances (torch.cdist), then the reduction."""
    import torch

    torch.set_num_threads(cores())

    def run(*arrays: np.ndarray) -> np.ndarray:
        x, y, *rest = (torch.from_numpy(a) for a in arrays)
        d2 = torch.cdist(x, y).square_()
        if kind == "argkmin":
            return d2.topk(k, dim=1, largest=False, sorted=True).indices.numpy()
        if kind == "lse":
            return torch.logsumexp(d2.neg_().add_(rest[0].T), dim=1, keepdim=True).numpy()
        weights = d2.neg_().exp_().mul_(rest[0].T)  # exp(-|x_i - y_j|^2) b_j
        if kind == "gauss":
            return weights.sum(1, keepdim=True).numpy()
        return (-2 * rest[1] * (x * weights.sum(1, keepdim=True) - weights @ y)).numpy()

    return run


def numpy_sqdist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The (M, N) matrix |x_i|^2 + |y_j|^2 - 2 x_i.y_j, built in place in one array."""
    d2 = x @ y.T
    d2 *= -2
    d2 += (x * x).sum(1)[:, None]
    d2 += (y * y).sum(1)[None, :]
    return np.maximum(d2, 0, out=d2)


def numpy_method(kind: str, dim: int, k: int) -> Callable:
    """Dense, like torch's, with NumPy's BLAS for the distances."""

    def run(x: np.ndarray, y: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        d2 = numpy_sqdist(x, y)
        if kind == "argkmin":
            nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
            order = np.argsort(np.take_along_axis(d2, nearest, axis=1), axis=1, kind="stable")
            return np.take_along_axis(nearest, order, axis=1).astype(np.int64)
        if kind == "lse":
            np.subtract(rest[0].T, d2, out=d2)
            top = d2.max(1, keepdims=True)
            return top + np.log(np.exp(np.subtract(d2, top, out=d2), out=d2).sum(1, keepdims=True))
        weights = np.exp(np.negative(d2, out=d2), out=d2)
        weights *= rest[0].T
        if kind == "gauss":
            return weights.sum(1, keepdims=True)
        return -2 * rest[1] * (x * weights.sum(1, keepdims=True) - weights @ y)

    return run


def c_method(kind: str, dim: int, k: int, library: str) -> Callable:
    """benchmarks/c_reference/kernels.c, compiled by cpu.py, with OpenMP on every core."""
    lib = ctypes.CDLL(library)
    floats = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
    size = ctypes.c_long
    name = {"gauss": "gauss_sum", "grad": "gauss_grad", "lse": "lse", "argkmin": "argkmin"}[kind]
    function = getattr(lib, name)
    if kind == "argkmin":
        function.argtypes = [floats, floats, np.ctypeslib.ndpointer(np.int64), size, size, size, size]
    else:
        function.argtypes = [floats] * (len(aliases(kind, dim)) + 1) + [size] * 3
    function.restype = None

    def run(x: np.ndarray, y: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        m, n = len(x), len(y)
        if kind == "argkmin":
            out = np.empty((m, k), np.int64)
            function(x, y, out, m, n, dim, k)
            return out
        out = np.empty((m, dim if kind == "grad" else 1), np.float32)
        function(x, y, *rest, out, m, n, dim)
        return out

    return run


def faiss_method(kind: str, dim: int, k: int) -> Callable:
    """faiss.IndexFlatL2: exact search; the index is built (y copied in) inside the call."""
    import faiss

    faiss.omp_set_num_threads(cores())

    def run(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        index = faiss.IndexFlatL2(dim)
        index.add(y)
        return index.search(x, k)[1]

    return run


FACTORIES = {
    "kir": kir_method,
    "pykeops": pykeops_method,
    "torch": torch_method,
    "numpy": numpy_method,
    "C": c_method,
    "faiss": faiss_method,
}


def memory_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process (Linux /proc), MiB."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS", "VmHWM")):
                fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak() -> None:
    """Start the peak (VmHWM) again from the current resident memory."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def repeats(requested: int, first: float) -> int:
    """Timed calls after a warm-up that took `first` seconds."""
    return requested if first >= FAST_RUN_S else min(50, max(requested, int(0.5 / max(first, 1e-6))))


def measure(spec: dict) -> dict:
    """Run one method on one case (a child process of cpu.py); the result goes to spec['out']."""
    kind, m, n, dim, k = spec["kind"], spec["m"], spec["n"], spec["dim"], spec.get("k", 0)
    arrays = make_data(kind, m, n, dim)
    extra = [spec["library"]] if spec["method"] == "C" else []
    function = FACTORIES[spec["method"]](kind, dim, k, *extra)
    function(*(a[:WARM_ROWS] for a in arrays))  # compiles; excluded from time and memory

    before, _ = memory_mib()
    reset_peak()
    start = time.perf_counter()
    result = function(*arrays)
    times = [time.perf_counter() - start]
    peak = memory_mib()[1]  # the whole process at its largest during the call
    if times[0] <= SLOW_RUN_S:  # the first full call was the warm-up
        count, times = repeats(spec["repeat"], times[0]), []
        for _ in range(count):
            start = time.perf_counter()
            result = function(*arrays)
            times.append(time.perf_counter() - start)
    np.save(spec["out"], np.asarray(result))
    return {"time": float(np.median(times)), "runs": len(times), "memory": peak - before, "peak": peak}
