"""Rules of the derivative ops (kir/dialect/autodiff.py): replaced by kir-autodiff before any
reference or lowering sees them."""

from __future__ import annotations

from kir.dialect import autodiff as ops
from kir.rules.common import OpRule


def _expanded_first(*_: object, **__: object) -> None:
    raise NotImplementedError("kir.grad and kir.diff are replaced by the kir-autodiff pass first")


RULES: dict[type, OpRule] = {
    ops.GradOp: OpRule("Grad", _expanded_first, _expanded_first),
    ops.DiffOp: OpRule("Diff", _expanded_first, _expanded_first),
}
