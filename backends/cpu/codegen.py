"""Loop level (`kirl.func` with `scf.for`, `arith`, `kir` ops) -> LLVM IR, with llvmlite.

Each `kirl.func @name` becomes

    void @name(i64 begin, i64 end, i64 reduced, ptr args, ptr outs)

where `args` and `outs` are arrays of pointers to row-major (rows, dim) buffers. A formula
vector is carried as a Python list of LLVM values, one per entry, and a reduction state as the
list of such lists its rule defines; loops carry them as phi nodes. Each kir op is lowered by
its rule in `kir.registry`, each accumulator op by its rule in `kir.reductions`.

In a loop marked `kirl.lanes = W` (kir-vectorize), values that depend on the loop's index are
SIMD vectors of W lanes, lane l for index %j + l; the rules are the same, run by an emitter of
W lanes, and values without lanes are broadcast where they meet. Such a function reads the
arguments of the reduced index in lane groups, padded: (N rounded up to W) / W groups of
(dim, W), so that entry k of rows j .. j + W - 1 is one vector load and a group's rows sit in
a few contiguous cache lines and pages (a plain transposed (dim, N) layout spreads a group of
a wide vector over dim pages: TLB misses). Column sums (`kirl.accumulate`) are added in float64
buffers whatever the kernel's type, in the same layout as the reduced index's arguments: the
runtime converts them (kir/kernel.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llvmlite import ir
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import Float32Type, ModuleOp
from xdsl.ir import Attribute, Block, Operation, SSAValue

from kir.backends.cpu.constants import splat, undefined
from kir.backends.cpu.emitter import I64, LLVMEmitter
from kir.dialect import loops as kirl
from kir.dialect.elementwise import AddOp
from kir.dialect.formula import ConstantOp
from kir.dialect.types import AccType, VecType
from kir.reductions import REDUCTION_RULES, ReductionSpec
from kir.registry import rule_for

DOUBLE = ir.DoubleType()

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


def function_lanes(func: kirl.FuncOp) -> int:
    """The SIMD width of `func`'s lane loops (1: none)."""
    for op in func.walk():
        if isinstance(op, scf.ForOp) and "kirl.lanes" in op.attributes:
            return op.attributes["kirl.lanes"].value.data
    return 1


def _added_once(op: Operation) -> bool:
    """`op`'s one-entry result is read by one kir.add only, to a one-entry total."""
    result = op.results[0]
    if result.type.size != 1 or result.uses.get_length() != 1:
        return False
    user = next(iter(result.uses)).operation
    return isinstance(user, AddOp) and all(v.type.size == 1 for v in user.operands)


def _unflatten(like: Any, leaves: list[ir.Value]) -> Any:
    """Rebuild `like`'s nesting from `leaves` (consumed from the front)."""
    if isinstance(like, list):
        return [_unflatten(item, leaves) for item in like]
    return leaves.pop(0)


@dataclass
class LaneLoop:
    """The loop being translated with SIMD lanes: its index value, its width, and where the
    range ends when this group of lanes may pass it (None: every lane is inside)."""

    index: SSAValue
    counter: ir.Value
    upper: ir.Value | None
    lanes: int


