"""The string DSL front-end: KeOps formula syntax to Expr trees, and its error messages."""

from __future__ import annotations

import random

import pytest

from kir.dialect import formula as ops
from kir.errors import FormulaError

# kir.frontends is installed from frontends/, so ruff's isort does not see it as first-party.
from kir.frontends.dsl import MAX_DEPTH, parse, parse_aliases, parse_formula, tokenize
from kir.frontends.expr import Expr, apply, constant, variable
from kir.registry import DSL_FUNCTIONS, OP_RULES

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def x() -> Expr:
    return variable(0, 3, "i")


def y() -> Expr:
    return variable(1, 3, "j")


def b() -> Expr:
    return variable(2, 1, "j")


def caret_column(error: FormulaError) -> int:
    """Where the caret line of the rendered error starts its carets, in source columns."""
    lines = str(error).splitlines()
    assert len(lines) == 3, str(error)
    source_line, caret_line = lines[1], lines[2]
    assert source_line == "  " + (error.source or "")
    return caret_line.index("^") - 2


# -- structure ----------------------------------------------------------------------------------


def test_gaussian_kernel_structure():
    parsed = parse_formula("Exp(-SqDist(x,y))*b", ALIASES)
    expected = apply(ops.MulOp, apply(ops.ExpOp, apply(ops.NegOp, apply(ops.SqDistOp, x(), y()))), b())
    assert parsed is expected
    assert (parsed.dim, parsed.category) == (3 - 2, "ij")


def test_inline_variable_is_the_alias_variable():
    assert parse_formula("Vi(0,3)") is parse_formula("x", ["x = Vi(3)"])
    assert parse_formula("Vj(1, 3) + Vi(0,3)") is parse_formula("y + x", ALIASES)


def test_alias_forms():
    declared = parse_aliases(["x=Vi(3)", "y = Vj(1, 3)", "q = Pm(4, 1)", "p = Pm(1)", "v = Var(5, 2, 1)"])
    assert list(declared) == ["x", "y", "q", "p", "v"]
    shapes = {name: (e.attributes["index"], e.dim, e.category) for name, e in declared.items()}
    assert shapes == {
        "x": (0, 3, "i"),
        "y": (1, 3, "j"),
        "q": (4, 1, "p"),
        "p": (3, 1, "p"),
        "v": (5, 2, "j"),
    }
    assert parse_formula("Var(0,3,0)") is x()
    assert parse_formula("Pm(3, 1)") is declared["p"]


