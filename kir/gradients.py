"""Gradients of kernel reductions, as kernels of their own.

For a kernel out_k = Red_k(F_k, G_k) and an argument x, the vector-Jacobian product with the
output cotangents gamma_k is a Sum over one index of

    sum_k Grad(F_k, x, cotF_k) + Grad(G_k, x, cotG_k)

where (cotF_k, cotG_k) come from the reduction's `cotangent` rule (kir/reductions.py) and
depend on the forward output O_k and on gamma_k, passed to the new kernel as variables of
O_k's index. Nothing is written per case: the reduction rule gives the cotangents, the op
rules differentiate the formulas. The index summed over follows x: the reduced index for a
variable of the output's index, the output index for a variable of the reduced index (the
gradient with respect to y_j of a reduction over j is a reduction over i); a parameter's
gradient is the sum of the rows of the former. The gradients are then fused by kir/fusion.py:
they all read the cotangents, so they share one pass, the sums over the other index as column
sums (for the Gaussian sum over j: x and the parameters over j, y and b by columns over i).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kir.builder import Reduction
from kir.dialect import formula as ops
from kir.errors import KirError
from kir.frontends.expr import Expr, apply, variable
from kir.fusion import plan_fusion
from kir.reductions import REDUCTION_RULES

if TYPE_CHECKING:
    from kir.kernel import Kernel


@dataclass(frozen=True)
class GradientKernel:
    """The gradients with respect to arguments `positions`, fused in one kernel (one output
    each, one pass over the pairs; kir/fusion.py plans which). Call `kernel` with the forward
    arguments, then, for each forward output k in `outputs`, (output k, its cotangent, then the
    results of the kernels `auxiliary[k]` on the forward arguments); sum the rows of the
    gradient of a parameter (`sum_rows`)."""

    kernel: Kernel
    positions: tuple[int, ...]
    outputs: tuple[int, ...]
    auxiliary: dict[int, tuple[Kernel, ...]]
    sum_rows: tuple[bool, ...]


def gradient_kernels(kernel: Kernel, positions: tuple[int, ...]) -> list[GradientKernel]:
    """Kernels computing the gradients with respect to `positions`, as few as kir/fusion.py
    plans: all of them in one pass when they share inputs (always, through the cotangents),
    those over the forward kernel's reduced index as row sums, the others as column sums (an
    argument whose gradient is identically zero appears in none)."""
    from kir.kernel import Kernel, signature

    forward_args = [variable(s.position, s.dim, s.category) for s in kernel.args]
    names = dict(kernel.var_names)
    cotangents: list[tuple[Reduction, Expr | None, Expr | None]] = []
    outputs: list[int] = []
    extra: list[Expr] = []
    auxiliary: dict[int, tuple[Kernel, ...]] = {}
    for k, (reduction, out_type) in enumerate(zip(kernel.reductions, kernel.output_types(), strict=True)):
        rule = REDUCTION_RULES[reduction.kind]
        if rule.cotangent is None:
            raise KirError(f"the gradient of the {reduction.kind} reduction is not supported yet")
        # Per reduction: a kernel may hold column sums, whose outputs are rows of the other index.
        output_category = "i" if reduction.axis == 1 else "j"
        needed = rule.auxiliary(reduction.formula, reduction.weight) if rule.auxiliary else []
        helpers = tuple(
            Kernel(
                [Reduction(formula, kind, reduction.axis)], signature([formula, *forward_args]), kernel.dtype
            )
            for kind, formula in needed
        )
        slot = len(kernel.args) + len(extra)
        o = variable(slot, out_type.size, output_category)
        gamma = variable(slot + 1, out_type.size, output_category)
        aux = [
            variable(slot + 2 + n, t.size, output_category)
            for n, t in enumerate(h.output_types()[0] for h in helpers)
        ]
        cot_f, cot_g = rule.cotangent(reduction.formula, reduction.weight, o, gamma, *aux)
        if cot_f is None and cot_g is None:
            continue
        cotangents.append((reduction, cot_f, cot_g))
        outputs.append(k)
        auxiliary[k] = helpers
        names[slot], names[slot + 1] = f"out{k}", f"grad_out{k}"
        extra += [o, gamma, *aux]

    members: list[tuple[int, Reduction]] = []
    for position in positions:
        spec = kernel.args[position]
        x = variable(position, spec.dim, spec.category)
        terms = [
            apply(ops.GradOp, formula, x, cotangent)
            for reduction, cot_f, cot_g in cotangents
            for formula, cotangent in ((reduction.formula, cot_f), (reduction.weight, cot_g))
            if formula is not None and cotangent is not None and _depends_on(formula, x)
        ]
        if not terms:
            continue
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        # Every term is a function of one pair (i, j), whichever reduction it comes from: the
        # gradient of an i-variable sums over j, of a j-variable over i; a parameter's sums over
        # the forward kernel's index (its rows are summed after).
        axis = {"i": 1, "j": 0}.get(spec.category, kernel.axis)
        members.append((position, Reduction(total, "sum", axis)))
    # The forward kernel's reduced index first, so that it is the row axis of the fused pass.
    members.sort(key=lambda member: member[1].axis != kernel.axis)

    plans = []
    for group in plan_fusion([reduction for _, reduction in members]):
        fused = [members[m] for m in group]
        args = signature([*(r.formula for _, r in fused), *forward_args, *extra], names)
        plans.append(
            GradientKernel(
                Kernel([r for _, r in fused], args, kernel.dtype),
                tuple(position for position, _ in fused),
                tuple(outputs),
                auxiliary,
                tuple(kernel.args[position].category == "p" for position, _ in fused),
            )
        )
    return plans


def _depends_on(formula: Expr, x: Expr) -> bool:
    return any(node is x for node in formula.walk())
