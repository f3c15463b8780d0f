"""The `kir` dialect: formula-level ops on small category-tagged vectors.

A `kir.kernel` holds the formula of one or more reductions over the same (i, j) domain:

    kir.kernel @gaussian {
      %x = kir.var 0 : !kir.vec<3xf32, i>
      %y = kir.var 1 : !kir.vec<3xf32, j>
      %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
      %e = kir.neg %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %k = kir.exp %e : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
      %r = kir.reduce sum over j %k : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
      kir.output %r : !kir.vec<1xf32, i>
    }

Every op states its result type; each op class's `infer_type` is the one shape rule, used by
the verifier and by the builders alike. Binary elementwise ops follow KeOps' broadcasting
rule: an operand of dimension 1 broadcasts against the other.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DenseArrayBase,
    Float64Type,
    IntegerAttr,
    StringAttr,
    SymbolNameConstraint,
    i64,
)
from xdsl.ir import Attribute, Dialect, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    Commutative,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    Pure,
    SymbolOpInterface,
)
from xdsl.utils.exceptions import VerifyException

from kir.dialect.types import ELEMENT_TYPES, FLOAT_TYPES, REDUCTION_KINDS, VecType, join_categories


def _vec(value: SSAValue | Attribute, what: str) -> VecType:
    type_ = value.type if isinstance(value, SSAValue) else value
    if not isinstance(type_, VecType):
        raise VerifyException(f"{what} must be a !kir.vec, got {type_}")
    return type_


def _same_element_type(op_name: str, types: Sequence[VecType]) -> Attribute:
    element_types = {t.element_type for t in types}
    if len(element_types) != 1:
        spelled = ", ".join(t.dtype_name for t in types)
        raise VerifyException(f"{op_name}: operands must share one element type, got {spelled}")
    (element_type,) = element_types
    if not isinstance(element_type, FLOAT_TYPES):
        raise VerifyException(f"{op_name}: operands must be f32 or f64, got {types[0].dtype_name}")
    return element_type


def _float_literal(value: float) -> str:
    """MLIR's spelling of a float: digits, a '.', then an optional exponent; inf and nan bare."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(value)]
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _parse_signed_number(parser: Parser) -> float:
    negative = parser.parse_optional_punctuation("-") is not None
    special = parser.parse_optional_keyword_in(("inf", "nan"))
    value = float(special) if special else float(parser.parse_number())
    return -value if negative else value


class FormulaOp(IRDLOperation, ABC):
    """An op of the formula: pure, with one result whose type follows from its operands."""

    traits = traits_def(Pure())

    @classmethod
    def infer_type(cls, *operands: VecType, **properties: Attribute) -> VecType:
        """The result type for these operand types; raises VerifyException when ill-formed."""
        raise NotImplementedError

    def verify_(self) -> None:
        operand_types = [_vec(o, f"{self.name} operand") for o in self.operands]
        expected = self.infer_type(*operand_types, **dict(self.properties))
        if self.results[0].type != expected:
            raise VerifyException(
                f"{self.name}: result type should be {expected}, got {self.results[0].type}"
            )


class UnaryOp(FormulaOp, ABC):
    """Elementwise op of one operand: the result has the operand's type."""

    operand = operand_def(VecType)
    result = result_def(VecType)
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue, result_type: VecType | None = None):
        result_type = result_type or self.infer_type(_vec(operand, self.name))
        super().__init__(operands=[operand], result_types=[result_type])

    @classmethod
    def infer_type(cls, *operands: VecType, **properties: Attribute) -> VecType:
        (x,) = operands
        _same_element_type(cls.name, [x])
        return x


class BinaryOp(FormulaOp, ABC):
    """Op of two operands; the result type follows `infer_type`."""

    lhs = operand_def(VecType)
    rhs = operand_def(VecType)
    result = result_def(VecType)
    assembly_format = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)"

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: VecType | None = None):
        result_type = result_type or self.infer_type(_vec(lhs, self.name), _vec(rhs, self.name))
        super().__init__(operands=[lhs, rhs], result_types=[result_type])


