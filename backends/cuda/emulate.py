"""Running the GPU kernel's LLVM IR on the CPU, block by block, thread by thread, to prove the
schedule without a GPU.

The very IR that becomes PTX (codegen.py) is compiled for the host with three changes: shared
memory (address space 3) becomes one host global, which every emulated thread of a block
sees, as on the device; the special registers (threadIdx.x, blockIdx.x/y, blockDim.x) become
four leading parameters of each kernel, given per emulated thread; the barrier (bar.sync)
becomes a sense-reversing spin barrier in native code (an atomic counter and generation). Each
block runs as `block` OS threads executing the compiled kernel concurrently (ctypes releases
the GIL: they really run at once), so the tile loads, barrier phases and index arithmetic are
those of the GPU; blocks run one after the other. libdevice's functions are replaced by the
host's (LLVM intrinsics), which differ from libdevice's by rounding only.
"""

from __future__ import annotations

import ctypes
import queue
import re
import threading
from collections.abc import Sequence

import llvmlite.binding as llvm
import numpy as np

from kir.errors import KirError

_LOCK = threading.Lock()

BARRIER_TIMEOUT_S = 20
"""Seconds a thread waits at a barrier before the block is declared stuck: a barrier some
thread never reaches is a bug in the schedule, reported instead of hanging."""

REGISTERS = {"tid.x": "emu.tid", "ctaid.x": "emu.ctaid.x", "ctaid.y": "emu.ctaid.y", "ntid.x": "emu.ntid"}
"""PTX special registers and the host kernel parameters that carry them."""

_BARRIER = """
@kir_emu_count = internal global i32 0
@kir_emu_generation = internal global i32 0
@kir_emu_stuck = global i32 0
@kir_emu_timeout = global i64 0
declare i32 @sched_yield()
declare i64 @time(i64*)

define internal void @kir_emu_barrier(i32 %threads) {
entry:
  %generation = load atomic i32, i32* @kir_emu_generation acquire, align 4
  %arrived = atomicrmw add i32* @kir_emu_count, i32 1 acq_rel
  %last = add i32 %threads, -1
  %is_last = icmp eq i32 %arrived, %last
  br i1 %is_last, label %release, label %start
release:
  store atomic i32 0, i32* @kir_emu_count monotonic, align 4
  %ignored = atomicrmw add i32* @kir_emu_generation, i32 1 release
  ret void
start:
  %began = call i64 @time(i64* null)
  %timeout = load i64, i64* @kir_emu_timeout
  %deadline = add i64 %began, %timeout
  br label %wait
wait:
  %now = load atomic i32, i32* @kir_emu_generation acquire, align 4
  %moved = icmp ne i32 %now, %generation
  br i1 %moved, label %done, label %spin
spin:
  %yielded = call i32 @sched_yield()
  %clock = call i64 @time(i64* null)
  %over = icmp sgt i64 %clock, %deadline
  br i1 %over, label %stuck, label %wait
stuck:
  store atomic i32 1, i32* @kir_emu_stuck monotonic, align 4
  ret void
done:
  ret void
}
"""


_DECLARE = re.compile(r'declare (float|double) @"?(__nv_\w+?)"?\(([^)]*)\)\n')


def host_ir(device_ir: str) -> str:
    """The device IR rewritten for the host (see the module docstring)."""
    text = device_ir.replace("addrspace(3)", "").replace("ptx_kernel ", "")
    text = text.replace('target triple = "nvptx64-nvidia-cuda"', "")
    text = re.sub(r'target datalayout = "[^"]*"', "", text)
    registers = ", ".join(f'i32 %"{name}"' for name in REGISTERS.values())
    text = re.sub(
        r'^(define void @"?[\w.]+"?\()(\)?)', lambda m: m[1] + registers + (m[2] or ", "), text, flags=re.M
    )
    for register, name in REGISTERS.items():
        text = text.replace(f'call i32 @"llvm.nvvm.read.ptx.sreg.{register}"()', f'add i32 %"{name}", 0')
        text = text.replace(f'declare i32 @"llvm.nvvm.read.ptx.sreg.{register}"()\n', "")
    text = text.replace('call void @"llvm.nvvm.barrier0"()', 'call void @kir_emu_barrier(i32 %"emu.ntid")')
    text = text.replace('declare void @"llvm.nvvm.barrier0"()\n', "")
    if "llvm.nvvm" in text:
        raise KirError("the device IR uses an NVVM intrinsic the emulator does not know")
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
    return text + "\n" + "\n".join(shims) + _BARRIER


