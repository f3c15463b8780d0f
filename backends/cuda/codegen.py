"""KeOps' GPU schemes as LLVM IR for NVPTX, one kernel function at a time.

A *group* is the reductions of a kernel over one index (a fused gradient has a group per
axis). Each group lowers to up to three functions:

    reduce (1D scheme, mode "final") : one thread per output row, all reduced rows
    reduce (2D scheme, mode "partial"): one thread per output row, the reduced rows of one
                                       split (blockIdx.y); the reduction state is stored
    combine (2D scheme, second stage): one thread per output row folds the splits' states
                                       with the reduction's `combine` rule and finalizes

    row = blockIdx.x * blockDim.x + threadIdx.x
    load the row's variables (rows past the end load row 0 and store nothing)
    for tile in begin, begin + T, ... < end:
        the block copies the tile's reduced rows into shared memory (coalesced); barrier
        for each row of the tile: the formula, then the reduction's update
        barrier
    finalize and store the row (or store the state)

T (rows per tile) is the block size (or the `tile` option), fewer when a tile of the reduced
variables would not fit in 48 KB of shared memory; a variable too wide for even one row in
shared memory is read straight from global memory (the L1/L2 caches serve the whole block the
same row).

Ops are lowered by their rules from kir/registry.py and reductions by kir/reductions.py, as
on the CPU, through `DeviceEmitter`: the CPU emitter on scalars, with libdevice's functions
for the math (their `__nv_fast_*` approximations under fast math).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from kir.autodiff import expand
from kir.backends.cpu.emitter import LLVMEmitter
from kir.backends.cuda.chunks import CHUNK, ChunkPlan, chunk_plan, chunk_terms
from kir.dialect.formula import ConstantOp, VarOp
from kir.emitter import MATH_FUNCTIONS
from kir.reductions import REDUCTION_RULES, ReductionSpec
from kir.registry import OP_RULES

if TYPE_CHECKING:
    from kir.backends.cuda.program import DeviceOptions
    from kir.builder import Reduction
    from kir.kernel import Kernel

I32 = ir.IntType(32)
I64 = ir.IntType(64)
SHARED = 3
"""NVPTX's address space of shared memory."""

SHARED_BYTES = 48 * 1024
"""Static shared memory a block may declare (every architecture since sm_20)."""

FAST_MATH = frozenset({"exp", "exp10", "log", "log2", "log10", "sin", "cos", "tan", "pow"})
"""libdevice's single-precision functions with a `__nv_fast_*` approximation (ex2.approx,
lg2.approx, sin.approx, ...)."""


class DeviceEmitter(LLVMEmitter):
    """The scalar CPU emitter with libdevice's math (__nv_expf, __nv_exp, ...)."""

    def __init__(self, builder: ir.IRBuilder, float_type: ir.Type, fast_math: bool = False):
        super().__init__(builder, float_type)
        self.fast_math = fast_math

    def math(self, name: str, *args: ir.Value) -> ir.Value:
        if MATH_FUNCTIONS.get(name) != len(args):
            raise ValueError(f"unknown math function {name} of {len(args)} argument(s)")
        single = isinstance(self.float_type, ir.FloatType)
        fast = "fast_" if self.fast_math and single and name in FAST_MATH else ""
        symbol = f"__nv_{fast}{name}{'f' if single else ''}"
        function = self._module.globals.get(symbol)
        if function is None:
            signature = ir.FunctionType(self.float_type, [self.float_type] * len(args))
            function = ir.Function(self._module, signature, symbol)
        return self.builder.call(function, list(args))


def _intrinsic(builder: ir.IRBuilder, symbol: str, result: ir.Type) -> ir.Value:
    module = builder.module
    function = module.globals.get(symbol) or ir.Function(module, ir.FunctionType(result, []), symbol)
    return builder.call(function, [])


def sreg(builder: ir.IRBuilder, name: str) -> ir.Value:
    """A PTX special register (tid.x, ctaid.y, ...)."""
    return _intrinsic(builder, f"llvm.nvvm.read.ptx.sreg.{name}", I32)


