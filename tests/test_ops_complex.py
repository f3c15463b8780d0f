"""The complex ops (kir/dialect/complex.py), compiled for the CPU, against the reference evaluator.

Every formula argument is u_i + v_j, so results depend on both indices; complex operands hold
1..8 numbers (dimension 2..16). Inputs are multiples of 2**-10 of modest size: a float32
kernel sees the very values the float64 reference sees, and the linear ops (ComplexAdd,
ComplexSubtract, Conj, ComplexReal, ComplexImag, Real2Complex, Imag2Complex, ComplexSum,
ComplexSumT) are then exact, summed over up to 1000 rows included.

Float32 exceptions (the default bound is 1e-5 relative, entry by entry), measured normwise
(relative to the largest reference entry, <= 1e-5), because their entries have both signs and
the sums over i or j cancel:
- ComplexMult, ComplexDivide: ar br - ai bi (and the like) cancel even for positive inputs;
- ComplexExp, ComplexExp1j: cosines and sines of both signs;
- ComplexAngle over all four quadrants (the first-quadrant case is checked entry by entry).
  Its branch cut is not an issue here only because operands are exact: an imaginary part that
  rounds to the other side of 0 with a negative real part moves the angle from pi to -pi.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import kir
from kir.dialect import complex as ops
from kir.dialect import formula
from kir.errors import FormulaError
from kir.frontends.dsl import parse_formula
from kir.frontends.expr import apply, constant, variable
from kir.kernel import Kernel
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]
SIZES = [(1, 7), (7, 1000), (1000, 1)]

# -- inputs and shapes --------------------------------------------------------------------------

Sampler = Callable[[np.random.Generator, int, int], np.ndarray]
"""(rng, rows, dim) -> one half (u or v) of an argument, shaped (rows, dim)."""


def uniform(low: float, high: float) -> Sampler:
    return lambda rng, rows, dim: np.round(rng.uniform(low, high, size=(rows, dim)) * 1024.0) / 1024.0


SIGNED = uniform(-1.0, 1.0)
POSITIVE = uniform(0.125, 1.0)


def numbers(rng: np.random.Generator) -> int:
    """A complex operand's number of complex entries, 1..8."""
    return int(rng.integers(1, 9))


def same(count: int) -> Callable:
    """`count` complex operands of one dimension."""
    return lambda rng: ([2 * numbers(rng)] * count, {})


def scalar_first(rng):
    return [2, 2 * numbers(rng)], {}


def scalar_second(rng):
    return [2 * numbers(rng), 2], {}


def real(rng):
    return [numbers(rng)], {}


@dataclass(frozen=True)
class Case:
    """One op with a rule drawing its operand dims and attributes, and its input samplers."""

    op: type
    shapes: Callable[[np.random.Generator], tuple[list[int], dict]]
    sampler: Sampler = SIGNED
    normwise: bool = False
    label: str = ""

    @property
    def id(self) -> str:
        return self.op.name.removeprefix("kir.") + (f"-{self.label}" if self.label else "")


CASES = [
    Case(ops.ComplexAddOp, same(2)),
    Case(ops.ComplexAddOp, scalar_first, label="scalar"),
    Case(ops.ComplexSubtractOp, same(2)),
    Case(ops.ComplexSubtractOp, scalar_second, label="scalar"),
    Case(ops.ComplexMultOp, same(2), POSITIVE, normwise=True),
    Case(ops.ComplexMultOp, scalar_second, SIGNED, normwise=True, label="scalar"),
    Case(ops.ComplexDivideOp, same(2), POSITIVE, normwise=True),
    Case(ops.ComplexDivideOp, scalar_first, POSITIVE, normwise=True, label="scalar"),
    Case(ops.ConjOp, same(1)),
    Case(ops.ComplexExpOp, same(1), normwise=True),
    Case(ops.ComplexExp1jOp, real, uniform(-2.0, 2.0), normwise=True),
    Case(ops.Real2ComplexOp, real),
    Case(ops.Imag2ComplexOp, real),
    Case(ops.ComplexRealOp, same(1)),
    Case(ops.ComplexImagOp, same(1)),
    Case(ops.ComplexAbsOp, same(1)),
    Case(ops.ComplexSquareAbsOp, same(1)),
    Case(ops.ComplexAngleOp, same(1), POSITIVE, label="quadrant1"),
    Case(ops.ComplexAngleOp, same(1), normwise=True),
    Case(ops.ComplexRealScalOp, lambda rng: ([1, 2 * numbers(rng)], {}), POSITIVE),
    Case(ops.ComplexRealScalOp, lambda rng: ([2 * numbers(rng), 1], {}), POSITIVE, label="scalar-second"),
    Case(ops.ComplexSumOp, same(1)),
    Case(ops.ComplexSumTOp, lambda rng: ([2], {"dim": 2 * numbers(rng)})),
]


