"""Gradients of kernel reductions, as kernels of their own.

For a kernel out_k = Red_k(F_k, G_k) and an argument x, the vector-Jacobian product with the
output cotangents gamma_k is a Sum over one index of

    sum_k Grad(F_k, x, cotF_k) + Grad(G_k, x, cotG_k)

where (cotF_k, cotG_k) come from the reduction's `cotangent` rule (kir/reductions.py) and
depend on the forward output O_k and on gamma_k, passed to the new kernel as variables of the
output's index. Nothing is written per case: the reduction rule gives the cotangents, the op
rules differentiate the formulas. The index summed over follows x: the reduced index for a
variable of the output's index, the output index for a variable of the reduced index (the
gradient with respect to y_j of a reduction over j is a reduction over i); a parameter's
gradient is the sum of the rows of the former.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kir.builder import Reduction
from kir.dialect import formula as ops
from kir.errors import KirError
from kir.frontends.expr import Expr, apply, variable
from kir.reductions import REDUCTION_RULES

if TYPE_CHECKING:
    from kir.kernel import Kernel


@dataclass(frozen=True)
class GradientKernel:
    """How to compute one argument's gradient: call `kernel` with the forward arguments, then,
    for each output k in `outputs`, (output k, its cotangent, then the results of the kernels
    `auxiliary[k]` on the forward arguments); sum the result's rows if `sum_rows`."""

    kernel: Kernel
    outputs: tuple[int, ...]
    auxiliary: dict[int, tuple[Kernel, ...]]
    sum_rows: bool


def gradient_kernel(kernel: Kernel, position: int) -> GradientKernel | None:
    """The kernel of the gradient with respect to argument `position` (None: identically zero)."""
    from kir.kernel import Kernel, signature

    spec = kernel.args[position]
    x = variable(position, spec.dim, spec.category)
    output_category = "i" if kernel.axis == 1 else "j"
    base = len(kernel.args)
    terms: list[Expr] = []
    outputs: list[int] = []
    extra: list[Expr] = []
    auxiliary: dict[int, tuple[Kernel, ...]] = {}
    forward_args = [variable(s.position, s.dim, s.category) for s in kernel.args]
    for k, (reduction, out_type) in enumerate(zip(kernel.reductions, kernel.output_types(), strict=True)):
        rule = REDUCTION_RULES[reduction.kind]
        if rule.cotangent is None:
            raise KirError(f"the gradient of the {reduction.kind} reduction is not supported yet")
        needed = rule.auxiliary(reduction.formula, reduction.weight) if rule.auxiliary else []
        helpers = tuple(
            Kernel([Reduction(formula, kind, kernel.axis)], signature([formula, *forward_args]), kernel.dtype)
            for kind, formula in needed
        )
        slot = base + len(extra)
        o = variable(slot, out_type.size, output_category)
        gamma = variable(slot + 1, out_type.size, output_category)
        aux = [
            variable(slot + 2 + n, t.size, output_category)
            for n, t in enumerate(h.output_types()[0] for h in helpers)
        ]
        cot_f, cot_g = rule.cotangent(reduction.formula, reduction.weight, o, gamma, *aux)
        used = False
        for formula, cotangent in ((reduction.formula, cot_f), (reduction.weight, cot_g)):
            if formula is not None and cotangent is not None:
                terms.append(apply(ops.GradOp, formula, x, cotangent))
                used = True
        if used:
            outputs.append(k)
            auxiliary[k] = helpers
            extra += [o, gamma, *aux]
    if not terms:
        return None
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    if spec.category == "p" or spec.category == output_category:
        axis = kernel.axis
    else:
        axis = 1 - kernel.axis
    names = dict(kernel.var_names)
    for k, first in zip(outputs, range(base, base + len(extra)), strict=False):
        names[first], names[first + 1] = f"out{k}", f"grad_out{k}"
    args = signature([total, *forward_args, *extra], names)
    gradient = Kernel([Reduction(total, "sum", axis)], args, kernel.dtype)
    return GradientKernel(gradient, tuple(outputs), auxiliary, spec.category == "p")
