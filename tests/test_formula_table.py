"""docs/formulas.md is the rendering of the op tables, and every example in it runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kir
from kir.formula_table import EXAMPLES, render

DOC = Path(__file__).resolve().parents[1] / "docs" / "formulas.md"


def test_docs_formulas_is_up_to_date() -> None:
    stale = "docs/formulas.md is stale: run `python -m kir.formula_table > docs/formulas.md`"
    assert DOC.read_text() == render(), stale


@pytest.mark.parametrize("formula, aliases, reduction, options", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_parses_and_runs(
    formula: str, aliases: list[str], reduction: str, options: dict
) -> None:
    kernel = kir.compile(formula, aliases, reduction, **options)
    rng = np.random.default_rng(0)
    arrays = []
    for spec in kernel.args:
        shape = {"i": (5, spec.dim), "j": (7, spec.dim), "p": (spec.dim,)}[spec.category]
        arrays.append(rng.random(shape))
    results = kernel(*arrays)
    for result in results if isinstance(results, tuple) else (results,):
        assert result.shape[0] == 5 and np.all(np.isfinite(result))
