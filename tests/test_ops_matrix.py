"""The matrix ops (kir/dialect/matrix.py), compiled for the CPU, against the reference evaluator.

Every formula argument is u_i + v_j, so results depend on both indices. Inputs are positive
multiples of 2**-10 of modest size: a float32 kernel sees the very values the float64
reference sees (their sums are exact), and every result entry is a sum of positive products,
so the float32 bound of 1e-5 holds entry by entry: there are no float32 exceptions here.
The layouts (row-major matrices, KeOps' TensorDot permutation, Kron) are checked apart against
NumPy's own functions (matmul, outer, tensordot, kron), independently of the reference rules.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import kir
from kir.dialect import formula
from kir.dialect import matrix as ops
from kir.errors import FormulaError
from kir.frontends.dsl import parse_formula
from kir.frontends.expr import apply, constant, variable
from kir.kernel import Kernel
from kir.reference import evaluate
from tests.conftest import check_against_reference

DTYPES = ["float32", "float64"]
AXES = [0, 1]
SIZES = [(1, 7), (7, 1000), (1000, 1)]

Attrs = dict[str, tuple[int, ...]]

# -- random shapes ------------------------------------------------------------------------------


def side(rng: np.random.Generator) -> int:
    return int(rng.integers(1, 5))


def _matvec(rng):
    n, m = side(rng), side(rng)
    return [n * m, m], {}


def _vecmat(rng):
    n, m = side(rng), side(rng)
    return [n, n * m], {}


def random_tensordot(
    rng: np.random.Generator, permuted: bool, max_entries: int = 48
) -> tuple[list[int], Attrs]:
    """Shapes of rank 1..3 with sides 1..4, contracted along 0..min(ranks) axis pairs."""
    while True:
        dimfa = tuple(side(rng) for _ in range(int(rng.integers(1, 4))))
        dimfb = [side(rng) for _ in range(int(rng.integers(1, 4)))]
        count = int(rng.integers(0, min(len(dimfa), len(dimfb)) + 1))
        contfa = tuple(int(k) for k in rng.permutation(len(dimfa))[:count])
        contfb = tuple(int(k) for k in rng.permutation(len(dimfb))[:count])
        for k_a, k_b in zip(contfa, contfb, strict=True):
            dimfb[k_b] = dimfa[k_a]
        dimfb = tuple(dimfb)
        kept = math.prod(dimfa) * math.prod(dimfb) // math.prod(dimfa[k] for k in contfa) ** 2
        if max(math.prod(dimfa), math.prod(dimfb), kept) <= max_entries:
            break
    attrs: Attrs = {"dimfa": dimfa, "dimfb": dimfb, "contfa": contfa, "contfb": contfb}
    if permuted:
        rank = len(dimfa) + len(dimfb) - 2 * count
        attrs["permute"] = tuple(int(k) for k in rng.permutation(rank))
    return [math.prod(dimfa), math.prod(dimfb)], attrs


def _kron(rng):
    rank = int(rng.integers(1, 3))
    dimfa = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    dimfb = tuple(int(rng.integers(1, 4)) for _ in range(rank))
    return [math.prod(dimfa), math.prod(dimfb)], {"dimfa": dimfa, "dimfb": dimfb}


@dataclass(frozen=True)
class Case:
    """One op with a rule drawing its operand dims and attributes."""

    op: type
    shapes: Callable[[np.random.Generator], tuple[list[int], dict]]
    label: str = ""

    @property
    def id(self) -> str:
        return self.op.name.removeprefix("kir.") + (f"-{self.label}" if self.label else "")


CASES = [
    Case(ops.MatVecMultOp, _matvec),
    Case(ops.VecMatMultOp, _vecmat),
    Case(ops.TensorProdOp, lambda rng: ([side(rng), side(rng)], {})),
    *(Case(ops.TensorDotOp, lambda rng: random_tensordot(rng, False), label=str(k)) for k in range(3)),
    *(Case(ops.TensorDotPermutedOp, lambda rng: random_tensordot(rng, True), label=str(k)) for k in range(3)),
    Case(ops.KronOp, _kron),
]


def exact_uniform(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.25, high: float = 2.0):
    return np.round(rng.uniform(low, high, size=shape) * 1024.0) / 1024.0


def _kernel(op: type, dims: list[int], attrs: dict, axis: int) -> Kernel:
    """Sum over `axis` of op(u_i + v_j, ...): argument k is variables 2k (i) and 2k + 1 (j)."""
    args = [
        apply(formula.AddOp, variable(2 * k, d, "i"), variable(2 * k + 1, d, "j")) for k, d in enumerate(dims)
    ]
    return Kernel.from_expr(apply(op, *args, **attrs), "Sum", axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_op_matches_reference(case: Case, axis: int, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{case.id}/{axis}/{dtype}".encode()))
    dims, attrs = case.shapes(rng)
    kernel = _kernel(case.op, dims, attrs, axis)
    for size_i, size_j in SIZES:
        arrays = []
        for d in dims:
            arrays += [
                exact_uniform(rng, (size_i, d)).astype(dtype),
                exact_uniform(rng, (size_j, d)).astype(dtype),
            ]
        check_against_reference(kernel, arrays, dtype)


# -- NaN and inf --------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")

# Each op's operands: one pool of rows per operand; the test takes every combination of rows.
SPECIAL = [
    (
        ops.MatVecMultOp,
        {},
        [
            [[INF, 1.0, 0.0, 2.0], [NAN, 0.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0], [INF, -INF, 1.0, 1.0]],
            [[0.0, 1.0], [1.0, 1.0], [INF, 0.0], [1.0, -INF], [NAN, 0.0]],
        ],
    ),
    (
        ops.VecMatMultOp,
        {},
        [
            [[0.0, 1.0], [1.0, 1.0], [INF, 0.0], [1.0, -INF], [NAN, 0.0]],
            [[INF, 1.0, 0.0, 2.0], [NAN, 0.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0], [INF, -INF, 1.0, 1.0]],
        ],
    ),
    (ops.TensorProdOp, {}, [[[INF, 0.0], [NAN, 1.0], [-0.0, 2.0]], [[0.0, -INF, 1.0], [1.0, NAN, 2.0]]]),
    (
        ops.TensorDotOp,
        {"dimfa": (2, 2), "dimfb": (2, 2), "contfa": (1,), "contfb": (1,)},
        [
            [[INF, 1.0, 0.0, 2.0], [NAN, 0.0, 1.0, 1.0], [INF, -INF, 1.0, 1.0]],
            [[0.0, 1.0, 1.0, 1.0], [INF, 0.0, 1.0, -INF], [1.0, 2.0, 3.0, NAN]],
        ],
    ),
    (
        ops.TensorDotPermutedOp,
        {"dimfa": (2, 2), "dimfb": (2,), "contfa": (), "contfb": (), "permute": (2, 0, 1)},
        [[[INF, 1.0, 0.0, 2.0], [NAN, 0.0, 1.0, 1.0]], [[0.0, 1.0], [INF, -INF], [1.0, NAN]]],
    ),
    (
        ops.KronOp,
        {"dimfa": (2, 1), "dimfb": (1, 2)},
        [[[INF, 0.0], [NAN, 1.0], [-0.0, 2.0]], [[0.0, -INF], [1.0, NAN]]],
    ),
]


def special_kernel(op: type, attrs: dict, pools: list) -> tuple[Kernel, list[np.ndarray]]:
    """op(x_i, ...) + 0 * z_j over every combination of the pools' rows, reduced over one j (exact)."""
    rows = np.array(np.meshgrid(*(np.arange(len(p)) for p in pools), indexing="ij")).reshape(len(pools), -1)
    arrays = [np.array(pool, dtype=np.float64)[picks] for pool, picks in zip(pools, rows, strict=True)]
    args = [variable(k, a.shape[1], "i") for k, a in enumerate(arrays)]
    z = variable(len(arrays), 1, "j")
    expr = apply(formula.AddOp, apply(op, *args, **attrs), apply(formula.MulOp, constant(0.0), z))
    return Kernel.from_expr(expr, "Sum", 1), [*arrays, np.ones((1, 1))]


