"""One table of what each reduction means: its reference rule and its accumulator state.

A reduction is lowered as a state machine over the reduced index: `init` gives the empty
state, `update` folds one formula value (with its weights and index) in, `combine` merges two
states built over consecutive index ranges (the earlier first: blocks, threads, GPU blocks),
`finalize` gives the output entries. A state is a list of components, each a list of entries;
`layout` says whether each component holds floats or 64-bit indices, so back-ends carry states
through loops without knowing the reduction. Shapes (what each kind takes and gives) are the
dialect's: `kir.dialect.core.REDUCTIONS`.

Semantics, shared by the reference rule and the lowering (docs/semantics.md):
- Sum: 0 over an empty index. Zero: zeros.
- Min / Max / KMin: NaN values are skipped, as KeOps' compare-and-keep loops do; +inf / -inf
  fill what no value reached (an empty index included).
- ArgMin / ArgMax / ArgKMin: int64 index of the best values strictly better than the start
  value (+inf for Min, -inf for Max), the smallest index first on ties; -1 where there is none.
- KMin / ArgKMin: the K best per entry, best first; entry d of rank r sits at r * dim + d.
- LogSumExp family: running maximum plus a sum rescaled on each new maximum (KeOps'
  Max_SumShiftExp); -inf over an empty index; NaN propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from kir.dialect import formula as ops
from kir.emitter import Emitter, Value
from kir.frontends.expr import apply

State = list[list[Value]]


@dataclass(frozen=True)
class ReductionSpec:
    """One reduction's sizes: formula dimension, weight dimension (0: none), K (0: none)."""

    kind: str
    dim: int
    weight_dim: int = 0
    k: int = 0


@dataclass(frozen=True)
class ReductionRule:
    """The facets of one reduction."""

    layout: Callable[[ReductionSpec], tuple[str, ...]]
    """Kind of each state component: 'float' or 'index'."""
    reference: Callable[[ReductionSpec, np.ndarray, np.ndarray | None, int], np.ndarray]
    """Dense rule: (spec, values (I, J, dim) float64, weights (I, J, E) or None, axis) -> result."""
    init: Callable[[Emitter, ReductionSpec], State]
    update: Callable[[Emitter, ReductionSpec, State, list[Value], list[Value] | None, Value], State]
    combine: Callable[[Emitter, ReductionSpec, State, State], State]
    finalize: Callable[[Emitter, ReductionSpec, State], list[Value]]
    admits: Callable[[Emitter, ReductionSpec, State, list[Value]], Value] | None = None
    """`admits(em, spec, state, value)`: false where `value` (at a later index) cannot change
    the state; None: any value may. With it, a vectorized loop keeps one state (not one per
    lane), tests a whole vector of values at once and folds in, in index order, only the
    lanes admitted: for K-min, a vector rarely holds a value below the K-th best so far."""
    cotangent: Callable | None = None
    """The derivative rule: `cotangent(F, G, O, gamma)` gives the cotangents (formulas) of the
    reduced formula F and of the weights G (None: no dependence) at one pair (i, j), given the
    output O and its cotangent gamma (variables of the output's index), then the outputs of the
    `auxiliary` reductions. The gradient of the output with respect to any variable x is then
    the Sum over the right index of Grad(F, x, cot F) + Grad(G, x, cot G) (kir/gradients.py).
    None: not differentiable yet."""
    auxiliary: Callable | None = None
    """`auxiliary(F, G)`: (kind, formula) of reductions over the same index whose outputs the
    cotangent rule needs (the log-sum-exp of the soft-max), or None."""


def _without(shape: tuple[int, ...], axis: int) -> list[int]:
    return [n for k, n in enumerate(shape) if k != axis]


# -- Sum and Zero -------------------------------------------------------------------------------

_SUM = ReductionRule(
    layout=lambda spec: ("float",),
    reference=lambda spec, values, weights, axis: values.sum(axis=axis),
    init=lambda em, spec: [[em.constant(0.0)] * spec.dim],
    update=lambda em, spec, state, value, weight, index: [
        [em.accumulate(s, v) for s, v in zip(state[0], value, strict=True)]
    ],
    combine=lambda em, spec, a, b: [[em.add(x, y) for x, y in zip(a[0], b[0], strict=True)]],
    finalize=lambda em, spec, state: state[0],
)

_ZERO = ReductionRule(
    layout=lambda spec: (),
    reference=lambda spec, values, weights, axis: np.zeros(_without(values.shape, axis)),
    init=lambda em, spec: [],
    update=lambda em, spec, state, value, weight, index: [],
    combine=lambda em, spec, a, b: [],
    finalize=lambda em, spec, state: [em.constant(0.0)] * spec.dim,
)


