"""`kir.compile` and `Kernel`: reductions of formulas, compiled on first call per dtype."""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp, f64
from xdsl.utils.exceptions import PassFailedException

from kir.backends.cpu.jit import JitModule
from kir.backends.cpu.target import VECTOR_MATH_OPS, default_schedule
from kir.backends.cuda.adapters import device_adapter
from kir.builder import Reduction, build_kernel
from kir.context import module_text
from kir.dialect import loops as kirl
from kir.dialect.core import REDUCTIONS, reduction_result_type
from kir.dialect.types import VecType
from kir.errors import KirError
from kir.frontends.dsl import parse_aliases, parse_formula
from kir.frontends.expr import Expr, structure, variables_of
from kir.pipeline import Schedule, formula_passes, loop_passes, run_passes
from kir.reductions import KEOPS_REDUCTIONS, ReductionSpec
from kir.registry import OP_RULES
from kir.runtime import disk_cache
from kir.runtime.arrays import (
    DTYPES,
    SHORT_DTYPES,
    ArgumentSpec,
    check_arguments,
    is_torch_tensor,
    reduced_sizes,
)
from kir.runtime.launch import LaunchPlan, Output

if TYPE_CHECKING:
    from kir.backends.cuda.program import DeviceOptions

STAGES = ("kir", "loops", "llvm", "llvm-opt")
"""Stages `Kernel.ir` prints."""


def signature(roots: Sequence[Expr], names: dict[int, str] | None = None) -> list[ArgumentSpec]:
    """The arguments of a kernel over the formulas `roots`, by position; `names` label them."""
    names = names or {}
    used = variables_of(list(roots))
    count = max(used) + 1 if used else 0
    missing = [k for k in range(count) if k not in used]
    if missing:
        raise KirError(f"argument position(s) {missing} are neither declared nor used in the formula")
    return [ArgumentSpec(k, names.get(k, f"arg{k}"), used[k].dim, used[k].category) for k in range(count)]


def keops_reductions(
    formula: Expr, reduction: str, axis: int, opt_arg: int | None = None, formula2: Expr | None = None
) -> list[Reduction]:
    """The kir reductions computing KeOps' `reduction` (Genred's names and options)."""
    if reduction not in KEOPS_REDUCTIONS:
        raise KirError(f"unknown reduction {reduction!r}; kir knows {', '.join(KEOPS_REDUCTIONS)}")
    if axis not in (0, 1):
        raise KirError(f"axis must be 0 (reduce over i) or 1 (reduce over j), got {axis!r}")
    kinds = KEOPS_REDUCTIONS[reduction]
    if reduction == "LogSumExp" and formula2 is not None:
        kinds = ("logsumexp_weight",)
    reductions = []
    for kind in kinds:
        shape = REDUCTIONS[kind]
        if shape.needs_k and (not isinstance(opt_arg, int) or isinstance(opt_arg, bool) or opt_arg < 1):
            raise KirError(f"{reduction} needs opt_arg = K, an integer >= 1 (got {opt_arg!r})")
        if shape.weighted and formula2 is None:
            raise KirError(f"{reduction} needs formula2, the formula of its weights")
        if not shape.weighted and formula2 is not None:
            raise KirError(f"{reduction} takes no formula2")
        if shape.weighted and formula.dim != 1:
            raise KirError(f"{reduction} reduces a scalar formula, got one of dimension {formula.dim}")
        reductions.append(Reduction(formula, kind, axis, formula2, opt_arg if shape.needs_k else None))
    return reductions


@dataclass
class _Compiled:
    """Machine code for one dtype (the JIT module owns it), with its SIMD width."""

    function: ctypes._CFuncPtr
    jit: object
    lanes: int


LAYOUTS_KEPT = 16
"""Launch plans (argument dtypes, shapes and strides) a kernel keeps."""

CACHE_SIZE = 256
"""Compiled kernels kept in memory per process (least recently used dropped first)."""

_MACHINE_CODE: OrderedDict[str, _Compiled] = OrderedDict()
_CACHE_LOCK = threading.Lock()


