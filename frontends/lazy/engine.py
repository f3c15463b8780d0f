"""Running a kir kernel the way pykeops runs a reduction: batch dimensions, ranges, options.

A kir `Kernel` takes 2D arrays (i- and j-variables) and 1D parameters. pykeops' callers also
pass leading batch dimensions, which broadcast like NumPy's; `run` loops over the batch
(indexing is a view, never a copy, and with torch it is recorded by autograd, so gradients of
any order flow through) and stacks the outputs. Block-sparse `ranges` go through
`ranges.reduce_blocks`. `backend=` is pykeops': 'GPU', 'GPU_1D' and 'GPU_2D' run on the arrays'
GPU with the auto, 1D or 2D scheme (kir copies nothing between the host and a GPU: arrays in
host memory are refused, naming what to do).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from kir.errors import ArgumentError, KirError
from kir.kernel import Kernel

from .tools import tools_for

CPU_BACKENDS = (None, "auto", "CPU", "cpu")
GPU_SCHEMES = {"GPU": "auto", "GPU_1D": "1d", "GPU_2D": "2d"}
"""pykeops' GPU `backend=` values and the CUDA back-end's scheme each asks for."""

ACCUMULATOR_DTYPES = ("auto", "float32", "float64")


def core_ndim(category: str) -> int:
    """Dimensions an argument of this category has without batch dimensions."""
    return 1 if category == "p" else 2


def batch_shape(kernel: Kernel, arrays: Sequence[Any]) -> tuple[int, ...]:
    """The broadcast batch dimensions of the arguments (named in the error when they clash)."""
    if len(arrays) != len(kernel.args):
        expected = ", ".join(s.name for s in kernel.args)
        raise ArgumentError(f"the reduction takes {len(kernel.args)} arrays ({expected}), got {len(arrays)}")
    if all(getattr(a, "ndim", -1) == core_ndim(s.category) for s, a in zip(kernel.args, arrays, strict=True)):
        return ()  # no batch dimensions: the usual case, decided cheaply
    shapes = []
    for spec, array in zip(kernel.args, arrays, strict=True):
        if not hasattr(array, "shape"):
            raise ArgumentError(f"{spec.describe()} must be an array, got {type(array).__name__}")
        core = core_ndim(spec.category)
        if len(array.shape) < core:
            raise ArgumentError(
                f"{spec.describe()}: expected at least {core} dimensions, got shape {tuple(array.shape)}"
            )
        shapes.append(tuple(array.shape[: len(array.shape) - core]))
    try:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    except ValueError:
        spelled = ", ".join(f"{s.name}: {tuple(a.shape)}" for s, a in zip(kernel.args, arrays, strict=True))
        raise ArgumentError(f"the batch dimensions of the arguments do not broadcast ({spelled})") from None


def check_options(backend: str | None, dtype_acc: str = "auto", use_double_acc: bool = False) -> str:
    """The accumulator dtype asked for ('auto': the arguments'); refuses what kir cannot do."""
    if backend not in CPU_BACKENDS and backend not in GPU_SCHEMES:
        known = ", ".join(repr(b) for b in (*CPU_BACKENDS[1:3], *GPU_SCHEMES))
        raise KirError(f"unknown backend={backend!r}; kir knows {known}")
    if dtype_acc not in ACCUMULATOR_DTYPES:
        raise KirError(f"dtype_acc must be one of {ACCUMULATOR_DTYPES}, got {dtype_acc!r}")
    if use_double_acc:
        if dtype_acc not in ("auto", "float64"):
            raise KirError("use_double_acc=True and dtype_acc are two spellings of one option; give one")
        return "float64"
    return dtype_acc


@contextlib.contextmanager
def on_backend(backend: str | None, arrays: Sequence[Any]) -> Iterator[None]:
    """Calls inside run where `backend` says: a GPU backend needs the arrays on a GPU and
    chooses the scheme; 'CPU' needs them in host memory."""
    if backend in (None, "auto"):
        yield
        return
    from kir.backends.cuda.adapters import device_adapter

    on_gpu = device_adapter(arrays) is not None
    if backend in GPU_SCHEMES:
        if not on_gpu:
            raise KirError(
                f"backend={backend!r} runs on the arrays' GPU, but they are on the CPU: kir does not "
                "copy them as pykeops does; move them to a CUDA device first (x.cuda()), or use "
                "backend='auto' or 'CPU'"
            )
        from kir.backends.cuda.runtime import device_scheme

        with device_scheme(GPU_SCHEMES[backend]):
            yield
        return
    if on_gpu:
        raise KirError(
            f"backend={backend!r} with arrays on a GPU: kir does not copy them to the host; "
            "move them there first (x.cpu()), or use backend='auto' or 'GPU'"
        )
    yield


def run(
    kernel: Kernel,
    arrays: Sequence[Any],
    ranges: tuple | None = None,
    accumulator: str = "auto",
    out: Any = None,
    backend: str | None = None,
) -> Any:
    """kernel(*arrays) with batch dimensions (..., M, D), block-sparse `ranges`, the
    accumulator dtype `accumulator` (float32 arguments computed in float64 when asked) and
    pykeops' `backend`."""
    with on_backend(backend, arrays):
        return _run(kernel, list(arrays), ranges, accumulator, out)


def _run(kernel: Kernel, arrays: list, ranges: tuple | None, accumulator: str, out: Any) -> Any:
    batch = batch_shape(kernel, arrays)
    cast_back = None
    if accumulator == "float64":
        dtypes = {tools_for(a).dtype_name(a) for a in arrays}
        if dtypes == {"float32"}:
            cast_back = "float32"
            arrays = [tools_for(a).cast(a, "float64") for a in arrays]
    if ranges is not None and batch:
        raise KirError("ranges= with batch dimensions is not supported: loop over the batch yourself")

    def one(args: list) -> Any:
        if ranges is not None:
            from .ranges import reduce_blocks

            return reduce_blocks(kernel, args, ranges)
        return kernel(*args)

    if not batch:
        result = one(arrays)
    else:
        tools = tools_for(arrays[0])
        parts = []
        for index in np.ndindex(*batch):
            args = []
            for spec, array in zip(kernel.args, arrays, strict=True):
                own = array.shape[: len(array.shape) - core_ndim(spec.category)]
                # Right-aligned, size-1 dimensions broadcast: index 0 there.
                picked = tuple(
                    0 if n == 1 else k for k, n in zip(index[len(batch) - len(own) :], own, strict=True)
                )
                args.append(array[picked] if picked else array)
            parts.append(one(args))
        if isinstance(parts[0], tuple):
            result = tuple(
                tools.reshape(tools.stack([p[k] for p in parts]), batch + parts[0][k].shape)
                for k in range(len(parts[0]))
            )
        else:
            result = tools.reshape(tools.stack(parts), batch + parts[0].shape)
    if cast_back is not None:
        result = _cast_floats(result, cast_back)
    if out is not None:
        if isinstance(result, tuple):
            raise KirError("out= takes one array; this reduction gives several")
        if tuple(out.shape) != tuple(result.shape):
            raise ArgumentError(f"out= has shape {tuple(out.shape)}, the result {tuple(result.shape)}")
        return tools_for(out).copy_into(out, result)
    return result


def unflatten_ranks(result: Any, reduction: str, dim: int, k: int | None) -> Any:
    """pykeops' shape for the K-min family of a D > 1 formula: (..., M, K, D), not (..., M, K * D)."""
    if dim == 1 or reduction not in ("KMin", "ArgKMin", "KMin_ArgKMin"):
        return result
    if isinstance(result, tuple):
        return tuple(unflatten_ranks(r, reduction, dim, k) for r in result)
    return tools_for(result).reshape(result, tuple(result.shape[:-1]) + (k, dim))


def _cast_floats(result: Any, dtype: str) -> Any:
    if isinstance(result, tuple):
        return tuple(_cast_floats(r, dtype) for r in result)
    tools = tools_for(result)
    return tools.cast(result, dtype) if tools.dtype_name(result).startswith("float") else result
