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
from typing import Any

from kir.autodiff import divergence, grad_matrix, laplacian
from kir.errors import FormulaError
from kir.registry import DSL_FUNCTIONS, OP_RULES, dsl_op

from .expr import Expr, Operand, apply, as_expr, variable


def Vi(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The i-variable at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "i")


def Vj(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The j-variable at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "j")


def Pm(index: int, dim: int) -> Expr:  # noqa: N802 - KeOps' spelling
    """The parameter at argument position `index`, of dimension `dim`."""
    return variable(index, dim, "p")


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


def _composition(build: Callable[[Expr, Expr], Expr]) -> Callable[[Operand, Expr], Expr]:
    def composed(formula: Operand, x: Expr) -> Expr:
        return build(as_expr(formula), x)

    composed.__name__, composed.__doc__ = build.__name__.replace("_", ""), build.__doc__
    return composed


FUNCTIONS: dict[str, Callable[..., Expr]] = {name.lower(): _builder_function(name) for name in DSL_FUNCTIONS}
FUNCTIONS.update(
    {
        name: _composition(build)
        for name, build in (("gradmatrix", grad_matrix), ("divergence", divergence), ("laplacian", laplacian))
    }
)
"""Builder function name (the DSL's, in lower case) -> function."""


def __getattr__(name: str) -> Callable[..., Expr]:
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
