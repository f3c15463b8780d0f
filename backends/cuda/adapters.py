"""Device arrays of the libraries kir runs on (torch CUDA tensors, CuPy arrays): one adapter
per library, so that the CUDA runtime reads pointers, allocates outputs and finds the stream
the same way for each, and tests plug in an adapter of their own (host memory tagged with a
device ordinal).

Nothing here imports torch or CuPy: an adapter only looks at arrays of a library the caller
has already imported, so NumPy callers pay one failed lookup in `sys.modules` per adapter.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np


class ArrayAdapter:
    """How the CUDA runtime reads, allocates and moves one array library's device arrays."""

    name = "arrays"

    def on_device(self, value: Any) -> bool:
        """True for a device array of this library."""
        raise NotImplementedError

    def device(self, value: Any) -> int:
        """The device ordinal of a device array."""
        raise NotImplementedError

    def dtype_name(self, value: Any) -> str:
        raise NotImplementedError

    def contiguous(self, value: Any) -> Any:
        """`value` itself when C-contiguous, else a C-contiguous copy (never modified)."""
        raise NotImplementedError

    def pointer(self, value: Any) -> int:
        """The device address of the first entry."""
        raise NotImplementedError

    def empty(self, shape: tuple[int, ...], dtype: str, device: int) -> Any:
        """An uninitialized array from the library's own allocator on `device`."""
        raise NotImplementedError

    def stream(self, device: int) -> int:
        """The library's current stream on `device` (0: the legacy default stream)."""
        raise NotImplementedError

    def to_host(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def from_host(self, array: np.ndarray, device: int) -> Any:
        raise NotImplementedError

    def place(self, device: int) -> str:
        """How messages name a device."""
        return f"cuda:{device}"


class TorchAdapter(ArrayAdapter):
    """torch tensors on CUDA devices; outputs from torch's caching allocator."""

    name = "torch"

    def on_device(self, value: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(value, torch.Tensor) and value.is_cuda

    def device(self, value: Any) -> int:
        return value.device.index

    def dtype_name(self, value: Any) -> str:
        return str(value.dtype).removeprefix("torch.")

    def contiguous(self, value: Any) -> Any:
        return value.detach().contiguous()

    def pointer(self, value: Any) -> int:
        return value.data_ptr()

    def empty(self, shape: tuple[int, ...], dtype: str, device: int) -> Any:
        import torch

        return torch.empty(shape, dtype=getattr(torch, dtype), device=torch.device("cuda", device))

    def stream(self, device: int) -> int:
        import torch

        return torch.cuda.current_stream(device).cuda_stream

    def to_host(self, value: Any) -> np.ndarray:
        return value.detach().cpu().numpy()

    def from_host(self, array: np.ndarray, device: int) -> Any:
        import torch

        return torch.from_numpy(array).to(torch.device("cuda", device))


class CupyAdapter(ArrayAdapter):
    """CuPy arrays; outputs from CuPy's memory pool."""

    name = "cupy"

    def on_device(self, value: Any) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(value, cupy.ndarray)

    def device(self, value: Any) -> int:
        return value.device.id

    def dtype_name(self, value: Any) -> str:
        return value.dtype.name

    def contiguous(self, value: Any) -> Any:
        import cupy

        return value if value.flags.c_contiguous else cupy.ascontiguousarray(value)

    def pointer(self, value: Any) -> int:
        return value.data.ptr

    def empty(self, shape: tuple[int, ...], dtype: str, device: int) -> Any:
        import cupy

        with cupy.cuda.Device(device):
            return cupy.empty(shape, dtype=dtype)

    def stream(self, device: int) -> int:
        import cupy

        with cupy.cuda.Device(device):
            return cupy.cuda.get_current_stream().ptr

    def to_host(self, value: Any) -> np.ndarray:
        import cupy

        return cupy.asnumpy(value)

    def from_host(self, array: np.ndarray, device: int) -> Any:
        import cupy

        with cupy.cuda.Device(device):
            return cupy.asarray(array)


ADAPTERS: list[ArrayAdapter] = [TorchAdapter(), CupyAdapter()]
"""The adapters kir tries, in order (`register_adapter` adds one)."""


def register_adapter(adapter: ArrayAdapter) -> None:
    """Let kir run on `adapter`'s device arrays (tried before the built-in ones)."""
    if adapter not in ADAPTERS:
        ADAPTERS.insert(0, adapter)


def unregister_adapter(adapter: ArrayAdapter) -> None:
    if adapter in ADAPTERS:
        ADAPTERS.remove(adapter)


def device_adapter(values: Sequence[Any]) -> ArrayAdapter | None:
    """The adapter of the first device array among `values`; None when all are host arrays."""
    for adapter in ADAPTERS:
        for value in values:
            if adapter.on_device(value):
                return adapter
    return None


def host_description(value: Any) -> str:
    """How a message names where a non-device argument lives."""
    device = getattr(value, "device", None)
    if device is not None and not isinstance(value, np.ndarray):
        return f"{type(value).__name__} on {device}"
    return f"{type(value).__name__} in host memory"
