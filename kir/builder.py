"""Build kir IR from formula expressions, with the builder API (never by printing and parsing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region, SSAValue

from kir.dialect.formula import ConstantOp, KernelOp, OutputOp, ReduceOp, VarOp
from kir.dialect.types import ELEMENT_TYPES, VecType
from kir.frontends.expr import Expr


@dataclass(frozen=True)
class Reduction:
    """One output of a kernel: `kind` (sum, argkmin, ...) of `formula` over `axis` (1: over j),
    with KeOps' `formula2` as `weight` and `opt_arg` as `k` for the reductions that take them."""

    formula: Expr
    kind: str
    axis: int
    weight: Expr | None = None
    k: int | None = None

    @property
    def roots(self) -> list[Expr]:
        """The formulas the reduction reads."""
        return [self.formula] + ([self.weight] if self.weight is not None else [])


def build_kernel(
    name: str,
    reductions: Sequence[Reduction],
    dtype: str,
    var_names: Mapping[int, str] | None = None,
) -> ModuleOp:
    """A module holding one `kir.kernel` that computes `reductions` in element type `dtype`."""
    element_type = ELEMENT_TYPES[dtype]
    var_names = var_names or {}
    block = Block()
    values: dict[int, SSAValue] = {}

    for node in (n for reduction in reductions for root in reduction.roots for n in root.walk()):
        if id(node) in values:
            continue
        vec = VecType(node.dim, element_type, node.category)
        attrs = node.attributes
        if node.op is VarOp:
            op = VarOp(attrs["index"], vec)
            op.result.name_hint = var_names.get(attrs["index"])
        elif node.op is ConstantOp:
            op = ConstantOp(attrs["values"], vec)
        else:
            op = node.op(*(values[id(arg)] for arg in node.args), **attrs)
        block.add_op(op)
        values[id(node)] = op.results[0]

    outputs = []
    for reduction in reductions:
        operands = [values[id(root)] for root in reduction.roots]
        reduce = ReduceOp(operands, reduction.kind, reduction.axis, reduction.k)
        block.add_op(reduce)
        outputs.append(reduce.result)
    block.add_op(OutputOp(outputs))
    return ModuleOp([KernelOp(name, Region(block))])
