"""Loop level (`kirl.func` with `scf.for`, `arith`, `kir` ops) -> LLVM IR, with llvmlite.

Each `kirl.func @name` becomes

    void @name(i64 begin, i64 end, i64 reduced, ptr args, ptr outs)

where `args` and `outs` are arrays of pointers to row-major (rows, dim) buffers. A formula
vector is carried as a Python list of LLVM values, one per entry, and a reduction state as the
list of such lists its rule defines; loops carry them as phi nodes. Each kir op is lowered by
its rule in `kir.registry`, each accumulator op by its rule in `kir.reductions`.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import Float32Type, ModuleOp
from xdsl.ir import Attribute, Block, Operation, SSAValue

from kir.backends.cpu.emitter import I64, LLVMEmitter
from kir.dialect import loops as kirl
from kir.dialect.formula import ConstantOp
from kir.dialect.types import AccType, VecType
from kir.reductions import REDUCTION_RULES, ReductionSpec
from kir.registry import rule_for

PTR = ir.PointerType()
SIGNATURE = ir.FunctionType(ir.VoidType(), [I64, I64, I64, PTR, PTR])


def _float_type(element_type: Attribute) -> ir.Type:
    return ir.FloatType() if isinstance(element_type, Float32Type) else ir.DoubleType()


def _llvm_type(vec: VecType) -> ir.Type:
    return I64 if vec.dtype_name == "i64" else _float_type(vec.element_type)


def _flatten(value: Any) -> list[ir.Value]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


def _unflatten(like: Any, leaves: list[ir.Value]) -> Any:
    """Rebuild `like`'s nesting from `leaves` (consumed from the front)."""
    if isinstance(like, list):
        return [_unflatten(item, leaves) for item in like]
    return leaves.pop(0)


