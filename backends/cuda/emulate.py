"""Running the GPU kernel's LLVM IR on the CPU, block by block, thread by thread, to prove the
schedule without a GPU.

The very IR that becomes PTX (codegen.py) is compiled for the host with three changes: shared
memory (address space 3) becomes one host global, which every emulated thread of a block
sees, as on the device; the special registers (threadIdx, blockIdx, blockDim) become calls
that read the emulated thread's own values; the barrier becomes a `threading.Barrier` of the
block's threads. Each block runs as `block` OS threads executing the compiled kernel
concurrently, so the tile loads, barrier phases and index arithmetic are those of the GPU;
blocks run one after the other. libdevice's functions are replaced by the host's (LLVM
intrinsics), which differ from libdevice's by rounding only.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Sequence

import llvmlite.binding as llvm
import numpy as np

from kir.errors import KirError

_CALLBACK_TID = ctypes.CFUNCTYPE(ctypes.c_int32)
_CALLBACK_VOID = ctypes.CFUNCTYPE(None)

_state = threading.local()
_LOCK = threading.Lock()

BARRIER_TIMEOUT_S = 60.0
"""A barrier some thread never reaches is a bug in the schedule: fail instead of hanging."""


def _thread_index() -> int:
    return _state.thread


def _block_index() -> int:
    return _state.block


def _block_size() -> int:
    return _state.size


def _barrier() -> None:
    # An exception cannot cross the C frames of the kernel: it is noted and raised after it.
    try:
        _state.barrier.wait(BARRIER_TIMEOUT_S)
    except threading.BrokenBarrierError as error:
        _state.failure = error


_CALLBACKS = {
    "kir_emu_tid_x": _CALLBACK_TID(_thread_index),
    "kir_emu_ctaid_x": _CALLBACK_TID(_block_index),
    "kir_emu_ntid_x": _CALLBACK_TID(_block_size),
    "kir_emu_barrier": _CALLBACK_VOID(_barrier),
}


_DECLARE = re.compile(r'declare (float|double) @"?(__nv_\w+?)"?\(([^)]*)\)\n')


def host_ir(device_ir: str) -> str:
    """The device IR rewritten for the host (see the module docstring)."""
    text = device_ir.replace("addrspace(3)", "").replace("ptx_kernel ", "")
    text = text.replace('target triple = "nvptx64-nvidia-cuda"', "")
    for register in ("tid", "ctaid", "ntid"):
        text = text.replace(f"llvm.nvvm.read.ptx.sreg.{register}.x", f"kir_emu_{register}_x")
    text = text.replace("llvm.nvvm.barrier0", "kir_emu_barrier")
    # libdevice's math -> the host's: __nv_expf(float) -> llvm.exp.f32, __nv_exp -> llvm.exp.f64.
    shims = []
    for kind, symbol, params in _DECLARE.findall(text):
        single = kind == "float"
        name = symbol[len("__nv_") :]
        base = name[:-1] if single and name.endswith("f") else name
        arity = len(params.split(","))
        intrinsic = f"llvm.{base}.{'f32' if single else 'f64'}"
        formal = ", ".join(f"{kind} %a{k}" for k in range(arity))
        shims.append(
            f'define internal {kind} @"{symbol}"({formal}) {{\n'
            f"  %r = call {kind} @{intrinsic}({formal})\n  ret {kind} %r\n}}\n"
            f"declare {kind} @{intrinsic}({', '.join([kind] * arity)})\n"
        )
    text = _DECLARE.sub("", text)
    return text + "\n" + "\n".join(shims)


class EmulatedKernel:
    """The device kernel compiled for the host, launched like a CUDA kernel."""

    def __init__(self, device_ir: str, name: str = "kir_kernel"):
        with _LOCK:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            for symbol, callback in _CALLBACKS.items():
                llvm.add_symbol(symbol, ctypes.cast(callback, ctypes.c_void_p).value)
            module = llvm.parse_assembly(host_ir(device_ir))
            module.verify()
            # Unoptimized machine code: the emulation runs small problems, and O3 on big
            # unrolled formulas would cost seconds per kernel.
            machine = llvm.Target.from_default_triple().create_target_machine(opt=0)
            self._engine = llvm.create_mcjit_compiler(module, machine)
            self._engine.finalize_object()
            self._address = self._engine.get_function_address(name)
        self._module = module

    def launch(self, grid: int, block: int, arguments: Sequence[object]) -> None:
        """Run the kernel on `grid` blocks of `block` threads; `arguments` are ctypes values."""
        function = ctypes.CFUNCTYPE(None, *(type(a) for a in arguments))(self._address)
        for block_index in range(grid):
            _run_block(function, arguments, block_index, block)


def _run_block(function: ctypes._CFuncPtr, arguments: Sequence[object], block_index: int, block: int) -> None:
    """One block: `block` OS threads running the kernel, sharing its barrier (and the tile)."""
    barrier = threading.Barrier(block)
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        _state.thread, _state.block, _state.size, _state.barrier = thread, block_index, block, barrier
        _state.failure = None
        try:
            function(*arguments)
        except BaseException as error:  # noqa: BLE001 - reported below
            _state.failure = error
        if _state.failure is not None:
            errors.append(_state.failure)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(block)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise KirError(f"emulated block {block_index} failed: {errors[0]!r}")


def run_emulated(kernel, arrays: Sequence[np.ndarray], block: int = 32, dtype: str | None = None) -> list:
    """The outputs of `kernel` (a kir Kernel) on `arrays`, computed by its GPU code run on the
    CPU (1D scheme, `block` threads per block)."""
    from kir.backends.cuda.codegen import fit_block, kernel_ir
    from kir.runtime.arrays import check_arguments

    checked, found, size_i, size_j = check_arguments(arrays, kernel.args, kernel.dtype)
    dtype = dtype or found
    rows, reduced = (size_i, size_j) if kernel.axis == 1 else (size_j, size_i)
    block = fit_block(kernel, dtype, block)
    emulated = EmulatedKernel(kernel_ir(kernel, dtype, block))
    outputs = [
        np.zeros((rows, t.size), dtype=np.int64 if t.dtype_name == "i64" else dtype)
        for t in kernel.output_types()
    ]
    pointers = [ctypes.c_void_p(a.ctypes.data) for a in [*checked, *outputs]]
    grid = max(1, -(-rows // block))
    emulated.launch(grid, block, [*pointers, ctypes.c_int32(rows), ctypes.c_int32(reduced)])
    return outputs
