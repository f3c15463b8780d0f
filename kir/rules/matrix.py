"""Rules of the matrix ops (kir/dialect/matrix.py).

References reshape the operands' last axis into row-major matrices or tensors and use NumPy's
elementwise products, sums and `einsum`, not `matmul`: a BLAS kernel need not propagate the NaN
of inf * 0 (some skip zero entries), and the reference must.
Lowerings expand every result entry into its sum of products at compile time: the shapes are
small and fixed, and each entry's products are added pairwise.
Derivative rules: every op is bilinear, so each cotangent is the same kind of product of the
result's cotangent g with the other operand (TensorDot: a TensorDot of g and the other operand
that contracts the axes the result took from it, then puts the axes back in place). No kinks.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np

from kir.dialect import matrix as ops
from kir.emitter import Emitter
from kir.frontends.expr import Expr, apply
from kir.rules.common import Entries, OpRule, sum_entries

Shape = tuple[int, ...]


# -- references ---------------------------------------------------------------------------------


def _as_tensor(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The last axis of `x` read as a row-major tensor of `shape`."""
    return x.reshape(*x.shape[:-1], *shape)


def _flatten(x: np.ndarray, rank: int) -> np.ndarray:
    """The last `rank` axes of `x` flattened row-major into one."""
    return x.reshape(*x.shape[: x.ndim - rank], -1)


