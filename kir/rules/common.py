"""What op rules share: the rule record and helpers for entry lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kir.emitter import Emitter, Value

if TYPE_CHECKING:
    from kir.frontends.expr import Expr

Entries = list[Value]


@dataclass(frozen=True)
class OpRule:
    """The facets of one formula op.

    - `reference(*arrays, **attrs)`: NumPy, float64, arrays shaped (..., dim) that broadcast like
      KeOps operands (a last axis of 1 broadcasts); returns (..., result dim).
    - `lower(emitter, *operands, **attrs)`: operands are lists of entries (one per vector entry);
      returns the result's entries, built with `kir.emitter.Emitter` calls.
    """

    dsl: str | None
    """Function name in KeOps' formula syntax (None: reached only through an operator)."""
    reference: Callable[..., np.ndarray]
    lower: Callable[..., Entries]
    dsl_attrs: tuple[str, ...] = ()
    """Arguments after the formula arguments in the DSL (integers or tuples), by attribute name."""
    work: Callable[[list[int]], int] | None = None
    """Entries the lowering computes per pair, from the operands' dimensions, where that is
    far more than the result's (a recurrence over a grid, SoftDTW_SqDist's cells): schedules
    give such formulas fewer rows and lanes, whose code would otherwise take minutes to compile.
    None: the result's dimension."""
    lower_into: Callable[..., Entries] | None = None
    """For sums over entries (SqDist, Scalprod, ...): `lower_into(emitter, total, *operands)`
    gives `total + op(operands)` as one running sum started at `total` (one entry), so that a
    chunked sum (kir-chunk-d) adds each chunk's terms straight into the chunks' running total:
    a chain of multiply-adds, no separate partial sum per chunk."""
    vjp: Callable[..., list] | None = None
    """The derivative rule: `vjp(args, out, g, **attrs)` returns, for each operand, the formula
    (an `Expr`) of its cotangent given the cotangent `g` of the result `out` — or None where the
    op does not depend on that operand differentiably (a zero derivative). A cotangent may keep
    the result's dimension for an operand of dimension 1 that was broadcast: the autodiff sums
    it. None for an op without a rule yet (autodiff then says so)."""


def broadcast(*operands: Entries) -> list[Entries]:
    """KeOps' rule on entry lists: one-entry operands repeat to the common length."""
    length = max(len(o) for o in operands)
    return [o * length if len(o) == 1 else o for o in operands]


def elementwise(scalar: Callable[..., Value]) -> Callable[..., Entries]:
    """The lowering of an elementwise op from its rule on one entry of each operand."""

    def lower(em: Emitter, *operands: Entries, **attrs: object) -> Entries:
        return [scalar(em, *entries, **attrs) for entries in zip(*broadcast(*operands), strict=True)]

    return lower


def sum_entries(em: Emitter, entries: Entries) -> Value:
    """Pairwise sum: shorter dependency chains and better rounding than a running sum."""
    while len(entries) > 1:
        paired = [em.add(entries[k], entries[k + 1]) for k in range(0, len(entries) - 1, 2)]
        entries = paired + ([entries[-1]] if len(entries) % 2 else [])
    return entries[0]


def keep_dims_sum(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis, kept as an axis of length 1."""
    return values.sum(axis=-1, keepdims=True)


def as_float(em: Emitter, condition: Value) -> Value:
    """1.0 where `condition` holds, else 0.0 (KeOps' comparisons return numbers)."""
    return em.select(condition, em.constant(1.0), em.constant(0.0))


def total_of(terms: list[Expr]) -> Expr:
    """The sum of the formulas `terms`, left to right."""
    result = terms[0]
    for term in terms[1:]:
        result = result + term
    return result


def leading_axes(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays broadcast over their leading axes, each keeping its own last axis."""
    shape = np.broadcast_shapes(*(a.shape[:-1] for a in arrays))
    return [np.broadcast_to(a, shape + a.shape[-1:]) for a in arrays]
