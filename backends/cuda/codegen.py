"""KeOps' 1D scheme as LLVM IR for NVPTX: one thread per output row, the reduced variables
staged through shared memory one tile (a block's worth of rows) at a time by the whole block,
the reduction state in registers.

    row = blockIdx.x * blockDim.x + threadIdx.x
    load the row's variables (rows past the end load nothing)
    for tile in 0, T, 2T, ... < N:
        thread t copies reduced row tile + t into shared memory; barrier
        for each row of the tile: the formula, then the reduction's update
        barrier
    finalize, store the row

Ops are lowered by their rules from kir/registry.py and reductions by kir/reductions.py, as
on the CPU, through `DeviceEmitter`: the CPU emitter on scalars, with libdevice's functions
for the math. Arguments are pointers to row-major arrays, in the kernel's argument order,
then the outputs, then the sizes (i32): rows, reduced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from kir.autodiff import expand
from kir.backends.cpu.emitter import LLVMEmitter
from kir.dialect.formula import ConstantOp, VarOp
from kir.emitter import MATH_FUNCTIONS
from kir.errors import KirError
from kir.reductions import REDUCTION_RULES, ReductionSpec
from kir.registry import OP_RULES

if TYPE_CHECKING:
    from kir.kernel import Kernel

I32 = ir.IntType(32)
I64 = ir.IntType(64)
SHARED = 3
"""NVPTX's address space of shared memory."""

DEFAULT_BLOCK = 192
"""Threads per block (KeOps' default for the 1D scheme)."""


class DeviceEmitter(LLVMEmitter):
    """The scalar CPU emitter with libdevice's math (__nv_expf, __nv_exp, ...)."""

    def math(self, name: str, *args: ir.Value) -> ir.Value:
        if MATH_FUNCTIONS.get(name) != len(args):
            raise ValueError(f"unknown math function {name} of {len(args)} argument(s)")
        single = isinstance(self.float_type, ir.FloatType)
        symbol = f"__nv_{name}{'f' if single else ''}"
        function = self._module.globals.get(symbol)
        if function is None:
            signature = ir.FunctionType(self.float_type, [self.float_type] * len(args))
            function = ir.Function(self._module, signature, symbol)
        return self.builder.call(function, list(args))


def _sreg(builder: ir.IRBuilder, name: str) -> ir.Value:
    module = builder.module
    symbol = f"llvm.nvvm.read.ptx.sreg.{name}"
    function = module.globals.get(symbol) or ir.Function(module, ir.FunctionType(I32, []), symbol)
    return builder.call(function, [])


def _barrier(builder: ir.IRBuilder) -> None:
    module = builder.module
    symbol = "llvm.nvvm.barrier0"
    function = module.globals.get(symbol) or ir.Function(module, ir.FunctionType(ir.VoidType(), []), symbol)
    builder.call(function, [])


SHARED_BYTES = 48 * 1024
"""Static shared memory a block may declare (every architecture since sm_20)."""


def tile_width(kernel: Kernel) -> int:
    """Entries of the reduced index's variables per row: one row of the shared tile."""
    reduced_category = "j" if kernel.axis == 1 else "i"
    return sum(s.dim for s in kernel.args if s.category == reduced_category)


