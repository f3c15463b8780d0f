"""kir-simplify: the same values (NaN, infinities and signed zeros included), fewer ops."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.passes import PassPipeline

from kir.context import kir_context
from kir.dialect import formula as ops
from kir.dialect.base import FormulaOp
from kir.frontends.expr import Expr, apply, constant, variable
from kir.kernel import Kernel
from kir.passes.simplify import Simplify
from kir.reference import evaluate
from kir.registry import OP_RULES
from tests.conftest import check_against_reference

M, N, D = 5, 4, 3
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.5, np.inf, -np.inf, np.nan, 1e300, -1e-300, 0.5])


def simplified(module: ModuleOp, fast_math: bool = False) -> ModuleOp:
    Simplify(fast_math=fast_math).apply(kir_context(), module)
    module.verify()
    return module


def count(module: ModuleOp, op_type: type | None = None) -> int:
    """Formula ops (variables and constants included, reductions not) of `op_type`, or all."""
    kinds = (op_type,) if op_type else (FormulaOp, ops.VarOp, ops.ConstantOp)
    return sum(isinstance(op, kinds) for op in module.walk())


def arrays(rng: np.random.Generator) -> list[np.ndarray]:
    """x (i), y (j), p (parameter), drawn from ordinary and special values."""
    return [rng.choice(SPECIAL, size=shape) for shape in ((M, D), (N, D), (D,))]


def assert_same(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    for e, a in zip(expected, actual, strict=True):
        np.testing.assert_array_equal(e, a)  # NaN where NaN
        numbers = ~np.isnan(e)
        assert np.array_equal(np.signbit(e[numbers]), np.signbit(a[numbers]))  # -0 stays -0


def check_preserved(formula: Expr, seed: int = 0, fast_math: bool = False) -> ModuleOp:
    """The kernel of `formula` gives the same float64 values with and without the pass."""
    kernel = kernel_of(formula)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        data = arrays(rng)
        expected = evaluate(kernel.module("float64"), data, (M, N))
        after = simplified(kernel.module("float64"), fast_math)
        assert_same(expected, evaluate(after, data, (M, N)))
    return after


X, Y, P = variable(0, D, "i"), variable(1, D, "j"), variable(2, D, "p")


def kernel_of(formula: Expr) -> Kernel:
    """Sum over j of `formula`, with x, y and p declared whether it uses them or not."""
    return Kernel.from_expr(formula, "Sum", 1, declared=[X, Y, P])


ONE, MINUS_ONE, ZERO, MINUS_ZERO = constant(1.0), constant(-1.0), constant(0.0), constant(-0.0)

HAND_PICKED = {
    "mul_one": apply(ops.MulOp, apply(ops.MulOp, X, ONE), apply(ops.MulOp, ONE, Y)),
    "mul_minus_one": apply(ops.MulOp, MINUS_ONE, apply(ops.MulOp, X, MINUS_ONE)),
    "add_zero": apply(ops.AddOp, apply(ops.AddOp, X, ZERO), apply(ops.AddOp, MINUS_ZERO, Y)),
    "sub_zero": apply(ops.SubOp, apply(ops.SubOp, X, ZERO), apply(ops.SubOp, Y, ZERO)),
    "div_one": apply(ops.DivOp, apply(ops.DivOp, X, ONE), apply(ops.DivOp, ONE, Y)),
    "neg_neg": apply(ops.NegOp, apply(ops.NegOp, apply(ops.NegOp, X))),
    "mul_zero": apply(ops.AddOp, apply(ops.MulOp, X, ZERO), apply(ops.MulOp, ZERO, P)),
    "sub_self": apply(ops.AddOp, apply(ops.SubOp, X, X), apply(ops.SubOp, P, P)),
    "pow": apply(
        ops.AddOp,
        apply(ops.AddOp, apply(ops.PowOp, X, exponent=0), apply(ops.PowOp, Y, exponent=1)),
        apply(ops.AddOp, apply(ops.PowOp, X, exponent=2), apply(ops.PowOp, P, exponent=0)),
    ),
    "powf": apply(
        ops.AddOp,
        apply(ops.AddOp, apply(ops.PowfOp, X, constant(1.0)), apply(ops.PowfOp, Y, constant(2.0))),
        apply(ops.PowfOp, X, constant(0.5)),
    ),
    "exp_log": apply(ops.AddOp, apply(ops.ExpOp, apply(ops.LogOp, X)), apply(ops.LogOp, apply(ops.ExpOp, Y))),
    "folding": apply(
        ops.MulOp,
        X,
        apply(
            ops.AddOp,
            apply(ops.SqrtOp, constant((2.0, 3.0, 5.0))),
            apply(ops.SumOp, apply(ops.ExpOp, constant((1.0, -1.0, 0.5)))),
        ),
    ),
    "not_folded": apply(
        ops.AddOp,
        apply(ops.AddOp, X, apply(ops.LogOp, constant(0.0))),  # -inf: kept
        apply(ops.ExpOp, constant(1000.0)),  # overflows: kept
    ),
    "nan_not_folded": apply(ops.MulOp, X, apply(ops.SqrtOp, constant(-1.0))),
    "swapped_operands": apply(
        ops.AddOp,
        apply(ops.AddOp, apply(ops.MulOp, P, X), apply(ops.MulOp, X, P)),
        apply(
            ops.AddOp,
            apply(ops.AddOp, apply(ops.SqDistOp, Y, X), apply(ops.SqDistOp, X, Y)),
            apply(ops.AddOp, apply(ops.ScalprodOp, Y, X), apply(ops.ScalprodOp, X, Y)),
        ),
    ),
    "norms": apply(
        ops.AddOp,
        apply(ops.AddOp, apply(ops.Norm2Op, apply(ops.SubOp, Y, X)), apply(ops.SqNorm2Op, X - Y)),
        apply(ops.MulOp, apply(ops.Norm2Op, X), apply(ops.SqDistOp, X, Y)),
    ),
}


@pytest.mark.parametrize("name", sorted(HAND_PICKED))
def test_hand_picked_formulas_keep_their_values(name: str) -> None:
    check_preserved(HAND_PICKED[name], seed=len(name))


UNARY = [ops.NegOp, ops.ExpOp, ops.LogOp, ops.SqrtOp, ops.SquareOp, ops.AbsOp, ops.SinOp, ops.InvOp]
BINARY = [ops.AddOp, ops.SubOp, ops.MulOp, ops.DivOp, ops.PowfOp, ops.MaximumOp]
CONSTANTS = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 3.0]


def random_formula(rng: np.random.Generator, depth: int) -> Expr:
    """A formula of x, y, p and constants chosen to hit the identities often."""
    if depth == 0 or rng.random() < 0.2:
        leaves = [X, Y, P, constant(float(rng.choice(CONSTANTS)))]
        return leaves[int(rng.integers(len(leaves)))]
    kind = rng.random()
    if kind < 0.3:
        return apply(UNARY[int(rng.integers(len(UNARY)))], random_formula(rng, depth - 1))
    if kind < 0.4:
        return apply(ops.PowOp, random_formula(rng, depth - 1), exponent=int(rng.integers(-1, 4)))
    a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
    if rng.random() < 0.5:  # one operand a constant: the identities' shape
        b = constant(float(rng.choice(CONSTANTS)))
        a, b = (b, a) if rng.random() < 0.5 else (a, b)
    return apply(BINARY[int(rng.integers(len(BINARY)))], a, b)


@pytest.mark.parametrize("seed", range(40))
def test_random_formulas_keep_their_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    formula = random_formula(rng, 4)
    if formula.category != "ij":  # a reduction over j of the pairs keeps every op alive
        formula = apply(ops.AddOp, formula, apply(ops.MulOp, X, Y))
    check_preserved(formula, seed)


def test_removes_identities() -> None:
    for name in ("mul_one", "sub_zero", "neg_neg"):
        module = simplified(kernel_of(HAND_PICKED[name]).module("float64"))
        assert count(module, ops.ConstantOp) == 0, name
    div_one = simplified(kernel_of(HAND_PICKED["div_one"]).module("float64"))
    assert count(div_one, ops.DivOp) == 2  # x / 1 went, 1 / y stays
    add_zero = simplified(kernel_of(HAND_PICKED["add_zero"]).module("float64"))
    assert count(add_zero, ops.AddOp) == 2  # x + 0 stays (wrong at x = -0); -0 + y goes
    # The front-end interns constant(-0.0) as constant(0.0) (equal as floats): written as IR.
    minus_zero = simplified(Parser(kir_context(), MINUS_ZERO_PLUS_Y).parse_module())
    assert count(minus_zero, ops.AddOp) == 0
    assert count(simplified(kernel_of(HAND_PICKED["neg_neg"]).module("float64")), ops.NegOp) == 1
    mul_minus_one = simplified(kernel_of(HAND_PICKED["mul_minus_one"]).module("float64"))
    assert count(mul_minus_one, ops.MulOp) == 0 and count(mul_minus_one, ops.NegOp) == 0  # -(-x)


MINUS_ZERO_PLUS_Y = """
kir.kernel @k {
  %y = kir.var 0 : !kir.vec<3xf64, j>
  %z = kir.constant [-0.0] : !kir.vec<1xf64, p>
  %s = kir.add %z, %y : !kir.vec<1xf64, p>, !kir.vec<3xf64, j> -> !kir.vec<3xf64, j>
  %r = kir.reduce sum over j %s : !kir.vec<3xf64, j> -> !kir.vec<3xf64, i>
  kir.output %r : !kir.vec<3xf64, i>
}
"""


def test_pow_rewrites() -> None:
    module = simplified(kernel_of(HAND_PICKED["pow"]).module("float64"))
    # Pow(x, 0) of an i-variable stays (its 1 would be a p constant); Pow(p, 0) becomes 1.
    assert count(module, ops.PowOp) == 1
    assert count(module, ops.SquareOp) == 1
    powf = simplified(kernel_of(HAND_PICKED["powf"]).module("float64"))
    assert count(powf, ops.PowfOp) == 1 and count(powf, ops.SquareOp) == 1  # 0.5 needs fast-math
    fast = check_preserved(apply(ops.PowfOp, apply(ops.ExpOp, X), constant(0.5)), fast_math=True)
    assert count(fast, ops.PowfOp) == 0 and count(fast, ops.SqrtOp) == 1


def test_constant_folding() -> None:
    module = simplified(kernel_of(HAND_PICKED["folding"]).module("float64"))
    assert count(module) == 3  # x, the folded constant, the product
    (folded,) = [op for op in module.walk() if isinstance(op, ops.ConstantOp)]
    expected = np.sqrt([2.0, 3.0, 5.0]) + np.exp([1.0, -1.0, 0.5]).sum()
    np.testing.assert_array_equal(folded.values, expected)
    kept = simplified(kernel_of(HAND_PICKED["not_folded"]).module("float64"))
    assert count(kept, ops.LogOp) == 1 and count(kept, ops.ExpOp) == 1
    nan = simplified(kernel_of(HAND_PICKED["nan_not_folded"]).module("float64"))
    assert count(nan, ops.SqrtOp) == 1


def test_float32_folding_rounds() -> None:
    formula = apply(ops.MulOp, X, apply(ops.DivOp, constant(1.0), constant(3.0)))
    module = simplified(kernel_of(formula).module("float32"))
    (folded,) = [op for op in module.walk() if isinstance(op, ops.ConstantOp)]
    assert folded.values == (float(np.float32(1.0 / 3.0)),)


def test_fast_math_only_rewrites() -> None:
    for name, op_type in (("mul_zero", ops.MulOp), ("sub_self", ops.SubOp), ("exp_log", ops.ExpOp)):
        safe = simplified(kernel_of(HAND_PICKED[name]).module("float64"))
        fast = simplified(kernel_of(HAND_PICKED[name]).module("float64"), fast_math=True)
        assert count(fast, op_type) < count(safe, op_type), name
    # 0 * p -> 0 and p - p -> 0; on the i-variable x the zero would change the category: kept.
    fast = simplified(kernel_of(HAND_PICKED["mul_zero"]).module("float64"), fast_math=True)
    assert count(fast, ops.MulOp) == 1
    fast = simplified(kernel_of(HAND_PICKED["exp_log"]).module("float64"), fast_math=True)
    assert count(fast, ops.ExpOp) == 0 and count(fast, ops.LogOp) == 0


def test_gaussian_second_derivative_shrinks() -> None:
    kernel = Kernel.from_formula(
        "Grad(Grad(Exp(-SqDist(x,y)), x, IntCst(1)), x, f)", ["x=Vi(3)", "y=Vj(3)", "f=Vi(3)"]
    )
    from kir.pipeline import run_passes

    plain = run_passes(kernel.module("float64"), ["kir-autodiff", "cse", "dce"])
    module = run_passes(kernel.module("float64"), ["kir-autodiff"])
    simplified(module)
    run_passes(module, ["cse", "dce"])
    assert (str(plain).count(" = kir."), str(module).count(" = kir.")) == (23, 20)
    rng = np.random.default_rng(1)
    data = [rng.normal(size=(M, 3)), rng.normal(size=(N, 3)), rng.normal(size=(M, 3))]
    assert_same(evaluate(plain, data), evaluate(module, data))


def test_fast_math_option_spelling() -> None:
    pipeline = PassPipeline.parse_spec({"kir-simplify": lambda: Simplify}, "kir-simplify{fast-math=true}")
    assert pipeline.passes == (Simplify(fast_math=True),)


def test_minus_zero_is_its_own_constant_and_subtracting_it_stays() -> None:
    """y - (-0) is y + 0, wrong at y = -0: the pass keeps it (and -0.0 is not +0.0)."""
    assert MINUS_ZERO is not ZERO
    module = simplified(kernel_of(apply(ops.SubOp, Y, MINUS_ZERO)).module("float64"))
    assert count(module, ops.SubOp) == 1


GAUSSIAN_PLUS_LAPLACE = "Exp(-SqDist(x,y)) + Exp(-Norm2(y-x))"


def formula_level(kernel: Kernel, passes: list[str] | None = None) -> ModuleOp:
    """The kernel's float64 module after the pipeline's formula passes (or `passes`)."""
    from kir.pipeline import formula_passes, run_passes

    return run_passes(kernel.module("float64"), formula_passes() if passes is None else passes)


def test_swapped_operands_merge_after_cse() -> None:
    module = formula_level(kernel_of(HAND_PICKED["swapped_operands"]))
    # P * X and X * P, SqDist(y, x) and SqDist(x, y), <y, x> and <x, y>: one of each.
    kinds = (ops.MulOp, ops.SqDistOp, ops.ScalprodOp)
    assert [count(module, kind) for kind in kinds] == [1, 1, 1]
    unsorted = formula_level(kernel_of(HAND_PICKED["swapped_operands"]), ["cse", "dce"])
    assert [count(unsorted, kind) for kind in kinds] == [2, 2, 2]


def test_norms_become_squared_distances() -> None:
    module = formula_level(kernel_of(HAND_PICKED["norms"]))
    # Norm2(y - x), SqNorm2(x - y) and SqDist(x, y): one squared distance; Norm2(x) = Sqrt(SqNorm2(x)).
    assert count(module, ops.SqDistOp) == 1 and count(module, ops.SubOp) == 0
    assert count(module, ops.Norm2Op) == 0 and count(module, ops.SqNorm2Op) == 1
    assert count(module, ops.SqrtOp) == 2


def test_sqnorm2_of_broadcast_difference_stays() -> None:
    scalar = variable(1, 1, "j")
    formula = apply(ops.SqNorm2Op, X - scalar)  # dimension 3 minus dimension 1: not a SqDist
    module = simplified(Kernel.from_expr(formula, "Sum", 1, declared=[X, scalar]).module("float64"))
    assert count(module, ops.SqNorm2Op) == 1 and count(module, ops.SqDistOp) == 0


def test_gaussian_plus_laplace_computes_one_squared_distance() -> None:
    kernel = Kernel.from_formula(GAUSSIAN_PLUS_LAPLACE, ["x=Vi(3)", "y=Vj(3)"])
    plain = formula_level(kernel, ["kir-autodiff", "cse", "dce"])
    assert (count(plain, ops.SqDistOp), count(plain, ops.Norm2Op), count(plain, ops.SubOp)) == (1, 1, 1)
    module = formula_level(kernel)
    assert (count(module, ops.SqDistOp), count(module, ops.Norm2Op), count(module, ops.SubOp)) == (1, 0, 0)
    assert count(module) == count(plain) - 1  # Norm2 and Sub go, a Sqrt comes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "formula",
    [GAUSSIAN_PLUS_LAPLACE, "Norm2(x-y) * SqNorm2(y-x) + (y|x) * (x|y) + Min(x, y) * Max(y, x)"],
)
def test_compiled_kernels_agree_with_and_without_the_rewrites(
    dtype: str, formula: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rewrites are exact: the compiled kernels give the same bits, NaN and signed zeros included."""
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(M, 3)), rng.normal(size=(N, 3))
    y[0] = x[0]  # a zero distance: Sqrt(0)
    x[1, 0], y[1, 1], x[2] = np.inf, -0.0, 0.0
    x[3, 2] = np.nan  # in x: a NaN in y would reach every row of the sum over j
    arrays = [x.astype(dtype), y.astype(dtype)]
    aliases = ["x=Vi(3)", "y=Vj(3)"]
    rewritten = Kernel.from_formula(formula, aliases, dtype=dtype)
    result = check_against_reference(rewritten, arrays, dtype)
    import kir.kernel

    # `rewritten` is compiled already; `plain` is built without kir-simplify (nothing else in
    # these formulas for it to do).
    monkeypatch.setattr(kir.kernel, "formula_passes", lambda: ["kir-autodiff", "cse", "dce"])
    plain = Kernel.from_formula(formula, aliases, dtype=dtype)
    expected = plain(*arrays)
    np.testing.assert_array_equal(expected, result)
    assert np.array_equal(np.signbit(expected), np.signbit(result))
    assert np.isnan(result).any() and np.isfinite(result).any()


