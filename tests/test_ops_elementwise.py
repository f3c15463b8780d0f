"""KeOps' elementwise functions (Sin, Clamp, IfElse, Max(a, b), ...) against the reference evaluator.

Each op is compiled once per (dtype, axis) and run on several (M, N); the kernel takes the Max
of the op over one layout of its operands' categories and the Min over another, so that every
output entry is the op's value at one (i, j) pair: no summation error hides or blurs the op's.
Random operands stay inside each op's domain; a second test feeds nan, +-inf, +-0 and the kinks.

Float32 tolerances: 1e-5 relative for every op, which the inputs make possible where a float32
rounding *inside* the lowering would otherwise flip a discontinuous result (ops applied to
variables directly see the exact inputs the reference sees, so Floor, Sign, Step, the
comparisons, Clamp, ClampInt, DiffClampInt and IfElse need no precautions):
- Round(x, d): x * 10^d is rounded to float32 before `round`, so a value within an ulp of a
  half may round the other way (an error of 10^-d). Inputs keep x * 10^d at least 0.05 away
  from halves (|x * 10^d| <= 500, so float32's error there is below 1e-4).
- Mod(x, n, d): (x - d) / n is rounded before `floor`, which flips near multiples of n. n is
  drawn from +-{1/2, 1, 2, 4}, d from multiples of 1/8, and x at least 1/80 away from the 1/8
  grid, so (x - d) / n stays at least 0.003 away from integers.
- Sin, Cos: arguments up to +-100; the libm functions reduce them exactly, and the reference
  sees the same float32 input, so no looser bound is needed.
The largest float32 error measured over these inputs is 1.2e-7 (Atan2, XLogX); float64: 1e-12.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from kir.builder import Reduction
from kir.dialect import elementwise as ew
from kir.errors import FormulaError
from kir.frontends.dsl import parse_formula
from kir.frontends.expr import Expr, apply, variable
from kir.kernel import Kernel, signature
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]
SIZES = [(1, 7), (7, 1000), (1000, 1)]

Sampler = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def uniform(low: float, high: float) -> Sampler:
    return lambda rng, shape: rng.uniform(low, high, shape)


def signed(low: float, high: float) -> Sampler:
    """Magnitudes in [low, high), either sign: away from 0."""
    return lambda rng, shape: rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def choice(values: list[float]) -> Sampler:
    """Values from a small set, so that ties and equalities happen."""
    return lambda rng, shape: rng.choice(values, shape)


def off_grid(step: float, count: int) -> Sampler:
    """(k + u) * step for |k| <= count and u in [0.05, 0.45] or [0.55, 0.95]: away from the grid
    of multiples of `step` and from its midpoints."""

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        k = rng.integers(-count, count + 1, shape)
        u = rng.uniform(0.05, 0.45, shape) + rng.choice([0.0, 0.5], shape)
        return (k + u) * step

    return sample


def mod_x(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # At least 1/80 away from the multiples of 1/8 (the grid that n Z + d lies on).
    return (rng.integers(-64, 65, shape) + rng.uniform(0.1, 0.9, shape)) / 8


@dataclass(frozen=True)
class Case:
    """An op, its DSL integer arguments, and a sampler per formula operand."""

    op: type
    samplers: tuple[Sampler, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    def __str__(self) -> str:
        return self.id or self.op.name


SMALL = choice([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
CASES = [
    Case(ew.RsqrtOp, (uniform(0.01, 100.0),)),
    Case(ew.InvOp, (signed(0.1, 10.0),)),
    Case(ew.XLogXOp, (uniform(0.01, 4.0),)),
    Case(ew.SinOp, (uniform(-100.0, 100.0),)),
    Case(ew.CosOp, (uniform(-100.0, 100.0),)),
    Case(ew.AsinOp, (uniform(-0.999, 0.999),)),
    Case(ew.AcosOp, (uniform(-0.999, 0.999),)),
    Case(ew.AtanOp, (uniform(-10.0, 10.0),)),
    Case(ew.Atan2Op, (uniform(-2.0, 2.0), uniform(-2.0, 2.0))),
    Case(ew.SinXDivXOp, (uniform(-10.0, 10.0),)),
    Case(ew.AbsOp, (uniform(-2.0, 2.0),)),
    Case(ew.SignOp, (uniform(-2.0, 2.0),)),
    Case(ew.StepOp, (uniform(-2.0, 2.0),)),
    Case(ew.ReluOp, (uniform(-2.0, 2.0),)),
    Case(ew.FloorOp, (uniform(-20.0, 20.0),)),
    Case(ew.RoundOp, (off_grid(1.0, 500),), {"decimals": 0}, "kir.round-0"),
    Case(ew.RoundOp, (off_grid(0.01, 500),), {"decimals": 2}, "kir.round-2"),
    Case(ew.RoundOp, (off_grid(10.0, 500),), {"decimals": -1}, "kir.round--1"),
    Case(ew.ClampIntOp, (uniform(-3.0, 4.0),), {"low": -1, "high": 2}),
    Case(ew.DiffClampIntOp, (uniform(-3.0, 4.0),), {"low": -1, "high": 2}),
    Case(ew.EqualOp, (SMALL, SMALL)),
    Case(ew.NotEqualOp, (SMALL, SMALL)),
    Case(ew.LessThanOp, (SMALL, SMALL)),
    Case(ew.LessOrEqualOp, (SMALL, SMALL)),
    Case(ew.MaximumOp, (uniform(-2.0, 2.0), uniform(-2.0, 2.0))),
    Case(ew.MinimumOp, (uniform(-2.0, 2.0), uniform(-2.0, 2.0))),
    Case(
        ew.ModOp,
        (mod_x, choice([-4.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 4.0]), choice(list(np.arange(-8, 9) / 8))),
    ),
    Case(ew.ClampOp, (uniform(-2.0, 2.0), uniform(-1.5, -0.2), uniform(0.2, 1.5))),
    Case(ew.IfElseOp, (uniform(-1.0, 1.0), uniform(-2.0, 2.0), uniform(-2.0, 2.0))),
]

# Two layouts of the operands' categories: each operand is an i-, a j- and a p-variable in turn,
# so the op runs both on loop-invariant values and inside the reduced loop.
LAYOUTS = {1: (("i",), ("j",)), 2: (("i", "j"), ("j", "i")), 3: (("i", "j", "p"), ("j", "p", "i"))}


def _kernel(case: Case, dims: list[int], axis: int) -> tuple[Kernel, list[tuple[str, int, Sampler]]]:
    """max over the first layout, min over the second; the arguments' (category, dim, sampler)."""
    args: list[tuple[str, int, Sampler]] = []
    formulas = []
    for layout in LAYOUTS[case.op.ARITY]:
        operands = []
        for category, dim, sampler in zip(layout, dims, case.samplers, strict=True):
            operands.append(variable(len(args), dim, category))
            args.append((category, dim, sampler))
        formulas.append(apply(case.op, *operands, **case.attrs))
    reductions = [Reduction(formulas[0], "max", axis), Reduction(formulas[1], "min", axis)]
    return Kernel(reductions, signature(formulas)), args


