"""The CUDA driver API as kir uses it: cuda-bindings' `driver` module, imported on first use,
every CUresult checked.

The driver object is injectable (`set_driver`): the tests put a fake in its place that runs
launches on the CPU emulator. Errors name the CUDA error (cuGetErrorName), the call and the
kernel function they came from.
"""

from __future__ import annotations

import threading
from typing import Any

from kir.errors import KirError

INSTALL_HINT = 'pip install "kir[cuda]"'
FALLBACK_HINT = "or set KIR_CUDA_FALLBACK=cpu to compute on the CPU (copying the arrays to the host and back)"

UNAVAILABLE = frozenset(
    {
        "CUDA_ERROR_NO_DEVICE",
        "CUDA_ERROR_INSUFFICIENT_DRIVER",
        "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
        "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
        "CUDA_ERROR_STUB_LIBRARY",
        "CUDA_ERROR_DEVICE_UNAVAILABLE",
        "CUDA_ERROR_NOT_INITIALIZED",
        "CUDA_ERROR_DEINITIALIZED",
    }
)
"""cuInit's results that mean this process has no usable GPU (not a bug in a kernel)."""


class CudaError(KirError):
    """A CUDA driver call that failed: names the CUDA error, the call and the kernel."""


class CudaUnavailable(CudaError):
    """No usable CUDA driver in this process: cuda-bindings or libcuda missing, or no device."""


_driver: Any = None
_initialized: Any = None  # the driver object cuInit succeeded on
_LOCK = threading.Lock()


def set_driver(driver: Any) -> Any:
    """Use `driver` (an object with cuda-bindings' driver functions) from now on; None goes
    back to cuda-bindings. Returns the previous one."""
    global _driver, _initialized
    with _LOCK:
        previous, _driver, _initialized = _driver, driver, None
    return previous


def get_driver() -> Any:
    """The driver object: the injected one, else cuda.bindings.driver (imported now)."""
    global _driver
    if _driver is not None:
        return _driver
    try:
        from cuda.bindings import driver
    except ImportError as error:
        raise CudaUnavailable(
            f"kir's CUDA back-end needs cuda-bindings, which is not installed ({error}); "
            f"{INSTALL_HINT}, {FALLBACK_HINT}"
        ) from None
    with _LOCK:
        if _driver is None:
            _driver = driver
    return _driver


def error_name(driver: Any, result: Any) -> str:
    """'CUDA_ERROR_LAUNCH_FAILED (unspecified launch failure)' for a CUresult."""
    name = getattr(result, "name", None) or f"CUresult {int(result)}"
    try:
        status, text = driver.cuGetErrorName(result)
        if int(status) == 0 and text:
            name = text.decode() if isinstance(text, bytes) else str(text)
        status, text = driver.cuGetErrorString(result)
        if int(status) == 0 and text:
            name += f" ({text.decode() if isinstance(text, bytes) else text})"
    except Exception:  # noqa: BLE001 - the error's own name is enough
        pass
    return name


def check(driver: Any, returned: Any, call: str, function: str | None = None) -> Any:
    """The values a driver call returned after its CUresult (one value: that value; none: None);
    a CudaError naming the error, the call and the kernel `function` when it failed."""
    result, *values = returned if isinstance(returned, tuple) else (returned,)
    if int(result) != 0:
        where = f" (kernel function {function})" if function else ""
        raise CudaError(f"{call} failed{where}: {error_name(driver, result)}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def initialized() -> Any:
    """The driver object, cuInit(0) done once: a CudaUnavailable when the driver library is
    missing or the machine has no device."""
    global _initialized
    driver = get_driver()
    if _initialized is driver:
        return driver
    try:
        returned = driver.cuInit(0)
    except Exception as error:  # noqa: BLE001 - cuda.pathfinder's DynamicLibNotFoundError and kin
        raise CudaUnavailable(
            f"the CUDA driver library (libcuda) could not be loaded: {type(error).__name__}: {error}. "
            f"Install the NVIDIA driver on a machine with a GPU, {FALLBACK_HINT}"
        ) from None
    result = returned[0] if isinstance(returned, tuple) else returned
    if int(result) != 0:
        name = error_name(driver, result)
        kind = CudaUnavailable if name.split(" ")[0] in UNAVAILABLE else CudaError
        raise kind(f"cuInit(0) failed: {name}; no usable CUDA device in this process, {FALLBACK_HINT}")
    with _LOCK:
        _initialized = driver
    return driver
