"""The xDSL context kir parses and runs passes in: builtin, arith, scf, and kir's dialects."""

from __future__ import annotations

from io import StringIO

from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.scf import Scf
from xdsl.printer import Printer


def kir_dialects() -> dict[str, object]:
    """Dialect name -> lazy factory, for every dialect kir's IR may contain."""

    def formula():
        from kir.dialect.formula import KIR

        return KIR

    def loops():
        from kir.dialect.loops import KIRL

        return KIRL

    return {"kir": formula, "kirl": loops}


def kir_context() -> Context:
    """A fresh context that knows every dialect of kir's pipeline."""
    context = Context()
    for dialect in (Builtin, Arith, Scf):
        context.load_dialect(dialect)
    for name, factory in kir_dialects().items():
        context.register_dialect(name, factory)
    return context


def module_text(module: ModuleOp) -> str:
    """`module` in MLIR's custom textual form, ending with a newline."""
    stream = StringIO()
    Printer(stream=stream).print_op(module)
    return stream.getvalue() + "\n"