def _arrays(args: list, rng: np.random.Generator, size_i: int, size_j: int, dtype: str) -> list[np.ndarray]:
    rows = {"i": size_i, "j": size_j}
    return [
        sampler(rng, (dim,) if category == "p" else (rows[category], dim)).astype(dtype)
        for category, dim, sampler in args
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_op_matches_reference(case: Case, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(sum(map(ord, f"{case}/{axis}/{dtype}")))
    dim = int(rng.integers(1, 17))
    # Operands of dimension 1 broadcast against the others (unary ops take the full dimension).
    dims = [dim] if case.op.ARITY == 1 else [int(d) for d in rng.choice([1, dim], case.op.ARITY)]
    kernel, args = _kernel(case, dims, axis)
    for size_i, size_j in SIZES:
        check_against_reference(kernel, _arrays(args, rng, size_i, size_j, dtype), dtype)


# -- special values -------------------------------------------------------------------------------

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5]
KINKS: dict[str, list[float]] = {
    "kir.asin": [1.5, -1.5],
    "kir.acos": [1.5, -1.5],
    "kir.floor": [2.0, -2.0, 1e300],
    "kir.round-0": [1.5, -1.5, 0.49999999999999994, 2.4999999999999996, 1e300],
    "kir.round-2": [0.125, -0.125, 0.375, 1e300, 1e307],
    "kir.round--1": [25.0, -25.0, 15.0, 1e300],
    "kir.clampint": [-1.0, 2.0, 3.0, -3.0],
    "kir.diffclampint": [-1.0, 2.0, 3.0, -3.0],
    "kir.mod": [2.0, -3.0],
    "kir.clamp": [2.0],
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_special_values(case: Case) -> None:
    """Every combination of special values (and the op's kinks) for every operand, in float64."""
    values = np.array(SPECIALS + KINKS.get(str(case), []))
    grids = np.meshgrid(*[values] * case.op.ARITY, indexing="ij")
    operands = [variable(k, 1, "i") for k in range(case.op.ARITY)]
    # Times a j-variable equal to 1 (exact for every value): N = 1, so the Sum is the op's value.
    # (The reference evaluator only sees variables the formula uses, so the j-variable must be one.)
    one = variable(case.op.ARITY, 1, "j")
    kernel = Kernel.from_expr(apply(ew.MulOp, apply(case.op, *operands, **case.attrs), one), "Sum", 1)
    arrays = [g.reshape(-1, 1) for g in grids] + [np.ones((1, 1))]
    check_against_reference(kernel, arrays, "float64")


def test_special_value_decisions() -> None:
    """The documented choices at kinks and NaN, spelled out (the reference rules are the oracle
    of the other tests; this pins them to KeOps' C expressions)."""
    nan = np.nan
    x = np.array([nan, 0.0, -0.0, np.inf, -np.inf, -1.0, 2.0])
    expected = {
        "Sign(x)": [0, 0, 0, 1, -1, -1, 1],
        "Step(x)": [1, 1, 1, 1, 0, 0, 1],
        "ReLU(x)": [nan, 0, 0, np.inf, 0, 0, 2],
        "Rsqrt(x)": [nan, 0, 0, 0, nan, nan, 2**-0.5],
        "XLogX(x)": [nan, 0, 0, np.inf, nan, nan, 2 * np.log(2)],
        "SinXDivX(x)": [nan, 1, 1, nan, nan, np.sin(1.0), np.sin(2.0) / 2],
        "Abs(x)": [nan, 0, 0, np.inf, np.inf, 1, 2],
        "Inv(x)": [nan, np.inf, -np.inf, 0, 0, -1, 0.5],
        "ClampInt(x, -1, 1)": [nan, 0, 0, 1, -1, -1, 1],
        "DiffClampInt(x, -1, 1)": [1, 1, 1, 0, 0, 1, 0],
        "IfElse(x, b + 1, b - 1)": [-1, 1, 1, 1, -1, -1, 1],
        "Equal(x, x)": [0, 1, 1, 1, 1, 1, 1],
        "NotEqual(x, x)": [1, 0, 0, 0, 0, 0, 0],
        "LessThan(x, b)": [0, 0, 0, 0, 1, 1, 0],
        "LessOrEqual(x, b)": [0, 1, 1, 0, 1, 1, 0],
        "Max(x, b)": [nan, 0, 0, np.inf, 0, 0, 2],
        "Min(b, x)": [nan, 0, 0, 0, -np.inf, -1, 0],
        "Round(x, 0)": [nan, 0, 0, np.inf, -np.inf, -1, 2],
    }
    for formula, values in expected.items():
        kernel = Kernel.from_formula(formula, ["x = Vi(1)", "b = Vj(1)"], "Sum", 1)
        result = kernel(x.reshape(-1, 1), np.zeros((1, 1)))
        np.testing.assert_allclose(result[:, 0], np.array(values, dtype=float), rtol=1e-15, err_msg=formula)


def test_round_halves_away_from_zero() -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994])
    kernel = Kernel.from_formula("Round(x, 0)", ["x = Vi(1)", "b = Vj(1)"], "Sum", 1)
    np.testing.assert_array_equal(kernel(x.reshape(-1, 1), np.zeros((1, 1)))[:, 0], [1, 2, 3, -1, -3, 0])


