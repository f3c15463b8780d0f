"""kir: a compiler for symbolic kernel reductions (the job of KeOps), with a readable IR.

import kir
k = kir.compile("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
out = k(x, y, b)        # out[i] = sum_j exp(-|x_i - y_j|^2) b_j
"""

from kir.errors import ArgumentError, FormulaError, KirError
from kir.kernel import Kernel, compile

__version__ = "0.1.0"

__all__ = ["ArgumentError", "FormulaError", "Kernel", "KirError", "compile", "__version__"]