class FunctionTranslator:
    """Translates one `kirl.func` into one LLVM function."""

    def __init__(self, func: kirl.FuncOp, module: ir.Module):
        self.func = func
        self.function = ir.Function(module, SIGNATURE, name=func.sym_name.data)
        self.builder = ir.IRBuilder(self.function.append_basic_block("entry"))
        self.values: dict[SSAValue, Any] = {}
        self.emitters: dict[ir.Type, LLVMEmitter] = {}
        self._pointers: dict[tuple[str, int], ir.Value] = {}
        begin, end, reduced, self.args, self.outs = self.function.args
        for arg, name in zip(self.function.args, ("begin", "end", "reduced", "args", "outs"), strict=True):
            arg.name = name
        for value, arg in zip(func.body.block.args, (begin, end, reduced), strict=True):
            self.values[value] = arg

    def translate(self) -> ir.Function:
        self.translate_block(self.func.body.block)
        return self.function

    def emitter(self, element_type: Attribute) -> LLVMEmitter:
        float_type = _float_type(element_type)
        if float_type not in self.emitters:
            self.emitters[float_type] = LLVMEmitter(self.builder, float_type)
        return self.emitters[float_type]

    def translate_block(self, block: Block) -> list[Any]:
        """Translate `block`'s ops; returns the values its terminator yields, if any."""
        for op in block.ops:
            if isinstance(op, scf.YieldOp):
                return [self.values[v] for v in op.operands]
            self.translate_op(op)
        return []

    def translate_op(self, op: Operation) -> None:
        b = self.builder
        if isinstance(op, arith.ConstantOp):
            result = ir.Constant(I64, op.value.value.data)
        elif isinstance(op, arith.AddiOp):
            result = b.add(self.values[op.lhs], self.values[op.rhs])
        elif isinstance(op, arith.MinUIOp):
            lhs, rhs = self.values[op.lhs], self.values[op.rhs]
            result = b.select(b.icmp_unsigned("<", lhs, rhs), lhs, rhs)
        elif isinstance(op, scf.ForOp):
            for value, result in zip(op.results, self.translate_loop(op), strict=True):
                self.values[value] = result
            return
        elif isinstance(op, kirl.ReturnOp):
            b.ret_void()
            return
        elif isinstance(op, kirl.LoadOp):
            result = self.load(op)
        elif isinstance(op, kirl.StoreOp):
            self.store(op)
            return
        elif isinstance(op, kirl.AccumulateOp):
            self.accumulate_column(op)
            return
        elif isinstance(op, kirl.AccInitOp | kirl.AccUpdateOp | kirl.AccCombineOp | kirl.AccFinalizeOp):
            result = self.accumulate(op)
        elif isinstance(op, ConstantOp):
            em = self.emitter(op.result.type.element_type)
            result = [em.constant(v) for v in op.values]
        else:
            rule = rule_for(op)
            em = self.emitter(op.results[0].type.element_type)
            result = rule.lower(em, *(self.values[v] for v in op.operands), **op.attribute_values)
        self.values[op.results[0]] = result

    def translate_loop(self, loop: scf.ForOp) -> list[Any]:
        """An scf.for as header/body/exit blocks; carried values become phi nodes."""
        b = self.builder
        lower, upper, step = (self.values[v] for v in (loop.lb, loop.ub, loop.step))
        initial = [self.values[v] for v in loop.iter_args]
        flat_initial = _flatten(initial)
        preheader = b.block
        header = self.function.append_basic_block("loop")
        body = self.function.append_basic_block("body")
        exit_block = self.function.append_basic_block("done")
        b.branch(header)

        b.position_at_end(header)
        counter = b.phi(I64, "index")
        counter.add_incoming(lower, preheader)
        phis = [b.phi(v.type) for v in flat_initial]
        for phi, value in zip(phis, flat_initial, strict=True):
            phi.add_incoming(value, preheader)
        b.cbranch(b.icmp_signed("<", counter, upper), body, exit_block)

        b.position_at_end(body)
        block_args = loop.body.block.args
        self.values[block_args[0]] = counter
        carried = _unflatten(initial, list(phis))
        for arg, value in zip(block_args[1:], carried, strict=True):
            self.values[arg] = value
        yielded = self.translate_block(loop.body.block)
        latch = b.block
        counter.add_incoming(b.add(counter, step), latch)
        for phi, value in zip(phis, _flatten(yielded), strict=True):
            phi.add_incoming(value, latch)
        b.branch(header)

        b.position_at_end(exit_block)
        return _unflatten(initial, list(phis))

    def _pointer(self, table: ir.Value, kind: str, position: int) -> ir.Value:
        """The buffer pointer `table[position]`, loaded once in the entry block."""
        key = (kind, position)
        if key not in self._pointers:
            with self.builder.goto_entry_block():
                self.builder.position_at_start(self.function.entry_basic_block)
                slot = self.builder.gep(table, [ir.Constant(I64, position)], source_etype=PTR)
                self._pointers[key] = self.builder.load(slot, typ=PTR)
        return self._pointers[key]

    def _row_entries(self, pointer: ir.Value, row: ir.Value | None, vec: VecType) -> list[ir.Value]:
        """Pointers to the entries of `row` (row 0 when None) of a (rows, dim) buffer."""
        b, dim, entry_type = self.builder, vec.size, _llvm_type(vec)
        start = ir.Constant(I64, 0) if row is None else b.mul(row, ir.Constant(I64, dim))
        return [
            b.gep(pointer, [b.add(start, ir.Constant(I64, k))], inbounds=True, source_etype=entry_type)
            for k in range(dim)
        ]

    def load(self, op: kirl.LoadOp) -> list[ir.Value]:
        vec = op.result.type
        pointer = self._pointer(self.args, "arg", op.position)
        row = None if op.row is None else self.values[op.row]
        return [self.builder.load(p, typ=_llvm_type(vec)) for p in self._row_entries(pointer, row, vec)]

    def store(self, op: kirl.StoreOp) -> None:
        pointer = self._pointer(self.outs, "out", op.position)
        entries = self.values[op.value]
        for address, entry in zip(
            self._row_entries(pointer, self.values[op.row], op.value.type), entries, strict=True
        ):
            self.builder.store(entry, address)

    def accumulate_column(self, op: kirl.AccumulateOp) -> None:
        pointer = self._pointer(self.outs, "out", op.position)
        vec = op.value.type
        em = self.emitter(vec.element_type)
        addresses = self._row_entries(pointer, self.values[op.row], vec)
        for address, entry in zip(addresses, self.values[op.value], strict=True):
            self.builder.store(em.add(self.builder.load(address, typ=_llvm_type(vec)), entry), address)

    def accumulate(self, op: Operation) -> Any:
        acc_type: AccType = (op.acc if isinstance(op, kirl.AccFinalizeOp) else op.result).type
        spec = ReductionSpec(acc_type.kind.data, acc_type.dim.data, acc_type.weight.data, acc_type.k.data)
        rule = REDUCTION_RULES[spec.kind]
        em = self.emitter(acc_type.element_type)
        if isinstance(op, kirl.AccInitOp):
            return rule.init(em, spec)
        if isinstance(op, kirl.AccUpdateOp):
            value, *weight = (self.values[v] for v in op.values)
            return rule.update(
                em, spec, self.values[op.acc], value, weight[0] if weight else None, self.values[op.index]
            )
        if isinstance(op, kirl.AccCombineOp):
            return rule.combine(em, spec, self.values[op.earlier], self.values[op.later])
        return rule.finalize(em, spec, self.values[op.acc])


def to_llvm_module(module: ModuleOp, triple: str = "", data_layout: str = "") -> ir.Module:
    """An LLVM module with one function per `kirl.func` of `module`."""
    llvm_module = ir.Module(name="kir")
    llvm_module.triple = triple
    llvm_module.data_layout = data_layout
    functions = [op for op in module.walk() if isinstance(op, kirl.FuncOp)]
    if not functions:
        raise ValueError("no kirl.func to translate: run kir-lower-to-loops first")
    for func in functions:
        FunctionTranslator(func, llvm_module).translate()
    return llvm_module