# -- the DSL --------------------------------------------------------------------------------------

ALIASES = ["x = Vi(3)", "y = Vj(3)", "z = Vj(1)"]
SPELLINGS = {
    "Rsqrt(x)": (ew.RsqrtOp, {}),
    "Inv(x)": (ew.InvOp, {}),
    "XLogX(x)": (ew.XLogXOp, {}),
    "Sin(x)": (ew.SinOp, {}),
    "Cos(x)": (ew.CosOp, {}),
    "Asin(x)": (ew.AsinOp, {}),
    "Acos(x)": (ew.AcosOp, {}),
    "Atan(x)": (ew.AtanOp, {}),
    "Atan2(x, y)": (ew.Atan2Op, {}),
    "SinXDivX(x)": (ew.SinXDivXOp, {}),
    "Abs(x)": (ew.AbsOp, {}),
    "Sign(x)": (ew.SignOp, {}),
    "Step(x)": (ew.StepOp, {}),
    "ReLU(x)": (ew.ReluOp, {}),
    "Floor(x)": (ew.FloorOp, {}),
    "Round(x, 2)": (ew.RoundOp, {"decimals": 2}),
    "Round(x, -1)": (ew.RoundOp, {"decimals": -1}),
    "Mod(x, y, z)": (ew.ModOp, {}),
    "Clamp(x, z, y)": (ew.ClampOp, {}),
    "ClampInt(x, -1, 2)": (ew.ClampIntOp, {"low": -1, "high": 2}),
    "DiffClampInt(x, -1, 2)": (ew.DiffClampIntOp, {"low": -1, "high": 2}),
    "IfElse(x, y, z)": (ew.IfElseOp, {}),
    "Equal(x, y)": (ew.EqualOp, {}),
    "NotEqual(x, y)": (ew.NotEqualOp, {}),
    "LessThan(x, y)": (ew.LessThanOp, {}),
    "LessOrEqual(x, y)": (ew.LessOrEqualOp, {}),
    "Max(x, y)": (ew.MaximumOp, {}),
    "Min(x, z)": (ew.MinimumOp, {}),
}


