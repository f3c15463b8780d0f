"""Kernels as torch.autograd functions: gradients of any order through gradient kernels.

The backward of a kernel calls the gradient kernels of the inputs that need a gradient
(kir/gradients.py, fused by kir/fusion.py: in practice one kernel, one pass over the pairs,
the gradients over the other index as column sums) — themselves kir kernels called through
this same function, so with
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
        wanted = tuple(k for k, needed in enumerate(ctx.needs_input_grad[1:]) if needed)
        grads: list[torch.Tensor | None] = [None] * len(inputs)
        for position in wanted:
            grads[position] = torch.zeros_like(inputs[position])
        if wanted and any(g is not None for g in output_grads):
            # Usually one plan: every gradient in one pass (kir/fusion.py).
            for plan in kernel.gradients(wanted):
                extra = []
                for k in plan.outputs:
                    grad = output_grads[k]
                    extra += [outputs[k], grad if grad is not None else torch.zeros_like(outputs[k])]
                    extra += [helper(*inputs) for helper in plan.auxiliary[k]]
                results = plan.kernel(*inputs, *extra)
                results = results if isinstance(results, tuple) else (results,)
                for position, result, sum_rows in zip(plan.positions, results, plan.sum_rows, strict=True):
                    result = result.sum(0) if sum_rows else result
                    grads[position] = result.reshape(inputs[position].shape)
        return (None, *grads)


def call(kernel: Kernel, inputs: tuple[torch.Tensor, ...]) -> Any:
    """Run `kernel` on torch tensors, recording it for autograd when a gradient may be needed."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return KernelFunction.apply(kernel, *inputs)
    return kernel.evaluate(*inputs)
