"""Rules of the vector ops (kir/dialect/vector.py).

References are plain vectorized NumPy over the leading (i, j) axes; a loop in Python runs only
over a vector's (small) entries where the op is a recurrence (BSpline, SoftDTW_SqDist).

Special values, decided here and shared by the reference and the lowering:
- Max / Min / ArgMax / ArgMin propagate NaN as torch does: a NaN entry is the result, and the
  Arg ops give the position of the first NaN; otherwise the first extreme entry on ties.
  (KeOps' own loop keeps a leading NaN but skips later ones; we do not copy that order dependence.)
- Normalize(0) is the zero vector (KeOps: Rsqrt(0) = 0); an infinite entry gives |x| = inf,
  hence 0 * inf = NaN at that entry and (signed) zeros elsewhere, as KeOps' Rsqrt(SqNorm2(x)) * x.
- OneHot(x, dim): position floor(x + 0.5) (nearest integer, halves up; KeOps truncates x + 0.5,
  which agrees for x >= -0.5); a NaN, infinite or out-of-range position gives the zero vector
  (KeOps writes out of bounds there).
- BSpline: KeOps' De Boor recurrence step by step, ratios taken as 0 where knots coincide;
  NaN knots make their comparisons false (hence a ratio of 0), a NaN x gives 0 at order 0 and
  NaN from order 1 on.
- SoftDTW_SqDist: KeOps' recurrence (hard cumulative sums on the first row and column, soft-min
  with parameter gamma elsewhere); the soft-min of three +inf is +inf (KeOps: NaN), a NaN cost
  gives NaN.
"""

from __future__ import annotations

import numpy as np

from kir.dialect import vector as ops
from kir.emitter import Emitter, Value
from kir.frontends.expr import apply
from kir.rules.common import Entries, OpRule, broadcast, keep_dims_sum, sum_entries

# -- helpers ----------------------------------------------------------------------------------------


def _squares(em: Emitter, x: Entries) -> Entries:
    return [em.mul(v, v) for v in x]


def _lower_sqdist(em: Emitter, a: Entries, b: Entries) -> Entries:
    differences = [em.sub(u, v) for u, v in zip(a, b, strict=True)]
    return [sum_entries(em, _squares(em, differences))]


def _lower_scalprod(em: Emitter, a: Entries, b: Entries) -> Entries:
    return [sum_entries(em, [em.mul(u, v) for u, v in zip(a, b, strict=True)])]