def test_aliases_as_mapping_and_parse_names():
    declared = parse_aliases(ALIASES)
    assert parse_formula("x - y", declared) is apply(ops.SubOp, x(), y())
    expr, names = parse("x | y", ALIASES)
    assert expr is apply(ops.ScalprodOp, x(), y())
    assert names == {0: "x", 1: "y", 2: "b"}


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("x - y * b", lambda: apply(ops.SubOp, x(), apply(ops.MulOp, y(), b()))),
        ("(x - y) * b", lambda: apply(ops.MulOp, apply(ops.SubOp, x(), y()), b())),
        ("x - y - x", lambda: apply(ops.SubOp, apply(ops.SubOp, x(), y()), x())),
        ("x / y / b", lambda: apply(ops.DivOp, apply(ops.DivOp, x(), y()), b())),
        ("-x**2", lambda: apply(ops.NegOp, apply(ops.SquareOp, x()))),
        ("--x", lambda: apply(ops.NegOp, apply(ops.NegOp, x()))),
        ("+x", x),
        ("-x * y", lambda: apply(ops.MulOp, apply(ops.NegOp, x()), y())),
        ("x | y + y", lambda: apply(ops.ScalprodOp, x(), apply(ops.AddOp, y(), y()))),
        ("x * y | y", lambda: apply(ops.ScalprodOp, apply(ops.MulOp, x(), y()), y())),
        ("x ** b ** b", lambda: apply(ops.PowfOp, x(), apply(ops.PowfOp, b(), b()))),
        ("x ** 2", lambda: apply(ops.SquareOp, x())),
        ("x ** 3", lambda: apply(ops.PowOp, x(), exponent=3)),
        ("x ** -2", lambda: apply(ops.PowOp, x(), exponent=-2)),
        ("x ** 0.5", lambda: apply(ops.SqrtOp, x())),
        ("x ** (1/2)", lambda: apply(ops.SqrtOp, x())),
        ("x ** 1.5", lambda: apply(ops.PowfOp, x(), constant(1.5))),
        ("x ** b", lambda: apply(ops.PowfOp, x(), b())),
        ("2 * x", lambda: apply(ops.MulOp, constant(2.0), x())),
        ("-2 * x", lambda: apply(ops.MulOp, constant(-2.0), x())),
        ("x / 2.5", lambda: apply(ops.DivOp, x(), constant(2.5))),
        ("1e-3 * x", lambda: apply(ops.MulOp, constant(0.001), x())),
        ("x - 1", lambda: apply(ops.SubOp, x(), constant(1.0))),
        ("1 - x", lambda: apply(ops.SubOp, constant(1.0), x())),
        ("2 ** -1", lambda: constant(0.5)),
        ("(2 + 1) * x", lambda: apply(ops.MulOp, constant(3.0), x())),
        ("IntCst(-2) * x", lambda: apply(ops.MulOp, constant(-2.0), x())),
        ("RatCst(1, 4) * x", lambda: apply(ops.MulOp, constant(0.25), x())),
        ("Zero(3) + x", lambda: apply(ops.AddOp, constant((0.0, 0.0, 0.0)), x())),
        ("Pow(x, 3)", lambda: apply(ops.PowOp, x(), exponent=3)),
        ("Minus(x)", lambda: apply(ops.NegOp, x())),
        ("Sum(x)", lambda: apply(ops.SumOp, x())),
        ("Exp(x,)", lambda: apply(ops.ExpOp, x())),
        (" ( x\t+ y ) ", lambda: apply(ops.AddOp, x(), y())),
    ],
)
def test_precedence_and_meaning(formula, expected):
    assert parse_formula(formula, ALIASES) is expected()


@pytest.mark.parametrize("name, op", [(n, op) for n, ops in sorted(DSL_FUNCTIONS.items()) for op in ops])
def test_every_registered_function(name, op):
    """Every DSL spelling reaches its op: parsed, or refused by that op's own shape rule."""
    formulas = ["x", "y", "x"][: op.ARITY]
    integers = ["3"] * len(OP_RULES[op].dsl_attrs)
    try:
        parsed = parse_formula(f"{name}({', '.join(formulas + integers)})", ALIASES)
    except FormulaError as error:
        assert op.name in error.message, error.message
        return
    assert parsed.op is op
    assert parsed.args == tuple(parse_formula(f, ALIASES) for f in formulas)
    assert parsed.attributes == {attr: 3 for attr in OP_RULES[op].dsl_attrs}


def test_tokenize_spans():
    tokens = tokenize("Exp(x**2) | 1.5e3")
    assert [(t.kind, t.text, t.start, t.end) for t in tokens] == [
        ("name", "Exp", 0, 3),
        ("op", "(", 3, 4),
        ("name", "x", 4, 5),
        ("op", "**", 5, 7),
        ("number", "2", 7, 8),
        ("op", ")", 8, 9),
        ("op", "|", 10, 11),
        ("number", "1.5e3", 12, 17),
        ("end", "", 17, 17),
    ]


# -- errors -------------------------------------------------------------------------------------

# y is a 2-vector, so x + y cannot broadcast.
MISMATCH_ALIASES = ["x = Vi(3)", "y = Vj(9, 2)"]


