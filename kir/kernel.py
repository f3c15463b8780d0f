"""`kir.compile` and `Kernel`: a formula and a reduction, compiled on first call per dtype."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from kir.builder import Reduction, build_kernel
from kir.context import module_text
from kir.errors import ArgumentError, KirError
from kir.frontends.dsl import parse_aliases, parse_formula
from kir.frontends.expr import Expr, variables_of
from kir.pipeline import formula_passes, loop_passes, run_passes
from kir.reductions import KEOPS_NAMES
from kir.runtime.arrays import DTYPES, SHORT_DTYPES, ArgumentSpec, check_arguments, is_torch_tensor


def signature(roots: Sequence[Expr], names: dict[int, str] | None = None) -> list[ArgumentSpec]:
    """The arguments of a kernel over the formulas `roots`, by position; `names` label them."""
    names = names or {}
    used = variables_of(list(roots))
    count = max(used) + 1 if used else 0
    missing = [k for k in range(count) if k not in used]
    if missing:
        raise KirError(f"argument position(s) {missing} are neither declared nor used in the formula")
    return [ArgumentSpec(k, names.get(k, f"arg{k}"), used[k].dim, used[k].category) for k in range(count)]


@dataclass
class _Compiled:
    """Machine code for one dtype, and the IR of every stage that produced it."""

    function: ctypes._CFuncPtr
    stages: dict[str, str]


class Kernel:
    """A compiled kernel reduction; call it with the arrays in argument order.

    `kernel(x, y, b)` returns one array with one row per output index (M rows for axis=1,
    N for axis=0): NumPy in, NumPy out; torch CPU tensors in, torch tensors out.
    """

    def __init__(
        self,
        expr: Expr,
        args: Sequence[ArgumentSpec],
        reduction: str = "Sum",
        axis: int = 1,
        dtype: str | None = None,
    ):
        if reduction not in KEOPS_NAMES:
            raise KirError(f"unknown reduction {reduction!r}; kir knows {', '.join(KEOPS_NAMES)}")
        if axis not in (0, 1):
            raise KirError(f"axis must be 0 (reduce over i) or 1 (reduce over j), got {axis!r}")
        if dtype is not None and dtype not in DTYPES:
            raise KirError(f"dtype must be None, 'float32' or 'float64', got {dtype!r}")
        self.expr, self.args, self.reduction, self.axis, self.dtype = expr, list(args), reduction, axis, dtype
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_formula(
        cls, formula: str, aliases: Sequence[str], reduction: str, axis: int, dtype: str | None
    ) -> Kernel:
        """A kernel for a formula in KeOps' syntax and its aliases."""
        declared = parse_aliases(list(aliases))
        expr = parse_formula(formula, declared)
        names = {var.attributes["index"]: name for name, var in declared.items()}
        return cls(expr, signature([expr, *declared.values()], names), reduction, axis, dtype)

    @property
    def name(self) -> str:
        """Symbol of the kernel in the IR."""
        return "kernel"

    @property
    def var_names(self) -> dict[int, str]:
        return {spec.position: spec.name for spec in self.args}

    def module(self, dtype: str = "float32") -> ModuleOp:
        """The formula-level IR (kir dialect) for `dtype`."""
        reduction = Reduction(self.expr, KEOPS_NAMES[self.reduction], self.axis)
        return build_kernel(self.name, [reduction], SHORT_DTYPES[dtype], self.var_names)

    def ir(self, stage: str = "kir", dtype: str | None = None) -> str:
        """The kernel's IR at `stage`: 'kir' (formula), 'loops', 'llvm' or 'llvm-opt'."""
        stages = self._compile(dtype or self.dtype or "float32").stages
        if stage not in stages:
            raise KirError(f"unknown stage {stage!r}; choose from {', '.join(stages)}")
        return stages[stage]

    def _compile(self, dtype: str) -> _Compiled:
        with self._lock:
            if dtype not in self._compiled:
                self._compiled[dtype] = self._build(dtype)
            return self._compiled[dtype]

    def _build(self, dtype: str) -> _Compiled:
        from kir.backends.cpu.codegen import to_llvm_module
        from kir.backends.cpu.jit import JitModule

        module = self.module(dtype)
        stages = {"kir": module_text(module)}
        run_passes(module, formula_passes() + loop_passes(), verify=False)
        stages["loops"] = module_text(module)
        llvm_module = to_llvm_module(module)
        stages["llvm"] = str(llvm_module)
        jit = JitModule(llvm_module)
        stages["llvm-opt"] = jit.optimized_ir()
        return _Compiled(jit.function(self.name), stages)

    def __call__(self, *arrays: object) -> np.ndarray:
        returns_torch = any(is_torch_tensor(a) for a in arrays)
        checked, dtype, size_i, size_j = check_arguments(arrays, self.args, self.dtype)
        rows, reduced = (size_i, size_j) if self.axis == 1 else (size_j, size_i)
        if rows is None:
            raise ArgumentError(
                f"the formula has no {'i' if self.axis == 1 else 'j'}-variable, so the number of "
                "output rows is unknown"
            )
        if reduced is None:
            raise ArgumentError(
                f"the formula has no {'j' if self.axis == 1 else 'i'}-variable, so the size of the "
                "reduced index is unknown"
            )
        compiled = self._compile(dtype)
        kind = KEOPS_NAMES[self.reduction]
        out_dtype = np.int64 if kind.startswith("arg") else DTYPES[dtype]
        output = np.empty((rows, self.expr.dim), dtype=out_dtype)
        arg_pointers = (ctypes.c_void_p * max(1, len(checked)))(*[a.ctypes.data for a in checked])
        out_pointers = (ctypes.c_void_p * 1)(output.ctypes.data)
        if rows:
            compiled.function(0, rows, reduced, arg_pointers, out_pointers)
        if returns_torch:
            import torch

            return torch.from_numpy(output)
        return output


def compile(
    formula: str,
    aliases: Sequence[str] = (),
    reduction: str = "Sum",
    axis: int = 1,
    dtype: str | None = None,
) -> Kernel:
    """Compile `reduction` of `formula` over j (axis=1, one output row per i) or over i (axis=0).

    `aliases` declare the arguments in KeOps' syntax (`"x = Vi(3)"`, `"b = Vj(1)"`,
    `"p = Pm(1)"`); `dtype` is 'float32', 'float64' or None (taken from the arguments).
    Reductions: Sum, Min, Max, ArgMin (int64 indices), LogSumExp.
    """
    return Kernel.from_formula(formula, aliases, reduction, axis, dtype)