def barrier(builder: ir.IRBuilder) -> None:
    """bar.sync 0: every thread of the block."""
    _intrinsic(builder, "llvm.nvvm.barrier0", ir.VoidType())


@dataclass(frozen=True)
class Group:
    """The reductions of a kernel over one index: their positions in the kernel's outputs."""

    axis: int
    members: tuple[int, ...]

    @property
    def row_category(self) -> str:
        return "i" if self.axis == 1 else "j"

    @property
    def reduced_category(self) -> str:
        return "j" if self.axis == 1 else "i"


def groups_of(kernel: Kernel) -> list[Group]:
    """The kernel's reductions grouped by axis, in order of first appearance."""
    axes: dict[int, list[int]] = {}
    for position, r in enumerate(kernel.reductions):
        axes.setdefault(r.axis, []).append(position)
    return [Group(axis, tuple(members)) for axis, members in axes.items()]


def element_bytes(dtype: str) -> int:
    return 4 if dtype == "float32" else 8


def tile_width(kernel: Kernel, group: Group, chunks: ChunkPlan | None = None) -> int:
    """Entries per row of the shared tiles: the reduced index's variables (of the chunked ones,
    one chunk)."""
    wide = chunks.wide if chunks else frozenset()
    entries = [s.dim for s in kernel.args if s.category == group.reduced_category and s.position not in wide]
    chunked = sum(1 for s in kernel.args if s.category == group.reduced_category and s.position in wide)
    return sum(entries) + chunked * (chunks.chunk if chunks else 0)


def tile_rows(
    kernel: Kernel, group: Group, dtype: str, block: int, tile: int | None = None, chunk: int = CHUNK
) -> int:
    """Rows of the reduced variables staged per tile: `tile` (default: the block size), or as
    many as fit in shared memory; 0 when not even one row fits (they are read from global
    memory)."""
    row_bytes = tile_width(kernel, group, chunk_plan(kernel, group, chunk=chunk)) * element_bytes(dtype)
    return min(tile or block, SHARED_BYTES // max(row_bytes, 1))


def state_layout(kernel: Kernel, group: Group) -> list[tuple[int, str, int]]:
    """The stored state of a group (2D scheme): (reduction position, 'float'/'index', entries)
    for each state component of each member, in order."""
    layout = []
    for position in group.members:
        r = kernel.reductions[position]
        spec = _spec(r)
        sizes = _state_sizes(spec)
        for kind, size in zip(REDUCTION_RULES[r.kind].layout(spec), sizes, strict=True):
            layout.append((position, kind, size))
    return layout


def _spec(r: Reduction) -> ReductionSpec:
    return ReductionSpec(r.kind, r.formula.dim, r.weight.dim if r.weight is not None else 0, r.k or 0)


def _state_sizes(spec: ReductionSpec) -> list[int]:
    # A throwaway function: the state's entries are known once the rule built them.
    module = ir.Module()
    function = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "sizes")
    em = DeviceEmitter(ir.IRBuilder(function.append_basic_block()), ir.DoubleType())
    return [len(component) for component in REDUCTION_RULES[spec.kind].init(em, spec)]


