"""Running a kernel on CUDA device arrays: PTX compiled once per (program, scheme, capability),
loaded once per device with the driver's JIT, launched on the array library's current stream.

A call carries out `DeviceProgram.plan` exactly as the emulator does (emulate.py `execute`):
outputs and scratch from the inputs' library (its allocator, its stream), one cuLaunchKernel
per launch of the plan. The device is the inputs' device, in its primary context (the one
torch and CuPy use). Without a usable driver a call raises; `KIR_CUDA_FALLBACK=cpu` computes
on the CPU instead, copying to the host and back, with a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import dataclasses
import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kir.backends.cuda import driver as cuda
from kir.backends.cuda.adapters import ArrayAdapter, host_description
from kir.backends.cuda.driver import CudaError, CudaUnavailable, check
from kir.backends.cuda.program import SCHEMES, DeviceOptions, DeviceProgram
from kir.backends.cuda.ptx import PTX_VERSIONS, compile_ptx, libdevice_stamp
from kir.errors import ArgumentError, KirError
from kir.runtime import disk_cache
from kir.runtime.arrays import check_count, check_layout, reduced_sizes

if TYPE_CHECKING:
    from kir.kernel import Kernel

FALLBACK_ENV = "KIR_CUDA_FALLBACK"
"""'cpu': without a usable CUDA driver, compute on the CPU (with a warning); unset: raise."""

SYNC_ENV = "KIR_CUDA_SYNC"
"""'1': synchronize after every launch, so that a kernel's fault names that kernel (debugging)."""

LOG_SIZE = 1 << 14
"""Bytes of the JIT's info and error logs kept."""

_SCHEME: contextvars.ContextVar[str] = contextvars.ContextVar("kir_cuda_scheme", default="auto")


