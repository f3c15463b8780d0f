"""The math of LazyTensors: operators and functions, each one kir op of the formula table.

Every method names the DSL function it applies (`Exp`, `SqDist`, `WeightedSqNorm`...), found
through the same builder table as `kir.exp` and the string DSL, so a LazyTensor formula, a
built formula and a string give the same IR. pykeops' shortcuts are kept: `x * 0` is 0,
`x * 1` and `x + 0` are x, `x ** 2` is Square, `x ** 0.5` Sqrt, `x ** -0.5` Rsqrt.
"""

from __future__ import annotations

import math
from typing import Any

from kir.autodiff import divergence, grad_matrix, laplacian
from kir.dialect.formula import VarOp
from kir.errors import KirError
from kir.frontends.builder import FUNCTIONS
from kir.frontends.expr import Expr, constant

from .lazy_tensor import GenericLazyTensor, is_lazy, is_scalar_equal


def _fn(name: str, *attrs: Any) -> Any:
    """The builder function `name` with its trailing attribute arguments bound."""
    build = FUNCTIONS[name.lower()]

    def function(*formulas: Expr) -> Expr:
        return build(*formulas, *attrs)

    function.__name__ = name
    return function


def _swapped(name: str) -> Any:
    build = FUNCTIONS[name.lower()]

    def function(a: Expr, b: Expr) -> Expr:
        return build(b, a)

    function.__name__ = name
    return function


