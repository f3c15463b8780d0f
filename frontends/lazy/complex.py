"""ComplexLazyTensor: complex formulas stored as interleaved (real, imaginary) pairs.

A complex vector of D entries is a real formula of 2D entries, as in KeOps; arithmetic goes
to kir's Complex* ops, results come back as complex arrays.
"""

from __future__ import annotations

from typing import Any

from kir.errors import KirError
from kir.frontends.builder import FUNCTIONS

from .lazy_tensor import is_lazy
from .reductions import Reductions


def _fn(name: str) -> Any:
    return FUNCTIONS[name.lower()]


class ComplexGenericLazyTensor(Reductions):
    """A complex symbolic tensor of shape (..., M, N, D)."""

    is_complex = True

    def __init__(self, x: Any = None, axis: int | None = None):
        if isinstance(x, complex):
            x = [x]
        if isinstance(x, list):
            x = [part for z in x for part in (complex(z).real, complex(z).imag)]
        elif x is not None and self.tools.is_array(x):
            x = self.tools.view_as_real(x)
        super().__init__(x, axis)

    @property
    def dtype(self) -> str | None:
        return {"float32": "complex64", "float64": "complex128"}.get(self._dtype or "")

    @property
    def shape(self) -> tuple[int, ...]:
        shape = self._shape
        shape = shape[:-1] + (shape[-1] // 2,)
        return shape[:-1] if shape[-1] == 1 else shape

    def _postprocess(self, result: Any) -> Any:
        if self.reduction_op in (None, "Sum", "Solve"):
            return self.tools.view_as_complex(result)
        return result

    @property
    def real(self) -> Any:
        return self._apply(_fn("ComplexReal"), is_complex=False, what="real")

    @property
    def imag(self) -> Any:
        return self._apply(_fn("ComplexImag"), is_complex=False, what="imag")

    def angle(self) -> Any:
        return self._apply(_fn("ComplexAngle"), is_complex=False, what="angle")

    def conj(self) -> Any:
        return self._apply(_fn("Conj"), is_complex=True, what="conj")

    def __abs__(self) -> Any:
        return self._apply(_fn("ComplexAbs"), is_complex=False, what="abs")

    def exp(self) -> Any:
        return self._apply(_fn("ComplexExp"), is_complex=True, what="exp")

    def sum(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        axis = dim if dim is not None else axis
        if axis in (-1, len(self._shape) - 1):
            return self._apply(_fn("ComplexSum"), is_complex=True, what="sum")
        return self.reduction("Sum", axis=axis, **kwargs)

    def _as_complex(self, other: Any) -> Any:
        other = self._lift(other)
        return other if other.is_complex else other.real2complex()

    def mulop(self, other: Any, rversion: bool = False) -> Any:
        other = self._lift(other)
        if not other.is_complex and other.ndim == 1:
            return other._apply(_fn("ComplexRealScal"), self, is_complex=True, what="*")
        return self._apply(_fn("ComplexMult"), self._as_complex(other), is_complex=True, what="*")

    def addop(self, other: Any, rversion: bool = False) -> Any:
        return self._apply(_fn("ComplexAdd"), self._as_complex(other), is_complex=True, what="+")

    def subop(self, other: Any, rversion: bool = False) -> Any:
        other = self._as_complex(other)
        if rversion:
            return other._apply(_fn("ComplexSubtract"), self, is_complex=True, what="-")
        return self._apply(_fn("ComplexSubtract"), other, is_complex=True, what="-")

    def divop(self, other: Any, rversion: bool = False) -> Any:
        other = self._as_complex(other)
        if rversion:
            return other._apply(_fn("ComplexDivide"), self, is_complex=True, what="/")
        return self._apply(_fn("ComplexDivide"), other, is_complex=True, what="/")

    def __neg__(self) -> Any:
        return self._apply(_fn("Minus"), is_complex=True, what="-")

    def _lift(self, x: Any) -> Any:
        if is_lazy(x):
            return x
        return self.lt_constructor(x)

    def real2complex(self) -> Any:
        raise KirError("real2complex applies to a real LazyTensor; this one is complex")

    def imag2complex(self) -> Any:
        raise KirError("imag2complex applies to a real LazyTensor; this one is complex")

    def exp1j(self) -> Any:
        raise KirError("exp1j applies to a real LazyTensor; this one is complex")

    def keops_tensordot(self, *args: Any) -> Any:
        raise KirError("keops_tensordot is not defined for complex LazyTensors")