@pytest.mark.parametrize("op, attrs, pools", SPECIAL, ids=[f"{c[0].name}-{k}" for k, c in enumerate(SPECIAL)])
def test_special_values_match_reference(op: type, attrs: dict, pools: list) -> None:
    kernel, arrays = special_kernel(op, attrs, pools)
    result = check_against_reference(kernel, arrays, "float64")
    assert np.isnan(result).any()  # inf * 0 and inf - inf reach the result


# -- layouts against NumPy ----------------------------------------------------------------------

M, N = 3, 4


def _pairwise(formula_text: str, dims: tuple[int, int], pair: Callable, rng, **compile_options) -> None:
    """The kernel sum_j F(a_i, b_j) against sum_j pair(a_i, b_j) computed by NumPy, in float64."""
    aliases = [f"a = Vi({dims[0]})", f"b = Vj({dims[1]})"]
    kernel = kir.compile(formula_text, aliases, dtype="float64", **compile_options)
    a, b = rng.normal(size=(M, dims[0])), rng.normal(size=(N, dims[1]))
    expected = np.array([sum(np.ravel(pair(a[i], b[j])) for j in range(N)) for i in range(M)])
    np.testing.assert_allclose(kernel(a, b), expected, rtol=1e-12, atol=1e-12)


def test_matvecmult_is_row_major(rng) -> None:
    _pairwise("MatVecMult(a, b)", (6, 3), lambda a, b: a.reshape(2, 3) @ b, rng)