class BroadcastBinaryOp(BinaryOp, ABC):
    """Elementwise op of two operands with KeOps' rule: a dimension-1 operand broadcasts."""

    @classmethod
    def infer_type(cls, *operands: VecType, **properties: Attribute) -> VecType:
        lhs, rhs = operands
        element_type = _same_element_type(cls.name, [lhs, rhs])
        if lhs.size != rhs.size and 1 not in (lhs.size, rhs.size):
            raise VerifyException(
                f"{cls.name}: dimensions {lhs.size} and {rhs.size} do not broadcast "
                "(they must be equal, or one of them 1)"
            )
        category = join_categories([lhs.cat, rhs.cat])
        return VecType(max(lhs.size, rhs.size), element_type, category)


class PairToScalarOp(BinaryOp, ABC):
    """Op of two same-dimension vectors giving a scalar (scalar product, squared distance)."""

    @classmethod
    def infer_type(cls, *operands: VecType, **properties: Attribute) -> VecType:
        lhs, rhs = operands
        element_type = _same_element_type(cls.name, [lhs, rhs])
        if lhs.size != rhs.size:
            raise VerifyException(
                f"{cls.name}: operands must have the same dimension, got {lhs.size} and {rhs.size}"
            )
        return VecType(1, element_type, join_categories([lhs.cat, rhs.cat]))


@irdl_op_definition
class VarOp(IRDLOperation):
    """`%x = kir.var 0 : !kir.vec<3xf32, i>`: the argument at position 0 (Vi, Vj or Pm)."""

    name = "kir.var"
    index = prop_def(IntegerAttr[i64])
    result = result_def(VecType)
    traits = traits_def(Pure())
    assembly_format = "$index attr-dict `:` type($result)"

    def __init__(self, index: int, result_type: VecType):
        super().__init__(properties={"index": IntegerAttr(index, i64)}, result_types=[result_type])

    def verify_(self) -> None:
        type_ = _vec(self.result, "kir.var result")
        if type_.cat == "ij":
            raise VerifyException("kir.var: a variable is indexed by i or j, or is a parameter (p), not ij")
        if self.index.value.data < 0:
            raise VerifyException(f"kir.var: argument position must be >= 0, got {self.index.value.data}")
        _same_element_type(self.name, [type_])


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """`%c = kir.constant [2.0] : !kir.vec<1xf32, p>`: a constant vector."""

    name = "kir.constant"
    value = prop_def(DenseArrayBase)
    result = result_def(VecType)
    traits = traits_def(Pure())

    def __init__(self, values: Sequence[float], result_type: VecType):
        array = DenseArrayBase.from_list(Float64Type(), [float(v) for v in values])
        super().__init__(properties={"value": array}, result_types=[result_type])

    @property
    def values(self) -> tuple[float, ...]:
        """The constant's entries."""
        return tuple(float(v) for v in self.value.get_values())

    def print(self, printer: Printer) -> None:
        printer.print_string(" [" + ", ".join(_float_literal(v) for v in self.values) + "] : ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        values = parser.parse_comma_separated_list(
            parser.Delimiter.SQUARE, lambda: _parse_signed_number(parser)
        )
        parser.parse_punctuation(":")
        result_type = parser.parse_type()
        array = DenseArrayBase.from_list(Float64Type(), [float(v) for v in values])
        return cls.create(properties={"value": array}, result_types=[result_type])

    def verify_(self) -> None:
        type_ = _vec(self.result, "kir.constant result")
        if type_.cat != "p":
            raise VerifyException(f"kir.constant: a constant has category p, got {type_.cat}")
        if len(self.values) != type_.size:
            raise VerifyException(
                f"kir.constant: {len(self.values)} values for a vector of dimension {type_.size}"
            )


@irdl_op_definition
class NegOp(UnaryOp):
    """`kir.neg %x`: elementwise -x (KeOps' Minus)."""

    name = "kir.neg"


@irdl_op_definition
class ExpOp(UnaryOp):
    """`kir.exp %x`: elementwise e^x."""

    name = "kir.exp"


@irdl_op_definition
class LogOp(UnaryOp):
    """`kir.log %x`: elementwise natural logarithm."""

    name = "kir.log"


