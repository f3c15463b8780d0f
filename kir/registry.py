"""One table of what each formula op means: its DSL spelling, reference rule and lowering.

A new op is a dialect op (in a group module of kir/dialect/, with its shape rule) plus one
`OpRule` in the matching module of kir/rules/. The string DSL, the reference evaluator and every
back-end find the op through this table; later facets (the derivative rule) join `OpRule` as
fields, not as if-chains elsewhere. Variables and constants are not in the table: every
consumer handles them itself.
"""

from __future__ import annotations

from xdsl.ir import Operation

from kir.rules import complex, elementwise, matrix, vector
from kir.rules.common import Entries, OpRule

__all__ = ["DSL_FUNCTIONS", "OP_RULES", "Entries", "OpRule", "rule_for"]

OP_RULES: dict[type[Operation], OpRule] = {
    **elementwise.RULES,
    **vector.RULES,
    **matrix.RULES,
    **complex.RULES,
}


def rule_for(op: type[Operation] | Operation) -> OpRule:
    """The rule of an op class or instance; a clear error for an op the table lacks."""
    op_class = op if isinstance(op, type) else type(op)
    try:
        return OP_RULES[op_class]
    except KeyError:
        raise NotImplementedError(f"no rule registered for {op_class.name}") from None


DSL_FUNCTIONS: dict[str, type[Operation]] = {
    rule.dsl: op for op, rule in OP_RULES.items() if rule.dsl is not None
}
"""Function names of the string DSL that map one-to-one onto a dialect op."""
