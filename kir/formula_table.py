"""docs/formulas.md, rendered from the op and reduction tables: `python -m kir.formula_table`.

The document is generated so that it cannot drift from the code: tests/test_formula_table.py
checks that docs/formulas.md is exactly what this module renders, and runs every example.
"""

from __future__ import annotations

import inspect

from kir.dialect.core import REDUCTIONS
from kir.reductions import KEOPS_REDUCTIONS
from kir.registry import DSL_FUNCTIONS, OP_RULES

KEOPS_OPS: dict[str, tuple[str, ...]] = {
    "elementwise": (
        "Minus Add Subtract Mult Divide Square Sqrt Rsqrt Inv IntInv Exp Log XLogX Sin Cos Asin Acos Atan "
        "Atan2 SinXDivX Abs Sign Step ReLU Floor Round Mod Pow Powf Clamp ClampInt DiffClampInt IfElse "
        "Equal NotEqual LessThan LessOrEqual Max Min"
    ).split(),
    "vector": (
        "Sum SumT Max Min ArgMax ArgMin Norm2 SqNorm2 Normalize Scalprod SqDist WeightedSqNorm "
        "WeightedSqDist SqNormDiag SqNormIso SymSqNorm Elem ElemT Extract ExtractT Concat OneHot BSpline "
        "SoftDTW_SqDist"
    ).split(),
    "matrix": "MatVecMult VecMatMult TensorProd TensorDot Kron".split(),
    "autodiff": "Grad Diff GradMatrix Divergence Laplacian".split(),
    "constants and variables": "IntCst RatCst Zero Var Vi Vj Pm".split(),
    "complex": (
        "ComplexAdd ComplexSubtract ComplexMult ComplexDivide ComplexExp ComplexExp1j ComplexAbs "
        "ComplexSquareAbs ComplexAngle ComplexReal ComplexImag Conj Real2Complex Imag2Complex "
        "ComplexRealScal ComplexSum ComplexSumT"
    ).split(),
}
"""KeOps 2.3's formula language, by group (the list kir is measured against)."""

PARSER_FUNCTIONS = {
    "IntCst": "a constant: `IntCst(n)`",
    "IntInv": "the constant 1/n: `IntInv(n)`",
    "RatCst": "the constant p/q: `RatCst(p, q)`",
    "Zero": "a zero vector: `Zero(dim)`",
    "Var": "argument `Var(index, dim, cat)`, cat 0 = i, 1 = j, 2 = parameter",
    "Vi": "i-variable `Vi(dim)` in an alias, `Vi(index, dim)` inline",
    "Vj": "j-variable `Vj(dim)` / `Vj(index, dim)`",
    "Pm": "parameter `Pm(dim)` / `Pm(index, dim)`",
    "GradMatrix": "`GradMatrix(F, x)`: the gradients of F's entries, concatenated (dim x · dim F)",
    "Divergence": "`Divergence(F, x)`: sum_k dF_k/dx_k",
    "Laplacian": "`Laplacian(F, x)`: Divergence(Grad(F, x, 1), x) of a scalar F",
}
"""DSL functions the parser handles itself (variables and constants)."""

PENDING: dict[str, str] = {}
"""KeOps names not in kir yet, and where they will come from."""

EXAMPLES: list[tuple[str, list[str], str, dict]] = [
    ("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", {}),
    ("Exp(-p * SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "p = Pm(1)"], "Sum", {}),
    ("Exp(-Sqrt(SqDist(x, y))) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"], "Sum", {}),
    ("IntInv(1) / (IntCst(1) + SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", {}),
    ("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "ArgKMin", {"opt_arg": 5}),
    ("SqDist(x, y)", ["x = Vi(16)", "y = Vj(16)"], "Min_ArgMin", {}),
    ("(x | y) - SqNorm2(y) / 2", ["x = Vi(3)", "y = Vj(3)"], "LogSumExp", {}),
    ("-SqDist(x, y) / 2", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], "SumSoftMaxWeight", {"formula2": "b"}),
    ("Exp(-SqDist(x, y)) * (x - y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", {}),
]
"""Formulas shown in the document; each one parses and runs (tests/test_formula_table.py)."""


def _doc(op: type) -> str:
    return " ".join(inspect.getdoc(op).split()).replace("|", "\\|")


def _builder(name: str) -> str:
    return f"`kir.{name.lower()}`"


