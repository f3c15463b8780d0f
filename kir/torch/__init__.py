"""pykeops.torch's API on kir: `from kir.torch import LazyTensor` in code written for pykeops.

LazyTensor, ComplexLazyTensor, Vi, Vj, Pm, Genred, KernelSolve and the generic_* routines,
same names, arguments and results (docs/lazytensor.md; differences: docs/migrating-from-pykeops.md).
Reductions of torch tensors are differentiable to any order.
"""

import torch as _torch  # noqa: F401 - fail here, with torch's own message, when torch is absent

from kir.frontends.lazy.genred import Genred, generic_argkmin, generic_argmin, generic_logsumexp, generic_sum
from kir.frontends.lazy.solve import KernelSolve
from kir.frontends.lazy.torch_lazy import ComplexLazyTensor, LazyTensor
from kir.frontends.lazy.variables import make_shorthands

Var, Vi, Vj, Pm = make_shorthands(LazyTensor)

__all__ = [
    "ComplexLazyTensor",
    "Genred",
    "KernelSolve",
    "LazyTensor",
    "Pm",
    "Var",
    "Vi",
    "Vj",
    "generic_argkmin",
    "generic_argmin",
    "generic_logsumexp",
    "generic_sum",
]