class _Function:
    """Building one kernel function: its arguments, emitter and loops."""

    def __init__(self, module: ir.Module, name: str, params: list[ir.Type], float_type: ir.Type, fast: bool):
        self.function = ir.Function(module, ir.FunctionType(ir.VoidType(), params), name)
        self.function.calling_convention = "ptx_kernel"
        self.builder = ir.IRBuilder(self.function.append_basic_block("entry"))
        self.em = DeviceEmitter(self.builder, float_type, fast)
        self.float_type = float_type

    def block(self, name: str) -> ir.Block:
        return self.function.append_basic_block(name)

    def loop(self, name: str, begin: ir.Value, end: ir.Value, step: ir.Value, body) -> None:
        """for (k = begin; k < end; k += step) body(k); the builder ends after the loop."""
        b = self.builder
        head, inner, after = self.block(f"{name}_head"), self.block(f"{name}_body"), self.block(f"{name}_end")
        before = b.block
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(I32, name)
        k.add_incoming(begin, before)
        b.cbranch(b.icmp_signed("<", k, end), inner, after)
        b.position_at_end(inner)
        body(k)
        k.add_incoming(b.add(k, step), b.block)
        b.branch(head)
        b.position_at_end(after)

    def entries(
        self,
        pointer: ir.Value,
        index: ir.Value,
        dim: int,
        count: int | None = None,
        column: ir.Value | None = None,
    ) -> list[ir.Value]:
        """Row `index` of a row-major array of rows of `dim` entries: its `count` entries (all
        by default) from `column` (i32, default 0) on."""
        b = self.builder
        base = b.mul(b.sext(index, I64), ir.Constant(I64, dim))
        if column is not None:
            base = b.add(base, b.sext(column, I64))
        count = dim if count is None else count
        return [b.load(b.gep(pointer, [b.add(base, ir.Constant(I64, d))])) for d in range(count)]

    def min(self, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.builder.select(self.builder.icmp_signed("<", a, b), a, b)

    def slots(self, state) -> list[list[ir.Value]]:
        slots = [[self.builder.alloca(v.type) for v in component] for component in state]
        self.store(slots, state)
        return slots

    def store(self, slots, state) -> None:
        for component, values in zip(slots, state, strict=True):
            for slot, value in zip(component, values, strict=True):
                self.builder.store(value, slot)

    def load(self, slots) -> list[list[ir.Value]]:
        return [[self.builder.load(slot) for slot in component] for component in slots]


def _pointer_types(kernel: Kernel, group: Group, float_type: ir.Type, state: bool) -> list[ir.Type]:
    if state:
        return [
            ir.PointerType(I64 if kind == "index" else float_type)
            for _, kind, _ in state_layout(kernel, group)
        ]
    types = kernel.output_types()
    return [ir.PointerType(I64 if types[p].dtype_name == "i64" else float_type) for p in group.members]


def _shared(module: ir.Module, name: str, element: ir.Type, entries: int) -> ir.GlobalVariable:
    array = ir.ArrayType(element, max(1, entries))
    buffer = ir.GlobalVariable(module, array, name, addrspace=SHARED)
    buffer.linkage = "internal"
    buffer.initializer = ir.Constant(array, ir.Undefined)
    return buffer


def _stage(
    f: _Function, buffer, stride: int, copies, start: ir.Value, count: ir.Value, thread, threads
) -> None:
    """Copy `count` rows from `start` into the shared `buffer` (`stride` entries a row), the
    block's threads taking consecutive entries (coalesced reads). `copies`: (pointer, row
    length in memory, first column read (i32 value), entries per row, column in the buffer)."""
    b = f.builder
    for pointer, length, column, entries, offset in copies:
        per_row = ir.Constant(I32, entries)

        def copy(entry, pointer=pointer, length=length, column=column, offset=offset, per_row=per_row):
            local_row, d = b.sdiv(entry, per_row), b.srem(entry, per_row)
            source_row = b.mul(b.sext(b.add(start, local_row), I64), ir.Constant(I64, length))
            source = b.add(source_row, b.sext(b.add(column, d), I64))
            target_row = b.mul(b.sext(local_row, I64), ir.Constant(I64, stride))
            target = b.add(target_row, b.sext(b.add(d, ir.Constant(I32, offset)), I64))
            b.store(b.load(b.gep(pointer, [source])), b.gep(buffer, [ir.Constant(I64, 0), target]))

        f.loop("copy", thread, b.mul(count, per_row), threads, copy)


def _row_of(f: _Function, buffer, stride: int, local: ir.Value, offset: int, entries: int) -> list[ir.Value]:
    b = f.builder
    base = b.mul(b.sext(local, I64), ir.Constant(I64, stride))
    return [
        b.load(b.gep(buffer, [ir.Constant(I64, 0), b.add(base, ir.Constant(I64, offset + d))]))
        for d in range(entries)
    ]


def reduce_function(
    module: ir.Module,
    kernel: Kernel,
    group: Group,
    dtype: str,
    options: DeviceOptions,
    name: str,
    partial: bool = False,
) -> None:
    """Add the group's reduction kernel to `module`, for `options` (block, tile, chunk, fast
    math). Parameters: a pointer per kernel argument, a pointer per output of the group (per
    state component when `partial`), i32 rows, i32 reduced; `partial` adds i32 span (reduced
    rows per split; split = blockIdx.y)."""
    block = options.block
    float_type = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    pointers = [ir.PointerType(float_type) for _ in kernel.args]
    results = _pointer_types(kernel, group, float_type, partial)
    sizes = [I32, I32, I32] if partial else [I32, I32]
    f = _Function(module, name, [*pointers, *results, *sizes], float_type, options.fast_math)
    b, em = f.builder, f.em
    args = f.function.args[: len(pointers)]
    outs = f.function.args[len(pointers) : len(pointers) + len(results)]
    rows, reduced = f.function.args[len(pointers) + len(results) :][:2]

    chunks = chunk_plan(kernel, group, chunk=options.chunk)
    wide = chunks.wide if chunks else frozenset()
    reduced_specs = [
        (s, p) for s, p in zip(kernel.args, args, strict=True) if s.category == group.reduced_category
    ]
    narrow = [(s, p) for s, p in reduced_specs if s.position not in wide]
    wide_reduced = [(s, p) for s, p in reduced_specs if s.position in wide]
    offsets, width = {}, 0
    for spec, _ in narrow:
        offsets[spec.position] = width
        width += spec.dim
    chunk_stride = chunks.chunk * len(wide_reduced) if chunks else 0
    rows_per_tile = tile_rows(kernel, group, dtype, block, options.tile, options.chunk)
    staged = rows_per_tile > 0
    step = rows_per_tile if staged else block
    if staged:
        tile = _shared(module, f"{name}_tile", float_type, rows_per_tile * width)
        chunk_tile = (
            _shared(module, f"{name}_chunk", float_type, rows_per_tile * chunk_stride) if chunks else None
        )

    thread = sreg(b, "tid.x")
    threads = sreg(b, "ntid.x")
    row = b.add(b.mul(sreg(b, "ctaid.x"), threads), thread)
    active = b.icmp_signed("<", row, rows)
    safe_row = b.select(active, row, ir.Constant(I32, 0))
    if partial:
        split = sreg(b, "ctaid.y")
        span = f.function.args[-1]
        begin = b.mul(split, span)
        end = f.min(b.add(begin, span), reduced)
    else:
        split, begin, end = None, ir.Constant(I32, 0), reduced

    fixed: dict[int, list[ir.Value]] = {}
    wide_rows = []
    for spec, pointer in zip(kernel.args, args, strict=True):
        if spec.position in wide:
            if spec.category == group.row_category:
                wide_rows.append((spec, pointer))
        elif spec.category == group.row_category:
            fixed[spec.position] = f.entries(pointer, safe_row, spec.dim)
        elif spec.category == "p":
            fixed[spec.position] = f.entries(pointer, ir.Constant(I32, 0), spec.dim)

    plans = []
    for position in group.members:
        r = kernel.reductions[position]
        spec = _spec(r)
        rule = REDUCTION_RULES[r.kind]
        roots = [expand(root) for root in r.roots]
        running = f.slots(rule.init(em, spec))
        # Sums go tile by tile (KeOps' block_sum): a tile's terms in a state of their own,
        # combined into the running state after the tile, so that float32 totals over
        # millions of terms round like sums of tiles. Ranked reductions are exact in any order.
        per_tile = f.slots(rule.init(em, spec)) if rule.admits is None else None
        plans.append((spec, rule, running, roots, per_tile))
    if chunks:  # the chunked sums of each pair of a tile (local memory, indexed at run time)
        sums_type = ir.ArrayType(float_type, step * len(chunks.roots))
        sums = b.alloca(sums_type, name="chunk_sums")

    def narrow_values(start: ir.Value, local: ir.Value) -> dict[int, list[ir.Value]]:
        values = dict(fixed)
        for spec, pointer in narrow:
            if staged:
                values[spec.position] = _row_of(f, tile, width, local, offsets[spec.position], spec.dim)
            else:
                values[spec.position] = f.entries(pointer, b.add(start, local), spec.dim)
        return values

    def sum_slot(local: ir.Value, k: int) -> ir.Value:
        index = b.add(b.mul(b.sext(local, I64), ir.Constant(I64, len(chunks.roots))), ir.Constant(I64, k))
        return b.gep(sums, [ir.Constant(I64, 0), index])

    def chunk_pass(start: ir.Value, pairs: ir.Value, count: ir.Value, column: ir.Value, entries: int) -> None:
        """One chunk of `entries` entries from `column` on: staged, then added to the sums."""
        if staged:
            copies = [
                (pointer, spec.dim, column, entries, k * chunks.chunk)
                for k, (spec, pointer) in enumerate(wide_reduced)
            ]
            _stage(f, chunk_tile, chunk_stride, copies, start, count, thread, threads)
        mine = {}
        for spec, pointer in wide_rows:
            mine[spec.position] = f.entries(pointer, safe_row, spec.dim, entries, column)
        if staged:
            barrier(b)

        def pair(local: ir.Value) -> None:
            slices = dict(mine)
            for k, (spec, pointer) in enumerate(wide_reduced):
                if staged:
                    slices[spec.position] = _row_of(
                        f, chunk_tile, chunk_stride, local, k * chunks.chunk, entries
                    )
                else:
                    slices[spec.position] = f.entries(pointer, b.add(start, local), spec.dim, entries, column)
            values = narrow_values(start, local)
            cache: dict[int, list[ir.Value]] = {}
            totals = [b.load(sum_slot(local, k)) for k in range(len(chunks.roots))]
            updated = chunk_terms(
                chunks, em, totals, slices, lambda node: formula_entries(node, values, em, cache)
            )
            for k, total in enumerate(updated):
                b.store(total, sum_slot(local, k))

        f.loop("chunk_pair", ir.Constant(I32, 0), pairs, ir.Constant(I32, 1), pair)
        if staged:
            barrier(b)

    def tile_loop(start: ir.Value) -> None:
        count = f.min(b.sub(end, start), ir.Constant(I32, step))
        if staged:
            copies = [
                (pointer, spec.dim, ir.Constant(I32, 0), spec.dim, offsets[spec.position])
                for spec, pointer in narrow
            ]
            _stage(f, tile, width, copies, start, count, thread, threads)
            barrier(b)
        pairs = b.select(active, count, ir.Constant(I32, 0))  # idle threads only help load
        if chunks:

            def clear(local: ir.Value) -> None:
                for k in range(len(chunks.roots)):
                    b.store(em.constant(0.0), sum_slot(local, k))

            f.loop("clear", ir.Constant(I32, 0), pairs, ir.Constant(I32, 1), clear)
            size = ir.Constant(I32, chunks.chunk)
            f.loop(
                "chunk",
                ir.Constant(I32, 0),
                ir.Constant(I32, chunks.full_chunks),
                ir.Constant(I32, 1),
                lambda c: chunk_pass(start, pairs, count, b.mul(c, size), chunks.chunk),
            )
            if chunks.tail:
                chunk_pass(
                    start, pairs, count, ir.Constant(I32, chunks.full_chunks * chunks.chunk), chunks.tail
                )

        def pair(local: ir.Value) -> None:
            values = narrow_values(start, local)
            index = b.sext(b.add(start, local), I64)
            computed: dict[int, list[ir.Value]] = {}  # shared by the group's formulas (CSE)
            if chunks:
                for k, root in enumerate(chunks.roots):
                    computed[id(root)] = [b.load(sum_slot(local, k))]
            for spec, rule, running, roots, per_tile in plans:
                slots = per_tile or running
                formulas = [formula_entries(root, values, em, computed) for root in roots]
                weights = formulas[1] if len(formulas) > 1 else None
                f.store(slots, rule.update(em, spec, f.load(slots), formulas[0], weights, index))

        for spec, rule, _, _, per_tile in plans:
            if per_tile is not None:
                f.store(per_tile, rule.init(em, spec))
        f.loop("pair", ir.Constant(I32, 0), pairs, ir.Constant(I32, 1), pair)
        for spec, rule, running, _, per_tile in plans:
            if per_tile is not None:
                f.store(running, rule.combine(em, spec, f.load(running), f.load(per_tile)))
        if staged:
            barrier(b)

    f.loop("tile", begin, end, ir.Constant(I32, step), tile_loop)
    store_row, done = f.block("store_row"), f.block("done")
    b.cbranch(active, store_row, done)
    b.position_at_end(store_row)
    if partial:
        components = [values for _, _, slots, _, _ in plans for values in f.load(slots)]
        for out, values in zip(outs, components, strict=True):
            _store_row(b, out, b.add(b.mul(split, rows), row), values)
    else:
        output_types = kernel.output_types()
        for out, (spec, rule, slots, _, _), position in zip(outs, plans, group.members, strict=True):
            result = rule.finalize(em, spec, f.load(slots))
            assert len(result) == output_types[position].size
            _store_row(b, out, row, result)
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()


def combine_function(
    module: ir.Module, kernel: Kernel, group: Group, dtype: str, name: str, fast_math: bool = False
) -> None:
    """Add the 2D scheme's second stage to `module`: a thread per output row folds the states
    of every split (stored by the partial kernel) and stores the finalized result. Parameters:
    a pointer per state component, a pointer per output of the group, i32 rows, i32 splits."""
    float_type = ir.FloatType() if dtype == "float32" else ir.DoubleType()
    states = _pointer_types(kernel, group, float_type, True)
    results = _pointer_types(kernel, group, float_type, False)
    f = _Function(module, name, [*states, *results, I32, I32], float_type, fast_math)
    b, em = f.builder, f.em
    inputs = f.function.args[: len(states)]
    outs = f.function.args[len(states) : len(states) + len(results)]
    rows, splits = f.function.args[-2:]
    row = b.add(b.mul(sreg(b, "ctaid.x"), sreg(b, "ntid.x")), sreg(b, "tid.x"))
    work, done = f.block("work"), f.block("done")
    b.cbranch(b.icmp_signed("<", row, rows), work, done)
    b.position_at_end(work)

    layout = state_layout(kernel, group)
    plans, cursor = [], 0
    for position in group.members:
        r = kernel.reductions[position]
        spec, rule = _spec(r), REDUCTION_RULES[r.kind]
        count = len(rule.layout(spec))
        parts = list(zip(inputs[cursor : cursor + count], layout[cursor : cursor + count], strict=True))
        cursor += count

        def at(split: ir.Value, parts=parts) -> list[list[ir.Value]]:
            flat = b.add(b.mul(split, rows), row)
            return [f.entries(pointer, flat, size) for pointer, (_, _, size) in parts]

        plans.append((spec, rule, f.slots(at(ir.Constant(I32, 0))), at))

    def fold(split: ir.Value) -> None:
        for spec, rule, slots, at in plans:
            f.store(slots, rule.combine(em, spec, f.load(slots), at(split)))

    f.loop("split", ir.Constant(I32, 1), splits, ir.Constant(I32, 1), fold)
    for out, (spec, rule, slots, _) in zip(outs, plans, strict=True):
        _store_row(b, out, row, rule.finalize(em, spec, f.load(slots)))
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()


def _store_row(b: ir.IRBuilder, pointer: ir.Value, row: ir.Value, values: list[ir.Value]) -> None:
    base = b.mul(b.sext(row, I64), ir.Constant(I64, len(values)))
    for d, value in enumerate(values):
        b.store(value, b.gep(pointer, [b.add(base, ir.Constant(I64, d))]))


def formula_entries(
    root, variables: dict[int, list[ir.Value]], em: DeviceEmitter, values: dict[int, list[ir.Value]]
) -> list[ir.Value]:
    """The entries of the formula `root` at one pair, its variables' entries given; `values`
    holds the nodes already lowered (shared subformulas of a group are lowered once; the
    chunked sums are given), whose operands are not visited."""
    if id(root) in values:
        return values[id(root)]
    if root.op is VarOp:
        found = variables[root.attributes["index"]]
    elif root.op is ConstantOp:
        found = [em.constant(v) for v in root.attributes["values"]]
    else:
        operands = [formula_entries(a, variables, em, values) for a in root.args]
        found = OP_RULES[root.op].lower(em, *operands, **root.attributes)
    values[id(root)] = found
    return found