class FunctionTranslator:
    """Translates one `kirl.func` into one LLVM function."""

    def __init__(self, func: kirl.FuncOp, module: ir.Module):
        self.func = func
        self.function = ir.Function(module, SIGNATURE, name=func.sym_name.data)
        # Spilled vectors (32 or 64 bytes) straddle cache lines when the caller's stack is only
        # 16-byte aligned: measured 1.5x slower in one process of four, by where its stack lay.
        self.function.attributes.add("nounwind")
        self.function.attributes.alignstack = 64
        self.builder = ir.IRBuilder(self.function.append_basic_block("entry"))
        self.values: dict[SSAValue, Any] = {}
        self.laned: set[SSAValue] = set()
        self.lane_loop: LaneLoop | None = None
        self.lanes = function_lanes(func)
        self.emitters: dict[tuple[ir.Type, int], LLVMEmitter] = {}
        self._pointers: dict[tuple[str, int], ir.Value] = {}
        self.deferred: dict[SSAValue, Operation] = {}
        begin, end, self.reduced, self.args, self.outs = self.function.args
        for arg, name in zip(self.function.args, ("begin", "end", "reduced", "args", "outs"), strict=True):
            arg.name = name
        for value, arg in zip(func.body.block.args, (begin, end, self.reduced), strict=True):
            self.values[value] = arg

    def translate(self) -> ir.Function:
        self.translate_block(self.func.body.block)
        return self.function

    def emitter(self, element_type: Attribute, lanes: int = 1) -> LLVMEmitter:
        float_type = _float_type(element_type)
        if (float_type, lanes) not in self.emitters:
            self.emitters[float_type, lanes] = LLVMEmitter(self.builder, float_type, lanes)
        return self.emitters[float_type, lanes]

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
        elif isinstance(op, arith.SubiOp):
            result = b.sub(self.values[op.lhs], self.values[op.rhs])
        elif isinstance(op, arith.RemUIOp):
            result = b.urem(self.values[op.lhs], self.values[op.rhs])
        elif isinstance(op, arith.MinUIOp):
            lhs, rhs = self.values[op.lhs], self.values[op.rhs]
            result = b.select(b.icmp_unsigned("<", lhs, rhs), lhs, rhs)
        elif isinstance(op, arith.CmpiOp) and op.predicate.value.data == 6:  # ult
            result = b.icmp_unsigned("<", self.values[op.lhs], self.values[op.rhs])
        elif isinstance(op, scf.IfOp):
            with b.if_then(self.values[op.cond]):
                self.translate_block(op.true_region.block)
            return
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
        elif isinstance(
            op,
            kirl.AccInitOp
            | kirl.AccUpdateOp
            | kirl.AccCombineOp
            | kirl.AccReduceLanesOp
            | kirl.AccFinalizeOp,
        ):
            result = self.accumulate(op)
        elif isinstance(op, ConstantOp):
            em = self.emitter(op.result.type.element_type)
            result = [em.constant(v) for v in op.values]
        else:
            result = self.formula_op(op)
            if result is None:  # deferred to the addition that reads it
                return
        self.values[op.results[0]] = result

    def formula_op(self, op: Operation) -> list[ir.Value] | None:
        """A kir op by its rule; with lanes when an operand has them. A sum over entries read
        only by an addition is left to that addition (None), which runs it into its total."""
        rule = rule_for(op)
        if rule.lower_into is not None and _added_once(op):
            self.deferred[op.results[0]] = op
            return None
        if isinstance(op, AddOp):
            for total, term in (op.operands, op.operands[::-1]):
                if term in self.deferred:
                    inner = self.deferred.pop(term)
                    if total in self.deferred:  # two sums added: the other one is lowered alone
                        other = self.deferred.pop(total)
                        self.values[total] = self.lower(
                            other, rule_for(other).lower, list(other.operands), {}
                        )
                    return self.lower(op, rule_for(inner).lower_into, [total, *inner.operands], {})
        return self.lower(op, rule.lower, list(op.operands), op.attribute_values)

    def lower(
        self, op: Operation, lowering: Any, operands: list[SSAValue], attributes: dict
    ) -> list[ir.Value]:
        """`lowering(emitter, *operand entries, **attributes)`, with lanes when an operand has them."""
        entries = [self.values[v] for v in operands]
        lanes = 1
        if any(v in self.laned for v in operands):
            lanes = self.lane_loop.lanes
            entries = [
                e if v in self.laned else [self.broadcast(x, lanes) for x in e]
                for v, e in zip(operands, entries, strict=True)
            ]
            self.laned.add(op.results[0])
        em = self.emitter(op.results[0].type.element_type, lanes)
        return lowering(em, *entries, **attributes)

    def broadcast(self, value: ir.Value, lanes: int) -> ir.Value:
        """`value` in every one of `lanes` lanes."""
        vector = ir.VectorType(value.type, lanes)
        single = self.builder.insert_element(undefined(vector), value, ir.Constant(ir.IntType(32), 0))
        zeros = splat(ir.VectorType(ir.IntType(32), lanes), 0)
        return self.builder.shuffle_vector(single, undefined(vector), zeros)

    def lane_indices(self) -> ir.Value:
        """The reduced index of each lane: %j + l."""
        lane_loop = self.lane_loop
        steps = ir.Constant(ir.VectorType(I64, lane_loop.lanes), list(range(lane_loop.lanes)))
        return self.builder.add(self.broadcast(lane_loop.counter, lane_loop.lanes), steps)

    def lanes_inside(self) -> ir.Value:
        """Which lanes' indices are below the loop's end: lane l < end - %j, compared in 32-bit
        lanes (the count is clamped to [0, W] first), half the work of comparing indices."""
        b, lane_loop = self.builder, self.lane_loop
        left = b.sub(lane_loop.upper, lane_loop.counter)
        width = ir.Constant(I64, lane_loop.lanes)
        left = b.select(b.icmp_signed("<", left, width), left, width)
        left = b.select(b.icmp_signed("<", left, ir.Constant(I64, 0)), ir.Constant(I64, 0), left)
        i32 = ir.IntType(32)
        steps = ir.Constant(ir.VectorType(i32, lane_loop.lanes), list(range(lane_loop.lanes)))
        return b.icmp_signed("<", steps, self.broadcast(b.trunc(left, i32), lane_loop.lanes))

    def translate_loop(self, loop: scf.ForOp) -> list[Any]:
        """An scf.for as header/body/exit blocks; carried values become phi nodes.

        A lane loop runs its whole groups of lanes without any mask, then, when the range
        ends inside a group, that last group once more with the lanes past the end masked out
        of the states: the mask costs nothing in the loop itself."""
        lower, upper, step = (self.values[v] for v in (loop.lb, loop.ub, loop.step))
        initial = [self.values[v] for v in loop.iter_args]
        if "kirl.lanes" not in loop.attributes:
            results = self._emit_loop(loop, lower, upper, step, initial, None)
        else:
            b = self.builder
            lanes = loop.attributes["kirl.lanes"].value.data
            span = b.sub(upper, lower)
            span = b.select(b.icmp_signed("<", span, ir.Constant(I64, 0)), ir.Constant(I64, 0), span)
            whole_end = b.add(lower, b.sub(span, b.urem(span, ir.Constant(I64, lanes))))
            whole = self._emit_loop(loop, lower, whole_end, step, initial, lanes)
            results = self._emit_last_group(loop, whole_end, upper, whole, lanes)
        for result, init in zip(loop.results, loop.iter_args, strict=True):
            if init in self.laned:
                self.laned.add(result)
        return results

    def _emit_loop(
        self,
        loop: scf.ForOp,
        lower: ir.Value,
        upper: ir.Value,
        step: ir.Value,
        initial: list[Any],
        lanes: int | None,
    ) -> list[Any]:
        """The loop from `lower` to `upper`; `lanes` marks a lane loop whose groups of lanes
        are all whole (no lane past the end)."""
        b = self.builder
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
        carried = _unflatten(initial, list(phis))
        lane_loop = None if lanes is None else LaneLoop(loop.body.block.args[0], counter, None, lanes)
        yielded = self._emit_body(loop, counter, carried, lane_loop)
        latch = b.block
        counter.add_incoming(b.add(counter, step), latch)
        for phi, value in zip(phis, _flatten(yielded), strict=True):
            phi.add_incoming(value, latch)
        b.branch(header)

        b.position_at_end(exit_block)
        return _unflatten(initial, list(phis))

    def _emit_last_group(
        self, loop: scf.ForOp, start: ir.Value, upper: ir.Value, carried: list[Any], lanes: int
    ) -> list[Any]:
        """The body once at `start` with lanes at or past `upper` masked, if `start` < `upper`."""
        b = self.builder
        before = b.block
        partial = self.function.append_basic_block("last_group")
        done = self.function.append_basic_block("after_last_group")
        b.cbranch(b.icmp_signed("<", start, upper), partial, done)
        b.position_at_end(partial)
        lane_loop = LaneLoop(loop.body.block.args[0], start, upper, lanes)
        yielded = self._emit_body(loop, start, carried, lane_loop)
        partial_end = b.block
        b.branch(done)
        b.position_at_end(done)
        merged = []
        for old, new in zip(_flatten(carried), _flatten(yielded), strict=True):
            phi = b.phi(old.type)
            phi.add_incoming(old, before)
            phi.add_incoming(new, partial_end)
            merged.append(phi)
        return _unflatten(carried, merged)

    def _emit_body(
        self, loop: scf.ForOp, counter: ir.Value, carried: list[Any], lane_loop: LaneLoop | None
    ) -> list[Any]:
        """`loop`'s body at index `counter` with `carried` states; returns what it yields."""
        block_args = loop.body.block.args
        self.values[block_args[0]] = counter
        for arg, init, value in zip(block_args[1:], loop.iter_args, carried, strict=True):
            self.values[arg] = value
            if init in self.laned:
                self.laned.add(arg)
        outer_lane_loop = self.lane_loop
        if lane_loop is not None:
            self.lane_loop = lane_loop
        yielded = self.translate_block(loop.body.block)
        self.lane_loop = outer_lane_loop
        return yielded

    def _pointer(self, table: ir.Value, kind: str, position: int) -> ir.Value:
        """The buffer pointer `table[position]`, loaded once in the entry block."""
        key = (kind, position)
        if key not in self._pointers:
            with self.builder.goto_entry_block():
                self.builder.position_at_start(self.function.entry_basic_block)
                slot = self.builder.gep(table, [ir.Constant(I64, position)], source_etype=PTR)
                self._pointers[key] = self.builder.load(slot, typ=PTR)
        return self._pointers[key]

    def _row_entries(
        self,
        pointer: ir.Value,
        row: ir.Value | None,
        dim: int,
        width: int,
        first: ir.Value | None,
        etype: ir.Type,
    ) -> list[ir.Value]:
        """Pointers to entries first .. first + dim - 1 of `row` (row 0 when None) of a
        (rows, width) buffer."""
        b = self.builder
        start = ir.Constant(I64, 0) if row is None else b.mul(row, ir.Constant(I64, width))
        if first is not None:
            start = b.add(start, first)
        return [
            b.gep(pointer, [b.add(start, ir.Constant(I64, k))], inbounds=True, source_etype=etype)
            for k in range(dim)
        ]

    def _lane_entries(
        self, pointer: ir.Value, dim: int, width: int, first: ir.Value | None, etype: ir.Type
    ) -> list[ir.Value]:
        """Pointers to entry k (k = first, first + 1, ...) of rows %j .. %j + lanes - 1 of a
        buffer in lane groups: (rows / lanes, width, lanes), one group's rows contiguous."""
        b, lanes = self.builder, self.lane_loop.lanes
        group = b.mul(self.lane_loop.counter, ir.Constant(I64, width))
        addresses = []
        for k in range(dim):
            entry = ir.Constant(I64, k) if first is None else b.add(first, ir.Constant(I64, k))
            offset = b.add(group, b.mul(entry, ir.Constant(I64, lanes)))
            addresses.append(b.gep(pointer, [offset], inbounds=True, source_etype=etype))
        return addresses

    def _at_lanes(self, row: SSAValue | None) -> bool:
        return self.lane_loop is not None and row is self.lane_loop.index

    def load(self, op: kirl.LoadOp) -> list[ir.Value]:
        vec = op.result.type
        etype = _llvm_type(vec)
        pointer = self._pointer(self.args, "arg", op.position)
        first = None if op.offset is None else self.values[op.offset]
        if self._at_lanes(op.row):
            self.laned.add(op.result)
            vector = ir.VectorType(etype, self.lane_loop.lanes)
            return [
                self.builder.load(p, typ=vector, align=4 if isinstance(etype, ir.FloatType) else 8)
                for p in self._lane_entries(pointer, vec.size, op.width, first, etype)
            ]
        row = None if op.row is None else self.values[op.row]
        return [
            self.builder.load(p, typ=etype)
            for p in self._row_entries(pointer, row, vec.size, op.width, first, etype)
        ]

    def store(self, op: kirl.StoreOp) -> None:
        pointer = self._pointer(self.outs, "out", op.position)
        entries = self.values[op.value]
        vec = op.value.type
        addresses = self._row_entries(pointer, self.values[op.row], vec.size, vec.size, None, _llvm_type(vec))
        for address, entry in zip(addresses, entries, strict=True):
            self.builder.store(entry, address)

    def accumulate_column(self, op: kirl.AccumulateOp) -> None:
        b = self.builder
        pointer = self._pointer(self.outs, "out", op.position)
        vec = op.value.type
        entries = self.values[op.value]
        if self._at_lanes(op.row):
            lanes = self.lane_loop.lanes
            if op.value not in self.laned:
                entries = [self.broadcast(e, lanes) for e in entries]
            addresses = self._lane_entries(pointer, vec.size, vec.size, None, DOUBLE)
            value_type = ir.VectorType(DOUBLE, lanes)
        else:
            addresses = self._row_entries(pointer, self.values[op.row], vec.size, vec.size, None, DOUBLE)
            value_type = DOUBLE
        for address, entry in zip(addresses, entries, strict=True):
            if entry.type != value_type:
                entry = b.fpext(entry, value_type)
            b.store(b.fadd(b.load(address, typ=value_type, align=8), entry), address, align=8)

    def accumulate(self, op: Operation) -> Any:
        acc_type: AccType = (
            op.acc if isinstance(op, kirl.AccFinalizeOp | kirl.AccReduceLanesOp) else op.result
        ).type
        spec = ReductionSpec(acc_type.kind.data, acc_type.dim.data, acc_type.weight.data, acc_type.k.data)
        rule = REDUCTION_RULES[spec.kind]
        lanes = acc_type.lanes.data
        em = self.emitter(acc_type.element_type, lanes)
        if isinstance(op, kirl.AccInitOp):
            return rule.init(em, spec)
        if isinstance(op, kirl.AccUpdateOp):
            if lanes == 1 and self.lane_loop is not None:
                return self.filtered_update(op, rule, spec, acc_type)
            return self.update(op, rule, spec, em)
        if isinstance(op, kirl.AccCombineOp):
            return rule.combine(em, spec, self.values[op.earlier], self.values[op.later])
        if isinstance(op, kirl.AccReduceLanesOp):
            return self.reduce_lanes(rule, spec, acc_type, self.values[op.acc])
        return rule.finalize(em, spec, self.values[op.acc])

    def update(self, op: kirl.AccUpdateOp, rule: Any, spec: ReductionSpec, em: LLVMEmitter) -> Any:
        state = self.values[op.acc]
        value, *weight = (self.values[v] for v in op.values)
        if em.lanes == 1:
            return rule.update(em, spec, state, value, weight[0] if weight else None, self.values[op.index])
        value, *weight = (
            entries if v in self.laned else [self.broadcast(e, em.lanes) for e in entries]
            for v, entries in zip(op.values, (value, *weight), strict=True)
        )
        indices = self.lane_indices()
        updated = rule.update(em, spec, state, value, weight[0] if weight else None, indices)
        if self.lane_loop.upper is None:
            return updated
        # Lanes past the loop's end (the last, partial group of indices) keep their state.
        inside = self.lanes_inside()
        return _unflatten(
            updated,
            [
                em.select(inside, new, old)
                for new, old in zip(_flatten(updated), _flatten(state), strict=True)
            ],
        )

    def filtered_update(self, op: kirl.AccUpdateOp, rule: Any, spec: ReductionSpec, acc_type: AccType) -> Any:
        """One state, a vector of values: the lanes the rule admits (and inside the loop) are
        folded in one by one in index order, in a branch taken only when some lane is admitted.

        The branch loops over the admitted lanes' bits (lowest first), so the update's code
        appears once, not once per lane: a K-min update is tens of instructions, and W copies of
        it per row made the compile slow and the loop's registers scarce."""
        b = self.builder
        lanes = self.lane_loop.lanes
        lane_em, em = self.emitter(acc_type.element_type, lanes), self.emitter(acc_type.element_type)
        state = self.values[op.acc]
        value, *weight = (
            self.values[v] if v in self.laned else [self.broadcast(e, lanes) for e in self.values[v]]
            for v in op.values
        )
        broadcast_state = [[self.broadcast(e, lanes) for e in component] for component in state]
        admitted = rule.admits(lane_em, spec, broadcast_state, value)
        if self.lane_loop.upper is not None:
            admitted = b.and_(admitted, self.lanes_inside())
        bits = b.zext(b.bitcast(admitted, ir.IntType(lanes)), I64)
        zero = ir.Constant(I64, 0)
        before = b.block
        lane_block = self.function.append_basic_block("admitted_lane")
        done_block = self.function.append_basic_block("admitted_done")
        b.cbranch(b.icmp_unsigned("!=", bits, zero), lane_block, done_block).set_weights([1, 1000])

        b.position_at_end(lane_block)
        left = b.phi(I64, "lanes_left")
        left.add_incoming(bits, before)
        flat_state = _flatten(state)
        phis = [b.phi(v.type) for v in flat_state]
        for phi, old in zip(phis, flat_state, strict=True):
            phi.add_incoming(old, before)
        folded = _unflatten(state, list(phis))
        module = self.function.module
        cttz = module.globals.get("llvm.cttz.i64") or ir.Function(
            module, ir.FunctionType(I64, [I64, ir.IntType(1)]), "llvm.cttz.i64"
        )
        lane = b.call(cttz, [left, ir.Constant(ir.IntType(1), 1)])
        entries = [b.extract_element(e, lane) for e in value]
        weights = [b.extract_element(e, lane) for e in weight[0]] if weight else None
        updated = rule.update(em, spec, folded, entries, weights, b.add(self.lane_loop.counter, lane))
        rest = b.and_(left, b.sub(left, ir.Constant(I64, 1)))
        lane_end = b.block
        left.add_incoming(rest, lane_end)
        for phi, new in zip(phis, _flatten(updated), strict=True):
            phi.add_incoming(new, lane_end)
        b.cbranch(b.icmp_unsigned("!=", rest, zero), lane_block, done_block)

        b.position_at_end(done_block)
        merged = []
        for old, new in zip(flat_state, _flatten(updated), strict=True):
            phi = b.phi(old.type)
            phi.add_incoming(old, before)
            phi.add_incoming(new, lane_end)
            merged.append(phi)
        return _unflatten(state, merged)

    def reduce_lanes(self, rule: Any, spec: ReductionSpec, acc_type: AccType, state: Any) -> Any:
        """One state from the lanes' states: halves combined lane by lane while the width is
        even (log2 W vector steps instead of W - 1 scalar ones: a whole row's cost for 100
        pairs), then what is left folded in lane order. Every rule's combine is free of order
        (sums add, ranked states break ties by index), so the tree gives what the fold gives,
        up to the rounding of sums."""
        b = self.builder
        width = acc_type.lanes.data
        i32 = ir.IntType(32)
        while width > 1 and width % 2 == 0:
            half = width // 2
            leaves = _flatten(state)
            if half == 1:
                parts = [[b.extract_element(leaf, ir.Constant(i32, k)) for leaf in leaves] for k in (0, 1)]
            else:
                parts = [
                    [
                        b.shuffle_vector(
                            leaf, undefined(leaf.type), ir.Constant(ir.VectorType(i32, half), lanes)
                        )
                        for leaf in leaves
                    ]
                    for lanes in (list(range(half)), list(range(half, width)))
                ]
            em = self.emitter(acc_type.element_type, half)
            state = rule.combine(em, spec, _unflatten(state, parts[0]), _unflatten(state, parts[1]))
            width = half
        if width == 1:
            return state
        em = self.emitter(acc_type.element_type)
        leaves = _flatten(state)
        lanes = [
            _unflatten(state, [b.extract_element(leaf, ir.Constant(I64, lane)) for leaf in leaves])
            for lane in range(width)
        ]
        folded = lanes[0]
        for lane_state in lanes[1:]:
            folded = rule.combine(em, spec, folded, lane_state)
        return folded


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
