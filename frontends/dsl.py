"""The string front-end: KeOps' formula syntax (pykeops Genred) parsed into `Expr` trees.

KeOps evaluates a formula string as a Python expression over its own operator overloads, so
this parser keeps Python's precedence and associativity, loosest first:

    a | b            scalar product                  left-associative
    a + b, a - b                                     left-associative
    a * b, a / b                                     left-associative
    -a, +a           signs
    a ** b           power: right-associative, tighter than a sign on its left (-x**2 is -(x**2))
    f(...), (...), alias names, numbers

Arithmetic between plain numbers is folded as Python folds it before KeOps sees it, so
`x ** (1/2)` is a square root and `-2 * x` multiplies by the constant -2. Every error is a
`FormulaError` with a caret under the offending text.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from xdsl.ir import Operation

from kir.autodiff import divergence, grad_matrix, laplacian
from kir.dialect import formula as kir_ops
from kir.errors import FormulaError
from kir.registry import DSL_FUNCTIONS, OP_RULES, dsl_op

# Relative: ruff files an absolute `kir.frontends` among third-party imports, as it lives outside kir/.
from .expr import Expr, apply, constant, variable, variables_of

MAX_DEPTH = 100
"""Deepest nesting of parentheses, calls, signs and powers: well inside Python's recursion limit."""

