"""The `kir` dialect: formula-level ops on small category-tagged vectors.

The ops live in one module per group (core: variables, constants, reductions, kernels;
elementwise; vector; ...); this module assembles them into the dialect. Any op class can be
reached from here as well (`formula.ExpOp`), whichever group defines it.
"""

from __future__ import annotations

from types import ModuleType

from xdsl.ir import Dialect

from kir.dialect import autodiff, complex, core, elementwise, matrix, vector
from kir.dialect.core import REDUCTIONS, ConstantOp, KernelOp, OutputOp, ReduceOp, VarOp
from kir.dialect.types import VecType

GROUPS: tuple[ModuleType, ...] = (core, elementwise, vector, matrix, complex, autodiff)
"""The modules defining kir's ops, each with an `OPS` list."""

KIR = Dialect("kir", [op for group in GROUPS for op in group.OPS], [VecType])

_CLASS_NAMES = [op.__name__ for group in GROUPS for op in group.OPS]
if len(set(_CLASS_NAMES)) != len(_CLASS_NAMES):  # `__getattr__` below would hide one of them
    raise ImportError(
        f"two kir op classes share a name: {sorted(n for n in _CLASS_NAMES if _CLASS_NAMES.count(n) > 1)}"
    )

__all__ = ["GROUPS", "KIR", "REDUCTIONS", "ConstantOp", "KernelOp", "OutputOp", "ReduceOp", "VarOp"]


def __getattr__(name: str) -> type:
    for group in GROUPS:
        if name in {op.__name__ for op in group.OPS}:
            return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
