"""Every op of the kir dialect prints in a form that parses back to the same IR, and verifies."""

from __future__ import annotations

import itertools

import pytest
from xdsl.parser import Parser

from kir.builder import Reduction, build_kernel
from kir.context import kir_context, module_text
from kir.dialect import formula as ops
from kir.errors import FormulaError
from kir.frontends.expr import Expr, apply, variable
from kir.registry import OP_RULES

DIMS = (1, 2, 3, 4, 6, 8, 9)
ATTRIBUTE_VALUES = (0, 1, 2, (2,), (2, 2), (1,), (0,), ())


def _some_application(op: type) -> Expr:
    """A well-shaped application of `op`, found by trying small dimensions and attribute values."""
    names = OP_RULES[op].dsl_attrs
    for dims in itertools.product(DIMS, repeat=op.ARITY):
        operands = [variable(k, d, "ij"[k % 2]) for k, d in enumerate(dims)]
        for values in itertools.product(ATTRIBUTE_VALUES, repeat=len(names)):
            try:
                return apply(op, *operands, **dict(zip(names, values, strict=True)))
            except FormulaError:
                continue
    raise AssertionError(f"no small well-shaped application of {op.name} found")


@pytest.mark.parametrize("op", sorted(OP_RULES, key=lambda op: op.name), ids=lambda op: op.name)
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_op_round_trips(op: type, dtype: str) -> None:
    module = build_kernel("k", [Reduction(_some_application(op), "sum", 1)], dtype)
    module.verify()
    text = module_text(module)
    assert op.name in text
    parsed = Parser(kir_context(), text).parse_module()
    parsed.verify()
    assert module_text(parsed) == text


@pytest.mark.parametrize(
    "kind, k, weighted", [("argkmin", 4, False), ("kmin", 2, False), ("sumsoftmaxweight", None, True)]
)
def test_reductions_with_options_round_trip(kind: str, k: int | None, weighted: bool) -> None:
    x, y, w = variable(0, 1, "i"), variable(1, 1, "j"), variable(2, 3, "j")
    formula = apply(ops.MulOp, x, y)
    module = build_kernel("k", [Reduction(formula, kind, 1, w if weighted else None, k)], "f32")
    text = module_text(module)
    parsed = Parser(kir_context(), text).parse_module()
    parsed.verify()
    assert module_text(parsed) == text
