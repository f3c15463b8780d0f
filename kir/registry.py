"""One table of what each formula op means: its DSL spelling, reference rule and lowering.

A new op is a dialect op (kir/dialect/formula.py, with its shape rule) plus one `OpRule` here.
The string DSL, the reference evaluator and every back-end find the op through this table;
later facets (the derivative rule) join it as fields, not as new if-chains elsewhere.

- `reference(*arrays, **attrs)`: NumPy, float64, arrays shaped (..., dim) that broadcast like
  KeOps operands (a last axis of 1 broadcasts).
- `lower(emitter, *operands, **attrs)`: operands are lists of entries (one per vector entry);
  returns the result's entries, built with `kir.emitter.Emitter` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation

from kir.dialect import formula as kir_ops
from kir.emitter import Emitter, Value

Entries = list[Value]


@dataclass(frozen=True)
class OpRule:
    """The facets of one formula op."""

    dsl: str | None
    """Function name in KeOps' formula syntax (None: reached only through an operator)."""
    reference: Callable[..., np.ndarray]
    lower: Callable[..., Entries]
    dsl_attrs: tuple[str, ...] = ()
    """Integer arguments after the formula arguments in the DSL, by attribute name."""


def _broadcast(a: Entries, b: Entries) -> tuple[Entries, Entries]:
    """KeOps' rule on entry lists: a one-entry operand repeats to the other's length."""
    if len(a) == 1 and len(b) > 1:
        a = a * len(b)
    if len(b) == 1 and len(a) > 1:
        b = b * len(a)
    return a, b


def _elementwise(scalar: Callable[..., Value]) -> Callable[..., Entries]:
    def lower(em: Emitter, *operands: Entries) -> Entries:
        if len(operands) == 2:
            operands = _broadcast(*operands)
        return [scalar(em, *entries) for entries in zip(*operands, strict=True)]

    return lower


def _sum_entries(em: Emitter, entries: Entries) -> Value:
    """Pairwise sum: shorter dependency chains and better rounding than a running sum."""
    while len(entries) > 1:
        paired = [em.add(entries[k], entries[k + 1]) for k in range(0, len(entries) - 1, 2)]
        entries = paired + ([entries[-1]] if len(entries) % 2 else [])
    return entries[0]


def _lower_pow(em: Emitter, x: Entries, exponent: int) -> Entries:
    def power(v: Value) -> Value:
        # Square-and-multiply keeps Pow exact in integer steps, as KeOps' Pow does.
        result, base, n = None, v, abs(exponent)
        while n:
            if n & 1:
                result = base if result is None else em.mul(result, base)
            n >>= 1
            if n:
                base = em.mul(base, base)
        if result is None:
            return em.constant(1.0)
        return em.div(em.constant(1.0), result) if exponent < 0 else result

    return [power(v) for v in x]


def _lower_sqdist(em: Emitter, a: Entries, b: Entries) -> Entries:
    differences = [em.sub(u, v) for u, v in zip(a, b, strict=True)]
    return [_sum_entries(em, [em.mul(d, d) for d in differences])]


def _lower_scalprod(em: Emitter, a: Entries, b: Entries) -> Entries:
    return [_sum_entries(em, [em.mul(u, v) for u, v in zip(a, b, strict=True)])]


def _keep_dims_sum(values: np.ndarray) -> np.ndarray:
    return values.sum(axis=-1, keepdims=True)


def _no_reference(*_: np.ndarray) -> np.ndarray:
    raise NotImplementedError("variables and constants are evaluated by the evaluator itself")


def _no_lowering(*_: object) -> Entries:
    raise NotImplementedError("variables and constants are lowered by the back-end itself")


OP_RULES: dict[type[Operation], OpRule] = {
    kir_ops.VarOp: OpRule(None, _no_reference, _no_lowering),
    kir_ops.ConstantOp: OpRule(None, _no_reference, _no_lowering),
    kir_ops.NegOp: OpRule("Minus", np.negative, _elementwise(lambda em, a: em.neg(a))),
    kir_ops.ExpOp: OpRule("Exp", np.exp, _elementwise(lambda em, a: em.exp(a))),
    kir_ops.LogOp: OpRule("Log", np.log, _elementwise(lambda em, a: em.log(a))),
    kir_ops.SqrtOp: OpRule("Sqrt", np.sqrt, _elementwise(lambda em, a: em.sqrt(a))),
    kir_ops.SquareOp: OpRule("Square", np.square, _elementwise(lambda em, a: em.mul(a, a))),
    kir_ops.PowOp: OpRule(
        "Pow",
        lambda x, exponent: np.power(x, float(exponent)),
        _lower_pow,
        dsl_attrs=("exponent",),
    ),
    kir_ops.SumOp: OpRule("Sum", _keep_dims_sum, lambda em, x: [_sum_entries(em, x)]),
    kir_ops.AddOp: OpRule("Add", np.add, _elementwise(lambda em, a, b: em.add(a, b))),
    kir_ops.SubOp: OpRule("Subtract", np.subtract, _elementwise(lambda em, a, b: em.sub(a, b))),
    kir_ops.MulOp: OpRule("Mult", np.multiply, _elementwise(lambda em, a, b: em.mul(a, b))),
    kir_ops.DivOp: OpRule("Divide", np.divide, _elementwise(lambda em, a, b: em.div(a, b))),
    kir_ops.PowfOp: OpRule("Powf", np.power, _elementwise(lambda em, a, b: em.powf(a, b))),
    kir_ops.ScalprodOp: OpRule("Scalprod", lambda a, b: _keep_dims_sum(a * b), _lower_scalprod),
    kir_ops.SqDistOp: OpRule("SqDist", lambda a, b: _keep_dims_sum(np.square(a - b)), _lower_sqdist),
}


def rule_for(op: type[Operation] | Operation) -> OpRule:
    """The rule of an op class or instance; a clear error for an op the table lacks."""
    op_class = op if isinstance(op, type) else type(op)
    try:
        return OP_RULES[op_class]
    except KeyError:
        raise NotImplementedError(f"no rule registered for {op_class.name}") from None


DSL_FUNCTIONS: dict[str, type[Operation]] = {
    rule.dsl: op for op, rule in OP_RULES.items() if rule.dsl is not None
}
"""Function names of the string DSL that map one-to-one onto a dialect op."""
