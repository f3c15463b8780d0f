"""The Python builder: formulas written with Python operators and functions.

    import kir
    x, y, b = kir.Vi(0, 3), kir.Vj(1, 3), kir.Vj(2, 1)
    k = kir.compile(kir.exp(-kir.sqdist(x, y)) * b)

Operators follow the string DSL exactly (`**` with 2 is Square, with another integer Pow, with
0.5 Sqrt, otherwise Powf; `|` is the scalar product; numbers become constants), and every DSL
function is a builder function of the same name in lower case (`Exp` -> `kir.exp`,
`WeightedSqNorm` -> `kir.weightedsqnorm`), found through the same op table. Nodes are the
front-ends' hash-consed `Expr`, so the same formula built twice is one node, and the builder
and the string produce the same IR.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real
from typing import Any

from kir.dialect import formula as ops
from kir.errors import FormulaError
from kir.registry import DSL_FUNCTIONS, OP_RULES, dsl_op

from .expr import Expr, apply, constant, variable

Operand = Expr | Real


def Vi(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The i-variable at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "i")


def Vj(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The j-variable at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "j")


def Pm(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The parameter at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "p")


def as_expr(value: Operand) -> Expr:
    """A formula node for a node or a real number (a scalar constant)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, Real) and not isinstance(value, bool):
        return constant(float(value))
    raise FormulaError(f"expected a formula or a real number, got {type(value).__name__} {value!r}")


def power(base: Operand, exponent: Operand) -> Expr:
    """KeOps' reading of `**`: Square for 2, Pow for other integers, Sqrt for 0.5, else Powf."""
    x = as_expr(base)
    if isinstance(exponent, int) and not isinstance(exponent, bool):
        return apply(ops.SquareOp, x) if exponent == 2 else apply(ops.PowOp, x, exponent=exponent)
    if isinstance(exponent, float) and exponent == 0.5:
        return apply(ops.SqrtOp, x)
    return apply(ops.PowfOp, x, as_expr(exponent))


def _binary(op: type) -> tuple[Callable[[Expr, Operand], Expr], Callable[[Expr, Operand], Expr]]:
    def forward(self: Expr, other: Operand) -> Expr:
        return apply(op, self, as_expr(other))

    def reflected(self: Expr, other: Operand) -> Expr:
        return apply(op, as_expr(other), self)

    return forward, reflected


Expr.__add__, Expr.__radd__ = _binary(ops.AddOp)
Expr.__sub__, Expr.__rsub__ = _binary(ops.SubOp)
Expr.__mul__, Expr.__rmul__ = _binary(ops.MulOp)
Expr.__truediv__, Expr.__rtruediv__ = _binary(ops.DivOp)
Expr.__or__, Expr.__ror__ = _binary(ops.ScalprodOp)
Expr.__neg__ = lambda self: apply(ops.NegOp, self)
Expr.__pos__ = lambda self: self
Expr.__pow__ = power
Expr.__rpow__ = lambda self, other: power(other, self)


def _builder_function(name: str) -> Callable[..., Expr]:
    def build(*args: Any) -> Expr:
        op = dsl_op(name, len(args))
        if op is None:
            counts = sorted(o.ARITY + len(OP_RULES[o].dsl_attrs) for o in DSL_FUNCTIONS[name])
            raise FormulaError(
                f"{name.lower()} takes {' or '.join(map(str, counts))} arguments, got {len(args)}"
            )
        formulas = [as_expr(a) for a in args[: op.ARITY]]
        attrs = dict(zip(OP_RULES[op].dsl_attrs, args[op.ARITY :], strict=True))
        return apply(op, *formulas, **attrs)

    build.__name__ = name.lower()
    build.__doc__ = "\n".join(f"{o.__doc__}" for o in DSL_FUNCTIONS[name])
    return build


FUNCTIONS: dict[str, Callable[..., Expr]] = {name.lower(): _builder_function(name) for name in DSL_FUNCTIONS}
"""Builder function name (the DSL's, in lower case) -> function."""


def __getattr__(name: str) -> Callable[..., Expr]:
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
