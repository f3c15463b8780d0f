"""kir: a compiler for symbolic kernel reductions (the job of KeOps), with a readable IR.

import kir
k = kir.compile("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
out = k(x, y, b)        # out[i] = sum_j exp(-|x_i - y_j|^2) b_j
"""

import os as _os

# An installed kir holds passes/, backends/ and frontends/ inside the package. A source
# checkout keeps them beside kir/; so that `python -m kir` also works from a checkout on the
# path (where ./kir shadows the installed package), look for subpackages there too.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "frontends")) and _os.path.isdir(
    _os.path.join(_checkout, "frontends")
):
    __path__.append(_checkout)

from kir.errors import ArgumentError, FormulaError, KirError  # noqa: E402
from kir.frontends.builder import FUNCTIONS as _FUNCTIONS  # noqa: E402
from kir.frontends.builder import Pm, Vi, Vj  # noqa: E402
from kir.kernel import Kernel, compile  # noqa: E402
from kir.runtime.threads import get_num_threads, set_num_threads  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ArgumentError",
    "FormulaError",
    "Kernel",
    "KirError",
    "Pm",
    "Vi",
    "Vj",
    "compile",
    "get_num_threads",
    "set_num_threads",
    "__version__",
]


def __getattr__(name: str):
    """The builder functions: `kir.exp`, `kir.sqdist`, ... (every DSL function, lower-cased)."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        raise AttributeError(f"module 'kir' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_FUNCTIONS])