@pytest.mark.parametrize(
    ("formula", "aliases", "fragment", "start"),
    [
        ("Exp(x", ALIASES, "never closed", 3),
        ("((x)", ALIASES, "never closed", 0),
        ("x)", ALIASES, "no matching '('", 1),
        ("x +", ALIASES, "expected an operand", 3),
        ("x $ y", ALIASES, "'$'", 2),
        ("Exp(x,y)", ALIASES, "Exp takes 1 argument", 0),
        ("Pow(x)", ALIASES, "Pow takes 2 arguments", 0),
        ("Pow(x, 1.5)", ALIASES, "must be an integer", 7),
        ("Pow(x, y)", ALIASES, "must be an integer", 7),
        ("Foo(x)", ALIASES, "unknown function 'Foo'", 0),
        ("x * Exq(x)", ALIASES, "did you mean 'Exp'", 4),
        ("z", ALIASES, "unknown alias 'z'", 0),
        ("x + y", MISMATCH_ALIASES, "do not broadcast", 0),
        ("Exp(x) * (x | Vi(7, 2))", ALIASES, "same dimension", 10),
        ("", ALIASES, "empty formula", 0),
        ("   ", ALIASES, "empty formula", 0),
        ("x y", ALIASES, "unexpected name 'y'", 2),
        ("Exp(x y)", ALIASES, "expected ',' or ')'", 6),
        ("x * * y", ALIASES, "expected an operand", 4),
        ("Vi(3)", ALIASES, "needs its argument position", 0),
        ("x + Vj(0, 2)", ALIASES, "argument 0", 4),
        ("Var(8, 3, 4)", ALIASES, "category", 0),
        ("x = y", ALIASES, "'='", 2),
        ("Exp", ALIASES, "Exp is a function", 0),
        ("x(1)", ALIASES, "'x' is an alias", 0),
        ("x / (1 / 0)", ALIASES, "division by zero", 5),
        ("x ** 10 ** 10 ** 10", ALIASES, "too large", 5),
        ("1e999 * x", ALIASES, "out of range", 0),
        ("RatCst(1, 0)", ALIASES, "division by zero", 0),
    ],
)
def test_error_names_the_problem_and_points_at_it(formula, aliases, fragment, start):
    with pytest.raises(FormulaError) as caught:
        parse_formula(formula, aliases)
    error = caught.value
    assert isinstance(error, ValueError)
    assert fragment in error.message
    assert error.source == formula
    assert error.start == start
    assert caret_column(error) == start


def test_unknown_alias_lists_the_known_ones():
    with pytest.raises(FormulaError, match=r"unknown alias 'z' \(known aliases: x, y, b\)"):
        parse_formula("x + z", ALIASES)


def test_shape_error_spans_the_whole_subexpression():
    with pytest.raises(FormulaError) as caught:
        parse_formula("Exp(x + y) * 2", MISMATCH_ALIASES)
    assert (caught.value.start, caught.value.end) == (4, 9)
    assert str(caught.value).splitlines()[2] == "      ^^^^^"


@pytest.mark.parametrize(
    ("aliases", "fragment", "start"),
    [
        (["x = Vk(3)"], "'Vk'", 4),
        (["x Vi(3)"], "expected '='", 2),
        (["x = Vi(3)", "x = Vj(3)"], "duplicate alias 'x'", 0),
        (["1x = Vi(3)"], "expected 'name = Vi(...)'", 0),
        (["x.y = Vi(3)"], "'.'", 1),
        ([""], "empty alias", 0),
        (["x = Vi(3, 2, 1)"], "Vi takes 2 arguments", 4),
        (["x = Vi(3.0)"], "must be an integer", 7),
        (["x = Vi(-1, 3)"], "position must be >= 0", 4),
        (["x = Vi(0)"], "dimension must be >= 1", 4),
        (["x = Var(0, 3)"], "Var takes 3 arguments", 4),
        (["x = Vi(3) + 1"], "unexpected '+'", 10),
        (["x = Vi(3"], "never closed", 6),
        (["a = Vi(6, 3)", "b = Vj(6, 2)"], "argument 6", 4),
    ],
)
def test_alias_errors(aliases, fragment, start):
    with pytest.raises(FormulaError) as caught:
        parse_aliases(aliases)
    error = caught.value
    assert fragment in error.message
    assert error.source == aliases[-1]
    assert caret_column(error) == error.start == start


