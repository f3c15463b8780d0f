"""CPU benchmark: kir against pykeops, torch and NumPy dense, a C reference and faiss, in one table.

    python benchmarks/cpu.py [--quick] [--repeat R] [--only NAME ...] [--json FILE]
                             [--million | --no-million]

Cases (float32; x, y ~ N(0, 3 / (4 D)) so that |x_i - y_j|^2 is about 1.5 and the sums do not
underflow; b, e ~ U(0, 1), b ~ N(0, 1) for lse); --only takes the names in brackets:
- [gauss_sum] out_i = sum_j exp(-|x_i - y_j|^2) b_j, D = 3, M = N = 1e3, 1e4, 1e5;
- [gauss_grad] its gradient in x of sum_i e_i out_i: sum_j -2 (x_i - y_j) exp(-|x_i - y_j|^2)
  b_j e_i (KeOps' Grad(F, x, e)), M = N = 1e4, 1e5;
- [lse] out_i = log sum_j exp(-|x_i - y_j|^2 + b_j) (LogSumExp), M = N = 1e4, 1e5;
- [argkmin] the indices of the K = 10 nearest y_j of each x_i, D = 3, 16, 64, 1e4 x 1e5;
  (the cases the targets compare, Gaussian and gradient at 1e5 and ArgKMin at D = 16, run
  3 interleaved rounds of every method in a full run: medians of the rounds);
- [gauss_sum_d256] the Gaussian sum at D = 256, M = N = 1e4;
- [million] the Gaussian sum at D = 3, M = N = 1e6, kir only: time and peak memory (full run
  only, unless --no-million; --million adds it to --quick);
- [compile] compile times on 100 x 100 points (cpu_compile.py): a cold compile of a formula
  never compiled before (an empty cache folder and a new constant), the first call in a new
  process of a formula in a warm disk cache (KIR_CACHE_DIR for kir, the build folder for
  pykeops), each the median of 5 fresh processes (5 constants), and the per-call overhead
  (the median of 2000 calls in a process; the median of 5 processes).
--quick: 1e3 and 1e4 (gauss_sum), 1e4 (gradient, lse), 1e3 x 1e4 (argkmin), 2e3 (D = 256),
3 repeats.

Methods (all with every core):
- kir: kir.compile with the KeOps formula (kir.set_num_threads(cores));
- pykeops: pykeops.numpy.Genred, the same formula and aliases, backend="CPU" (OpenMP);
- torch / numpy: dense: the (M, N) matrix of squared distances, then the reduction in place;
  "n/a (needs X GiB)" where that matrix (and, for NumPy's ArgKMin, argpartition's int64
  copy; for torch's logsumexp, its shifted copy) would exceed 4 GiB;
- C: c_reference/kernels.c, compiled here with gcc -O3 -march=native -ffast-math -fopenmp
  (vectorized exp from glibc's libmvec; OpenMP over output rows), called with ctypes;
- faiss: IndexFlatL2 (ArgKMin only), built inside the timed call, omp_set_num_threads(cores).

Measurements: each method and case runs in a fresh process (cpu_methods.measure). It warms
up on a 64-row slice (compiles kir and pykeops: excluded), then times a first full call; if
that took more than 5 s it is the only timed run ("runs" = 1), else it was the warm-up and the
time is the median of R more calls (R = 5, 3 with --quick; calls under 0.1 s: about 0.5 s worth
of calls, at least R, at most 50). Memory: the peak resident memory
(VmHWM, reset just before) during the first full call minus the resident memory before it,
MiB; for the million case the whole process's peak too. Pairs/s = M N / time; "vs kir" =
method time / kir time (> 1: kir is faster). "error": normwise error against a float64 dense
truth on 256 sampled rows (cpu_truth.py; ArgKMin: the distances of the returned neighbours);
"WRONG" marks an error above cpu_truth.TOLERANCE. The summary checks the project's targets.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cpu_compile
import cpu_report
import cpu_truth
import numpy as np
from cpu_methods import make_data

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "c_reference" / "kernels.c"
C_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-shared", "-fPIC"]
DENSE_LIMIT = 4 * 2**30
CHILD_TIMEOUT_S = 3600
COMPILE_RUNS = 5
TARGET_ROUNDS = 3
GROUPS = ("gauss_sum", "gauss_grad", "lse", "argkmin", "gauss_sum_d256", "million", "compile")
METHODS = ("kir", "C", "pykeops", "faiss", "torch", "numpy")


@dataclass(frozen=True)
class Case:
    group: str
    kind: str
    m: int
    n: int
    dim: int
    k: int = 0
    only_kir: bool = False
    rounds: int = 1
    """Rounds over the methods, interleaved (kir, C, pykeops, ..., kir, C, ...): each method's
    figure is the median of its rounds, so that a slow phase of a shared machine hits every
    method of the round, not one."""

    @property
    def label(self) -> str:
        name = {"gauss": "gauss_sum", "grad": "gauss_grad", "lse": "lse", "argkmin": "argkmin"}[self.kind]
        sizes = f"M=N={_short(self.m)}" if self.m == self.n else f"M={_short(self.m)} N={_short(self.n)}"
        return f"{name}{f' K={self.k}' if self.k else ''} D={self.dim} {sizes}"


def _short(count: int) -> str:
    exponent = len(str(count)) - 1
    return f"1e{exponent}" if count == 10**exponent else f"{count / 10**exponent:g}e{exponent}"


def make_cases(quick: bool, million: bool) -> list[Case]:
    sizes, large = ([1000, 10000], [10000]) if quick else ([1000, 10000, 100000], [10000, 100000])
    queries, points = (1000, 10000) if quick else (10000, 100000)
    # The cases the targets compare (the largest Gaussian sum and gradient, ArgKMin at D = 16)
    # run TARGET_ROUNDS interleaved rounds in a full run.
    rounds = 1 if quick else TARGET_ROUNDS
    cases = [Case("gauss_sum", "gauss", s, s, 3, rounds=rounds if s == sizes[-1] else 1) for s in sizes]
    cases += [Case("gauss_grad", "grad", s, s, 3, rounds=rounds if s == large[-1] else 1) for s in large]
    cases += [Case("lse", "lse", s, s, 3) for s in large]
    cases += [
        Case("argkmin", "argkmin", queries, points, d, 10, rounds=rounds if d == 16 else 1)
        for d in (3, 16, 64)
    ]
    wide = 2000 if quick else 10000
    cases.append(Case("gauss_sum_d256", "gauss", wide, wide, 256))
    if million:
        cases.append(Case("million", "gauss", 10**6, 10**6, 3, only_kir=True))
    return cases


def available_methods(library: str | None) -> dict[str, bool]:
    found = {name: importlib.util.find_spec(name) is not None for name in ("pykeops", "torch", "faiss")}
    return {"kir": True, "C": library is not None, "numpy": True, **found}


def dense_gib(method: str, case: Case) -> float:
    """GiB of (M, N) intermediates the dense method stores at once."""
    matrices = {("numpy", "argkmin"): 3, ("torch", "lse"): 2}.get((method, case.kind), 1)
    return case.m * case.n * 4 * matrices / 2**30


def skip_reason(method: str, case: Case, available: dict[str, bool]) -> str | None:
    if case.only_kir and method != "kir":
        return "skip"
    if method == "faiss" and case.kind != "argkmin":
        return "skip"
    if not available[method]:
        return "n/a (not installed)"
    if method in ("torch", "numpy") and dense_gib(method, case) * 2**30 > DENSE_LIMIT:
        return f"n/a (needs {dense_gib(method, case):.0f} GiB)"
    return None


def run_child(spec: dict, env: dict | None = None) -> dict:
    """Run `spec` in a fresh Python process; its last stdout line is the JSON result."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["(no message)"]
        return {"error": lines[-1][:100]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def child(spec: dict) -> dict:
    if "compile" in spec:
        import cpu_compile

        return cpu_compile.measure(spec)
    import cpu_methods

    return cpu_methods.measure(spec)


def build_c_reference(folder: str) -> tuple[str | None, str]:
    """Compile kernels.c into `folder`: (library path or None, a note on vectorization)."""
    if shutil.which("gcc") is None:
        return None, "C reference: gcc not found"
    library = os.path.join(folder, "kernels.so")
    command = ["gcc", *C_FLAGS, "-fopt-info-vec-optimized", str(C_SOURCE), "-o", library, "-lm"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"C reference: gcc failed: {done.stderr.strip()[-200:]}"
    loops = {line.split(":")[1] for line in done.stderr.splitlines() if "loop vectorized" in line}
    vector_exp = b"_ZGVdN8v_expf" in Path(library).read_bytes()
    note = (
        f"C reference: gcc vectorized the loops at kernels.c lines {', '.join(sorted(loops, key=int))}; "
        f"8-lane libmvec expf (_ZGVdN8v_expf) {'linked' if vector_exp else 'NOT linked'}"
    )
    return library, note


def measure_case(case: Case, available: dict[str, bool], args: argparse.Namespace, folder: str) -> list:
    """[(method, result dict)] for every method of `case`, errors against the float64 truth."""
    arrays = make_data(case.kind, case.m, case.n, case.dim)
    rows = cpu_truth.sample_rows(case.m)
    expected = cpu_truth.truth(case.kind, arrays, rows, case.k)
    rounds: dict[str, list[dict]] = {}
    skipped: dict[str, str] = {}
    for round_number in range(case.rounds):
        for method in METHODS:
            reason = skip_reason(method, case, available)
            if reason == "skip":
                continue
            if reason is not None:
                skipped[method] = reason
                continue
            out = os.path.join(folder, f"{method}.npy")
            spec = {
                **asdict(case),
                "method": method,
                "repeat": args.repeat,
                "out": out,
                "library": args.library,
            }
            result = run_child(spec)
            if "error" not in result:
                result["error_norm"] = cpu_truth.error(case.kind, np.load(out), arrays, rows, expected)
                os.remove(out)
            rounds.setdefault(method, []).append(result)
            where = f" (round {round_number + 1} of {case.rounds})" if case.rounds > 1 else ""
            progress(f"{case.label}: {method} {describe(result)}{where}")
    results = []
    for method in METHODS:
        if method in skipped:
            results.append((method, {"skipped": skipped[method]}))
        elif method in rounds:
            results.append((method, _median_round(rounds[method])))
    return results


def _median_round(results: list[dict]) -> dict:
    """The round of median time (an error if any failed); `rounds` says how many there were."""
    failed = [r for r in results if "error" in r]
    if failed:
        return failed[0]
    chosen = sorted(results, key=lambda r: r["time"])[len(results) // 2]
    return {**chosen, "rounds": len(results)}


def measure_compile(available: dict[str, bool], folder: str) -> list:
    """[(label, [(method, result dict)])] for the three compile-time rows."""
    labels = [
        "cold compile, new formula (100x100)",
        "first call, warm disk cache (new process)",
        "per call (100x100, median of 2000)",
    ]
    rows: dict[str, list] = {label: [] for label in labels}
    for method in ("kir", "pykeops"):
        if not available[method]:
            continue
        # Each figure is the median of COMPILE_RUNS fresh processes (single runs of a few
        # milliseconds vary by 2x on a shared machine): each run a new cache folder and a new
        # constant (a cold compile), then the same folder and constant again (a warm first call).
        colds, warms = [], []
        for constant in np.random.default_rng().choice(np.arange(2, 10**6), COMPILE_RUNS, replace=False):
            cache = tempfile.mkdtemp(dir=folder)
            spec = {"compile": "first_call", "method": method, "cache": cache, "constant": int(constant)}
            env = {**os.environ, "KIR_CACHE_DIR": cache}
            colds.append(run_child(spec, env))
            warms.append(run_child(spec, env))
        cold, warm = _median_run(colds), _median_run(warms)
        per_calls = [run_child({"compile": "per_call", "method": method}, env) for _ in range(COMPILE_RUNS)]
        per_call = _median_run(per_calls)
        per_call["runs"] = cpu_compile.CALLS
        for label, result in zip(labels, (cold, warm, per_call), strict=True):
            rows[label].append((method, result))
            progress(f"{label}: {method} {describe(result)}")
        if "overhead" in per_call:
            overhead = {"time": per_call["overhead"], "runs": per_call["runs"]}
            rows.setdefault("per-call overhead: call minus kernel time (100x100)", []).append(
                (method, overhead)
            )
    return list(rows.items())


def _median_run(results: list[dict]) -> dict:
    """The result of median time among `results` (an error if any run failed), its runs counted."""
    failed = [r for r in results if "error" in r]
    if failed:
        return failed[0]
    chosen = sorted(results, key=lambda r: r["time"])[len(results) // 2]
    return {**chosen, "runs": len(results)}


START = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - START:6.0f} s] {message}", file=sys.stderr, flush=True)


def describe(result: dict) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    return f"{cpu_report.format_time(result['time'])}, {result['runs']} run(s)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repeats")
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed calls per method (default 5; 3 quick)"
    )
    parser.add_argument("--only", nargs="+", choices=GROUPS, help="run only these cases")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--million", action=argparse.BooleanOptionalAction, default=None, help="M=N=1e6 case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    args.repeat = args.repeat or (3 if args.quick else 5)
    million = args.million if args.million is not None else not args.quick or "million" in (args.only or [])
    groups, load = set(args.only or GROUPS), os.getloadavg()[0]
    cases = [case for case in make_cases(args.quick, million) if case.group in groups]

    with tempfile.TemporaryDirectory(prefix="kir-cpu-bench-") as folder:
        args.library, library_note = build_c_reference(folder)
        progress(library_note)
        available = available_methods(args.library)
        measured = [(case, measure_case(case, available, args, folder)) for case in cases]
        compiled = measure_compile(available, folder) if "compile" in groups else []

    print(cpu_report.header(library_note, args.repeat, load))
    print()
    cpu_report.print_table(measured, compiled)
    print()
    summary = cpu_report.targets(measured, compiled)
    print("Targets:\n" + "\n".join(f"  {line}" for line in summary))
    progress(f"done in {time.perf_counter() - START:.0f} s")
    if args.json:
        report = {"cases": [(asdict(c), r) for c, r in measured], "compile": compiled, "targets": summary}
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