class Kernel:
    """Compiled kernel reductions over one (i, j) domain; call it with the arrays in argument order.

    Each reduction gives one array with one row per output index (M rows for axis=1, N for
    axis=0); a kernel of several reductions returns a tuple. NumPy in, NumPy out; torch
    tensors in, torch tensors out; torch CUDA tensors and CuPy arrays run on their GPU
    (backends/cuda/runtime.py), scheduled by `device_options` (None: the device's defaults).
    """

    def __init__(
        self, reductions: Sequence[Reduction], args: Sequence[ArgumentSpec], dtype: str | None = None
    ):
        if not reductions:
            raise KirError("a kernel needs at least one reduction")
        for r in reductions[1:]:
            if r.axis != reductions[0].axis and r.kind != "sum":
                raise KirError(
                    "a kernel reduces over one index; only sums may reduce over the other one "
                    f"(accumulated by columns in the same pass), got {r.kind}"
                )
        if dtype is not None and dtype not in DTYPES:
            raise KirError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
        self.reductions, self.args, self.dtype = list(reductions), list(args), dtype
        self.axis = self.reductions[0].axis
        self._compiled: dict[str, _Compiled] = {}
        self._gradients: dict[tuple[int, ...], list] = {}
        self._tangents: dict[tuple[int, ...], object] = {}
        self._output_types: list[VecType] | None = None
        self._lock = threading.Lock()
        self._schedule: Schedule | None = None
        self._plans_by_layout: dict[tuple, LaunchPlan] = {}
        self._plans_by_size: dict[tuple, LaunchPlan] = {}
        self.device_options: DeviceOptions | None = None
        self._device_programs: dict[tuple, tuple] = {}

    @classmethod
    def from_expr(
        cls,
        formula: Expr,
        reduction: str = "Sum",
        axis: int = 1,
        dtype: str | None = None,
        opt_arg: int | None = None,
        formula2: Expr | None = None,
        names: dict[int, str] | None = None,
        declared: Sequence[Expr] = (),
    ) -> Kernel:
        """A kernel computing KeOps' `reduction` of `formula` (Genred's options)."""
        reductions = keops_reductions(formula, reduction, axis, opt_arg, formula2)
        roots = [formula, *([formula2] if formula2 is not None else []), *declared]
        return cls(reductions, signature(roots, names), dtype)

    @classmethod
    def from_formula(
        cls,
        formula: str,
        aliases: Sequence[str],
        reduction: str = "Sum",
        axis: int = 1,
        dtype: str | None = None,
        opt_arg: int | None = None,
        formula2: str | None = None,
    ) -> Kernel:
        """A kernel for formulas in KeOps' syntax and their aliases."""
        declared = parse_aliases(list(aliases))
        expr = parse_formula(formula, declared)
        weight = parse_formula(formula2, declared) if formula2 is not None else None
        names = {var.attributes["index"]: name for name, var in declared.items()}
        return cls.from_expr(expr, reduction, axis, dtype, opt_arg, weight, names, list(declared.values()))

    @property
    def name(self) -> str:
        """Symbol of the kernel in the IR."""
        return "kernel"

    @property
    def var_names(self) -> dict[int, str]:
        return {spec.position: spec.name for spec in self.args}

    def output_types(self) -> list[VecType]:
        """The type of each output row (dimension; i64 for indices)."""
        if self._output_types is not None:
            return self._output_types
        types = []
        for r in self.reductions:
            operands = [VecType(root.dim, f64, root.category) for root in r.roots]
            types.append(reduction_result_type(r.kind, operands, r.axis, r.k))
        self._output_types = types
        return types

    def module(self, dtype: str = "float32") -> ModuleOp:
        """The formula-level IR (kir dialect) for `dtype`."""
        return build_kernel(self.name, self.reductions, SHORT_DTYPES[dtype], self.var_names)

    def ir(self, stage: str = "kir", dtype: str | None = None) -> str:
        """The kernel's IR at `stage`: 'kir' (formula), 'loops', 'llvm' or 'llvm-opt'.

        Printed on request only: compiling keeps no text, so printing costs nothing until asked."""
        from kir.backends.cpu.codegen import to_llvm_module

        dtype = dtype or self.dtype or "float32"
        if stage not in STAGES:
            raise KirError(f"unknown stage {stage!r}; choose from {', '.join(STAGES)}")
        if stage == "llvm-opt":  # compiled again: code loaded from the disk cache keeps no IR
            return self._generate(dtype).jit.optimized_ir()
        module = self.module(dtype)
        if stage == "kir":
            return module_text(module)
        run_passes(module, formula_passes() + loop_passes(self.schedule(dtype)), verify=True)
        return module_text(module) if stage == "loops" else str(to_llvm_module(module))

    def schedule(self, dtype: str) -> Schedule:
        """The loop schedule the CPU back-end picks for this kernel and `dtype` (kir.pipeline.Schedule)."""
        if self._schedule is not None:
            return self._schedule
        # States held in registers: the reductions over the kernel's index (column sums are
        # added to memory).
        specs = [
            ReductionSpec(r.kind, r.formula.dim, r.weight.dim if r.weight is not None else 0, r.k or 0)
            for r in self.reductions
            if r.axis == self.axis
        ]
        nodes = {id(n): n for r in self.reductions for root in r.roots for n in root.walk()}
        return default_schedule(
            specs,
            np.dtype(DTYPES[dtype]).itemsize,
            [(n.dim, _work(n)) for n in nodes.values()],
            any(issubclass(n.op, VECTOR_MATH_OPS) for n in nodes.values()),
        )

    def use_schedule(self, schedule: Schedule | None) -> Kernel:
        """Compile with `schedule` from now on (None: the back-end's default); returns the kernel."""
        with self._lock:
            self._schedule = schedule
            self._compiled.clear()
            self._plans_by_layout.clear()
            self._plans_by_size.clear()
        return self

    def _compile(self, dtype: str) -> _Compiled:
        with self._lock:
            if dtype not in self._compiled:
                self._compiled[dtype] = self._build(dtype)
            return self._compiled[dtype]

    def cache_key(self, dtype: str) -> str:
        """A text naming everything kir makes this kernel's machine code from: the formulas'
        structure, the reductions, the arguments, the dtype and the passes with their options."""
        roots = [root for r in self.reductions for root in r.roots]
        lines, numbers = structure(roots)
        for r in self.reductions:
            weight = numbers[id(r.weight)] if r.weight is not None else None
            lines.append(f"{r.kind} over axis {r.axis} of {numbers[id(r.formula)]} k={r.k} weight={weight}")
        lines.append(" ".join(f"{a.position}:{a.dim}{a.category}" for a in self.args))
        passes = formula_passes() + loop_passes(self.schedule(dtype))
        return "\n".join([*lines, dtype, *passes])

    def _build(self, dtype: str) -> _Compiled:
        # Kernels built again from the same formula (a loop re-creating them, a LazyTensor per
        # call) share machine code: in memory within a process, on disk across processes.
        key = self.cache_key(dtype)
        with _CACHE_LOCK:
            if key in _MACHINE_CODE:
                _MACHINE_CODE.move_to_end(key)
                return _MACHINE_CODE[key]
        stored = disk_cache.load(key)
        if stored is not None and isinstance(stored[0].get("lanes"), int):
            meta, code = stored
            jit = JitModule.from_object(code)
            compiled = _Compiled(jit.function(self.name), jit, int(meta["lanes"]))
        else:
            compiled = self._generate(dtype)
            if compiled.jit.object_code is not None:
                disk_cache.store(key, {"lanes": compiled.lanes}, compiled.jit.object_code)
        with _CACHE_LOCK:
            _MACHINE_CODE[key] = compiled
            while len(_MACHINE_CODE) > CACHE_SIZE:
                _MACHINE_CODE.popitem(last=False)
        return compiled

    def _generate(self, dtype: str) -> _Compiled:
        """Machine code made from the formula: passes, LLVM IR, LLVM's optimizer and code generator."""
        from kir.backends.cpu.codegen import function_lanes, to_llvm_module

        module = self.module(dtype)
        try:
            run_passes(module, formula_passes() + loop_passes(self.schedule(dtype)), verify=False)
        except PassFailedException as error:  # e.g. a derivative the op table cannot give
            raise KirError(str(error)) from None
        funcs = [op for op in module.walk() if isinstance(op, kirl.FuncOp)]
        jit = JitModule(to_llvm_module(module))
        return _Compiled(jit.function(self.name), jit, function_lanes(funcs[0]))

    def gradients(self, positions: tuple[int, ...]) -> list:
        """Kernels of the gradients with respect to the arguments `positions`, fused by reduced
        index (kir/gradients.py); built on first request and kept."""
        from kir.gradients import gradient_kernels

        with self._lock:
            if positions not in self._gradients:
                self._gradients[positions] = gradient_kernels(self, positions)
            return self._gradients[positions]

    def tangents(self, positions: tuple[int, ...]):
        """The kernel of the forward-mode derivatives along the arguments `positions`
        (kir/tangents.py); built on first request and kept."""
        from kir.tangents import tangent_kernel

        with self._lock:
            if positions not in self._tangents:
                self._tangents[positions] = tangent_kernel(self, positions)
            return self._tangents[positions]

    def __call__(self, *arrays: object) -> Any:
        """The reductions of the arrays (torch tensors: differentiable with torch.autograd)."""
        key = _layout_key(arrays)
        if key is None and any(is_torch_tensor(a) for a in arrays):
            from kir.runtime.torch_autograd import call

            return call(self, arrays)
        return self._evaluate(arrays, key)

    def evaluate_numpy(self, *arrays: np.ndarray) -> Any:
        """The reductions of NumPy arrays (the checks skipped for layouts already seen)."""
        return self._evaluate(arrays, _layout_key(arrays))

    def evaluate(self, *arrays: object) -> Any:
        """The reductions of the arrays, without recording anything for autograd."""
        return self._evaluate(arrays, _layout_key(arrays))

    def _evaluate(self, arrays: Sequence[object], key: tuple | None) -> Any:
        plan = self._plans_by_layout.get(key) if key is not None else None
        if plan is None:
            # Only arrays that are not all NumPy are looked at: the NumPy path pays nothing.
            adapter = device_adapter(arrays) if key is None else None
            if adapter is not None:
                from kir.backends.cuda.runtime import evaluate_on_device

                outputs = evaluate_on_device(self, arrays, adapter)
                return outputs[0] if len(outputs) == 1 else tuple(outputs)
            packed = "j" if self.axis == 1 else "i"
            checked, dtype, size_i, size_j = check_arguments(arrays, self.args, self.dtype, packed)
            plan = self._launch_plan(dtype, size_i, size_j)
            # Arrays passed as they are (no copy, no conversion) may skip the checks next time
            # they come with the same dtypes, shapes and strides.
            if key is not None and all(c is a or c.base is a for c, a in zip(checked, arrays, strict=True)):
                if len(self._plans_by_layout) >= LAYOUTS_KEPT:
                    self._plans_by_layout.clear()
                self._plans_by_layout[key] = plan
        else:
            checked = arrays
        outputs = plan.run(checked)
        if key is None and any(is_torch_tensor(a) for a in arrays):
            import torch

            outputs = [torch.from_numpy(o) for o in outputs]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _launch_plan(self, dtype: str, size_i: int | None, size_j: int | None) -> LaunchPlan:
        """The launch plan for `dtype` and the sizes (M, N), made on first use and kept."""
        rows, reduced = reduced_sizes(self.axis, size_i, size_j)
        key = (dtype, rows, reduced)
        plan = self._plans_by_size.get(key)
        if plan is not None:
            return plan
        compiled = self._compile(dtype)
        outputs = []
        for reduction, t in zip(self.reductions, self.output_types(), strict=True):
            element = np.int64 if t.dtype_name == "i64" else DTYPES[dtype]
            column = reduction.axis != self.axis  # one row per reduced index, added in place
            outputs.append(Output(reduced if column else rows, t.size, element, column))
        reduced_category = "j" if self.axis == 1 else "i"
        reduced_args = [spec.category == reduced_category for spec in self.args]
        sums = all(r.kind == "sum" for r in self.reductions)
        plan = LaunchPlan(compiled.function, compiled.lanes, reduced_args, outputs, rows, reduced, sums)
        if len(self._plans_by_size) >= LAYOUTS_KEPT:
            self._plans_by_size.clear()
        self._plans_by_size[key] = plan
        return plan


