"""The frame of a kernel: variables, constants, reductions, outputs and the kernel op itself.

kir.kernel @gaussian {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %k = kir.reduce argkmin over j %d {k = 4} : !kir.vec<1xf32, ij> -> !kir.vec<4xi64, i>
  kir.output %r, %k : !kir.vec<1xf32, i>, !kir.vec<4xi64, i>
}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import (
    DenseArrayBase,
    Float64Type,
    IntegerAttr,
    StringAttr,
    SymbolNameConstraint,
    i64,
)
from xdsl.ir import Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, Pure, SymbolOpInterface
from xdsl.utils.exceptions import VerifyException

from kir.dialect.base import shared_element_type, vec_type
from kir.dialect.types import ELEMENT_TYPES, VecType


def _float_literal(value: float) -> str:
    """MLIR's spelling of a float: digits, a '.', then an optional exponent; inf and nan bare."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}[repr(value)]
    mantissa, _, exponent = repr(value).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _parse_signed_number(parser: Parser) -> float:
    negative = parser.parse_optional_punctuation("-") is not None
    special = parser.parse_optional_keyword_in(("inf", "nan"))
    value = float(special) if special else float(parser.parse_number())
    return -value if negative else value


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

    @property
    def position(self) -> int:
        """The argument's position."""
        return self.index.value.data

    def verify_(self) -> None:
        type_ = vec_type(self.result, "kir.var result")
        if type_.cat == "ij":
            raise VerifyException("kir.var: a variable is indexed by i or j, or is a parameter (p), not ij")
        if self.position < 0:
            raise VerifyException(f"kir.var: argument position must be >= 0, got {self.position}")
        shared_element_type(self.name, [type_])


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
        type_ = vec_type(self.result, "kir.constant result")
        if type_.cat != "p":
            raise VerifyException(f"kir.constant: a constant has category p, got {type_.cat}")
        if len(self.values) != type_.size:
            raise VerifyException(
                f"kir.constant: {len(self.values)} values for a vector of dimension {type_.size}"
            )


@dataclass(frozen=True)
class ReductionShape:
    """What a reduction kind takes and gives; the facets that lower it live in kir.reductions."""

    out_dim: Callable[[int, int, int], int]
    """(formula dim, weight dim, k) -> output dimension."""
    weighted: bool = False
    """Takes a second formula (KeOps' formula2) of weights; the first must be a scalar."""
    needs_k: bool = False
    """Takes K (KeOps' opt_arg), K >= 1."""
    index_output: bool = False
    """Returns int64 indices."""


REDUCTIONS: dict[str, ReductionShape] = {
    "sum": ReductionShape(lambda d, e, k: d),
    "min": ReductionShape(lambda d, e, k: d),
    "max": ReductionShape(lambda d, e, k: d),
    "argmin": ReductionShape(lambda d, e, k: d, index_output=True),
    "argmax": ReductionShape(lambda d, e, k: d, index_output=True),
    "kmin": ReductionShape(lambda d, e, k: k * d, needs_k=True),
    "argkmin": ReductionShape(lambda d, e, k: k * d, needs_k=True, index_output=True),
    "logsumexp": ReductionShape(lambda d, e, k: d),
    "max_sumshiftexp": ReductionShape(lambda d, e, k: 2 * d),
    "logsumexp_weight": ReductionShape(lambda d, e, k: e, weighted=True),
    "max_sumshiftexpweight": ReductionShape(lambda d, e, k: 1 + e, weighted=True),
    "sumsoftmaxweight": ReductionShape(lambda d, e, k: e, weighted=True),
    "zero": ReductionShape(lambda d, e, k: d),
}
"""Every reduction kind of `kir.reduce`, by name."""


def reduction_result_type(kind: str, operands: Sequence[VecType], axis: int, k: int | None = None) -> VecType:
    """Type of `kir.reduce` of `kind` over `axis` (1: over j, one row per i; 0: over i)."""
    shape = REDUCTIONS.get(kind)
    if shape is None:
        raise VerifyException(f"kir.reduce: unknown reduction '{kind}' (known: {', '.join(REDUCTIONS)})")
    if axis not in (0, 1):
        raise VerifyException(f"kir.reduce: axis must be 0 (over i) or 1 (over j), got {axis}")
    if len(operands) != (2 if shape.weighted else 1):
        expected = "a formula and a weight formula" if shape.weighted else "one formula"
        raise VerifyException(f"kir.reduce {kind}: takes {expected}, got {len(operands)} operand(s)")
    if shape.needs_k and (k is None or k < 1):
        raise VerifyException(f"kir.reduce {kind}: needs k >= 1, got {k}")
    if not shape.needs_k and k is not None:
        raise VerifyException(f"kir.reduce {kind}: takes no k")
    formula = operands[0]
    if shape.weighted and formula.size != 1:
        raise VerifyException(
            f"kir.reduce {kind}: the formula must be a scalar, got dimension {formula.size}"
        )
    element_type = shared_element_type("kir.reduce", operands)
    dim = shape.out_dim(formula.size, operands[1].size if shape.weighted else 0, k or 0)
    element_type = ELEMENT_TYPES["i64"] if shape.index_output else element_type
    return VecType(dim, element_type, "i" if axis == 1 else "j")


