"""The Python builder: same nodes (so the same IR) as the string DSL, hash-consed."""

from __future__ import annotations

import numpy as np
import pytest

import kir
from kir.builder import Reduction, build_kernel
from kir.context import module_text
from kir.frontends.dsl import parse_formula
from kir.frontends.expr import Expr

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "p = Pm(1)"]
x, y, b, p = kir.Vi(0, 3), kir.Vj(1, 3), kir.Vj(2, 1), kir.Pm(3, 1)

SAME_FORMULAS = [
    ("Exp(-SqDist(x, y)) * b", lambda: kir.exp(-kir.sqdist(x, y)) * b),
    ("Exp(-p * SqDist(x,y)) * b", lambda: kir.exp(-p * kir.sqdist(x, y)) * b),
    ("x - y * b", lambda: x - y * b),
    ("(x | y) + 1", lambda: (x | y) + 1),
    ("x ** 2", lambda: x**2),
    ("x ** 3", lambda: x**3),
    ("x ** 0.5", lambda: x**0.5),
    ("x ** 1.5", lambda: x**1.5),
    ("2 * x / 4 - 1", lambda: 2 * x / 4 - 1),
    ("1 / (1 + SqDist(x, y))", lambda: 1 / (1 + kir.sqdist(x, y))),
    ("Sum(x * y)", lambda: kir.sum(x * y)),
    ("Log(Sqrt(SqDist(x, y) + p))", lambda: kir.log(kir.sqrt(kir.sqdist(x, y) + p))),
    ("Pow(x, 4) * Square(y)", lambda: kir.pow(x, 4) * kir.square(y)),
    ("Powf(b, p)", lambda: kir.powf(b, p)),
    ("-x", lambda: -x),
    ("+x", lambda: +x),
]


@pytest.mark.parametrize("text, built", SAME_FORMULAS, ids=[t for t, _ in SAME_FORMULAS])
def test_builder_gives_the_nodes_and_ir_of_the_string(text: str, built) -> None:
    expr = built()
    assert isinstance(expr, Expr)
    assert parse_formula(text, ALIASES) is expr
    from_string = build_kernel("k", [Reduction(parse_formula(text, ALIASES), "sum", 1)], "f32")
    from_builder = build_kernel("k", [Reduction(expr, "sum", 1)], "f32")
    assert module_text(from_string) == module_text(from_builder)


def test_a_subexpression_written_twice_is_built_once() -> None:
    first = kir.exp(-kir.sqdist(x, y))
    second = kir.exp(-kir.sqdist(x, y))
    assert first is second
    text = kir.compile(first * b + second * second).ir("kir")
    assert text.count("kir.sqdist") == 1 and text.count("kir.exp") == 1


def test_built_kernel_runs_and_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    xs, ys, bs = rng.random((6, 3)), rng.random((8, 3)), rng.random((8, 1))
    kernel = kir.compile(kir.exp(-kir.sqdist(x, y)) * b, reduction="Sum")
    expected = np.exp(-((xs[:, None] - ys[None]) ** 2).sum(-1)) @ bs
    np.testing.assert_allclose(kernel(xs, ys, bs), expected, rtol=1e-12)
    argmin = kir.compile(kir.sqdist(x, y), reduction="ArgKMin", opt_arg=2)
    assert argmin(xs, ys).shape == (6, 2)


def test_builder_errors_name_the_problem() -> None:
    with pytest.raises(kir.FormulaError, match="expected a formula or a real number, got str"):
        kir.exp("x")
    with pytest.raises(
        kir.FormulaError, match="kir.sqdist: operands must have the same dimension, got 3 and 2"
    ):
        kir.sqdist(x, kir.Vj(4, 2))
    with pytest.raises(kir.FormulaError, match="exp takes 1 arguments, got 2"):
        kir.exp(x, y)
    with pytest.raises(kir.FormulaError, match="a variable's dimension must be >= 1"):
        kir.Vi(0, 0)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        kir.nonexistent  # noqa: B018
    with pytest.raises(kir.KirError, match="a built formula needs none"):
        kir.compile(x | y, ["x = Vi(3)"])


def test_every_dsl_function_has_a_builder_function() -> None:
    from kir.registry import DSL_FUNCTIONS

    for name in DSL_FUNCTIONS:
        assert callable(getattr(kir, name.lower()))
