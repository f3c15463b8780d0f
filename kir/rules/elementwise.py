"""Rules of the elementwise ops (kir/dialect/elementwise.py)."""

from __future__ import annotations

import numpy as np

from kir.dialect import elementwise as ops
from kir.emitter import Emitter, Value
from kir.rules.common import Entries, OpRule, elementwise


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


RULES: dict[type, OpRule] = {
    ops.NegOp: OpRule("Minus", np.negative, elementwise(lambda em, a: em.neg(a))),
    ops.ExpOp: OpRule("Exp", np.exp, elementwise(lambda em, a: em.math("exp", a))),
    ops.LogOp: OpRule("Log", np.log, elementwise(lambda em, a: em.math("log", a))),
    ops.SqrtOp: OpRule("Sqrt", np.sqrt, elementwise(lambda em, a: em.math("sqrt", a))),
    ops.SquareOp: OpRule("Square", np.square, elementwise(lambda em, a: em.mul(a, a))),
    ops.PowOp: OpRule(
        "Pow", lambda x, exponent: np.power(x, float(exponent)), _lower_pow, dsl_attrs=("exponent",)
    ),
    ops.AddOp: OpRule("Add", np.add, elementwise(lambda em, a, b: em.add(a, b))),
    ops.SubOp: OpRule("Subtract", np.subtract, elementwise(lambda em, a, b: em.sub(a, b))),
    ops.MulOp: OpRule("Mult", np.multiply, elementwise(lambda em, a, b: em.mul(a, b))),
    ops.DivOp: OpRule("Divide", np.divide, elementwise(lambda em, a, b: em.div(a, b))),
    ops.PowfOp: OpRule("Powf", np.power, elementwise(lambda em, a, b: em.math("pow", a, b))),
}
