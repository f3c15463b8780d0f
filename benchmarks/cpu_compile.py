"""Compile-time measurements of benchmarks/cpu.py (one child process each), kir and pykeops.

- first_call: compile + first call of `Exp(-IntCst(c) * SqDist(x, y)) * b` on 100 x 100
  points, in a fresh process whose imports are done before the clock starts. The compile
  cache is the folder `cache` (kir: KIR_CACHE_DIR, set by the parent; pykeops: its build
  folder): empty and with a constant c never used before, it is a cold compile; run again in
  another process with the same folder and constant, it measures a first call from a warm
  disk cache.
- per_call: the median of 2000 individually timed calls on 100 x 100 points after warm-up;
  for kir also the median time of its compiled function alone on the same data (its launch
  plan's function on buffers prepared once), and their difference: the overhead of a call
  beyond the computation.
"""

from __future__ import annotations

import time

import numpy as np
from cpu_methods import FACTORIES, FORMULAS, aliases, make_data, memory_mib, reset_peak

SIZE = 100
CALLS = 2000


def formula(constant: int) -> str:
    return f"Exp(-IntCst({constant}) * SqDist(x, y)) * b"


def _compiler(method: str, cache: str):
    """A function formula -> callable kernel, its imports done."""
    if method == "kir":
        import kir

        return lambda text: kir.compile(text, aliases("gauss", 3))
    import pykeops
    from pykeops.numpy import Genred

    pykeops.set_verbose(False)
    pykeops.set_build_folder(cache)
    return lambda text: lambda *a: Genred(text, aliases("gauss", 3), axis=1)(*a, backend="CPU")


def first_call(spec: dict) -> dict:
    arrays = make_data("gauss", SIZE, SIZE, 3)
    compile_formula = _compiler(spec["method"], spec["cache"])
    before, _ = memory_mib()
    reset_peak()
    start = time.perf_counter()
    compile_formula(formula(spec["constant"]))(*arrays)
    elapsed = time.perf_counter() - start
    peak = memory_mib()[1]
    return {"time": elapsed, "runs": 1, "memory": peak - before, "peak": peak}


def per_call(spec: dict) -> dict:
    arrays = make_data("gauss", SIZE, SIZE, 3)
    function = FACTORIES[spec["method"]]("gauss", 3, 0)
    for _ in range(10):
        function(*arrays)
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        function(*arrays)
        times.append(time.perf_counter() - start)
    result = {"time": float(np.median(times)), "runs": CALLS}
    if spec["method"] == "kir":
        result["kernel"] = _kir_kernel_time(arrays)
        result["overhead"] = result["time"] - result["kernel"]
    return result


def _kir_kernel_time(arrays: list[np.ndarray]) -> float:
    """The median time of kir's compiled function alone on `arrays` (no Python around it)."""
    import kir
    from kir.runtime.launch import _lane_groups, data_pointer

    kernel = kir.compile(FORMULAS["gauss"][0], aliases("gauss", 3))  # the per-call row's formula
    out = kernel(*arrays)
    (plan,) = kernel._plans_by_layout.values()
    prepared = [_lane_groups(a, plan.lanes) if g else a for a, g in zip(arrays, plan.regroup, strict=True)]
    args = plan.pointer_array(*[data_pointer(a) for a in prepared])
    outs = plan.out_pointer_array(data_pointer(out))
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        plan.function(0, plan.rows, plan.reduced, args, outs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(spec: dict) -> dict:
    return first_call(spec) if spec["compile"] == "first_call" else per_call(spec)