def test_norm2_kept_while_derivatives_are_pending() -> None:
    """Norm2'(0) = 0, Sqrt(SqNorm2)'(0) = NaN: kir-simplify before kir-autodiff keeps Norm2."""
    formula = apply(ops.GradOp, apply(ops.Norm2Op, X - Y), X, constant(1.0))
    module = simplified(kernel_of(formula).module("float64"))
    assert count(module, ops.Norm2Op) == 1 and count(module, ops.SqDistOp) == 0
    data = [np.zeros((M, D)), np.zeros((N, D)), np.ones(D)]
    (gradient,) = evaluate(module, data, (M, N))
    np.testing.assert_array_equal(gradient, np.zeros((M, D)))
    # After kir-autodiff, the pipeline's order, the norms become squared distances.
    assert count(formula_level(kernel_of(formula)), ops.Norm2Op) == 0


def test_max_and_min_keep_their_operand_order() -> None:
    """Max(+0, -0) = +0 but Max(-0, +0) = -0 in the lowering (and the reverse in NumPy's
    reference, which returns b on ties): not reordered."""
    zero, minus_zero = np.zeros((1, 1, 1)), np.full((1, 1, 1), -0.0)
    for op_type in (ops.MaximumOp, ops.MinimumOp):
        reference = OP_RULES[op_type].reference
        assert np.signbit(reference(zero, minus_zero)) != np.signbit(reference(minus_zero, zero))
    formula = apply(ops.AddOp, apply(ops.MaximumOp, Y, X), apply(ops.MinimumOp, Y, X))
    module = simplified(kernel_of(formula).module("float64"))
    for op in module.walk():
        if isinstance(op, ops.MaximumOp | ops.MinimumOp):
            assert op.args[0].type.cat == "j"
