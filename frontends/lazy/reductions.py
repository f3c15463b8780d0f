"""LazyTensor reductions (pykeops 2.3's names and keywords), transposition, `@` and `.solve`.

`axis` (or `dim`) counts batch dimensions as pykeops does: nbatchdims + 0 reduces over i,
nbatchdims + 1 over j; `sum`, `min`, `max`, `argmin`, `argmax` along the last axis (-1) are
entry-wise ops of the formula instead. With `call=False` the reduction is returned as a
callable LazyTensor (a Genred taking the symbolic variables' arrays).
"""

from __future__ import annotations

import copy
from typing import Any

from kir.errors import KirError

from .lazy_tensor import LEAF_BASE, _leaf_positions, is_lazy, rebuild, variable_positions
from .operations import Operations


class Reductions(Operations):
    """The reductions of a LazyTensor."""

    def reduction(
        self,
        reduction_op: str,
        other: Any = None,
        opt_arg: int | None = None,
        axis: int | None = None,
        dim: int | None = None,
        call: bool = True,
        is_complex: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """pykeops' generic reduction: `reduction_op` (Genred's name) over `axis`."""
        if axis is None:
            axis = dim
        if not isinstance(axis, int) or axis - self.nbatchdims not in (0, 1):
            raise KirError(
                f"{reduction_op}: axis (or dim) must be {self.nbatchdims} (reduce over i) or "
                f"{self.nbatchdims + 1} (reduce over j) for a LazyTensor of shape {self.shape}, got {axis!r}"
            )
        operands = [self] if other is None else [self, self._lift(other)]
        if is_complex is None:
            is_complex = any(t.is_complex for t in operands)
        res = self._joined(operands, is_complex, reduction_op)
        res.formula = self.formula
        res.formula2 = None if other is None else operands[1].formula
        res.reduction_op = reduction_op
        res.axis = axis - self.nbatchdims
        res.opt_arg = opt_arg
        res.kwargs = kwargs
        if call and not res.symbolic:
            return res()
        return res

    def sum(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        axis = dim if dim is not None else axis
        if axis in (-1, len(self._shape) - 1):
            return self.unary("Sum")
        return self.reduction("Sum", axis=axis, **kwargs)

    def sum_reduction(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("Sum", axis=axis, dim=dim, **kwargs)

    def logsumexp(
        self, axis: int | None = None, dim: int | None = None, weight: Any = None, **kwargs: Any
    ) -> Any:
        """log sum exp of a scalar formula; with `weight`, log sum exp(F) * weight."""
        return self.reduction("LogSumExp", other=weight, axis=axis, dim=dim, **kwargs)

    def logsumexp_reduction(self, **kwargs: Any) -> Any:
        return self.logsumexp(**kwargs)

    def sumsoftmaxweight(
        self, weight: Any, axis: int | None = None, dim: int | None = None, **kwargs: Any
    ) -> Any:
        return self.reduction("SumSoftMaxWeight", other=weight, axis=axis, dim=dim, **kwargs)

    def sumsoftmaxweight_reduction(self, **kwargs: Any) -> Any:
        return self.sumsoftmaxweight(**kwargs)

    def _entry_or_reduction(self, name: str, axis: int, dim: int | None, kwargs: dict) -> Any:
        axis = dim if dim is not None else axis
        if axis in (-1, len(self._shape) - 1):
            return self.unary(name)
        return self.reduction(name, axis=axis, **kwargs)

    def min(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        return self._entry_or_reduction("Min", axis, dim, kwargs)

    def min_reduction(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("Min", axis=axis, dim=dim, **kwargs)

    def __min__(self, **kwargs: Any) -> Any:
        return self.min(**kwargs)

    def argmin(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        return self._entry_or_reduction("ArgMin", axis, dim, kwargs)

    def argmin_reduction(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("ArgMin", axis=axis, dim=dim, **kwargs)

    def min_argmin(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("Min_ArgMin", axis=axis, dim=dim, **kwargs)

    def min_argmin_reduction(self, **kwargs: Any) -> Any:
        return self.min_argmin(**kwargs)

    def max(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        return self._entry_or_reduction("Max", axis, dim, kwargs)

    def max_reduction(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("Max", axis=axis, dim=dim, **kwargs)

    def __max__(self, **kwargs: Any) -> Any:
        return self.max(**kwargs)

    def argmax(self, axis: int = -1, dim: int | None = None, **kwargs: Any) -> Any:
        return self._entry_or_reduction("ArgMax", axis, dim, kwargs)

    def argmax_reduction(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("ArgMax", axis=axis, dim=dim, **kwargs)

    def max_argmax(self, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:
        return self.reduction("Max_ArgMax", axis=axis, dim=dim, **kwargs)

    def max_argmax_reduction(self, **kwargs: Any) -> Any:
        return self.max_argmax(**kwargs)

    def Kmin(self, K: int, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:  # noqa: N802, N803
        return self.reduction("KMin", opt_arg=K, axis=axis, dim=dim, **kwargs)

    def Kmin_reduction(self, **kwargs: Any) -> Any:  # noqa: N802
        return self.Kmin(**kwargs)

    def argKmin(self, K: int, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:  # noqa: N802, N803
        return self.reduction("ArgKMin", opt_arg=K, axis=axis, dim=dim, **kwargs)

    def argKmin_reduction(self, **kwargs: Any) -> Any:  # noqa: N802
        return self.argKmin(**kwargs)

    def Kmin_argKmin(self, K: int, axis: int | None = None, dim: int | None = None, **kwargs: Any) -> Any:  # noqa: N802, N803
        return self.reduction("KMin_ArgKMin", opt_arg=K, axis=axis, dim=dim, **kwargs)

    def Kmin_argKmin_reduction(self, **kwargs: Any) -> Any:  # noqa: N802
        return self.Kmin_argKmin(**kwargs)

    # -- linear algebra ------------------------------------------------------------------------

    def __matmul__(self, v: Any) -> Any:
        """K @ v = sum_j K_ij v_j, for K of trailing dimension 1 and v a (..., N[, E]) array or a
        LazyTensor indexed by j only."""
        if self._shape[-1] != 1:
            raise KirError(f"K @ v needs K of trailing dimension 1; K has shape {self.shape}")
        if is_lazy(v):
            if v.ni is not None or any(n.category == "i" for n in v.formula.walk() if n.op.name == "kir.var"):
                raise KirError(
                    f"K @ V with V a LazyTensor of shape {v.shape} indexed by i: the product of two "
                    "kernel matrices is not one reduction (it has three indices); reduce V first"
                )
            product = self * v
            return product.sum(product.dim() - 2)
        flat = len(v.shape) == 1
        shape = (1, v.shape[0], 1) if flat else tuple(v.shape[:-2]) + (1,) + tuple(v.shape[-2:])
        if (self.nj or 1) != shape[-2] and self.nj is not None:
            raise KirError(
                f"K @ v: K has shape {self.shape} ({self.nj} columns), v has shape {tuple(v.shape)}"
            )
        product = self * self.lt_constructor(v.reshape(shape))
        result = product.sum(product.dim() - 2)
        return result.reshape(-1) if flat else result

    def t(self) -> Any:
        """The transpose: i-variables become j-variables and the reverse."""
        res = copy.copy(self)
        res.variables, res.symbolic, res.kwargs = dict(self.variables), dict(self.symbolic), dict(self.kwargs)
        res.ni, res.nj = self.nj, self.ni
        if self.ranges is not None:
            from .cluster import swap_axes

            res.ranges = swap_axes(self.ranges)
        if self.reduction_op is not None:
            res.axis = 1 - self.axis
        roots = [self.formula] + ([self.formula2] if self.formula2 is not None else [])
        rebuilt = rebuild(roots, {}, swap_ij=True)
        res.formula = rebuilt[0]
        res.formula2 = rebuilt[1] if len(rebuilt) > 1 else None
        res.symbolic = {k: (d, {0: 1, 1: 0}.get(c, c)) for k, (d, c) in self.symbolic.items()}
        return res

    @property
    def T(self) -> Any:  # noqa: N802
        return self.t()

    def matvec(self, v: Any) -> Any:
        return self @ v

    def rmatvec(self, v: Any) -> Any:
        return self.T @ v

    def solve(self, other: Any, var: Any = None, call: bool = True, **kwargs: Any) -> Any:
        """a solving (alpha Id + K) a = other by conjugate gradients, with K(a) = sum(self * a)
        (or `self` itself, linear in the symbolic variable `var`)."""
        if not is_lazy(other):
            other = self.lt_constructor(other, axis=0)
        if self.is_complex or other.is_complex:
            raise KirError("solve: complex systems are not supported; solve the real and imaginary parts")
        if other.formula is None or other.formula.op.name != "kir.var":
            raise KirError("solve: the right-hand side must be a variable (an array or Vi(k, d))")
        if other.symbolic and not self.symbolic and var is None:
            raise KirError("solve: a symbolic right-hand side needs a symbolic LazyTensor too")
        category = other.formula.category
        if category == "p":
            raise KirError("solve: the right-hand side is indexed by i or j, not a parameter")
        axis = 1 if category == "i" else 0
        if var is None:
            position = next(_leaf_positions)
            unknown = self._new(self.is_complex)
            unknown.formula = _variable(position, other.ndim, "j" if axis == 1 else "i")
            res = self * unknown
        else:
            if not is_lazy(var) or var.formula is None or var.formula.op.name != "kir.var":
                raise KirError("solve: var must be a variable LazyTensor")
            position = var.formula.attributes["index"]
            res = self._joined([self, var], self.is_complex, "solve")
            res.formula = self.formula
        if position not in variable_positions([res.formula]):
            raise KirError("solve: the formula does not use the unknown variable")
        res.symbolic.pop(position, None)
        res.reduction_op = "Solve"
        res.axis = axis
        res.kwargs = kwargs
        res._solve = (position, other)
        res.symbolic.update(other.symbolic)
        if call and not other.symbolic:
            return res()
        return res

    # -- to complex ----------------------------------------------------------------------------

    def real2complex(self) -> Any:
        return self._apply(lambda a: _builder("Real2Complex")(a), is_complex=True, what="real2complex")

    def imag2complex(self) -> Any:
        return self._apply(lambda a: _builder("Imag2Complex")(a), is_complex=True, what="imag2complex")

    def exp1j(self) -> Any:
        return self._apply(lambda a: _builder("ComplexExp1j")(a), is_complex=True, what="exp1j")


def _builder(name: str) -> Any:
    from kir.frontends.builder import FUNCTIONS

    return FUNCTIONS[name.lower()]


def _variable(position: int, dim: int, category: str) -> Any:
    from kir.frontends.expr import variable

    assert position >= LEAF_BASE
    return variable(position, dim, category)
