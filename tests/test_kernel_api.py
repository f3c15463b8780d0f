"""kir.compile and Kernel: accuracy on the issue's Gaussian case, arrays in and out, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

import kir
from kir.reference import evaluate
from tests.conftest import max_relative_error

GAUSSIAN = ("Exp(-SqDist(x,y))*b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"])


@pytest.fixture(scope="module")
def gaussian() -> kir.Kernel:
    return kir.compile(*GAUSSIAN)


@pytest.mark.parametrize("dtype, bound", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("axis", [0, 1])
def test_gaussian_5000_matches_float64_reference(dtype: str, bound: float, axis: int) -> None:
    """The acceptance case: M = N = 5000, D = 3, both axes."""
    rng = np.random.default_rng(7)
    x, y = rng.random((5000, 3)), rng.random((5000, 3))
    b = rng.random((5000 if axis == 1 else 5000, 1))
    aliases = ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"] if axis == 1 else ["x=Vi(3)", "y=Vj(3)", "b=Vi(1)"]
    kernel = kir.compile(GAUSSIAN[0], aliases, axis=axis)
    arrays = [a.astype(dtype) for a in (x, y, b)]
    result = kernel(*arrays)
    (reference,) = evaluate(kernel.module("float64"), [a.astype(np.float64) for a in arrays])
    assert result.dtype == np.dtype(dtype)
    assert result.shape == (5000, 1)
    assert max_relative_error(result, reference) <= bound


def test_float32_sum_needs_blocks_naive_order_is_worse() -> None:
    """Guards the block_sum scheme: the kernel beats a naive float32 running sum."""
    rng = np.random.default_rng(3)
    x, y, b = rng.random((64, 3)), rng.random((20000, 3)), rng.random((20000, 1))
    kernel = kir.compile(*GAUSSIAN)
    f32 = [a.astype(np.float32) for a in (x, y, b)]
    (reference,) = evaluate(kernel.module(), f32)
    terms = np.exp(-((f32[0][:, None, :] - f32[1][None]) ** 2).sum(-1)) * f32[2][:, 0]
    naive = np.zeros(64, dtype=np.float32)
    for column in terms.astype(np.float32).T:
        naive += column
    kernel_error = max_relative_error(kernel(*f32), reference)
    naive_error = max_relative_error(naive[:, None], reference)
    assert kernel_error < naive_error / 10


def test_numpy_in_numpy_out_and_inputs_untouched(gaussian: kir.Kernel) -> None:
    rng = np.random.default_rng(0)
    x = np.asfortranarray(rng.random((10, 3)))  # non-contiguous rows: copied, not modified
    y = rng.random((20, 6))[:, ::2]  # strided view
    b = rng.random((20, 1))
    before = [a.copy() for a in (x, y, b)]
    result = gaussian(x, y, b)
    assert isinstance(result, np.ndarray) and result.dtype == np.float64
    for array, copy in zip((x, y, b), before, strict=True):
        np.testing.assert_array_equal(array, copy)
    (reference,) = evaluate(gaussian.module("float64"), [x, y, b])
    assert max_relative_error(result, reference) <= 1e-12


def test_torch_in_torch_out(gaussian: kir.Kernel) -> None:
    torch = pytest.importorskip("torch")
    x, y, b = torch.rand(6, 3), torch.rand(9, 3), torch.rand(9, 1)
    result = gaussian(x, y, b)
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
    dense = (torch.exp(-((x[:, None, :] - y[None]) ** 2).sum(-1)) * b[:, 0]).sum(1, keepdim=True)
    torch.testing.assert_close(result, dense, rtol=1e-5, atol=1e-6)


def test_parameters_and_float_constants() -> None:
    kernel = kir.compile("Exp(-p * SqDist(x, y)) * 2.5", ["x=Vi(2)", "y=Vj(2)", "p=Pm(1)"], reduction="Sum")
    rng = np.random.default_rng(1)
    x, y = rng.random((4, 2)), rng.random((5, 2))
    expected = 2.5 * np.exp(-0.7 * ((x[:, None] - y[None]) ** 2).sum(-1)).sum(1, keepdims=True)
    np.testing.assert_allclose(kernel(x, y, np.array([0.7])), expected, rtol=1e-12)


def test_argmin_returns_int64_indices() -> None:
    kernel = kir.compile("SqDist(x, y)", ["x=Vi(2)", "y=Vj(2)"], reduction="ArgMin")
    rng = np.random.default_rng(2)
    x, y = rng.random((30, 2)), rng.random((50, 2))
    result = kernel(x, y)
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result[:, 0], ((x[:, None] - y[None]) ** 2).sum(-1).argmin(1))


@pytest.mark.parametrize(
    "arrays, message",
    [
        (lambda: (np.ones((3, 3)), np.ones((4, 3))), "takes 3 arguments"),
        (lambda: (np.ones((3, 2)), np.ones((4, 3)), np.ones((4, 1))), "argument 0 ('x', (M, 3))"),
        (lambda: (np.ones(3), np.ones((4, 3)), np.ones((4, 1))), "got shape (3,)"),
        (lambda: (np.ones((3, 3, 1)), np.ones((4, 3)), np.ones((4, 1))), "2D array"),
        (
            lambda: (np.ones((3, 3), np.float32), np.ones((4, 3)), np.ones((4, 1))),
            "x: float32, y: float64",
        ),
        (lambda: (np.ones((3, 3)), np.ones((4, 3)), np.ones((5, 1))), "has 5 rows but argument 1"),
        (lambda: (np.ones((3, 3), np.int32),) * 3, "kir takes float32 or float64"),
        (lambda: ([[1.0, 2.0, 3.0]], np.ones((4, 3)), np.ones((4, 1))), "must be a NumPy array"),
    ],
)
def test_bad_arguments_name_the_problem(gaussian: kir.Kernel, arrays, message: str) -> None:
    with pytest.raises(kir.ArgumentError) as error:
        gaussian(*arrays())
    assert message in str(error.value)
    assert isinstance(error.value, ValueError)


def test_dtype_option_is_enforced() -> None:
    kernel = kir.compile(*GAUSSIAN, dtype="float32")
    with pytest.raises(kir.ArgumentError, match="compiled for float32"):
        kernel(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 1)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"reduction": "Median"}, "unknown reduction 'Median'"),
        ({"axis": 2}, "axis must be 0"),
        ({"dtype": "float16"}, "dtype must be"),
    ],
)
def test_bad_options_name_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(kir.KirError, match=message):
        kir.compile(*GAUSSIAN, **kwargs)


def test_malformed_formula_raises_with_a_caret() -> None:
    with pytest.raises(kir.FormulaError) as error:
        kir.compile("Exp(-SqDist(x,y) * b", GAUSSIAN[1])
    assert "^" in str(error.value)
    assert isinstance(error.value, ValueError)


def test_size_one_and_missing_reduced_variable() -> None:
    kernel = kir.compile("SqDist(x, y)", ["x=Vi(2)", "y=Vj(2)"])
    np.testing.assert_allclose(kernel(np.zeros((1, 2)), np.ones((1, 2))), [[2.0]])
    only_i = kir.compile("Sum(x)", ["x=Vi(2)"])
    with pytest.raises(kir.ArgumentError, match="no j-variable"):
        only_i(np.ones((3, 2)))


def test_ir_of_every_stage(gaussian: kir.Kernel) -> None:
    assert "kir.sqdist" in gaussian.ir("kir")
    assert "scf.for" in gaussian.ir("loops") and "kirl.acc_update" in gaussian.ir("loops")
    assert re.search(r'define void @"?kernel"?\(i64 %"?begin', gaussian.ir("llvm"))
    assert re.search(r"define void @kernel\(i64 ", gaussian.ir("llvm-opt"))
    with pytest.raises(kir.KirError, match="unknown stage"):
        gaussian.ir("ptx")


def test_several_formulas_in_one_kernel_match_separate_kernels() -> None:
    """Fusion: one pass over the pairs gives what separate kernels give (float32 precision)."""
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "e = Vi(1)"]
    formulas = ["Exp(-SqDist(x,y)) * b", "Grad(Exp(-SqDist(x,y)) * b, x, e)", "SqDist(x, y)"]
    reductions = ["Sum", "Sum", "ArgKMin"]
    fused = kir.compile(formulas, aliases, reductions, opt_arg=2)
    assert fused.ir("kir").count("kir.reduce") == 3 and fused.ir("kir").count("kir.sqdist") == 1
    rng = np.random.default_rng(9)
    arrays = [rng.random((300, 3)), rng.random((500, 3)), rng.random((500, 1)), rng.random((300, 1))]
    arrays = [a.astype(np.float32) for a in arrays]
    together = fused(*arrays)
    for formula, reduction, result in zip(formulas, reductions, together, strict=True):
        alone = kir.compile(formula, aliases, reduction, opt_arg=2)(*arrays)
        # The fused kernel may take another schedule (lanes, rows): sums of 500 float32 terms
        # then add in another order, so entries that cancel differ by a few ulps of the largest.
        np.testing.assert_allclose(result, alone, rtol=1e-6, atol=1e-6 * np.abs(alone).max())


def test_several_formulas_errors() -> None:
    with pytest.raises(kir.KirError, match="2 formulas but 3 reductions"):
        kir.compile(["x | y", "x | y"], ["x = Vi(3)", "y = Vj(3)"], ["Sum", "Min", "Max"])
    with pytest.raises(kir.KirError, match="at least one formula"):
        kir.compile([], ["x = Vi(3)"])


def test_column_sums_fuse_both_indices_in_one_pass() -> None:
    """A kernel's value and its gradients in x (over j) and y (over i), in one kernel."""
    aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "g = Vi(1)"]
    f = "Exp(-SqDist(x, y)) * b"
    formulas = [f, f"Grad({f}, x, g)", f"Grad({f}, y, g)"]
    fused = kir.compile(formulas, aliases, "Sum", axis=[1, 1, 0])
    assert "kirl.accumulate" in fused.ir("loops")
    rng = np.random.default_rng(4)
    arrays = [rng.random((700, 3)), rng.random((300, 3)), rng.random((300, 1)), rng.random((700, 1))]
    results = fused(*arrays)
    references = evaluate(fused.module("float64"), arrays)
    for result, reference, axis, formula in zip(results, references, [1, 1, 0], formulas, strict=True):
        alone = kir.compile(formula, aliases, "Sum", axis=axis)(*arrays)
        np.testing.assert_allclose(result, alone, rtol=1e-12)
        assert max_relative_error(result, reference) <= 1e-12
    f32 = [a.astype(np.float32) for a in arrays]
    for result, reference in zip(fused(*f32), references, strict=True):
        assert float(np.abs(result - reference).max() / np.abs(reference).max()) <= 1e-5
    with pytest.raises(kir.KirError, match="only sums may reduce over the other one"):
        kir.compile(formulas, aliases, ["Sum", "Sum", "Max"], axis=[1, 1, 0])
