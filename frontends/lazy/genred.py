"""pykeops' Genred and generic_* routines on kir kernels (both front-ends).

`Genred(formula, aliases, reduction_op, axis, ...)` compiles nothing until first called, then
runs like pykeops: batch dimensions, `ranges=`, `out=`, `backend=`. pykeops' tuning options
(`sum_scheme`, `enable_chunks`, `use_fast_math`, `cuda_type`...) are accepted; kir picks
its own schedule. `dtype_acc="float64"` (or `use_double_acc=True`) computes float32 data in
float64.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kir.errors import KirError
from kir.kernel import Kernel

from . import engine

_OUTPUT = re.compile(r"^\s*\w+\s*=\s*(Vi|Vj)\s*\(\s*(?:\d+\s*,\s*)?(\d+)\s*\)\s*$")


class Genred:
    """A generic reduction of a formula in KeOps' syntax (pykeops' Genred)."""

    def __init__(
        self,
        formula: str,
        aliases: Sequence[str],
        reduction_op: str = "Sum",
        axis: int = 0,
        dtype: str | None = None,
        opt_arg: int | None = None,
        formula2: str | None = None,
        cuda_type: str | None = None,
        dtype_acc: str = "auto",
        use_double_acc: bool = False,
        sum_scheme: str = "auto",
        enable_chunks: bool = True,
        rec_multVar_highdim: Any = None,  # noqa: N803 - pykeops' spelling
        use_fast_math: bool = True,
    ):
        self.accumulator = engine.check_options("auto", dtype_acc, use_double_acc)
        self.kernel = Kernel.from_formula(formula, list(aliases), reduction_op, axis, None, opt_arg, formula2)
        self.formula, self.aliases, self.reduction_op, self.axis = formula, list(aliases), reduction_op, axis

    def __call__(
        self,
        *args: Any,
        backend: str = "auto",
        device_id: int = -1,
        ranges: tuple | None = None,
        out: Any = None,
    ) -> Any:
        """The reduction of the arrays (2D, or with leading batch dimensions)."""
        engine.check_options(backend)
        result = engine.run(self.kernel, args, ranges, self.accumulator, out, backend)
        first = self.kernel.reductions[0]
        return engine.unflatten_ranks(result, self.reduction_op, first.formula.dim, first.k)


def _output(output: str, name: str) -> tuple[int, int]:
    """(axis, dimension) of an output alias 'a = Vi(d)' (reduce over j) or 'a = Vj(d)'."""
    match = _OUTPUT.match(output)
    if match is None:
        raise KirError(
            f"{name}: the output is declared as 'name = Vi(dim)' or 'name = Vj(dim)', got {output!r}"
        )
    return (1 if match.group(1) == "Vi" else 0), int(match.group(2))


def generic_sum(formula: str, output: str, *aliases: str, **kwargs: Any) -> Genred:
    """Sum reduction; `output` ('a = Vi(d)') says the output index."""
    axis, _ = _output(output, "generic_sum")
    return Genred(formula, aliases, reduction_op="Sum", axis=axis, **kwargs)


def generic_logsumexp(formula: str, output: str, *aliases: str, **kwargs: Any) -> Genred:
    """LogSumExp reduction; `output` ('a = Vi(1)') says the output index."""
    axis, _ = _output(output, "generic_logsumexp")
    return Genred(formula, aliases, reduction_op="LogSumExp", axis=axis, **kwargs)


def generic_argkmin(formula: str, output: str, *aliases: str, **kwargs: Any) -> Genred:
    """ArgKMin reduction; `output` ('a = Vi(K)') gives the index and K."""
    axis, k = _output(output, "generic_argkmin")
    return Genred(formula, aliases, reduction_op="ArgKMin", axis=axis, opt_arg=k, **kwargs)


def generic_argmin(formula: str, output: str, *aliases: str, **kwargs: Any) -> Genred:
    """ArgMin reduction; `output` ('a = Vi(1)') says the output index."""
    axis, _ = _output(output, "generic_argmin")
    return Genred(formula, aliases, reduction_op="ArgMin", axis=axis, **kwargs)
