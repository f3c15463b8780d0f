"""What the CUDA back-end costs and makes, measured without a GPU: the cold compile of a new
formula to PTX (the part of "formula to loaded module" that runs on the host; the driver's
JIT of the PTX comes on top, on the device), and ptxas' report on the PTX (registers, spills,
shared memory), for the formulas of benchmarks/gpu.py and a D = 1000 Gaussian (chunked).

    python benchmarks/cuda_compile.py [--repeat R] [--sm 80 90]

Each cold compile runs in a fresh Python process: kir imported, the formula parsed, the device
module built, libdevice trimmed and linked, NVPTX's O3, the PTX emitted; the median of R
processes is shown. "empty cache": a new kir cache folder per process (libdevice parsed and
trimmed); "subset cached": the folder holds libdevice's subset for the formula's math functions
from an earlier process (a user's usual case: a new formula calling functions seen before).
The warm column is the same compile again in that process. ptxas columns need ptxas on the
PATH ("n/a" otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

FORMULAS = {
    "gauss D=3": ("Exp(-SqDist(x,y))*b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"], "Sum", None),
    "gauss grad D=3": (
        "Grad(Exp(-SqDist(x,y))*b, x, e)",
        ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)", "e=Vi(1)"],
        "Sum",
        None,
    ),
    "argkmin K=10 D=16": ("SqDist(x,y)", ["x=Vi(16)", "y=Vj(16)"], "ArgKMin", 10),
    "logsumexp D=3": ("-SqDist(x,y)", ["x=Vi(3)", "y=Vj(3)"], "LogSumExp", None),
    "gauss D=1000 (chunked)": ("Exp(-SqDist(x,y))*b", ["x=Vi(1000)", "y=Vj(1000)", "b=Vj(1)"], "Sum", None),
}

CHILD = """
import json, sys, time
start = time.perf_counter()
import kir
from kir.backends.cuda.program import DeviceProgram
from kir.backends.cuda.ptx import compile_ptx
formula, aliases, reduction, k, scheme, sm = json.loads(sys.argv[1])
def build():
    kernel = kir.compile(formula, aliases, reduction=reduction, opt_arg=k)
    return compile_ptx(DeviceProgram(kernel, "float32").llvm_ir(scheme), sm)
imported = time.perf_counter()
text = build()
cold = time.perf_counter()
build()
warm = time.perf_counter()
print(json.dumps({"import": imported - start, "cold": cold - imported, "warm": warm - cold, "ptx": text}))
"""


def compile_once(case: tuple, scheme: str, sm: int, cache: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as fresh:
        environment = {**os.environ, "KIR_CACHE_DIR": cache or fresh}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps([*case, scheme, sm])],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        )
    return json.loads(done.stdout)


def ptxas_report(ptx: str, sm: int) -> str:
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return "n/a"
    done = subprocess.run(
        [ptxas, f"-arch=sm_{sm}", "-v", "-", "-o", "/dev/null"], input=ptx, capture_output=True, text=True
    )
    if done.returncode != 0:
        return "rejected: " + done.stderr.strip().splitlines()[-1]
    reports = []
    for function in re.findall(
        r"Compiling entry function '(\w+)'(.*?)(?=Compiling entry|\Z)", done.stderr, re.S
    ):
        name, body = function
        registers = re.search(r"Used (\d+) registers", body)
        spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", body)
        stack = re.search(r"(\d+) bytes stack frame", body)
        shared = re.search(r"(\d+) bytes smem", body)
        reports.append(
            f"{name}: {registers[1] if registers else '?'} regs, "
            f"spill {spills[1] if spills else '?'}/{spills[2] if spills else '?'} B, "
            f"stack {stack[1] if stack else '?'} B, smem {shared[1] if shared else 0} B"
        )
    return "; ".join(reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sm", type=int, nargs="+", default=[80, 90])
    options = parser.parse_args()
    print(
        f"ptxas: {shutil.which('ptxas') or 'absent'}; float32; "
        f"cold = median of {options.repeat} fresh processes\n"
    )
    print(
        "| formula | scheme | cold, empty cache (s) | cold, subset cached (s) | warm (s) | import kir (s) | "
        + " | ".join(f"ptxas sm_{s}" for s in options.sm)
        + " |"
    )
    print("| --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in options.sm) + " |")
    for name, case in FORMULAS.items():
        for scheme in ("1d", "2d"):
            runs = [compile_once(case, scheme, options.sm[0]) for _ in range(options.repeat)]
            with tempfile.TemporaryDirectory() as shared:
                compile_once(case, scheme, options.sm[0], shared)  # leaves the subset on disk
                cached = [compile_once(case, scheme, options.sm[0], shared) for _ in range(options.repeat)]
            cold = statistics.median(r["cold"] for r in runs)
            subset = statistics.median(r["cold"] for r in cached)
            warm = statistics.median(r["warm"] for r in runs)
            imported = statistics.median(r["import"] for r in runs)
            texts = {options.sm[0]: runs[0]["ptx"]}
            reports = [
                ptxas_report(texts.get(sm) or compile_once(case, scheme, sm)["ptx"], sm) for sm in options.sm
            ]
            print(
                f"| {name} | {scheme} | {cold:.3f} | {subset:.3f} | {warm:.3f} | {imported:.2f} | "
                + " | ".join(reports)
                + " |"
            )


if __name__ == "__main__":
    main()