def _work(node: Expr) -> int:
    """Entries `node`'s lowering computes per pair (OpRule.work; else its dimension)."""
    rule = OP_RULES.get(node.op)
    if rule is None or rule.work is None:
        return node.dim
    return rule.work([a.dim for a in node.args])


def _layout_key(arrays: Sequence[object]) -> tuple | None:
    """(dtype, shape, strides) of each argument when all are NumPy arrays, else None."""
    key = []
    for a in arrays:
        if type(a) is not np.ndarray:
            return None
        key.append((a.dtype, a.shape, a.strides))
    return tuple(key)


def compile(
    formula: str | Expr | Sequence[str | Expr],
    aliases: Sequence[str] = (),
    reduction: str | Sequence[str] = "Sum",
    axis: int | Sequence[int] = 1,
    dtype: str | None = None,
    opt_arg: int | None = None,
    formula2: str | Expr | None = None,
) -> Kernel:
    """Compile `reduction` of `formula` over j (axis=1, one output row per i) or over i (axis=0).

    `aliases` declare the arguments in KeOps' syntax (`"x = Vi(3)"`, `"b = Vj(1)"`,
    `"p = Pm(1)"`); `dtype` is 'float32', 'float64' or None (taken from the arguments).
    Reductions and options are Genred's: Sum, Max, Min, ArgMax, ArgMin, Max_ArgMax, Min_ArgMin,
    KMin, ArgKMin, KMin_ArgKMin (`opt_arg` = K), LogSumExp (with an optional `formula2` of
    weights), Max_SumShiftExp, Max_SumShiftExpWeight and SumSoftMaxWeight (`formula2`), Zero.
    Index results are int64; Min_ArgMin-style reductions return a tuple (docs/semantics.md).
    `formula` (and `formula2`) may also be built in Python (`kir.exp(-kir.sqdist(x, y))`);
    `aliases` are then not needed.

    Several formulas (a list, with one reduction each, or one reduction for all) are computed
    in one kernel, in one pass over the data, and return a tuple. They reduce over the first
    one's index, except sums, which may reduce over the other index (`axis` a list): e.g. a
    kernel's value and its gradients in x (over j) and in y (over i) in one pass.
    """
    if isinstance(formula, list | tuple):
        return _compile_several(list(formula), aliases, reduction, axis, dtype, opt_arg)
    if not isinstance(reduction, str) or not isinstance(axis, int):
        raise KirError("one formula takes one reduction name and one axis")
    if isinstance(formula, Expr):
        if aliases:
            raise KirError("aliases name the variables of a string formula; a built formula needs none")
        if formula2 is not None and not isinstance(formula2, Expr):
            raise KirError("formula2 must be built in Python too when formula is")
        return Kernel.from_expr(formula, reduction, axis, dtype, opt_arg, formula2)
    if isinstance(formula2, Expr):
        raise KirError("formula2 must be a string when formula is")
    if not isinstance(formula, str):
        raise KirError(f"formula must be a string or a built formula, got {type(formula).__name__}")
    return Kernel.from_formula(formula, aliases, reduction, axis, dtype, opt_arg, formula2)


