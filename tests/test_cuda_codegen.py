"""The CUDA back-end's schemes without a GPU: their PTX assembled by ptxas (sm_80, sm_90) where
ptxas is installed, and the same kernel IR run on the CPU block by block, thread by thread
(backends/cuda/emulate.py), against the CPU back-end: every reduction, the 1D and 2D schemes,
both axes, float32 and float64, sizes that are not multiples of the block, fused kernels
reducing over both indices, variables too wide for a full tile in shared memory."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess

import numpy as np
import pytest

import kir
from kir.backends.cuda import ptx
from kir.backends.cuda.chunks import chunk_plan
from kir.backends.cuda.codegen import groups_of, tile_rows
from kir.backends.cuda.emulate import EmulatedModule, host_ir, run_emulated
from kir.backends.cuda.program import DeviceOptions, DeviceProgram
from kir.errors import KirError
from kir.reference import evaluate

CASES = {
    "gauss_sum": ("Exp(-SqDist(x,y))*b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(2)"], "Sum", None),
    "gradient": (
        "Grad(Exp(-SqDist(x,y))*b, x, e)",
        ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)", "e=Vi(1)"],
        "Sum",
        None,
    ),
    "min_argmin": ("SqDist(x,y)", ["x=Vi(4)", "y=Vj(4)"], "Min_ArgMin", None),
    "max_argmax": ("x|y", ["x=Vi(2)", "y=Vj(2)"], "Max_ArgMax", None),
    "argkmin": ("SqDist(x,y)", ["x=Vi(5)", "y=Vj(5)"], "ArgKMin", 3),
    "kmin": ("x-y", ["x=Vi(2)", "y=Vj(2)"], "KMin", 2),
    "logsumexp": ("-SqDist(x,y)+b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"], "LogSumExp", None),
    "logsumexp_weight": ("-SqDist(x,y)", ["x=Vi(3)", "y=Vj(3)", "w=Vj(2)"], "LogSumExp", None),
    "sumsoftmaxweight": ("-SqDist(x,y)", ["x=Vi(3)", "y=Vj(3)", "w=Vj(2)"], "SumSoftMaxWeight", None),
    "parameters": ("Sin(p*(x|y))*Log(1+Abs(x-y))", ["x=Vi(3)", "y=Vj(3)", "p=Pm(1)"], "Sum", None),
    "softdtw": ("SoftDTW_SqDist(x,y,g)", ["x=Vi(3)", "y=Vj(3)", "g=Pm(1)"], "Sum", None),
}
WEIGHTED = {"logsumexp_weight", "sumsoftmaxweight"}


def compiled(name: str, axis: int = 1) -> kir.Kernel:
    formula, aliases, reduction, k = CASES[name]
    return kir.compile(
        formula,
        aliases,
        reduction=reduction,
        axis=axis,
        opt_arg=k,
        formula2="w" if name in WEIGHTED else None,
    )


def arrays_for(kernel: kir.Kernel, rows: int, reduced: int, dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    size_i, size_j = (rows, reduced) if kernel.axis == 1 else (reduced, rows)
    shapes = {"i": lambda d: (size_i, d), "j": lambda d: (size_j, d), "p": lambda d: (d,)}
    return [rng.uniform(0.1, 1.0, shapes[s.category](s.dim)).astype(dtype) for s in kernel.args]


def assert_same(got, want, dtype: str) -> None:
    want = want if isinstance(want, tuple) else (want,)
    tolerance = 2e-5 if dtype == "float32" else 1e-12
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        if g.dtype == np.int64:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("name", sorted(CASES))
def test_emulated_1d_scheme_matches_the_cpu(name, axis, dtype) -> None:
    kernel = compiled(name, axis)
    arrays = arrays_for(kernel, 37, 53, dtype)  # 2 blocks of 32 rows (the last partial), 2 tiles
    assert_same(run_emulated(kernel, arrays, block=32, scheme="1d"), kernel(*arrays), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("name", sorted(set(CASES) - {"softdtw"}))
def test_emulated_2d_scheme_matches_the_cpu(name, axis, dtype) -> None:
    kernel = compiled(name, axis)
    # 3 splits of 2 tiles of 32 reduced rows (the last split holds one partial tile): the second
    # stage folds states of unequal splits, ArgKMin's indices and LogSumExp's peaks included.
    arrays = arrays_for(kernel, 37, 170, dtype)
    plan = DeviceProgram(kernel, dtype, DeviceOptions(block=32, scheme="2d", splits=3)).plan(
        *((37, 170) if axis == 1 else (170, 37))
    )
    assert [launch.grid for launch in plan.launches] == [(2, 3), (2, 1)]
    assert_same(run_emulated(kernel, arrays, block=32, scheme="2d", splits=3), kernel(*arrays), dtype)


def test_the_2d_scheme_is_chosen_for_few_rows() -> None:
    program = DeviceProgram(compiled("gauss_sum"), "float32", DeviceOptions(multiprocessors=132))
    few, many = program.plan(1000, 10**6), program.plan(10**6, 10**6)
    assert [launch.function for launch in few.launches] == ["kir_partial_0", "kir_combine_0"]
    # 88 splits asked (4 blocks per multiprocessor); 87 of 60 tiles each cover the 5209 tiles.
    assert few.launches[0].grid == (6, 87)
    assert [(launch.function, launch.grid) for launch in many.launches] == [("kir_1d_0", (5209, 1))]
    assert program.plan(1000, 100).launches[0].function == "kir_1d_0"  # too few tiles to split


def test_fused_kernels_reduce_over_both_indices() -> None:
    # A gradient-like kernel: sums over j (rows i) and over i (rows j) of shared subformulas.
    kernel = kir.compile(
        ["SqDist(x,y)", "Exp(-SqDist(x,y))*b", "Exp(-SqDist(x,y))*a"],
        ["x=Vi(3)", "y=Vj(3)", "a=Vi(2)", "b=Vj(1)"],
        reduction=["ArgKMin", "Sum", "Sum"],
        axis=[1, 1, 0],
        opt_arg=2,
    )
    assert [(g.axis, g.members) for g in groups_of(kernel)] == [(1, (0, 1)), (0, (2,))]
    arrays = arrays_for(kernel, 45, 70, "float64")
    for scheme in ("1d", "2d"):
        assert_same(
            run_emulated(kernel, arrays, block=32, scheme=scheme, splits=2), kernel(*arrays), "float64"
        )


def test_wide_variables_use_smaller_tiles_or_global_memory() -> None:
    # Max over entries is not a sum: no chunks, the tile holds whole rows.
    small = kir.compile("Max(x-y)", ["x=Vi(500)", "y=Vj(500)"], reduction="Min")
    assert chunk_plan(small, groups_of(small)[0]) is None
    assert tile_rows(small, groups_of(small)[0], "float32", 32) == 24  # 24 rows of 2 KB
    huge = kir.compile("Max(x-y)", ["x=Vi(6200)", "y=Vj(6200)"], reduction="Min")
    assert tile_rows(huge, groups_of(huge)[0], "float64", 192) == 0  # 49.6 KB: not one row
    for kernel, dtype in ((small, "float32"), (huge, "float64")):
        arrays = arrays_for(kernel, 33, 9, dtype)
        # The reference evaluator: the CPU back-end unrolls Max over 7000 entries (slow to build).
        want = tuple(r.astype(dtype) for r in evaluate(kernel.module(dtype), arrays))
        assert_same(run_emulated(kernel, arrays, block=32), want, dtype)


CHUNKED = {
    "gauss": ("Exp(-SqDist(x,y))*b", ["x=Vi(200)", "y=Vj(200)", "b=Vj(2)"], "Sum"),
    "mixed": (
        "Exp(-SqDist(x,y)*p) + (x|y) / (1 + SqNorm2(y - p)) + Sum(x*Abs(y))",
        ["x=Vi(150)", "y=Vj(150)", "p=Pm(1)"],
        "Sum",
    ),
    "knn": ("SqDist(x,y)", ["x=Vi(100)", "y=Vj(100)"], "ArgKMin"),
    "lse": ("-SqDist(x,y)+c", ["x=Vi(70)", "y=Vj(70)", "c=Vj(1)"], "LogSumExp"),
}


@pytest.mark.parametrize("axis", [1, 0])
@pytest.mark.parametrize("name", sorted(CHUNKED))
def test_chunked_scheme_matches_the_cpu(name, axis) -> None:
    formula, aliases, reduction = CHUNKED[name]
    kernel = kir.compile(
        formula, aliases, reduction=reduction, axis=axis, opt_arg=3 if name == "knn" else None
    )
    plan = chunk_plan(kernel, groups_of(kernel)[0])
    assert plan is not None and plan.width == int(aliases[0][5:-1])
    if name == "mixed":
        assert sorted(r.op.name for r in plan.roots) == [
            "kir.scalprod",
            "kir.sqdist",
            "kir.sqnorm2",
            "kir.sum",
        ]
    for dtype in ("float32", "float64"):
        arrays = arrays_for(kernel, 37, 45, dtype)
        want = kernel(*arrays)
        for scheme in ("1d", "2d"):
            got = run_emulated(kernel, arrays, block=32, scheme=scheme, splits=2)
            assert_same(got, want, dtype)


def test_wide_variables_used_outside_sums_are_not_chunked() -> None:
    kernel = kir.compile("SqDist(x,y) * Max(x)", ["x=Vi(100)", "y=Vj(100)"])
    assert chunk_plan(kernel, groups_of(kernel)[0]) is None
    narrow = kir.compile("SqDist(x,y)", ["x=Vi(10)", "y=Vj(10)"])
    assert chunk_plan(narrow, groups_of(narrow)[0]) is None


def test_chunked_d1000_gaussian_does_not_spill() -> None:
    ptxas = _ptxas_or_skip()
    kernel = kir.compile("Exp(-SqDist(x,y))*b", ["x=Vi(1000)", "y=Vj(1000)", "b=Vj(1)"])
    text = ptx.compile_ptx(DeviceProgram(kernel).llvm_ir(), 80)
    assert "kir_1d_0_chunk" in text  # the chunk's shared buffer
    done = subprocess.run(
        [ptxas, "-arch=sm_80", "-v", "-", "-o", "/dev/null"], input=text, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"0 bytes spill stores, 0 bytes spill loads", done.stderr), done.stderr


def test_emulation_runs_the_device_ir() -> None:
    text = DeviceProgram(compiled("gauss_sum")).llvm_ir("1d")
    assert "addrspace(3)" in text and "llvm.nvvm.barrier0" in text and "ptx_kernel" in text
    host = host_ir(text)
    assert "addrspace(3)" not in host and "kir_emu_barrier" in host and "__nv_expf" in host


@pytest.mark.parametrize("scheme", ["1d", "2d"])
def test_tiles_smaller_than_the_block(scheme) -> None:
    # 12 rows per tile, blocks of 32 threads: threads copy several entries, most tiles partial.
    kernel = compiled("argkmin")
    arrays = arrays_for(kernel, 37, 53, "float32")
    got = run_emulated(kernel, arrays, block=32, tile=12, scheme=scheme, splits=2)
    assert_same(got, kernel(*arrays), "float32")


def test_bad_options_are_refused() -> None:
    with pytest.raises(KirError, match="multiple of 32"):
        DeviceOptions(block=100)
    with pytest.raises(KirError, match="unknown GPU scheme"):
        DeviceOptions(scheme="3d")
    with pytest.raises(KirError, match="tile must be between 1 and the block size 64"):
        DeviceOptions(block=64, tile=65)
    with pytest.raises(KirError, match="chunk must be at least 1"):
        DeviceOptions(chunk=0)


def _ptxas_or_skip() -> str:
    try:
        ptx.find_libdevice()
    except KirError as error:
        pytest.skip(f"no libdevice: {str(error).splitlines()[0]}")
    found = shutil.which("ptxas")
    if found is None:
        pytest.skip("ptxas is not installed: PTX built, not assembled")
    return found


@pytest.mark.parametrize("capability", [80, 90])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_ptxas_accepts_the_ptx(name, dtype, capability, tmp_path) -> None:
    ptxas = _ptxas_or_skip()
    program = DeviceProgram(compiled(name), dtype)
    for scheme in ("1d", "2d"):
        text = ptx.compile_ptx(program.llvm_ir(scheme), capability)
        assert ".shared" in text and "bar.sync" in text
        source = tmp_path / f"{scheme}.ptx"
        source.write_text(text)
        done = subprocess.run(
            [ptxas, f"-arch=sm_{capability}", "-v", str(source), "-o", str(tmp_path / f"{scheme}.cubin")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr


def test_fast_math_uses_the_approximations() -> None:
    _ptxas_or_skip()
    kernel = kir.compile("Sin(x|y)*Log(SqDist(x,y))", ["x=Vi(3)", "y=Vj(3)"])
    precise = ptx.compile_ptx(DeviceProgram(kernel).llvm_ir(), 80)
    fast = ptx.compile_ptx(DeviceProgram(kernel, options=DeviceOptions(fast_math=True)).llvm_ir(), 80)
    assert "sin.approx" not in precise and "sin.approx.ftz.f32" in fast and "lg2.approx.ftz.f32" in fast
    arrays = arrays_for(kernel, 40, 50, "float32")
    got = run_emulated(kernel, arrays, block=32, fast_math=True)
    assert_same(got, kernel(*arrays), "float32")


def test_gaussian_d3_has_no_local_memory() -> None:
    ptxas = _ptxas_or_skip()
    text = ptx.compile_ptx(DeviceProgram(compiled("gauss_sum")).llvm_ir(), 80)
    assert ".local" not in text
    done = subprocess.run(
        [ptxas, "-arch=sm_80", "-v", "-", "-o", "/dev/null"], input=text, capture_output=True, text=True
    )
    if done.returncode != 0:  # older ptxas read no stdin: use a file
        pytest.skip(done.stderr[:200])
    assert re.search(r"0 bytes spill stores, 0 bytes spill loads", done.stderr), done.stderr


STUCK_KERNEL = """
target triple = "nvptx64-nvidia-cuda"
define ptx_kernel void @"stuck"(i32 %".1") {
entry:
  %".2" = call i32 @"llvm.nvvm.read.ptx.sreg.tid.x"()
  %".3" = icmp eq i32 %".2", 0
  br i1 %".3", label %"leave", label %"wait"
wait:
  call void @"llvm.nvvm.barrier0"()
  ret void
leave:
  ret void
}
declare i32 @"llvm.nvvm.read.ptx.sreg.tid.x"()
declare void @"llvm.nvvm.barrier0"()
"""


def test_a_barrier_some_thread_skips_fails_instead_of_hanging() -> None:
    module = EmulatedModule(STUCK_KERNEL)  # thread 0 leaves; the others wait for it forever
    module.timeout.value = 1
    with pytest.raises(KirError, match="barrier some thread never reached"):
        module.launch("stuck", (1, 1), 32, [ctypes.c_int32(0)])


def test_sums_are_added_tile_by_tile() -> None:
    # 3200 terms of 0.1f: added one by one in float32 the total drifts by 3e-5 (320.0103);
    # tiles of 32 terms, then the tiles' sums (KeOps' block_sum), stay within 2e-7.
    kernel = kir.compile("b", ["x=Vi(1)", "b=Vj(1)"], reduction="Sum")
    x, b = np.zeros((1, 1), np.float32), np.full((3200, 1), 0.1, np.float32)
    exact = 3200 * float(np.float32(0.1))
    for scheme in ("1d", "2d"):
        got = run_emulated(kernel, [x, b], block=32, scheme=scheme, splits=3)[0]
        assert abs(float(got[0, 0]) - exact) / exact < 1e-6
