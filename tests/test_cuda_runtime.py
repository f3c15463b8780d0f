"""backends/cuda/runtime.py without a GPU: a fake driver whose cuLaunchKernel runs each launch on
the CPU emulator (emulate.py), over "device memory" that is host memory tagged with a device
ordinal (an array adapter of the tests' own, plugged in like torch's and CuPy's). The PTX is
really compiled (llvmlite's NVPTX target); the fake records it and emulates the same module's
LLVM IR."""

from __future__ import annotations

import ctypes
import enum
import importlib.util
import sys

import numpy as np
import pytest

import kir
from kir.backends.cuda import driver as cuda_driver
from kir.backends.cuda import runtime
from kir.backends.cuda.adapters import ArrayAdapter, register_adapter, unregister_adapter
from kir.backends.cuda.driver import CudaError, CudaUnavailable
from kir.backends.cuda.emulate import EmulatedModule
from kir.backends.cuda.program import DeviceOptions
from kir.backends.cuda.ptx import PTX_VERSIONS
from kir.errors import ArgumentError, KirError


class CUresult(enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_INVALID_VALUE = 1
    CUDA_ERROR_NO_DEVICE = 100
    CUDA_ERROR_INVALID_DEVICE = 101
    CUDA_ERROR_INVALID_PTX = 218
    CUDA_ERROR_LAUNCH_FAILED = 719


class CUdevice_attribute(enum.IntEnum):  # noqa: N801 - the driver's spelling
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76


class CUjit_option(enum.IntEnum):  # noqa: N801
    CU_JIT_INFO_LOG_BUFFER = 3
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4
    CU_JIT_ERROR_LOG_BUFFER = 5
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6


class DynamicLibNotFoundError(RuntimeError):
    """cuda.pathfinder's error, as cuda-bindings raises it without libcuda."""


class FakeContext:
    """A primary context: int() is its handle, as cuda-bindings' CUcontext."""

    def __init__(self, ordinal: int):
        self.ordinal = ordinal

    def __int__(self) -> int:
        return 1000 + self.ordinal


class FakeDriver:
    """The driver calls the runtime makes; launches run on the CPU emulator."""

    CUresult, CUdevice_attribute, CUjit_option = CUresult, CUdevice_attribute, CUjit_option

    def __init__(self, devices=((8, 0, 4), (8, 0, 4))):
        self.devices = list(devices)  # (major, minor, multiprocessors) per ordinal
        self.sources: dict[str, str] = {}  # PTX -> the LLVM IR it was compiled from
        self.compiled: list[int] = []  # capabilities compile_ptx was called for
        self.loads: list[tuple[str, int]] = []  # (PTX, device) per cuModuleLoadDataEx
        self.launches: list[dict] = []
        self.calls: dict[str, tuple] = {}  # the last arguments of each call
        self.current: FakeContext | None = None
        self.init_error: BaseException | CUresult | None = None
        self.jit_error: str | None = None
        self.launch_error: CUresult | None = None
        self._emulated: dict[str, EmulatedModule] = {}

    def cuInit(self, flags):  # noqa: N802
        if isinstance(self.init_error, BaseException):
            raise self.init_error
        return (self.init_error or CUresult.CUDA_SUCCESS,)

    def cuGetErrorName(self, result):  # noqa: N802
        return CUresult.CUDA_SUCCESS, CUresult(result).name.encode()

    def cuGetErrorString(self, result):  # noqa: N802
        return CUresult.CUDA_SUCCESS, b"fake description"

    def cuDeviceGet(self, ordinal):  # noqa: N802
        if not 0 <= ordinal < len(self.devices):
            return CUresult.CUDA_ERROR_INVALID_DEVICE, None
        return CUresult.CUDA_SUCCESS, ordinal

    def cuDeviceGetAttribute(self, attribute, device):  # noqa: N802
        self.calls["cuDeviceGetAttribute"] = (attribute, device)
        major, minor, count = self.devices[device]
        value = {
            CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: major,
            CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: minor,
            CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: count,
        }[attribute]
        return CUresult.CUDA_SUCCESS, value

    def cuDevicePrimaryCtxRetain(self, device):  # noqa: N802
        return CUresult.CUDA_SUCCESS, FakeContext(device)

    def cuCtxGetCurrent(self):  # noqa: N802
        return CUresult.CUDA_SUCCESS, self.current

    def cuCtxSetCurrent(self, context):  # noqa: N802
        self.current = context
        return (CUresult.CUDA_SUCCESS,)

    def cuModuleLoadDataEx(self, image, count, options, values):  # noqa: N802
        self.calls["cuModuleLoadDataEx"] = (image, count, options, values)
        assert image.endswith(b"\0") and count == len(options) == len(values)
        logs = dict(zip(options, values, strict=True))
        assert logs[CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES] == len(
            logs[CUjit_option.CU_JIT_ERROR_LOG_BUFFER]
        )
        ptx = image[:-1].decode()
        if self.jit_error is not None:
            message = self.jit_error.encode()
            logs[CUjit_option.CU_JIT_ERROR_LOG_BUFFER][: len(message)] = message
            return CUresult.CUDA_ERROR_INVALID_PTX, None
        message = b"info: fake JIT compiled the module"
        logs[CUjit_option.CU_JIT_INFO_LOG_BUFFER][: len(message)] = message
        self.loads.append((ptx, self.current.ordinal))
        return CUresult.CUDA_SUCCESS, (ptx, self.current.ordinal)

    def cuModuleGetFunction(self, module, name):  # noqa: N802
        self.calls["cuModuleGetFunction"] = (module, name)
        ptx, _ = module
        if f".entry {name.decode()}(" not in ptx:
            return CUresult.CUDA_ERROR_INVALID_VALUE, None
        return CUresult.CUDA_SUCCESS, (module, name.decode())

    def cuLaunchKernel(self, function, gx, gy, gz, bx, by, bz, shared, stream, params, extra):  # noqa: N802
        self.calls["cuLaunchKernel"] = (function, gx, gy, gz, bx, by, bz, shared, stream, params, extra)
        (ptx, ordinal), name = function
        assert self.current.ordinal == ordinal, "launched outside the module's context"
        assert (gz, by, bz, shared, extra) == (1, 1, 1, 0, 0) and gx >= 1 and gy >= 1
        self.launches.append({"function": name, "grid": (gx, gy), "block": bx, "stream": stream})
        if self.launch_error is not None:
            return (self.launch_error,)
        if ptx not in self._emulated:
            self._emulated[ptx] = EmulatedModule(self.sources[ptx])
        values, types = params
        self._emulated[ptx].launch(name, (gx, gy), bx, [t(v) for v, t in zip(values, types, strict=True)])
        return (CUresult.CUDA_SUCCESS,)

    def cuStreamSynchronize(self, stream):  # noqa: N802
        return (CUresult.CUDA_SUCCESS,)


class FakeDeviceArray:
    """Host memory standing for memory of device `device`."""

    def __init__(self, data: np.ndarray, device: int = 0):
        self.data, self.device = data, device

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim


class FakeAdapter(ArrayAdapter):
    """The tests' array library; new arrays start as garbage, so unwritten outputs show."""

    name = "fake"

    def __init__(self):
        self.allocated: list[tuple] = []

    def on_device(self, value):
        return isinstance(value, FakeDeviceArray)

    def device(self, value):
        return value.device

    def dtype_name(self, value):
        return value.data.dtype.name

    def contiguous(self, value):
        if value.data.flags.c_contiguous:
            return value
        return FakeDeviceArray(np.ascontiguousarray(value.data), value.device)

    def pointer(self, value):
        return value.data.ctypes.data

    def empty(self, shape, dtype, device):
        self.allocated.append((shape, dtype, device))
        fill = -7 if dtype == "int64" else np.nan
        return FakeDeviceArray(np.full(shape, fill, dtype=dtype), device)

    def stream(self, device):
        return 70 + device

    def to_host(self, value):
        return value.data.copy()

    def from_host(self, array, device):
        return FakeDeviceArray(np.array(array), device)

    def place(self, device):
        return f"fake:{device}"


@pytest.fixture
def fake(monkeypatch):
    """The fake driver and the fake array library in place of cuda-bindings and torch."""
    driver, adapter = FakeDriver(), FakeAdapter()
    real_compile = runtime.compile_ptx

    def compile_ptx(llvm_ir: str, capability: int) -> str:
        ptx = real_compile(llvm_ir, capability)
        driver.sources[ptx] = llvm_ir
        driver.compiled.append(capability)
        return ptx

    monkeypatch.setattr(runtime, "compile_ptx", compile_ptx)
    # PTX from the disk cache has no IR for the fake to emulate (tested on its own below).
    monkeypatch.setenv("KIR_DISK_CACHE", "0")
    monkeypatch.delenv(runtime.FALLBACK_ENV, raising=False)
    monkeypatch.delenv(runtime.SYNC_ENV, raising=False)
    previous = cuda_driver.set_driver(driver)
    register_adapter(adapter)
    driver.adapter = adapter
    yield driver
    unregister_adapter(adapter)
    cuda_driver.set_driver(previous)


CASES = {
    "gauss": ("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", None),
    "argkmin": ("SqDist(x, y)", ["x = Vi(16)", "y = Vj(16)"], "ArgKMin", 5),
    "logsumexp": ("-SqDist(x, y) * p", ["x = Vi(3)", "y = Vj(3)", "p = Pm(1)"], "LogSumExp", None),
}


def _case(name: str, size_i: int = 37, size_j: int = 53, dtype: str = "float32", seed: int = 0):
    formula, aliases, reduction, k = CASES[name]
    kernel = kir.compile(formula, aliases, reduction=reduction, axis=1, opt_arg=k)
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in kernel.args:
        shape = {"i": (size_i, spec.dim), "j": (size_j, spec.dim), "p": (spec.dim,)}[spec.category]
        arrays.append(rng.normal(0, 0.7, size=shape).astype(dtype))
    return kernel, arrays


def _on(arrays, device: int = 0):
    return [FakeDeviceArray(a.copy(), device) for a in arrays]


def _same(got, expected, dtype: str = "float32") -> None:
    assert isinstance(got, FakeDeviceArray)
    assert got.data.shape == expected.shape and got.data.dtype == expected.dtype
    if expected.dtype == np.int64:
        np.testing.assert_array_equal(got.data, expected)
    else:
        np.testing.assert_allclose(got.data, expected, rtol=2e-5 if dtype == "float32" else 1e-12, atol=1e-6)


@pytest.mark.parametrize("scheme", ["1d", "2d"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_runtime_matches_the_cpu_backend(fake, name, scheme) -> None:
    kernel, arrays = _case(name)
    kernel.device_options = DeviceOptions(block=32, scheme=scheme, splits=2 if scheme == "2d" else None)
    got = kernel(*_on(arrays))
    _same(got, kernel(*arrays))
    functions = {launch["function"] for launch in fake.launches}
    assert functions == ({"kir_1d_0"} if scheme == "1d" else {"kir_partial_0", "kir_combine_0"})
    assert {launch["stream"] for launch in fake.launches} == {70}
    assert fake.compiled == [80] and len(fake.loads) == 1


def test_float64_and_the_device_defaults(fake) -> None:
    """No options: the scheme is chosen from the device's multiprocessors (1: few rows -> 2D)."""
    fake.devices = [(9, 0, 1)]
    kernel, arrays = _case("gauss", 5, 1200, "float64")
    _same(kernel(*_on(arrays)), kernel(*arrays), "float64")
    assert [launch["function"] for launch in fake.launches] == ["kir_partial_0", "kir_combine_0"]
    assert fake.compiled == [90]
    program, _ = runtime.program_for(kernel, "float64", DeviceOptions(multiprocessors=1))
    assert program.options.multiprocessors == 1


def test_options_without_a_device_size_take_the_device_s(fake) -> None:
    """Options that leave `multiprocessors` open plan for the device's, not for 132."""
    fake.devices = [(9, 0, 1)]
    kernel, arrays = _case("gauss", 5, 1200, "float64")
    kernel.device_options = DeviceOptions(block=64)
    _same(kernel(*_on(arrays)), kernel(*arrays), "float64")
    # 1 multiprocessor: 4 blocks wanted, 4 splits; 132 (the user's own, kept): 10 (all tiles / 2).
    assert [launch["grid"] for launch in fake.launches] == [(1, 4), (1, 1)]
    kernel.device_options = DeviceOptions(block=64, multiprocessors=132)
    fake.launches.clear()
    _same(kernel(*_on(arrays)), kernel(*arrays), "float64")
    assert [launch["grid"] for launch in fake.launches] == [(1, 10), (1, 1)]


def test_ptx_comes_from_the_disk_cache_in_a_new_process(fake, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KIR_DISK_CACHE", "1")
    monkeypatch.setenv("KIR_CACHE_DIR", str(tmp_path))
    kernel, _ = _case("gauss")
    runtime.load(kernel, "float32", 0, DeviceOptions(block=32), schemes=("1d", "2d"))
    assert fake.compiled == [80, 80] and len(list(tmp_path.iterdir())) == 2
    first = [ptx for ptx, _ in fake.loads]
    monkeypatch.setattr(runtime, "_runtime", None)  # a new process: nothing in memory
    again, _ = _case("gauss")
    runtime.load(again, "float32", 0, DeviceOptions(block=32), schemes=("1d", "2d"))
    assert fake.compiled == [80, 80]  # no compile: both modules' PTX read back
    assert [ptx for ptx, _ in fake.loads][2:] == first
    runtime.load(again, "float32", 0, DeviceOptions(block=64), schemes=("1d",))  # other options
    assert fake.compiled == [80, 80, 80]


def test_modules_load_once_per_kernel_scheme_and_device(fake) -> None:
    kernel, arrays = _case("gauss")
    kernel.device_options = DeviceOptions(block=32, scheme="1d")
    for _ in range(3):
        kernel(*_on(arrays))
    assert len(fake.loads) == 1
    again = kir.compile(*CASES["gauss"][:2])  # the same formula, a new Kernel: same modules
    again.device_options = DeviceOptions(block=32, scheme="1d")
    again(*_on(arrays))
    assert len(fake.loads) == 1
    _same(kernel(*_on(arrays, device=1)), kernel(*arrays))
    assert [device for _, device in fake.loads] == [0, 1]
    assert fake.compiled == [80]  # both devices are sm_80: the PTX is compiled once
    kernel.device_options = DeviceOptions(block=32, scheme="2d", splits=2)
    kernel(*_on(arrays))
    assert len(fake.loads) == 3
    loaded = runtime.runtime().modules
    assert all(m.info_log == "info: fake JIT compiled the module" for m in loaded.values())


def test_the_jit_error_log_is_raised(fake) -> None:
    fake.jit_error = "ptxas fatal   : Unresolved extern function '__nv_nothing'"
    kernel, arrays = _case("gauss")
    with pytest.raises(
        CudaError, match=r"CUDA_ERROR_INVALID_PTX(.|\n)*Unresolved extern function '__nv_nothing'"
    ):
        kernel(*_on(arrays))


@pytest.mark.parametrize("sync", ["0", "1"])
def test_a_launch_error_names_the_cuda_error_and_the_kernel(fake, monkeypatch, sync) -> None:
    monkeypatch.setenv(runtime.SYNC_ENV, sync)
    fake.launch_error = CUresult.CUDA_ERROR_LAUNCH_FAILED
    kernel, arrays = _case("argkmin")
    kernel.device_options = DeviceOptions(block=32, scheme="1d")
    with pytest.raises(CudaError, match=r"cuLaunchKernel\(kir_1d_0, grid=\(2, 1\).*CUDA_ERROR_LAUNCH_FAILED"):
        kernel(*_on(arrays))


def test_arguments_on_different_devices_are_refused(fake) -> None:
    kernel, arrays = _case("gauss")
    x, y, b = _on(arrays)
    with pytest.raises(ArgumentError, match=r"different devices \(x on fake:0, y on fake:1, b on fake:0\)"):
        kernel(x, FakeDeviceArray(y.data, 1), b)
    with pytest.raises(ArgumentError, match=r"'x'.* is on fake:0 but .*'y'.* ndarray in host memory"):
        kernel(x, arrays[1], b)
    with pytest.raises(ArgumentError, match=r"'b'.* is on fake:0 but .*'x'.* ndarray in host memory"):
        kernel(arrays[0], arrays[1], b)
    assert not fake.launches


def test_wrong_shapes_and_dtypes_give_the_cpu_errors(fake) -> None:
    kernel, arrays = _case("gauss")
    x, y, b = _on(arrays)
    expected = [
        ((x, FakeDeviceArray(y.data[:, :2]), b), r"expected a 2D array of shape \(N, 3\)"),
        ((x, y, FakeDeviceArray(b.data[:5])), r"has 5 rows but .*'y'.* has 53"),
        ((x, y, FakeDeviceArray(b.data.astype(np.float64))), "share one dtype"),
        ((x, y, FakeDeviceArray(b.data.astype(np.int32))), "kir takes float32 or float64"),
        ((x, y), r"takes 3 arguments \(x, y, b\), got 2"),
    ]
    for args, message in expected:
        with pytest.raises(ArgumentError, match=message):
            kernel(*args)
        cpu_args = [a.data if isinstance(a, FakeDeviceArray) else a for a in args]
        with pytest.raises(ArgumentError, match=message):
            kernel(*cpu_args)


def test_inputs_are_not_modified(fake) -> None:
    kernel, arrays = _case("logsumexp")
    kernel.device_options = DeviceOptions(block=32)
    wide = np.asfortranarray(np.repeat(arrays[0], 2, axis=1))  # strided, Fortran-ordered
    x = FakeDeviceArray(wide[:, ::2])
    before = x.data.copy()
    got = kernel(x, *_on(arrays[1:]))
    assert not x.data.flags.c_contiguous
    np.testing.assert_array_equal(x.data, before)
    _same(got, kernel(*arrays))


def test_empty_sizes(fake) -> None:
    kernel, arrays = _case("gauss", 0, 53)
    got = kernel(*_on(arrays))
    assert got.data.shape == (0, 1) and not fake.launches
    kernel, arrays = _case("gauss", 37, 0)
    kernel.device_options = DeviceOptions(block=32)
    _same(kernel(*_on(arrays)), kernel(*arrays))


def test_no_j_variable_is_refused_like_on_the_cpu(fake) -> None:
    kernel = kir.compile("x * p", ["x = Vi(2)", "p = Pm(2)"])
    arrays = [np.ones((4, 2), np.float32), np.ones(2, np.float32)]
    with pytest.raises(ArgumentError, match="no j-variable"):
        kernel(*_on(arrays))


@pytest.mark.parametrize(
    ("capability", "compiled"),
    [((7, 5), 75), ((8, 6), 86), ((8, 9), 89), ((9, 0), 90), ((10, 0), 100), ((10, 3), 100), ((12, 0), 120),
     ((12, 1), 120), ((13, 0), 120)],
)  # fmt: skip
def test_the_ptx_targets_the_newest_known_capability_at_most_the_device(capability, compiled) -> None:
    assert runtime.compile_capability(capability[0] * 10 + capability[1]) == compiled
    assert compiled in PTX_VERSIONS


def test_a_new_card_runs_ptx_of_an_older_capability(fake) -> None:
    fake.devices = [(10, 3, 148), (12, 0, 84)]
    kernel, arrays = _case("gauss")
    kernel.device_options = DeviceOptions(block=32)
    _same(kernel(*_on(arrays, 0)), kernel(*arrays))
    _same(kernel(*_on(arrays, 1)), kernel(*arrays))
    assert fake.compiled == [100, 120]
    assert ".target sm_100" in fake.loads[0][0] and ".target sm_120" in fake.loads[1][0]


def test_an_old_card_is_refused(fake) -> None:
    fake.devices = [(6, 1, 20)]
    kernel, arrays = _case("gauss")
    with pytest.raises(CudaError, match="compute capability 7.0 or newer; this device has 6.1"):
        kernel(*_on(arrays))


def test_missing_cuda_bindings_say_what_to_install(fake, monkeypatch) -> None:
    cuda_driver.set_driver(None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    kernel, arrays = _case("gauss")
    with pytest.raises(CudaUnavailable, match=r'cuda-bindings.*pip install "kir\[cuda\]"'):
        kernel(*_on(arrays))


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (DynamicLibNotFoundError('"cuda" is an NVIDIA driver library'), r"libcuda\) could not be loaded"),
        (CUresult.CUDA_ERROR_NO_DEVICE, r"cuInit\(0\) failed: CUDA_ERROR_NO_DEVICE"),
    ],
)
def test_no_driver_raises_no_silent_fallback(fake, failure, message) -> None:
    fake.init_error = failure
    kernel, arrays = _case("gauss")
    with pytest.raises(CudaUnavailable, match=message):
        kernel(*_on(arrays))
    assert not fake.loads


def test_the_real_bindings_without_libcuda_raise_the_documented_error(fake) -> None:
    if importlib.util.find_spec("cuda.bindings") is None:
        pytest.skip("cuda-bindings is not installed")
    from cuda.bindings import driver

    try:
        loaded = int(driver.cuInit(0)[0]) == 0
    except Exception:  # noqa: BLE001 - libcuda absent: what this test is about
        loaded = False
    if loaded:
        pytest.skip("this machine has a working CUDA driver")
    cuda_driver.set_driver(None)
    kernel, arrays = _case("gauss")
    with pytest.raises(CudaUnavailable, match="CUDA driver|cuInit"):
        kernel(*_on(arrays))


def test_the_fallback_is_opt_in_warns_and_is_right(fake, monkeypatch) -> None:
    fake.init_error = DynamicLibNotFoundError("no libcuda")
    monkeypatch.setenv(runtime.FALLBACK_ENV, "cpu")
    kernel, arrays = _case("argkmin")
    with pytest.warns(
        RuntimeWarning, match=r"no libcuda.*KIR_CUDA_FALLBACK=cpu: computing on the CPU.*fake:1"
    ):
        got = kernel(*_on(arrays, device=1))
    _same(got, kernel(*arrays))
    assert got.device == 1
    monkeypatch.setenv(runtime.FALLBACK_ENV, "gpu")
    with pytest.raises(KirError, match="the only fallback is 'cpu'"):
        kernel(*_on(arrays))


def test_backend_maps_to_the_scheme(fake) -> None:
    from kir.numpy import Genred

    kernel, arrays = _case("gauss")
    routine = Genred(*CASES["gauss"][:2], reduction_op="Sum", axis=1)
    expected = routine(*arrays)
    # 'GPU' is the auto scheme: 37 rows on 4 multiprocessors but too few tiles to split -> 1D.
    for backend, first in (("GPU_1D", "kir_1d_0"), ("GPU_2D", "kir_partial_0"), ("GPU", "kir_1d_0")):
        fake.launches.clear()
        _same(routine(*_on(arrays), backend=backend), expected)
        assert fake.launches[0]["function"] == first, backend
    with pytest.raises(KirError, match=r"backend='GPU_1D' runs on the arrays' GPU.*x\.cuda\(\)"):
        routine(*arrays, backend="GPU_1D")
    with pytest.raises(KirError, match=r"backend='CPU' with arrays on a GPU"):
        routine(*_on(arrays), backend="CPU")
    with pytest.raises(KirError, match="unknown backend='TPU'"):
        routine(*arrays, backend="TPU")


def test_the_argument_forms_suit_cuda_bindings(fake) -> None:
    """The calls the runtime made, replayed on the real cuda-bindings: without libcuda they get
    as far as loading it (their arguments converted), never a TypeError."""
    if importlib.util.find_spec("cuda.bindings") is None:
        pytest.skip("cuda-bindings is not installed")
    from cuda.bindings import driver

    kernel, arrays = _case("gauss")
    kernel.device_options = DeviceOptions(block=32)
    kernel(*_on(arrays))
    image, count, options, values = fake.calls["cuModuleLoadDataEx"]
    real_options = [getattr(driver.CUjit_option, o.name) for o in options]
    attribute, device = fake.calls["cuDeviceGetAttribute"]
    _, name = fake.calls["cuModuleGetFunction"]
    _, *dims, stream, params, extra = fake.calls["cuLaunchKernel"]
    replays = [
        lambda: driver.cuModuleLoadDataEx(image, count, real_options, values),
        lambda: driver.cuDeviceGetAttribute(getattr(driver.CUdevice_attribute, attribute.name), device),
        lambda: driver.cuModuleGetFunction(driver.CUmodule(), name),
        lambda: driver.cuLaunchKernel(driver.CUfunction(), *dims, stream, params, extra),
        lambda: driver.cuCtxSetCurrent(driver.CUcontext(0)),
    ]
    for replay in replays:
        try:
            replay()
        except TypeError:
            raise
        except Exception as error:  # noqa: BLE001
            assert "driver library" in str(error) or "libcuda" in str(error), error
    assert all(t in (ctypes.c_void_p, ctypes.c_int32) for t in params[1])
