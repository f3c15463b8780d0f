"""Forward-mode derivatives (Jacobian-vector products) of kernel reductions, as kernels.

For out = Red(F, G) and tangents v_p of the arguments x_p, the tangent of the output is a
reduction of the directional derivative dF = sum_p Diff(F, x_p, v_p) (and dG): a Sum of dF
for a sum; for the soft-max family, SumSoftMaxWeight reductions of F weighted by dF, dF G + dG
and G, combined entry-wise with the forward output:

    LogSumExp(F)           -> SSMW(F, dF)
    LogSumExp(F, weight G) -> SSMW(F, dF G + dG) / SSMW(F, G)
    SumSoftMaxWeight(F, G) -> SSMW(F, dF G + dG) - out * SSMW(F, dF)

The tangent variables v_p are arguments of the tangent kernel after the forward ones, with
the shapes of the x_p. Index outputs have no tangent; Min/Max-like reductions are not
supported in forward mode (reverse mode is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kir.autodiff import jvp
from kir.builder import Reduction
from kir.errors import KirError
from kir.frontends.expr import Expr, variable

if TYPE_CHECKING:
    from kir.kernel import Kernel

INDEX_KINDS = ("argmin", "argmax", "argkmin")


@dataclass(frozen=True)
class TangentKernel:
    """Call `kernel` with the forward arguments then the tangents of `positions`; output k's
    tangent is `combine[k](results, forward output k)` (None: an index output)."""

    kernel: Kernel
    positions: tuple[int, ...]
    combine: tuple[Callable[[list, Any], Any] | None, ...]


def tangent_kernel(kernel: Kernel, positions: tuple[int, ...]) -> TangentKernel:
    """The kernel of the forward-mode derivatives along the arguments `positions`."""
    from kir.kernel import Kernel as KernelClass
    from kir.kernel import signature

    specs = {s.position: s for s in kernel.args}
    first = len(kernel.args)
    pairs = [
        (variable(p, specs[p].dim, specs[p].category), variable(first + k, specs[p].dim, specs[p].category))
        for k, p in enumerate(positions)
    ]

    def derivative(f: Expr) -> Expr:
        terms = [jvp(f, x, v) for x, v in pairs]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    reductions: list[Reduction] = []
    combine: list[Callable | None] = []

    def add(reduction: Reduction) -> int:
        reductions.append(reduction)
        return len(reductions) - 1

    for r in kernel.reductions:
        if r.kind in INDEX_KINDS:
            combine.append(None)
            continue
        if r.kind == "sum":
            a = add(Reduction(derivative(r.formula), "sum", r.axis))
            combine.append(lambda res, out, a=a: res[a])
        elif r.kind == "logsumexp" and r.formula.dim == 1:
            a = add(Reduction(r.formula, "sumsoftmaxweight", r.axis, derivative(r.formula)))
            combine.append(lambda res, out, a=a: res[a])
        elif r.kind == "logsumexp_weight":
            weight = derivative(r.formula) * r.weight + derivative(r.weight)
            a = add(Reduction(r.formula, "sumsoftmaxweight", r.axis, weight))
            b = add(Reduction(r.formula, "sumsoftmaxweight", r.axis, r.weight))
            combine.append(lambda res, out, a=a, b=b: res[a] / res[b])
        elif r.kind == "sumsoftmaxweight":
            weight = derivative(r.formula) * r.weight + derivative(r.weight)
            a = add(Reduction(r.formula, "sumsoftmaxweight", r.axis, weight))
            b = add(Reduction(r.formula, "sumsoftmaxweight", r.axis, derivative(r.formula)))
            combine.append(lambda res, out, a=a, b=b: res[a] - out * res[b])
        else:
            raise KirError(
                f"forward-mode derivatives (jvp) of a {r.kind} reduction are not available; "
                "reverse mode (backward, torch.func.grad/vjp) is"
            )
    if not reductions:
        raise KirError("this kernel has only index outputs: they have no derivative")
    roots = [root for r in reductions for root in r.roots]
    declared = [x for x, _ in pairs] + [v for _, v in pairs]
    args = signature([*roots, *declared, *(variable(s.position, s.dim, s.category) for s in kernel.args)])
    return TangentKernel(KernelClass(reductions, args, kernel.dtype), positions, tuple(combine))
