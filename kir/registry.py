"""One table of what each formula op means: its DSL spelling, reference rule and lowering.

A new op is a dialect op (in a group module of kir/dialect/, with its shape rule) plus one
`OpRule` in the matching module of kir/rules/. The string DSL, the reference evaluator and every
back-end find the op through this table; later facets (the derivative rule) join `OpRule` as
fields, not as if-chains elsewhere. Variables and constants are not in the table: every
consumer handles them itself.
"""

from __future__ import annotations

from xdsl.ir import Operation

from kir.rules import autodiff, complex, elementwise, matrix, vector
from kir.rules.common import Entries, OpRule

__all__ = ["DSL_FUNCTIONS", "OP_RULES", "Entries", "OpRule", "dsl_op", "rule_for"]

OP_RULES: dict[type[Operation], OpRule] = {
    **elementwise.RULES,
    **vector.RULES,
    **matrix.RULES,
    **complex.RULES,
    **autodiff.RULES,
}


def rule_for(op: type[Operation] | Operation) -> OpRule:
    """The rule of an op class or instance; a clear error for an op the table lacks."""
    op_class = op if isinstance(op, type) else type(op)
    try:
        return OP_RULES[op_class]
    except KeyError:
        raise NotImplementedError(f"no rule registered for {op_class.name}") from None


def _dsl_functions() -> dict[str, tuple[type[Operation], ...]]:
    table: dict[str, list[type[Operation]]] = {}
    for op, rule in OP_RULES.items():
        if rule.dsl is not None:
            table.setdefault(rule.dsl, []).append(op)
    for name, ops in table.items():
        counts = [op.ARITY + len(OP_RULES[op].dsl_attrs) for op in ops]
        if len(set(counts)) != len(counts):
            raise RuntimeError(f"DSL function {name} has two ops with {max(counts)} arguments")
    return {name: tuple(ops) for name, ops in table.items()}


DSL_FUNCTIONS: dict[str, tuple[type[Operation], ...]] = _dsl_functions()
"""Function names of the string DSL -> the ops they spell. A name may spell several ops told
apart by their argument count (KeOps' `Max(x)` over a vector's entries, `Max(a, b)` entrywise)."""


def dsl_op(name: str, argument_count: int) -> type[Operation] | None:
    """The op `name(...)` with `argument_count` arguments spells, if any."""
    for op in DSL_FUNCTIONS.get(name, ()):
        if op.ARITY + len(OP_RULES[op].dsl_attrs) == argument_count:
            return op
    return None
