"""Linear solves (alpha Id + K) a = b by conjugate gradient, K a Sum kernel linear in a: pykeops' KernelSolve.

NumPy in, NumPy out; torch in, torch out, differentiable like pykeops' KernelSolveAutograd: the
backward solves again for K^-1 G (K assumed symmetric), the gradient for b, and takes the other
inputs' gradients through a kir kernel call, so that they are differentiable again.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kir.errors import ArgumentError, KirError
from kir.frontends.expr import variables_of
from kir.kernel import Kernel
from kir.runtime.arrays import is_torch_tensor

PYKEOPS_OPTIONS = frozenset(
    {"dtype_acc", "use_double_acc", "sum_scheme", "enable_chunks", "rec_multVar_highdim", "cuda_type"}
    | {"use_fast_math", "opt_arg"}
)
"""KernelSolve options of pykeops that do not apply to kir's CPU code; accepted and ignored."""


def _size(array: Any) -> int:
    return array.numel() if is_torch_tensor(array) else array.size


def _copy(array: Any) -> Any:
    return array.clone() if is_torch_tensor(array) else array.copy()


def _zeros(array: Any) -> Any:
    if is_torch_tensor(array):
        import torch

        return torch.zeros_like(array)
    return np.zeros_like(array)


def conjugate_gradient(
    linop: Callable[[Any], Any],
    b: Any,
    eps: float = 1e-6,
    progress: bool = False,
    max_iterations: int | None = None,
) -> Any:
    """a with linop(a) = b, linop symmetric positive definite: pykeops' ConjugateGradientSolver.

    Stops when |r|^2 < b.size * eps^2; raises a KirError after `max_iterations` (default
    10 * b.size, at least 100) or on a non-finite residual, which a non-positive-definite
    operator gives instead of converging. `progress` shows a tqdm bar (tqdm must be installed).
    """
    floating = (
        b.is_floating_point() if is_torch_tensor(b) else np.issubdtype(getattr(b, "dtype", None), np.floating)
    )
    if not floating:
        raise ArgumentError(f"b must be a float NumPy array or torch tensor, got {type(b).__name__}")
    size = _size(b)
    limit = max(100, 10 * size) if max_iterations is None else max_iterations
    delta = size * eps**2
    a, r = _zeros(b), _copy(b)
    nr2 = (r**2).sum()
    if float(nr2) < delta:
        return a
    bar = _progress_bar() if progress else None
    p, k = _copy(r), 0
    try:
        while True:
            if k >= limit:
                raise KirError(
                    f"conjugate gradient did not converge in {limit} iterations: residual |r|^2 = "
                    f"{float(nr2):.3e}, target {delta:.3e}; is the operator symmetric positive definite? "
                    "(else raise max_iterations or eps)"
                )
            mp = linop(p)
            alp = nr2 / (p * mp).sum()
            # Out of place, so that a linop recorded by torch.autograd can be differentiated through.
            a = a + alp * p
            r = r - alp * mp
            nr2new = (r**2).sum()
            residual, k = float(nr2new), k + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(residual=f"{residual:.3e}")
            if residual < delta:
                return a
            if not math.isfinite(residual):  # NaN never converges: stop now, not at the cap
                raise KirError(
                    f"conjugate gradient diverged after {k} iterations: residual |r|^2 = {residual}; "
                    "the operator is not symmetric positive definite"
                )
            p = r + (nr2new / nr2) * p
            nr2 = nr2new
    finally:
        if bar is not None:
            bar.close()


def _progress_bar() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        raise KirError("progress=True needs tqdm, an optional dependency: pip install tqdm") from None
    return tqdm(desc="conjugate gradient", unit="it")


def _reduce(kernel: Kernel, arrays: Sequence[Any], ranges: Any) -> Any:
    if ranges is None:
        return kernel(*arrays)
    from kir.frontends.lazy.ranges import reduce_blocks

    return reduce_blocks(kernel, list(arrays), ranges)


