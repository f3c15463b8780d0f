"""The vector ops (kir/dialect/vector.py), compiled for the CPU, against the reference evaluator.

Every formula argument is u_i + v_j, so results depend on both indices. Inputs are multiples of
2**-10 of modest size: their sums and differences are exact in float32, so a float32 kernel sees
the very values the float64 reference sees, and the errors measured are the op's own (ties of
Max/ArgMax, OneHot's rounding and BSpline's knot comparisons are then decided identically).

Float32 exceptions (the default bound is 1e-5 relative, entry by entry):
- BSpline: measured normwise (relative to the largest basis value, <= 1e-5): the values near the
  ends of a basis function's support come from 1 - omega with omega close to 1.
- SoftDTW_SqDist on overlapping series with gamma up to 1: measured normwise (<= 1e-5). The
  soft-min lies below the smallest of its inputs by up to gamma * log(3), so costs can approach
  0 (or go negative) by cancellation; entries then only have an absolute error of a few ulps of
  the largest running cost (seen: 2e-4 entrywise, 2e-7 normwise). On series whose costs stay
  above gamma * log(3) the default entrywise bound holds (the "apart" case).
- ArgMax/ArgMin on float32 inputs that are NOT exact (not the case here) can pick another
  position near a tie: the position error is then up to D - 1, the value error of Max/Min stays
  within rounding.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import kir
from kir.dialect import formula
from kir.dialect import vector as ops
from kir.errors import FormulaError
from kir.frontends.dsl import parse_formula
from kir.frontends.expr import Expr, apply, variable
from kir.kernel import Kernel
from kir.reference import evaluate
from tests.conftest import check_against_reference, max_relative_error

DTYPES = ["float32", "float64"]
AXES = [0, 1]
SIZES = [(1, 7), (7, 1000), (1000, 1)]

# -- inputs -----------------------------------------------------------------------------------------

Sampler = Callable[[np.random.Generator, int, int], np.ndarray]
"""(rng, rows, dim) -> one half (u or v) of an argument, shaped (rows, dim)."""


def _exact(values: np.ndarray) -> np.ndarray:
    return np.round(values * 1024.0) / 1024.0


def uniform(low: float, high: float) -> Sampler:
    return lambda rng, rows, dim: _exact(rng.uniform(low, high, size=(rows, dim)))


def sorted_knots(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    return np.sort(_exact(rng.uniform(0.0, 4.0, size=(rows, dim))), axis=1)


def dominant_matrix(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """Row-major D x D matrices with a dominant diagonal: x^T A x is well conditioned."""
    size = int(round(dim**0.5))
    matrices = _exact(rng.uniform(-0.5, 0.5, size=(rows, size, size))) + size * np.eye(size)
    return matrices.reshape(rows, dim)


def near_integers(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    """Halves whose sums lie within 0.4 of an integer, away from where OneHot's rounding flips."""
    return rng.integers(0, 3, size=(rows, dim)) + _exact(rng.uniform(-0.2, 0.2, size=(rows, dim)))


POSITIVE = uniform(0.25, 2.0)


@dataclass(frozen=True)
class Case:
    """One op, with a rule drawing its argument dims (in 1..16) and attributes.

    Full D x D weights draw D in 1..8 (D*D <= 64 entries) and Concat its two dims in 1..8."""

    op: type
    shapes: Callable[[np.random.Generator], tuple[list[int], dict]]
    samplers: tuple[Sampler, ...] = ()
    tolerance: float | None = None
    normwise: bool = False
    label: str = ""

    @property
    def id(self) -> str:
        return self.op.name.removeprefix("kir.") + (f"-{self.label}" if self.label else "")


def dim(rng: np.random.Generator, low: int = 1, high: int = 16) -> int:
    return int(rng.integers(low, high + 1))


def _one(rng):
    return [dim(rng)], {}


def _weighted(kind: str, arity: int) -> Callable:
    def shapes(rng):
        d = dim(rng, 1, 8) if kind == "full" else dim(rng)
        weights = {"iso": 1, "diag": d, "full": d * d}[kind]
        return [weights] + [d] * (arity - 1), {}

    return shapes


def _elemt(rng):
    n = dim(rng)
    return [1], {"n": n, "m": int(rng.integers(0, n))}


def _extract(rng):
    d = dim(rng)
    start = int(rng.integers(0, d))
    return [d], {"start": start, "length": int(rng.integers(1, d - start + 1))}


