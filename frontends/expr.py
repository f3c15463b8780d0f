"""Formula expressions shared by every front-end: hash-consed nodes that name a kir op.

The string DSL and the Python builders both produce `Expr` trees; `kir.builder` turns a tree
into kir IR for a given element type. Nodes are interned at construction ("hash-consing"), so
a subexpression written twice is one node and is emitted once. Shapes are checked here, with
the same `infer_type` rule the dialect's verifier uses, so a bad formula fails where it is
written rather than later in a pass.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from functools import cache
from numbers import Real
from typing import Any

from xdsl.dialects.builtin import f64
from xdsl.ir import Operation
from xdsl.utils.exceptions import VerifyException

from kir.dialect import formula as ops
from kir.dialect.formula import ConstantOp, VarOp
from kir.dialect.types import VecType
from kir.errors import FormulaError

_INTERNED: weakref.WeakValueDictionary[tuple, Expr] = weakref.WeakValueDictionary()


def _exact(value: Any) -> Any:
    """A key equal only for identical attributes: -0.0 and 0.0 (or two NaNs) compared by bits."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, tuple):
        return tuple(_exact(v) for v in value) if value else value
    return value


class Expr:
    """A node of a formula: a kir op class applied to argument nodes, with attributes.

    `dim` and `category` give the node's value shape. Nodes are unique per (op, args, attrs):
    compare them with `is` (or `==`, which is the same).
    """

    __slots__ = ("op", "args", "attrs", "dim", "category", "__weakref__")

    op: type[Operation]
    args: tuple[Expr, ...]
    attrs: tuple[tuple[str, Hashable], ...]
    dim: int
    category: str

    def __new__(
        cls,
        op: type[Operation],
        args: tuple[Expr, ...],
        attrs: tuple[tuple[str, Hashable], ...],
        dim: int,
        category: str,
    ) -> Expr:
        key = (op, tuple(map(id, args)), _exact(attrs) if attrs else attrs, dim, category)
        existing = _INTERNED.get(key)
        if existing is not None:
            return existing
        node = super().__new__(cls)
        node.op, node.args, node.attrs, node.dim, node.category = op, args, attrs, dim, category
        _INTERNED[key] = node
        return node

    @property
    def attributes(self) -> dict[str, Any]:
        """The node's attributes as a dict (e.g. {'index': 0} for a variable)."""
        return dict(self.attrs)

    def walk(self) -> list[Expr]:
        """Every node of the tree once, operands before their users."""
        order: list[Expr] = []
        seen: set[int] = set()
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen:
                continue
            if expanded:
                seen.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((arg, False) for arg in reversed(node.args) if id(arg) not in seen)
        return order

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in self.attrs)
        inner = ", ".join([repr(a) for a in self.args] + ([attrs] if attrs else []))
        return f"{self.op.name}({inner})"


def variable(index: int, dim: int, category: str) -> Expr:
    """The argument at position `index`: category 'i' (Vi), 'j' (Vj) or 'p' (Pm)."""
    if category not in ("i", "j", "p"):
        raise FormulaError(f"a variable's category is i, j or p, not {category!r}")
    if index < 0:
        raise FormulaError(f"a variable's position must be >= 0, got {index}")
    if dim < 1:
        raise FormulaError(f"a variable's dimension must be >= 1, got {dim}")
    return Expr(VarOp, (), (("index", index),), dim, category)


def constant(values: tuple[float, ...] | float) -> Expr:
    """A constant vector (a scalar when given one number)."""
    if not isinstance(values, tuple):
        values = (float(values),)
    values = tuple(float(v) for v in values)
    return Expr(ConstantOp, (), (("values", values),), len(values), "p")


@cache
def _operand_type(dim: int, category: str) -> VecType:
    # xDSL attributes are immutable and costly to build: one per shape is enough.
    return VecType(dim, f64, category)


_SHAPES: dict[tuple, tuple[int, str]] = {}
"""Result (dimension, category) by (op, operand shapes, attributes): xDSL's type inference
builds attributes, which costs tens of microseconds; a formula rebuilt per call (a LazyTensor
reduction) asks the same questions again."""


def apply(op: type[Operation], *args: Expr, **attrs: Hashable) -> Expr:
    """`op` applied to `args`; raises FormulaError when the shapes do not fit the op's rule."""
    for position in getattr(op, "VARIABLE_OPERANDS", ()):
        if position < len(args) and args[position].op is not VarOp:
            raise FormulaError(
                f"{op.name}: operand {position + 1} must be a variable, got {args[position]!r}"
            )
    attrs = {name: tuple(v) if isinstance(v, list) else v for name, v in attrs.items()}
    items = tuple(sorted(attrs.items()))
    try:
        key = (op, tuple((a.dim, a.category) for a in args), _exact(items))
        shape = _SHAPES.get(key)
    except TypeError:  # an unhashable attribute: checked (and refused) below
        key, shape = None, None
    if shape is None:
        operand_types = [_operand_type(a.dim, a.category) for a in args]
        try:
            result = op.infer_type(*operand_types, **attrs)  # type: ignore[attr-defined]
        except VerifyException as error:
            shapes = ", ".join(f"dimension {a.dim}" for a in args)
            raise FormulaError(f"{error} (operands: {shapes})") from None
        except TypeError as error:  # an attribute of the wrong kind (a tuple for an integer...)
            raise FormulaError(f"{op.name}: bad arguments {attrs}: {error}") from None
        shape = (result.size, result.cat)
        if key is not None:
            _SHAPES[key] = shape
    return Expr(op, tuple(args), items, *shape)


def variables_of(roots: list[Expr]) -> dict[int, Expr]:
    """The variables the formulas use, by argument position."""
    found: dict[int, Expr] = {}
    for root in roots:
        for node in root.walk():
            if node.op is VarOp:
                index = node.attributes["index"]
                other = found.get(index)
                if other is not None and other is not node:
                    raise FormulaError(
                        f"argument {index} is used with two shapes: {_describe(other)} and {_describe(node)}"
                    )
                found[index] = node
    return dict(sorted(found.items()))


def structure(roots: list[Expr]) -> tuple[list[str], dict[int, int]]:
    """One line per node of the formulas (operands first, numbered in that order) naming its op,
    operands, exact attributes and shape; and each node's number by id. Two sets of formulas
    with the same lines are the same computation."""
    numbers: dict[int, int] = {}
    lines: list[str] = []
    for root in roots:
        for node in root.walk():
            if id(node) in numbers:
                continue
            numbers[id(node)] = len(lines)
            operands = ",".join(str(numbers[id(a)]) for a in node.args)
            lines.append(f"{node.op.name}({operands}) {_exact(node.attrs)!r} {node.dim}{node.category}")
    return lines, numbers


def _describe(var: Expr) -> str:
    spelling = {"i": "Vi", "j": "Vj", "p": "Pm"}[var.category]
    return f"{spelling}({var.attributes['index']},{var.dim})"


# -- Python operators on nodes: the string DSL's meaning, shared by every front-end -------------

Operand = Expr | Real


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