def _check_kernel(kernel: Kernel, position: int) -> None:
    """Raise unless `kernel` is one Sum that may be linear in argument `position` (a Vi or Vj)."""
    if len(kernel.reductions) != 1 or kernel.reductions[0].kind != "sum":
        kinds = ", ".join(r.kind for r in kernel.reductions)
        raise KirError(f"a linear solve needs a kernel of one Sum reduction, got {kinds}")
    if not 0 <= position < len(kernel.args):
        raise KirError(f"the solved variable's position {position} is not one of the kernel's arguments")
    spec = kernel.args[position]
    if position not in variables_of([kernel.reductions[0].formula]):
        raise KirError(f"the formula does not use {spec.describe()}, so it cannot be linear in it")
    out_dim = kernel.output_types()[0].size
    if spec.category == "p" or spec.dim != out_dim:
        raise KirError(
            f"the solved variable, {spec.describe()}, must be a Vi or Vj variable with the "
            f"dimension of the formula's output ({out_dim})"
        )


def _check_arrays(kernel: Kernel, arrays: Sequence[Any], position: int) -> None:
    """Raise unless `arrays` are all NumPy or all torch and b = arrays[position] fits K's output."""
    spec = kernel.args[position]
    if len(arrays) != len(kernel.args):
        raise ArgumentError(f"the kernel takes {len(kernel.args)} arguments, got {len(arrays)}")
    torch_in = [is_torch_tensor(a) for a in arrays]
    if any(torch_in) and not all(torch_in):
        raise ArgumentError("pass either NumPy arrays or torch tensors, not a mix of both")
    shape = tuple(getattr(arrays[position], "shape", ()))
    if len(shape) != 2 or shape[1] != spec.dim:
        raise ArgumentError(f"b, {spec.describe()}, must be a 2D array with {spec.dim} columns, got {shape}")
    out_category = "i" if kernel.axis == 1 else "j"
    for array, other in zip(arrays, kernel.args, strict=True):
        rows = tuple(getattr(array, "shape", ()))[:1]
        if other.category == out_category and rows and rows[0] != shape[0]:
            raise ArgumentError(
                f"K is not square: it gives {rows[0]} rows ({other.describe()}) but b, "
                f"{spec.describe()}, has {shape[0]}"
            )


def _solve(kernel: Kernel, arrays: Sequence[Any], position: int, alpha: float, eps: float, ranges, progress):
    """The solve on arrays recording nothing for autograd."""
    args = list(arrays)

    def linop(var: Any) -> Any:
        args[position] = var
        out = _reduce(kernel, args, ranges)
        return out + alpha * var if alpha else out

    return conjugate_gradient(linop, arrays[position], eps, progress)


def solve_linear(
    kernel: Kernel,
    arrays: Sequence[Any],
    position: int,
    alpha: float = 1e-10,
    eps: float = 1e-6,
    ranges: Any = None,
    progress: bool = False,
) -> Any:
    """a with (alpha Id + K) a = arrays[position], K(a) the Sum kernel on `arrays` with a at `position`.

    Torch tensors that require grad give a result differentiable to any order (K assumed symmetric).
    """
    _check_kernel(kernel, position)
    _check_arrays(kernel, arrays, position)
    if is_torch_tensor(arrays[0]):
        import torch

        if torch.is_grad_enabled() and any(a.requires_grad for a in arrays):
            return _solve_function().apply(kernel, position, alpha, eps, ranges, progress, *arrays)
        arrays = [a.detach() for a in arrays]
    return _solve(kernel, arrays, position, alpha, eps, ranges, progress)


