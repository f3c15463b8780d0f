"""The reference evaluator: any formula-level kernel computed densely with NumPy in float64.

It is the oracle of the differential tests and a back-end of its own for tiny problems. The
(M, N) matrix of formula values is materialized, in slabs of output rows so that memory stays
bounded; every op is evaluated by its `reference` rule from `kir.registry`, every reduction by
its rule from `kir.reductions`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from kir.dialect.formula import ConstantOp, KernelOp, ReduceOp, VarOp
from kir.reductions import REDUCTION_RULES, ReductionSpec
from kir.registry import rule_for

SLAB_ENTRIES = 1 << 23
"""Upper bound on formula entries (rows x reduced size x dim) evaluated at once."""


def single_kernel(module: ModuleOp | KernelOp) -> KernelOp:
    """The one `kir.kernel` of a module (or the kernel itself)."""
    if isinstance(module, KernelOp):
        return module
    kernels = [op for op in module.ops if isinstance(op, KernelOp)]
    if len(kernels) != 1:
        raise ValueError(f"expected one kir.kernel in the module, found {len(kernels)}")
    return kernels[0]


def _sizes(kernel: KernelOp, arrays: Sequence[np.ndarray]) -> tuple[int, int]:
    sizes = {"i": None, "j": None}
    for var in kernel.variables:
        category = var.result.type.cat
        if category in sizes:
            sizes[category] = len(arrays[var.index.value.data])
    missing = [category for category, size in sizes.items() if size is None]
    if missing:
        # Guessing 0 would silently give empty reductions: the caller knows the sizes.
        raise ValueError(f"the kernel has no {missing[0]}-variable: pass sizes=(M, N) to evaluate()")
    return sizes["i"], sizes["j"]


def evaluate(
    module: ModuleOp | KernelOp,
    arrays: Sequence[np.ndarray],
    sizes: tuple[int, int] | None = None,
) -> list[np.ndarray]:
    """The kernel's outputs, in float64 (int64 for index reductions), one array per output.

    `arrays[k]` is argument k: shaped (M, dim) for an i-variable, (N, dim) for a j-variable,
    (dim,) for a parameter. `sizes` gives (M, N) when no variable of a category exists.
    """
    kernel = single_kernel(module)
    from kir.passes.autodiff import differentiate_kernel  # derivatives become plain ops first

    kernel = differentiate_kernel(kernel) or kernel
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    size_i, size_j = sizes or _sizes(kernel, arrays)
    reductions = kernel.reductions
    results: list[np.ndarray | None] = [None] * len(reductions)
    # A kernel may reduce over both indices (column sums fused with row reductions): evaluate
    # each index's reductions in slabs of its own output rows.
    for axis in sorted({r.axis_value for r in reductions}) or [1]:
        rows = size_i if axis == 1 else size_j
        reduced = size_j if axis == 1 else size_i
        widest = max([op.results[0].type.size for op in kernel.body.block.ops if op.results] + [1])
        step = max(1, SLAB_ENTRIES // max(1, reduced * widest))
        slabs: dict[int, list[np.ndarray]] = {}
        for start in range(0, max(rows, 1), step):
            rows_here = slice(start, min(start + step, rows))
            for k, result in _evaluate_slab(kernel, arrays, axis, rows_here, (size_i, size_j)):
                slabs.setdefault(k, []).append(result)
        for k, parts in slabs.items():
            results[k] = np.concatenate(parts, axis=0)
    return results


def _evaluate_slab(
    kernel: KernelOp,
    arrays: list[np.ndarray],
    axis: int,
    rows: slice,
    sizes: tuple[int, int],
) -> list[tuple[int, np.ndarray]]:
    """Outputs for output rows `rows`; values are laid out (i, j, dim)."""
    out_category = "i" if axis == 1 else "j"
    values: dict[object, np.ndarray] = {}
    outputs: list[tuple[int, np.ndarray]] = []
    for op in kernel.body.block.ops:
        if isinstance(op, VarOp):
            data = arrays[op.position]
            category = op.result.type.cat
            if category == "p":
                values[op.result] = data.reshape(1, 1, -1)
                continue
            if category == out_category:
                data = data[rows]
            values[op.result] = data[:, None, :] if category == "i" else data[None, :, :]
        elif isinstance(op, ConstantOp):
            values[op.result] = np.asarray(op.values, dtype=np.float64).reshape(1, 1, -1)
        elif isinstance(op, ReduceOp):
            if op.axis_value != axis:
                continue
            size_i = rows.stop - rows.start if axis == 1 else sizes[0]
            size_j = sizes[1] if axis == 1 else rows.stop - rows.start
            dense = [np.broadcast_to(values[v], (size_i, size_j, v.type.size)) for v in op.args]
            spec = ReductionSpec(
                op.kind_name,
                op.formula.type.size,
                dense[1].shape[-1] if len(dense) > 1 else 0,
                op.k_value or 0,
            )
            rule = REDUCTION_RULES[op.kind_name]
            position = kernel.reductions.index(op)
            outputs.append(
                (
                    position,
                    rule.reference(spec, dense[0], dense[1] if len(dense) > 1 else None, op.axis_value),
                )
            )
        elif op.results:
            rule = rule_for(op)
            with np.errstate(all="ignore"):
                values[op.results[0]] = rule.reference(
                    *(values[v] for v in op.operands), **op.attribute_values
                )
    return outputs