@irdl_op_definition
class SqrtOp(UnaryOp):
    """`kir.sqrt %x`: elementwise square root."""

    name = "kir.sqrt"


@irdl_op_definition
class SquareOp(UnaryOp):
    """`kir.square %x`: elementwise x*x."""

    name = "kir.square"


@irdl_op_definition
class PowOp(UnaryOp):
    """`kir.pow %x, 3`: elementwise integer power (KeOps' Pow)."""

    name = "kir.pow"
    exponent = prop_def(IntegerAttr[i64])
    assembly_format = "$operand `,` $exponent attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue, exponent: int, result_type: VecType | None = None):
        result_type = result_type or self.infer_type(_vec(operand, self.name))
        IRDLOperation.__init__(
            self,
            operands=[operand],
            result_types=[result_type],
            properties={"exponent": IntegerAttr(exponent, i64)},
        )


@irdl_op_definition
class SumOp(FormulaOp):
    """`kir.sum %x`: the sum of a vector's entries, a scalar."""

    name = "kir.sum"
    operand = operand_def(VecType)
    result = result_def(VecType)
    assembly_format = "$operand attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue, result_type: VecType | None = None):
        result_type = result_type or self.infer_type(_vec(operand, self.name))
        super().__init__(operands=[operand], result_types=[result_type])

    @classmethod
    def infer_type(cls, *operands: VecType, **properties: Attribute) -> VecType:
        (x,) = operands
        _same_element_type(cls.name, [x])
        return x.with_(dim=1)


@irdl_op_definition
class AddOp(BroadcastBinaryOp):
    """`kir.add %a, %b`: elementwise a + b."""

    name = "kir.add"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class SubOp(BroadcastBinaryOp):
    """`kir.sub %a, %b`: elementwise a - b."""

    name = "kir.sub"


@irdl_op_definition
class MulOp(BroadcastBinaryOp):
    """`kir.mul %a, %b`: elementwise a * b."""

    name = "kir.mul"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class DivOp(BroadcastBinaryOp):
    """`kir.div %a, %b`: elementwise a / b."""

    name = "kir.div"


@irdl_op_definition
class PowfOp(BroadcastBinaryOp):
    """`kir.powf %a, %b`: elementwise a ** b for a real exponent (KeOps' Powf)."""

    name = "kir.powf"


@irdl_op_definition
class ScalprodOp(PairToScalarOp):
    """`kir.scalprod %a, %b`: the scalar product <a, b> (KeOps' `|`)."""

    name = "kir.scalprod"
    traits = traits_def(Pure(), Commutative())


@irdl_op_definition
class SqDistOp(PairToScalarOp):
    """`kir.sqdist %a, %b`: the squared distance |a - b|^2."""

    name = "kir.sqdist"
    traits = traits_def(Pure(), Commutative())


def reduction_result_type(kind: str, operand: VecType, axis: int) -> VecType:
    """Type of `kir.reduce` over `axis` (1: over j, one row per i; 0: over i)."""
    if kind not in REDUCTION_KINDS:
        raise VerifyException(f"kir.reduce: unknown reduction '{kind}' (known: {', '.join(REDUCTION_KINDS)})")
    if axis not in (0, 1):
        raise VerifyException(f"kir.reduce: axis must be 0 (over i) or 1 (over j), got {axis}")
    element_type = ELEMENT_TYPES["i64"] if kind.startswith("arg") else operand.element_type
    return VecType(operand.size, element_type, "i" if axis == 1 else "j")