def _kernel(op: type, dims: list[int], attrs: dict, axis: int) -> Kernel:
    """Sum over `axis` of op(u_i + v_j, ...): argument k is variables 2k (i) and 2k + 1 (j)."""
    args = [
        apply(formula.AddOp, variable(2 * k, d, "i"), variable(2 * k + 1, d, "j")) for k, d in enumerate(dims)
    ]
    return Kernel.from_expr(apply(op, *args, **attrs), "Sum", axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_op_matches_reference(case: Case, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{axis}/{dtype}".encode()))
    dims, attrs = case.shapes(rng)
    kernel = _kernel(case.op, dims, attrs, axis)
    for size_i, size_j in SIZES:
        arrays = []
        for d in dims:
            arrays += [case.sampler(rng, size_i, d).astype(dtype), case.sampler(rng, size_j, d).astype(dtype)]
        check_against_reference(kernel, arrays, dtype, normwise=case.normwise)


# -- NaN and inf --------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
# Complex numbers as (real, imaginary); 1e200 squared overflows, as KeOps' |z| does.
COMPLEX = [
    [NAN, 1.0],
    [1.0, NAN],
    [INF, 0.0],
    [0.0, INF],
    [-INF, 1.0],
    [1.0, -INF],
    [INF, INF],
    [-INF, -INF],
    [0.0, 0.0],
    [-1.0, 0.0],
    [-1.0, -0.0],
    [1e200, 1e200],
    [2.0, -3.0],
]
REAL = [[NAN], [INF], [-INF], [0.0], [-0.0], [1.0], [-2.5], [1e300]]
PAIRS = [a + b for a, b in itertools.product(COMPLEX, repeat=2)]  # complex vectors of 2 numbers

# op, attrs, one pool of rows per operand (the test takes every combination of rows).
SPECIAL = [
    (ops.ComplexAddOp, {}, [COMPLEX, COMPLEX]),
    (ops.ComplexSubtractOp, {}, [COMPLEX, COMPLEX]),
    (ops.ComplexMultOp, {}, [COMPLEX, COMPLEX]),
    (ops.ComplexMultOp, {}, [COMPLEX, PAIRS[::7]]),
    (ops.ComplexDivideOp, {}, [COMPLEX, COMPLEX]),
    (ops.ComplexDivideOp, {}, [PAIRS[::7], COMPLEX]),
    (ops.ConjOp, {}, [COMPLEX]),
    (ops.ComplexExpOp, {}, [COMPLEX]),
    (ops.ComplexExp1jOp, {}, [REAL]),
    (ops.Real2ComplexOp, {}, [REAL]),
    (ops.Imag2ComplexOp, {}, [REAL]),
    (ops.ComplexRealOp, {}, [COMPLEX]),
    (ops.ComplexImagOp, {}, [COMPLEX]),
    (ops.ComplexAbsOp, {}, [PAIRS]),
    (ops.ComplexSquareAbsOp, {}, [PAIRS]),
    (ops.ComplexAngleOp, {}, [PAIRS]),
    (ops.ComplexRealScalOp, {}, [REAL, COMPLEX]),
    (ops.ComplexRealScalOp, {}, [PAIRS, REAL]),
    (ops.ComplexSumOp, {}, [PAIRS]),
    (ops.ComplexSumTOp, {"dim": 4}, [COMPLEX]),
]


def special_kernel(op: type, attrs: dict, pools: list) -> tuple[Kernel, list[np.ndarray]]:
    """op(x_i, ...) + 0 * z_j over every combination of the pools' rows, reduced over one j (exact)."""
    rows = np.array(list(itertools.product(*(range(len(p)) for p in pools)))).T
    arrays = [np.array(pool, dtype=np.float64)[picks] for pool, picks in zip(pools, rows, strict=True)]
    args = [variable(k, a.shape[1], "i") for k, a in enumerate(arrays)]
    z = variable(len(arrays), 1, "j")
    expr = apply(formula.AddOp, apply(op, *args, **attrs), apply(formula.MulOp, constant(0.0), z))
    return Kernel.from_expr(expr, "Sum", 1, dtype="float64"), [*arrays, np.ones((1, 1))]


@pytest.mark.parametrize("op, attrs, pools", SPECIAL, ids=[f"{c[0].name}-{k}" for k, c in enumerate(SPECIAL)])
def test_special_values_match_reference(op: type, attrs: dict, pools: list) -> None:
    kernel, arrays = special_kernel(op, attrs, pools)
    check_against_reference(kernel, arrays, "float64")


def _value(op: type, *operands: list[float], **attrs) -> np.ndarray:
    kernel, arrays = special_kernel(op, attrs, [[row] for row in operands])
    return kernel(*arrays)[0]


def test_documented_special_values() -> None:
    """Where KeOps' real formulas differ from C99's complex functions (and so from NumPy's)."""
    np.testing.assert_array_equal(_value(ops.ComplexDivideOp, [1.0, 1.0], [0.0, 0.0]), [NAN, NAN])
    np.testing.assert_array_equal(_value(ops.ComplexMultOp, [INF, 0.0], [1.0, 0.0]), [INF, NAN])
    np.testing.assert_array_equal(_value(ops.ComplexExpOp, [INF, 0.0]), [INF, NAN])
    np.testing.assert_array_equal(_value(ops.ComplexExpOp, [-INF, 1.0]), [0.0, 0.0])
    np.testing.assert_array_equal(_value(ops.ComplexExpOp, [0.0, INF]), [NAN, NAN])
    np.testing.assert_array_equal(_value(ops.ComplexAbsOp, [INF, NAN]), [NAN])
    np.testing.assert_array_equal(_value(ops.ComplexAbsOp, [1e200, 1e200]), [INF])
    np.testing.assert_array_equal(_value(ops.ComplexAngleOp, [-1.0, 0.0, -1.0, -0.0]), [np.pi, -np.pi])
    np.testing.assert_array_equal(_value(ops.ComplexAngleOp, [0.0, 0.0, -0.0, 0.0]), [0.0, np.pi])
    # A real scale multiplies each part: no 0 * inf from a zero imaginary part of the scalar.
    np.testing.assert_array_equal(_value(ops.ComplexRealScalOp, [2.0], [INF, 1.0]), [INF, 2.0])
    np.testing.assert_array_equal(_value(ops.ComplexRealScalOp, [INF], [1.0, 0.0]), [INF, NAN])


# -- against NumPy's complex arithmetic ---------------------------------------------------------


def test_formulas_against_numpy_complex(rng) -> None:
    aliases = ["z = Vi(6)", "w = Vj(6)", "s = Vj(2)", "t = Vi(3)", "r = Pm(1)"]
    text = (
        "ComplexAdd(ComplexMult(Conj(z), ComplexExp(w)), ComplexDivide(ComplexExp1j(t), ComplexSumT(s, 6)))"
        " + ComplexRealScal(r, Real2Complex(ComplexAbs(z)) - Imag2Complex(ComplexAngle(w)))"
    )
    kernel = kir.compile(text, aliases, dtype="float64")
    z, w, s = rng.normal(size=(5, 6)), rng.normal(size=(4, 6)), rng.normal(size=(4, 2))
    t, r = rng.normal(size=(5, 3)), np.array([0.7])

    def c(x: np.ndarray) -> np.ndarray:
        return x.copy().view(np.complex128)

    zc, wc, sc = c(z)[:, None, :], c(w)[None, :, :], c(s)[None, :, :]
    values = np.conj(zc) * np.exp(wc) + np.exp(1j * t[:, None, :]) / sc
    values = values + r[0] * (np.abs(zc) - 1j * np.angle(wc))
    expected = values.sum(axis=1).view(np.float64)
    np.testing.assert_allclose(kernel(z, w, s, t, r), expected, rtol=1e-12, atol=1e-12)


def test_reductions_of_complex_vectors(rng) -> None:
    aliases = ["z = Vi(8)", "w = Vj(8)"]
    kernel = kir.compile(
        "Concat(ComplexSum(ComplexSubtract(z, w)), ComplexReal(z) * ComplexImag(w) + ComplexSquareAbs(w))",
        aliases,
        axis=0,
        dtype="float64",
    )
    z, w = rng.normal(size=(3, 8)), rng.normal(size=(7, 8))
    zc, wc = z.copy().view(np.complex128)[:, None, :], w.copy().view(np.complex128)[None, :, :]
    total = (zc - wc).sum(axis=-1, keepdims=True).view(np.float64)
    parts = np.broadcast_to(zc.real * wc.imag + np.abs(wc) ** 2, (3, 7, 4))
    expected = np.concatenate([total, parts], axis=-1).sum(axis=0)
    np.testing.assert_allclose(kernel(z, w), expected, rtol=1e-12, atol=1e-12)


# -- DSL spellings and shape errors -------------------------------------------------------------

ALIASES = ["z = Vi(4)", "w = Vj(4)", "s = Vj(2)", "t = Vi(1)", "x = Vi(3)"]
Z, W, S, T, X = (
    variable(k, d, c) for k, (d, c) in enumerate([(4, "i"), (4, "j"), (2, "j"), (1, "i"), (3, "i")])
)


@pytest.mark.parametrize(
    ("text", "op", "args", "attrs", "dim"),
    [
        ("ComplexAdd(z, w)", ops.ComplexAddOp, (Z, W), {}, 4),
        ("ComplexAdd(s, w)", ops.ComplexAddOp, (S, W), {}, 4),
        ("ComplexSubtract(z, s)", ops.ComplexSubtractOp, (Z, S), {}, 4),
        ("ComplexMult(z, w)", ops.ComplexMultOp, (Z, W), {}, 4),
        ("ComplexDivide(s, s)", ops.ComplexDivideOp, (S, S), {}, 2),
        ("ComplexExp(z)", ops.ComplexExpOp, (Z,), {}, 4),
        ("ComplexExp1j(x)", ops.ComplexExp1jOp, (X,), {}, 6),
        ("ComplexAbs(z)", ops.ComplexAbsOp, (Z,), {}, 2),
        ("ComplexSquareAbs(w)", ops.ComplexSquareAbsOp, (W,), {}, 2),
        ("ComplexAngle(s)", ops.ComplexAngleOp, (S,), {}, 1),
        ("ComplexReal(z)", ops.ComplexRealOp, (Z,), {}, 2),
        ("ComplexImag(z)", ops.ComplexImagOp, (Z,), {}, 2),
        ("Conj(w)", ops.ConjOp, (W,), {}, 4),
        ("Real2Complex(x)", ops.Real2ComplexOp, (X,), {}, 6),
        ("Imag2Complex(t)", ops.Imag2ComplexOp, (T,), {}, 2),
        ("ComplexRealScal(t, z)", ops.ComplexRealScalOp, (T, Z), {}, 4),
        ("ComplexRealScal(w, t)", ops.ComplexRealScalOp, (W, T), {}, 4),
        ("ComplexSum(z)", ops.ComplexSumOp, (Z,), {}, 2),
        ("ComplexSumT(s, 8)", ops.ComplexSumTOp, (S,), {"dim": 8}, 8),
    ],
)
def test_dsl_spelling(text: str, op: type, args: tuple, attrs: dict, dim: int) -> None:
    parsed = parse_formula(text, ALIASES)
    assert parsed.op is op
    assert parsed.args == args
    assert parsed.attributes == attrs
    assert parsed is apply(op, *args, **attrs)
    assert parsed.dim == dim


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("ComplexAdd(x, x)", ["kir.complexadd", "even dimension", "got dimension 3"]),
        ("ComplexMult(z, u)", ["kir.complexmult", "4 and 6", "do not broadcast"]),
        ("ComplexDivide(u, z)", ["kir.complexdivide", "6 and 4", "do not broadcast"]),
        ("ComplexSubtract(t, z)", ["kir.complexsubtract", "even dimension", "got dimension 1"]),
        ("Conj(x)", ["kir.conj", "even dimension", "got dimension 3"]),
        ("ComplexExp(x)", ["kir.complexexp", "even dimension", "got dimension 3"]),
        ("ComplexAbs(x)", ["kir.complexabs", "even dimension", "got dimension 3"]),
        ("ComplexAngle(t)", ["kir.complexangle", "even dimension", "got dimension 1"]),
        ("ComplexReal(x)", ["kir.complexreal", "even dimension", "got dimension 3"]),
        ("ComplexSum(x)", ["kir.complexsum", "even dimension", "got dimension 3"]),
        ("ComplexRealScal(z, u)", ["kir.complexrealscal", "real scalar (dimension 1)", "4 and 6"]),
        ("ComplexRealScal(t, x)", ["kir.complexrealscal", "even dimension", "got dimension 3"]),
        ("ComplexSumT(z, 4)", ["kir.complexsumt", "complex scalar (dimension 2)", "got 4"]),
        ("ComplexSumT(s, 3)", ["kir.complexsumt", "even dimension", "got dimension 3"]),
        ("ComplexSumT(s, 0)", ["kir.complexsumt", "even integer >= 2", "got 0"]),
        ("ComplexSumT(s, (2, 2))", ["kir.complexsumt", "dim", "(2, 2)"]),
    ],
)
def test_shape_errors_reach_the_user(text: str, fragments: list[str]) -> None:
    with pytest.raises(FormulaError) as raised:
        kir.compile(text, ["z = Vi(4)", "u = Vj(6)", "s = Vj(2)", "t = Vi(1)", "x = Vi(3)"])
    for fragment in fragments:
        assert fragment in raised.value.message, raised.value.message