# -- Min, Max, their Arg and K versions ---------------------------------------------------------


def _ranked(smaller: bool, k_of: Callable[[ReductionSpec], int], output: str) -> ReductionRule:
    """Keep the K best values per entry (K = 1 for Min/Max/ArgMin/ArgMax), with their indices
    when the output is indices. A slot is a tuple (value,) or (value, index)."""
    start = np.inf if smaller else -np.inf
    with_indices = output == "indices"

    def better(em: Emitter, value: Value, kept: Value) -> Value:
        return em.less(value, kept) if smaller else em.greater(value, kept)

    def before(em: Emitter, new: tuple, slot: tuple) -> Value:
        # Equal values are ordered by index: states combined out of index order (SIMD lanes
        # hold interleaved indices) still keep the smallest index first.
        strictly = better(em, new[0], slot[0])
        if not with_indices:
            return strictly
        tie = em.logical_and(em.equal(new[0], slot[0]), em.index_less(new[1], slot[1]))
        return em.logical_or(strictly, tie)

    def insert(em: Emitter, slots: list[tuple], new: tuple, ordered: bool = True) -> list[tuple]:
        # Slots are sorted best first; `new` goes before the first slot it strictly beats, so
        # ties keep the earlier index first and NaN (which beats nothing) never enters. When
        # `new` may come from an earlier index (`ordered` False), ties compare indices.
        beats = [better(em, new[0], slot[0]) if ordered else before(em, new, slot) for slot in slots]
        result = []
        for r, slot in enumerate(slots):
            incoming = (
                new
                if r == 0
                else tuple(
                    em.select(beats[r - 1], above, fresh)
                    for above, fresh in zip(slots[r - 1], new, strict=True)
                )
            )
            result.append(tuple(em.select(beats[r], x, kept) for x, kept in zip(incoming, slot, strict=True)))
        return result

    def columns(spec: ReductionSpec, state: State) -> list[list[tuple]]:
        """Per entry d, its K slots."""
        k = k_of(spec)
        return [[tuple(c[r * spec.dim + d] for c in state) for r in range(k)] for d in range(spec.dim)]

    def rebuild(spec: ReductionSpec, per_entry: list[list[tuple]]) -> State:
        k = k_of(spec)
        width = len(per_entry[0][0])
        return [[per_entry[d][r][c] for r in range(k) for d in range(spec.dim)] for c in range(width)]

    def update(em, spec, state, value, weight, index):
        new = [(v, index) if with_indices else (v,) for v in value]
        return rebuild(
            spec, [insert(em, slots, n) for slots, n in zip(columns(spec, state), new, strict=True)]
        )

    def combine(em, spec, a, b):
        # b's slots go in after a's; ties compare indices, so the order of a and b is free.
        merged = []
        for slots, later in zip(columns(spec, a), columns(spec, b), strict=True):
            for slot in later:
                slots = insert(em, slots, slot, ordered=False)
            merged.append(slots)
        return rebuild(spec, merged)

    def reference(spec, values, weights, axis):
        k = k_of(spec)
        cleaned = np.moveaxis(np.where(np.isnan(values), start, values), axis, -2)  # (rows, n, dim)
        order = np.argsort(cleaned if smaller else -cleaned, axis=-2, kind="stable")[..., :k, :]
        best = np.take_along_axis(cleaned, order, axis=-2)
        missing = k - best.shape[-2]
        if missing > 0:
            pad = [(0, 0)] * (best.ndim - 2) + [(0, missing), (0, 0)]
            best = np.pad(best, pad, constant_values=start)
            order = np.pad(order, pad, constant_values=-1)
        order = np.where(best == start, -1, order)
        flat = order.astype(np.int64) if with_indices else best
        return flat.reshape(*flat.shape[:-2], k * spec.dim)

    def admits(em, spec, state, value):
        # Strictly better than the worst slot kept, in some entry: ties and NaN change nothing.
        worst = (k_of(spec) - 1) * spec.dim
        flags = [better(em, v, state[0][worst + d]) for d, v in enumerate(value)]
        admitted = flags[0]
        for flag in flags[1:]:
            admitted = em.logical_or(admitted, flag)
        return admitted

    def init(em, spec):
        size = k_of(spec) * spec.dim
        return [[em.constant(start)] * size] + ([[em.index_constant(-1)] * size] if with_indices else [])

    return ReductionRule(
        layout=lambda spec: ("float", "index") if with_indices else ("float",),
        reference=reference,
        init=init,
        update=update,
        combine=combine,
        finalize=lambda em, spec, state: state[-1],
        admits=admits,
    )


# -- The log-sum-exp family ---------------------------------------------------------------------


