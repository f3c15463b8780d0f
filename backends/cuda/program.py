"""A kernel's GPU program: its device modules (one per scheme) and the launch plan of a call.

The 1D scheme is one launch per group (a thread per output row). The 2D scheme, for few output
rows, splits the reduced index over blockIdx.y: a partial launch stores each split's state in
scratch memory, a combine launch folds the splits and finalizes. `plan` chooses per call, from
the sizes and the device's multiprocessor count, so that a call fills the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llvmlite import ir

from kir.backends.cuda.chunks import CHUNK
from kir.backends.cuda.codegen import (
    Group,
    combine_function,
    groups_of,
    reduce_function,
    state_layout,
)
from kir.backends.cuda.ptx import DATA_LAYOUT, TRIPLE
from kir.errors import KirError

if TYPE_CHECKING:
    from kir.kernel import Kernel

DEFAULT_BLOCK = 192
"""Threads per block (KeOps' default for the 1D scheme)."""

DEFAULT_MULTIPROCESSORS = 132
"""An H100 SXM's; the runtime passes the device's own."""

BLOCKS_PER_MULTIPROCESSOR = 4
"""The 2D scheme is used when the 1D scheme's blocks would not give every multiprocessor this
many; it splits the reduced index until they do."""

MIN_TILES_PER_SPLIT = 2
"""A split reduces at least this many tiles: fewer would spend more on the second stage than
the split saves."""

SCHEMES = ("auto", "1d", "2d")
MAX_ROWS = 2**31 - 2**16
"""Sizes are i32 on the device (with room for a block past the end)."""


@dataclass(frozen=True)
class DeviceOptions:
    """Scheduling options of the CUDA back-end."""

    block: int = DEFAULT_BLOCK
    scheme: str = "auto"
    splits: int | None = None
    """Splits of the reduced index in the 2D scheme; None: chosen from the device's size."""
    fast_math: bool = False
    """libdevice's approximate float32 functions (ex2.approx, sin.approx, ...) and
    denormals flushed to zero."""
    multiprocessors: int | None = None
    """The device size the automatic scheme plans for; None: the device's (read by the
    runtime; DEFAULT_MULTIPROCESSORS where no device is known)."""
    tile: int | None = None
    """Rows of the reduced variables per shared-memory tile; None: the block size. Fewer are
    staged when they do not fit in 48 KB."""
    chunk: int = CHUNK
    """Entries per chunk of the chunked scheme (wide variables)."""

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise KirError(f"unknown GPU scheme {self.scheme!r}; expected one of {', '.join(SCHEMES)}")
        if self.block < 32 or self.block > 1024 or self.block % 32:
            raise KirError(f"block must be a multiple of 32 between 32 and 1024, got {self.block}")
        if self.splits is not None and self.splits < 1:
            raise KirError(f"splits must be at least 1, got {self.splits}")
        if self.tile is not None and not 1 <= self.tile <= self.block:
            raise KirError(f"tile must be between 1 and the block size {self.block}, got {self.tile}")
        if self.chunk < 1:
            raise KirError(f"chunk must be at least 1, got {self.chunk}")


@dataclass(frozen=True)
class Launch:
    """One kernel launch: the function (of the module of `scheme`), its grid and operands:
    ("arg", k), ("out", k), ("scratch", k) or ("i32", value)."""

    scheme: str
    function: str
    grid: tuple[int, int]
    block: int
    operands: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Plan:
    """The launches of one call, in order, and the scratch buffers they share:
    (dtype, shape) each ('int64' for indices)."""

    launches: tuple[Launch, ...]
    scratch: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())