_CATEGORIES = {"Vi": "i", "Vj": "j", "Pm": "p"}
_SPELLINGS = {category: name for name, category in _CATEGORIES.items()}
_VAR_CATEGORIES = {0: "i", 1: "j", 2: "p"}
_COMPOSITIONS = {"GradMatrix": grad_matrix, "Divergence": divergence, "Laplacian": laplacian}
"""Derivatives built from Grad (KeOps defines them the same way)."""
_SPECIAL_FUNCTIONS = ("Vi", "Vj", "Pm", "Var", "IntCst", "IntInv", "RatCst", "Zero", *_COMPOSITIONS)
_INT64_MAX = 2**63 - 1

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<name>[^\W\d]\w*)
    | (?P<op>\*\*|[-+*/|(),=\[\]])
    """,
    re.VERBOSE,
)

# Binary operators by precedence; `**` and the signs are handled apart (see the module docstring).
_BINARY_PRECEDENCE = {"|": 1, "+": 2, "-": 2, "*": 3, "/": 3}
_BINARY_OPS: dict[str, type[Operation]] = {
    "|": kir_ops.ScalprodOp,
    "+": kir_ops.AddOp,
    "-": kir_ops.SubOp,
    "*": kir_ops.MulOp,
    "/": kir_ops.DivOp,
}
_FOLD: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
}

Number = int | float
Value = Expr | int | float


class Token(NamedTuple):
    """A lexeme of a formula: kind is 'number', 'name', 'op' or 'end'; [start, end) in the source."""

    kind: str
    text: str
    start: int
    end: int

    def describe(self) -> str:
        """The token as an error message names it."""
        if self.kind == "end":
            return "end of the formula"
        return f"{self.kind} {self.text!r}" if self.kind != "op" else repr(self.text)


class _Parsed(NamedTuple):
    """A parsed sub-expression: an Expr, or a plain number not yet turned into a constant."""

    value: Value
    start: int
    end: int


def tokenize(source: str) -> list[Token]:
    """The tokens of `source`, ending with an 'end' token; FormulaError on a stray character."""
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if match is None:
            raise FormulaError(f"unexpected character {source[position]!r}", source, position)
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    tokens.append(Token("end", "", len(source), len(source)))
    return tokens


class _Parser:
    """Recursive descent over one formula's tokens, building Expr nodes as it goes."""

    def __init__(
        self,
        source: str,
        aliases: Mapping[str, Expr],
        default_index: int | None = None,
        declared: Mapping[str, Expr] | None = None,
    ):
        self.source = source
        self.tokens = tokenize(source)
        self.position = 0
        self.aliases = aliases
        # Only alias declarations may leave out a variable's index: it is the alias' position.
        self.default_index = default_index
        self.depth = 0
        # Inline Vi(0,3) must agree with whatever else claims argument 0 (aliases, earlier declarations).
        self.variables = variables_of(list((aliases if declared is None else declared).values()))

    # -- token helpers ----------------------------------------------------------------------

    def peek(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == text

    def error(self, message: str, start: int, end: int | None = None) -> FormulaError:
        return FormulaError(message, self.source, start, end)

    @contextmanager
    def located(self, start: int, end: int) -> Iterator[None]:
        """Give a FormulaError raised without a position (by `apply`, ...) this span."""
        try:
            yield
        except FormulaError as error:
            if error.source is not None:
                raise
            raise self.error(error.message, start, end) from None

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        # Fail with a clear message well before Python's recursion limit would.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            message = f"formula nested too deeply (more than {MAX_DEPTH} levels)"
            raise self.error(message, token.start, token.end)
        try:
            yield
        finally:
            self.depth -= 1

    # -- grammar ----------------------------------------------------------------------------

    def parse_formula(self) -> Expr:
        if self.peek().kind == "end":
            raise self.error("empty formula", 0, max(len(self.source), 1))
        parsed = self.binary(0)
        self.expect_end()
        return self.as_expr(parsed)

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind == "end":
            return
        if token.text == ")":
            raise self.error("unbalanced parentheses: this ')' has no matching '('", token.start, token.end)
        message = f"unexpected {token.describe()}: expected an operator (+ - * / ** |) or the formula's end"
        raise self.error(message, token.start, token.end)

    def binary(self, min_precedence: int) -> _Parsed:
        """Precedence climbing over the left-associative binary operators."""
        left = self.unary()
        while True:
            token = self.peek()
            precedence = _BINARY_PRECEDENCE.get(token.text) if token.kind == "op" else None
            if precedence is None or precedence < min_precedence:
                return left
            self.advance()
            right = self.binary(precedence + 1)
            left = self.combine(token.text, left, right)

    def unary(self) -> _Parsed:
        token = self.peek()
        if not (self.at("-") or self.at("+")):
            return self.power()
        self.advance()
        with self.nested(token):
            operand = self.unary()
        self.no_tuple(operand)
        start, end, value = token.start, operand.end, operand.value
        if token.text == "+":
            return _Parsed(value, start, end)
        if not isinstance(value, Expr):
            return _Parsed(-value, start, end)
        with self.located(start, end):
            return _Parsed(apply(kir_ops.NegOp, value), start, end)

    def power(self) -> _Parsed:
        base = self.primary()
        if not self.at("**"):
            return base
        token = self.advance()
        # Python's grammar: the exponent is a signed operand, so `x ** -2` and `2 ** -1` parse.
        with self.nested(token):
            exponent = self.unary()
        return self.combine("**", base, exponent)

    def primary(self) -> _Parsed:
        token = self.advance()
        if token.kind == "number":
            return _Parsed(self.number(token), token.start, token.end)
        if token.kind == "name":
            if self.at("("):
                return self.call(token)
            return _Parsed(self.alias(token), token.start, token.end)
        if token.kind == "op" and token.text == "[":
            return self.tuple_literal(token, None, "]")
        if token.kind == "op" and token.text == "(" and self.at(")"):
            return self.tuple_literal(token, None, ")")
        if token.kind == "op" and token.text == "(":
            with self.nested(token):
                inner = self.binary(0)
                if self.at(","):
                    return self.tuple_literal(token, inner)
            closing = self.expect_closing(token)
            return _Parsed(inner.value, token.start, closing.end)
        if token.kind == "end":
            raise self.error("unexpected end of the formula: expected an operand", token.start)
        raise self.error(f"unexpected {token.describe()}: expected an operand", token.start, token.end)

    def tuple_literal(self, opening: Token, first: _Parsed | None, closer: str = ")") -> _Parsed:
        """`(2, 3)`, `(1,)`, `()` or `[4, 7]`: integers, for arguments such as TensorDot's axes."""
        items = [] if first is None else [first]
        while items == [] or self.at(","):
            if items:
                self.advance()
            if self.at(closer):
                break
            with self.nested(opening):
                items.append(self.binary(0))
        if not self.at(closer):
            token = self.peek()
            if token.kind == "end":
                message = f"unbalanced brackets: this {opening.text!r} is never closed"
                raise self.error(message, opening.start, opening.end)
            raise self.error(f"expected {closer!r} but found {token.describe()}", token.start, token.end)
        closing = self.advance()
        for item in items:
            if not isinstance(item.value, int) or isinstance(item.value, bool):
                raise self.error("a tuple holds integers only", item.start, item.end)
        return _Parsed(tuple(item.value for item in items), opening.start, closing.end)

    def expect_closing(self, opening: Token) -> Token:
        token = self.peek()
        if self.at(")"):
            return self.advance()
        if token.kind == "end":
            raise self.error("unbalanced parentheses: this '(' is never closed", opening.start, opening.end)
        raise self.error(f"expected ')' but found {token.describe()}", token.start, token.end)

    def call(self, name: Token) -> _Parsed:
        opening = self.advance()
        args: list[_Parsed] = []
        while not self.at(")"):
            if self.peek().kind == "end":
                self.expect_closing(opening)  # raises: the '(' is never closed
            with self.nested(opening):
                args.append(self.binary(0))
            if self.at(","):
                self.advance()
            elif not self.at(")") and self.peek().kind != "end":
                token = self.peek()
                message = f"expected ',' or ')' in the arguments of {name.text}, found {token.describe()}"
                raise self.error(message, token.start, token.end)
        closing = self.advance()
        return _Parsed(self.function(name, args, closing.end), name.start, closing.end)

    # -- meaning ----------------------------------------------------------------------------

    def number(self, token: Token) -> Number:
        text = token.text
        try:
            if not any(c in text for c in ".eE"):
                return int(text)
            value = float(text)
        except ValueError:  # more digits than Python converts
            raise self.error(f"number {text[:20]}... is too long", token.start, token.end) from None
        if not math.isfinite(value):
            raise self.error(f"number {text} is out of range", token.start, token.end)
        return value

    def alias(self, token: Token) -> Expr:
        found = self.aliases.get(token.text)
        if found is not None:
            return found
        known = ", ".join(self.aliases) or "none declared"
        is_function = token.text in DSL_FUNCTIONS or token.text in _SPECIAL_FUNCTIONS
        hint = f"; {token.text} is a function: call it as {token.text}(...)" if is_function else ""
        message = f"unknown alias {token.text!r} (known aliases: {known}){hint}"
        raise self.error(message, token.start, token.end)

    def as_expr(self, parsed: _Parsed) -> Expr:
        """A number used as a formula operand becomes a scalar constant."""
        if isinstance(parsed.value, Expr):
            return parsed.value
        if isinstance(parsed.value, tuple):
            raise self.error("a tuple of integers is not a formula", parsed.start, parsed.end)
        try:
            return constant(float(parsed.value))
        except OverflowError:
            raise self.error("number too large for a constant", parsed.start, parsed.end) from None

    def no_tuple(self, *parsed: _Parsed) -> None:
        """Tuples are arguments of functions only: no arithmetic on them."""
        for item in parsed:
            if isinstance(item.value, tuple):
                raise self.error("a tuple of integers is not a formula", item.start, item.end)

    def combine(self, op: str, left: _Parsed, right: _Parsed) -> _Parsed:
        self.no_tuple(left, right)
        start, end = left.start, right.end
        lhs, rhs = left.value, right.value
        if op == "**":
            return _Parsed(self.power_of(left, right), start, end)
        if op != "|" and not isinstance(lhs, Expr) and not isinstance(rhs, Expr):
            return _Parsed(self.fold(op, lhs, rhs, start, end), start, end)
        operands = (self.as_expr(left), self.as_expr(right))
        with self.located(start, end):
            return _Parsed(apply(_BINARY_OPS[op], *operands), start, end)

    def power_of(self, base: _Parsed, exponent: _Parsed) -> Value:
        """KeOps' reading of `**`: Square, Pow for integers, Sqrt for 0.5, Powf otherwise."""
        start, end = base.start, exponent.end
        n = exponent.value
        if not isinstance(base.value, Expr) and not isinstance(n, Expr):
            return self.fold("**", base.value, n, start, end)
        x = self.as_expr(base)
        with self.located(start, end):
            if isinstance(n, int):
                if n == 2:
                    return apply(kir_ops.SquareOp, x)
                if abs(n) > _INT64_MAX:
                    raise self.error(f"exponent {n} is out of range", exponent.start, exponent.end)
                return apply(kir_ops.PowOp, x, exponent=n)
            if isinstance(n, float) and n == 0.5:
                return apply(kir_ops.SqrtOp, x)
            return apply(kir_ops.PowfOp, x, self.as_expr(exponent))

    def fold(self, op: str, lhs: Number, rhs: Number, start: int, end: int) -> Number:
        """Arithmetic between two plain numbers, done as Python would do it."""
        if op == "**" and isinstance(lhs, int) and isinstance(rhs, int) and abs(lhs) > 1:
            if rhs * lhs.bit_length() > 4096:  # keep `10**10**10` from hanging the parser
                raise self.error("number too large", start, end)
        try:
            result = _FOLD[op](lhs, rhs)
        except (ArithmeticError, ValueError) as error:
            raise self.error(f"cannot compute {op!r} of {lhs} and {rhs}: {error}", start, end) from None
        if isinstance(result, complex) or (isinstance(result, float) and not math.isfinite(result)):
            raise self.error(f"{lhs} {op} {rhs} is not a finite real number", start, end)
        return result

    def function(self, name: Token, args: list[_Parsed], end: int) -> Expr:
        start = name.start
        if name.text in _CATEGORIES or name.text == "Var":
            return self.variable(name, args, end)
        if name.text == "IntCst":
            (n,) = self.integers(name, args, end, ["an integer"])
            return self.as_expr(_Parsed(n, start, end))
        if name.text == "RatCst":
            p, q = self.integers(name, args, end, ["a numerator", "a denominator"])
            return self.as_expr(_Parsed(self.fold("/", p, q, start, end), start, end))
        if name.text in _COMPOSITIONS:
            self.check_count(name, args, end, ["a formula", "a variable"])
            formula, x = (self.as_expr(a) for a in args)
            with self.located(start, end):
                return _COMPOSITIONS[name.text](formula, x)
        if name.text == "IntInv":
            (n,) = self.integers(name, args, end, ["an integer"])
            return self.as_expr(_Parsed(self.fold("/", 1, n, start, end), start, end))
        if name.text == "Zero":
            (dim,) = self.integers(name, args, end, ["a dimension"])
            if dim < 1 or dim > 1 << 16:
                raise self.error(f"Zero: the dimension must be between 1 and 65536, got {dim}", start, end)
            return constant((0.0,) * dim)
        candidates = DSL_FUNCTIONS.get(name.text)
        if candidates is None:
            raise self.error(_unknown_function(name.text, self.aliases), start, name.end)
        # A name may spell several ops, told apart by their argument count (Max(x) / Max(a, b)).
        op = dsl_op(name.text, len(args)) or candidates[0]
        n_formulas = op.ARITY
        attr_names = OP_RULES[op].dsl_attrs
        wanted = ["a formula"] * n_formulas + [f"the integer {a}" for a in attr_names]
        self.check_count(name, args, end, wanted)
        formulas = [self.as_expr(a) for a in args[:n_formulas]]
        attrs = {a: self.attribute(name, arg) for a, arg in zip(attr_names, args[n_formulas:], strict=True)}
        with self.located(start, end):
            return apply(op, *formulas, **attrs)

    def variable(self, name: Token, args: list[_Parsed], end: int) -> Expr:
        start = name.start
        if name.text == "Var":
            index, dim, code = self.integers(name, args, end, ["an index", "a dimension", "a category"])
            if code not in _VAR_CATEGORIES:
                raise self.error(f"Var: the category is 0 (i), 1 (j) or 2 (p), got {code}", start, end)
            category = _VAR_CATEGORIES[code]
        else:
            category = _CATEGORIES[name.text]
            if len(args) == 1 and self.default_index is not None:
                index, (dim,) = self.default_index, self.integers(name, args, end, ["a dimension"])
            elif len(args) == 1:
                raise self.error(
                    f"an inline {name.text} needs its argument position: write {name.text}(index, dim), "
                    f"or declare it in the aliases",
                    start,
                    end,
                )
            else:
                index, dim = self.integers(name, args, end, ["an index", "a dimension"])
        if max(index, dim) > _INT64_MAX:
            raise self.error(f"{name.text}: index or dimension out of range", start, end)
        with self.located(start, end):
            var = variable(index, dim, category)
        known = self.variables.setdefault(index, var)
        if known is not var:
            here, there = _spell(category, index, dim), _spell(known.category, index, known.dim)
            raise self.error(f"argument {index} is {here} here but {there} elsewhere", start, end)
        return var

    def integers(self, name: Token, args: list[_Parsed], end: int, wanted: list[str]) -> list[int]:
        self.check_count(name, args, end, wanted)
        return [self.integer(name, arg) for arg in args]

    def check_count(self, name: Token, args: list[_Parsed], end: int, wanted: list[str]) -> None:
        if len(args) == len(wanted):
            return
        count = f"{len(wanted)} argument{'s' if len(wanted) != 1 else ''} ({', '.join(wanted)})"
        raise self.error(f"{name.text} takes {count}, got {len(args)}", name.start, end)

    def attribute(self, name: Token, arg: _Parsed) -> int | tuple[int, ...]:
        """An integer or a tuple of integers (as TensorDot's dimensions)."""
        if isinstance(arg.value, tuple):
            return arg.value
        return self.integer(name, arg)

    def integer(self, name: Token, arg: _Parsed) -> int:
        if isinstance(arg.value, int) and not isinstance(arg.value, bool):
            return arg.value
        got = "a formula" if isinstance(arg.value, Expr) else repr(arg.value)
        raise self.error(f"{name.text}: this argument must be an integer, got {got}", arg.start, arg.end)


def _unknown_function(name: str, aliases: Mapping[str, Expr]) -> str:
    if name in aliases:
        return f"{name!r} is an alias, not a function"
    message = f"unknown function {name!r}"
    close = difflib.get_close_matches(name, [*DSL_FUNCTIONS, *_SPECIAL_FUNCTIONS], n=1)
    return message + (f" (did you mean {close[0]!r}?)" if close else "")


def _spell(category: str, index: int, dim: int) -> str:
    """KeOps' spelling of a variable, e.g. Vi(0,3)."""
    return f"{_SPELLINGS[category]}({index},{dim})"


def _parse_alias(text: str, position: int, declared: Mapping[str, Expr]) -> tuple[str, Expr]:
    """One `name = Vi(...)` declaration; `declared` (the aliases before it) catch clashes."""
    parser = _Parser(text, {}, default_index=position, declared=declared)
    name = parser.advance()
    if name.kind != "name":
        what = "an empty alias" if name.kind == "end" else name.describe()
        raise parser.error(f"malformed alias: expected 'name = Vi(...)', found {what}", name.start, name.end)
    equals = parser.advance()
    if not (equals.kind == "op" and equals.text == "="):
        raise parser.error(
            f"malformed alias: expected '=' after {name.text!r}, found {equals.describe()}",
            equals.start,
            equals.end,
        )
    if name.text in declared:
        raise parser.error(f"duplicate alias {name.text!r}", name.start, name.end)
    kind = parser.advance()
    if not (kind.kind == "name" and (kind.text in _CATEGORIES or kind.text == "Var") and parser.at("(")):
        raise parser.error(
            f"malformed alias: {name.text!r} must be declared as Vi(...), Vj(...), Pm(...) or Var(...), "
            f"found {kind.describe()}",
            kind.start,
            kind.end,
        )
    var = parser.call(kind).value
    parser.expect_end()
    assert isinstance(var, Expr)
    return name.text, var


def parse_aliases(aliases: Sequence[str]) -> dict[str, Expr]:
    """The variables declared by KeOps alias strings, by name.

    "x = Vi(3)" is argument `position` (the alias' place in the list) of dimension 3 indexed
    by i; "y = Vj(1, 3)" gives the position explicitly; "p = Pm(1)" is a parameter;
    "v = Var(0, 3, 1)" spells the category as 0 (i), 1 (j) or 2 (p).
    """
    if isinstance(aliases, str) or not isinstance(aliases, Sequence):
        got = type(aliases).__name__
        raise FormulaError(f"aliases must be a list of strings like 'x = Vi(3)', got a {got}")
    declared: dict[str, Expr] = {}
    for position, text in enumerate(aliases):
        if not isinstance(text, str):
            raise FormulaError(f"alias {position} must be a string like 'x = Vi(3)', got {text!r}")
        name, var = _parse_alias(text, position, declared)
        declared[name] = var
    return declared


def parse_formula(formula: str, aliases: Sequence[str] | Mapping[str, Expr] = ()) -> Expr:
    """The Expr of a KeOps formula string, with `aliases` as alias strings or parse_aliases' dict."""
    if not isinstance(formula, str):
        raise FormulaError(f"a formula must be a string, got {type(formula).__name__}")
    declared = aliases if isinstance(aliases, Mapping) else parse_aliases(aliases)
    if not all(isinstance(k, str) and isinstance(v, Expr) for k, v in declared.items()):
        raise FormulaError("an alias mapping must map names to Expr nodes (as parse_aliases returns)")
    try:
        return _Parser(formula, declared).parse_formula()
    except RecursionError:  # a safety net only: MAX_DEPTH should always trip first
        raise FormulaError("formula nested too deeply", formula, 0, len(formula)) from None


def parse(formula: str, aliases: Sequence[str]) -> tuple[Expr, dict[int, str]]:
    """The formula's Expr and {argument position: alias name} for the variables the aliases declare."""
    declared = parse_aliases(aliases)
    names = {var.attributes["index"]: name for name, var in declared.items() if var.op is kir_ops.VarOp}
    return parse_formula(formula, declared), names