@irdl_op_definition
class ReduceOp(IRDLOperation):
    """`%r = kir.reduce sum over j %f`: reduce the formula %f (and weights) over one index."""

    name = "kir.reduce"
    args = var_operand_def(VecType)
    kind = prop_def(StringAttr)
    axis = prop_def(IntegerAttr[i64])
    k = opt_prop_def(IntegerAttr[i64])
    result = result_def(VecType)
    traits = traits_def(Pure())

    def __init__(self, operands: Sequence[SSAValue], kind: str, axis: int, k: int | None = None):
        types = [vec_type(v, self.name) for v in operands]
        properties = {"kind": StringAttr(kind), "axis": IntegerAttr(axis, i64)}
        if k is not None:
            properties["k"] = IntegerAttr(k, i64)
        super().__init__(
            operands=[list(operands)],
            result_types=[reduction_result_type(kind, types, axis, k)],
            properties=properties,
        )

    @property
    def kind_name(self) -> str:
        """The reduction's name ('sum', 'argkmin', ...)."""
        return self.kind.data

    @property
    def axis_value(self) -> int:
        """1: reduced over j (one row per i); 0: reduced over i."""
        return self.axis.value.data

    @property
    def k_value(self) -> int | None:
        """K of the K-min family, else None."""
        return None if self.k is None else self.k.value.data

    @property
    def formula(self) -> SSAValue:
        """The reduced formula."""
        return self.args[0]

    @property
    def weight(self) -> SSAValue | None:
        """The weight formula (KeOps' formula2), if the reduction takes one."""
        return self.args[1] if len(self.args) > 1 else None

    def verify_(self) -> None:
        types = [vec_type(v, "kir.reduce operand") for v in self.args]
        expected = reduction_result_type(self.kind_name, types, self.axis_value, self.k_value)
        if self.result.type != expected:
            raise VerifyException(f"kir.reduce: result type should be {expected}, got {self.result.type}")

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.kind_name} over {'j' if self.axis_value == 1 else 'i'} ")
        printer.print_list(self.args, printer.print_operand)
        if self.k_value is not None:
            printer.print_string(f" {{k = {self.k_value}}}")
        printer.print_string(" : ")
        printer.print_list([a.type for a in self.args], printer.print_attribute)
        printer.print_string(" -> ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> ReduceOp:
        kind = parser.parse_identifier("reduction kind")
        parser.parse_keyword("over")
        index = parser.parse_keyword_in(("i", "j"), "the reduced index")
        operands = parser.parse_comma_separated_list(parser.Delimiter.NONE, parser.parse_unresolved_operand)
        properties = {"kind": StringAttr(kind), "axis": IntegerAttr(1 if index == "j" else 0, i64)}
        if parser.parse_optional_punctuation("{") is not None:
            parser.parse_keyword("k")
            parser.parse_punctuation("=")
            properties["k"] = IntegerAttr(parser.parse_integer(allow_boolean=False), i64)
            parser.parse_punctuation("}")
        parser.parse_punctuation(":")
        types = parser.parse_comma_separated_list(parser.Delimiter.NONE, parser.parse_type)
        parser.parse_punctuation("->")
        result_type = parser.parse_type()
        values = parser.resolve_operands(operands, types, parser.pos)
        return cls.create(operands=values, result_types=[result_type], properties=properties)


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
    def reductions(self) -> list[ReduceOp]:
        """The reductions the kernel outputs, in order."""
        return [value.owner for value in self.output.values]

    @property
    def variables(self) -> list[VarOp]:
        """The kernel's variables, in the order they appear."""
        return [op for op in self.body.block.ops if isinstance(op, VarOp)]

    def verify_(self) -> None:
        self.output  # noqa: B018 - raises when the terminator is missing
        seen: dict[int, VecType] = {}
        for var in self.variables:
            position, type_ = var.position, var.result.type
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
        reductions = [r for r in self.reductions if isinstance(r, ReduceOp)]
        for r in reductions[1:]:
            if r.axis_value != reductions[0].axis_value and r.kind_name != "sum":
                raise VerifyException(
                    "kir.kernel: reductions over the other index than the first one's must be sums "
                    f"(accumulated by columns in the same pass), got {r.kind_name}"
                )


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


OPS = [VarOp, ConstantOp, ReduceOp, KernelOp, OutputOp]