def _shifted_update(em: Emitter, peak: Value, sums: list[Value], value: Value, weights: list[Value]):
    """Fold exp(value) * weights into sums kept relative to exp(peak). One exp per value: shift by
    whichever of (value, peak) is larger; equal values (infinities included) add exp(0) = 1
    instead of exp(inf - inf) = NaN. A NaN value becomes the peak, so NaN propagates."""
    rises = em.greater(value, peak)
    delta = em.select(rises, em.sub(peak, value), em.sub(value, peak))
    scale = em.math("exp", em.select(em.equal(value, peak), em.constant(0.0), delta))
    new_sums = [
        em.select(rises, em.add(em.mul(s, scale), w), em.add(s, em.mul(scale, w)))
        for s, w in zip(sums, weights, strict=True)
    ]
    return em.select(em.logical_or(rises, em.is_nan(value)), value, peak), new_sums


def _shifted_combine(em: Emitter, peak_a: Value, sums_a: list[Value], peak_b: Value, sums_b: list[Value]):
    peak = em.select(em.logical_or(em.greater(peak_b, peak_a), em.is_nan(peak_b)), peak_b, peak_a)

    def rescaled(m: Value, sums: list[Value]) -> list[Value]:
        # A state already at the peak needs no rescaling (and inf - inf would be NaN).
        factor = em.select(em.equal(m, peak), em.constant(1.0), em.math("exp", em.sub(m, peak)))
        return [em.mul(s, factor) for s in sums]

    return peak, [
        em.add(x, y) for x, y in zip(rescaled(peak_a, sums_a), rescaled(peak_b, sums_b), strict=True)
    ]


