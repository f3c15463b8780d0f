"""One table of what each reduction means: its reference rule and its accumulator state.

A reduction is lowered as a state machine over the reduced index: `init` gives the empty
state, `update` folds one formula value (and its index) in, `combine` merges two states built
over consecutive index ranges (the earlier first: tiles, threads, GPU blocks), `finalize`
gives the output. A state is a list of components, each a list of `dim` entries; `layout`
says whether each component holds floats or 64-bit indices, so back-ends can carry states
through loops without knowing the reduction.

Semantics (shared with the reference rule):
- Sum: 0 when the reduced index is empty.
- Min / Max: NaN values are skipped, as KeOps' compare-and-keep loop does; +inf / -inf when
  no value remains (empty reduced index included).
- ArgMin: index (int64) of the smallest non-NaN value, the smallest index on ties; -1 when
  there is none (empty reduced index, or NaN everywhere).
- LogSumExp: log(sum(exp(f))) computed with a running maximum (KeOps' Max_SumShiftExp);
  -inf for an empty reduced index; NaN propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kir.emitter import Emitter, Value

State = list[list[Value]]


@dataclass(frozen=True)
class ReductionRule:
    """The facets of one reduction."""

    layout: tuple[str, ...]
    """Kind of each state component: 'float' or 'index'."""
    reference: Callable[[np.ndarray, int], np.ndarray]
    """Dense rule: (values shaped (M, N, dim) in float64, axis to reduce) -> result."""
    init: Callable[[Emitter, int], State]
    update: Callable[[Emitter, State, list[Value], Value], State]
    combine: Callable[[Emitter, State, State], State]
    finalize: Callable[[Emitter, State], list[Value]]


def _map(fn: Callable[..., Value], *columns: list[Value]) -> list[Value]:
    return [fn(*entries) for entries in zip(*columns, strict=True)]


# -- Sum ---------------------------------------------------------------------------------------

_SUM = ReductionRule(
    layout=("float",),
    reference=lambda values, axis: values.sum(axis=axis),
    init=lambda em, dim: [[em.constant(0.0)] * dim],
    update=lambda em, state, value, index: [_map(em.add, state[0], value)],
    combine=lambda em, a, b: [_map(em.add, a[0], b[0])],
    finalize=lambda em, state: state[0],
)


# -- Min / Max ----------------------------------------------------------------------------------


def _extremum(smaller: bool) -> ReductionRule:
    start = np.inf if smaller else -np.inf

    def better(em: Emitter, value: Value, best: Value) -> Value:
        return em.less(value, best) if smaller else em.greater(value, best)

    def reference(values: np.ndarray, axis: int) -> np.ndarray:
        cleaned = np.where(np.isnan(values), start, values)
        if values.shape[axis] == 0:
            shape = list(values.shape)
            del shape[axis]
            return np.full(shape, start)
        return cleaned.min(axis=axis) if smaller else cleaned.max(axis=axis)

    def update(em: Emitter, state: State, value: list[Value], index: Value) -> State:
        return [_map(lambda v, s: em.select(better(em, v, s), v, s), value, state[0])]

    return ReductionRule(
        layout=("float",),
        reference=reference,
        init=lambda em, dim: [[em.constant(start)] * dim],
        update=update,
        combine=lambda em, a, b: update(em, a, b[0], None),
        finalize=lambda em, state: state[0],
    )


# -- ArgMin -------------------------------------------------------------------------------------


def _argmin_reference(values: np.ndarray, axis: int) -> np.ndarray:
    shape = list(values.shape)
    del shape[axis]
    if values.shape[axis] == 0:
        return np.full(shape, -1, dtype=np.int64)
    nan = np.isnan(values)
    indices = np.where(nan, np.inf, values).argmin(axis=axis).astype(np.int64)
    return np.where(nan.all(axis=axis), -1, indices)


def _argmin_take(em: Emitter, value: Value, best: Value, best_index: Value) -> Value:
    # Strict `<` keeps the earlier index on ties; an empty state (index -1) takes any non-NaN.
    empty = em.index_equal(best_index, em.index_constant(-1))
    return em.logical_or(em.less(value, best), em.logical_and(empty, em.logical_not(em.is_nan(value))))


def _argmin_update(em: Emitter, state: State, value: list[Value], index: Value) -> State:
    take = [_argmin_take(em, v, s, k) for v, s, k in zip(value, state[0], state[1], strict=True)]
    return [
        _map(em.select, take, value, state[0]),
        [em.select(t, index, k) for t, k in zip(take, state[1], strict=True)],
    ]


def _argmin_combine(em: Emitter, a: State, b: State) -> State:
    # b covers later indices: it wins only when strictly better, or when a saw nothing valid.
    take = [
        em.logical_and(
            em.logical_not(em.index_equal(kb, em.index_constant(-1))),
            em.logical_or(em.less(vb, va), em.index_equal(ka, em.index_constant(-1))),
        )
        for va, ka, vb, kb in zip(a[0], a[1], b[0], b[1], strict=True)
    ]
    return [_map(em.select, take, b[0], a[0]), _map(em.select, take, b[1], a[1])]


_ARGMIN = ReductionRule(
    layout=("float", "index"),
    reference=_argmin_reference,
    init=lambda em, dim: [[em.constant(np.inf)] * dim, [em.index_constant(-1)] * dim],
    update=_argmin_update,
    combine=_argmin_combine,
    finalize=lambda em, state: state[1],
)


# -- LogSumExp ----------------------------------------------------------------------------------


def _logsumexp_reference(values: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        peak = values.max(axis=axis, keepdims=True) if values.shape[axis] else None
        if peak is None:
            shape = list(values.shape)
            del shape[axis]
            return np.full(shape, -np.inf)
        shift = np.where(np.isfinite(peak), peak, 0.0)
        total = np.exp(values - shift).sum(axis=axis)
        return np.log(total) + np.squeeze(shift, axis=axis)


def _logsumexp_update(em: Emitter, state: State, value: list[Value], index: Value) -> State:
    peaks, sums = state
    new_peaks, new_sums = [], []
    for v, m, s in zip(value, peaks, sums, strict=True):
        # One exp per value: shift by whichever of (v, m) is larger. Equal values (-inf
        # included) add exp(0) = 1 instead of exp(-inf - -inf) = NaN.
        rises = em.greater(v, m)
        delta = em.select(rises, em.sub(m, v), em.sub(v, m))
        scale = em.exp(em.select(em.equal(v, m), em.constant(0.0), delta))
        new_sums.append(em.select(rises, em.add(em.mul(s, scale), em.constant(1.0)), em.add(s, scale)))
        new_peaks.append(em.select(rises, v, m))
    return [new_peaks, new_sums]


def _logsumexp_combine(em: Emitter, a: State, b: State) -> State:
    peaks, sums = [], []
    for ma, sa, mb, sb in zip(a[0], a[1], b[0], b[1], strict=True):
        b_higher = em.greater(mb, ma)
        peak = em.select(b_higher, mb, ma)

        def rescaled(m: Value, s: Value, peak: Value = peak) -> Value:
            # A state already at the peak needs no rescaling (and -inf - -inf would be NaN).
            return em.select(em.equal(m, peak), s, em.mul(s, em.exp(em.sub(m, peak))))

        peaks.append(peak)
        sums.append(em.add(rescaled(ma, sa), rescaled(mb, sb)))
    return [peaks, sums]


_LOGSUMEXP = ReductionRule(
    layout=("float", "float"),
    reference=_logsumexp_reference,
    init=lambda em, dim: [[em.constant(-np.inf)] * dim, [em.constant(0.0)] * dim],
    update=_logsumexp_update,
    combine=_logsumexp_combine,
    finalize=lambda em, state: [em.add(m, em.log(s)) for m, s in zip(state[0], state[1], strict=True)],
)


REDUCTION_RULES: dict[str, ReductionRule] = {
    "sum": _SUM,
    "min": _extremum(smaller=True),
    "max": _extremum(smaller=False),
    "argmin": _ARGMIN,
    "logsumexp": _LOGSUMEXP,
}
"""Reduction kind (as in `kir.reduce`) -> rule."""

KEOPS_NAMES = {"Sum": "sum", "Min": "min", "Max": "max", "ArgMin": "argmin", "LogSumExp": "logsumexp"}
"""KeOps' reduction names (as Genred spells them) -> kir's."""