def _leading(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays broadcast over their leading axes, each keeping its own last axis."""
    shape = np.broadcast_shapes(*(a.shape[:-1] for a in arrays))
    return [np.broadcast_to(a, shape + a.shape[-1:]) for a in arrays]


# -- Max, Min, ArgMax, ArgMin over entries -----------------------------------------------------------


def _extreme(em: Emitter, x: Entries, better: str) -> tuple[Value, Value]:
    """(value, position) of the first extreme entry; a NaN entry wins over any number."""
    best, position = x[0], em.constant(0.0)
    for k, value in enumerate(x[1:], start=1):
        takes_nan = em.logical_and(em.is_nan(value), em.logical_not(em.is_nan(best)))
        take = em.logical_or(getattr(em, better)(value, best), takes_nan)
        best = em.select(take, value, best)
        position = em.select(take, em.constant(float(k)), position)
    return best, position


def _arg_extreme_reference(x: np.ndarray, largest: bool) -> np.ndarray:
    # np.argmax / np.argmin return the first NaN if any, else the first extreme entry.
    position = np.argmax(x, axis=-1) if largest else np.argmin(x, axis=-1)
    return position[..., None].astype(np.float64)


def _extreme_reference(x: np.ndarray, largest: bool) -> np.ndarray:
    position = _arg_extreme_reference(x, largest).astype(np.int64)
    return np.take_along_axis(x, position, axis=-1)


# -- norms -------------------------------------------------------------------------------------------


def _lower_normalize(em: Emitter, x: Entries) -> Entries:
    squared = sum_entries(em, _squares(em, x))
    inverse = em.div(em.constant(1.0), em.math("sqrt", squared))
    scale = em.select(em.equal(squared, em.constant(0.0)), em.constant(0.0), inverse)
    return [em.mul(scale, v) for v in x]


def _normalize_reference(x: np.ndarray) -> np.ndarray:
    squared = keep_dims_sum(np.square(x))
    return np.where(squared == 0.0, 0.0, 1.0 / np.sqrt(squared)) * x


def _lower_weighted(em: Emitter, s: Entries, x: Entries) -> Value:
    """KeOps' WeightedSqNorm: isotropic, diagonal or full (row-major D x D) weights."""
    dim = len(x)
    if len(s) == 1:
        return em.mul(s[0], sum_entries(em, _squares(em, x)))
    if len(s) == dim:
        return sum_entries(em, [em.mul(w, q) for w, q in zip(s, _squares(em, x), strict=True)])
    return sum_entries(
        em, [em.mul(s[k * dim + c], em.mul(x[k], x[c])) for k in range(dim) for c in range(dim)]
    )


def _lower_sqnormdiag(em: Emitter, s: Entries, x: Entries) -> Entries:
    # KeOps' Sum(s * Square(x)): a scalar s multiplies each square (not their sum).
    weights, squares = broadcast(s, _squares(em, x))
    return [sum_entries(em, [em.mul(w, q) for w, q in zip(weights, squares, strict=True)])]


def _weighted_reference(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    dim = x.shape[-1]
    if s.shape[-1] == 1:
        return s * keep_dims_sum(np.square(x))
    if s.shape[-1] == dim:
        return keep_dims_sum(s * np.square(x))
    return _symsqnorm_reference(s, x)


def _symsqnorm_reference(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    dim = x.shape[-1]
    matrix = a.reshape(a.shape[:-1] + (dim, dim))
    products = matrix * (x[..., :, None] * x[..., None, :])
    return products.sum(axis=(-2, -1))[..., None]


def _lower_weighted_sqdist(em: Emitter, s: Entries, x: Entries, y: Entries) -> Entries:
    x, y = broadcast(x, y)
    return [_lower_weighted(em, s, [em.sub(u, v) for u, v in zip(x, y, strict=True)])]


# -- slices, injections, one-hot -----------------------------------------------------------------------


def _lower_extractt(em: Emitter, x: Entries, start: int, dim: int) -> Entries:
    """x written at `start` in a zero vector of dimension `dim` (ElemT is the scalar case)."""
    zero = em.constant(0.0)
    return [zero] * start + x + [zero] * (dim - start - len(x))


def _elemt_reference(x: np.ndarray, n: int, m: int) -> np.ndarray:
    out = np.zeros(x.shape[:-1] + (n,))
    out[..., m] = x[..., 0]
    return out


def _extractt_reference(x: np.ndarray, start: int, dim: int) -> np.ndarray:
    out = np.zeros(x.shape[:-1] + (dim,))
    out[..., start : start + x.shape[-1]] = x
    return out


def _lower_onehot(em: Emitter, x: Entries, dim: int) -> Entries:
    position = em.math("floor", em.add(x[0], em.constant(0.5)))
    one, zero = em.constant(1.0), em.constant(0.0)
    return [em.select(em.equal(position, em.constant(float(k))), one, zero) for k in range(dim)]


def _onehot_reference(x: np.ndarray, dim: int) -> np.ndarray:
    return (np.floor(x + 0.5) == np.arange(dim)).astype(np.float64)


# -- BSpline -------------------------------------------------------------------------------------------


def _lower_bspline(em: Emitter, knots: Entries, x: Entries, order: int) -> Entries:
    t, (at,) = knots, x
    zero, one = em.constant(0.0), em.constant(1.0)

    def ratio(i: int, k: int) -> Value:
        # (x - t_i) / (t_{i+k} - t_i), 0 where the knots do not increase (De Boor's convention).
        value = em.div(em.sub(at, t[i]), em.sub(t[i + k], t[i]))
        return em.select(em.less(t[i], t[i + k]), value, zero)

    inside = [em.logical_and(em.less_equal(t[j], at), em.less(at, t[j + 1])) for j in range(len(t) - 1)]
    basis = [em.select(c, one, zero) for c in inside]
    for k in range(1, order + 1):
        ratios = [ratio(i, k) for i in range(len(t) - k)]
        basis = [
            em.add(em.mul(ratios[i], basis[i]), em.mul(em.sub(one, ratios[i + 1]), basis[i + 1]))
            for i in range(len(t) - 1 - k)
        ]
    return basis


def _bspline_reference(knots: np.ndarray, x: np.ndarray, order: int) -> np.ndarray:
    t, x = _leading(knots, x)
    count = t.shape[-1]
    basis = ((t[..., :-1] <= x) & (x < t[..., 1:])).astype(np.float64)
    for k in range(1, order + 1):
        low, high = t[..., : count - k], t[..., k:]
        ratio = np.where(low < high, (x - low) / (high - low), 0.0)
        basis = ratio[..., :-1] * basis[..., :-1] + (1.0 - ratio[..., 1:]) * basis[..., 1:]
    return basis


# -- SoftDTW_SqDist ------------------------------------------------------------------------------------


def _lower_softdtw(em: Emitter, x: Entries, y: Entries, gamma: Entries) -> Entries:
    (g,) = gamma
    inf = em.constant(float("inf"))

    def cost(i: int, j: int) -> Value:
        d = em.sub(x[i], y[j])
        return em.mul(d, d)

    def softmin(diagonal: Value, up: Value, left: Value) -> Value:
        low = diagonal
        for v in (up, left):
            low = em.select(em.less(v, low), v, low)
        # Shifting by 0 when all three are +inf gives +inf instead of inf - inf = NaN.
        shift = em.select(em.equal(low, inf), em.constant(0.0), low)
        terms = [em.math("exp", em.div(em.sub(shift, v), g)) for v in (diagonal, up, left)]
        return em.sub(shift, em.mul(g, em.math("log", em.add(em.add(terms[0], terms[1]), terms[2]))))

    previous: Entries = []  # r[i][j - 1] for every i
    for j in range(len(y)):
        column: Entries = []
        for i in range(len(x)):
            if i == 0 and j == 0:
                column.append(cost(0, 0))
            elif j == 0:
                column.append(em.add(cost(i, 0), column[i - 1]))
            elif i == 0:
                column.append(em.add(cost(0, j), previous[0]))
            else:
                column.append(em.add(cost(i, j), softmin(previous[i - 1], column[i - 1], previous[i])))
        previous = column
    return [previous[-1]]


def _softdtw_reference(x: np.ndarray, y: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    x, y, gamma = _leading(x, y, gamma)
    g = gamma[..., 0]

    def softmin(diagonal: np.ndarray, up: np.ndarray, left: np.ndarray) -> np.ndarray:
        low = np.fmin(np.fmin(diagonal, up), left)
        shift = np.where(low == np.inf, 0.0, low)
        total = np.exp((shift - diagonal) / g) + np.exp((shift - up) / g) + np.exp((shift - left) / g)
        return shift - g * np.log(total)

    n, m = x.shape[-1], y.shape[-1]
    r = np.empty(x.shape[:-1] + (n, m))
    costs = np.square(x[..., :, None] - y[..., None, :])
    r[..., :, 0] = np.cumsum(costs[..., :, 0], axis=-1)
    r[..., 0, :] = np.cumsum(costs[..., 0, :], axis=-1)
    for j in range(1, m):
        for i in range(1, n):
            r[..., i, j] = costs[..., i, j] + softmin(
                r[..., i - 1, j - 1], r[..., i - 1, j], r[..., i, j - 1]
            )
    return r[..., n - 1, m - 1][..., None]


RULES: dict[type, OpRule] = {
    ops.SumOp: OpRule(
        "Sum",
        keep_dims_sum,
        lambda em, x: [sum_entries(em, x)],
        vjp=lambda a, out, g: [apply(ops.SumTOp, g, dim=a[0].dim)],
    ),
    ops.ScalprodOp: OpRule(
        "Scalprod",
        lambda a, b: keep_dims_sum(a * b),
        _lower_scalprod,
        vjp=lambda a, out, g: [g * a[1], g * a[0]],
    ),
    ops.SqDistOp: OpRule(
        "SqDist",
        lambda a, b: keep_dims_sum(np.square(a - b)),
        _lower_sqdist,
        vjp=lambda a, out, g: [g * (2 * (a[0] - a[1])), g * (2 * (a[1] - a[0]))],
    ),
    ops.SumTOp: OpRule(
        "SumT",
        lambda x, dim: np.repeat(x, dim, axis=-1),
        lambda em, x, dim: [x[0]] * dim,
        dsl_attrs=("dim",),
    ),
    ops.MaxEntryOp: OpRule(
        "Max", lambda x: _extreme_reference(x, True), lambda em, x: [_extreme(em, x, "greater")[0]]
    ),
    ops.MinEntryOp: OpRule(
        "Min", lambda x: _extreme_reference(x, False), lambda em, x: [_extreme(em, x, "less")[0]]
    ),
    ops.ArgMaxOp: OpRule(
        "ArgMax", lambda x: _arg_extreme_reference(x, True), lambda em, x: [_extreme(em, x, "greater")[1]]
    ),
    ops.ArgMinOp: OpRule(
        "ArgMin", lambda x: _arg_extreme_reference(x, False), lambda em, x: [_extreme(em, x, "less")[1]]
    ),
    ops.Norm2Op: OpRule(
        "Norm2",
        lambda x: np.sqrt(keep_dims_sum(np.square(x))),
        lambda em, x: [em.math("sqrt", sum_entries(em, _squares(em, x)))],
    ),
    ops.SqNorm2Op: OpRule(
        "SqNorm2", lambda x: keep_dims_sum(np.square(x)), lambda em, x: [sum_entries(em, _squares(em, x))]
    ),
    ops.NormalizeOp: OpRule("Normalize", _normalize_reference, _lower_normalize),
    ops.WeightedSqNormOp: OpRule(
        "WeightedSqNorm", _weighted_reference, lambda em, s, x: [_lower_weighted(em, s, x)]
    ),
    ops.WeightedSqDistOp: OpRule(
        "WeightedSqDist", lambda s, x, y: _weighted_reference(s, x - y), _lower_weighted_sqdist
    ),
    ops.SqNormDiagOp: OpRule(
        "SqNormDiag",
        lambda s, x: keep_dims_sum(s * np.square(x)),
        _lower_sqnormdiag,
    ),
    ops.SqNormIsoOp: OpRule(
        "SqNormIso",
        lambda s, x: s * keep_dims_sum(np.square(x)),
        lambda em, s, x: [em.mul(s[0], sum_entries(em, _squares(em, x)))],
    ),
    ops.SymSqNormOp: OpRule("SymSqNorm", _symsqnorm_reference, lambda em, a, x: [_lower_weighted(em, a, x)]),
    ops.ElemOp: OpRule("Elem", lambda x, m: x[..., m : m + 1], lambda em, x, m: [x[m]], dsl_attrs=("m",)),
    ops.ElemTOp: OpRule(
        "ElemT",
        _elemt_reference,
        lambda em, x, n, m: _lower_extractt(em, x, m, n),
        dsl_attrs=("n", "m"),
    ),
    ops.ExtractOp: OpRule(
        "Extract",
        lambda x, start, length: x[..., start : start + length],
        lambda em, x, start, length: x[start : start + length],
        dsl_attrs=("start", "length"),
    ),
    ops.ExtractTOp: OpRule(
        "ExtractT",
        _extractt_reference,
        _lower_extractt,
        dsl_attrs=("start", "dim"),
    ),
    ops.ConcatOp: OpRule(
        "Concat", lambda a, b: np.concatenate(_leading(a, b), axis=-1), lambda em, a, b: a + b
    ),
    ops.OneHotOp: OpRule("OneHot", _onehot_reference, _lower_onehot, dsl_attrs=("dim",)),
    ops.BSplineOp: OpRule("BSpline", _bspline_reference, _lower_bspline, dsl_attrs=("order",)),
    ops.SoftDTWSqDistOp: OpRule("SoftDTW_SqDist", _softdtw_reference, _lower_softdtw),
}