def _reference_shifted(values: np.ndarray, weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(peak, sum of exp(values - peak) * weights) over `axis`, values equal to the peak
    counting exp(0) = 1 (so infinite peaks give counts, not NaN)."""
    if values.shape[axis] == 0:
        return np.full(_without(values.shape, axis), -np.inf), np.zeros(_without(weights.shape, axis))
    with np.errstate(all="ignore"):
        peak = values.max(axis=axis, keepdims=True)
        terms = np.where(values == peak, 1.0, np.exp(values - peak))
        return np.squeeze(peak, axis=axis), (terms * weights).sum(axis=axis)


def _lse_family(view: str) -> ReductionRule:
    """Unweighted: one (peak, sum) per entry. `view`: 'log' -> peak + log(sum); 'raw' -> both."""

    def update(em, spec, state, value, weight, index):
        pairs = [
            _shifted_update(em, m, [s], v, [em.constant(1.0)]) for m, s, v in zip(*state, value, strict=True)
        ]
        return [[m for m, _ in pairs], [s[0] for _, s in pairs]]

    def combine(em, spec, a, b):
        pairs = [_shifted_combine(em, ma, [sa], mb, [sb]) for ma, sa, mb, sb in zip(*a, *b, strict=True)]
        return [[m for m, _ in pairs], [s[0] for _, s in pairs]]

    def finalize(em, spec, state):
        if view == "raw":
            return state[0] + state[1]
        return [em.add(m, em.math("log", s)) for m, s in zip(*state, strict=True)]

    def reference(spec, values, weights, axis):
        peak, total = _reference_shifted(values, np.ones_like(values), axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.concatenate([peak, total], axis=-1) if view == "raw" else peak + np.log(total)

    return ReductionRule(
        layout=lambda spec: ("float", "float"),
        reference=reference,
        init=lambda em, spec: [[em.constant(-np.inf)] * spec.dim, [em.constant(0.0)] * spec.dim],
        update=update,
        combine=combine,
        finalize=finalize,
    )


def _weighted_family(view: str) -> ReductionRule:
    """Scalar formula F, weights G of dim E: one peak, E weighted sums (plus the plain sum
    of exp for the soft-max). `view`: 'log' (m + log s), 'raw' (m, s), 'softmax' (s / s0)."""
    softmax = view == "softmax"

    def update(em, spec, state, value, weight, index):
        weights = ([em.constant(1.0)] if softmax else []) + list(weight)
        peak, sums = _shifted_update(em, state[0][0], state[1], value[0], weights)
        return [[peak], sums]

    def combine(em, spec, a, b):
        peak, sums = _shifted_combine(em, a[0][0], a[1], b[0][0], b[1])
        return [[peak], sums]

    def finalize(em, spec, state):
        (peak,), sums = state
        if softmax:
            return [em.div(s, sums[0]) for s in sums[1:]]
        if view == "raw":
            return [peak, *sums]
        return [em.add(peak, em.math("log", s)) for s in sums]

    def reference(spec, values, weights, axis):
        peak, total = _reference_shifted(values, weights, axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            if softmax:
                _, normalizer = _reference_shifted(values, np.ones_like(values), axis)
                return total / normalizer
            if view == "raw":
                return np.concatenate([peak, total], axis=-1)
            return peak + np.log(total)

    sums = (lambda spec: spec.weight_dim + 1) if softmax else (lambda spec: spec.weight_dim)
    return ReductionRule(
        layout=lambda spec: ("float", "float"),
        reference=reference,
        init=lambda em, spec: [[em.constant(-np.inf)], [em.constant(0.0)] * sums(spec)],
        update=update,
        combine=combine,
        finalize=finalize,
    )


def _exp_shift(f, o):
    return apply(ops.ExpOp, f - o)


# Min/Max: the gradient goes to the pairs whose value is the output (all of them on ties).
_SELECTED = lambda f, g, o, gamma: (gamma * apply(ops.EqualOp, f, o), None)  # noqa: E731
_NO_GRADIENT = lambda f, g, o, gamma: (None, None)  # noqa: E731 - integer outputs, constant zero


def _kmin_cot(f, o, gamma):
    """Each rank r passes its cotangent to the pairs whose value is the r-th smallest."""
    dim, ranks = f.dim, o.dim // f.dim
    total = None
    for r in range(ranks):
        rank = apply(ops.ExtractOp, gamma, start=r * dim, length=dim)
        selected = apply(ops.EqualOp, f, apply(ops.ExtractOp, o, start=r * dim, length=dim))
        total = rank * selected if total is None else total + rank * selected
    return total


REDUCTION_RULES: dict[str, ReductionRule] = {
    "sum": replace(_SUM, cotangent=lambda f, g, o, gamma: (gamma, None)),
    "zero": replace(_ZERO, cotangent=_NO_GRADIENT),
    "min": replace(_ranked(True, lambda spec: 1, "values"), cotangent=_SELECTED),
    "max": replace(_ranked(False, lambda spec: 1, "values"), cotangent=_SELECTED),
    "argmin": replace(_ranked(True, lambda spec: 1, "indices"), cotangent=_NO_GRADIENT),
    "argmax": replace(_ranked(False, lambda spec: 1, "indices"), cotangent=_NO_GRADIENT),
    "kmin": replace(
        _ranked(True, lambda spec: spec.k, "values"),
        cotangent=lambda f, g, o, gamma: (_kmin_cot(f, o, gamma), None),
    ),
    "argkmin": replace(_ranked(True, lambda spec: spec.k, "indices"), cotangent=_NO_GRADIENT),
    # d log sum_j exp(F) = sum_j exp(F - O) dF
    "logsumexp": replace(
        _lse_family("log"), cotangent=lambda f, g, o, gamma: (gamma * _exp_shift(f, o), None)
    ),
    "max_sumshiftexp": _lse_family("raw"),
    # d log sum_j exp(F) G_e = sum_j exp(F - O_e) (G_e dF + dG_e)
    "logsumexp_weight": replace(
        _weighted_family("log"),
        cotangent=lambda f, g, o, gamma: (
            apply(ops.SumOp, gamma * _exp_shift(f, o) * g),
            gamma * _exp_shift(f, o),
        ),
    ),
    "max_sumshiftexpweight": _weighted_family("raw"),
    # out = sum_j p_j G_j with p = softmax_j(F): d out = sum_j p_j (dG_j + (G_j - out) dF_j);
    # p needs log sum_j exp(F), an auxiliary reduction computed before the gradient.
    "sumsoftmaxweight": replace(
        _weighted_family("softmax"),
        auxiliary=lambda f, g: [("logsumexp", f)],
        cotangent=lambda f, g, o, gamma, lse: (
            _exp_shift(f, lse) * apply(ops.ScalprodOp, gamma, g - o),
            gamma * _exp_shift(f, lse),
        ),
    ),
}
"""Reduction kind (as in `kir.reduce`) -> rule."""

KEOPS_REDUCTIONS: dict[str, tuple[str, ...]] = {
    "Sum": ("sum",),
    "Zero": ("zero",),
    "Min": ("min",),
    "Max": ("max",),
    "ArgMin": ("argmin",),
    "ArgMax": ("argmax",),
    "Min_ArgMin": ("min", "argmin"),
    "Max_ArgMax": ("max", "argmax"),
    "KMin": ("kmin",),
    "ArgKMin": ("argkmin",),
    "KMin_ArgKMin": ("kmin", "argkmin"),
    "LogSumExp": ("logsumexp",),
    "Max_SumShiftExp": ("max_sumshiftexp",),
    "Max_SumShiftExpWeight": ("max_sumshiftexpweight",),
    "SumSoftMaxWeight": ("sumsoftmaxweight",),
}
"""KeOps' reduction names (as Genred spells them) -> the kir reductions computed, fused in one
kernel. LogSumExp with a `formula2` becomes `logsumexp_weight`."""