class EmulatedModule:
    """The device module compiled for the host; its kernels launched like CUDA kernels."""

    def __init__(self, device_ir: str):
        with _LOCK:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            module = llvm.parse_assembly(host_ir(device_ir))
            module.verify()
            # Unoptimized machine code: the emulation runs small problems, and O3 on big
            # unrolled formulas would cost seconds per kernel.
            machine = llvm.Target.from_default_triple().create_target_machine(opt=0)
            self._engine = llvm.create_mcjit_compiler(module, machine)
            self._engine.finalize_object()
        self._module = module
        self._stuck = ctypes.c_int32.from_address(self._engine.get_global_value_address("kir_emu_stuck"))
        self.timeout = ctypes.c_int64.from_address(self._engine.get_global_value_address("kir_emu_timeout"))
        self.timeout.value = BARRIER_TIMEOUT_S

    def launch(self, name: str, grid: tuple[int, int], block: int, arguments: Sequence[object]) -> None:
        """Run kernel `name` on a grid of (x, y) blocks of `block` threads; `arguments` are
        ctypes values. Blocks run one after another, y outer."""
        address = self._engine.get_function_address(name)
        if not address:
            raise KirError(f"the emulated module has no kernel {name!r}")
        registers = [ctypes.c_int32] * len(REGISTERS)
        function = ctypes.CFUNCTYPE(None, *registers, *(type(a) for a in arguments))(address)
        with _LOCK:  # one block at a time in the whole process: the barrier's state is global
            for y in range(grid[1]):
                for x in range(grid[0]):
                    _run_block(function, arguments, (x, y), block)
                    if self._stuck.value:
                        raise KirError(
                            f"emulated block {(x, y)} of {name}: a barrier some thread never reached"
                        )


class _Worker:
    """A persistent OS thread that runs emulated GPU threads (starting threads per block costs
    more than the block)."""

    def __init__(self) -> None:
        self.work: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            function, arguments, finished = self.work.get()
            try:
                function(*arguments)
                finished.put(None)
            except BaseException as error:  # noqa: BLE001 - reported by the launching thread
                finished.put(error)


_WORKERS: list[_Worker] = []


def _run_block(
    function: ctypes._CFuncPtr, arguments: Sequence[object], index: tuple[int, int], block: int
) -> None:
    """One block: `block` OS threads running the kernel, sharing its barrier (and the tile)."""
    while len(_WORKERS) < block:
        _WORKERS.append(_Worker())
    finished: queue.SimpleQueue = queue.SimpleQueue()
    x, y = (ctypes.c_int32(v) for v in index)
    size = ctypes.c_int32(block)
    for thread in range(block):
        _WORKERS[thread].work.put((function, (ctypes.c_int32(thread), x, y, size, *arguments), finished))
    errors = [e for e in (finished.get() for _ in range(block)) if e is not None]
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


def execute(
    program,
    arrays: Sequence[np.ndarray],
    size_i: int,
    size_j: int,
    scheme: str | None = None,
    module: EmulatedModule | None = None,
) -> list[np.ndarray]:
    """Carry out `program`'s plan (in its options' scheme, or `scheme`) for these checked
    arrays on the emulator; `module`: one EmulatedModule of `program.llvm_ir("all")` to run
    every launch from (else each scheme's module is compiled)."""
    plan = program.plan(size_i, size_j, scheme)
    arrays = [np.ascontiguousarray(a) for a in arrays]
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
        if module is not None:
            modules[launch.scheme] = module
        elif launch.scheme not in modules:
            modules[launch.scheme] = EmulatedModule(program.llvm_ir(launch.scheme))
        arguments = [
            ctypes.c_int32(k) if kind == "i32" else ctypes.c_void_p(buffers[kind][k].ctypes.data)
            for kind, k in launch.operands
        ]
        modules[launch.scheme].launch(launch.function, launch.grid, launch.block, arguments)
    return outputs
