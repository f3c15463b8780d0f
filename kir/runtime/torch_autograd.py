"""Kernels as torch.autograd functions: gradients of any order through gradient kernels.

The backward of a kernel calls, for each input that needs a gradient, its gradient kernel
(kir/gradients.py) — itself a kir kernel called through this same function, so with
`create_graph=True` the backward is differentiable again (second and higher orders). Inputs
that need no gradient get no gradient kernel compiled. Non-contiguous or expanded inputs are
read through NumPy views and copied when needed; gradients come back in the inputs' shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from kir.kernel import Kernel


class KernelFunction(torch.autograd.Function):
    """out = kernel(*inputs), differentiable with respect to every float input."""

    @staticmethod
    def forward(ctx: Any, kernel: Kernel, *inputs: torch.Tensor) -> Any:
        outputs = kernel.evaluate(*(t.detach() for t in inputs))
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        ctx.kernel = kernel
        ctx.save_for_backward(*inputs, *outputs)
        ctx.mark_non_differentiable(*(o for o in outputs if not o.is_floating_point()))
        return outputs[0] if len(outputs) == 1 else outputs

    @staticmethod
    def backward(ctx: Any, *output_grads: torch.Tensor | None) -> tuple:
        kernel: Kernel = ctx.kernel
        saved = ctx.saved_tensors
        inputs, outputs = saved[: len(kernel.args)], saved[len(kernel.args) :]
        grads: list[torch.Tensor | None] = [None]  # for `kernel`
        for position, needed in enumerate(ctx.needs_input_grad[1:]):
            grads.append(_input_gradient(kernel, position, inputs, outputs, output_grads) if needed else None)
        return tuple(grads)


def _input_gradient(
    kernel: Kernel,
    position: int,
    inputs: tuple[torch.Tensor, ...],
    outputs: tuple[torch.Tensor, ...],
    output_grads: tuple[torch.Tensor | None, ...],
) -> torch.Tensor:
    target = inputs[position]
    plan = kernel.gradient(position)
    extra = []
    if plan is not None:
        for k in plan.outputs:
            grad = output_grads[k]
            extra += [outputs[k], grad if grad is not None else torch.zeros_like(outputs[k])]
            extra += [helper(*inputs) for helper in plan.auxiliary[k]]
    if plan is None or all(g is None for g in output_grads):
        return torch.zeros_like(target)
    result = plan.kernel(*inputs, *extra)
    if plan.sum_rows:
        result = result.sum(0)
    return result.reshape(target.shape)


def call(kernel: Kernel, inputs: tuple[torch.Tensor, ...]) -> Any:
    """Run `kernel` on torch tensors, recording it for autograd when a gradient may be needed."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return KernelFunction.apply(kernel, *inputs)
    return kernel.evaluate(*inputs)
