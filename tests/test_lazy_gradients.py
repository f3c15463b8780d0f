"""Gradients through every LazyTensor reduction, first and second order, against dense torch;
torch.func: vmap, grad, jvp / jacfwd (forward mode) and forward_ad."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from kir.errors import KirError  # noqa: E402
from kir.torch import LazyTensor  # noqa: E402

F64 = torch.float64
gen = torch.Generator().manual_seed(0)
X = torch.rand(30, 2, generator=gen, dtype=F64)
Y = torch.rand(40, 2, generator=gen, dtype=F64)
W = torch.rand(40, 2, generator=gen, dtype=F64)


def lazy(x, y, w):
    return ((LazyTensor(x[:, None]) - LazyTensor(y[None])) ** 2).sum(-1), LazyTensor(w[None])


def dense(x, y):
    return ((x[:, None] - y[None]) ** 2).sum(-1)


REDUCTIONS = {
    "sum": (lambda d, w: (d * w).sum(1), lambda d, w: (d[:, :, None] * w[None]).sum(1)),
    "sum_axis0": (lambda d, w: (d * w).sum(0), lambda d, w: (d[:, :, None] * w[None]).sum(0)),
    "logsumexp": (lambda d, w: (-d).logsumexp(1), lambda d, w: torch.logsumexp(-d, 1, keepdim=True)),
    "logsumexp_weight": (
        lambda d, w: (-d).logsumexp(1, weight=w.exp()),
        lambda d, w: torch.logsumexp(-d[:, :, None] + w[None], 1),
    ),
    "sumsoftmaxweight": (
        lambda d, w: (-d).sumsoftmaxweight(w, axis=1),
        lambda d, w: (torch.softmax(-d, 1)[:, :, None] * w[None]).sum(1),
    ),
    "min": (lambda d, w: d.min(1), lambda d, w: d.min(1, keepdim=True).values),
    "max_axis0": (lambda d, w: d.max(0), lambda d, w: d.max(0).values[:, None]),
    "kmin": (lambda d, w: d.Kmin(3, dim=1), lambda d, w: d.topk(3, 1, largest=False).values),
    "min_argmin": (lambda d, w: d.min_argmin(dim=1)[0], lambda d, w: d.min(1, keepdim=True).values),
    "max_argmax": (lambda d, w: d.max_argmax(dim=1)[0], lambda d, w: d.max(1, keepdim=True).values),
    "kmin_argkmin": (
        lambda d, w: d.Kmin_argKmin(3, dim=1)[0],
        lambda d, w: d.topk(3, 1, largest=False).values,
    ),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_first_and_second_order_gradients(name) -> None:
    reduce_lazy, reduce_dense = REDUCTIONS[name]
    x, y, w = (t.clone().requires_grad_() for t in (X, Y, W))
    out = reduce_lazy(*lazy(x, y, w))
    expected = reduce_dense(dense(x, y), w)
    torch.testing.assert_close(out, expected)
    cotangent = torch.rand(out.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    grads = torch.autograd.grad((out * cotangent).sum(), (x, y, w), create_graph=True, allow_unused=True)
    dense_grads = torch.autograd.grad(
        (expected * cotangent).sum(), (x, y, w), create_graph=True, allow_unused=True
    )
    for g, gd in zip(grads, dense_grads, strict=True):
        if gd is None or not gd.requires_grad and gd.abs().max() == 0:
            assert g is None or g.abs().max() == 0
            continue
        torch.testing.assert_close(g, gd)
    # Second order: the gradient of a function of the gradients.
    norm = sum((g**2).sum() for g in grads if g is not None and g.requires_grad)
    dense_norm = sum((g**2).sum() for g in dense_grads if g is not None and g.requires_grad)
    second = torch.autograd.grad(norm, (x, y), allow_unused=True)
    dense_second = torch.autograd.grad(dense_norm, (x, y), allow_unused=True)
    for g, gd in zip(second, dense_second, strict=True):
        torch.testing.assert_close(g if g is not None else torch.zeros_like(gd), gd)


def test_index_reductions_are_not_differentiable() -> None:
    x = X.clone().requires_grad_()
    indices = lazy(x, Y, W)[0].argKmin(3, dim=1)
    assert indices.dtype == torch.int64 and not indices.requires_grad


def gaussian(x):
    d, w = lazy(x, Y, W)
    return ((-d).exp() * w).sum(1)


def gaussian_dense(x):
    return torch.exp(-dense(x, Y)) @ W


def soft_min(x):
    return (-lazy(x, Y, W)[0]).logsumexp(dim=1)


def soft_min_dense(x):
    return torch.logsumexp(-dense(x, Y), 1, keepdim=True)


@pytest.mark.parametrize("pair", [(gaussian, gaussian_dense), (soft_min, soft_min_dense)])
def test_torch_func_transforms(pair) -> None:
    f, fd = pair
    v = torch.rand(X.shape, generator=torch.Generator().manual_seed(2), dtype=F64)
    out, tangent = torch.func.jvp(f, (X,), (v,))
    out_d, tangent_d = torch.func.jvp(fd, (X,), (v,))
    torch.testing.assert_close(out, out_d)
    torch.testing.assert_close(tangent, tangent_d)
    batch = torch.rand(3, *X.shape, generator=torch.Generator().manual_seed(3), dtype=F64)
    torch.testing.assert_close(torch.func.vmap(f)(batch), torch.func.vmap(fd)(batch))
    scalar = lambda g: lambda x: (g(x) ** 2).sum()  # noqa: E731
    torch.testing.assert_close(torch.func.grad(scalar(f))(X), torch.func.grad(scalar(fd))(X))
    small = X[:4]
    torch.testing.assert_close(torch.func.jacfwd(f)(small), torch.func.jacfwd(fd)(small))
    import torch.autograd.forward_ad as fwad

    with fwad.dual_level():
        dual = f(fwad.make_dual(X, v))
        torch.testing.assert_close(fwad.unpack_dual(dual).tangent, tangent_d)


def test_forward_mode_of_min_is_refused_clearly() -> None:
    with pytest.raises(KirError, match="forward-mode"):
        torch.func.jvp(lambda x: lazy(x, Y, W)[0].min(dim=1), (X,), (torch.ones_like(X),))
