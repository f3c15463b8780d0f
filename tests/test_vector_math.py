"""Accuracy of kir's SIMD exp (backends/cpu/vector_math.py) against a more precise exp.

The function is compiled alone, in a loop over an array in groups of lanes, and compared on a
dense grid of its whole domain plus random samples; errors are in ulps of the result's type
(subnormal results: ulps of the subnormal spacing).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir

from kir.backends.cpu import vector_math
from kir.backends.cpu.codegen import SIGNATURE
from kir.backends.cpu.jit import JitModule

I64 = ir.IntType(64)
LANES = 8


def _compiled_exp(dtype: type) -> ctypes._CFuncPtr:
    """void exp_lanes(begin, end, -, args, outs): outs[0][k] = exp(args[0][k]) for k in range."""
    element = ir.FloatType() if dtype == np.float32 else ir.DoubleType()
    vector = ir.VectorType(element, LANES)
    module = ir.Module(name="exp_test")
    function = ir.Function(module, SIGNATURE, name="exp_lanes")
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
    b.store(vector_math.exp(b, value), b.gep(target, [index], source_etype=element), align=4)
    following = b.add(index, ir.Constant(I64, LANES))
    index.add_incoming(following, loop)
    b.cbranch(b.icmp_signed("<", following, end), loop, done)
    b.position_at_end(done)
    b.ret_void()
    jit = JitModule(module)
    return jit.function("exp_lanes")


def _exp(values: np.ndarray) -> np.ndarray:
    function = _compiled_exp(values.dtype.type)
    padded = np.zeros(-(-len(values) // LANES) * LANES, dtype=values.dtype)
    padded[: len(values)] = values
    result = np.empty_like(padded)
    args = (ctypes.c_void_p * 1)(padded.ctypes.data)
    outs = (ctypes.c_void_p * 1)(result.ctypes.data)
    function(0, len(padded), 0, args, outs)
    return result[: len(values)]


def _ulp_errors(values: np.ndarray) -> np.ndarray:
    dtype = values.dtype.type
    precise = np.exp(values.astype(np.longdouble))
    got = _exp(values).astype(np.longdouble)
    rounded = precise.astype(dtype)
    finite = np.isfinite(rounded)
    spacing = np.spacing(np.abs(rounded[finite])).astype(np.longdouble)
    return (np.abs(got[finite] - precise[finite]) / spacing).astype(np.float64)


@pytest.mark.parametrize(
    ("dtype", "low", "high"),
    [(np.float32, -103.0, 88.7), (np.float64, -745.0, 709.7)],
)
def test_exp_is_within_two_ulp_on_its_domain(dtype: type, low: float, high: float, rng) -> None:
    grid = np.linspace(low, high, 400_001).astype(dtype)
    samples = rng.uniform(-2.0, 2.0, 200_000).astype(dtype)  # where kernels evaluate it most
    values = np.concatenate([grid, samples])
    errors = _ulp_errors(values)
    assert errors.max() <= 2.0, f"max error {errors.max():.3f} ulp"
    assert np.mean(errors) <= 0.6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_special_values(dtype: type) -> None:
    info = np.finfo(dtype)
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1000.0, -1000.0, info.max, -info.max], dtype=dtype)
    with np.errstate(over="ignore"):
        expected = np.exp(values)
    np.testing.assert_array_equal(_exp(values), expected)
