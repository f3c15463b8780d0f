"""Gradients of kernels through torch.autograd: against torch on the dense formula, to any order."""

from __future__ import annotations

import pytest

import kir

torch = pytest.importorskip("torch")

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"]


def _dense_sqdist(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


# (name, formula, reduction, formula2, dense torch computation of the same output)
KERNELS = [
    (
        "gaussian",
        "Exp(-SqDist(x, y) * s) * b",
        "Sum",
        None,
        lambda x, y, b, s: torch.exp(-_dense_sqdist(x, y) * s) @ b,
    ),
    (
        "laplace",
        "Exp(-Sqrt(SqDist(x, y) + s)) * b",
        "Sum",
        None,
        lambda x, y, b, s: torch.exp(-torch.sqrt(_dense_sqdist(x, y) + s)) @ b,
    ),
    (
        "sinkhorn logsumexp",
        "(Sum(b) - SqDist(x, y)) / s",
        "LogSumExp",
        None,
        lambda x, y, b, s: torch.logsumexp(
            (b.sum(1)[None, :] - _dense_sqdist(x, y)) / s, dim=1, keepdim=True
        ),
    ),
    (
        "softmax weights",
        "-SqDist(x, y) * s",
        "SumSoftMaxWeight",
        "b",
        lambda x, y, b, s: torch.softmax(-_dense_sqdist(x, y) * s, dim=1) @ b,
    ),
    (
        "knn min",
        "SqDist(x, y) * s",
        "Min",
        None,
        lambda x, y, b, s: (_dense_sqdist(x, y) * s).min(dim=1, keepdim=True).values,
    ),
]


def _inputs(dtype, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(30, 3, generator=generator, dtype=dtype)
    y = torch.rand(40, 3, generator=generator, dtype=dtype)
    b = torch.rand(40, 2, generator=generator, dtype=dtype)
    s = torch.tensor([1.5], dtype=dtype)
    return [t.requires_grad_() for t in (x, y, b, s)]


@pytest.mark.parametrize("name, formula, reduction, formula2, dense", KERNELS, ids=[k[0] for k in KERNELS])
def test_gradients_match_torch_dense_float32(name, formula, reduction, formula2, dense) -> None:
    kernel = kir.compile(formula, ALIASES, reduction, formula2=formula2)
    inputs = _inputs(torch.float32)
    out = kernel(*inputs)
    expected = dense(*inputs)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    cotangent = torch.rand(out.shape, generator=torch.Generator().manual_seed(1))
    grads = torch.autograd.grad(out, inputs, cotangent)
    expected_grads = torch.autograd.grad(expected, inputs, cotangent, allow_unused=True)
    for grad, want in zip(grads, expected_grads, strict=True):
        want = torch.zeros_like(grad) if want is None else want
        error = ((grad - want).abs().max() / want.abs().max().clamp_min(1e-30)).item()
        assert error <= 1e-4, f"{name}: relative error {error:.2e}"


@pytest.mark.parametrize("name, formula, reduction, formula2, dense", KERNELS, ids=[k[0] for k in KERNELS])
def test_gradcheck_and_gradgradcheck_float64(name, formula, reduction, formula2, dense) -> None:
    """With respect to an i-variable, a j-variable, the weights and a parameter."""
    kernel = kir.compile(formula, ALIASES, reduction, formula2=formula2)
    small = [
        t.detach()[:5].clone().requires_grad_() if t.dim() == 2 else t for t in _inputs(torch.float64, 3)
    ]
    small[1], small[2] = (
        small[1][:6].detach().clone().requires_grad_(),
        small[2][:6].detach().clone().requires_grad_(),
    )
    assert torch.autograd.gradcheck(kernel, tuple(small))
    assert torch.autograd.gradgradcheck(kernel, tuple(small))


DIFFERENTIABLE_REDUCTIONS = [
    ("Sum", "(x | y) * s + Sum(b)", {}),
    ("Zero", "(x | y) * s + Sum(b)", {}),
    ("Max", "(x | y) * s + Sum(b)", {}),
    ("Min", "(x | y) * s + Sum(b)", {}),
    ("Max_ArgMax", "(x | y) * s + Sum(b)", {}),
    ("KMin", "(x | y) * s + Sum(b)", {"opt_arg": 2}),
    ("LogSumExp", "(x | y) * s + Sum(b)", {}),
    ("LogSumExp", "(x | y) * s", {"formula2": "Exp(b)"}),
    ("SumSoftMaxWeight", "(x | y) * s", {"formula2": "b"}),
]


@pytest.mark.parametrize(
    "reduction, formula, options",
    DIFFERENTIABLE_REDUCTIONS,
    ids=[f"{r}-{o}" for r, _, o in DIFFERENTIABLE_REDUCTIONS],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_every_differentiable_reduction_both_axes(
    reduction: str, formula: str, options: dict, axis: int
) -> None:
    """gradcheck and gradgradcheck w.r.t. an i-variable, a j-variable, weights and a parameter."""
    kernel = kir.compile(formula, ALIASES, reduction, axis=axis, **options)
    inputs = [t.detach()[:4].clone().requires_grad_() for t in _inputs(torch.float64, 5)[:3]]
    inputs.append(torch.tensor([0.7], dtype=torch.float64, requires_grad=True))

    def first_output(*tensors):
        out = kernel(*tensors)
        return out[0] if isinstance(out, tuple) else out

    assert torch.autograd.gradcheck(first_output, tuple(inputs))
    assert torch.autograd.gradgradcheck(first_output, tuple(inputs))


def test_third_order_derivatives_of_the_gaussian_kernel() -> None:
    kernel = kir.compile("Exp(-SqDist(x, y))", ["x = Vi(2)", "y = Vj(2)"])
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(4, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.rand(5, 2, dtype=torch.float64, generator=generator)
    x_dense = x.detach().clone().requires_grad_()

    def third(f, x):
        (g1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        (g2,) = torch.autograd.grad((g1**2).sum(), x, create_graph=True)
        (g3,) = torch.autograd.grad((g2 * g1).sum(), x)
        return g3

    ours = third(lambda x: kernel(x, y), x)
    dense = third(lambda x: torch.exp(-_dense_sqdist(x, y)).sum(1, keepdim=True), x_dense)
    torch.testing.assert_close(ours, dense, rtol=1e-9, atol=1e-12)


def test_non_contiguous_and_expanded_inputs_get_correct_gradients() -> None:
    """GPyTorch's issue #1543 with KeOps: non-contiguous inputs gave None gradients."""
    kernel = kir.compile("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
    base = torch.rand(3, 8, dtype=torch.float64, requires_grad=True)
    x = base.t()  # (8, 3), non-contiguous
    y = torch.rand(1, 3, dtype=torch.float64, requires_grad=True).expand(5, 3)  # stride 0
    b = torch.rand(5, 1, dtype=torch.float64, requires_grad=True)
    kernel(x, y, b).sum().backward()
    xd, bd = base.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    yd = y.detach()[:1].clone().requires_grad_()
    (torch.exp(-_dense_sqdist(xd.t(), yd.expand(5, 3))) @ bd).sum().backward()
    torch.testing.assert_close(base.grad, xd.grad)
    torch.testing.assert_close(b.grad, bd.grad)
    assert base.grad is not None


def test_inputs_without_grad_get_no_gradient_kernel() -> None:
    kernel = kir.compile("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
    x = torch.rand(4, 3, requires_grad=True)
    y, b = torch.rand(6, 3), torch.rand(6, 1)
    kernel(x, y, b).sum().backward()
    assert set(kernel._gradients) == {(0,)}


def test_gradients_are_fused_in_one_kernel() -> None:
    """x and s reduce over j, y and b over i (column sums): one kernel, one pass."""
    kernel = kir.compile("Exp(-SqDist(x, y) * s) * Sum(b)", ALIASES)
    inputs = _inputs(torch.float64)
    kernel(*inputs).sum().backward()
    (plans,) = kernel._gradients.values()
    assert [plan.positions for plan in plans] == [(0, 3, 1, 2)]
    assert [len(plan.kernel.reductions) for plan in plans] == [4]


def test_index_outputs_are_not_differentiable_and_min_argmin_still_is() -> None:
    kernel = kir.compile("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "Min_ArgMin")
    x = torch.rand(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(6, 3, dtype=torch.float64)
    values, indices = kernel(x, y)
    assert indices.dtype == torch.int64 and not indices.requires_grad
    values.sum().backward()
    nearest = y[indices[:, 0]]
    torch.testing.assert_close(x.grad, 2 * (x.detach() - nearest))


def test_kmin_gradient_matches_torch_topk() -> None:
    kernel = kir.compile("SqDist(x, y)", ["x = Vi(2)", "y = Vj(2)"], "KMin", opt_arg=3)
    generator = torch.Generator().manual_seed(4)
    x = torch.rand(6, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.rand(9, 2, dtype=torch.float64, generator=generator, requires_grad=True)
    out = kernel(x, y)
    dense = _dense_sqdist(x, y).topk(3, dim=1, largest=False).values
    torch.testing.assert_close(out, dense)
    cotangent = torch.rand(out.shape, dtype=torch.float64, generator=generator)
    for ours, theirs in zip(
        torch.autograd.grad(out, (x, y), cotangent),
        torch.autograd.grad(dense, (x, y), cotangent),
        strict=True,
    ):
        torch.testing.assert_close(ours, theirs)