def test_every_added_op_has_a_spelling() -> None:
    spelled = {op for op, _ in SPELLINGS.values()}
    tested = {case.op for case in CASES}
    assert spelled == tested
    assert tested <= set(ew.OPS)


@pytest.mark.parametrize("formula", list(SPELLINGS))
def test_dsl_spelling(formula: str) -> None:
    op, attrs = SPELLINGS[formula]
    parsed = parse_formula(formula, ALIASES)
    assert parsed.op is op
    assert parsed.attributes == attrs
    assert parsed.dim == 3
    aliases = {"x": variable(0, 3, "i"), "y": variable(1, 3, "j"), "z": variable(2, 1, "j")}
    names = formula[formula.index("(") + 1 : -1].replace(" ", "").split(",")
    assert parsed.args == tuple(aliases[n] for n in names if n in aliases)


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("Atan2(x, w)", "kir.atan2: dimensions 3 and 2 do not broadcast"),
        ("Clamp(x, z, w)", "kir.clamp: dimensions 3 and 1 and 2 do not broadcast"),
        ("Round(x, 39)", "kir.round: the number of decimals must be between -38 and 38, got 39"),
        ("Round(x, y)", "must be an integer"),
        ("ClampInt(x, 1)", "ClampInt takes 3 arguments"),
        ("Mod(x, y)", "Mod takes 3 arguments"),
    ],
)
def test_dsl_errors(formula: str, fragment: str) -> None:
    with pytest.raises(FormulaError) as error:
        parse_formula(formula, [*ALIASES, "w = Vj(2)"])
    assert fragment in error.value.message


def test_broadcast_result_dim() -> None:
    x, z = variable(0, 3, "i"), variable(1, 1, "j")
    assert apply(ew.IfElseOp, z, x, z).dim == 3
    assert apply(ew.MaximumOp, z, z).dim == 1
    expr: Expr = apply(ew.ModOp, z, x, z)
    assert (expr.dim, expr.category) == (3, "ij")
