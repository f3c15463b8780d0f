"""kir-autodiff: replace every `kir.grad` and `kir.diff` by the formula of the derivative.

The kernel's formulas are read back into trees, the derivatives are expanded by `kir.autodiff`
with the derivative rule of every op (the op table's `vjp` facet), and the kernel is rebuilt
from the trees, so every type (categories included) is inferred again and shared
subexpressions stay shared. Runs first in the pipeline: every later pass, the reference
evaluator and the back-ends see derivative-free formulas.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from kir.autodiff import expand
from kir.builder import Reduction, build_kernel
from kir.dialect.autodiff import DerivativeOp
from kir.dialect.core import ConstantOp, KernelOp, VarOp
from kir.dialect.types import VecType
from kir.errors import FormulaError
from kir.frontends.expr import Expr, apply, constant, variable


def formula_of(value: SSAValue, memo: dict[SSAValue, Expr]) -> Expr:
    """The formula tree computing `value` in its kernel."""
    if value in memo:
        return memo[value]
    op = value.owner
    type_: VecType = value.type
    if isinstance(op, VarOp):
        node = variable(op.position, type_.size, type_.cat)
    elif isinstance(op, ConstantOp):
        node = constant(op.values)
    else:
        node = apply(type(op), *(formula_of(v, memo) for v in op.operands), **op.attribute_values)
    memo[value] = node
    return node


def differentiate_kernel(kernel: KernelOp) -> KernelOp | None:
    """The kernel rebuilt with its derivatives expanded (types re-inferred), or None if it has none."""
    if not any(isinstance(op, DerivativeOp) for op in kernel.body.block.ops):
        return None
    memo: dict[SSAValue, Expr] = {}
    reductions = []
    try:
        for reduce in kernel.reductions:
            roots = [expand(formula_of(v, memo)) for v in reduce.args]
            weight = roots[1] if len(roots) > 1 else None
            reductions.append(
                Reduction(roots[0], reduce.kind_name, reduce.axis_value, weight, reduce.k_value)
            )
    except FormulaError as error:
        raise PassFailedException(f"kir-autodiff: {error}") from None
    names = {var.position: var.result.name_hint for var in kernel.variables if var.result.name_hint}
    dtype = kernel.reductions[0].formula.type.dtype_name
    (rebuilt,) = build_kernel(kernel.sym_name.data, reductions, dtype, names).ops
    return rebuilt


@dataclass(frozen=True)
class Autodiff(ModulePass):
    """Replace `kir.grad` / `kir.diff` ops by their derivative formulas."""

    name = "kir-autodiff"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for kernel in [k for k in op.walk() if isinstance(k, KernelOp)]:
            rebuilt = differentiate_kernel(kernel)
            if rebuilt is not None:
                rebuilt.detach()
                Rewriter.replace_op(kernel, rebuilt)