@functools.cache
def _solve_function() -> Any:
    """The torch.autograd.Function of a solve, made on first use so that NumPy users need no torch."""
    import torch

    class SolveFunction(torch.autograd.Function):
        """a = (alpha Id + K(args))^-1 b; backward: b gets K^-1 G, the others grad <-K^-1 G, K(a)>."""

        @staticmethod
        def forward(ctx: Any, kernel: Kernel, position: int, alpha, eps, ranges, progress, *arrays):
            result = _solve(kernel, [a.detach() for a in arrays], position, alpha, eps, ranges, progress)
            ctx.options = (kernel, position, alpha, eps, ranges, progress)
            ctx.save_for_backward(*arrays, result)
            return result

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> tuple:
            kernel, position, alpha, eps, ranges, progress = ctx.options
            *arrays, result = ctx.saved_tensors
            needs = ctx.needs_input_grad[6:]
            # Differentiable again under create_graph=True: solve_linear records itself then.
            args = arrays[:position] + [grad] + arrays[position + 1 :]
            kinv_g = solve_linear(kernel, args, position, alpha, eps, ranges, progress)
            grads: list = [None] * len(arrays)
            if needs[position]:
                grads[position] = kinv_g
            others = [k for k, need in enumerate(needs) if need and k != position]
            if others:
                create_graph = torch.is_grad_enabled()
                args = list(arrays)
                args[position] = result if create_graph else result.detach()
                with torch.enable_grad():
                    for k in others:
                        # A fresh node per input: the gradient flowing into it is the partial
                        # derivative with `result` held fixed (not the path through the solve).
                        args[k] = (
                            args[k].view_as(args[k]) if create_graph else args[k].detach().requires_grad_()
                        )
                    out = _reduce(kernel, args, ranges)
                    found = torch.autograd.grad(
                        out, [args[k] for k in others], -kinv_g, create_graph=create_graph, allow_unused=True
                    )
                for k, g in zip(others, found, strict=True):
                    grads[k] = torch.zeros_like(arrays[k]) if g is None else g
            return (None, None, None, None, None, None, *grads)

    return SolveFunction


class KernelSolve:
    """pykeops' KernelSolve: a = (alpha Id + K)^-1 b, K(a) the Sum of `formula` (linear in `varinvalias`).

    `axis` 0 reduces over i (a and b are j-rows), 1 over j; `dtype` and the other pykeops
    options (PYKEOPS_OPTIONS) are accepted and ignored: the arguments give the dtype.
    """

    def __init__(
        self,
        formula: str,
        aliases: Sequence[str],
        varinvalias: str,
        axis: int = 0,
        dtype: str | None = None,
        **ignored_pykeops_options: Any,
    ):
        unknown = sorted(set(ignored_pykeops_options) - PYKEOPS_OPTIONS)
        if unknown:
            raise KirError(f"KernelSolve got unknown option(s) {', '.join(unknown)}")
        self.kernel = Kernel.from_formula(formula, aliases, "Sum", axis)
        self.position = _variable_position(self.kernel, varinvalias)
        _check_kernel(self.kernel, self.position)
        self.formula, self.aliases, self.axis = formula, list(aliases), axis

    def __call__(
        self,
        *args: Any,
        backend: str = "auto",
        device_id: int = -1,
        alpha: float = 1e-10,
        eps: float = 1e-6,
        ranges: Any = None,
        progress: bool = False,
    ) -> Any:
        """The solution a for the arrays `args`, b at the solved variable's position."""
        from .engine import check_options, on_backend

        check_options(backend)
        with on_backend(backend, args):
            return solve_linear(self.kernel, args, self.position, alpha, eps, ranges, progress)


def _variable_position(kernel: Kernel, varinvalias: str) -> int:
    """The argument position of an alias name or of "Var(k,d,c)"."""
    if not isinstance(varinvalias, str):
        raise KirError(f"varinvalias must be an alias name or 'Var(k,d,c)', got {varinvalias!r}")
    match = re.fullmatch(r"\s*Var\(\s*(\d+)\s*,\s*(\d+)\s*,\s*([012])\s*\)\s*", varinvalias)
    if match:
        position, dim, category = int(match[1]), int(match[2]), "ijp"[int(match[3])]
        specs = [s for s in kernel.args if s.position == position]
        if not specs or (specs[0].dim, specs[0].category) != (dim, category):
            found = specs[0].describe() if specs else "no such argument"
            raise KirError(f"varinvalias {varinvalias!r} does not match the formula's arguments ({found})")
        return position
    for spec in kernel.args:
        if spec.name == varinvalias.strip():
            return spec.position
    names = ", ".join(s.name for s in kernel.args)
    raise KirError(f"unknown varinvalias {varinvalias!r}: the aliases declare {names}")