def _extractt(rng):
    d, out = sorted((dim(rng), dim(rng)))
    return [d], {"start": int(rng.integers(0, out - d + 1)), "dim": out}


def _bspline(rng):
    knots = dim(rng, 2)
    return [knots, 1], {"order": int(rng.integers(0, knots - 1))}


CASES = [
    Case(ops.SumTOp, lambda rng: ([1], {"dim": dim(rng)}), (POSITIVE,)),
    Case(ops.MaxEntryOp, _one, (POSITIVE,)),
    Case(ops.MinEntryOp, _one, (POSITIVE,)),
    Case(ops.ArgMaxOp, _one, (POSITIVE,)),
    Case(ops.ArgMinOp, _one, (POSITIVE,)),
    Case(ops.Norm2Op, _one, (uniform(-2.0, 2.0),)),
    Case(ops.SqNorm2Op, _one, (uniform(-2.0, 2.0),)),
    Case(ops.NormalizeOp, _one, (POSITIVE,)),
    *(
        Case(ops.WeightedSqNormOp, _weighted(kind, 2), (sampler, uniform(-2.0, 2.0)), label=kind)
        for kind, sampler in (("iso", POSITIVE), ("diag", POSITIVE), ("full", dominant_matrix))
    ),
    *(
        Case(ops.WeightedSqDistOp, _weighted(kind, 3), (sampler, POSITIVE, POSITIVE), label=kind)
        for kind, sampler in (("iso", POSITIVE), ("diag", POSITIVE), ("full", dominant_matrix))
    ),
    Case(ops.WeightedSqDistOp, lambda rng: ([dim(rng)] * 2 + [1], {}), (POSITIVE,) * 3, label="broadcast"),
    Case(ops.SqNormDiagOp, lambda rng: ([d := dim(rng), d], {}), (POSITIVE, uniform(-2.0, 2.0))),
    Case(ops.SqNormDiagOp, lambda rng: ([1, dim(rng)], {}), (POSITIVE, uniform(-2.0, 2.0)), label="scalar"),
    Case(ops.SqNormIsoOp, lambda rng: ([1, dim(rng)], {}), (POSITIVE, uniform(-2.0, 2.0))),
    Case(
        ops.SymSqNormOp, lambda rng: ([(d := dim(rng, 1, 8)) * d, d], {}), (dominant_matrix, uniform(-2, 2))
    ),
    Case(ops.ElemOp, lambda rng: ([d := dim(rng)], {"m": int(rng.integers(0, d))}), (POSITIVE,)),
    Case(ops.ElemTOp, _elemt, (POSITIVE,)),
    Case(ops.ExtractOp, _extract, (POSITIVE,)),
    Case(ops.ExtractTOp, _extractt, (POSITIVE,)),
    Case(ops.ConcatOp, lambda rng: ([dim(rng, 1, 8), dim(rng, 1, 8)], {}), (POSITIVE, POSITIVE)),
    Case(ops.OneHotOp, lambda rng: ([1], {"dim": dim(rng)}), (near_integers,)),
    Case(ops.BSplineOp, _bspline, (sorted_knots, uniform(0.0, 4.0)), normwise=True),
    # Series apart (x in [0, 1], y in [2, 3]): every cost is >= 1, far above gamma * log(3).
    Case(
        ops.SoftDTWSqDistOp,
        lambda rng: ([dim(rng), dim(rng), 1], {}),
        (uniform(0.0, 0.5), uniform(1.0, 1.5), uniform(0.005, 0.05)),
        label="apart",
    ),
    Case(
        ops.SoftDTWSqDistOp,
        lambda rng: ([dim(rng), dim(rng), 1], {}),
        (uniform(-1.0, 1.0), uniform(-1.0, 1.0), uniform(0.05, 0.5)),
        normwise=True,
        label="overlapping",
    ),
]


def _kernel(op: type, dims: list[int], attrs: dict, axis: int) -> Kernel:
    """Sum over `axis` of op(u_i + v_j, ...): argument k is variables 2k (i) and 2k + 1 (j)."""
    args = [
        apply(formula.AddOp, variable(2 * k, d, "i"), variable(2 * k + 1, d, "j")) for k, d in enumerate(dims)
    ]
    return Kernel.from_expr(apply(op, *args, **attrs), "Sum", axis)


