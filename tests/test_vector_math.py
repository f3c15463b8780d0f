"""Accuracy of kir's SIMD math functions (backends/cpu/vector_math.py) against precise ones.

Each function is compiled alone, in a loop over an array in groups of lanes, and compared on a
dense grid of its domain plus random samples; errors are in ulps of the result's type
(subnormal results: ulps of the subnormal spacing). The references are NumPy's functions on
long doubles (the C library's 64-bit-mantissa expl, logl, sinl, cosl on x86: about 1e-3 ulp of
a double), which reduce huge sin/cos arguments exactly.
"""

from __future__ import annotations

import ctypes
from functools import cache

import numpy as np
import pytest
from llvmlite import ir

from kir.backends.cpu import vector_math
from kir.backends.cpu.codegen import SIGNATURE
from kir.backends.cpu.jit import JitModule

I64 = ir.IntType(64)
LANES = 8
FUNCTIONS = ("exp", "log", "sin", "cos")
DTYPES = (np.float32, np.float64)


@cache
def _compiled(name: str, dtype: type, lanes: int) -> ctypes._CFuncPtr:
    """void f(begin, end, -, args, outs): outs[0][k] = name(args[0][k]) for k in [begin, end)."""
    element = ir.FloatType() if dtype == np.float32 else ir.DoubleType()
    vector = ir.VectorType(element, lanes)
    module = ir.Module(name=f"{name}_test")
    function = ir.Function(module, SIGNATURE, name=f"{name}_lanes")
    begin, end, _, args, outs = function.args
    entry, loop, done = (function.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    source = b.load(args, typ=ir.PointerType())
    target = b.load(outs, typ=ir.PointerType())
    b.branch(loop)
    b.position_at_end(loop)
    index = b.phi(I64)
    index.add_incoming(begin, entry)
    value = b.load(b.gep(source, [index], source_etype=element), typ=vector, align=4)
    result = getattr(vector_math, name)(b, value)
    b.store(result, b.gep(target, [index], source_etype=element), align=4)
    following = b.add(index, ir.Constant(I64, lanes))
    index.add_incoming(following, b.block)  # sin and cos add blocks (their slow path)
    b.cbranch(b.icmp_signed("<", following, end), loop, done)
    b.position_at_end(done)
    b.ret_void()
    return JitModule(module).function(f"{name}_lanes")


def evaluate(name: str, values: np.ndarray, lanes: int = LANES) -> np.ndarray:
    """kir's `name` of each of `values` (float32 or float64), `lanes` at a time."""
    function = _compiled(name, values.dtype.type, lanes)
    padded = np.zeros(-(-len(values) // lanes) * lanes, dtype=values.dtype)
    padded[: len(values)] = values
    result = np.empty_like(padded)
    args = (ctypes.c_void_p * 1)(padded.ctypes.data)
    outs = (ctypes.c_void_p * 1)(result.ctypes.data)
    function(0, len(padded), 0, args, outs)
    return result[: len(values)]


def ulp_errors(name: str, values: np.ndarray) -> np.ndarray:
    """|kir - precise| in ulps of the precise result rounded to the values' type (finite ones)."""
    dtype = values.dtype.type
    with np.errstate(divide="ignore", invalid="ignore"):
        precise = getattr(np, name)(values.astype(np.longdouble))
    got = evaluate(name, values).astype(np.longdouble)
    rounded = precise.astype(dtype)
    finite = np.isfinite(rounded)
    spacing = np.spacing(np.abs(rounded[finite])).astype(np.longdouble)
    return (np.abs(got[finite] - precise[finite]) / spacing).astype(np.float64)


def _positive_floats(dtype: type, count: int) -> np.ndarray:
    """`count` positive floats evenly spaced in their bit patterns: every binade, subnormals too."""
    int_type, top = (np.uint32, 0x7F7FFFFF) if dtype == np.float32 else (np.uint64, 0x7FEFFFFFFFFFFFFF)
    return np.linspace(1, top, count, dtype=np.float64).astype(int_type).view(dtype)


def _near_multiples_of_half_pi(dtype: type, limit: float, count: int, rng) -> np.ndarray:
    """The floats nearest to n pi/2 (and their neighbours), the hardest arguments to reduce."""
    n = np.unique(np.concatenate([np.arange(1, count // 2), rng.integers(1, int(limit / 1.58), count // 2)]))
    half_pi = 2 * np.arctan(np.longdouble(1))  # 64 bits of pi/2 (np.pi has 53)
    nearest = (n.astype(np.longdouble) * half_pi).astype(dtype)
    return np.concatenate([nearest, np.nextafter(nearest, dtype(0)), np.nextafter(nearest, dtype(np.inf))])


def _domain(name: str, dtype: type, rng) -> np.ndarray:
    if name == "exp":
        low, high = (-103.0, 88.7) if dtype == np.float32 else (-745.0, 709.7)
        grid = np.linspace(low, high, 400_001).astype(dtype)
        return np.concatenate([grid, rng.uniform(-2.0, 2.0, 200_000).astype(dtype)])
    if name == "log":
        grid = _positive_floats(dtype, 1_000_001)
        return np.concatenate([grid, rng.uniform(0.0, 4.0, 200_000).astype(dtype)])
    # sin, cos: every magnitude up to the largest float, both signs, and where kernels use them.
    magnitudes = _positive_floats(dtype, 400_001)
    limit = vector_math.TRIG_FAST_LIMIT[32 if dtype == np.float32 else 64]
    return np.concatenate(
        [
            magnitudes,
            -magnitudes[::7],
            rng.uniform(-10.0, 10.0, 200_000).astype(dtype),
            rng.uniform(-limit, limit, 200_000).astype(dtype),
            _near_multiples_of_half_pi(dtype, limit, 200_000, rng),
        ]
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_two_ulp_on_the_domain(name: str, dtype: type, rng) -> None:
    errors = ulp_errors(name, _domain(name, dtype, rng))
    assert errors.max() <= 2.0, f"{name} {dtype.__name__}: max error {errors.max():.3f} ulp"
    assert np.mean(errors) <= 0.6


def _special_values(dtype: type) -> np.ndarray:
    info = np.finfo(dtype)
    tiny = info.smallest_subnormal
    return np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, tiny, -tiny, 3 * tiny, info.smallest_normal,
         info.max, -info.max, 1000.0, -1000.0, 1e30, -1e30, 3.4e38, 0.5, 2.0],
        dtype=dtype,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_exp_special_values(dtype: type) -> None:
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1000.0, -1000.0], dtype=dtype)
    values = np.concatenate([values, [np.finfo(dtype).max, -np.finfo(dtype).max]]).astype(dtype)
    with np.errstate(over="ignore"):
        expected = np.exp(values)
    np.testing.assert_array_equal(evaluate("exp", values), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_log_special_values(dtype: type) -> None:
    info = np.finfo(dtype)
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, -info.smallest_subnormal], dtype=dtype)
    got = evaluate("log", values)
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, np.inf, np.nan, np.nan, 0.0, np.nan, np.nan])
    assert not np.signbit(got[5])  # log(1) = +0
    subnormals = np.array([1, 2, 3, 1 << 10, (1 << (info.nmant - 1)) + 7], dtype=np.int64)
    subnormals = (subnormals * info.smallest_subnormal).astype(dtype)
    assert ulp_errors("log", subnormals).max() <= 2.0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos_special_values(name: str, dtype: type) -> None:
    values = _special_values(dtype)
    got = evaluate(name, values)
    # np.sin in float64 is within an ulp of a double: far within 2 ulps of the result type.
    with np.errstate(invalid="ignore"):
        expected = getattr(np, name)(values.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = ~np.isnan(expected)
    spacing = np.spacing(np.abs(expected[finite].astype(dtype))).astype(np.float64)
    assert np.all(np.abs(got[finite] - expected[finite]) <= 2.0 * spacing)
    np.testing.assert_array_equal(np.signbit(got[:2]), [False, name == "sin"])  # sin(-0) = -0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_one_large_lane_sends_its_vector_to_the_slow_path(name: str, dtype: type) -> None:
    values = np.linspace(-3.0, 3.0, 4 * LANES).astype(dtype)
    values[LANES + 3] = dtype(1e30)
    got = evaluate(name, values)
    reference = getattr(np, name)(values.astype(np.longdouble)).astype(dtype)
    spacing = np.spacing(np.abs(reference)).astype(np.float64)
    assert np.all(np.abs(got.astype(np.float64) - reference) <= 2.0 * spacing)


@pytest.mark.parametrize("lanes", [1, 3, 16])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_any_lane_count_computes_the_same(name: str, lanes: int, rng) -> None:
    for dtype in DTYPES:
        values = rng.uniform(-20.0, 20.0, 4800).astype(dtype)
        if name == "log":
            values = np.abs(values)
        np.testing.assert_array_equal(evaluate(name, values, lanes), evaluate(name, values))
