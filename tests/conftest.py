"""Shared helpers: random arguments for a kernel, and the reference comparison."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest

from kir.kernel import Kernel
from kir.reference import evaluate

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def pytest_configure(config: pytest.Config) -> None:
    """The tests keep compiled kernels in a folder of their own, removed at the end."""
    if "KIR_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="kir-test-cache-")
        os.environ["KIR_CACHE_DIR"] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def random_arguments(
    kernel: Kernel,
    rng: np.random.Generator,
    size_i: int,
    size_j: int,
    dtype: str,
    low: float = 0.5,
    high: float = 2.0,
) -> list[np.ndarray]:
    """Arrays matching the kernel's signature, entries in [low, high)."""
    arrays = []
    for spec in kernel.args:
        shape = {"i": (size_i, spec.dim), "j": (size_j, spec.dim), "p": (spec.dim,)}[spec.category]
        arrays.append(rng.uniform(low, high, size=shape).astype(dtype))
    return arrays


def max_relative_error(result: np.ndarray, reference: np.ndarray) -> float:
    """max |result - reference| / max(|reference|, tiny), NaN-aware (NaN must match NaN)."""
    result = np.asarray(result, dtype=np.float64)
    nan_mismatch = np.isnan(result) != np.isnan(reference)
    assert not nan_mismatch.any(), "NaN in one result but not the other"
    same_inf = np.isinf(reference) & (result == reference)
    scale = np.maximum(np.abs(reference), 1e-30)
    with np.errstate(invalid="ignore"):
        errors = np.where(np.isnan(reference) | same_inf, 0.0, np.abs(result - reference) / scale)
    return float(errors.max()) if errors.size else 0.0


def check_against_reference(
    kernel: Kernel,
    arrays: list[np.ndarray],
    dtype: str,
    tolerance: float | None = None,
    normwise: bool = False,
):
    """Run the kernel and the reference evaluator on `arrays`; assert they agree.

    `normwise` measures errors relative to the largest reference entry, the right yardstick
    for sums of signed terms, whose small entries come from cancellation.
    """
    results = kernel(*arrays)
    results = results if isinstance(results, tuple) else (results,)
    references = evaluate(kernel.module(dtype), arrays)
    if GPU_CHECK and _gpu_checkable(kernel, dtype):
        # The same kernel through the CUDA back-end: PTX for ptxas, and the GPU schedule run
        # on the CPU (backends/cuda/emulate.py); its outputs must pass the same comparison.
        from kir.backends.cuda.emulate import EmulatedModule, execute
        from kir.backends.cuda.program import DeviceOptions, DeviceProgram
        from kir.runtime.arrays import check_arguments

        _assemble(kernel, dtype)
        # At most 37 output rows and 53 reduced ones: blocks and tiles of 32, the last partial.
        limits = {"i": 37, "j": 53} if kernel.axis == 1 else {"i": 53, "j": 37}
        small = [
            a if s.category == "p" else a[: limits[s.category]]
            for s, a in zip(kernel.args, arrays, strict=True)
        ]
        small_references = evaluate(kernel.module(dtype), small)
        checked, _, size_i, size_j = check_arguments(small, kernel.args, dtype)
        program = DeviceProgram(kernel, dtype, DeviceOptions(block=32, splits=2))
        module = EmulatedModule(program.llvm_ir("all"))  # both schemes: one host compile
        for scheme in ("1d", "2d"):  # the 2D scheme with 2 splits of 32 reduced rows
            emulated = tuple(execute(program, checked, size_i, size_j, scheme, module))
            _compare(emulated, small_references, dtype, tolerance, normwise)
    if _cuda_device() is not None:
        # A GPU is lent: the same kernel on the device, on the same data.
        import torch

        on_device = kernel(*(torch.from_numpy(np.ascontiguousarray(a)).cuda() for a in arrays))
        on_device = on_device if isinstance(on_device, tuple) else (on_device,)
        _compare(tuple(o.cpu().numpy() for o in on_device), references, dtype, tolerance, normwise)
    _compare(results, references, dtype, tolerance, normwise)
    return results[0] if len(results) == 1 else results


_CUDA_STATE: list = []


def _cuda_device() -> str | None:
    """The name of the CUDA device the differential tests also run on; None without one (no
    torch CUDA, no driver, or KIR_GPU_CHECK=0)."""
    if not _CUDA_STATE:
        name = None
        try:
            import torch

            if GPU_CHECK and torch.cuda.is_available():
                from kir.backends.cuda.runtime import runtime

                runtime().device(0)
                name = torch.cuda.get_device_name(0)
        except Exception:  # noqa: BLE001 - no usable device: the host checks only
            name = None
        _CUDA_STATE.append(name)
    return _CUDA_STATE[0]


def pytest_report_header(config: pytest.Config) -> list[str]:
    device = _cuda_device()
    ptxas = shutil.which("ptxas")
    check = "on" if GPU_CHECK else "off (KIR_GPU_CHECK=0)"
    return [
        f"kir GPU check: {check}; ptxas: {ptxas or 'absent (PTX not assembled)'}; "
        f"device: {device or 'none (the differential tests run on the CPU and the emulator only)'}"
    ]


def _compare(results, references, dtype: str, tolerance: float | None, normwise: bool) -> None:
    assert len(results) == len(references)
    for result, reference in zip(results, references, strict=True):
        assert result.shape == reference.shape
        if reference.dtype == np.int64:
            np.testing.assert_array_equal(result, reference)
            continue
        if normwise:
            scale = max(np.abs(reference).max(), 1e-30) if reference.size else 1.0
            error = float(np.abs(result - reference).max() / scale) if result.size else 0.0
        else:
            error = max_relative_error(result, reference)
        assert error <= (tolerance or TOLERANCE[dtype]), f"max relative error {error:.3g}"


GPU_CHECK = os.environ.get("KIR_GPU_CHECK", "1") != "0"
"""Every kernel the differential tests check also goes through the CUDA back-end: its PTX
assembled by ptxas (when installed), its GPU schedule run on the CPU on a slice of the data.
KIR_GPU_CHECK=0 turns this off (a quicker local run)."""

GPU_CHECK_SKIPS = ("kir.softdtw_sqdist",)
"""Ops whose GPU check is left to tests/test_cuda_codegen.py: SoftDTW's unrolled recurrence
takes 20-40 s to compile for the host at the differential tests' sizes."""


def _gpu_checkable(kernel: Kernel, dtype: str) -> bool:
    """Every kernel but SoftDTW's (see GPU_CHECK_SKIPS)."""
    names = {node.op.name for r in kernel.reductions for root in r.roots for node in root.walk()}
    return not names.intersection(GPU_CHECK_SKIPS)


def _assemble(kernel: Kernel, dtype: str) -> None:
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        return
    import subprocess

    from kir.backends.cuda.program import DeviceProgram
    from kir.backends.cuda.ptx import compile_ptx

    # The default schedule's kernels of both schemes in one module: one compile, one ptxas run.
    text = compile_ptx(DeviceProgram(kernel, dtype).llvm_ir("all"), 80)
    done = subprocess.run(
        [ptxas, "-arch=sm_80", "-", "-o", os.devnull], input=text, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
