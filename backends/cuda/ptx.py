"""LLVM IR for `nvptx64-nvidia-cuda` -> PTX, through llvmlite's NVPTX target: no nvcc, nvrtc
or C++ compiler involved. libdevice (the CUDA toolkit's bitcode math library) is linked in
when the module calls `__nv_*` functions, then every function but the kernels is internalized
and global dead-code elimination drops what no kernel uses, so the PTX holds only the math
actually called.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path

import llvmlite.binding as llvm

from kir.errors import KirError
from kir.runtime import disk_cache

TRIPLE = "nvptx64-nvidia-cuda"
DATA_LAYOUT = "e-i64:64-i128:128-v16:16-v32:32-n16:32:64"

PTX_VERSIONS = {70: 64, 75: 64, 80: 70, 86: 71, 87: 74, 89: 78, 90: 78, 100: 86, 120: 87}
"""PTX ISA version (x10) per compute capability (x10): the oldest that knows the architecture,
so that the oldest driver able to run the device can load the module."""

LIBDEVICE_ENV = ("KIR_LIBDEVICE", "CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDA_TOOLKIT_ROOT_DIR")
LIBDEVICE_PLACES = ("/usr/local/cuda", "/opt/cuda", "/usr/lib/cuda", "/usr/lib/nvidia-cuda-toolkit")

_LOCK = threading.Lock()


@functools.cache
def _initialized() -> bool:
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    return True


def ptx_version(capability: int) -> int:
    """The PTX ISA version (x10) for compute capability `capability` (x10: 80 for sm_80)."""
    if capability < 70:
        raise KirError(f"kir's CUDA back-end needs compute capability 7.0 or newer, got {capability / 10}")
    known = [c for c in sorted(PTX_VERSIONS) if c <= capability]
    return PTX_VERSIONS[known[-1]]


def libdevice_candidates() -> list[Path]:
    """Where libdevice is looked for, in order: $KIR_LIBDEVICE (the file or its folder), the
    toolkit named by $CUDA_HOME / $CUDA_PATH / ..., the usual install folders, the folder of
    `ptxas` on the PATH, and the nvidia-cuda-nvcc wheel."""
    roots: list[Path] = []
    for name in LIBDEVICE_ENV:
        value = os.environ.get(name)
        if value:
            roots.append(Path(value))
    roots += [Path(p) for p in LIBDEVICE_PLACES]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder and (Path(folder) / "ptxas").exists():
            roots.append(Path(folder).resolve().parent)
    for site in sys.path:
        roots.append(Path(site) / "nvidia" / "cuda_nvcc")
    candidates = []
    for root in roots:
        candidates += [root, root / "libdevice.10.bc", root / "nvvm" / "libdevice" / "libdevice.10.bc"]
    return candidates


def find_libdevice() -> Path:
    """The path of libdevice.10.bc; a KirError naming every place searched when it is absent."""
    searched = []
    for candidate in libdevice_candidates():
        if candidate.is_file() and candidate.suffix == ".bc":
            return candidate
        searched.append(str(candidate))
    shown = "\n  ".join(dict.fromkeys(searched))
    raise KirError(
        "libdevice.10.bc (the CUDA toolkit's math library) was not found; set KIR_LIBDEVICE to "
        f"the file, or CUDA_HOME to the toolkit. Searched:\n  {shown}"
    )


@functools.cache
def _libdevice_bitcode() -> bytes:
    return find_libdevice().read_bytes()


def libdevice_stamp() -> str:
    """libdevice's path, size and modification time (what cached code made with it depends
    on); "no libdevice" when there is none."""
    try:
        path = find_libdevice()
    except KirError:
        return "no libdevice"
    stat = path.stat()
    return f"{path} {stat.st_size} {stat.st_mtime_ns}"


def _keep_only(module: llvm.ModuleRef, names, builder: llvm.PassBuilder) -> None:
    """Every defined function but `names` internal, then whatever is unused dropped."""
    for function in module.functions:
        if not function.is_declaration and function.name not in names:
            function.linkage = "internal"
    cleanup = llvm.create_new_module_pass_manager()
    cleanup.add_global_dead_code_eliminate_pass()
    cleanup.run(module, builder)


_LIBDEVICE_SUBSETS: dict[frozenset[str], bytes] = {}
"""libdevice trimmed to the functions a module calls (and theirs), as bitcode, per set of
names: parsing all of libdevice takes ~80 ms, its subset for a formula a millisecond. Kept
on disk too (kir/runtime/disk_cache.py)."""


def _libdevice_for(names: frozenset[str], builder: llvm.PassBuilder) -> llvm.ModuleRef:
    if names not in _LIBDEVICE_SUBSETS:
        # Also on disk (kir's cache): a new formula in a new process skips the full parse.
        key = f"libdevice subset\n{libdevice_stamp()}\n{' '.join(sorted(names))}"
        stored = disk_cache.load(key)
        if stored is not None and stored[0].get("kind") == "libdevice":
            _LIBDEVICE_SUBSETS[names] = stored[1]
        else:
            library = llvm.parse_bitcode(_libdevice_bitcode())
            _keep_only(library, names, builder)
            _LIBDEVICE_SUBSETS[names] = library.as_bitcode()
            disk_cache.store(key, {"kind": "libdevice"}, _LIBDEVICE_SUBSETS[names])
    return llvm.parse_bitcode(_LIBDEVICE_SUBSETS[names])


def target_machine(capability: int) -> llvm.TargetMachine:
    """The NVPTX target machine for sm_<capability>, PTX version from `ptx_version`."""
    _initialized()
    target = llvm.Target.from_triple(TRIPLE)
    features = f"+ptx{ptx_version(capability)}"
    return target.create_target_machine(cpu=f"sm_{capability}", features=features, opt=3)


def kernel_names(module: llvm.ModuleRef) -> list[str]:
    """The functions of `module` that are PTX kernels (ptx_kernel calling convention or the
    nvvm.annotations "kernel" mark)."""
    text = str(module)
    names = []
    for function in module.functions:
        if function.is_declaration:
            continue
        if f"ptx_kernel void @{function.name}(" in text or f'@{function.name}, !"kernel"' in text:
            names.append(function.name)
    return names


def compile_ptx(llvm_ir: str, capability: int = 80) -> str:
    """PTX text for the LLVM IR `llvm_ir` (triple nvptx64-nvidia-cuda) on sm_<capability>."""
    with _LOCK:  # LLVM contexts and libdevice parsing are not shared across threads safely
        _initialized()
        module = llvm.parse_assembly(llvm_ir)
        module.triple, module.data_layout = TRIPLE, DATA_LAYOUT
        kernels = kernel_names(module)
        if not kernels:
            raise KirError("the module defines no PTX kernel (ptx_kernel or nvvm.annotations 'kernel')")
        machine = target_machine(capability)
        options = llvm.create_pipeline_tuning_options(speed_level=3)
        builder = llvm.create_pass_builder(machine, options)
        called = frozenset(
            f.name for f in module.functions if f.is_declaration and f.name.startswith("__nv_")
        )
        if called:
            libdevice = _libdevice_for(called, builder)
            libdevice.triple, libdevice.data_layout = TRIPLE, DATA_LAYOUT
            module.link_in(libdevice)
        # Unused libdevice functions dropped before O3 (optimizing all of libdevice would
        # cost most of the compile); O3 (NVPTX's own passes, NVVMReflect among them, fold
        # libdevice's __nvvm_reflect queries); then what O3 left unused.
        _keep_only(module, kernels, builder)
        builder.getModulePassManager().run(module, builder)
        _keep_only(module, kernels, builder)
        module.verify()
        return machine.emit_assembly(module)
