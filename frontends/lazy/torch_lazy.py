"""`kir.torch`'s LazyTensor: torch tensors in, torch tensors out (differentiable)."""

from __future__ import annotations

from typing import Any

from .complex import ComplexGenericLazyTensor
from .reductions import Reductions
from .tools import TorchTools


class LazyTensor(Reductions):
    """A symbolic (..., M, N, D) tensor over torch tensors (pykeops.torch.LazyTensor)."""

    tools = TorchTools

    def __new__(cls, x: Any = None, axis: int | None = None, is_complex: bool = False) -> Any:
        if cls is LazyTensor and (is_complex or TorchTools.is_complex(x) or _complex_list(x)):
            return ComplexLazyTensor(x, axis)
        return object.__new__(cls)

    def __init__(self, x: Any = None, axis: int | None = None, is_complex: bool = False):
        super().__init__(x, axis)

    def _new(self, is_complex: bool = False) -> Any:
        return ComplexLazyTensor() if is_complex else LazyTensor()

    def lt_constructor(self, x: Any = None, axis: int | None = None, is_complex: bool = False) -> Any:
        return LazyTensor(x, axis, is_complex)


class ComplexLazyTensor(ComplexGenericLazyTensor):
    """A complex symbolic tensor over torch tensors."""

    tools = TorchTools

    def _new(self, is_complex: bool = True) -> Any:
        return ComplexLazyTensor() if is_complex else LazyTensor()

    def lt_constructor(self, x: Any = None, axis: int | None = None, is_complex: bool = False) -> Any:
        return LazyTensor(x, axis, is_complex)


def _complex_list(x: Any) -> bool:
    return isinstance(x, list) and any(isinstance(v, complex) for v in x)