def test_vecmatmult_is_row_major(rng) -> None:
    _pairwise("VecMatMult(b, a)", (6, 3), lambda a, b: b @ a.reshape(3, 2), rng)


def test_tensorprod_is_the_flattened_outer_product(rng) -> None:
    _pairwise("TensorProd(a, b)", (2, 3), np.outer, rng)


def _spell(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# (dimfa, dimfb, contfa, contfb, permute): KeOps' own examples first (pykeops/test/test_kron.py and
# test_lazytensor_tensordot.py; its 3-axis Kron example, (4, 5, 4) and (4, 4, 5), with smaller sides:
# a 6400-entry result takes minutes of LLVM code generation), then contractions of several axes, out
# of order, and permutations.
TENSORDOTS = [
    ((4, 7), (7,), (1,), (0,), None),
    ((4, 5), (4, 4), (), (), (0, 2, 1, 3)),
    ((2, 3, 2), (2, 2, 3), (), (), (0, 2, 4, 1, 3, 5)),
    ((2, 3, 4), (4, 3), (1, 2), (1, 0), None),
    ((3, 4, 2), (4, 3, 2), (1, 0), (0, 1), (1, 0)),
    ((2, 3), (3, 2, 2), (1,), (0,), None),
    ((2, 3), (3, 2, 2), (1,), (0,), (2, 0, 1)),
    ((2, 2, 3), (3, 2), (2,), (0,), (1, 2, 0)),
    ((3,), (3,), (0,), (0,), None),
    ((3,), (3,), (0,), (0,), ()),
    ((2, 3), (3, 2), (0, 1), (1, 0), None),
]


@pytest.mark.parametrize("dimfa, dimfb, contfa, contfb, permute", TENSORDOTS)
def test_tensordot_against_numpy(dimfa, dimfb, contfa, contfb, permute, rng) -> None:
    def pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        result = np.tensordot(a.reshape(dimfa), b.reshape(dimfb), axes=(list(contfa), list(contfb)))
        # KeOps' permute sends axis k of numpy.tensordot's result to output position permute[k].
        return result if permute is None else np.moveaxis(result, range(result.ndim), permute)

    attrs = {"dimfa": dimfa, "dimfb": dimfb, "contfa": contfa, "contfb": contfb}
    op = ops.TensorDotOp if permute is None else ops.TensorDotPermutedOp
    if permute is not None:
        attrs["permute"] = permute
    a, b = variable(0, math.prod(dimfa), "i"), variable(1, math.prod(dimfb), "j")
    kernel = Kernel.from_expr(apply(op, a, b, **attrs), "Sum", 1, dtype="float64")
    x, y = rng.normal(size=(M, math.prod(dimfa))), rng.normal(size=(N, math.prod(dimfb)))
    expected = np.array([sum(np.ravel(pair(x[i], y[j])) for j in range(N)) for i in range(M)])
    np.testing.assert_allclose(kernel(x, y), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        evaluate(kernel.module("float64"), [x, y])[0], expected, rtol=1e-12, atol=1e-12
    )
    if contfa and (permute is None or permute):  # the DSL has no empty tuple: () is not a tuple literal
        spelled = [_spell(s) for s in (dimfa, dimfb, contfa, contfb)] + ([_spell(permute)] if permute else [])
        _pairwise(f"TensorDot(a, b, {', '.join(spelled)})", (math.prod(dimfa), math.prod(dimfb)), pair, rng)


@pytest.mark.parametrize(
    "dimfa, dimfb", [((2, 3), (3, 2)), ((4, 5), (4, 4)), ((2, 1, 2), (1, 3, 2)), ((3,), (2,))]
)
def test_kron_against_numpy(dimfa, dimfb, rng) -> None:
    pair = lambda a, b: np.kron(a.reshape(dimfa), b.reshape(dimfb))  # noqa: E731
    _pairwise(
        f"Kron(a, b, {_spell(dimfa)}, {_spell(dimfb)})", (math.prod(dimfa), math.prod(dimfb)), pair, rng
    )


def test_kron_is_keops_tensordot_permutation(rng) -> None:
    """KeOps' test_kron: Kron(x, y, dims) == TensorDot(x, y, dims, (), (), (0, 2, ..., 1, 3, ...))."""
    x, y = variable(0, 12, "i"), variable(1, 12, "j")
    kron = apply(ops.KronOp, x, y, dimfa=(2, 3, 2), dimfb=(2, 2, 3))
    permute = (0, 2, 4, 1, 3, 5)
    tensordot = apply(
        ops.TensorDotPermutedOp, x, y, dimfa=(2, 3, 2), dimfb=(2, 2, 3), contfa=(), contfb=(), permute=permute
    )
    a, b = rng.normal(size=(2, 12)), rng.normal(size=(3, 12))
    results = [Kernel.from_expr(f, "Sum", 1, dtype="float64")(a, b) for f in (kron, tensordot)]
    np.testing.assert_array_equal(results[0], results[1])


# -- DSL spellings and shape errors -------------------------------------------------------------

ALIASES = ["a = Vi(6)", "v = Vj(3)", "w = Vj(2)", "c = Pm(6)"]
A, V, W, C = variable(0, 6, "i"), variable(1, 3, "j"), variable(2, 2, "j"), variable(3, 6, "p")


@pytest.mark.parametrize(
    ("text", "op", "args", "attrs", "dim"),
    [
        ("MatVecMult(a, v)", ops.MatVecMultOp, (A, V), {}, 2),
        ("VecMatMult(v, a)", ops.VecMatMultOp, (V, A), {}, 2),
        ("TensorProd(v, w)", ops.TensorProdOp, (V, W), {}, 6),
        (
            "TensorDot(a, v, (2, 3), (3,), (1,), (0,))",
            ops.TensorDotOp,
            (A, V),
            {"dimfa": (2, 3), "dimfb": (3,), "contfa": (1,), "contfb": (0,)},
            2,
        ),
        (
            "TensorDot(a, c, (2, 3), (3, 2), (1,), (0,), (1, 0))",
            ops.TensorDotPermutedOp,
            (A, C),
            {"dimfa": (2, 3), "dimfb": (3, 2), "contfa": (1,), "contfb": (0,), "permute": (1, 0)},
            4,
        ),
        ("Kron(a, w, (2, 3), (2, 1))", ops.KronOp, (A, W), {"dimfa": (2, 3), "dimfb": (2, 1)}, 12),
    ],
)
def test_dsl_spelling(text: str, op: type, args: tuple, attrs: dict, dim: int) -> None:
    parsed = parse_formula(text, ALIASES)
    assert parsed.op is op
    assert parsed.args == args
    assert parsed.attributes == attrs
    assert parsed is apply(op, *args, **attrs)
    assert parsed.dim == dim


def test_builder_functions_take_lists(rng) -> None:
    a, v = kir.Vi(0, 6), kir.Vj(1, 3)
    built = kir.tensordot(a, v, [2, 3], [3], [1], [0])
    assert built is parse_formula("TensorDot(a, v, (2, 3), (3,), (1,), (0,))", ALIASES[:2])
    assert kir.matvecmult(a, v) is parse_formula("MatVecMult(a, v)", ALIASES[:2])


def test_compile_end_to_end(rng) -> None:
    aliases = ["a = Vi(4)", "b = Vj(4)", "v = Vj(2)"]
    text = "Sum(TensorDot(a, b, (2, 2), (2, 2), (1,), (0,), (1, 0))) * (MatVecMult(a, v) | VecMatMult(v, b))"
    kernel = kir.compile(text, aliases, axis=0, dtype="float64")
    a, b, v = rng.normal(size=(5, 4)), rng.normal(size=(6, 4)), rng.normal(size=(6, 2))
    products = np.einsum("ipq,jqr->ijpr", a.reshape(5, 2, 2), b.reshape(6, 2, 2)).sum(axis=(2, 3))
    left = np.einsum("ipq,jq->ijp", a.reshape(5, 2, 2), v)
    right = np.einsum("jp,jpr->jr", v, b.reshape(6, 2, 2))
    scal = (left * right[None, :, :]).sum(-1)
    np.testing.assert_allclose(kernel(a, b, v)[:, 0], (products * scal).sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("MatVecMult(a, u)", ["kir.matvecmult", "multiple of the vector's dimension 4", "got 6"]),
        ("VecMatMult(u, a)", ["kir.vecmatmult", "multiple of the vector's dimension 4", "got 6"]),
        (
            "TensorDot(a, v, (2, 2), (3,), (1,), (0,))",
            ["kir.tensordot", "(2, 2) holds 4 entries", "dimension 6"],
        ),
        ("TensorDot(a, v, (2, 3), (3,), (0,), (0,))", ["kir.tensordot", "equal sizes", "(2,)", "(3,)"]),
        ("TensorDot(a, v, (2, 3), (3,), (2,), (0,))", ["kir.tensordot", "axes in 0..1", "got (2,)"]),
        ("TensorDot(a, v, (2, 3), (3,), (1, 1), (0, 0))", ["kir.tensordot", "distinct axes", "(1, 1)"]),
        ("TensorDot(a, v, (2, 3), (3,), (1,), (0, 0))", ["kir.tensordot", "contfb", "(0, 0)"]),
        ("TensorDot(a, v, 6, (3,), (1,), (0,))", ["kir.tensordot", "dimfa", "6"]),
        (
            "TensorDot(a, u, (2, 3), (2, 2), (0,), (0, 1))",
            ["kir.tensordot", "as many axes", "got (0,) and (0, 1)"],
        ),
        (
            "TensorDot(a, v, (2, 3), (3,), (1,), (0,), (1,))",
            ["kir.tensordot_permuted", "permutation of 0..0", "got (1,)"],
        ),
        ("Kron(a, v, (2, 3), (3,))", ["kir.kron", "same number of axes", "2 ((2, 3))", "1 ((3,))"]),
        ("Kron(a, v, (2, 3), (3, 2))", ["kir.kron", "(3, 2) holds 6 entries", "dimension 3"]),
        ("Kron(a, v, (2, 3), 3)", ["kir.kron", "dimfb", "3"]),
    ],
)
def test_shape_errors_reach_the_user(text: str, fragments: list[str]) -> None:
    with pytest.raises(FormulaError) as raised:
        kir.compile(text, ["a = Vi(6)", "v = Vj(3)", "u = Vj(4)"])
    for fragment in fragments:
        assert fragment in raised.value.message, raised.value.message


def test_attributes_print_as_arrays() -> None:
    kernel = kir.compile("TensorDot(a, v, (2, 3), (3,), (1,), (0,))", ["a = Vi(6)", "v = Vj(3)"])
    text = kernel.ir("kir")
    assert "kir.tensordot" in text and "array<i64: 2, 3>" in text