def _arrays(case: Case, dims: list[int], rng, size_i: int, size_j: int, dtype: str) -> list[np.ndarray]:
    arrays = []
    for sampler, d in zip(case.samplers, dims, strict=True):
        arrays += [sampler(rng, size_i, d).astype(dtype), sampler(rng, size_j, d).astype(dtype)]
    return arrays


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_op_matches_reference(case: Case, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{axis}/{dtype}".encode()))
    dims, attrs = case.shapes(rng)
    kernel = _kernel(case.op, dims, attrs, axis)
    for size_i, size_j in SIZES:
        arrays = _arrays(case, dims, rng, size_i, size_j, dtype)
        tolerance = case.tolerance if dtype == "float32" else None
        check_against_reference(kernel, arrays, dtype, tolerance, normwise=case.normwise)


# -- NaN and inf --------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
VECTORS = [
    [NAN, 1.0, 2.0],
    [1.0, NAN, 2.0],
    [1.0, 2.0, NAN],
    [INF, 1.0, 2.0],
    [-INF, 1.0, 2.0],
    [1.0, INF, -INF],
    [INF, INF, 1.0],
    [NAN, INF, -INF],
    [0.0, 0.0, 0.0],
    [-0.0, 0.0, -0.0],
    [2.0, 2.0, 1.0],
    [1.0, -3.0, -3.0],
]
SCALARS = [[NAN], [INF], [-INF], [0.0], [-0.0], [1.0], [2.5], [-0.7], [0.49], [7.0]]

# op, attrs, one pool of rows per argument (pools are cycled to a common length).
SPECIAL = [
    (ops.SumTOp, {"dim": 3}, [SCALARS]),
    (ops.MaxEntryOp, {}, [VECTORS]),
    (ops.MinEntryOp, {}, [VECTORS]),
    (ops.ArgMaxOp, {}, [VECTORS]),
    (ops.ArgMinOp, {}, [VECTORS]),
    (ops.Norm2Op, {}, [VECTORS]),
    (ops.SqNorm2Op, {}, [VECTORS]),
    (ops.NormalizeOp, {}, [VECTORS]),
    (ops.WeightedSqNormOp, {}, [SCALARS, VECTORS]),
    (ops.WeightedSqNormOp, {}, [VECTORS[::-1], VECTORS]),
    (ops.WeightedSqNormOp, {}, [[[1.0] * 9, [INF] + [0.0] * 8, [0.0] * 4 + [NAN] + [0.0] * 4], VECTORS]),
    (ops.WeightedSqDistOp, {}, [SCALARS, VECTORS, VECTORS[::-1]]),
    (ops.WeightedSqDistOp, {}, [VECTORS[1:], VECTORS, [[INF, 1.0, 1.0], [1.0, 1.0, 1.0]]]),
    (ops.SqNormDiagOp, {}, [VECTORS[::-1], VECTORS]),
    (ops.SqNormDiagOp, {}, [SCALARS, VECTORS]),
    (ops.SqNormIsoOp, {}, [SCALARS, VECTORS]),
    (
        ops.SymSqNormOp,
        {},
        [[[1.0, 2.0, 0.0, -1.0], [INF, 0.0, 0.0, 1.0], [0.0, NAN, 1.0, 1.0]], [[1.0, 0.0]]],
    ),
    (ops.ElemOp, {"m": 1}, [VECTORS]),
    (ops.ElemTOp, {"n": 3, "m": 2}, [SCALARS]),
    (ops.ExtractOp, {"start": 1, "length": 2}, [VECTORS]),
    (ops.ExtractTOp, {"start": 1, "dim": 5}, [VECTORS]),
    (ops.ConcatOp, {}, [VECTORS, SCALARS]),
    (ops.OneHotOp, {"dim": 4}, [SCALARS + [[3.5], [3.49], [-0.5], [-0.51], [1e30]]]),
    (ops.BSplineOp, {"order": 2}, [[[0.0, 1.0, 1.0, 2.0, NAN], [0.0, 1.0, 2.0, 3.0, INF]], SCALARS]),
    (ops.BSplineOp, {"order": 0}, [[[0.0, 1.0, 1.0, 2.0, NAN], [-INF, 0.0, 1.0, 2.0, 3.0]], SCALARS]),
    (ops.SoftDTWSqDistOp, {}, [VECTORS, VECTORS[3:], SCALARS[3:] + [[INF], [-1.0]]]),
    (ops.SoftDTWSqDistOp, {}, [[[INF, 1.0], [1.0, 2.0]], [[1.0, 2.0, INF], [0.0, INF, 1.0]], [[0.5], [NAN]]]),
]


def _special_case(op: type, attrs: dict, pools: list) -> tuple[Kernel, list[np.ndarray]]:
    rows = max(len(pool) for pool in pools)
    dims = [len(pool[0]) for pool in pools]
    kernel = _kernel(op, dims, attrs, axis=1)
    arrays = []
    for pool, d in zip(pools, dims, strict=True):
        values = np.array([pool[k % len(pool)] for k in range(rows)], dtype=np.float64)
        arrays += [values, np.zeros((1, d))]  # v_j = 0 and N = 1: the Sum is the formula's value
    return kernel, arrays


@pytest.mark.parametrize("op, attrs, pools", SPECIAL, ids=[f"{c[0].name}-{k}" for k, c in enumerate(SPECIAL)])
def test_special_values_match_reference(op: type, attrs: dict, pools: list) -> None:
    kernel, arrays = _special_case(op, attrs, pools)
    check_against_reference(kernel, arrays, "float64")


def _values(formula_: str, aliases: list[str], *arrays) -> np.ndarray:
    """The formula's value for each output row, in float64, checked against the reference.

    A j-variable z of one row of zeros gives the reduction one term: the Sum is the value."""
    kernel = kir.compile(f"{formula_} + Zero(1) * z", [*aliases, "z = Vj(1)"], dtype="float64")
    arrays = [*(np.asarray(a, dtype=np.float64) for a in arrays), np.zeros((1, 1))]
    result = kernel(*arrays)
    assert max_relative_error(result, evaluate(kernel.module("float64"), arrays)[0]) <= 1e-12
    return result


def test_documented_special_values() -> None:
    x = [[1.0, NAN, 3.0], [1.0, NAN, NAN], [2.0, 2.0, 1.0], [1.0, -3.0, -3.0], [-0.0, 0.0, 1.0]]
    aliases = ["x = Vi(3)"]
    np.testing.assert_array_equal(_values("Max(x)", aliases, x)[:, 0], [NAN, NAN, 2.0, 1.0, 1.0])
    np.testing.assert_array_equal(_values("Min(x)", aliases, x)[:, 0], [NAN, NAN, 1.0, -3.0, 0.0])
    np.testing.assert_array_equal(_values("ArgMax(x)", aliases, x)[:, 0], [1.0, 1.0, 0.0, 0.0, 2.0])
    np.testing.assert_array_equal(_values("ArgMin(x)", aliases, x)[:, 0], [1.0, 1.0, 2.0, 1.0, 0.0])
    normalized = _values("Normalize(x)", aliases, [[0.0, 0.0, 0.0], [3.0, 0.0, 4.0], [INF, 1.0, 0.0]])
    np.testing.assert_allclose(normalized, [[0.0, 0.0, 0.0], [0.6, 0.0, 0.8], [NAN, 0.0, 0.0]], rtol=1e-15)
    onehot = _values("OneHot(t, 3)", ["t = Vi(1)"], [[1.4], [1.5], [-0.5], [-0.7], [3.0], [NAN], [INF]])
    expected = [[0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]
    np.testing.assert_array_equal(onehot, expected)
    # The soft-min of three +inf is +inf: an infinite first entry makes every alignment infinite.
    series = ["a = Vi(2)", "b = Vi(2)", "g = Vi(1)"]
    dtw = _values("SoftDTW_SqDist(a, b, g)", series, [[INF, 1.0]], [[0.0, 0.0]], [[1.0]])
    np.testing.assert_array_equal(dtw, [[INF]])


# -- independent checks of the references ----------------------------------------------------------------


def _softdtw_by_hand(x: np.ndarray, y: np.ndarray, gamma: float) -> float:
    """Soft-DTW as in KeOps: hard cumulative sums on the first row and column."""
    n, m = len(x), len(y)
    r = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            cost = (x[i] - y[j]) ** 2
            if i == 0 and j == 0:
                r[i, j] = cost
            elif i == 0 or j == 0:
                r[i, j] = cost + (r[i, j - 1] if i == 0 else r[i - 1, j])
            else:
                previous = np.array([r[i - 1, j - 1], r[i - 1, j], r[i, j - 1]])
                r[i, j] = cost - gamma * np.log(np.exp(-previous / gamma).sum())
    return float(r[-1, -1])


def test_softdtw_against_a_direct_implementation(rng) -> None:
    x, y = rng.uniform(-1, 1, size=(6, 5)), rng.uniform(-1, 1, size=(6, 4))
    result = _values("SoftDTW_SqDist(x, y, g)", ["x = Vi(5)", "y = Vi(4)", "g = Pm(1)"], x, y, [0.3])
    expected = [[_softdtw_by_hand(a, b, 0.3)] for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(result, expected, rtol=1e-12)


def test_bspline_against_scipy(rng) -> None:
    interpolate = pytest.importorskip("scipy.interpolate")
    knots = np.sort(rng.uniform(0.0, 4.0, size=9))
    points = rng.uniform(-0.5, 4.5, size=(60, 1))
    for order in range(4):
        result = _values(f"BSpline(t, x, {order})", ["t = Pm(9)", "x = Vi(1)"], knots, points)
        for k in range(9 - order - 1):
            element = interpolate.BSpline.basis_element(knots[k : k + order + 2], extrapolate=False)
            expected = np.nan_to_num(element(points[:, 0]))
            np.testing.assert_allclose(result[:, k], expected, atol=1e-12)


def test_layouts_against_numpy(rng) -> None:
    """Slices, injections, concatenation and the weight matrix, by direct indexing."""
    formula_ = (
        "Concat(Extract(x, 1, 2), ExtractT(ElemT(Elem(y, 2), 2, 1), 1, 4))"
        " * WeightedSqDist(s, x, SumT(Elem(y, 0), 4))"
    )
    kernel = kir.compile(formula_, ["x = Vi(4)", "y = Vj(3)", "s = Pm(16)"], dtype="float64")
    x, y, s = rng.normal(size=(5, 4)), rng.normal(size=(6, 3)), rng.normal(size=16)
    left = np.zeros((5, 6, 6))
    left[:, :, 0:2] = x[:, None, 1:3]
    left[:, :, 4] = y[None, :, 2]
    d = x[:, None, :] - y[None, :, :1]
    weights = np.einsum("ijk,kl,ijl->ij", d, s.reshape(4, 4), d)
    np.testing.assert_allclose(kernel(x, y, s), (left * weights[..., None]).sum(axis=1), rtol=1e-12)


# -- DSL spellings and shape errors ----------------------------------------------------------------------

ALIASES = ["x = Vi(3)", "y = Vj(3)", "t = Vi(1)", "w = Pm(9)"]


def _var(index: int, dim_: int, category: str) -> Expr:
    return variable(index, dim_, category)


X, Y, T, W = _var(0, 3, "i"), _var(1, 3, "j"), _var(2, 1, "i"), _var(3, 9, "p")


@pytest.mark.parametrize(
    ("formula", "op", "args", "attrs"),
    [
        ("SumT(t, 4)", ops.SumTOp, (T,), {"dim": 4}),
        ("Max(x)", ops.MaxEntryOp, (X,), {}),
        ("Min(x)", ops.MinEntryOp, (X,), {}),
        ("ArgMax(x)", ops.ArgMaxOp, (X,), {}),
        ("ArgMin(x)", ops.ArgMinOp, (X,), {}),
        ("Norm2(x)", ops.Norm2Op, (X,), {}),
        ("SqNorm2(x)", ops.SqNorm2Op, (X,), {}),
        ("Normalize(x)", ops.NormalizeOp, (X,), {}),
        ("WeightedSqNorm(w, x)", ops.WeightedSqNormOp, (W, X), {}),
        ("WeightedSqDist(t, x, y)", ops.WeightedSqDistOp, (T, X, Y), {}),
        ("SqNormDiag(y, x)", ops.SqNormDiagOp, (Y, X), {}),
        ("SqNormIso(t, x)", ops.SqNormIsoOp, (T, X), {}),
        ("SymSqNorm(w, x)", ops.SymSqNormOp, (W, X), {}),
        ("Elem(x, 2)", ops.ElemOp, (X,), {"m": 2}),
        ("ElemT(t, 5, 3)", ops.ElemTOp, (T,), {"n": 5, "m": 3}),
        ("Extract(x, 1, 2)", ops.ExtractOp, (X,), {"start": 1, "length": 2}),
        ("ExtractT(x, 2, 7)", ops.ExtractTOp, (X,), {"start": 2, "dim": 7}),
        ("Concat(x, t)", ops.ConcatOp, (X, T), {}),
        ("OneHot(t, 6)", ops.OneHotOp, (T,), {"dim": 6}),
        ("BSpline(x, t, 1)", ops.BSplineOp, (X, T), {"order": 1}),
        ("SoftDTW_SqDist(x, y, t)", ops.SoftDTWSqDistOp, (X, Y, T), {}),
    ],
)
def test_dsl_spelling(formula: str, op: type, args: tuple, attrs: dict) -> None:
    parsed = parse_formula(formula, ALIASES)
    assert parsed.op is op
    assert parsed.args == args
    assert parsed.attributes == attrs
    assert parsed is apply(op, *args, **attrs)


def test_result_dimensions() -> None:
    dims = {
        "SumT(t, 4)": 4,
        "ElemT(t, 5, 3)": 5,
        "Extract(x, 1, 2)": 2,
        "ExtractT(x, 2, 7)": 7,
        "Concat(x, t)": 4,
        "OneHot(t, 6)": 6,
        "BSpline(w, t, 2)": 6,
        "Normalize(x)": 3,
        "Elem(x, 0)": 1,
    }
    assert {f: parse_formula(f, ALIASES).dim for f in dims} == dims


def test_compile_end_to_end(rng) -> None:
    aliases = ["x = Vi(3)", "y = Vj(3)", "t = Vi(1)"]
    kernel = kir.compile("Max(x - y) + ArgMin(Concat(x, y)) * Norm2(OneHot(t, 3))", aliases, axis=0)
    x, y, t = rng.normal(size=(8, 3)), rng.normal(size=(5, 3)), rng.integers(0, 3, size=(8, 1)) * 1.0
    result = kernel(x, y, t)
    both = np.concatenate(np.broadcast_arrays(x[:, None, :], y[None, :, :]), axis=-1)
    values = (x[:, None, :] - y[None, :, :]).max(-1) + both.argmin(-1)
    np.testing.assert_allclose(result[:, 0], values.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    ("formula", "fragments"),
    [
        ("WeightedSqNorm(v, x)", ["kir.weightedsqnorm", "1, 3 or 9", "got dimension 5"]),
        ("WeightedSqDist(v, x, y)", ["kir.weightedsqdist", "1, 3 or 9", "got dimension 5"]),
        ("SqNormDiag(v, x)", ["kir.sqnormdiag", "dimension of x (3)", "got dimension 5"]),
        ("SqNormIso(x, y)", ["kir.sqnormiso", "scalar", "got dimension 3"]),
        ("SymSqNorm(x, y)", ["kir.symsqnorm", "D*D = 9", "got dimension 3"]),
        ("Elem(x, 3)", ["kir.elem", "[0, 3)", "got 3"]),
        ("Elem(x, -1)", ["kir.elem", "[0, 3)", "got -1"]),
        ("ElemT(x, 4, 1)", ["kir.elemt", "scalar", "got dimension 3"]),
        ("ElemT(t, 4, 4)", ["kir.elemt", "[0, 4)", "got 4"]),
        ("Extract(x, 2, 2)", ["kir.extract", "[0, 3)", "start=2, length=2"]),
        ("Extract(x, 0, 0)", ["kir.extract", "non-empty", "length=0"]),
        ("ExtractT(x, 2, 4)", ["kir.extractt", "dimension 3 at start=2", "fit in dimension 4"]),
        ("SumT(x, 3)", ["kir.sumt", "scalar", "got dimension 3"]),
        ("OneHot(x, 3)", ["kir.onehot", "scalar", "got dimension 3"]),
        ("OneHot(t, 0)", ["kir.onehot", ">= 1", "got 0"]),
        ("BSpline(x, y, 0)", ["kir.bspline", "scalar", "got dimension 3"]),
        ("BSpline(x, t, 2)", ["kir.bspline", "at least 4 knots", "dimension 3"]),
        ("BSpline(x, t, -1)", ["kir.bspline", ">= 0", "got -1"]),
        ("SoftDTW_SqDist(x, y, y)", ["kir.softdtw_sqdist", "gamma", "got dimension 3"]),
        ("WeightedSqDist(t, x, v)", ["kir.weightedsqdist", "3 and 5", "broadcast"]),
    ],
)
def test_shape_errors_reach_the_user(formula: str, fragments: list[str]) -> None:
    with pytest.raises(FormulaError) as raised:
        kir.compile(formula, ["x = Vi(3)", "y = Vj(3)", "t = Vi(1)", "v = Pm(5)"])
    for fragment in fragments:
        assert fragment in raised.value.message, raised.value.message
