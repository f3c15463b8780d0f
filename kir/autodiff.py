"""Symbolic differentiation of formulas (`Expr` trees), driven by each op's `vjp` rule.

Reverse mode gives Grad(F, x, e) = J_x(F)^T e. Forward mode, Diff(F, x, v) = J_x(F) v, is the
transpose of reverse mode: Grad(F, x, u) is linear in u, so J v = Grad(<Grad(F, x, u), v>, u, 1)
for a placeholder u that the second sweep removes. Every rule lives in the op table
(`kir.registry.OP_RULES[op].vjp`); this module only walks the tree.
"""

from __future__ import annotations

from kir.dialect import formula as ops
from kir.errors import FormulaError
from kir.frontends.expr import Expr, apply, constant, variable
from kir.registry import OP_RULES

PLACEHOLDER_INDEX = 2**62
"""Argument position of the placeholder variable of forward mode: no real kernel has it."""


def zeros(dim: int) -> Expr:
    """The zero vector of dimension `dim`."""
    return constant((0.0,) * dim)


def _fit(cotangent: Expr, operand: Expr, op: type) -> Expr:
    """A cotangent of the operand's dimension: broadcast operands get the sum of theirs."""
    if cotangent.dim == operand.dim:
        return cotangent
    if operand.dim == 1:
        return apply(ops.SumOp, cotangent)
    raise AssertionError(
        f"the derivative rule of {op.name} gave a cotangent of dimension {cotangent.dim} "
        f"for an operand of dimension {operand.dim}"
    )


def _depends_on(root: Expr, x: Expr) -> set[int]:
    """Ids of the nodes of `root` whose value depends on `x`."""
    depends: set[int] = set()
    for node in root.walk():
        if node is x or any(id(arg) in depends for arg in node.args):
            depends.add(id(node))
    return depends


def vjp(f: Expr, x: Expr, e: Expr) -> Expr:
    """Grad(F, x, e): the gradient of <F, e> with respect to the variable x."""
    if x.op is not ops.VarOp:
        raise FormulaError(f"Grad differentiates with respect to a variable, not {x!r}")
    if e.dim != f.dim:
        raise FormulaError(f"Grad: the direction has dimension {e.dim}, the formula {f.dim}")
    f, e = expand(f), expand(e)
    depends = _depends_on(f, x)
    if id(f) not in depends:
        return zeros(x.dim)
    adjoints: dict[int, Expr] = {id(f): e}
    for node in reversed(f.walk()):
        g = adjoints.get(id(node))
        if g is None or not node.args:
            continue
        rule = OP_RULES[node.op].vjp
        if rule is None:
            raise FormulaError(f"{node.op.name} has no derivative rule yet")
        cotangents = rule(node.args, node, g, **node.attributes)
        for arg, cotangent in zip(node.args, cotangents, strict=True):
            if cotangent is None or id(arg) not in depends:
                continue
            cotangent = _fit(cotangent, arg, node.op)
            known = adjoints.get(id(arg))
            adjoints[id(arg)] = cotangent if known is None else known + cotangent
    return adjoints.get(id(x), zeros(x.dim))


def jvp(f: Expr, x: Expr, v: Expr) -> Expr:
    """Diff(F, x, v): the derivative of F at x in the direction v."""
    if v.dim != x.dim:
        raise FormulaError(f"Diff: the direction has dimension {v.dim}, the variable {x.dim}")
    placeholder = variable(PLACEHOLDER_INDEX, f.dim, "p")
    transposed = vjp(apply(ops.ScalprodOp, vjp(f, x, placeholder), expand(v)), placeholder, constant(1.0))
    if any(node is placeholder for node in transposed.walk()):
        raise AssertionError("forward mode left its placeholder in the result: a rule is not linear")
    return transposed


def expand(root: Expr) -> Expr:
    """`root` with every Grad and Diff node replaced by its formula, innermost first."""
    if not any(node.op in (ops.GradOp, ops.DiffOp) for node in root.walk()):
        return root
    rebuilt: dict[int, Expr] = {}
    for node in root.walk():
        args = [rebuilt[id(arg)] for arg in node.args]
        if node.op is ops.GradOp:
            rebuilt[id(node)] = vjp(*args)
        elif node.op is ops.DiffOp:
            rebuilt[id(node)] = jvp(*args)
        elif node.args:
            rebuilt[id(node)] = apply(node.op, *args, **node.attributes)
        else:
            rebuilt[id(node)] = node
    return rebuilt[id(root)]


def grad_matrix(f: Expr, x: Expr) -> Expr:
    """KeOps' GradMatrix(F, x): the gradients of F's entries, concatenated (dim x * dim F)."""
    rows = [apply(ops.GradOp, f, x, _unit(f.dim, k)) for k in range(f.dim)]
    result = rows[0]
    for row in rows[1:]:
        result = apply(ops.ConcatOp, result, row)
    return result


def divergence(f: Expr, x: Expr) -> Expr:
    """KeOps' Divergence(F, x): the sum over k of dF_k/dx_k (F and x of the same dimension)."""
    if f.dim != x.dim:
        raise FormulaError(f"Divergence needs F and x of one dimension, got {f.dim} and {x.dim}")
    terms = [apply(ops.ElemOp, apply(ops.GradOp, f, x, _unit(f.dim, k)), m=k) for k in range(f.dim)]
    result = terms[0]
    for term in terms[1:]:
        result = result + term
    return result


def laplacian(f: Expr, x: Expr) -> Expr:
    """KeOps' Laplacian(F, x) of a scalar F: the divergence of its gradient."""
    if f.dim != 1:
        raise FormulaError(f"Laplacian needs a scalar formula, got dimension {f.dim}")
    return divergence(apply(ops.GradOp, f, x, constant(1.0)), x)


def _unit(dim: int, k: int) -> Expr:
    return constant(tuple(1.0 if m == k else 0.0 for m in range(dim)))