@contextlib.contextmanager
def device_scheme(scheme: str) -> Iterator[None]:
    """Calls inside use this GPU scheme ('auto', '1d', '2d') unless the kernel has
    `device_options` of its own (pykeops' backend='GPU_1D' / 'GPU_2D')."""
    if scheme not in SCHEMES:
        raise KirError(f"unknown GPU scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    token = _SCHEME.set(scheme)
    try:
        yield
    finally:
        _SCHEME.reset(token)


def compile_capability(capability: int) -> int:
    """The capability (x10) to compile for on a device of `capability`: the newest one
    PTX_VERSIONS knows that is not newer (the driver JIT runs that PTX on newer cards)."""
    known = [c for c in PTX_VERSIONS if c <= capability]
    if not known:
        raise CudaError(
            f"kir's CUDA back-end needs compute capability {min(PTX_VERSIONS) / 10} or newer; "
            f"this device has {capability / 10}"
        )
    return max(known)


@dataclass
class Device:
    """A CUDA device as kir uses it: its primary context and the defaults read from it."""

    ordinal: int
    handle: Any
    context: Any
    capability: int
    multiprocessors: int


@dataclass
class LoadedModule:
    """One scheme's PTX loaded on one device; its functions looked up once."""

    handle: Any
    ptx: str
    info_log: str
    functions: dict[str, Any] = field(default_factory=dict)


def _text(buffer: bytearray) -> str:
    return bytes(buffer).split(b"\0", 1)[0].decode(errors="replace").strip()


class Runtime:
    """The driver state of a process: devices (primary contexts retained), PTX, loaded modules."""

    def __init__(self, driver: Any):
        self.driver = driver
        self.devices: dict[int, Device] = {}
        self.ptx: dict[tuple, str] = {}
        self.modules: dict[tuple, LoadedModule] = {}
        self._lock = threading.RLock()

    def device(self, ordinal: int) -> Device:
        """Device `ordinal`, its primary context retained on first use."""
        found = self.devices.get(ordinal)
        if found is not None:
            return found
        d = self.driver
        with self._lock:
            if ordinal in self.devices:
                return self.devices[ordinal]
            handle = check(d, d.cuDeviceGet(ordinal), f"cuDeviceGet({ordinal})")
            attributes = d.CUdevice_attribute
            major, minor, count = (
                check(
                    d, d.cuDeviceGetAttribute(a, handle), f"cuDeviceGetAttribute({a.name}) of cuda:{ordinal}"
                )
                for a in (
                    attributes.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                    attributes.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                    attributes.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                )
            )
            # The primary context is the one torch and CuPy use: their memory is valid in it.
            context = check(
                d, d.cuDevicePrimaryCtxRetain(handle), f"cuDevicePrimaryCtxRetain(cuda:{ordinal})"
            )
            device = Device(ordinal, handle, context, int(major) * 10 + int(minor), int(count))
            self.devices[ordinal] = device
            return device

    @contextlib.contextmanager
    def current(self, device: Device) -> Iterator[None]:
        """`device`'s context current on this thread, the previous one restored after (torch
        reads its current device from it)."""
        d = self.driver
        previous = check(d, d.cuCtxGetCurrent(), "cuCtxGetCurrent()")
        switch = (0 if previous is None else int(previous)) != int(device.context)
        if switch:
            check(d, d.cuCtxSetCurrent(device.context), f"cuCtxSetCurrent(cuda:{device.ordinal})")
        try:
            yield
        finally:
            if switch:
                check(d, d.cuCtxSetCurrent(previous), "cuCtxSetCurrent(previous context)")

    def module(self, key: tuple, program: DeviceProgram, scheme: str, device: Device) -> LoadedModule:
        """`program`'s module of `scheme` on `device` (its context current): compiled to PTX
        once per capability, loaded once per device."""
        loaded = self.modules.get((key, scheme, device.ordinal))
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self.modules.get((key, scheme, device.ordinal))
            if loaded is None:
                capability = compile_capability(device.capability)
                ptx = self.ptx.get((key, scheme, capability))
                if ptx is None:
                    ptx = cached_ptx(key, program, scheme, capability)
                    self.ptx[(key, scheme, capability)] = ptx
                loaded = self._load(ptx, scheme, device)
                self.modules[(key, scheme, device.ordinal)] = loaded
            return loaded

    def _load(self, ptx: str, scheme: str, device: Device) -> LoadedModule:
        d = self.driver
        info, errors = bytearray(LOG_SIZE), bytearray(LOG_SIZE)
        jit = d.CUjit_option
        options = [
            jit.CU_JIT_INFO_LOG_BUFFER,
            jit.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
            jit.CU_JIT_ERROR_LOG_BUFFER,
            jit.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        ]
        values = [info, LOG_SIZE, errors, LOG_SIZE]
        image = ptx.encode() + b"\0"  # the JIT reads PTX as a NUL-terminated string
        result, handle = d.cuModuleLoadDataEx(image, len(options), options, values)
        if int(result) != 0:
            log = _text(errors) or _text(info) or "(the JIT wrote no log)"
            raise CudaError(
                f"cuModuleLoadDataEx of the {scheme} module on cuda:{device.ordinal} "
                f"(sm_{device.capability}) failed: {cuda.error_name(d, result)}\nJIT log:\n{log}"
            )
        return LoadedModule(handle, ptx, _text(info))

    def function(self, loaded: LoadedModule, name: str) -> Any:
        found = loaded.functions.get(name)
        if found is None:
            d = self.driver
            found = check(
                d, d.cuModuleGetFunction(loaded.handle, name.encode()), f"cuModuleGetFunction({name})", name
            )
            loaded.functions[name] = found
        return found

    def launch(
        self,
        function: Any,
        name: str,
        grid: tuple[int, int],
        block: int,
        stream: int,
        params: tuple,
        what: str,
    ) -> None:
        d = self.driver
        call = f"cuLaunchKernel({name}, grid={grid}, block={block}) of {what}"
        check(
            d, d.cuLaunchKernel(function, grid[0], grid[1], 1, block, 1, 1, 0, stream, params, 0), call, name
        )
        if os.environ.get(SYNC_ENV) == "1":
            check(d, d.cuStreamSynchronize(stream), f"cuStreamSynchronize after {call}", name)


def cached_ptx(key: tuple, program: DeviceProgram, scheme: str, capability: int) -> str:
    """`program`'s PTX of `scheme` for sm_<capability>, from kir's disk cache when a process
    made it before (keyed by the kernel, options, scheme, capability, libdevice and kir's
    toolchain: kir/runtime/disk_cache.py), else compiled and stored."""
    disk_key = f"cuda ptx\n{key!r}\n{scheme} sm_{capability}\n{libdevice_stamp()}"
    stored = disk_cache.load(disk_key)
    if stored is not None and stored[0].get("kind") == "ptx":
        return stored[1].decode()
    ptx = compile_ptx(program.llvm_ir(scheme), capability)
    disk_cache.store(disk_key, {"kind": "ptx"}, ptx.encode())
    return ptx


_runtime: Runtime | None = None
_RUNTIME_LOCK = threading.Lock()


def runtime() -> Runtime:
    """The process's runtime over the current driver (a new one when the driver changed);
    CudaUnavailable when there is no usable driver."""
    global _runtime
    driver = cuda.initialized()
    current = _runtime
    if current is not None and current.driver is driver:
        return current
    with _RUNTIME_LOCK:
        if _runtime is None or _runtime.driver is not driver:
            _runtime = Runtime(driver)
        return _runtime


def describe(kernel: Kernel) -> str:
    """How errors name a kernel: its reductions and arguments."""
    reductions = ", ".join(f"{r.kind} over {'j' if r.axis == 1 else 'i'}" for r in kernel.reductions)
    args = ", ".join(f"{a.name}: V{a.category}({a.dim})" for a in kernel.args)
    return f"the kernel ({reductions}; {args})"


def program_for(kernel: Kernel, dtype: str, options: DeviceOptions) -> tuple[DeviceProgram, tuple]:
    """The kernel's device program for (dtype, options), made once, and the key its modules are
    cached under (kernels built again from the same formula share modules)."""
    programs = kernel._device_programs
    found = programs.get((dtype, options))
    if found is None:
        found = (DeviceProgram(kernel, dtype, options), (kernel.cache_key(dtype), dtype, options))
        programs[(dtype, options)] = found
    return found


def load(
    kernel: Kernel,
    dtype: str = "float32",
    ordinal: int = 0,
    options: DeviceOptions | None = None,
    schemes: Sequence[str] = ("1d", "2d"),
) -> float:
    """Compile and load `kernel`'s modules of `schemes` on device `ordinal` now; the seconds it took."""
    start = time.perf_counter()
    rt = runtime()
    device = rt.device(ordinal)
    options = _for_device(options or DeviceOptions(), device)
    program, key = program_for(kernel, dtype, options)
    with rt.current(device):
        for scheme in schemes:
            rt.module(key, program, scheme, device)
    return time.perf_counter() - start


def _for_device(options: DeviceOptions, device: Device) -> DeviceOptions:
    """`options` with the device's multiprocessor count where they leave it open."""
    if options.multiprocessors is None:
        return dataclasses.replace(options, multiprocessors=device.multiprocessors)
    return options


def _device_of(values: Sequence[Any], kernel: Kernel, adapter: ArrayAdapter) -> int:
    """The one device all arguments are on; an ArgumentError naming them otherwise."""
    placed = [
        (spec, adapter.device(v)) for spec, v in zip(kernel.args, values, strict=True) if adapter.on_device(v)
    ]
    host = [(spec, v) for spec, v in zip(kernel.args, values, strict=True) if not adapter.on_device(v)]
    if host:
        spec, value = host[0]
        first, ordinal = placed[0]
        raise ArgumentError(
            f"{first.describe()} is on {adapter.place(ordinal)} but {spec.describe()} is a "
            f"{host_description(value)}: kir does not move arrays between the host and a GPU; "
            f"put them all on one device (x.cuda() / x.cpu() with torch)"
        )
    ordinals = {ordinal for _, ordinal in placed}
    if len(ordinals) > 1:
        spelled = ", ".join(f"{spec.name} on {adapter.place(o)}" for spec, o in placed)
        raise ArgumentError(
            f"the arguments are on different devices ({spelled}); kir runs a call on one device"
        )
    return ordinals.pop() if ordinals else 0


def evaluate_on_device(kernel: Kernel, arrays: Sequence[Any], adapter: ArrayAdapter) -> list:
    """The kernel's outputs for device arrays of `adapter`'s library, as arrays of it."""
    values = list(arrays)
    check_count(len(values), kernel.args)
    ordinal = _device_of(values, kernel, adapter)
    shapes = [tuple(v.shape) for v in values]
    dtype, size_i, size_j = check_layout(
        shapes, [adapter.dtype_name(v) for v in values], kernel.args, kernel.dtype
    )
    reduced_sizes(kernel.axis, size_i, size_j)
    try:
        rt = runtime()
    except CudaUnavailable as error:
        return _on_host(kernel, values, adapter, ordinal, error)
    device = rt.device(ordinal)
    options = _for_device(kernel.device_options or DeviceOptions(scheme=_SCHEME.get()), device)
    program, key = program_for(kernel, dtype, options)
    plan = program.plan(size_i, size_j)
    types = kernel.output_types()
    outputs = [
        adapter.empty(shape, "int64" if t.dtype_name == "i64" else dtype, ordinal)
        for shape, t in zip(program.output_shapes(size_i, size_j), types, strict=True)
    ]
    if not plan.launches:
        return outputs
    inputs = [adapter.contiguous(v) for v in values]
    scratch = [adapter.empty(shape, kind, ordinal) for kind, shape in plan.scratch]
    # Temporaries (copies, scratch) may be freed when this returns: the allocators of torch and
    # CuPy reuse memory in stream order, after the launches queued here.
    pointers = {
        "arg": [adapter.pointer(a) for a in inputs],
        "out": [adapter.pointer(o) for o in outputs],
        "scratch": [adapter.pointer(s) for s in scratch],
    }
    stream = adapter.stream(ordinal)
    what = describe(kernel)
    with rt.current(device):
        for launch in plan.launches:
            loaded = rt.module(key, program, launch.scheme, device)
            function = rt.function(loaded, launch.function)
            # cuda-bindings packs ((values...), (ctypes types...)) into the kernel's parameters.
            params = (
                tuple(k if kind == "i32" else pointers[kind][k] for kind, k in launch.operands),
                tuple(ctypes.c_int32 if kind == "i32" else ctypes.c_void_p for kind, _ in launch.operands),
            )
            rt.launch(function, launch.function, launch.grid, launch.block, stream, params, what)
    return outputs


def _on_host(
    kernel: Kernel, values: list, adapter: ArrayAdapter, ordinal: int, error: CudaUnavailable
) -> list:
    """The opt-in fallback: the call on the CPU, the arrays copied to the host and back."""
    mode = os.environ.get(FALLBACK_ENV, "")
    if mode != "cpu":
        if mode:
            raise KirError(
                f"{FALLBACK_ENV}={mode!r}: the only fallback is 'cpu' (unset: no fallback)"
            ) from error
        raise error
    warnings.warn(
        f"kir: no usable CUDA driver ({error}); {FALLBACK_ENV}=cpu: computing on the CPU, the arrays "
        f"copied from {adapter.place(ordinal)} to the host and the results back",
        RuntimeWarning,
        stacklevel=4,
    )
    outputs = kernel.evaluate_numpy(*(adapter.to_host(v) for v in values))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [adapter.from_host(o, ordinal) for o in outputs]
