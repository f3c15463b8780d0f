"""What the LazyTensor front-ends need from an array library: NumPy's and torch's spellings.

One small adapter per library, so that the LazyTensor, Genred and KernelSolve code is written
once. Nothing here copies data unless it must (a Python list of floats becomes an array).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kir.errors import ArgumentError

FLOAT_DTYPES = ("float32", "float64")


class NumpyTools:
    """NumPy arrays."""

    name = "numpy"
    arrayname = "NumPy array"

    @staticmethod
    def is_array(x: object) -> bool:
        return isinstance(x, np.ndarray)

    @staticmethod
    def is_complex(x: object) -> bool:
        return (isinstance(x, np.ndarray) and np.iscomplexobj(x)) or isinstance(x, complex)

    @staticmethod
    def dtype_name(x: Any) -> str:
        return np.asarray(x).dtype.name

    @staticmethod
    def array(values: Any, dtype: str, like: Any = None) -> np.ndarray:
        return np.asarray(values, dtype=dtype)

    @staticmethod
    def stack(arrays: list, axis: int = 0) -> np.ndarray:
        return np.stack(arrays, axis=axis)

    @staticmethod
    def concatenate(arrays: list, axis: int = 0) -> np.ndarray:
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def reshape(x: np.ndarray, shape: tuple) -> np.ndarray:
        return x.reshape(shape)

    @staticmethod
    def view_as_real(x: np.ndarray) -> np.ndarray:
        """(.., D) complex -> (.., 2D) real, real and imaginary parts interleaved."""
        x = np.ascontiguousarray(x)
        real = x.view(np.float32 if x.dtype == np.complex64 else np.float64)
        return real.reshape(x.shape[:-1] + (2 * x.shape[-1],))

    @staticmethod
    def view_as_complex(x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x)
        return x.view(np.complex64 if x.dtype == np.float32 else np.complex128)

    @staticmethod
    def cast(x: np.ndarray, dtype: str) -> np.ndarray:
        return x.astype(dtype, copy=False)

    @staticmethod
    def copy_into(out: np.ndarray, value: np.ndarray) -> np.ndarray:
        out[...] = value
        return out

    @staticmethod
    def device(x: Any) -> str:
        return "cpu"


class TorchTools:
    """torch tensors (on the CPU)."""

    name = "torch"
    arrayname = "torch.Tensor"

    @staticmethod
    def _torch() -> Any:
        import torch

        return torch

    @classmethod
    def is_array(cls, x: object) -> bool:
        return isinstance(x, cls._torch().Tensor)

    @classmethod
    def is_complex(cls, x: object) -> bool:
        return (cls.is_array(x) and x.is_complex()) or isinstance(x, complex)

    @staticmethod
    def dtype_name(x: Any) -> str:
        return str(x.dtype).split(".")[-1]

    @classmethod
    def array(cls, values: Any, dtype: str, like: Any = None) -> Any:
        torch = cls._torch()
        device = like.device if like is not None and cls.is_array(like) else None
        return torch.as_tensor(values, dtype=getattr(torch, dtype), device=device)

    @classmethod
    def stack(cls, arrays: list, axis: int = 0) -> Any:
        return cls._torch().stack(arrays, dim=axis)

    @classmethod
    def concatenate(cls, arrays: list, axis: int = 0) -> Any:
        return cls._torch().cat(arrays, dim=axis)

    @staticmethod
    def reshape(x: Any, shape: tuple) -> Any:
        return x.reshape(shape)

    @classmethod
    def view_as_real(cls, x: Any) -> Any:
        real = cls._torch().view_as_real(x.resolve_conj())
        return real.reshape(x.shape[:-1] + (2 * x.shape[-1],))

    @classmethod
    def view_as_complex(cls, x: Any) -> Any:
        return cls._torch().view_as_complex(x.reshape(x.shape[:-1] + (x.shape[-1] // 2, 2)).contiguous())

    @classmethod
    def cast(cls, x: Any, dtype: str) -> Any:
        return x.to(getattr(cls._torch(), dtype))

    @staticmethod
    def copy_into(out: Any, value: Any) -> Any:
        out.copy_(value)
        return out

    @staticmethod
    def device(x: Any) -> str:
        return str(x.device)


def tools_for(x: object) -> type[NumpyTools] | type[TorchTools]:
    """The adapter of the library `x` comes from."""
    if isinstance(x, np.ndarray):
        return NumpyTools
    from kir.runtime.arrays import is_torch_tensor

    if is_torch_tensor(x):
        return TorchTools
    raise ArgumentError(f"expected a NumPy array or a torch tensor, got {type(x).__name__}")