@irdl_op_definition
class ReduceOp(IRDLOperation):
    """`%r = kir.reduce sum over j %f`: reduce the pairwise formula %f over one index."""

    name = "kir.reduce"
    operand = operand_def(VecType)
    kind = prop_def(StringAttr)
    axis = prop_def(IntegerAttr[i64])
    result = result_def(VecType)
    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, kind: str, axis: int):
        operand_type = _vec(operand, self.name)
        super().__init__(
            operands=[operand],
            result_types=[reduction_result_type(kind, operand_type, axis)],
            properties={"kind": StringAttr(kind), "axis": IntegerAttr(axis, i64)},
        )

    @property
    def kind_name(self) -> str:
        """The reduction's name ('sum', 'argmin', ...)."""
        return self.kind.data

    @property
    def axis_value(self) -> int:
        """1: reduced over j (one row per i); 0: reduced over i."""
        return self.axis.value.data

    def verify_(self) -> None:
        operand_type = _vec(self.operand, "kir.reduce operand")
        _same_element_type(self.name, [operand_type])
        expected = reduction_result_type(self.kind_name, operand_type, self.axis_value)
        if self.result.type != expected:
            raise VerifyException(f"kir.reduce: result type should be {expected}, got {self.result.type}")

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.kind_name} over {'j' if self.axis_value == 1 else 'i'} ")
        printer.print_operand(self.operand)
        printer.print_string(" : ")
        printer.print_attribute(self.operand.type)
        printer.print_string(" -> ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> ReduceOp:
        kind = parser.parse_identifier("reduction kind")
        parser.parse_keyword("over")
        index = parser.parse_keyword_in(("i", "j"), "the reduced index")
        operand = parser.parse_operand()
        parser.parse_punctuation(":")
        parser.parse_type()
        parser.parse_punctuation("->")
        result_type = parser.parse_type()
        op = cls.create(
            operands=[operand],
            result_types=[result_type],
            properties={"kind": StringAttr(kind), "axis": IntegerAttr(1 if index == "j" else 0, i64)},
        )
        return op


@irdl_op_definition
class KernelOp(IRDLOperation):
    """`kir.kernel @name { ... }`: reductions over one (i, j) domain, compiled as one unit."""

    name = "kir.kernel"
    sym_name = prop_def(SymbolNameConstraint())
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface())
    assembly_format = "$sym_name attr-dict-with-keyword $body"

    def __init__(self, name: str, body: Region):
        super().__init__(properties={"sym_name": StringAttr(name)}, regions=[body])

    @property
    def output(self) -> OutputOp:
        """The kernel's terminator."""
        last = self.body.block.last_op
        if not isinstance(last, OutputOp):
            raise VerifyException("kir.kernel must end with kir.output")
        return last

    @property
    def variables(self) -> list[VarOp]:
        """The kernel's variables, in the order they appear."""
        return [op for op in self.body.block.ops if isinstance(op, VarOp)]

    def verify_(self) -> None:
        self.output  # noqa: B018 - raises when the terminator is missing
        seen: dict[int, VecType] = {}
        for var in self.variables:
            position, type_ = var.index.value.data, var.result.type
            if position in seen and seen[position] != type_:
                raise VerifyException(
                    f"kir.kernel: argument {position} is used as {seen[position]} and as {type_}"
                )
            seen[position] = type_
        for op in self.body.block.ops:
            if isinstance(op, ReduceOp):
                for use in op.result.uses:
                    if not isinstance(use.operation, OutputOp):
                        raise VerifyException(
                            f"kir.kernel: the result of a kir.reduce may only be a kernel output, "
                            f"but {use.operation.name} uses it"
                        )
        axes = {value.owner.axis_value for value in self.output.values if isinstance(value.owner, ReduceOp)}
        if len(axes) > 1:
            raise VerifyException("kir.kernel: all reductions of a kernel must reduce over the same index")


@irdl_op_definition
class OutputOp(IRDLOperation):
    """`kir.output %r1, %r2 : ...`: the results of a kernel, in order."""

    name = "kir.output"
    values = var_operand_def(VecType)
    traits = traits_def(IsTerminator(), HasParent(KernelOp))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, values: Sequence[SSAValue]):
        super().__init__(operands=[values])

    def verify_(self) -> None:
        for value in self.values:
            if not isinstance(value.owner, ReduceOp):
                raise VerifyException("kir.output: every output must be the result of a kir.reduce")


KIR = Dialect(
    "kir",
    [
        VarOp,
        ConstantOp,
        NegOp,
        ExpOp,
        LogOp,
        SqrtOp,
        SquareOp,
        PowOp,
        SumOp,
        AddOp,
        SubOp,
        MulOp,
        DivOp,
        PowfOp,
        ScalprodOp,
        SqDistOp,
        ReduceOp,
        OutputOp,
        KernelOp,
    ],
    [VecType],
)
