"""backends/cuda/ptx.py: LLVM IR -> PTX through llvmlite's NVPTX target, libdevice linked and
trimmed; ptxas (where installed) must accept the PTX for sm_80 and sm_90."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kir.backends.cuda import ptx
from kir.errors import KirError

KERNEL = """
define ptx_kernel void @gauss(ptr addrspace(1) %out, ptr addrspace(1) %x, i32 %n) {
entry:
  %tid = call i32 @llvm.nvvm.read.ptx.sreg.tid.x()
  %ctaid = call i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()
  %ntid = call i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
  %base = mul i32 %ctaid, %ntid
  %i = add i32 %base, %tid
  %inside = icmp slt i32 %i, %n
  br i1 %inside, label %body, label %done
body:
  %i64 = sext i32 %i to i64
  %p = getelementptr float, ptr addrspace(1) %x, i64 %i64
  %v = load float, ptr addrspace(1) %p
  %e = call float @__nv_expf(float %v)
  %s = call float @__nv_sinf(float %e)
  %q = getelementptr float, ptr addrspace(1) %out, i64 %i64
  store float %s, ptr addrspace(1) %q
  br label %done
done:
  ret void
}
declare float @__nv_expf(float)
declare float @__nv_sinf(float)
declare i32 @llvm.nvvm.read.ptx.sreg.tid.x()
declare i32 @llvm.nvvm.read.ptx.sreg.ctaid.x()
declare i32 @llvm.nvvm.read.ptx.sreg.ntid.x()
"""


def _libdevice_or_skip() -> Path:
    try:
        return ptx.find_libdevice()
    except KirError as error:
        pytest.skip(f"no libdevice on this machine: {str(error).splitlines()[0]}")


def test_ptx_versions_follow_the_architecture() -> None:
    assert ptx.ptx_version(80) == 70 and ptx.ptx_version(90) == 78 and ptx.ptx_version(89) == 78
    assert ptx.ptx_version(86) == 71 and ptx.ptx_version(75) == 64
    with pytest.raises(KirError, match="7.0 or newer"):
        ptx.ptx_version(61)


def test_missing_libdevice_names_every_place_searched(tmp_path, monkeypatch) -> None:
    for name in ptx.LIBDEVICE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "toolkit"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(ptx, "LIBDEVICE_PLACES", ())
    monkeypatch.setattr("sys.path", [str(tmp_path / "site")])
    with pytest.raises(KirError, match="KIR_LIBDEVICE") as error:
        ptx.find_libdevice()
    assert str(tmp_path / "toolkit" / "nvvm" / "libdevice" / "libdevice.10.bc") in str(error.value)
    assert str(tmp_path / "site" / "nvidia" / "cuda_nvcc") in str(error.value)


def test_kir_libdevice_points_at_the_file(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "libdevice.10.bc"
    fake.write_bytes(b"BC")
    monkeypatch.setenv("KIR_LIBDEVICE", str(fake))
    assert ptx.find_libdevice() == fake


def test_module_without_kernel_is_refused() -> None:
    with pytest.raises(KirError, match="no PTX kernel"):
        ptx.compile_ptx("define float @f(float %x) {\n  ret float %x\n}\n")


@pytest.mark.parametrize("capability", [80, 90])
def test_libdevice_is_linked_and_trimmed(capability, tmp_path) -> None:
    _libdevice_or_skip()
    text = ptx.compile_ptx(KERNEL, capability)
    assert f".target sm_{capability}" in text and ".visible .entry gauss(" in text
    assert f".version {ptx.ptx_version(capability) // 10}.{ptx.ptx_version(capability) % 10}" in text
    # Only the kernel remains: libdevice's functions inlined or dropped, its reflection folded.
    assert ".func" not in text and "__nv_" not in text and "__nvvm_reflect" not in text
    ptxas = shutil.which("ptxas")
    if ptxas is None:
        pytest.skip("ptxas is not installed: the PTX was built but not assembled")
    source = tmp_path / "gauss.ptx"
    source.write_text(text)
    done = subprocess.run(
        [ptxas, f"-arch=sm_{capability}", str(source), "-o", str(tmp_path / "gauss.cubin")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_libdevice_subset_is_kept_on_disk(tmp_path, monkeypatch) -> None:
    _libdevice_or_skip()
    monkeypatch.setenv("KIR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(ptx, "_LIBDEVICE_SUBSETS", {})
    first = ptx.compile_ptx(KERNEL, 80)
    assert len(list(tmp_path.iterdir())) == 1  # the subset for {__nv_expf}
    # A new process: nothing in memory, and libdevice itself is not parsed again.
    monkeypatch.setattr(ptx, "_LIBDEVICE_SUBSETS", {})

    def unreadable() -> bytes:
        raise AssertionError("libdevice parsed again")

    monkeypatch.setattr(ptx, "_libdevice_bitcode", unreadable)
    assert ptx.compile_ptx(KERNEL, 80) == first
