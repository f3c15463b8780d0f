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

Derivative rules (`vjp`), values where the op is not smooth:
- Max / Min over entries: the whole gradient goes to the entry ArgMax / ArgMin selects (the first
  extreme entry on ties, the first NaN if any), as KeOps (OneHot(ArgMax(x))) and torch.max(x, dim)
  do; torch.amax would split it evenly. ArgMax, ArgMin, OneHot: zero derivative (piecewise constant).
- Norm2'(0) = 0 (torch's norm backward); Normalize'(0) = 0 (KeOps' chain rule through Rsqrt(0) = 0;
  torch's x / |x| gives NaN there and F.normalize 1 / eps).
- BSpline: the chain rule of the recurrence above, w.r.t. x and the knots; ratios taken as 0 have
  zero derivative. At x on a knot, the derivative from the right (the interval [t_j, t_{j+1})
  that holds x); order 0 has zero derivative (the indicators are piecewise constant in x and t).
- SoftDTW_SqDist: KeOps' backward recurrence (GradSoftDTW_SqDist), plus the derivative w.r.t.
  gamma (KeOps has none); infinite or NaN costs give NaN derivatives.
"""

from __future__ import annotations

import numpy as np

from kir.dialect import elementwise, matrix
from kir.dialect import vector as ops
from kir.emitter import Emitter, Value
from kir.frontends.expr import Expr, apply, constant
from kir.rules.common import Entries, OpRule, broadcast, keep_dims_sum, sum_entries
from kir.rules.common import leading_axes as _leading
from kir.rules.common import total_of as _total
from kir.rules.softdtw import _lower_softdtw, _softdtw_reference, _vjp_softdtw

# -- helpers ----------------------------------------------------------------------------------------


def _squares(em: Emitter, x: Entries) -> Entries:
    return [em.mul(v, v) for v in x]


def sum_squares(em: Emitter, x: Entries) -> Value:
    """The sum of the squares of `x`, pairs of squares fused into multiply-adds (squares are
    >= 0: rounding once instead of twice changes no infinity, NaN or sign)."""
    if len(x) == 1:
        return em.mul(x[0], x[0])
    terms = [em.mul_add(x[k], x[k], em.mul(x[k + 1], x[k + 1])) for k in range(0, len(x) - 1, 2)]
    if len(x) % 2:
        terms.append(em.mul(x[-1], x[-1]))
    return sum_entries(em, terms)


def _lower_sqdist(em: Emitter, a: Entries, b: Entries) -> Entries:
    differences = [em.sub(u, v) for u, v in zip(a, b, strict=True)]
    return [sum_squares(em, differences)]


def _sqdist_into(em: Emitter, total: Entries, a: Entries, b: Entries) -> Entries:
    running = total[0]
    for u, v in zip(a, b, strict=True):
        difference = em.sub(u, v)
        running = em.mul_add(difference, difference, running)
    return [running]


def _sqnorm2_into(em: Emitter, total: Entries, x: Entries) -> Entries:
    running = total[0]
    for v in x:
        running = em.mul_add(v, v, running)
    return [running]


def _scalprod_into(em: Emitter, total: Entries, a: Entries, b: Entries) -> Entries:
    running = total[0]
    for u, v in zip(a, b, strict=True):
        running = em.accumulate(running, em.mul(u, v))
    return [running]


def _lower_scalprod(em: Emitter, a: Entries, b: Entries) -> Entries:
    return [sum_entries(em, [em.mul(u, v) for u, v in zip(a, b, strict=True)])]


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
    squared = sum_squares(em, x)
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
        return em.mul(s[0], sum_squares(em, x))
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


# -- derivative rules --------------------------------------------------------------------------------
# Each returns, for each operand, the Expr of its cotangent given the cotangent g of the result.


def _vjp_extreme(arg_op: type):
    """Max / Min over entries: g to the entry that ArgMax / ArgMin selects (one entry on ties)."""
    return lambda a, out, g: [apply(ops.OneHotOp, apply(arg_op, a[0]), dim=a[0].dim) * g]


def _vjp_normalize(a, out, g):
    # (g - y <y, g>) / |x| with y = x / |x|; Rsqrt(0) = 0 makes the derivative at x = 0 zero.
    (x,) = a
    return [(g - out * (out | g)) * apply(elementwise.RsqrtOp, apply(ops.SqNorm2Op, x))]


def _weighted_vjp(s: Expr, d: Expr, g: Expr) -> tuple[Expr, Expr]:
    """Cotangents (of s, of d) of WeightedSqNorm(s, d), in the order `_weighted_reference` reads s."""
    if s.dim == 1:
        return g * apply(ops.SqNorm2Op, d), g * s * (2 * d)
    if s.dim == d.dim:
        return g * apply(elementwise.SquareOp, d), g * (2 * (s * d))
    return _symsqnorm_vjp(s, d, g)


def _symsqnorm_vjp(a: Expr, x: Expr, g: Expr) -> tuple[Expr, Expr]:
    # d(x^T A x) = x x^T for A, (A + A^T) x for x: A need not be symmetric.
    both_sides = apply(matrix.MatVecMultOp, a, x) + apply(matrix.VecMatMultOp, x, a)
    return g * apply(matrix.TensorProdOp, x, x), g * both_sides


def _vjp_weighted_sqdist(a, out, g):
    s, x, y = a
    ds, dd = _weighted_vjp(s, x - y, g)
    return [ds, dd, -dd]


def _vjp_concat(a, out, g):
    first, second = a
    return [
        apply(ops.ExtractOp, g, start=0, length=first.dim),
        apply(ops.ExtractOp, g, start=first.dim, length=second.dim),
    ]


def _slice(v: Expr, start: int, length: int) -> Expr:
    return v if start == 0 and length == v.dim else apply(ops.ExtractOp, v, start=start, length=length)


def _place(v: Expr, start: int, dim: int) -> Expr:
    return v if start == 0 and dim == v.dim else apply(ops.ExtractTOp, v, start=start, dim=dim)


def _vjp_bspline(a, out, g, order: int):
    """The chain rule of the De Boor recurrence, one order at a time, down to order 0 (constant)."""
    knots, x = a
    count = knots.dim
    knot_terms: list[Expr] = []
    x_terms: list[Expr] = []
    for k in range(order, 0, -1):
        # Order k from order k - 1: B = R[:-1] * P[:-1] + (1 - R[1:]) * P[1:], with
        # R_i = (x - t_i) / (t_{i+k} - t_i) where t_i < t_{i+k}, else 0 (no derivative there).
        size = count - k
        lower = apply(ops.BSplineOp, knots, x, order=k - 1)
        low, high = _slice(knots, 0, size), _slice(knots, k, size)
        increasing = apply(elementwise.LessThanOp, low, high) - 1.0  # >= 0 where the ratio is taken
        # A denominator of 1 where the ratio is 0 keeps the unused branch (and its derivatives) finite.
        span = apply(elementwise.IfElseOp, increasing, high - low, constant(1.0))
        ratio = apply(elementwise.IfElseOp, increasing, (x - low) / span, constant(0.0))
        spread = _place(g, 0, size) - _place(g, 1, size)
        weight = apply(elementwise.IfElseOp, increasing, lower * spread / span, constant(0.0))
        x_terms.append(apply(ops.SumOp, weight))
        knot_terms.append(_place(weight * (ratio - 1.0), 0, count))
        knot_terms.append(_place(-(weight * ratio), k, count))
        g = _place(g * _slice(ratio, 0, size - 1), 0, size) + _place(
            g * (1.0 - _slice(ratio, 1, size - 1)), 1, size
        )
    if not x_terms:
        return [None, None]
    return [_total(knot_terms), _total(x_terms)]


def _vjp_sqdist(a, out, g):
    # One difference for both operands: fused gradients in x and y share it (and its product).
    toward_a = g * (2 * (a[0] - a[1]))
    return [toward_a, -toward_a]


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
        lower_into=_scalprod_into,
        vjp=lambda a, out, g: [g * a[1], g * a[0]],
    ),
    ops.SqDistOp: OpRule(
        "SqDist",
        lambda a, b: keep_dims_sum(np.square(a - b)),
        _lower_sqdist,
        lower_into=_sqdist_into,
        vjp=_vjp_sqdist,
    ),
    ops.SumTOp: OpRule(
        "SumT",
        lambda x, dim: np.repeat(x, dim, axis=-1),
        lambda em, x, dim: [x[0]] * dim,
        dsl_attrs=("dim",),
        vjp=lambda a, out, g, dim: [apply(ops.SumOp, g)],
    ),
    ops.MaxEntryOp: OpRule(
        "Max",
        lambda x: _extreme_reference(x, True),
        lambda em, x: [_extreme(em, x, "greater")[0]],
        vjp=_vjp_extreme(ops.ArgMaxOp),
    ),
    ops.MinEntryOp: OpRule(
        "Min",
        lambda x: _extreme_reference(x, False),
        lambda em, x: [_extreme(em, x, "less")[0]],
        vjp=_vjp_extreme(ops.ArgMinOp),
    ),
    ops.ArgMaxOp: OpRule(
        "ArgMax",
        lambda x: _arg_extreme_reference(x, True),
        lambda em, x: [_extreme(em, x, "greater")[1]],
        vjp=lambda a, out, g: [None],
    ),
    ops.ArgMinOp: OpRule(
        "ArgMin",
        lambda x: _arg_extreme_reference(x, False),
        lambda em, x: [_extreme(em, x, "less")[1]],
        vjp=lambda a, out, g: [None],
    ),
    ops.Norm2Op: OpRule(
        "Norm2",
        lambda x: np.sqrt(keep_dims_sum(np.square(x))),
        lambda em, x: [em.math("sqrt", sum_squares(em, x))],
        vjp=lambda a, out, g: [g * apply(ops.NormalizeOp, a[0])],  # Normalize(0) = 0: Norm2'(0) = 0
    ),
    ops.SqNorm2Op: OpRule(
        "SqNorm2",
        lambda x: keep_dims_sum(np.square(x)),
        lambda em, x: [sum_squares(em, x)],
        lower_into=_sqnorm2_into,
        vjp=lambda a, out, g: [g * (2 * a[0])],
    ),
    ops.NormalizeOp: OpRule("Normalize", _normalize_reference, _lower_normalize, vjp=_vjp_normalize),
    ops.WeightedSqNormOp: OpRule(
        "WeightedSqNorm",
        _weighted_reference,
        lambda em, s, x: [_lower_weighted(em, s, x)],
        vjp=lambda a, out, g: list(_weighted_vjp(a[0], a[1], g)),
    ),
    ops.WeightedSqDistOp: OpRule(
        "WeightedSqDist",
        lambda s, x, y: _weighted_reference(s, x - y),
        _lower_weighted_sqdist,
        vjp=_vjp_weighted_sqdist,
    ),
    ops.SqNormDiagOp: OpRule(
        "SqNormDiag",
        lambda s, x: keep_dims_sum(s * np.square(x)),
        _lower_sqnormdiag,
        # A scalar s gets the vector g x^2, which the autodiff sums.
        vjp=lambda a, out, g: [g * apply(elementwise.SquareOp, a[1]), g * (2 * (a[0] * a[1]))],
    ),
    ops.SqNormIsoOp: OpRule(
        "SqNormIso",
        lambda s, x: s * keep_dims_sum(np.square(x)),
        lambda em, s, x: [em.mul(s[0], sum_squares(em, x))],
        vjp=lambda a, out, g: [g * apply(ops.SqNorm2Op, a[1]), g * a[0] * (2 * a[1])],
    ),
    ops.SymSqNormOp: OpRule(
        "SymSqNorm",
        _symsqnorm_reference,
        lambda em, a, x: [_lower_weighted(em, a, x)],
        vjp=lambda a, out, g: list(_symsqnorm_vjp(a[0], a[1], g)),
    ),
    ops.ElemOp: OpRule(
        "Elem",
        lambda x, m: x[..., m : m + 1],
        lambda em, x, m: [x[m]],
        dsl_attrs=("m",),
        vjp=lambda a, out, g, m: [apply(ops.ElemTOp, g, n=a[0].dim, m=m)],
    ),
    ops.ElemTOp: OpRule(
        "ElemT",
        _elemt_reference,
        lambda em, x, n, m: _lower_extractt(em, x, m, n),
        dsl_attrs=("n", "m"),
        vjp=lambda a, out, g, n, m: [apply(ops.ElemOp, g, m=m)],
    ),
    ops.ExtractOp: OpRule(
        "Extract",
        lambda x, start, length: x[..., start : start + length],
        lambda em, x, start, length: x[start : start + length],
        dsl_attrs=("start", "length"),
        vjp=lambda a, out, g, start, length: [apply(ops.ExtractTOp, g, start=start, dim=a[0].dim)],
    ),
    ops.ExtractTOp: OpRule(
        "ExtractT",
        _extractt_reference,
        _lower_extractt,
        dsl_attrs=("start", "dim"),
        vjp=lambda a, out, g, start, dim: [apply(ops.ExtractOp, g, start=start, length=a[0].dim)],
    ),
    ops.ConcatOp: OpRule(
        "Concat",
        lambda a, b: np.concatenate(_leading(a, b), axis=-1),
        lambda em, a, b: a + b,
        vjp=_vjp_concat,
    ),
    ops.OneHotOp: OpRule(
        "OneHot", _onehot_reference, _lower_onehot, dsl_attrs=("dim",), vjp=lambda a, out, g, dim: [None]
    ),
    ops.BSplineOp: OpRule(
        "BSpline", _bspline_reference, _lower_bspline, dsl_attrs=("order",), vjp=_vjp_bspline
    ),
    ops.SoftDTWSqDistOp: OpRule(
        "SoftDTW_SqDist",
        _softdtw_reference,
        _lower_softdtw,
        # Each cell of the grid: a squared difference, a soft-min of three (three exps, a log).
        work=lambda dims: 6 * dims[0] * dims[1],
        vjp=_vjp_softdtw,
    ),
}
