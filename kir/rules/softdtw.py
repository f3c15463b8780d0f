"""SoftDTW_SqDist's rules: the soft-DTW recurrence over the (i, j) cells of two series, its
dense reference, and its derivative (the expected alignment, by the backward recurrence)."""

from __future__ import annotations

import numpy as np

from kir.dialect import elementwise
from kir.dialect import vector as ops
from kir.emitter import Emitter, Value
from kir.frontends.expr import Expr, apply
from kir.rules.common import Entries
from kir.rules.common import leading_axes as _leading
from kir.rules.common import total_of as _total


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


def _stack(scalars: list[Expr]) -> Expr:
    result = scalars[0]
    for scalar in scalars[1:]:
        result = apply(ops.ConcatOp, result, scalar)
    return result


def _softdtw_table(x: Expr, y: Expr, gamma: Expr) -> tuple[list[list[Expr]], ...]:
    """The differences x_i - y_j, the running costs r_ij and the soft-mins of the recurrence, as
    formulas: one node per cell (SoftDTW_SqDist of every prefix would be quadratic in cells)."""
    n, m = x.dim, y.dim
    xs = [apply(ops.ElemOp, x, m=i) for i in range(n)]
    ys = [apply(ops.ElemOp, y, m=j) for j in range(m)]
    diff = [[xs[i] - ys[j] for j in range(m)] for i in range(n)]
    r: list[list[Expr]] = [[None] * m for _ in range(n)]  # type: ignore[list-item]
    soft: list[list[Expr]] = [[None] * m for _ in range(n)]  # type: ignore[list-item]
    for j in range(m):
        for i in range(n):
            cost = apply(elementwise.SquareOp, diff[i][j])
            if i == 0 or j == 0:
                r[i][j] = cost if i == j == 0 else cost + (r[i - 1][j] if j == 0 else r[i][j - 1])
                continue
            inputs = (r[i - 1][j - 1], r[i - 1][j], r[i][j - 1])
            # Shifted by the smallest input, as the lowering; the shift's derivative cancels out.
            low = apply(elementwise.MinimumOp, apply(elementwise.MinimumOp, inputs[0], inputs[1]), inputs[2])
            total = _total([apply(elementwise.ExpOp, (low - v) / gamma) for v in inputs])
            soft[i][j] = low - gamma * apply(elementwise.LogOp, total)
            r[i][j] = cost + soft[i][j]
    return diff, r, soft


def _vjp_softdtw(a, out, g):
    """KeOps' backward recurrence (GradSoftDTW_SqDist), plus the derivative w.r.t. gamma.

    e[i][j] = d out / d r[i][j] flows back from the successors of (i, j): with weight 1 from a cell
    of the first row or column (a plain running sum), exp((softmin_s - r_ij) / gamma) (the soft-min's
    weight of r_ij) from the others. Costs enter additively, so d out / d cost_ij = e[i][j].
    """
    x, y, gamma = a
    n, m = x.dim, y.dim
    diff, r, soft = _softdtw_table(x, y, gamma)

    weights: dict[tuple[int, int, int, int], Expr] = {}

    def weight(i: int, j: int, si: int, sj: int) -> Expr:
        """The soft-min weight of r[i][j] in the interior cell (si, sj)."""
        key = (i, j, si, sj)
        if key not in weights:
            weights[key] = apply(elementwise.ExpOp, (soft[si][sj] - r[i][j]) / gamma)
        return weights[key]

    e: list[list[Expr]] = [[g] * m for _ in range(n)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            successors = [
                (si, sj) for si, sj in ((i + 1, j), (i, j + 1), (i + 1, j + 1)) if si < n and sj < m
            ]
            terms = [
                e[si][sj] if 0 in (si, sj) else e[si][sj] * weight(i, j, si, sj) for si, sj in successors
            ]
            if terms:
                e[i][j] = _total(terms)
    dx = [_total([e[i][j] * (2.0 * diff[i][j]) for j in range(m)]) for i in range(n)]
    dy = [-_total([e[i][j] * (2.0 * diff[i][j]) for i in range(n)]) for j in range(m)]
    # d softmin / d gamma with its inputs fixed: (softmin - sum_l p_l a_l) / gamma, p_l its weights.
    dgamma: list[Expr] = []
    for i in range(1, n):
        for j in range(1, m):
            inputs = [(i - 1, j - 1), (i - 1, j), (i, j - 1)]
            mean = _total([weight(pi, pj, i, j) * r[pi][pj] for pi, pj in inputs])
            dgamma.append(e[i][j] * (soft[i][j] - mean))
    return [_stack(dx), _stack(dy), _total(dgamma) / gamma if dgamma else None]