def _matvecmult(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    m = v.shape[-1]
    return (_as_tensor(a, (a.shape[-1] // m, m)) * v[..., None, :]).sum(axis=-1)


def _vecmatmult(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    n = v.shape[-1]
    return (v[..., :, None] * _as_tensor(a, (n, a.shape[-1] // n))).sum(axis=-2)


def _tensorprod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _flatten(a[..., :, None] * b[..., None, :], 2)


def _einsum_letters(count: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if count > len(letters):
        raise ValueError(f"reference TensorDot handles at most {len(letters)} axes, got {count}")
    return list(letters[:count])


def _tensordot(
    a: np.ndarray,
    b: np.ndarray,
    dimfa: Shape,
    dimfb: Shape,
    contfa: Shape,
    contfb: Shape,
    permute: Shape | None = None,
) -> np.ndarray:
    letters = _einsum_letters(len(dimfa) + len(dimfb))
    axes_a, axes_b = letters[: len(dimfa)], letters[len(dimfa) :]
    for k_a, k_b in zip(contfa, contfb, strict=True):
        axes_b[k_b] = axes_a[k_a]  # a shared letter is summed over
    natural = [s for k, s in enumerate(axes_a) if k not in contfa]
    natural += [s for k, s in enumerate(axes_b) if k not in contfb]
    output = list(natural)
    if permute is not None:
        for axis, position in enumerate(permute):
            output[position] = natural[axis]
    spec = f"...{''.join(axes_a)},...{''.join(axes_b)}->...{''.join(output)}"
    result = np.einsum(spec, _as_tensor(a, dimfa), _as_tensor(b, dimfb))
    # A trailing axis of 1 keeps a full contraction (no result axes) a vector of dimension 1.
    return _flatten(result[..., None], len(output) + 1)


def _kron(a: np.ndarray, b: np.ndarray, dimfa: Shape, dimfb: Shape) -> np.ndarray:
    letters = _einsum_letters(2 * len(dimfa))
    axes_a, axes_b = letters[: len(dimfa)], letters[len(dimfa) :]
    interleaved = "".join(s + t for s, t in zip(axes_a, axes_b, strict=True))
    spec = f"...{''.join(axes_a)},...{''.join(axes_b)}->...{interleaved}"
    result = np.einsum(spec, _as_tensor(a, dimfa), _as_tensor(b, dimfb))
    return _flatten(result[..., None], 2 * len(dimfa) + 1)


# -- lowerings ----------------------------------------------------------------------------------


def _row_major_index(index: Sequence[int], shape: Sequence[int]) -> int:
    flat = 0
    for i, size in zip(index, shape, strict=True):
        flat = flat * size + i
    return flat


def tensordot_terms(
    dimfa: Shape, dimfb: Shape, contfa: Shape, contfb: Shape, permute: Shape | None = None
) -> list[list[tuple[int, int]]]:
    """For each flat result entry of TensorDot, the (entry of a, entry of b) pairs whose products it sums."""
    keep_a = [k for k in range(len(dimfa)) if k not in contfa]
    keep_b = [k for k in range(len(dimfb)) if k not in contfb]
    natural_shape = [dimfa[k] for k in keep_a] + [dimfb[k] for k in keep_b]
    order = list(range(len(natural_shape))) if permute is None else list(permute)
    # Output position order[k] holds natural axis k; iterate the output in row-major order.
    natural_of_output = sorted(range(len(order)), key=order.__getitem__)
    output_shape = [natural_shape[k] for k in natural_of_output]
    terms = []
    for output_index in product(*(range(n) for n in output_shape)):
        natural = [0] * len(natural_shape)
        for position, axis in enumerate(natural_of_output):
            natural[axis] = output_index[position]
        index_a, index_b = [0] * len(dimfa), [0] * len(dimfb)
        for axis, k in enumerate(keep_a):
            index_a[k] = natural[axis]
        for axis, k in enumerate(keep_b):
            index_b[k] = natural[len(keep_a) + axis]
        entry = []
        for contracted in product(*(range(dimfa[k]) for k in contfa)):
            for value, k_a, k_b in zip(contracted, contfa, contfb, strict=True):
                index_a[k_a], index_b[k_b] = value, value
            entry.append((_row_major_index(index_a, dimfa), _row_major_index(index_b, dimfb)))
        terms.append(entry)
    return terms


def _lower_terms(em: Emitter, a: Entries, b: Entries, terms: list[list[tuple[int, int]]]) -> Entries:
    return [sum_entries(em, [em.mul(a[p], b[q]) for p, q in entry]) for entry in terms]


def _lower_matvecmult(em: Emitter, a: Entries, v: Entries) -> Entries:
    m = len(v)
    rows = range(len(a) // m)
    return [sum_entries(em, [em.mul(a[r * m + k], v[k]) for k in range(m)]) for r in rows]


def _lower_vecmatmult(em: Emitter, v: Entries, a: Entries) -> Entries:
    p = len(a) // len(v)
    return [sum_entries(em, [em.mul(v[k], a[k * p + c]) for k in range(len(v))]) for c in range(p)]


def _lower_tensordot(
    em: Emitter,
    a: Entries,
    b: Entries,
    dimfa: Shape,
    dimfb: Shape,
    contfa: Shape,
    contfb: Shape,
    permute: Shape | None = None,
) -> Entries:
    return _lower_terms(em, a, b, tensordot_terms(dimfa, dimfb, contfa, contfb, permute))


def kron_permutation(rank: int) -> Shape:
    """KeOps' Kron as a TensorDot: a's axis k goes to output position 2k, b's to 2k + 1."""
    return tuple(range(0, 2 * rank, 2)) + tuple(range(1, 2 * rank, 2))


def _lower_kron(em: Emitter, a: Entries, b: Entries, dimfa: Shape, dimfb: Shape) -> Entries:
    return _lower_terms(em, a, b, tensordot_terms(dimfa, dimfb, (), (), kron_permutation(len(dimfa))))


# -- derivative rules ---------------------------------------------------------------------------


def _tensordot_cotangent(
    g: Expr,
    shape_g: Shape,
    other: Expr,
    shape_other: Shape,
    g_axis_of_own: dict[int, int],
    g_axis_of_other: dict[int, int],
    contracted: list[tuple[int, int]],
) -> Expr:
    """The cotangent of one TensorDot operand ("own"), as TensorDot(g, other) with axes put back.

    `g_axis_of_own` / `g_axis_of_other` map each kept axis of an operand to its axis in the
    result (shape `shape_g`); `contracted` pairs (own axis, other axis) that the op summed over.
    g is contracted with `other` along the other operand's kept axes; what is left is own's kept
    axes (in g's order), then the other operand's contracted axes (in its order), which stand
    for their partners among own's axes. `permute` sends each back to its axis of own.
    """
    other_axes = sorted(g_axis_of_other)
    attrs = {
        "dimfa": shape_g,
        "dimfb": shape_other,
        "contfa": tuple(g_axis_of_other[k] for k in other_axes),
        "contfb": tuple(other_axes),
    }
    kept = sorted(g_axis_of_own, key=g_axis_of_own.__getitem__)
    partners = [own for own, theirs in sorted(contracted, key=lambda pair: pair[1])]
    target = tuple(kept + partners)
    if target == tuple(range(len(target))):
        return apply(ops.TensorDotOp, g, other, **attrs)
    return apply(ops.TensorDotPermutedOp, g, other, **attrs, permute=target)


def _vjp_tensordot(
    args: tuple[Expr, ...],
    out: Expr,
    g: Expr,
    dimfa: Shape,
    dimfb: Shape,
    contfa: Shape,
    contfb: Shape,
    permute: Shape | None = None,
) -> list[Expr]:
    a, b = args
    keep_a = [k for k in range(len(dimfa)) if k not in contfa]
    keep_b = [k for k in range(len(dimfb)) if k not in contfb]
    order = list(range(len(keep_a) + len(keep_b))) if permute is None else list(permute)
    # Natural result axis n (a's kept axes, then b's) lies at axis order[n] of g.
    g_axis_of_a = {k: order[n] for n, k in enumerate(keep_a)}
    g_axis_of_b = {k: order[len(keep_a) + n] for n, k in enumerate(keep_b)}
    shape_g = [0] * len(order)
    for k, axis in g_axis_of_a.items():
        shape_g[axis] = dimfa[k]
    for k, axis in g_axis_of_b.items():
        shape_g[axis] = dimfb[k]
    pairs = list(zip(contfa, contfb, strict=True))
    return [
        _tensordot_cotangent(g, tuple(shape_g), b, dimfb, g_axis_of_a, g_axis_of_b, pairs),
        _tensordot_cotangent(
            g, tuple(shape_g), a, dimfa, g_axis_of_b, g_axis_of_a, [(q, p) for p, q in pairs]
        ),
    ]


def _vjp_kron(args: tuple[Expr, ...], out: Expr, g: Expr, dimfa: Shape, dimfb: Shape) -> list[Expr]:
    # Kron's result, flattened, is the tensor of shape (a0, b0, a1, b1, ...): a TensorDot of a and
    # b with no contraction and the permutation `kron_permutation`.
    return _vjp_tensordot(args, out, g, dimfa, dimfb, (), (), kron_permutation(len(dimfa)))


_TENSORDOT_ATTRS = ("dimfa", "dimfb", "contfa", "contfb")

RULES: dict[type, OpRule] = {
    # (A v)' : dA = g v^T, dv = A^T g.
    ops.MatVecMultOp: OpRule(
        "MatVecMult",
        _matvecmult,
        _lower_matvecmult,
        vjp=lambda a, out, g: [apply(ops.TensorProdOp, g, a[1]), apply(ops.VecMatMultOp, g, a[0])],
    ),
    # (v^T A)' : dv = A g, dA = v g^T.
    ops.VecMatMultOp: OpRule(
        "VecMatMult",
        _vecmatmult,
        _lower_vecmatmult,
        vjp=lambda a, out, g: [apply(ops.MatVecMultOp, a[1], g), apply(ops.TensorProdOp, a[0], g)],
    ),
    # (a b^T)' : da = G b, db = G^T a (G: g read as a |a| x |b| matrix).
    ops.TensorProdOp: OpRule(
        "TensorProd",
        _tensorprod,
        lambda em, a, b: [em.mul(x, y) for x in a for y in b],
        vjp=lambda a, out, g: [apply(ops.MatVecMultOp, g, a[1]), apply(ops.VecMatMultOp, a[0], g)],
    ),
    # KeOps' permute argument is optional: one op per argument count (the registry tells them apart).
    ops.TensorDotOp: OpRule(
        "TensorDot", _tensordot, _lower_tensordot, dsl_attrs=_TENSORDOT_ATTRS, vjp=_vjp_tensordot
    ),
    ops.TensorDotPermutedOp: OpRule(
        "TensorDot",
        _tensordot,
        _lower_tensordot,
        dsl_attrs=(*_TENSORDOT_ATTRS, "permute"),
        vjp=_vjp_tensordot,
    ),
    ops.KronOp: OpRule("Kron", _kron, _lower_kron, dsl_attrs=("dimfa", "dimfb"), vjp=_vjp_kron),
}
