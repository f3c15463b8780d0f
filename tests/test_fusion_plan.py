"""Fusion planning (kir/fusion.py) and its use by the gradient kernels: one pass when possible."""

from __future__ import annotations

import pytest

import kir
from kir.builder import Reduction
from kir.dialect import formula as ops
from kir.frontends.expr import Expr, apply, variable
from kir.fusion import dependency_graph, plan_fusion
from kir.kernel import Kernel, signature

x, y, b, g = variable(0, 3, "i"), variable(1, 3, "j"), variable(2, 1, "j"), variable(3, 1, "i")
z, w = variable(4, 2, "i"), variable(5, 2, "j")
GAUSSIAN = apply(ops.ExpOp, -apply(ops.SqDistOp, x, y)) * b


def _sqdist(a: Expr, c: Expr) -> Expr:
    return apply(ops.SqDistOp, a, c)


def _assert_kernels(reductions: list[Reduction], plan: list[list[int]]) -> None:
    """Each group is a valid Kernel, and every reduction is in exactly one group."""
    assert sorted(k for group in plan for k in group) == list(range(len(reductions)))
    for group in plan:
        members = [reductions[k] for k in group]
        Kernel(members, signature([root for r in members for root in r.roots]))


def test_gaussian_value_and_gradients_are_one_pass() -> None:
    reductions = [
        Reduction(GAUSSIAN, "sum", 1),
        Reduction(apply(ops.GradOp, GAUSSIAN, x, g), "sum", 1),
        Reduction(apply(ops.GradOp, GAUSSIAN, y, g), "sum", 0),
    ]
    plan = plan_fusion(reductions)
    assert plan == [[0, 1, 2]]
    _assert_kernels(reductions, plan)
    graph = dependency_graph(reductions)
    assert set(graph.neighbors(("reduction", 2))) == {("variable", k) for k in range(4)}


def test_reductions_without_a_shared_input_are_separate() -> None:
    reductions = [
        Reduction(apply(ops.ExpOp, _sqdist(x, y)), "sum", 1),
        Reduction(_sqdist(z, w), "sum", 1),
        Reduction(apply(ops.ExpOp, _sqdist(z, w)), "max", 1),
    ]
    assert plan_fusion(reductions) == [[0], [1, 2]]


def test_a_min_over_i_and_a_min_over_j_never_share_a_pass() -> None:
    reductions = [Reduction(_sqdist(x, y), "min", 0), Reduction(_sqdist(x, y), "min", 1)]
    assert plan_fusion(reductions) == [[0], [1]]
    # A sum over j reading the same inputs joins the pass over j, not the column sums of the other.
    reductions.append(Reduction(_sqdist(x, y) * b, "sum", 1))
    assert plan_fusion(reductions) == [[0], [1, 2]]
    _assert_kernels(reductions, plan_fusion(reductions))


def test_split_parts_are_regrouped_by_their_own_shared_inputs() -> None:
    """The sum over j reads only z: it was joined to the min over j through the min over i."""
    reductions = [
        Reduction(_sqdist(x, y), "min", 1),
        Reduction(_sqdist(x, y) + _sqdist(z, w), "min", 0),
        Reduction(_sqdist(z, w), "sum", 1),
    ]
    assert plan_fusion(reductions) == [[0], [1], [2]]


def test_the_row_axis_reduction_comes_first() -> None:
    reductions = [
        Reduction(GAUSSIAN, "sum", 1),
        Reduction(_sqdist(x, y), "argmin", 0),
        Reduction(GAUSSIAN, "sum", 0),
    ]
    plan = plan_fusion(reductions)
    assert plan == [[1, 2, 0]]
    _assert_kernels(reductions, plan)
    # Sums only: the lowest-index reduction gives the row axis.
    assert plan_fusion([Reduction(GAUSSIAN, "sum", 0), Reduction(GAUSSIAN, "sum", 1)]) == [[0, 1]]


try:
    import torch
except ImportError:  # the plans above need no torch; the backward below does
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

GAUSSIAN_ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]


def _dense_gaussian(x, y, b, s):
    return torch.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1) * s) @ b


@needs_torch
@pytest.mark.parametrize("dtype_name, tolerance", [("float64", 1e-10), ("float32", 1e-4)])
def test_gaussian_backward_is_one_gradient_kernel_matching_torch(dtype_name: str, tolerance: float) -> None:
    dtype = getattr(torch, dtype_name)
    kernel = kir.compile("Exp(-SqDist(x, y) * s) * b", GAUSSIAN_ALIASES)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(50, 3, dtype=dtype, generator=generator, requires_grad=True)
    y = torch.rand(70, 3, dtype=dtype, generator=generator, requires_grad=True)
    b = torch.rand(70, 1, dtype=dtype, generator=generator, requires_grad=True)
    s = torch.tensor([1.5], dtype=dtype)
    out = kernel(x, y, b, s)
    cotangent = torch.rand(out.shape, dtype=dtype, generator=generator)
    grads = torch.autograd.grad(out, (x, y, b), cotangent)

    (plan,) = kernel.gradients((0, 1, 2))
    assert plan.positions == (0, 1, 2)
    assert [r.axis for r in plan.kernel.reductions] == [1, 0, 0]  # y and b: column sums over i
    assert "kirl.accumulate" in plan.kernel.ir("loops")

    expected = torch.autograd.grad(_dense_gaussian(x, y, b, s), (x, y, b), cotangent)
    for grad, want in zip(grads, expected, strict=True):
        error = ((grad - want).abs().max() / want.abs().max()).item()
        assert error <= tolerance


@needs_torch
def test_gaussian_gradcheck_and_gradgradcheck_with_a_parameter() -> None:
    kernel = kir.compile("Exp(-SqDist(x, y) * s) * b", GAUSSIAN_ALIASES)
    generator = torch.Generator().manual_seed(1)
    inputs = (
        torch.rand(4, 3, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.rand(5, 3, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.rand(5, 1, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.tensor([0.8], dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(kernel, inputs)
    assert torch.autograd.gradgradcheck(kernel, inputs)
    assert len(kernel.gradients((0, 1, 2, 3))) == 1


@needs_torch
def test_gradients_of_a_kernel_with_column_sums() -> None:
    """The forward kernel itself reduces over both indices: its gradients must follow each
    output's index (a column sum's output and cotangent are rows of the other index)."""
    kernel = kir.compile(
        ["Exp(-SqDist(x, y)) * b", "Exp(-SqDist(x, y)) * b", "SqDist(x, y)"],
        GAUSSIAN_ALIASES[:3],
        ["Sum", "Sum", "Min"],
        axis=[1, 0, 1],
    )
    generator = torch.Generator().manual_seed(2)
    inputs = (
        torch.rand(4, 3, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.rand(6, 3, dtype=torch.float64, generator=generator, requires_grad=True),
        torch.rand(6, 1, dtype=torch.float64, generator=generator, requires_grad=True),
    )
    assert torch.autograd.gradcheck(kernel, inputs)
    assert torch.autograd.gradgradcheck(kernel, inputs)
    assert len(kernel.gradients((0, 1, 2))) == 1


@needs_torch
def test_a_gradient_over_the_other_index_only_is_a_kernel_over_that_index() -> None:
    kernel = kir.compile("Exp(-SqDist(x, y) * s) * b", GAUSSIAN_ALIASES)
    (plan,) = kernel.gradients((1,))
    assert plan.kernel.axis == 0 and "kirl.accumulate" not in plan.kernel.ir("loops")
