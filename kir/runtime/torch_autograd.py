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
import torch.autograd.forward_ad as fwad

if TYPE_CHECKING:
    from kir.kernel import Kernel


class KernelFunction(torch.autograd.Function):
    """out = kernel(*inputs), differentiable with respect to every float input; torch.func's
    vmap (a loop over the mapped dimension) and forward mode (jvp) included."""

    @staticmethod
    def forward(kernel: Kernel, *inputs: torch.Tensor) -> Any:
        outputs = kernel.evaluate(*(t.detach() for t in inputs))
        return outputs

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> None:
        kernel, *tensors = inputs
        outputs = output if isinstance(output, tuple) else (output,)
        ctx.kernel = kernel
        ctx.save_for_backward(*tensors, *outputs)
        ctx.save_for_forward(*tensors, *outputs)
        ctx.mark_non_differentiable(*(o for o in outputs if not o.is_floating_point()))

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

    @staticmethod
    def jvp(ctx: Any, _kernel_tangent: None, *tangents: torch.Tensor | None) -> Any:
        kernel: Kernel = ctx.kernel
        inputs = ctx.saved_tensors[: len(kernel.args)]
        outputs = ctx.saved_tensors[len(kernel.args) :]
        moving = tuple(k for k, v in enumerate(tangents) if v is not None)
        if not moving:
            result = tuple(torch.zeros_like(o) if o.is_floating_point() else None for o in outputs)
        else:
            plan = kernel.tangents(moving)
            results = KernelFunction.apply(plan.kernel, *inputs, *(tangents[k] for k in moving))
            results = list(results) if isinstance(results, tuple) else [results]
            result = tuple(
                None if combine is None else combine(results, out)
                for combine, out in zip(plan.combine, outputs, strict=True)
            )
        return result[0] if len(result) == 1 else result

    @staticmethod
    def vmap(info: Any, in_dims: tuple, kernel: Kernel, *inputs: torch.Tensor) -> tuple:
        # One kernel call per mapped index: kernels take 2D arrays, and the loop keeps autograd.
        dims = in_dims[1:]
        parts = []
        for b in range(info.batch_size):
            picked = [t if d is None else t.select(d, b) for t, d in zip(inputs, dims, strict=True)]
            parts.append(KernelFunction.apply(kernel, *picked))
        if isinstance(parts[0], tuple):
            return tuple(torch.stack([p[k] for p in parts]) for k in range(len(parts[0]))), (0,) * len(
                parts[0]
            )
        return torch.stack(parts), 0


def _under_functorch(inputs: tuple[torch.Tensor, ...]) -> bool:
    """True when torch.func transforms (vmap, jvp, grad) wrap the inputs."""
    is_wrapped = torch._C._functorch.is_functorch_wrapped_tensor
    return any(is_wrapped(t) for t in inputs)


def call(kernel: Kernel, inputs: tuple[torch.Tensor, ...]) -> Any:
    """Run `kernel` on torch tensors, recording it for autograd when a gradient may be needed."""
    if _under_functorch(inputs):
        return KernelFunction.apply(kernel, *inputs)
    if torch.is_grad_enabled() and any(t.requires_grad for t in inputs):
        return KernelFunction.apply(kernel, *inputs)
    if fwad._current_level >= 0 and any(fwad.unpack_dual(t).tangent is not None for t in inputs):
        return KernelFunction.apply(kernel, *inputs)
    if all(type(t) is torch.Tensor and t.device.type == "cpu" for t in inputs):
        # Nothing to record: NumPy views of the tensors, through the kernel's fastest path.
        outputs = kernel.evaluate_numpy(*(t.detach().numpy() for t in inputs))
        if isinstance(outputs, tuple):
            return tuple(torch.from_numpy(o) for o in outputs)
        return torch.from_numpy(outputs)
    return kernel.evaluate(*inputs)
