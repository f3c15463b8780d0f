"""The table, its header line and the targets' summary of benchmarks/cpu.py."""

from __future__ import annotations

import datetime
import os
import subprocess
from importlib import metadata

import cpu_truth
import numpy as np
from cpu_methods import cores

TABLE_HEAD = (
    "| case | method | time | runs | pairs/s | vs kir | memory (MiB) | error |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _runs(result: dict) -> str:
    """Timed calls per round, and the rounds where there were several (`5 x 3`)."""
    rounds = result.get("rounds", 1)
    return f"{result['runs']} x {rounds}" if rounds > 1 else str(result["runs"])


def format_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_rate(value: float) -> str:
    """3.2e9, not 3.20e+09."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def table_row(
    label: str, method: str, result: dict, kir: dict | None, pairs: int | None, show_peak: bool = False
) -> str:
    if "skipped" in result or "error" in result:
        note = result.get("skipped") or f"failed: {result['error']}"
        return f"| {label} | {method} | {note} | | | | | |"
    time_s = result["time"]
    rate = format_rate(pairs / time_s) if pairs else "—"
    ratio = f"{time_s / kir['time']:.2f}" if kir and "time" in kir else "—"
    memory = f"{result['memory']:.1f}" if "memory" in result else "—"
    if show_peak:
        memory += f" (process peak {result['peak']:.0f})"
    error = "—"
    if "error_norm" in result:
        error = f"{result['error_norm']:.1e}"
        error += " WRONG" if result["error_norm"] > cpu_truth.TOLERANCE[result["kind"]] else ""
    cells = (label, method, format_time(time_s), _runs(result), rate, ratio, memory, error)
    return "| " + " | ".join(cells) + " |"


def print_table(measured: list, compiled: list) -> None:
    print(TABLE_HEAD)
    for case, results in measured:
        kir = dict(results).get("kir")
        for number, (method, result) in enumerate(results):
            result = {**result, "kind": case.kind}
            label = case.label if number == 0 else ""
            print(table_row(label, method, result, kir, case.m * case.n, case.only_kir))
    for label, results in compiled:
        kir = dict(results).get("kir")
        for number, (method, result) in enumerate(results):
            print(table_row(label if number == 0 else "", method, result, kir, None))


def header(library_note: str, repeat: int, load: float) -> str:
    import llvmlite.binding as llvm

    import kir

    model = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?"
    )
    versions = [f"kir {kir.__version__}", f"numpy {np.__version__}"]
    for package in ("pykeops", "torch", "faiss-cpu"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()
    return (
        f"{datetime.date.today()}, CPU: {model}, {cores()} cores, kir threads: {cores()} "
        f"(default {kir.get_num_threads()}), LLVM host CPU: {llvm.get_host_cpu_name()}; "
        f"{', '.join(versions)}; {gcc[0] if gcc else 'gcc not found'}. Float32; times: medians of "
        f"{repeat} calls (up to 50 under 0.1 s) after a warm-up call, or 1 call when it takes > 5 s. "
        f"Load average (1 min) before the run: {load:.2f}, after: {os.getloadavg()[0]:.2f}.\n"
        f"{library_note}"
    )


def _largest(measured: list, kind: str, dim: int) -> tuple | None:
    """(case, {method: result}) of the largest case of `kind` at `dim` (the million aside)."""
    found = [(c, dict(r)) for c, r in measured if c.kind == kind and c.dim == dim and not c.only_kir]
    return max(found, key=lambda item: item[0].m * item[0].n) if found else None


def _usable(result: dict | None) -> bool:
    return result is not None and "time" in result


def speed_target(measured: list, kind: str, dim: int, stated: tuple, other: str, factor: float) -> str:
    """One line: is kir at least `factor` times faster than `other` at the largest size run?"""
    text = f"{stated[0]}: kir >= {factor:g}x {'the C reference' if other == 'C' else other}"
    found = _largest(measured, kind, dim)
    if found is None or not _usable(found[1].get("kir")) or not _usable(found[1].get(other)):
        return f"n/a   {text} (not measured)"
    case, results = found
    ratio = results[other]["time"] / results["kir"]["time"]
    wrong = results["kir"]["error_norm"] > cpu_truth.TOLERANCE[kind]
    size = "" if case.m * case.n >= stated[1] else f", at {case.label} (smaller than the target's size)"
    verdict = "PASS" if ratio >= factor and not wrong else "FAIL"
    return f"{verdict}  {text}: {ratio:.3g}x{size}{' -- kir result WRONG' if wrong else ''}"


def limit_target(text: str, result: dict | None, key: str, limit: float, unit: float, name: str) -> str:
    """One line: is kir's `key` (seconds or MiB) at most `limit`?"""
    if result is None or key not in result:
        return f"n/a   {text} (not measured)"
    value = result[key] / unit
    return f"{'PASS' if result[key] <= limit else 'FAIL'}  {text}: {value:.3g} {name}"


def targets(measured: list, compiled: list) -> list[str]:
    lines = [
        speed_target(measured, "gauss", 3, ("Gaussian D=3 M=N=1e5", 10**10), "pykeops", 10),
        speed_target(measured, "gauss", 3, ("Gaussian D=3 M=N=1e5", 10**10), "C", 0.9),
        speed_target(measured, "grad", 3, ("Gradient D=3 M=N=1e5", 10**10), "pykeops", 10),
        speed_target(measured, "argkmin", 16, ("ArgKMin K=10 D=16 1e4x1e5", 10**9), "faiss", 1),
        speed_target(measured, "argkmin", 16, ("ArgKMin K=10 D=16 1e4x1e5", 10**9), "pykeops", 10),
    ]
    kir = [dict(results).get("kir") for _, results in compiled] or [None, None, None]
    lines.append(limit_target("cold compile <= 0.3 s", kir[0], "time", 0.3, 1, "s"))
    lines.append(limit_target("warm-cache first call <= 5 ms", kir[1], "time", 5e-3, 1e-3, "ms"))
    lines.append(
        limit_target("per-call overhead (call - kernel) <= 20 us", kir[2], "overhead", 20e-6, 1e-6, "us")
    )
    # The target is the overhead (pykeops' 116 us per call on 100 x 100 points is nearly all
    # overhead); the whole call, the compiled kernel's 1e4 pairs included, is shown beside it.
    if kir[2] is not None and "time" in kir[2]:
        lines.append(f"info  whole call on 100x100 (kernel + overhead): {kir[2]['time'] * 1e6:.3g} us")
    million = [dict(r).get("kir") for c, r in measured if c.group == "million"]
    million_text = "million (Gaussian D=3 M=N=1e6) process peak RSS < 1 GiB"
    lines.append(limit_target(million_text, million[0] if million else None, "peak", 1023.9, 1, "MiB"))
    return lines