def _compile_several(
    formulas: list[str | Expr],
    aliases: Sequence[str],
    reductions: str | Sequence[str],
    axis: int | Sequence[int],
    dtype: str | None,
    opt_arg: int | None,
) -> Kernel:
    """One kernel computing several reductions over the same index (fused in one pass)."""
    if not formulas:
        raise KirError("compile needs at least one formula")
    names = [reductions] * len(formulas) if isinstance(reductions, str) else list(reductions)
    axes = [axis] * len(formulas) if isinstance(axis, int) else list(axis)
    if len(names) != len(formulas):
        raise KirError(f"{len(formulas)} formulas but {len(names)} reductions")
    if len(axes) != len(formulas):
        raise KirError(f"{len(formulas)} formulas but {len(axes)} axes")
    declared = parse_aliases(list(aliases)) if aliases else {}
    exprs = [parse_formula(f, declared) if isinstance(f, str) else f for f in formulas]
    if any(not isinstance(e, Expr) for e in exprs):
        raise KirError("formulas must be strings or built formulas")
    reductions_list = [
        r
        for e, name, ax in zip(exprs, names, axes, strict=True)
        for r in keops_reductions(e, name, ax, opt_arg)
    ]
    var_names = {var.attributes["index"]: name for name, var in declared.items()}
    return Kernel(reductions_list, signature([*exprs, *declared.values()], var_names), dtype)
