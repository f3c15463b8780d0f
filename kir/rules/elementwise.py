"""Rules of the elementwise ops (kir/dialect/elementwise.py)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kir.dialect import elementwise as ops
from kir.emitter import Emitter, Value
from kir.frontends.expr import Expr, apply, as_expr, constant
from kir.rules.common import Entries, OpRule, as_float, elementwise


def _lower_pow(em: Emitter, x: Entries, exponent: int) -> Entries:
    def power(v: Value) -> Value:
        # Square-and-multiply keeps Pow exact in integer steps, as KeOps' Pow does.
        result, base, n = None, v, abs(exponent)
        while n:
            if n & 1:
                result = base if result is None else em.mul(result, base)
            n >>= 1
            if n:
                base = em.mul(base, base)
        if result is None:
            return em.constant(1.0)
        return em.div(em.constant(1.0), result) if exponent < 0 else result

    return [power(v) for v in x]


# -- KeOps' other elementwise functions ------------------------------------------------------------
# Each lowering is KeOps' C expression (keopscore/utils/math_functions.py) with IEEE rules, and each
# reference writes that expression again in NumPy, so special values agree by construction:
#   Rsqrt(0) = 0, Rsqrt(+inf) = 0;  XLogX(0) = 0, XLogX(+inf) = +inf;  SinXDivX(0) = 1, (+-inf) = NaN;
#   Sign(0) = Sign(NaN) = 0;  Step(0) = Step(NaN) = 1;  ReLU(NaN) = NaN;  DiffClampInt(NaN) = 1;
#   Clamp/ClampInt(NaN, a, b) = NaN;  IfElse(NaN, a, b) = b;  comparisons are C's (only != holds on NaN).
# Max(a, b) / Min(a, b) have no KeOps formula: they follow torch.maximum / torch.minimum (NaN wins).


def _where_zero(x: np.ndarray, at_zero: float, elsewhere: np.ndarray) -> np.ndarray:
    return np.where(x == 0, at_zero, elsewhere)


def _guarded(em: Emitter, x: Value, at_zero: float, elsewhere: Value) -> Value:
    # KeOps writes `x ? f(x) : c`: only +-0 takes the constant, NaN goes through f.
    return em.select(em.equal(x, em.constant(0.0)), em.constant(at_zero), elsewhere)


def _round_half_away(y: np.ndarray) -> np.ndarray:
    # C's round; np.round rounds halves to even, and floor(|y| + 0.5) errs at 0.49999999999999994.
    t = np.trunc(y)
    return np.where(np.abs(y - t) >= 0.5, t + np.sign(y), t)


def _reference_round(x: np.ndarray, decimals: int) -> np.ndarray:
    scale = 10.0 ** abs(decimals)
    if decimals >= 0:
        return _round_half_away(x * scale) / scale
    return _round_half_away(x / scale) * scale


def _lower_round(em: Emitter, x: Value, decimals: int) -> Value:
    # KeOps multiplies by 10^d; for d < 0 we divide by 10^-d, which is exact where 0.01 is not.
    # In float32 x * 10^d is rounded before `round`, so a value within an ulp of a half rounds
    # either way: results may differ from a float64 evaluation by 10^-d there. (10^|d| itself is
    # exact up to |d| = 10 in float32, 22 in float64.) Where |x| * 10^d overflows, the result is inf.
    scale = em.constant(10.0 ** abs(decimals))
    if decimals >= 0:
        return em.div(em.math("round", em.mul(x, scale)), scale)
    return em.mul(em.math("round", em.div(x, scale)), scale)


def _lower_clamp(em: Emitter, x: Value, low: Value, high: Value) -> Value:
    return em.select(em.less(x, low), low, em.select(em.greater(x, high), high, x))


def _reference_clamp(x: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    return np.where(x < low, low, np.where(x > high, high, x))


def _lower_diffclampint(em: Emitter, x: Value, low: int, high: int) -> Value:
    outside = em.logical_or(em.less(x, em.constant(low)), em.greater(x, em.constant(high)))
    return em.select(outside, em.constant(0.0), em.constant(1.0))


def _reference_mod(x: np.ndarray, n: np.ndarray, d: np.ndarray) -> np.ndarray:
    return x - n * np.floor((x - d) / n)


def _lower_mod(em: Emitter, x: Value, n: Value, d: Value) -> Value:
    return em.sub(x, em.mul(n, em.math("floor", em.div(em.sub(x, d), n))))


def _lower_maximum(em: Emitter, a: Value, b: Value) -> Value:
    # b when it is larger or NaN; otherwise a, which is also right when a is NaN.
    return em.select(em.logical_or(em.less(a, b), em.is_nan(b)), b, a)


def _lower_minimum(em: Emitter, a: Value, b: Value) -> Value:
    return em.select(em.logical_or(em.greater(a, b), em.is_nan(b)), b, a)


def _compare(test: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    return lambda a, b: test(a, b).astype(np.float64)


def _math(name: str) -> Callable[..., Entries]:
    return elementwise(lambda em, *args: em.math(name, *args))


def _vjp_pow(a, out, g, exponent: int):
    (x,) = a
    if exponent == 0:
        return [None]
    derivative = constant(1.0) if exponent == 1 else apply(ops.PowOp, x, exponent=exponent - 1)
    return [g * (exponent * derivative)]


def _vjp_powf(a, out, g):
    # d(a^b)/da = b a^(b-1) (torch's rule, finite at a = 0 for b >= 1); d(a^b)/db = a^b log a.
    base, exponent = a
    return [g * exponent * apply(ops.PowfOp, base, exponent - 1), g * out * apply(ops.LogOp, base)]


# -- derivative rules of KeOps' other elementwise functions -----------------------------------------
# Values at special points follow torch's autograd where torch has the op (kink values below, one
# line each); masks are selects (IfElse), as torch.where, so an infinite cotangent where a branch is
# not taken does not turn into 0 * inf = NaN.


def _where(mask: Expr, a: Expr | float, b: Expr | float) -> Expr:
    """a where the 0/1 `mask` (a comparison's result) is 1, else b."""
    return apply(ops.IfElseOp, mask - 1.0, as_expr(a), as_expr(b))


def _inverse_or_zero(square: Expr) -> Expr:
    """1 / square for square >= 0, and 0 at 0 (KeOps' Rsqrt(0) = 0), differentiable at any order."""
    return apply(ops.SquareOp, apply(ops.RsqrtOp, square))


def _vjp_rsqrt(a, out, g):
    # KeOps' -Rsqrt(x)^3 / 2, hence 0 at x = 0 where Rsqrt(0) = 0 (torch's rsqrt(0) = inf has -inf).
    return [g * (-0.5 * apply(ops.PowOp, out, exponent=3))]


def _vjp_xlogx(a, out, g):
    # log(x) + 1: -inf at x = 0 (the one-sided limit; torch has no xlogx).
    return [g * (apply(ops.LogOp, a[0]) + 1.0)]


def _vjp_arcsine(a, out, g, sign: float):
    # +-1 / sqrt((1 - x)(1 + x)), accurate near x = +-1 where 1 - x^2 cancels: +-inf at x = +-1 (as torch).
    (x,) = a
    return [sign * g / apply(ops.SqrtOp, (1.0 - x) * (1.0 + x))]


def _vjp_atan2(a, out, g):
    # (x, -y) / (x^2 + y^2): 0 at (0, 0), as torch.atan2 (its second derivative there is NaN, ours 0).
    y, x = a
    inverse = _inverse_or_zero(apply(ops.SquareOp, x) + apply(ops.SquareOp, y))
    return [g * x * inverse, -(g * y * inverse)]


def _vjp_sinxdivx(a, out, g):
    # (cos x - sin(x)/x) / x, 0 at x = 0 as torch.sinc; higher derivatives at exactly 0 give 0
    # (not the true -1/3 of the second one; torch gives NaN there).
    (x,) = a
    return [g * (apply(ops.CosOp, x) - out) * x * _inverse_or_zero(apply(ops.SquareOp, x))]


def _vjp_relu(a, out, g):
    # 0 where x <= 0 (relu'(0) = 0), g elsewhere, NaN included (torch's threshold_backward).
    return [apply(ops.IfElseOp, -a[0], constant(0.0), g)]


def _vjp_clamp(a, out, g):
    # torch.clamp: x gets g where low <= x <= high (ties included, not at NaN); low where x < low;
    # high where x > high and not x < low (our forward picks low first when low > high).
    x, low, high = a
    inside = apply(ops.LessOrEqualOp, low, x) * apply(ops.LessOrEqualOp, x, high)
    below = apply(ops.LessThanOp, x, low)
    above = apply(ops.LessThanOp, high, x)
    return [_where(inside, g, 0.0), _where(below, g, 0.0), _where(below, 0.0, _where(above, g, 0.0))]


def _vjp_clampint(a, out, g, low: int, high: int):
    # torch.clamp: g where low <= x <= high (ties included), 0 elsewhere and at NaN.
    (x,) = a
    inside = apply(ops.LessOrEqualOp, constant(float(low)), x) * apply(
        ops.LessOrEqualOp, x, constant(float(high))
    )
    return [_where(inside, g, 0.0)]


def _vjp_mod(a, out, g):
    # x - n floor((x - d) / n) with floor' = 0 (torch.remainder's rule): d gets no gradient.
    x, n, d = a
    return [g, -(g * apply(ops.FloorOp, (x - d) / n)), None]


def _vjp_extreme(a, out, g, largest: bool):
    # torch.maximum / torch.minimum: g / 2 to each on ties, g to both when one is NaN.
    first, second = a
    first_less, second_less = apply(ops.LessThanOp, first, second), apply(ops.LessThanOp, second, first)
    first_loses, second_loses = (first_less, second_less) if largest else (second_less, first_less)
    tie, half = apply(ops.EqualOp, first, second), g * 0.5
    return [
        _where(tie, half, _where(first_loses, 0.0, g)),
        _where(tie, half, _where(second_loses, 0.0, g)),
    ]


def _vjp_ifelse(a, out, g):
    # torch.where: the branch taken gets g, the other 0; the condition none.
    f = a[0]
    return [None, apply(ops.IfElseOp, f, g, constant(0.0)), apply(ops.IfElseOp, f, constant(0.0), g)]


def _no_gradient(a, out, g, **attrs):
    # Piecewise constant (Sign, Step, Floor, Round, DiffClampInt, comparisons): derivative 0 everywhere
    # it exists, and 0 at the jumps too (torch: sign' = floor' = round' = 0).
    return [None] * len(a)


RULES: dict[type, OpRule] = {
    ops.NegOp: OpRule("Minus", np.negative, elementwise(lambda em, a: em.neg(a)), vjp=lambda a, out, g: [-g]),
    ops.ExpOp: OpRule(
        "Exp", np.exp, elementwise(lambda em, a: em.math("exp", a)), vjp=lambda a, out, g: [g * out]
    ),
    ops.LogOp: OpRule(
        "Log", np.log, elementwise(lambda em, a: em.math("log", a)), vjp=lambda a, out, g: [g / a[0]]
    ),
    ops.SqrtOp: OpRule(
        "Sqrt",
        np.sqrt,
        elementwise(lambda em, a: em.math("sqrt", a)),
        # KeOps' derivative, Rsqrt(x) / 2 with Rsqrt(0) = 0: norms and distances get a zero
        # gradient where they vanish (|x - x|), not 0 * inf = NaN.
        vjp=lambda a, out, g: [g * (0.5 * apply(ops.RsqrtOp, a[0]))],
    ),
    ops.SquareOp: OpRule(
        "Square", np.square, elementwise(lambda em, a: em.mul(a, a)), vjp=lambda a, out, g: [g * (2 * a[0])]
    ),
    ops.PowOp: OpRule(
        "Pow",
        lambda x, exponent: np.power(x, float(exponent)),
        _lower_pow,
        dsl_attrs=("exponent",),
        vjp=_vjp_pow,
    ),
    ops.AddOp: OpRule(
        "Add", np.add, elementwise(lambda em, a, b: em.add(a, b)), vjp=lambda a, out, g: [g, g]
    ),
    ops.SubOp: OpRule(
        "Subtract", np.subtract, elementwise(lambda em, a, b: em.sub(a, b)), vjp=lambda a, out, g: [g, -g]
    ),
    ops.MulOp: OpRule(
        "Mult",
        np.multiply,
        elementwise(lambda em, a, b: em.mul(a, b)),
        vjp=lambda a, out, g: [g * a[1], g * a[0]],
    ),
    ops.DivOp: OpRule(
        "Divide",
        np.divide,
        elementwise(lambda em, a, b: em.div(a, b)),
        vjp=lambda a, out, g: [g / a[1], -(g * out) / a[1]],
    ),
    ops.PowfOp: OpRule("Powf", np.power, elementwise(lambda em, a, b: em.math("pow", a, b)), vjp=_vjp_powf),
    ops.RsqrtOp: OpRule(
        "Rsqrt",
        lambda x: _where_zero(x, 0.0, 1.0 / np.sqrt(x)),
        elementwise(lambda em, x: _guarded(em, x, 0.0, em.div(em.constant(1.0), em.math("sqrt", x)))),
        vjp=_vjp_rsqrt,
    ),
    ops.InvOp: OpRule(
        "Inv",
        lambda x: 1.0 / x,
        elementwise(lambda em, x: em.div(em.constant(1.0), x)),
        vjp=lambda a, out, g: [-(g * apply(ops.SquareOp, out))],  # -inf at x = 0, as torch
    ),
    ops.XLogXOp: OpRule(
        "XLogX",
        lambda x: _where_zero(x, 0.0, x * np.log(x)),
        elementwise(lambda em, x: _guarded(em, x, 0.0, em.mul(x, em.math("log", x)))),
        vjp=_vjp_xlogx,
    ),
    ops.SinOp: OpRule("Sin", np.sin, _math("sin"), vjp=lambda a, out, g: [g * apply(ops.CosOp, a[0])]),
    ops.CosOp: OpRule("Cos", np.cos, _math("cos"), vjp=lambda a, out, g: [-(g * apply(ops.SinOp, a[0]))]),
    ops.AsinOp: OpRule("Asin", np.arcsin, _math("asin"), vjp=lambda a, out, g: _vjp_arcsine(a, out, g, 1.0)),
    ops.AcosOp: OpRule("Acos", np.arccos, _math("acos"), vjp=lambda a, out, g: _vjp_arcsine(a, out, g, -1.0)),
    ops.AtanOp: OpRule(
        "Atan", np.arctan, _math("atan"), vjp=lambda a, out, g: [g / (1.0 + apply(ops.SquareOp, a[0]))]
    ),
    ops.Atan2Op: OpRule("Atan2", np.arctan2, _math("atan2"), vjp=_vjp_atan2),
    ops.SinXDivXOp: OpRule(
        "SinXDivX",
        lambda x: _where_zero(x, 1.0, np.sin(x) / x),
        elementwise(lambda em, x: _guarded(em, x, 1.0, em.div(em.math("sin", x), x))),
        vjp=_vjp_sinxdivx,
    ),
    # g Sign(x), as torch: abs'(0) = 0, and 0 at NaN (Sign(NaN) = 0 here and in torch).
    ops.AbsOp: OpRule("Abs", np.abs, _math("fabs"), vjp=lambda a, out, g: [g * apply(ops.SignOp, a[0])]),
    ops.SignOp: OpRule(
        "Sign",
        lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),
        elementwise(
            lambda em, x: em.select(
                em.greater(x, em.constant(0.0)),
                em.constant(1.0),
                em.select(em.less(x, em.constant(0.0)), em.constant(-1.0), em.constant(0.0)),
            )
        ),
        vjp=_no_gradient,
    ),
    ops.StepOp: OpRule(
        "Step",
        lambda x: np.where(x < 0, 0.0, 1.0),
        elementwise(
            lambda em, x: em.select(em.less(x, em.constant(0.0)), em.constant(0.0), em.constant(1.0))
        ),
        vjp=_no_gradient,
    ),
    ops.ReluOp: OpRule(
        "ReLU",
        lambda x: np.where(x < 0, 0.0, x),
        elementwise(lambda em, x: em.select(em.less(x, em.constant(0.0)), em.constant(0.0), x)),
        vjp=_vjp_relu,
    ),
    ops.FloorOp: OpRule("Floor", np.floor, _math("floor"), vjp=_no_gradient),
    ops.RoundOp: OpRule(
        "Round", _reference_round, elementwise(_lower_round), dsl_attrs=("decimals",), vjp=_no_gradient
    ),
    ops.ClampIntOp: OpRule(
        "ClampInt",
        lambda x, low, high: _reference_clamp(x, float(low), float(high)),
        elementwise(lambda em, x, low, high: _lower_clamp(em, x, em.constant(low), em.constant(high))),
        dsl_attrs=("low", "high"),
        vjp=_vjp_clampint,
    ),
    ops.DiffClampIntOp: OpRule(
        "DiffClampInt",
        lambda x, low, high: np.where((x < low) | (x > high), 0.0, 1.0),
        elementwise(_lower_diffclampint),
        dsl_attrs=("low", "high"),
        vjp=_no_gradient,
    ),
    ops.EqualOp: OpRule(
        "Equal",
        _compare(np.equal),
        elementwise(lambda em, a, b: as_float(em, em.equal(a, b))),
        vjp=_no_gradient,
    ),
    ops.NotEqualOp: OpRule(
        "NotEqual",
        _compare(np.not_equal),
        elementwise(lambda em, a, b: as_float(em, em.not_equal(a, b))),
        vjp=_no_gradient,
    ),
    ops.LessThanOp: OpRule(
        "LessThan",
        _compare(np.less),
        elementwise(lambda em, a, b: as_float(em, em.less(a, b))),
        vjp=_no_gradient,
    ),
    ops.LessOrEqualOp: OpRule(
        "LessOrEqual",
        _compare(np.less_equal),
        elementwise(lambda em, a, b: as_float(em, em.less_equal(a, b))),
        vjp=_no_gradient,
    ),
    ops.MaximumOp: OpRule(
        "Max", np.maximum, elementwise(_lower_maximum), vjp=lambda a, out, g: _vjp_extreme(a, out, g, True)
    ),
    ops.MinimumOp: OpRule(
        "Min", np.minimum, elementwise(_lower_minimum), vjp=lambda a, out, g: _vjp_extreme(a, out, g, False)
    ),
    ops.ModOp: OpRule("Mod", _reference_mod, elementwise(_lower_mod), vjp=_vjp_mod),
    ops.ClampOp: OpRule("Clamp", _reference_clamp, elementwise(_lower_clamp), vjp=_vjp_clamp),
    ops.IfElseOp: OpRule(
        "IfElse",
        lambda f, a, b: np.where(f >= 0, a, b),
        elementwise(lambda em, f, a, b: em.select(em.greater_equal(f, em.constant(0.0)), a, b)),
        vjp=_vjp_ifelse,
    ),
}