def fit_block(kernel: Kernel, dtype: str, requested: int = DEFAULT_BLOCK) -> int:
    """Threads per block: `requested`, or fewer (a multiple of 32) when the tile would not fit
    in shared memory; a KirError when even 32 rows do not (the chunked scheme is needed)."""
    row_bytes = tile_width(kernel) * (4 if dtype == "float32" else 8)
    if row_bytes * 32 > SHARED_BYTES:
        raise KirError(
            f"the reduced variables take {row_bytes} bytes a row: a tile of 32 rows exceeds shared "
            "memory; such wide variables need the chunked scheme, not written yet"
        )
    fitting = (SHARED_BYTES // max(row_bytes, 1)) // 32 * 32
    return min(requested, fitting)


def kernel_ir(
    kernel: Kernel, dtype: str = "float32", block: int = DEFAULT_BLOCK, name: str = "kir_kernel"
) -> str:
    """LLVM IR (text, triple nvptx64-nvidia-cuda) of `kernel` in the 1D scheme, for blocks of
    `fit_block(kernel, dtype, block)` threads (launch it with that many)."""
    block = fit_block(kernel, dtype, block)
    axis = kernel.axis
    if any(r.axis != axis for r in kernel.reductions):
        raise KirError("the 1D scheme reduces over one index; column sums are not lowered yet")
    float_type = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    row_category, reduced_category = ("i", "j") if axis == 1 else ("j", "i")
    module = ir.Module(name="kir_cuda")
    module.triple = "nvptx64-nvidia-cuda"
    output_types = kernel.output_types()
    arg_types = [ir.PointerType(float_type) for _ in kernel.args]
    out_types = [ir.PointerType(I64 if t.dtype_name == "i64" else float_type) for t in output_types]
    function = ir.Function(module, ir.FunctionType(ir.VoidType(), [*arg_types, *out_types, I32, I32]), name)
    function.calling_convention = "ptx_kernel"
    args = function.args[: len(arg_types)]
    outs = function.args[len(arg_types) : len(arg_types) + len(out_types)]
    rows, reduced = function.args[-2:]

    reduced_specs = [s for s in kernel.args if s.category == reduced_category]
    offsets, width = {}, 0
    for spec in reduced_specs:
        offsets[spec.position] = width
        width += spec.dim
    tile = ir.GlobalVariable(
        module, ir.ArrayType(float_type, max(1, block * width)), "tile", addrspace=SHARED
    )
    tile.linkage = "internal"
    tile.initializer = ir.Constant(ir.ArrayType(float_type, max(1, block * width)), ir.Undefined)

    element_bytes = 4 if dtype == "float32" else 8
    entry = function.append_basic_block("entry")
    builder = ir.IRBuilder(entry)
    em = DeviceEmitter(builder, float_type)
    thread = _sreg(builder, "tid.x")
    row = builder.add(builder.mul(_sreg(builder, "ctaid.x"), _sreg(builder, "ntid.x")), thread)
    active = builder.icmp_signed("<", row, rows)
    safe_row = builder.select(active, row, ir.Constant(I32, 0))  # rows past the end read row 0

    def entries_at(pointer: ir.Value, index: ir.Value, dim: int) -> list[ir.Value]:
        base = builder.mul(builder.sext(index, I64), ir.Constant(I64, dim))
        return [
            builder.load(builder.gep(pointer, [builder.add(base, ir.Constant(I64, d))])) for d in range(dim)
        ]

    fixed: dict[int, list[ir.Value]] = {}
    for spec, pointer in zip(kernel.args, args, strict=True):
        if spec.category == row_category:
            fixed[spec.position] = entries_at(pointer, safe_row, spec.dim)
        elif spec.category == "p":
            fixed[spec.position] = entries_at(pointer, ir.Constant(I32, 0), spec.dim)

    plans = []
    for r in kernel.reductions:
        spec = ReductionSpec(r.kind, r.formula.dim, r.weight.dim if r.weight is not None else 0, r.k or 0)
        rule = REDUCTION_RULES[r.kind]
        state = rule.init(em, spec)
        slots = [[builder.alloca(v.type) for v in component] for component in state]
        for component, values in zip(slots, state, strict=True):
            for slot, value in zip(component, values, strict=True):
                builder.store(value, slot)
        roots = [expand(r.formula)] + ([expand(r.weight)] if r.weight is not None else [])
        plans.append((r, spec, rule, slots, roots))

    tile_head = function.append_basic_block("tile_head")
    tile_load = function.append_basic_block("tile_load")
    tile_loaded = function.append_basic_block("tile_loaded")
    pair_head = function.append_basic_block("pair_head")
    pair_body = function.append_basic_block("pair_body")
    tile_end = function.append_basic_block("tile_end")
    finish = function.append_basic_block("finish")
    store_row = function.append_basic_block("store_row")
    done = function.append_basic_block("done")
    builder.branch(tile_head)

    builder.position_at_end(tile_head)
    start = builder.phi(I32, "tile_start")
    start.add_incoming(ir.Constant(I32, 0), entry)
    builder.cbranch(builder.icmp_signed("<", start, reduced), tile_load, finish)

    builder.position_at_end(tile_load)
    source = builder.add(start, thread)
    present = builder.icmp_signed("<", source, reduced)
    safe_source = builder.select(present, source, ir.Constant(I32, 0))
    slot_base = builder.mul(builder.sext(thread, I64), ir.Constant(I64, width))
    for spec, pointer in zip(kernel.args, args, strict=True):
        if spec.category == reduced_category:
            for d, value in enumerate(entries_at(pointer, safe_source, spec.dim)):
                index = builder.add(slot_base, ir.Constant(I64, offsets[spec.position] + d))
                builder.store(value, builder.gep(tile, [ir.Constant(I64, 0), index]))
    _barrier(builder)
    count = builder.sub(reduced, start)
    count = builder.select(
        builder.icmp_signed("<", count, ir.Constant(I32, block)), count, ir.Constant(I32, block)
    )
    count = builder.select(active, count, ir.Constant(I32, 0))  # idle threads only help load
    builder.branch(tile_loaded)

    builder.position_at_end(tile_loaded)
    builder.branch(pair_head)
    builder.position_at_end(pair_head)
    local = builder.phi(I32, "pair")
    local.add_incoming(ir.Constant(I32, 0), tile_loaded)
    builder.cbranch(builder.icmp_signed("<", local, count), pair_body, tile_end)

    builder.position_at_end(pair_body)
    pair_base = builder.mul(builder.sext(local, I64), ir.Constant(I64, width))
    values = dict(fixed)
    for spec in reduced_specs:
        values[spec.position] = [
            builder.load(
                builder.gep(
                    tile,
                    [
                        ir.Constant(I64, 0),
                        builder.add(pair_base, ir.Constant(I64, offsets[spec.position] + d)),
                    ],
                )
            )
            for d in range(spec.dim)
        ]
    reduced_index = builder.sext(builder.add(start, local), I64)
    for _r, spec, rule, slots, roots in plans:
        computed = [_formula(root, values, em) for root in roots]
        state = [[builder.load(slot) for slot in component] for component in slots]
        weights = computed[1] if len(computed) > 1 else None
        state = rule.update(em, spec, state, computed[0], weights, reduced_index)
        for component, new in zip(slots, state, strict=True):
            for slot, value in zip(component, new, strict=True):
                builder.store(value, slot)
    next_local = builder.add(local, ir.Constant(I32, 1))
    local.add_incoming(next_local, builder.block)
    builder.branch(pair_head)

    builder.position_at_end(tile_end)
    _barrier(builder)
    start.add_incoming(builder.add(start, ir.Constant(I32, block)), tile_end)
    builder.branch(tile_head)

    builder.position_at_end(finish)
    builder.cbranch(active, store_row, done)
    builder.position_at_end(store_row)
    for (_r, spec, rule, slots, _roots), out, t in zip(plans, outs, output_types, strict=True):
        state = [[builder.load(slot) for slot in component] for component in slots]
        result = rule.finalize(em, spec, state)
        base = builder.mul(builder.sext(row, I64), ir.Constant(I64, t.size))
        for d, value in enumerate(result):
            size = 8 if value.type == I64 else element_bytes
            builder.store(value, builder.gep(out, [builder.add(base, ir.Constant(I64, d))]), align=size)
    builder.branch(done)
    builder.position_at_end(done)
    builder.ret_void()
    return str(module)


def _formula(root, variables: dict[int, list[ir.Value]], em: DeviceEmitter) -> list[ir.Value]:
    """The entries of the formula `root` at one pair, its variables' entries given."""
    values: dict[int, list[ir.Value]] = {}
    for node in root.walk():
        if node.op is VarOp:
            values[id(node)] = variables[node.attributes["index"]]
        elif node.op is ConstantOp:
            values[id(node)] = [em.constant(v) for v in node.attributes["values"]]
        else:
            rule = OP_RULES[node.op]
            values[id(node)] = rule.lower(em, *(values[id(a)] for a in node.args), **node.attributes)
    return values[id(root)]
