"""`LazyTensor.dense()`: the formula's (..., M, N, D) values, computed with the ops' reference
rules (NumPy, float64), for small problems and for checking."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kir.autodiff import expand
from kir.dialect.formula import ConstantOp, VarOp
from kir.frontends.expr import Expr
from kir.registry import OP_RULES

from .engine import core_ndim

DENSE_ENTRIES = 1 << 28
"""Largest M * N * D (per batch) dense() materializes."""


def dense_values(
    formula: Expr, arrays: Sequence[np.ndarray], ni: int, nj: int, batch: tuple[int, ...] = ()
) -> np.ndarray:
    """Values of `formula` (variables by position in `arrays`) at every (i, j): (*batch, M, N, D)."""
    from kir.errors import KirError

    if ni * nj * formula.dim > DENSE_ENTRIES:
        raise KirError(f"dense() of a {ni} x {nj} x {formula.dim} LazyTensor is too large to materialize")
    formula = expand(formula)  # Grad and Diff become plain ops
    categories = {n.attributes["index"]: n.category for n in formula.walk() if n.op is VarOp}
    if not batch:
        return _values(formula, arrays, ni, nj)
    out = np.empty(batch + (ni, nj, formula.dim))
    for index in np.ndindex(*batch):
        picked = []
        for k, array in enumerate(arrays):
            own = array.shape[: array.ndim - core_ndim(categories.get(k, "p"))]
            where = tuple(
                0 if n == 1 else i for i, n in zip(index[len(batch) - len(own) :], own, strict=True)
            )
            picked.append(array[where] if where else array)
        out[index] = _values(formula, picked, ni, nj)
    return out


def _values(formula: Expr, arrays: Sequence[np.ndarray], ni: int, nj: int) -> np.ndarray:
    values: dict[int, np.ndarray] = {}
    for node in formula.walk():
        if node.op is VarOp:
            data = np.asarray(arrays[node.attributes["index"]], dtype=np.float64)
            shape = {"i": (-1, 1, node.dim), "j": (1, -1, node.dim), "p": (1, 1, node.dim)}[node.category]
            values[id(node)] = data.reshape(shape)
        elif node.op is ConstantOp:
            values[id(node)] = np.asarray(node.attributes["values"], dtype=np.float64).reshape(1, 1, -1)
        else:
            with np.errstate(all="ignore"):
                values[id(node)] = OP_RULES[node.op].reference(
                    *(values[id(a)] for a in node.args), **node.attributes
                )
    return np.broadcast_to(values[id(formula)], (ni, nj, formula.dim)).copy()
