"""What every formula op shares: operands, one result, attributes, and the shape rule.

A concrete op is a name, a docstring, its ARITY, its attributes (as `prop_def`s) and, when
the shape rule is not inherited, a `result_dim`. The textual form is the same for all:

    %r = kir.elem %x {m = 2 : i64} : !kir.vec<3xf32, i> -> !kir.vec<1xf32, i>

The element type of the result is the operands' (they share one, f32 or f64) and its category
is the join of theirs; `result_dim` decides the dimension and rejects ill-shaped operands.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import DenseArrayBase, FloatAttr, IntegerAttr, StringAttr, f64, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    OptPropertyDef,
    ParsePropInAttrDict,
    VerificationContext,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from kir.dialect.types import FLOAT_TYPES, VecType, join_categories


def vec_type(value: SSAValue | Attribute, what: str) -> VecType:
    """The !kir.vec type of a value (or type); VerifyException otherwise."""
    type_ = value.type if isinstance(value, SSAValue) else value
    if not isinstance(type_, VecType):
        raise VerifyException(f"{what} must be a !kir.vec, got {type_}")
    return type_


def shared_element_type(op_name: str, types: Sequence[VecType]) -> Attribute:
    """The one float element type of `types`; VerifyException when they differ or are not float."""
    element_types = {t.element_type for t in types}
    if len(element_types) != 1:
        spelled = ", ".join(t.dtype_name for t in types)
        raise VerifyException(f"{op_name}: operands must share one element type, got {spelled}")
    (element_type,) = element_types
    if not isinstance(element_type, FLOAT_TYPES):
        raise VerifyException(f"{op_name}: operands must be f32 or f64, got {types[0].dtype_name}")
    return element_type


def to_attribute(value: Any) -> Attribute:
    """A property attribute for a plain attribute value (int, float, str or tuple of ints)."""
    if isinstance(value, bool):
        raise TypeError("kir op attributes are ints, floats, strings or tuples of ints")
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, tuple):
        return DenseArrayBase.from_list(i64, [int(v) for v in value])
    raise TypeError(f"unsupported kir op attribute {value!r}")


def from_attribute(attribute: Attribute) -> Any:
    """The plain value of a property attribute (the inverse of `to_attribute`)."""
    if isinstance(attribute, IntegerAttr | FloatAttr):
        return attribute.value.data
    if isinstance(attribute, StringAttr):
        return attribute.data
    if isinstance(attribute, DenseArrayBase):
        return tuple(int(v) for v in attribute.get_values())
    raise TypeError(f"unsupported kir op attribute {attribute}")


def broadcast_dims(op_name: str, dims: Sequence[int]) -> int:
    """KeOps' rule: all dimensions equal, except that dimension-1 operands broadcast."""
    wide = {d for d in dims if d != 1}
    if len(wide) > 1:
        spelled = " and ".join(str(d) for d in dims)
        raise VerifyException(f"{op_name}: dimensions {spelled} do not broadcast (they must be equal, or 1)")
    return wide.pop() if wide else 1


_KIND_PROBES = (("an integer", 0), ("a float", 0.0), ("a string", ""), ("a tuple of integers", (1,)))


def _accepts(constraint: Any, value: Any) -> bool:
    try:
        constraint.verify(to_attribute(value), VerificationContext())
    except (VerifyException, TypeError):
        return False
    return True


class FormulaOp(IRDLOperation, ABC):
    """An op of the formula: pure, `ARITY` vector operands, one vector result."""

    args = var_operand_def(VecType)
    result = result_def(VecType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$args attr-dict `:` type($args) `->` type($result)"

    ARITY: ClassVar[int] = 1
    """Number of operands."""
    VARIABLE_OPERANDS: ClassVar[tuple[int, ...]] = ()
    """Positions of the operands that must be variables (kir.var), e.g. the x of Grad(F, x, e)."""

    def __init__(self, *args: SSAValue, result_type: VecType | None = None, **attrs: Any):
        if result_type is None:
            result_type = self.infer_type(*(vec_type(a, f"{self.name} operand") for a in args), **attrs)
        super().__init__(
            operands=[list(args)],
            result_types=[result_type],
            properties={name: to_attribute(value) for name, value in attrs.items()},
        )

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        """The result's dimension for operands of dimensions `dims`; VerifyException if invalid.

        The default is elementwise with KeOps' broadcasting."""
        return broadcast_dims(cls.name, dims)

    @classmethod
    def check_attributes(cls, attrs: dict[str, Any]) -> None:
        """VerifyException unless `attrs` are exactly the op's properties, each of the right kind."""
        expected = cls.get_irdl_definition().properties
        required = {
            name for name, definition in expected.items() if not isinstance(definition, OptPropertyDef)
        }
        if not required <= set(attrs) <= set(expected):
            raise VerifyException(
                f"{cls.name} takes the attributes {sorted(expected) or 'none'}, got {sorted(attrs) or 'none'}"
            )
        for name, value in attrs.items():
            if not _accepts(expected[name].constr, value):
                kinds = [kind for kind, probe in _KIND_PROBES if _accepts(expected[name].constr, probe)]
                wanted = " or ".join(kinds) or "another kind of value"
                raise VerifyException(f"{cls.name}: attribute {name} must be {wanted}, got {value!r}")

    @classmethod
    def infer_type(cls, *operands: VecType, **attrs: Any) -> VecType:
        """The result type for these operand types and attribute values."""
        if len(operands) != cls.ARITY:
            raise VerifyException(f"{cls.name} takes {cls.ARITY} operand(s), got {len(operands)}")
        cls.check_attributes(attrs)
        element_type = shared_element_type(cls.name, operands)
        dim = cls.result_dim([o.size for o in operands], **attrs)
        return VecType(dim, element_type, join_categories(o.cat for o in operands))

    @property
    def attribute_values(self) -> dict[str, Any]:
        """The op's attributes as plain values (e.g. {'exponent': 3})."""
        return {name: from_attribute(attr) for name, attr in self.properties.items()}

    def verify_(self) -> None:
        types = [vec_type(a, f"{self.name} operand") for a in self.args]
        expected = self.infer_type(*types, **self.attribute_values)
        if self.result.type != expected:
            raise VerifyException(f"{self.name}: result type should be {expected}, got {self.result.type}")


class UnaryOp(FormulaOp, ABC):
    """Elementwise op of one operand."""


class BinaryOp(FormulaOp, ABC):
    """Elementwise op of two operands (a dimension-1 operand broadcasts)."""

    ARITY: ClassVar[int] = 2


class TernaryOp(FormulaOp, ABC):
    """Elementwise op of three operands (dimension-1 operands broadcast)."""

    ARITY: ClassVar[int] = 3


class ToScalarOp(FormulaOp, ABC):
    """An op reducing a vector's entries to one number (Sum, Norm2, ...)."""

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        return 1


class PairToScalarOp(FormulaOp, ABC):
    """An op of two same-dimension vectors giving a scalar (Scalprod, SqDist)."""

    ARITY: ClassVar[int] = 2

    @classmethod
    def result_dim(cls, dims: Sequence[int], **attrs: Any) -> int:
        if dims[0] != dims[1]:
            raise VerifyException(
                f"{cls.name}: operands must have the same dimension, got {dims[0]} and {dims[1]}"
            )
        return 1