def render() -> str:
    """The Markdown of docs/formulas.md."""
    lines = [
        "# The formula language",
        "",
        "Generated from kir's op and reduction tables by `python -m kir.formula_table`; do not edit.",
        "Every op is a dialect op (`kir/dialect/`) with a reference rule and a lowering (`kir/rules/`),",
        "found through one table (`kir/registry.py`). Binary and ternary elementwise ops broadcast",
        "operands of dimension 1 (KeOps' rule). Every op has a derivative rule (docs/autodiff.md); its",
        "values at kinks are in the rule's comments (kir/rules/<group>.py).",
        "",
    ]
    lines += _coverage()
    lines += ["", "## Ops", "", "| DSL | builder | IR op | meaning and shape | derivative |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for name in sorted(DSL_FUNCTIONS, key=str.lower):
        for op in DSL_FUNCTIONS[name]:
            arguments = ["f"] * op.ARITY + list(OP_RULES[op].dsl_attrs)
            spelled = f"`{name}({', '.join(arguments)})`"
            derivative = "rule (`vjp`)" if OP_RULES[op].vjp is not None else "—"
            lines.append(f"| {spelled} | {_builder(name)} | `{op.name}` | {_doc(op)} | {derivative} |")
    lines += [
        "",
        "Operators: `a + b` (Add), `a - b` (Subtract), `a * b` (Mult), `a / b` (Divide),",
        "`-a` (Minus), `a | b` (Scalprod), `a ** n` (Square for 2, Pow for another integer, Sqrt",
        "for 0.5, else Powf); numbers are constants. Python's precedence applies, as KeOps evaluates",
        "formula strings.",
    ]
    lines += ["", "Handled by the parser:", ""]
    lines += [f"- `{name}`: {text}" for name, text in PARSER_FUNCTIONS.items()]
    lines += ["", "## Reductions", ""]
    lines += ["| Genred name | kir reductions (fused) | options | output row | dtype |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for name, kinds in KEOPS_REDUCTIONS.items():
        shapes = [REDUCTIONS[k] for k in kinds]
        needs = {"opt_arg = K" for s in shapes if s.needs_k} | {"formula2 = G" for s in shapes if s.weighted}
        options = ", ".join(sorted(needs))
        outputs = " and ".join(_output(k) for k in kinds)
        dtype = " and ".join("int64" if s.index_output else "input dtype" for s in shapes)
        spelled = ", ".join(f"`{k}`" for k in kinds)
        lines.append(f"| `{name}` | {spelled} | {options or '—'} | {outputs} | {dtype} |")
    lines += ["", "`LogSumExp` with `formula2 = G` computes `logsumexp_weight`: log(sum_j exp(F) G)."]
    lines += ["Semantics of empty inputs, NaN, infinities and ties: docs/semantics.md.", ""]
    lines += ["## Examples", "", "Each runs in the tests (formula; aliases; reduction; options):", ""]
    lines += ["```text"]
    for formula, aliases, reduction, options in EXAMPLES:
        extra = "; " + ", ".join(f"{k}={v}" for k, v in options.items()) if options else ""
        lines.append(f"{formula}; {', '.join(aliases)}; {reduction}{extra}")
    lines += ["```", ""]
    return "\n".join(lines)


def _output(kind: str) -> str:
    rule = {
        "sum": "D",
        "zero": "D",
        "min": "D",
        "max": "D",
        "argmin": "D",
        "argmax": "D",
        "kmin": "K·D (rank r, entry d at r·D + d)",
        "argkmin": "K·D",
        "logsumexp": "D",
        "max_sumshiftexp": "2·D (max, then sum)",
        "logsumexp_weight": "E (dim of G)",
        "max_sumshiftexpweight": "1 + E (max, then sums)",
        "sumsoftmaxweight": "E (dim of G)",
    }
    return rule[kind]


def _coverage() -> list[str]:
    lines = ["## Coverage of KeOps 2.3", "", "| group | KeOps ops | in kir | missing |"]
    lines += ["| --- | --- | --- | --- |"]
    covered_total = total = 0
    for group, names in KEOPS_OPS.items():
        have = [n for n in names if n in DSL_FUNCTIONS or n in PARSER_FUNCTIONS]
        missing = [n for n in names if n not in have]
        covered_total, total = covered_total + len(have), total + len(names)
        lines.append(f"| {group} | {len(names)} | {len(have)} | {', '.join(missing) or '—'} |")
    lines.append(f"| **all** | {total} | {covered_total} | |")
    pending = [f"`{name}`: {where}" for name, where in PENDING.items() if name not in DSL_FUNCTIONS]
    if pending:
        lines += ["", "Not yet: " + "; ".join(pending) + "."]
    extra = sorted(n for n in DSL_FUNCTIONS if not any(n in names for names in KEOPS_OPS.values()))
    if extra:
        lines += ["", f"Beyond KeOps' list: {', '.join(extra)}."]
    return lines


if __name__ == "__main__":
    print(render(), end="")
