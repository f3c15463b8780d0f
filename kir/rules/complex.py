"""Rules of the complex ops (kir/dialect/complex.py).

References read the interleaved (real, imaginary) pairs as NumPy complex numbers (a view of the
last axis) and write results back interleaved. NumPy's complex arithmetic is used where it
computes KeOps' formula exactly (sums, differences, conjugates, atan2); the other ops spell
KeOps' real formula on the parts, because NumPy's complex product may fuse multiply-adds
(so it overflows differently), its division scales (Smith's method), and np.exp / np.abs
follow C99 Annex G at infinities (np.exp(inf + 0j) = inf + 0j where KeOps' e^ar sin ai gives
inf * 0 = NaN; np.abs is hypot, with hypot(inf, NaN) = inf). Special values thus follow
KeOps' formulas, which the lowerings compute with the same real operations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kir.dialect import complex as ops
from kir.emitter import Emitter, Value
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


RULES: dict[type, OpRule] = {
    ops.ComplexAddOp: OpRule(
        "ComplexAdd",
        lambda a, b: _interleaved(_complex(a) + _complex(b)),
        entrywise(lambda em, a, b: (em.add(a[0], b[0]), em.add(a[1], b[1]))),
    ),
    ops.ComplexSubtractOp: OpRule(
        "ComplexSubtract",
        lambda a, b: _interleaved(_complex(a) - _complex(b)),
        entrywise(lambda em, a, b: (em.sub(a[0], b[0]), em.sub(a[1], b[1]))),
    ),
    ops.ComplexMultOp: OpRule("ComplexMult", _mult, entrywise(_lower_mult)),
    ops.ComplexDivideOp: OpRule("ComplexDivide", _divide, entrywise(_lower_divide)),
    ops.ConjOp: OpRule(
        "Conj", lambda a: _interleaved(np.conj(_complex(a))), entrywise(lambda em, a: (a[0], em.neg(a[1])))
    ),
    ops.ComplexExpOp: OpRule("ComplexExp", _exp, entrywise(_lower_exp)),
    ops.ComplexExp1jOp: OpRule(
        "ComplexExp1j",
        lambda x: _pack(np.cos(x), np.sin(x)),
        lambda em, x: _flat([(em.math("cos", v), em.math("sin", v)) for v in x]),
    ),
    ops.Real2ComplexOp: OpRule(
        "Real2Complex", lambda x: _pack(x, 0.0), lambda em, x: _flat([(v, em.constant(0.0)) for v in x])
    ),
    ops.Imag2ComplexOp: OpRule(
        "Imag2Complex", lambda x: _pack(0.0, x), lambda em, x: _flat([(em.constant(0.0), v) for v in x])
    ),
    ops.ComplexRealOp: OpRule("ComplexReal", lambda a: _complex(a).real, lambda em, a: a[0::2]),
    ops.ComplexImagOp: OpRule("ComplexImag", lambda a: _complex(a).imag, lambda em, a: a[1::2]),
    ops.ComplexAbsOp: OpRule(
        "ComplexAbs",
        lambda a: np.sqrt(_square_abs(a)),
        lambda em, a: [em.math("sqrt", s) for s in _square_abs_entries(em, a)],
    ),
    ops.ComplexSquareAbsOp: OpRule("ComplexSquareAbs", _square_abs, _square_abs_entries),
    ops.ComplexAngleOp: OpRule(
        "ComplexAngle",
        lambda a: np.angle(_complex(a)),
        lambda em, a: [em.math("atan2", im, re) for re, im in _pairs(a)],
    ),
    ops.ComplexRealScalOp: OpRule("ComplexRealScal", _real_scal, _lower_real_scal),
    ops.ComplexSumOp: OpRule(
        "ComplexSum", lambda a: _interleaved(_complex(a).sum(axis=-1, keepdims=True)), _lower_sum
    ),
    ops.ComplexSumTOp: OpRule(
        "ComplexSumT",
        lambda a, dim: _interleaved(_sum_t(a, dim)),
        lambda em, a, dim: a * (dim // 2),
        ("dim",),
    ),
}