class Operations(GenericLazyTensor):
    """Arithmetic, comparisons and functions on LazyTensors (pykeops 2.3's names)."""

    def unary(self, name: str, *attrs: Any) -> Any:
        """DSL function `name` applied to self, with attribute arguments `attrs`."""
        return self._apply(_fn(name, *attrs))

    def binary(self, other: Any, name: str, *attrs: Any, rversion: bool = False) -> Any:
        """DSL function `name` of (self, other), or of (other, self) with rversion."""
        return self._apply(_swapped(name) if rversion else _fn(name, *attrs), other)

    # -- arithmetic ----------------------------------------------------------------------------

    def addop(self, other: Any, rversion: bool = False) -> Any:
        return self.binary(other, "Add", rversion=rversion)

    def subop(self, other: Any, rversion: bool = False) -> Any:
        return self.binary(other, "Subtract", rversion=rversion)

    def mulop(self, other: Any, rversion: bool = False) -> Any:
        return self.binary(other, "Mult", rversion=rversion)

    def divop(self, other: Any, rversion: bool = False) -> Any:
        return self.binary(other, "Divide", rversion=rversion)

    def __add__(self, other: Any) -> Any:
        if is_scalar_equal(other, 0):
            return self
        if _is_complex(other) and not self.is_complex:
            return self.real2complex().addop(other)
        return self.addop(other)

    def __radd__(self, other: Any) -> Any:
        return self if is_scalar_equal(other, 0) else self.addop(other, rversion=True)

    def __sub__(self, other: Any) -> Any:
        if is_scalar_equal(other, 0):
            return self
        if _is_complex(other) and not self.is_complex:
            return self.real2complex().subop(other)
        return self.subop(other)

    def __rsub__(self, other: Any) -> Any:
        return -self if is_scalar_equal(other, 0) else self.subop(other, rversion=True)

    def __mul__(self, other: Any) -> Any:
        if is_scalar_equal(other, 0):
            return 0
        if is_scalar_equal(other, 1):
            return self
        if is_scalar_equal(other, -1):
            return -self
        if _is_complex(other) and not self.is_complex:
            return self._lift_complex(other).mulop(self)
        return self.mulop(other)

    def __rmul__(self, other: Any) -> Any:
        if is_scalar_equal(other, 0):
            return 0
        if is_scalar_equal(other, 1):
            return self
        if is_scalar_equal(other, -1):
            return -self
        if _is_complex(other) and not self.is_complex:
            return self._lift_complex(other).mulop(self)
        return self.mulop(other, rversion=True)

    def __truediv__(self, other: Any) -> Any:
        if is_scalar_equal(other, 1):
            return self
        if _is_complex(other) and not self.is_complex:
            return self.real2complex().divop(other)
        return self.divop(other)

    def __rtruediv__(self, other: Any) -> Any:
        if is_scalar_equal(other, 0):
            return 0
        if is_scalar_equal(other, 1):
            return self.unary("Inv")
        return self.divop(other, rversion=True)

    def _lift_complex(self, other: Any) -> Any:
        return other if is_lazy(other) else self.lt_constructor(other)

    def __or__(self, other: Any) -> Any:
        return self.binary(other, "Scalprod")

    def __ror__(self, other: Any) -> Any:
        return self.binary(other, "Scalprod", rversion=True)

    def __neg__(self) -> Any:
        return self.unary("Minus")

    def __abs__(self) -> Any:
        return self.unary("Abs")

    def abs(self) -> Any:
        return abs(self)

    def __pow__(self, other: Any) -> Any:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.unary("Square") if other == 2 else self.unary("Pow", other)
        if isinstance(other, float):
            if other == 0.5:
                return self.unary("Sqrt")
            if other == -0.5:
                return self.unary("Rsqrt")
        if isinstance(other, float) or is_lazy(other):
            exponent = self._lift(other)
            if exponent.ndim not in (1, self.ndim):
                raise KirError(
                    f"x ** y: the exponent has dimension {exponent.ndim}, x has {self.ndim} (1 or the same)"
                )
            return self.binary(exponent, "Powf")
        raise KirError(
            f"the exponent must be an integer, a float or a LazyTensor, got {type(other).__name__}"
        )

    def power(self, other: Any) -> Any:
        return self**other

    # -- comparisons ---------------------------------------------------------------------------

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self.binary(other, "Equal")

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self.binary(other, "NotEqual")

    def __lt__(self, other: Any) -> Any:
        return self.binary(other, "LessThan")

    def __gt__(self, other: Any) -> Any:
        return self.binary(other, "LessThan", rversion=True)

    def __le__(self, other: Any) -> Any:
        return self.binary(other, "LessOrEqual")

    def __ge__(self, other: Any) -> Any:
        return self.binary(other, "LessOrEqual", rversion=True)

    __hash__ = object.__hash__

    # -- functions -----------------------------------------------------------------------------

    def exp(self) -> Any:
        return self.unary("Exp")

    def log(self) -> Any:
        return self.unary("Log")

    def xlogx(self) -> Any:
        return self.unary("XLogX")

    def cos(self) -> Any:
        return self.unary("Cos")

    def sin(self) -> Any:
        return self.unary("Sin")

    def sinxdivx(self) -> Any:
        return self.unary("SinXDivX")

    def sinc(self) -> Any:
        """sin(pi x) / (pi x), as torch.sinc."""
        return (math.pi * self).sinxdivx()

    def asin(self) -> Any:
        return self.unary("Asin")

    def acos(self) -> Any:
        return self.unary("Acos")

    def atan(self) -> Any:
        return self.unary("Atan")

    def atan2(self, other: Any) -> Any:
        return self.binary(other, "Atan2")

    def sqrt(self) -> Any:
        return self.unary("Sqrt")

    def rsqrt(self) -> Any:
        return self.unary("Rsqrt")

    def square(self) -> Any:
        return self.unary("Square")

    def sign(self) -> Any:
        return self.unary("Sign")

    def step(self) -> Any:
        return self.unary("Step")

    def relu(self) -> Any:
        return self.unary("ReLU")

    def clamp(self, low: Any, high: Any) -> Any:
        if isinstance(low, int) and isinstance(high, int):
            return self.unary("ClampInt", low, high)
        return self._apply(_fn("Clamp"), low, high)

    def ifelse(self, if_positive: Any, otherwise: Any) -> Any:
        return self._apply(_fn("IfElse"), if_positive, otherwise)

    def mod(self, modulus: Any, offset: Any = 0) -> Any:
        return self._apply(_fn("Mod"), modulus, offset)

    def round(self, decimals: int = 0) -> Any:
        return self.unary("Round", decimals)

    def sqnorm2(self) -> Any:
        return self.unary("SqNorm2")

    def norm2(self) -> Any:
        return self.unary("Norm2")

    def norm(self, dim: int) -> Any:
        if dim not in (-1, len(self._shape) - 1):
            raise KirError(f"LazyTensors take norms over their last dimension only, got dim={dim}")
        return self.norm2()

    def normalize(self) -> Any:
        return self.unary("Normalize")

    def sqdist(self, other: Any) -> Any:
        return self.binary(other, "SqDist")

    def weightedsqnorm(self, other: Any) -> Any:
        other = self._lift(other)
        if other.ndim not in (1, self.ndim, self.ndim**2):
            raise KirError(
                f"weightedsqnorm: weights of dimension 1, D or D*D (D = {self.ndim}), got {other.ndim}"
            )
        return self.binary(other, "WeightedSqNorm", rversion=True)

    def weightedsqdist(self, g: Any, s: Any) -> Any:
        return (self - g).weightedsqnorm(s)

    def difference_matrix(self, other: Any) -> Any:
        """The D_self x D_other matrix self_k - other_l, row-major (entry k * D_other + l)."""
        other = self._lift(other)
        ones_self = constant((1.0,) * self.ndim)
        ones_other = constant((1.0,) * other.ndim)
        tensorprod = FUNCTIONS["tensorprod"]
        return self._apply(
            lambda a, b: tensorprod(a, ones_other) - tensorprod(ones_self, b), other, what="difference_matrix"
        )

    def softdtw_sqdist(self, other: Any, gamma: Any) -> Any:
        return self._apply(_fn("SoftDTW_SqDist"), other, gamma)

    def elem(self, i: int) -> Any:
        if not isinstance(i, int) or not 0 <= i < self.ndim:
            raise KirError(f"elem: index {i!r} is not in [0, {self.ndim})")
        return self.unary("Elem", i)

    def extract(self, i: int, d: int) -> Any:
        if not isinstance(i, int) or not isinstance(d, int):
            raise KirError(f"extract takes integers, got {i!r} and {d!r}")
        if not 0 <= i < self.ndim or d < 1 or i + d > self.ndim:
            raise KirError(f"extract({i}, {d}) is out of bounds for dimension {self.ndim}")
        return self.unary("Extract", i, d)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple):
            full = len(key) == len(self._shape) and all(k == slice(None) for k in key[:-1])
            if full or (len(key) == 2 and key[0] is Ellipsis):
                key = key[-1]
            else:
                raise KirError(
                    "LazyTensors are indexed along their last dimension only: x[..., k] or x[:, :, k]"
                )
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise KirError("LazyTensors take slices with step 1 only")
            start = 0 if key.start is None else key.start
            stop = self.ndim if key.stop is None else key.stop
            return self.extract(start, stop - start)
        if isinstance(key, int):
            return self.elem(key)
        raise KirError(f"LazyTensors are indexed with integers and slices, got {type(key).__name__}")

    def one_hot(self, dim: int) -> Any:
        if not isinstance(dim, int):
            raise KirError(f"one_hot takes an integer dimension, got {dim!r}")
        if self.ndim != 1:
            raise KirError(f"one_hot encodes a scalar formula, got dimension {self.ndim}")
        return self.unary("OneHot", dim)

    def bspline(self, x: Any, k: int = 0) -> Any:
        """B-spline basis functions of order k at x (self: the knots)."""
        return self.binary(x, "BSpline", k)

    def concat(self, other: Any) -> Any:
        return self.binary(other, "Concat")

    @staticmethod
    def concatenate(lazy_tensors: tuple, axis: int = -1) -> Any:
        if not isinstance(lazy_tensors, tuple | list) or not lazy_tensors:
            raise KirError("concatenate takes a non-empty tuple of LazyTensors")
        first = lazy_tensors[0]
        if axis not in (-1, len(first._shape) - 1):
            raise KirError("LazyTensors are concatenated along their last dimension only")
        result = first
        for t in lazy_tensors[1:]:
            result = result.concat(t)
        return result

    @staticmethod
    def cat(lazy_tensors: tuple, dim: int) -> Any:
        return Operations.concatenate(lazy_tensors, dim)

    def matvecmult(self, other: Any) -> Any:
        return self.binary(other, "MatVecMult")

    def vecmatmult(self, other: Any) -> Any:
        return self.binary(other, "VecMatMult")

    def tensorprod(self, other: Any) -> Any:
        return self.binary(other, "TensorProd")

    def keops_tensordot(
        self, other: Any, dimfa: Any, dimfb: Any, contfa: Any, contfb: Any, *args: Any
    ) -> Any:
        spelled = [tuple([v] if isinstance(v, int) else v) for v in (dimfa, dimfb, contfa, contfb, *args)]
        return self.binary(other, "TensorDot", *spelled)

    def keops_kron(self, other: Any, dimfself: Any, dimfother: Any) -> Any:
        if isinstance(dimfself, int) or isinstance(dimfother, int):
            raise KirError("keops_kron takes the factors' shapes as tuples or lists of integers")
        return self.binary(other, "Kron", tuple(dimfself), tuple(dimfother))

    # -- derivatives ---------------------------------------------------------------------------

    def grad(self, other: Any, gradin: Any) -> Any:
        """Gradient of <self, gradin> with respect to the variable `other`."""
        _check_variable(other, "grad")
        return self._apply(lambda f, x, e: FUNCTIONS["grad"](f, x, e), other, gradin, what="grad")

    def diff(self, other: Any, diffin: Any) -> Any:
        _check_variable(other, "diff")
        return self._apply(lambda f, x, v: FUNCTIONS["diff"](f, x, v), other, diffin, what="diff")

    def grad_matrix(self, other: Any) -> Any:
        _check_variable(other, "grad_matrix")
        return self._apply(grad_matrix, other, what="grad_matrix")

    def divergence(self, var: Any) -> Any:
        _check_variable(var, "divergence")
        return self._apply(divergence, var, what="divergence")

    def laplacian(self, var: Any) -> Any:
        _check_variable(var, "laplacian")
        return self._apply(laplacian, var, what="laplacian")

    def factorize(self, other: Any) -> Any:
        """KeOps' Factorize(F, G): F computing G once. kir's formulas are hash-consed, so every
        repeated subformula is computed once already: F itself."""
        return self._apply(lambda f, g: f, other, what="factorize")

    def auto_factorize(self) -> Any:
        """KeOps' AutoFactorize: F itself (hash-consing factors every repeated subformula)."""
        return self

    def trace_operator(self, var: Any) -> Any:
        """The trace of the linear map var -> self (sum over k of self(e_k)[k]), a scalar."""
        _check_variable(var, "trace_operator")
        if var.ndim != self.ndim:
            raise KirError(f"trace_operator: the map has dimension {self.ndim}, the variable {var.ndim}")
        target = var.formula

        def trace(f: Expr, x: Expr) -> Expr:
            from .lazy_tensor import rebuild_substituted

            terms = []
            for k in range(x.dim):
                unit = constant(tuple(1.0 if m == k else 0.0 for m in range(x.dim)))
                terms.append(FUNCTIONS["elem"](rebuild_substituted(f, target, unit), k))
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            return total

        res = self._apply(trace, var, what="trace_operator")
        index = target.attributes["index"]
        res.symbolic.pop(index, None)
        res.variables.pop(index, None)
        return res


def _check_variable(x: Any, what: str) -> None:
    if not is_lazy(x) or x.formula is None or x.formula.op is not VarOp:
        raise KirError(f"{what}: differentiate with respect to a variable LazyTensor (Vi(x), Vj(y), Pm(p))")


def _is_complex(x: Any) -> bool:
    if is_lazy(x):
        return x.is_complex
    if isinstance(x, complex):
        return True
    return getattr(x, "dtype", None) is not None and "complex" in str(x.dtype)
