"""Rules of the complex ops (kir/dialect/complex.py).

References read the interleaved (real, imaginary) pairs as NumPy complex numbers (a view of the
last axis) and write results back interleaved. NumPy's complex arithmetic is used where it
computes KeOps' formula exactly (sums, differences, conjugates, atan2); the other ops spell
KeOps' real formula on the parts, because NumPy's complex product may fuse multiply-adds
(so it overflows differently), its division scales (Smith's method), and np.exp / np.abs
follow C99 Annex G at infinities (np.exp(inf + 0j) = inf + 0j where KeOps' e^ar sin ai gives
inf * 0 = NaN; np.abs is hypot, with hypot(inf, NaN) = inf). Special values thus follow
KeOps' formulas, which the lowerings compute with the same real operations.

Derivative rules take the real-pair view: the cotangent of each real entry. For a holomorphic
op w = f(z), it is conj(f'(z)) * g in complex arithmetic (g: the result's cotangent read as
complex numbers), e.g. conj(b) g for a * b: torch's convention for complex tensors. A complex
scalar (dimension 2) broadcast against a wider operand gets the ComplexSum of its cotangents.
Values at the singular points, as torch's autograd gives them for abs / angle of a complex tensor:
- ComplexAbs at 0: a zero gradient (torch: grad * sgn(z), sgn(0) = 0);
- ComplexAngle at 0: a zero gradient (torch's angle_backward masks z == 0);
- both at an infinite part: NaN (inf * 0);
- ComplexDivide at b = 0: NaN, as the value itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kir.dialect import complex as ops
from kir.dialect.elementwise import RsqrtOp, SquareOp
from kir.dialect.vector import ScalprodOp
from kir.emitter import Emitter, Value
from kir.frontends.expr import Expr, apply, constant
from kir.rules.common import Entries, OpRule, sum_entries

Pair = tuple[Value, Value]


# -- references ---------------------------------------------------------------------------------


def _complex(x: np.ndarray) -> np.ndarray:
    """The interleaved last axis of `x` as complex numbers (dimension 2n -> n)."""
    return np.ascontiguousarray(x, dtype=np.float64).view(np.complex128)


def _interleaved(z: np.ndarray) -> np.ndarray:
    """Complex numbers back as interleaved (real, imaginary) pairs (n -> dimension 2n)."""
    return np.ascontiguousarray(z, dtype=np.complex128).view(np.float64)


def _pack(real: np.ndarray, imag: np.ndarray | float) -> np.ndarray:
    """Interleave real and imaginary parts (which broadcast) without complex arithmetic."""
    real, imag = np.broadcast_arrays(real, imag)
    out = np.empty((*real.shape[:-1], 2 * real.shape[-1]))
    out[..., 0::2], out[..., 1::2] = real, imag
    return out


def _mult(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    z, w = _complex(a), _complex(b)
    return _pack(z.real * w.real - z.imag * w.imag, z.real * w.imag + z.imag * w.real)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    z, w = _complex(a), _complex(b)
    square_abs = w.real * w.real + w.imag * w.imag
    real = z.real * w.real + z.imag * w.imag
    imag = z.imag * w.real - z.real * w.imag
    return _pack(real / square_abs, imag / square_abs)


def _exp(a: np.ndarray) -> np.ndarray:
    z = _complex(a)
    modulus = np.exp(z.real)
    return _pack(modulus * np.cos(z.imag), modulus * np.sin(z.imag))


def _square_abs(a: np.ndarray) -> np.ndarray:
    z = _complex(a)
    return z.real * z.real + z.imag * z.imag


def _real_scal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # A real product on each part: NumPy's real * complex would add 0 * part terms (NaN at inf).
    return a * b


def _sum_t(a: np.ndarray, dim: int) -> np.ndarray:
    return np.broadcast_to(_complex(a), (*a.shape[:-1], dim // 2))


# -- lowerings ----------------------------------------------------------------------------------


def _pairs(x: Entries) -> list[Pair]:
    return list(zip(x[0::2], x[1::2], strict=True))


def _flat(pairs: list[Pair]) -> Entries:
    return [part for pair in pairs for part in pair]


def entrywise(scalar: Callable[..., Pair]) -> Callable[..., Entries]:
    """The lowering of a complex entrywise op from its rule on one complex number per operand."""

    def lower(em: Emitter, *operands: Entries) -> Entries:
        count = max(len(o) for o in operands) // 2
        spread = [_pairs(o) * count if len(o) == 2 else _pairs(o) for o in operands]
        return _flat([scalar(em, *numbers) for numbers in zip(*spread, strict=True)])

    return lower


def _lower_mult(em: Emitter, a: Pair, b: Pair) -> Pair:
    (ar, ai), (br, bi) = a, b
    return em.sub(em.mul(ar, br), em.mul(ai, bi)), em.add(em.mul(ar, bi), em.mul(ai, br))


def _lower_divide(em: Emitter, a: Pair, b: Pair) -> Pair:
    (ar, ai), (br, bi) = a, b
    square_abs = em.add(em.mul(br, br), em.mul(bi, bi))
    real = em.add(em.mul(ar, br), em.mul(ai, bi))
    imag = em.sub(em.mul(ai, br), em.mul(ar, bi))
    return em.div(real, square_abs), em.div(imag, square_abs)


def _lower_exp(em: Emitter, a: Pair) -> Pair:
    modulus = em.math("exp", a[0])
    return em.mul(modulus, em.math("cos", a[1])), em.mul(modulus, em.math("sin", a[1]))


def _square_abs_entries(em: Emitter, a: Entries) -> Entries:
    return [em.add(em.mul(re, re), em.mul(im, im)) for re, im in _pairs(a)]


def _lower_real_scal(em: Emitter, a: Entries, b: Entries) -> Entries:
    (scalar,), vector = (a, b) if len(a) == 1 else (b, a)
    return [em.mul(scalar, part) for part in vector]


def _lower_sum(em: Emitter, a: Entries) -> Entries:
    return [sum_entries(em, a[0::2]), sum_entries(em, a[1::2])]


# -- derivative rules ---------------------------------------------------------------------------


def _fit(cotangent: Expr, operand: Expr) -> Expr:
    """A complex scalar broadcast against wider operands gets the sum of its cotangents."""
    if operand.dim == 2 and cotangent.dim > 2:
        return apply(ops.ComplexSumOp, cotangent)
    return cotangent


def _times(a: Expr, b: Expr) -> Expr:
    return apply(ops.ComplexMultOp, a, b)


def _conj(a: Expr) -> Expr:
    return apply(ops.ConjOp, a)


def _twice(x: Expr) -> Expr:
    """Each real entry of x repeated into a (re, im) pair: (x0, x0, x1, x1, ...), dimension 2n."""
    return apply(ops.Real2ComplexOp, x) + apply(ops.Imag2ComplexOp, x)


def _inverse_abs(a: Expr) -> Expr:
    """1 / |a_k| for each complex number, 0 where a_k = 0 (KeOps' Rsqrt(0) = 0)."""
    return apply(RsqrtOp, apply(ops.ComplexSquareAbsOp, a))


def _vjp_add(a, out, g):
    return [_fit(g, a[0]), _fit(g, a[1])]


def _vjp_subtract(a, out, g):
    return [_fit(g, a[0]), _fit(-g, a[1])]


def _vjp_mult(a, out, g):
    return [_fit(_times(_conj(a[1]), g), a[0]), _fit(_times(_conj(a[0]), g), a[1])]


def _vjp_divide(a, out, g):
    # d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b; NaN where b = 0, like the value.
    conj_b = _conj(a[1])
    da = apply(ops.ComplexDivideOp, g, conj_b)
    db = -apply(ops.ComplexDivideOp, _times(_conj(out), g), conj_b)
    return [_fit(da, a[0]), _fit(db, a[1])]


def _vjp_exp1j(a, out, g):
    # d(cos x, sin x)/dx = (-sin x, cos x): the cotangent is Im(conj(e^(ix)) g).
    return [apply(ops.ComplexImagOp, _times(_conj(out), g))]


def _vjp_abs(a, out, g):
    # a_k / |a_k| per number; 0 at a_k = 0 (torch's sgn(0) = 0).
    return [a[0] * _twice(g * _inverse_abs(a[0]))]


def _vjp_angle(a, out, g):
    # d atan2(ai, ar) = (-ai, ar) / |a|^2 per number; 0 at a_k = 0 (as torch.angle).
    z = a[0]
    rotated = apply(ops.Imag2ComplexOp, apply(ops.ComplexRealOp, z)) - apply(
        ops.Real2ComplexOp, apply(ops.ComplexImagOp, z)
    )
    return [rotated * _twice(g * apply(SquareOp, _inverse_abs(z)))]


def _vjp_real_scal(a, out, g):
    # The real scalar comes first when it has dimension 1, else second (the dialect's rule).
    scalar, vector = (0, 1) if a[0].dim == 1 else (1, 0)
    cotangents = [None, None]
    cotangents[scalar] = apply(ScalprodOp, g, a[vector])
    cotangents[vector] = a[scalar] * g
    return cotangents


RULES: dict[type, OpRule] = {
    ops.ComplexAddOp: OpRule(
        "ComplexAdd",
        lambda a, b: _interleaved(_complex(a) + _complex(b)),
        entrywise(lambda em, a, b: (em.add(a[0], b[0]), em.add(a[1], b[1]))),
        vjp=_vjp_add,
    ),
    ops.ComplexSubtractOp: OpRule(
        "ComplexSubtract",
        lambda a, b: _interleaved(_complex(a) - _complex(b)),
        entrywise(lambda em, a, b: (em.sub(a[0], b[0]), em.sub(a[1], b[1]))),
        vjp=_vjp_subtract,
    ),
    ops.ComplexMultOp: OpRule("ComplexMult", _mult, entrywise(_lower_mult), vjp=_vjp_mult),
    ops.ComplexDivideOp: OpRule("ComplexDivide", _divide, entrywise(_lower_divide), vjp=_vjp_divide),
    ops.ConjOp: OpRule(
        "Conj",
        lambda a: _interleaved(np.conj(_complex(a))),
        entrywise(lambda em, a: (a[0], em.neg(a[1]))),
        vjp=lambda a, out, g: [_conj(g)],
    ),
    ops.ComplexExpOp: OpRule(
        "ComplexExp", _exp, entrywise(_lower_exp), vjp=lambda a, out, g: [_times(_conj(out), g)]
    ),
    ops.ComplexExp1jOp: OpRule(
        "ComplexExp1j",
        lambda x: _pack(np.cos(x), np.sin(x)),
        lambda em, x: _flat([(em.math("cos", v), em.math("sin", v)) for v in x]),
        vjp=_vjp_exp1j,
    ),
    ops.Real2ComplexOp: OpRule(
        "Real2Complex",
        lambda x: _pack(x, 0.0),
        lambda em, x: _flat([(v, em.constant(0.0)) for v in x]),
        vjp=lambda a, out, g: [apply(ops.ComplexRealOp, g)],
    ),
    ops.Imag2ComplexOp: OpRule(
        "Imag2Complex",
        lambda x: _pack(0.0, x),
        lambda em, x: _flat([(em.constant(0.0), v) for v in x]),
        vjp=lambda a, out, g: [apply(ops.ComplexImagOp, g)],
    ),
    ops.ComplexRealOp: OpRule(
        "ComplexReal",
        lambda a: _complex(a).real,
        lambda em, a: a[0::2],
        vjp=lambda a, out, g: [apply(ops.Real2ComplexOp, g)],
    ),
    ops.ComplexImagOp: OpRule(
        "ComplexImag",
        lambda a: _complex(a).imag,
        lambda em, a: a[1::2],
        vjp=lambda a, out, g: [apply(ops.Imag2ComplexOp, g)],
    ),
    ops.ComplexAbsOp: OpRule(
        "ComplexAbs",
        lambda a: np.sqrt(_square_abs(a)),
        lambda em, a: [em.math("sqrt", s) for s in _square_abs_entries(em, a)],
        vjp=_vjp_abs,
    ),
    ops.ComplexSquareAbsOp: OpRule(
        "ComplexSquareAbs",
        _square_abs,
        _square_abs_entries,
        vjp=lambda a, out, g: [constant(2.0) * (a[0] * _twice(g))],
    ),
    ops.ComplexAngleOp: OpRule(
        "ComplexAngle",
        lambda a: np.angle(_complex(a)),
        lambda em, a: [em.math("atan2", im, re) for re, im in _pairs(a)],
        vjp=_vjp_angle,
    ),
    ops.ComplexRealScalOp: OpRule("ComplexRealScal", _real_scal, _lower_real_scal, vjp=_vjp_real_scal),
    ops.ComplexSumOp: OpRule(
        "ComplexSum",
        lambda a: _interleaved(_complex(a).sum(axis=-1, keepdims=True)),
        _lower_sum,
        vjp=lambda a, out, g: [apply(ops.ComplexSumTOp, g, dim=a[0].dim)],
    ),
    ops.ComplexSumTOp: OpRule(
        "ComplexSumT",
        lambda a, dim: _interleaved(_sum_t(a, dim)),
        lambda em, a, dim: a * (dim // 2),
        ("dim",),
        vjp=lambda a, out, g, dim: [apply(ops.ComplexSumOp, g)],
    ),
}
