"""Rules of the vector ops (kir/dialect/vector.py)."""

from __future__ import annotations

import numpy as np

from kir.dialect import vector as ops
from kir.emitter import Emitter
from kir.rules.common import Entries, OpRule, keep_dims_sum, sum_entries


def _lower_sqdist(em: Emitter, a: Entries, b: Entries) -> Entries:
    differences = [em.sub(u, v) for u, v in zip(a, b, strict=True)]
    return [sum_entries(em, [em.mul(d, d) for d in differences])]


def _lower_scalprod(em: Emitter, a: Entries, b: Entries) -> Entries:
    return [sum_entries(em, [em.mul(u, v) for u, v in zip(a, b, strict=True)])]


RULES: dict[type, OpRule] = {
    ops.SumOp: OpRule("Sum", keep_dims_sum, lambda em, x: [sum_entries(em, x)]),
    ops.ScalprodOp: OpRule("Scalprod", lambda a, b: keep_dims_sum(a * b), _lower_scalprod),
    ops.SqDistOp: OpRule("SqDist", lambda a, b: keep_dims_sum(np.square(a - b)), _lower_sqdist),
}
