"""The `kirl` dialect: the loop level, where the schedule of a kernel is explicit.

A `kirl.func` computes output rows [begin, end) of every reduction of a kernel; its body uses
`scf.for` loops over index values, `kirl.load`/`kirl.store` for the argument and output rows,
the formula's `kir` ops on the loaded vectors, and `kirl.acc_*` ops for the reduction state:

    kirl.func @gaussian {
    ^0(%begin : index, %end : index, %reduced : index):
      scf.for %i = %begin to %end step %c1 {
        %x = kirl.load 0[%i] : !kir.vec<3xf32, i>
        %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
        %acc = scf.for %j = %c0 to %reduced step %c1 iter_args(%a = %init) -> (!kirl.acc<sum, 1xf32>) {
          %y = kirl.load 1[%j] : !kir.vec<3xf32, j>
          ...
          %next = kirl.acc_update %a, %k at %j : !kirl.acc<sum, 1xf32>, !kir.vec<1xf32, ij>
          scf.yield %next : !kirl.acc<sum, 1xf32>
        }
        %r = kirl.acc_finalize %acc : !kirl.acc<sum, 1xf32> -> !kir.vec<1xf32, i>
        kirl.store %r, 0[%i] : !kir.vec<1xf32, i>
      }
      kirl.return
    }

Arguments and outputs are row-major (rows, dim) arrays; a parameter is one row. What a
reduction state holds is the reduction rule's business (kir.reductions), not the loop level's.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import IndexType, IntegerAttr, StringAttr, SymbolNameConstraint, i64
from xdsl.ir import Dialect, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import IsolatedFromAbove, IsTerminator, Pure, SymbolOpInterface
from xdsl.utils.exceptions import VerifyException

from kir.dialect.types import AccType, VecType


@irdl_op_definition
class FuncOp(IRDLOperation):
    """`kirl.func @name { ^0(%begin: index, %end: index, %reduced: index): ... }`."""

    name = "kirl.func"
    sym_name = prop_def(SymbolNameConstraint())
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface())
    assembly_format = "$sym_name attr-dict-with-keyword $body"

    def __init__(self, name: str, body: Region):
        super().__init__(properties={"sym_name": StringAttr(name)}, regions=[body])

    def verify_(self) -> None:
        args = self.body.block.args
        if len(args) != 3 or not all(isinstance(a.type, IndexType) for a in args):
            raise VerifyException(
                "kirl.func takes three index arguments: first output row, end row, reduced size"
            )


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """`kirl.return`: end of a `kirl.func`."""

    name = "kirl.return"
    traits = traits_def(IsTerminator())
    assembly_format = "attr-dict"


@irdl_op_definition
class LoadOp(IRDLOperation):
    """`kirl.load 0[%j]`: row %j of argument 0 (`kirl.load 2` for a parameter); with
    `entries %d of 256`, only the entries %d, %d + 1, ... of a row of 256 (a chunk)."""

    name = "kirl.load"
    arg = prop_def(IntegerAttr[i64])
    row_size = opt_prop_def(IntegerAttr[i64])
    row = opt_operand_def(IndexType)
    offset = opt_operand_def(IndexType)
    result = result_def(VecType)
    traits = traits_def(Pure())
    irdl_options = (AttrSizedOperandSegments(as_property=True),)

    def __init__(
        self,
        arg: int,
        row: SSAValue | None,
        result_type: VecType,
        offset: SSAValue | None = None,
        row_size: int | None = None,
    ):
        properties = {"arg": IntegerAttr(arg, i64)}
        if offset is not None:
            properties["row_size"] = IntegerAttr(row_size, i64)
        super().__init__(
            operands=[[row] if row is not None else [], [offset] if offset is not None else []],
            properties=properties,
            result_types=[result_type],
        )

    @property
    def position(self) -> int:
        """The argument's position."""
        return self.arg.value.data

    @property
    def width(self) -> int:
        """The number of entries in one row of the argument."""
        return self.result.type.size if self.row_size is None else self.row_size.value.data

    def verify_(self) -> None:
        category = self.result.type.cat
        if (category == "p") != (self.row is None):
            raise VerifyException("kirl.load: a parameter is loaded without a row, a variable with one")
        if (self.offset is None) != (self.row_size is None):
            raise VerifyException("kirl.load: a chunk needs both its first entry and the row size")
        if self.row_size is not None and self.result.type.size > self.width:
            raise VerifyException(
                f"kirl.load: a chunk of {self.result.type.size} entries from rows of {self.width}"
            )

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.position}")
        if self.row is not None:
            printer.print_string("[")
            printer.print_operand(self.row)
            printer.print_string("]")
        if self.offset is not None:
            printer.print_string(" entries ")
            printer.print_operand(self.offset)
            printer.print_string(f" of {self.width}")
        printer.print_string(" : ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> LoadOp:
        arg = parser.parse_integer(allow_boolean=False, allow_negative=False)
        row = offset = row_size = None
        if parser.parse_optional_punctuation("[") is not None:
            row = parser.resolve_operand(parser.parse_unresolved_operand(), IndexType())
            parser.parse_punctuation("]")
        if parser.parse_optional_keyword("entries") is not None:
            offset = parser.resolve_operand(parser.parse_unresolved_operand(), IndexType())
            parser.parse_keyword("of")
            row_size = parser.parse_integer(allow_boolean=False, allow_negative=False)
        parser.parse_punctuation(":")
        result_type = parser.parse_type()
        return cls(arg, row, result_type, offset, row_size)


class OutputRowOp(IRDLOperation, ABC):
    """An op writing a vector into one row of an output buffer."""

    value = operand_def(VecType)
    row = operand_def(IndexType)
    out = prop_def(IntegerAttr[i64])
    assembly_format = "$value `,` $out `[` $row `]` attr-dict `:` type($value)"

    def __init__(self, value: SSAValue, out: int, row: SSAValue):
        super().__init__(operands=[value, row], properties={"out": IntegerAttr(out, i64)})

    @property
    def position(self) -> int:
        """The output's position."""
        return self.out.value.data


@irdl_op_definition
class StoreOp(OutputRowOp):
    """`kirl.store %r, 0[%i]`: write %r to row %i of output 0."""

    name = "kirl.store"


@irdl_op_definition
class AccumulateOp(OutputRowOp):
    """`kirl.accumulate %v, 1[%j]`: add %v to row %j of output 1 (a column sum: a Sum over the
    other index than the kernel's, accumulated in the same pass; the output starts at zero)."""

    name = "kirl.accumulate"


@irdl_op_definition
class AccInitOp(IRDLOperation):
    """`kirl.acc_init : !kirl.acc<sum, 1xf32>`: the state of a reduction over nothing."""

    name = "kirl.acc_init"
    result = result_def(AccType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, acc_type: AccType):
        super().__init__(result_types=[acc_type])


@irdl_op_definition
class AccUpdateOp(IRDLOperation):
    """`kirl.acc_update %acc, %value[, %weight] at %j`: fold the formula value (and weights)
    at index %j into %acc."""

    name = "kirl.acc_update"
    STATE: ClassVar = VarConstraint("STATE", base(AccType))
    acc = operand_def(STATE)
    index = operand_def(IndexType)
    values = var_operand_def(VecType)
    result = result_def(STATE)
    traits = traits_def(Pure())
    assembly_format = "$acc `,` $values `at` $index attr-dict `:` type($acc) `,` type($values)"

    def __init__(self, acc: SSAValue, index: SSAValue, values: Sequence[SSAValue]):
        super().__init__(operands=[acc, index, list(values)], result_types=[acc.type])

    def verify_(self) -> None:
        acc: AccType = self.acc.type
        expected = [acc.dim.data] + ([acc.weight.data] if acc.weight.data else [])
        if [v.type.size for v in self.values] != expected:
            raise VerifyException(
                f"kirl.acc_update: values of dimensions {[v.type.size for v in self.values]} "
                f"do not fit {acc} (expected {expected})"
            )
        for value in self.values:
            if value.type.element_type != acc.element_type:
                raise VerifyException(f"kirl.acc_update: a {value.type.dtype_name} value does not fit {acc}")


@irdl_op_definition
class AccCombineOp(IRDLOperation):
    """`kirl.acc_combine %earlier, %later`: the state of both index ranges, in order."""

    name = "kirl.acc_combine"
    STATE: ClassVar = VarConstraint("STATE", base(AccType))
    earlier = operand_def(STATE)
    later = operand_def(STATE)
    result = result_def(STATE)
    traits = traits_def(Pure())
    assembly_format = "$earlier `,` $later attr-dict `:` type($result)"

    def __init__(self, earlier: SSAValue, later: SSAValue):
        super().__init__(operands=[earlier, later], result_types=[earlier.type])

    def verify_(self) -> None:
        if not self.earlier.type == self.later.type == self.result.type:
            raise VerifyException("kirl.acc_combine: both states and the result share one type")


@irdl_op_definition
class AccFinalizeOp(IRDLOperation):
    """`kirl.acc_finalize %acc : !kirl.acc<...> -> !kir.vec<...>`: the reduction's output row."""

    name = "kirl.acc_finalize"
    acc = operand_def(AccType)
    result = result_def(VecType)
    traits = traits_def(Pure())
    assembly_format = "$acc attr-dict `:` type($acc) `->` type($result)"

    def __init__(self, acc: SSAValue, result_type: VecType):
        super().__init__(operands=[acc], result_types=[result_type])


@irdl_op_definition
class AccReduceLanesOp(IRDLOperation):
    """`kirl.acc_reduce_lanes %acc : !kirl.acc<sum, 1xf32, lanes = 16> -> !kirl.acc<sum, 1xf32>`:
    one state from the partial states of SIMD lanes (lane l saw the indices l modulo lanes)."""

    name = "kirl.acc_reduce_lanes"
    acc = operand_def(AccType)
    result = result_def(AccType)
    traits = traits_def(Pure())
    assembly_format = "$acc attr-dict `:` type($acc) `->` type($result)"

    def __init__(self, acc: SSAValue):
        super().__init__(operands=[acc], result_types=[acc.type.with_lanes(1)])

    def verify_(self) -> None:
        if self.result.type != self.acc.type.with_lanes(1):
            raise VerifyException("kirl.acc_reduce_lanes: the result is the operand's state in one lane")


KIRL = Dialect(
    "kirl",
    [
        FuncOp,
        ReturnOp,
        LoadOp,
        StoreOp,
        AccumulateOp,
        AccInitOp,
        AccUpdateOp,
        AccCombineOp,
        AccReduceLanesOp,
        AccFinalizeOp,
    ],
    [AccType],
)
