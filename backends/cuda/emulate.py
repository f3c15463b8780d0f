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


def _register(name: str):
    return lambda: getattr(_state, name)


def _barrier() -> None:
    # An exception cannot cross the C frames of the kernel: it is noted and raised after it.
    try:
        _state.barrier.wait(BARRIER_TIMEOUT_S)
    except threading.BrokenBarrierError as error:
        _state.failure = error


REGISTERS = ("tid_x", "ctaid_x", "ctaid_y", "ntid_x")
_CALLBACKS = {f"kir_emu_{r}": _CALLBACK_TID(_register(r)) for r in REGISTERS}
_CALLBACKS["kir_emu_barrier"] = _CALLBACK_VOID(_barrier)


_DECLARE = re.compile(r'declare (float|double) @"?(__nv_\w+?)"?\(([^)]*)\)\n')


def host_ir(device_ir: str) -> str:
    """The device IR rewritten for the host (see the module docstring)."""
    text = device_ir.replace("addrspace(3)", "").replace("ptx_kernel ", "")
    text = text.replace('target triple = "nvptx64-nvidia-cuda"', "")
    text = re.sub(r'target datalayout = "[^"]*"', "", text)
    for register in REGISTERS:
        text = text.replace(f"llvm.nvvm.read.ptx.sreg.{register.replace('_', '.')}", f"kir_emu_{register}")
    text = text.replace("llvm.nvvm.barrier0", "kir_emu_barrier")
    # libdevice's math -> the host's: __nv_expf(float) -> llvm.exp.f32, __nv_exp -> llvm.exp.f64.
    shims = []
    for kind, symbol, params in _DECLARE.findall(text):
        single = kind == "float"
        name = symbol[len("__nv_") :]
        base = name[:-1] if single and name.endswith("f") else name
        base = base.removeprefix("fast_")  # the approximations emulated by the precise function
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


class EmulatedModule:
    """The device module compiled for the host; its kernels launched like CUDA kernels."""

    def __init__(self, device_ir: str):
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
        self._module = module

    def launch(self, name: str, grid: tuple[int, int], block: int, arguments: Sequence[object]) -> None:
        """Run kernel `name` on a grid of (x, y) blocks of `block` threads; `arguments` are
        ctypes values. Blocks run one after another, y outer."""
        address = self._engine.get_function_address(name)
        if not address:
            raise KirError(f"the emulated module has no kernel {name!r}")
        function = ctypes.CFUNCTYPE(None, *(type(a) for a in arguments))(address)
        for y in range(grid[1]):
            for x in range(grid[0]):
                _run_block(function, arguments, (x, y), block)


def _run_block(
    function: ctypes._CFuncPtr, arguments: Sequence[object], index: tuple[int, int], block: int
) -> None:
    """One block: `block` OS threads running the kernel, sharing its barrier (and the tile)."""
    barrier = threading.Barrier(block)
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        _state.tid_x, _state.ntid_x, _state.barrier = thread, block, barrier
        _state.ctaid_x, _state.ctaid_y = index
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
        raise KirError(f"emulated block {index} failed: {errors[0]!r}")


def run_emulated(
    kernel, arrays: Sequence[np.ndarray], options=None, dtype: str | None = None, **settings
) -> list:
    """The outputs of `kernel` (a kir Kernel) on `arrays`, computed by its GPU program run on
    the CPU: the launch plan of kir/backends/cuda/program.py, every launch block by block.
    `options` (DeviceOptions) or keyword `settings` (block=, scheme=, splits=, ...) choose the
    schedule."""
    from kir.backends.cuda.program import DeviceOptions, DeviceProgram
    from kir.runtime.arrays import check_arguments

    checked, found, size_i, size_j = check_arguments(arrays, kernel.args, kernel.dtype)
    dtype = dtype or found
    program = DeviceProgram(kernel, dtype, options or DeviceOptions(**settings))
    return execute(program, checked, size_i, size_j)


def execute(program, arrays: Sequence[np.ndarray], size_i: int, size_j: int) -> list[np.ndarray]:
    """Carry out `program`'s plan for these (checked, contiguous) arrays on the emulator."""
    plan = program.plan(size_i, size_j)
    types = program.kernel.output_types()
    outputs = [
        np.zeros(shape, dtype=np.int64 if t.dtype_name == "i64" else program.dtype)
        for shape, t in zip(program.output_shapes(size_i, size_j), types, strict=True)
    ]
    # Scratch starts as NaN: a state the partial launch forgot to store shows in the result.
    scratch = [
        np.full(shape, -7 if dtype == "int64" else np.nan, dtype=dtype) for dtype, shape in plan.scratch
    ]
    buffers = {"arg": list(arrays), "out": outputs, "scratch": scratch}
    modules: dict[str, EmulatedModule] = {}
    for launch in plan.launches:
        if launch.scheme not in modules:
            modules[launch.scheme] = EmulatedModule(program.llvm_ir(launch.scheme))
        arguments = [
            ctypes.c_int32(k) if kind == "i32" else ctypes.c_void_p(buffers[kind][k].ctypes.data)
            for kind, k in launch.operands
        ]
        modules[launch.scheme].launch(launch.function, launch.grid, launch.block, arguments)
    return outputs
