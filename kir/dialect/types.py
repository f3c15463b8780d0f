"""Types of the kir dialects: small vectors tagged by category, and reduction accumulators.

A formula value is a short vector (`!kir.vec<3xf32, i>`) whose category says which index it
depends on:

- ``i``: an i-indexed variable or anything computed from i-variables and parameters only;
- ``j``: the same for j;
- ``p``: parameters and constants (no index);
- ``ij``: depends on both indices (the pairwise formula itself).

Categories join like sets: ``join(i, p) = i``, ``join(i, j) = ij``. Back-ends use them to hoist
work out of the inner loop; verifiers use them to reject ill-formed IR.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xdsl.dialects.builtin import (
    Float32Type,
    Float64Type,
    IntAttr,
    IntegerType,
    StringAttr,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

CATEGORIES = ("i", "j", "p", "ij")
"""The four categories of a formula value, in the spelling of the textual IR."""

FLOAT_TYPES = (Float32Type, Float64Type)


def join_categories(categories: Iterable[str]) -> str:
    """The category of a value computed from values of the given categories."""
    seen = set("".join(categories))
    if "i" in seen and "j" in seen:
        return "ij"
    if "i" in seen:
        return "i"
    if "j" in seen:
        return "j"
    return "p"


def element_type_name(element_type: Attribute) -> str:
    """Short spelling of an element type: 'f32', 'f64' or 'i64'."""
    if isinstance(element_type, Float32Type):
        return "f32"
    if isinstance(element_type, Float64Type):
        return "f64"
    if isinstance(element_type, IntegerType) and element_type.width.data == 64:
        return "i64"
    raise VerifyException(f"kir vectors hold f32, f64 or i64 entries, not {element_type}")


ELEMENT_TYPES = {"f32": f32, "f64": f64, "i64": i64}


@irdl_attr_definition
class VecType(ParametrizedAttribute, TypeAttribute):
    """A small vector of `dim` entries with a category: `!kir.vec<3xf32, i>`."""

    name = "kir.vec"

    dim: IntAttr = param_def(converter=IntAttr.get)
    element_type: Attribute
    category: StringAttr = param_def(converter=StringAttr.get)

    def __init__(self, dim: int | IntAttr, element_type: Attribute, category: str | StringAttr):
        super().__init__(dim, element_type, category)

    @property
    def size(self) -> int:
        """Number of entries."""
        return self.dim.data

    @property
    def cat(self) -> str:
        """Category as a plain string."""
        return self.category.data

    @property
    def dtype_name(self) -> str:
        """Element type spelled 'f32', 'f64' or 'i64'."""
        return element_type_name(self.element_type)

    def with_(
        self, dim: int | None = None, category: str | None = None, element_type: Attribute | None = None
    ) -> VecType:
        """A copy with some parameters replaced."""
        return VecType(
            self.size if dim is None else dim,
            self.element_type if element_type is None else element_type,
            self.cat if category is None else category,
        )

    def verify(self) -> None:
        if self.dim.data < 1:
            raise VerifyException(f"kir.vec needs a positive dimension, got {self.dim.data}")
        element_type_name(self.element_type)
        if self.category.data not in CATEGORIES:
            raise VerifyException(
                f"kir.vec category must be one of {', '.join(CATEGORIES)}, got '{self.category.data}'"
            )

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_int(self.dim.data)
            printer.print_string("x")
            printer.print_attribute(self.element_type)
            printer.print_string(f", {self.category.data}")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        with parser.in_angle_brackets():
            dim = parser.parse_integer(allow_boolean=False, allow_negative=False)
            parser.parse_shape_delimiter()
            element_type = parser.parse_type()
            parser.parse_punctuation(",")
            category = parser.parse_identifier("kir.vec category (i, j, p or ij)")
        return (IntAttr(dim), element_type, StringAttr(category))


@irdl_attr_definition
class AccType(ParametrizedAttribute, TypeAttribute):
    """The running state of a reduction: `!kirl.acc<sum, 1xf32>`, `!kirl.acc<argkmin, 3xf32, k = 4>`,
    `!kirl.acc<sumsoftmaxweight, 1xf32, weight = 3>`, `!kirl.acc<sum, 1xf32, lanes = 16>`.

    `dim` is the reduced formula's dimension, `weight` the weight formula's (0: none), `k` the K
    of the K-min family (0: none), `lanes` the number of SIMD lanes holding one partial state
    each (1: scalar; `kirl.acc_reduce_lanes` folds lanes into one state). What the state
    holds (a sum; a running max and scaled sums;
    the K best values and their indices) is the reduction rule's business (kir.reductions), so
    the loop level carries any reduction unchanged.
    """

    name = "kirl.acc"

    kind: StringAttr = param_def(converter=StringAttr.get)
    dim: IntAttr = param_def(converter=IntAttr.get)
    element_type: Attribute
    k: IntAttr = param_def(converter=IntAttr.get)
    weight: IntAttr = param_def(converter=IntAttr.get)
    lanes: IntAttr = param_def(converter=IntAttr.get)

    def __init__(
        self,
        kind: str | StringAttr,
        dim: int | IntAttr,
        element_type: Attribute,
        k: int = 0,
        weight: int = 0,
        lanes: int = 1,
    ):
        super().__init__(kind, dim, element_type, k, weight, lanes)

    def with_lanes(self, lanes: int) -> AccType:
        """The same state held in `lanes` SIMD lanes."""
        return AccType(self.kind, self.dim, self.element_type, self.k.data, self.weight.data, lanes)

    def verify(self) -> None:
        from kir.dialect.core import REDUCTIONS

        shape = REDUCTIONS.get(self.kind.data)
        if shape is None:
            raise VerifyException(
                f"kirl.acc: unknown reduction '{self.kind.data}' (known: {', '.join(REDUCTIONS)})"
            )
        if self.dim.data < 1:
            raise VerifyException(f"kirl.acc needs a positive dimension, got {self.dim.data}")
        if not isinstance(self.element_type, FLOAT_TYPES):
            raise VerifyException(f"kirl.acc holds f32 or f64 states, not {self.element_type}")
        if shape.needs_k != (self.k.data > 0):
            raise VerifyException(f"kirl.acc: {self.kind.data} {'needs' if shape.needs_k else 'takes no'} k")
        if self.lanes.data < 1:
            raise VerifyException(f"kirl.acc needs at least one lane, got {self.lanes.data}")
        if shape.weighted != (self.weight.data > 0):
            raise VerifyException(
                f"kirl.acc: {self.kind.data} {'needs' if shape.weighted else 'takes no'} weight"
            )

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string(f"{self.kind.data}, {self.dim.data}x")
            printer.print_attribute(self.element_type)
            for name in ("k", "weight", "lanes"):
                if getattr(self, name).data != (1 if name == "lanes" else 0):
                    printer.print_string(f", {name} = {getattr(self, name).data}")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> Sequence[Attribute]:
        options = {"k": 0, "weight": 0, "lanes": 1}
        with parser.in_angle_brackets():
            kind = parser.parse_identifier("reduction kind")
            parser.parse_punctuation(",")
            dim = parser.parse_integer(allow_boolean=False, allow_negative=False)
            parser.parse_shape_delimiter()
            element_type = parser.parse_type()
            while parser.parse_optional_punctuation(",") is not None:
                name = parser.parse_keyword_in(tuple(options), "k, weight or lanes")
                parser.parse_punctuation("=")
                options[name] = parser.parse_integer(allow_boolean=False, allow_negative=False)
        return (
            StringAttr(kind),
            IntAttr(dim),
            element_type,
            IntAttr(options["k"]),
            IntAttr(options["weight"]),
            IntAttr(options["lanes"]),
        )