@pytest.mark.parametrize("aliases", ["x = Vi(3)", [3], None])
def test_alias_list_of_the_wrong_kind(aliases):
    with pytest.raises(FormulaError, match="string"):
        parse_aliases(aliases)


# -- robustness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "formula",
    [
        "(" * 2000 + "x" + ")" * 2000,
        "Exp(" * 2000 + "x" + ")" * 2000,
        "-" * 2000 + "x",
        "x**" * 2000 + "b",
        "(" * 2000,
        ")" * 2000,
    ],
)
def test_deep_nesting_fails_cleanly(formula):
    with pytest.raises(FormulaError):
        parse_formula(formula, ALIASES)


def test_nesting_up_to_the_limit_and_long_flat_formulas_parse():
    depth = MAX_DEPTH - 1
    nested = parse_formula("Exp(" * depth + "x" + ")" * depth, ALIASES)
    assert len(nested.walk()) == depth + 1
    assert parse_formula("(" * depth + "x" + ")" * depth, ALIASES) is x()
    long_sum = parse_formula(" + ".join(["x"] * 5000), ALIASES)
    assert long_sum.op is ops.AddOp and len(long_sum.walk()) == 5000


def test_random_input_raises_only_formula_errors():
    pieces = [
        "x",
        "y",
        "b",
        "2",
        "0.5",
        "1e3",
        "(",
        ")",
        ",",
        "+",
        "-",
        "*",
        "/",
        "**",
        "|",
        "Exp(",
        "Pow(",
        "Vi(",
        "Var(",
        "RatCst(",
        "Zero(",
        "Foo(",
        "[",
        "]",
        "Elem(",
        "TensorDot(",
        "Max(",
        "=",
        "$",
        " ",
    ]
    rng = random.Random(0)
    for _ in range(6000):
        formula = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        try:
            result = parse_formula(formula, ALIASES)
        except FormulaError as error:
            assert error.source == formula
            assert 0 <= error.start <= len(formula)
        else:
            assert isinstance(result, Expr)


def test_tuples_are_attributes_not_formulas():
    with pytest.raises(FormulaError, match="a tuple of integers is not a formula") as error:
        parse_formula("(1, 2) + x", ALIASES)
    assert error.value.start == 0
    with pytest.raises(FormulaError, match="a tuple holds integers only"):
        parse_formula("Exp((1, x))", ALIASES)


def test_intinv_is_a_constant():
    assert parse_formula("IntInv(4) * x", ALIASES) is apply(ops.MulOp, constant(0.25), x())


def test_brackets_and_empty_tuples_for_tensordot_axes():
    aliases = ["a = Vi(4)", "b = Vj(2)"]
    with_lists = parse_formula("TensorDot(a, b, [2, 2], [2], [1], [0])", aliases)
    with_tuples = parse_formula("TensorDot(a, b, (2, 2), (2,), (1,), (0,))", aliases)
    assert with_lists is with_tuples and with_lists.dim == 2
    outer = parse_formula("TensorDot(a, b, (4,), (2,), (), ())", aliases)
    assert outer.dim == 8 and outer.attributes["contfa"] == ()


@pytest.mark.parametrize(
    "formula, message, column",
    [
        ("[1, 2", "unbalanced brackets: this '[' is never closed", 0),
        ("Exp([1)", "expected ']' but found ')'", 6),
        ("[x]", "a tuple holds integers only", 1),
        ("[] + x", "a tuple of integers is not a formula", 0),
        ("Elem(x, (1, 2))", "attribute m must be an integer, got (1, 2)", 0),
    ],
)
def test_bracket_errors(formula, message, column):
    with pytest.raises(FormulaError) as error:
        parse_formula(formula, ALIASES)
    assert message in error.value.message and error.value.start == column