def _blocks(rows: int, block: int) -> int:
    return -(-rows // block)


class DeviceProgram:
    """The GPU code of `kernel` for `dtype`: LLVM IR per scheme, and the plan of each call."""

    def __init__(self, kernel: Kernel, dtype: str = "float32", options: DeviceOptions | None = None):
        self.kernel, self.dtype = kernel, dtype
        self.options = options or DeviceOptions()
        self.groups = groups_of(kernel)
        self._ir: dict[str, str] = {}

    def function_name(self, scheme: str, group: int) -> str:
        return f"kir_{scheme}_{group}"

    def llvm_ir(self, scheme: str = "1d") -> str:
        """The device module (triple nvptx64-nvidia-cuda) of the 1D scheme, of the 2D scheme's
        two stages ("2d"), or of both ("all": one compile for checks), every group's
        functions in it."""
        if scheme not in ("1d", "2d", "all"):
            raise KirError(f"no device module {scheme!r}; expected '1d', '2d' or 'all'")
        if scheme not in self._ir:
            module = ir.Module(name=f"kir_{scheme}")
            # The layout before parsing: loads and stores without `align` get the ABI alignment
            # of this layout (i64: 8 bytes), not of LLVM's default one (i64: 4, split stores).
            module.triple, module.data_layout = TRIPLE, DATA_LAYOUT
            fast = self.options.fast_math
            if fast:  # libdevice reads it through __nvvm_reflect("__CUDA_FTZ")
                flag = module.add_metadata(
                    [ir.Constant(ir.IntType(32), 4), "nvvm-reflect-ftz", ir.Constant(ir.IntType(32), 1)]
                )
                module.add_named_metadata("llvm.module.flags", flag)
            for g, group in enumerate(self.groups):
                if scheme in ("1d", "all"):
                    reduce_function(
                        module, self.kernel, group, self.dtype, self.options, self.function_name("1d", g)
                    )
                if scheme in ("2d", "all"):
                    partial = self.function_name("partial", g)
                    reduce_function(
                        module, self.kernel, group, self.dtype, self.options, partial, partial=True
                    )
                    combine = self.function_name("combine", g)
                    combine_function(module, self.kernel, group, self.dtype, combine, fast)
            self._ir[scheme] = str(module)
        return self._ir[scheme]

    def output_shapes(self, size_i: int, size_j: int) -> list[tuple[int, int]]:
        types = self.kernel.output_types()
        return [
            (size_i if r.axis == 1 else size_j, t.size)
            for r, t in zip(self.kernel.reductions, types, strict=True)
        ]

    def splits(self, group: Group, rows: int, reduced: int, scheme: str | None = None) -> int:
        """Splits of the reduced index for one group's call: 1 is the 1D scheme."""
        options, block = self.options, self.options.block
        scheme = scheme or options.scheme
        if scheme == "1d" or reduced == 0:
            return 1
        if options.splits is not None:
            return min(options.splits, _blocks(reduced, block))
        most = max(1, _blocks(reduced, block * MIN_TILES_PER_SPLIT))
        wanted = (options.multiprocessors or DEFAULT_MULTIPROCESSORS) * BLOCKS_PER_MULTIPROCESSOR
        have = _blocks(rows, block)
        if scheme == "auto" and have >= wanted:
            return 1
        return max(1, min(most, _blocks(wanted, max(have, 1))))

    def plan(self, size_i: int, size_j: int, scheme: str | None = None) -> Plan:
        """The launches that compute the kernel's outputs for these sizes, in the options'
        scheme or in `scheme`."""
        scheme = scheme or self.options.scheme
        if scheme not in SCHEMES:
            raise KirError(f"unknown GPU scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
        for name, size in (("i", size_i), ("j", size_j)):
            if size > MAX_ROWS:
                raise KirError(
                    f"the CUDA back-end takes at most {MAX_ROWS} rows per index; {name} has {size}"
                )
        block = self.options.block
        kernel_args = tuple(("arg", k) for k in range(len(self.kernel.args)))
        launches, scratch = [], []
        for g, group in enumerate(self.groups):
            rows, reduced = (size_i, size_j) if group.axis == 1 else (size_j, size_i)
            if rows == 0:
                continue
            outs = tuple(("out", p) for p in group.members)
            splits = self.splits(group, rows, reduced, scheme)
            grid_x = _blocks(rows, block)
            if splits == 1 and scheme != "2d":
                operands = (*kernel_args, *outs, ("i32", rows), ("i32", reduced))
                launches.append(Launch("1d", self.function_name("1d", g), (grid_x, 1), block, operands))
                continue
            span = _blocks(_blocks(reduced, block), splits) * block if reduced else block
            splits = max(1, _blocks(reduced, span))
            first = len(scratch)
            for _, kind, size in state_layout(self.kernel, group):
                scratch.append(("int64" if kind == "index" else self.dtype, (splits, rows, size)))
            states = tuple(("scratch", k) for k in range(first, len(scratch)))
            partial = (*kernel_args, *states, ("i32", rows), ("i32", reduced), ("i32", span))
            launches.append(Launch("2d", self.function_name("partial", g), (grid_x, splits), block, partial))
            combine = (*states, *outs, ("i32", rows), ("i32", splits))
            launches.append(Launch("2d", self.function_name("combine", g), (grid_x, 1), block, combine))
        return Plan(tuple(launches), tuple(scratch))
