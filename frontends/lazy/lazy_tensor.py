"""The LazyTensor of pykeops 2.3, on kir: symbolic (M, N, D) tensors reduced by compiled kernels.

A LazyTensor holds a kir formula (a hash-consed `Expr`) whose variables are the arrays it was
built from. Each array is a *leaf* with a position of its own, unique in the process, so that
two LazyTensors combine without renaming anything. At a reduction the leaves are renumbered
in order of first use (after the symbolic variables `Vi(k, d)`, which keep their positions):
the same formula built again from new arrays is then the same `Expr`, hence the same cached
`Kernel` and the same machine code. Float numbers become parameters (as in pykeops) so that
a new value does not compile a new kernel; integers are constants of the formula.

The math methods live in `operations.py`, the reductions in `reductions.py`; the NumPy and
torch classes (`numpy_lazy.py`, `torch_lazy.py`) only say which array library they use.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from numbers import Integral, Real
from typing import Any

import numpy as np

from kir.dialect.formula import VarOp
from kir.errors import ArgumentError, FormulaError, KirError
from kir.frontends.expr import Expr, apply, constant, variable
from kir.kernel import Kernel

from . import engine

LEAF_BASE = 1 << 40
"""Positions of data leaves start here: they never clash with symbolic variables' positions."""

_leaf_positions = itertools.count(LEAF_BASE)

KERNELS_KEPT = 256
_KERNELS: OrderedDict[tuple, Kernel] = OrderedDict()
_KERNELS_LOCK = threading.Lock()

CATEGORIES = {0: "i", 1: "j", 2: "p"}
AXES = {"i": 0, "j": 1, "p": 2}

INIT_OPTIONS = (
    "dtype_acc",
    "use_double_acc",
    "sum_scheme",
    "enable_chunks",
    "use_fast_math",
    "optional_flags",
)
"""pykeops options of the compiled routine (the rest of a reduction's keywords are call options)."""


def is_lazy(x: object) -> bool:
    """True for a LazyTensor of either front-end."""
    return isinstance(x, GenericLazyTensor)


def is_scalar_equal(x: object, value: float) -> bool:
    """pykeops' shortcut test: `x * 0` is 0, `x * 1` is x (numbers only, never arrays)."""
    return isinstance(x, Real) and not isinstance(x, bool) and x == value


def kernel_for(
    formula: Expr, reduction: str, axis: int, opt_arg: int | None, formula2: Expr | None
) -> Kernel:
    """The kernel of a canonical formula's reduction, built once per process and kept."""
    key = (formula, reduction, axis, opt_arg, formula2)
    with _KERNELS_LOCK:
        kernel = _KERNELS.get(key)
        if kernel is not None:
            _KERNELS.move_to_end(key)
            return kernel
    kernel = Kernel.from_expr(formula, reduction, axis, None, opt_arg, formula2)
    with _KERNELS_LOCK:
        _KERNELS[key] = kernel
        while len(_KERNELS) > KERNELS_KEPT:
            _KERNELS.popitem(last=False)
    return kernel


def rebuild(roots: list[Expr], positions: dict[int, int], swap_ij: bool = False) -> list[Expr]:
    """`roots` with variable positions renamed (`positions`: old -> new) and, if asked, the
    categories i and j exchanged (the transpose)."""
    rebuilt: dict[int, Expr] = {}
    swapped = {"i": "j", "j": "i", "p": "p"}
    out = []
    for root in roots:
        for node in root.walk():
            if id(node) in rebuilt:
                continue
            if node.op is VarOp:
                index = node.attributes["index"]
                category = swapped[node.category] if swap_ij else node.category
                rebuilt[id(node)] = variable(positions.get(index, index), node.dim, category)
            elif node.args:
                args = tuple(rebuilt[id(a)] for a in node.args)
                if swap_ij:  # categories change: infer the node's again
                    rebuilt[id(node)] = apply(node.op, *args, **node.attributes)
                else:  # same shapes, other positions
                    rebuilt[id(node)] = Expr(node.op, args, node.attrs, node.dim, node.category)
            else:
                rebuilt[id(node)] = node
        out.append(rebuilt[id(root)])
    return out


def rebuild_substituted(root: Expr, target: Expr, replacement: Expr) -> Expr:
    """`root` with the node `target` replaced by `replacement`."""
    rebuilt: dict[int, Expr] = {id(target): replacement}
    for node in root.walk():
        if id(node) not in rebuilt:
            args = [rebuilt[id(a)] for a in node.args]
            changed = any(new is not old for new, old in zip(args, node.args, strict=True))
            rebuilt[id(node)] = apply(node.op, *args, **node.attributes) if changed else node
    return rebuilt[id(root)]


def variable_positions(roots: list[Expr]) -> list[int]:
    """Positions of the variables of `roots`, in order of first use."""
    seen: dict[int, None] = {}
    for root in roots:
        for node in root.walk():
            if node.op is VarOp:
                seen.setdefault(node.attributes["index"], None)
    return list(seen)


class GenericLazyTensor:
    """A symbolic tensor of shape (..., M, N, D): a formula over i- and j-indexed arrays."""

    tools: Any = None
    is_complex = False
    __array_ufunc__ = None  # NumPy defers `array * lazy` to LazyTensor.__rmul__
    __array_priority__ = 1000

    def __init__(self, x: Any = None, axis: int | None = None):
        self.formula: Expr | None = None
        self.formula2: Expr | None = None
        self.variables: dict[int, Any] = {}
        self.symbolic: dict[int, tuple[int, int]] = {}
        self.batchdims: tuple[int, ...] | None = None
        self.ni: int | None = None
        self.nj: int | None = None
        self._dtype: str | None = None
        self.ranges: tuple | None = None
        self.backend: str | None = None
        self.reduction_op: str | None = None
        self.axis: int | None = None
        self.opt_arg: int | None = None
        self.kwargs: dict[str, Any] = {}
        self._solve: tuple[int, GenericLazyTensor] | None = None
        if x is not None:
            self._from_value(x, axis)

    # -- construction --------------------------------------------------------------------------

    def _from_value(self, x: Any, axis: int | None) -> None:
        tools = self.tools
        if tools.is_array(x):  # the common case first: numbers' ABC checks are slow
            self._from_array(x, axis)
            return
        if isinstance(x, tuple):
            if len(x) != 3 or not all(isinstance(v, Integral) for v in x):
                raise KirError(f"LazyTensor(tuple) takes (index, dim, category), three integers, got {x!r}")
            if axis is not None:
                raise KirError("'axis' is not given with LazyTensor((index, dim, category))")
            index, dim, category = (int(v) for v in x)
            if category not in CATEGORIES:
                raise KirError(f"a variable's category is 0 (i), 1 (j) or 2 (parameter), got {category}")
            self.formula = variable(index, dim, CATEGORIES[category])
            self.symbolic = {index: (dim, category)}
            self.axis = category
            return
        if isinstance(x, Integral) and not isinstance(x, bool):
            self.formula = constant(float(x))
            self.axis = 2
            return
        if isinstance(x, Real) and not isinstance(x, bool):
            x = [float(x)]
        if isinstance(x, list):
            if axis not in (None, 2):
                raise KirError("a list of numbers is a parameter: 'axis' is None or 2")
            if not x or not all(isinstance(v, Real) for v in x):
                raise KirError(f"a LazyTensor list holds real numbers, got {x!r}")
            self._leaf([float(v) for v in x], "p", len(x))
            return
        raise KirError(
            f"LazyTensors are built from a {tools.arrayname}, numbers, lists of numbers or "
            f"(index, dim, category) triples, got {type(x).__name__}"
        )

    def _from_array(self, x: Any, axis: int | None) -> None:
        tools = self.tools
        self._dtype = tools.dtype_name(x)
        if self._dtype not in ("float32", "float64"):
            raise ArgumentError(f"LazyTensor data must be float32 or float64, got {self._dtype}")
        shape = tuple(x.shape)
        if len(shape) == 0:
            x, shape = x.reshape((1,)), (1,)
        if len(shape) >= 3:
            if axis is not None:
                raise KirError(f"'axis' is not given with an array of {len(shape)} dimensions {shape}")
            self.batchdims = shape[:-3] if len(shape) > 3 else None
            if shape[-3] == 1 and shape[-2] == 1:
                x, axis = x.reshape(shape[:-3] + shape[-1:]), 2
            elif shape[-3] == 1:
                x, axis = x.reshape(shape[:-3] + shape[-2:]), 1
            elif shape[-2] == 1:
                x, axis = x.reshape(shape[:-2] + shape[-1:]), 0
            else:
                raise KirError(
                    f"an array of shape {shape} is not a LazyTensor: expected (..., M, 1, D) for an "
                    "i-variable, (..., 1, N, D) for a j-variable or (..., 1, 1, D) for a parameter"
                )
        elif len(shape) == 2 and axis != 2:
            if axis not in (0, 1):
                raise KirError(
                    f"a 2D array of shape {shape} needs axis=0 (an i-variable) or axis=1 (a j-variable), "
                    f"got axis={axis!r}"
                )
        elif len(shape) == 1 or axis == 2:
            if len(shape) != 1:
                raise KirError(
                    "a parameter is a 1D array (D,), or (..., 1, 1, D) with batch dimensions; "
                    f"got shape {shape}"
                )
            if axis not in (None, 2):
                raise KirError(f"a 1D array of shape {shape} is a parameter: axis is None or 2, got {axis}")
            axis = 2
        category = CATEGORIES[axis]
        if category == "i":
            self.ni = x.shape[-2]
        elif category == "j":
            self.nj = x.shape[-2]
        self._leaf(x, category, x.shape[-1])

    def _leaf(self, data: Any, category: str, dim: int) -> None:
        position = next(_leaf_positions)
        self.formula = variable(position, dim, category)
        self.variables = {position: data}
        self.axis = AXES[category]

    def _new(self, is_complex: bool = False) -> GenericLazyTensor:
        """An empty LazyTensor of the same library (complex or not)."""
        raise NotImplementedError

    def lt_constructor(self, x: Any = None, axis: int | None = None) -> GenericLazyTensor:
        """A LazyTensor of the same library made from `x` (pykeops' name)."""
        raise NotImplementedError

    def _lift(self, x: Any) -> GenericLazyTensor:
        return x if is_lazy(x) else self.lt_constructor(x)

    # -- combining -----------------------------------------------------------------------------

    def _joined(self, operands: list[GenericLazyTensor], is_complex: bool, what: str) -> GenericLazyTensor:
        """A LazyTensor holding the variables and sizes of all `operands` (checked to agree)."""
        tools = type(self).tools
        for t in operands:
            if t.reduction_op is not None:
                raise KirError(f"{what}: an operand is a reduced LazyTensor; no operation applies to it")
            if type(t).tools is not tools:
                raise KirError(f"{what}: LazyTensors of {tools.name} and {t.tools.name} do not mix")
        res = self._new(is_complex)
        first = operands[0]
        if len(operands) == 1:  # a unary op: nothing to reconcile
            res._dtype, res.ni, res.nj, res.backend = first._dtype, first.ni, first.nj, first.backend
            res.batchdims, res.ranges = first.batchdims, first.ranges
            res.variables, res.symbolic = dict(first.variables), dict(first.symbolic)
            return res
        labels = {
            "_dtype": "dtypes",
            "ni": "numbers of i-rows",
            "nj": "numbers of j-rows",
            "backend": "backends",
        }
        for name, label in labels.items():
            value = None
            for t in operands:
                other = getattr(t, name)
                if other is None:
                    continue
                if value is not None and other != value:
                    spelled = " and ".join(f"{t.shape} ({getattr(t, name)})" for t in operands)
                    raise ArgumentError(f"{what}: incompatible {label} of shapes {spelled}")
                value = other
            setattr(res, name, value)
        batches = [t.batchdims for t in operands if t.batchdims is not None]
        if len(batches) == 1:
            res.batchdims = batches[0]
        elif batches:
            try:
                res.batchdims = tuple(np.broadcast_shapes(*batches))
            except ValueError:
                spelled = " and ".join(str(t.shape) for t in operands)
                raise ArgumentError(f"{what}: batch dimensions do not broadcast: shapes {spelled}") from None
        for t in operands:
            if t.ranges is not None:
                res.ranges = t.ranges
                break
        for t in operands:
            res.variables.update(t.variables)
            res.symbolic.update(t.symbolic)
        return res

    def _apply(self, function: Any, *others: Any, is_complex: bool | None = None, what: str = "") -> Any:
        """`function` of the formulas of self and `others` (LazyTensors or values)."""
        operands = [self, *(self._lift(o) for o in others)]
        if is_complex is None:
            is_complex = any(t.is_complex for t in operands)
        what = what or getattr(function, "__name__", "operation")
        res = self._joined(operands, is_complex, what)
        try:
            res.formula = function(*(t.formula for t in operands))
        except FormulaError as error:
            shapes = " and ".join(str(t.shape) for t in operands)
            raise FormulaError(f"{what} of LazyTensors of shapes {shapes}: {error}") from None
        return res

    # -- shape and printing --------------------------------------------------------------------

    @property
    def ndim(self) -> int:
        """The formula's dimension D (pykeops' `ndim`)."""
        return self.formula.dim if self.formula is not None else 1

    @property
    def nbatchdims(self) -> int:
        return 0 if self.batchdims is None else len(self.batchdims)

    @property
    def _shape(self) -> tuple[int, ...]:
        return (self.batchdims or ()) + (self.ni or 1, self.nj or 1, self.ndim)

    @property
    def shape(self) -> tuple[int, ...]:
        """(..., M, N, D), D left out when it is 1 (as pykeops)."""
        shape = self._shape
        return shape[:-1] if shape[-1] == 1 else shape

    def dim(self) -> int:
        return len(self._shape)

    @property
    def dtype(self) -> str | None:
        return self._dtype

    def __str__(self) -> str:
        formula, formula2, _ = self._canonical()
        lines = ["kir LazyTensor", f"    formula: {formula!r}", f"    shape: {self.shape}"]
        if self.reduction_op is not None:
            lines.append(f"    reduction: {self.reduction_op} (axis={self.axis})")
            if formula2 is not None:
                lines.append(f"        formula2: {formula2!r}")
            if self.opt_arg is not None:
                lines.append(f"        opt_arg: {self.opt_arg}")
        return "\n".join(lines)

    __repr__ = __str__

    # -- evaluation ----------------------------------------------------------------------------

    def _canonical(self) -> tuple[Expr, Expr | None, list[int]]:
        """The formulas with data leaves renumbered after the symbolic variables, in order of
        first use, and the leaves' old positions in argument order."""
        roots = [self.formula] + ([self.formula2] if self.formula2 is not None else [])
        used = variable_positions(roots)
        symbolic = sorted(p for p in used if p < LEAF_BASE)
        if symbolic != list(range(len(symbolic))):
            raise ArgumentError(
                "symbolic variables are numbered from 0 without gaps (they are the arguments of the "
                f"call, in order); this formula has positions {symbolic}"
            )
        first = len(symbolic)
        leaves = [p for p in used if p >= LEAF_BASE]
        positions = {old: first + k for k, old in enumerate(leaves)}
        rebuilt = rebuild(roots, positions)
        return rebuilt[0], (rebuilt[1] if len(rebuilt) > 1 else None), leaves

    def _leaf_array(self, position: int, dtype: str, like: Any) -> Any:
        data = self.variables[position]
        if isinstance(data, list):
            return self.tools.array(data, dtype, like)
        return data

    def _reduction_dtype(self, args: tuple) -> str:
        if self._dtype is not None:
            return self._dtype
        for a in args:
            if self.tools.is_array(a):
                return self.tools.dtype_name(a)
        return "float32"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The reduction on the LazyTensor's arrays, with `args` for its symbolic variables."""
        if self.reduction_op is None:
            raise KirError("only a reduced LazyTensor (made with call=False) can be called")
        options = {**self.kwargs, **kwargs}
        ranges = options.pop("ranges", None) or self.ranges
        backend = options.pop("backend", None) or self.backend
        options.pop("device_id", None)
        out = options.pop("out", None)
        accumulator = engine.check_options(
            backend, options.pop("dtype_acc", "auto"), options.pop("use_double_acc", False)
        )
        progress = options.pop("progress", False)
        alpha, eps = options.pop("alpha", 1e-10), options.pop("eps", 1e-6)
        for name in INIT_OPTIONS:
            options.pop(name, None)  # chunking, summation scheme, fast math: kir decides these
        if options:
            raise KirError(f"unknown reduction options: {', '.join(sorted(options))}")
        formula, formula2, leaves = self._canonical()
        dtype = self._reduction_dtype(args)
        like = next((a for a in [*args, *self.variables.values()] if self.tools.is_array(a)), None)
        if self._solve is not None:
            arrays = [*args, *(a for a in self.variables.values() if self.tools.is_array(a))]
            with engine.on_backend(backend, arrays):
                return self._call_solve(formula, leaves, args, dtype, like, alpha, eps, ranges, progress)
        kernel = kernel_for(formula, self.reduction_op, self.axis, self.opt_arg, formula2)
        symbolic_count = len(kernel.args) - len(leaves)
        if len(args) != symbolic_count:
            raise ArgumentError(
                f"this reduction takes {symbolic_count} arrays for its symbolic variables, got {len(args)}"
            )
        arrays = [*args, *(self._leaf_array(p, dtype, like) for p in leaves)]
        result = engine.run(kernel, arrays, ranges, accumulator, out, backend)
        result = engine.unflatten_ranks(result, self.reduction_op, formula.dim, self.opt_arg)
        return self._postprocess(result)

    def _postprocess(self, result: Any) -> Any:
        return result

    def _call_solve(self, formula, leaves, args, dtype, like, alpha, eps, ranges, progress) -> Any:
        from .solve import solve_linear

        var_position, other = self._solve
        kernel = kernel_for(formula, "Sum", self.axis, None, None)
        positions = {old: len(kernel.args) - len(leaves) + k for k, old in enumerate(leaves)}
        symbolic_count = len(kernel.args) - len(leaves)
        given = list(args)
        if other.symbolic:
            (b_position,) = other.symbolic
            if b_position >= len(given):
                raise ArgumentError(f"solve: no array given for the right-hand side, variable {b_position}")
            b = given[b_position]
        else:
            (b,) = other.variables.values()
        arrays: list[Any] = [None] * len(kernel.args)
        for k in range(symbolic_count):
            if k == var_position:
                continue
            if k >= len(given):
                raise ArgumentError(f"solve: no array given for symbolic variable {k}")
            arrays[k] = given[k]
        for old in leaves:
            if old != var_position:
                arrays[positions[old]] = self._leaf_array(old, dtype, like)
        target = positions.get(var_position, var_position)
        arrays[target] = b
        return solve_linear(kernel, arrays, target, alpha=alpha, eps=eps, ranges=ranges, progress=progress)

    def dense(self) -> Any:
        """The (..., M, N, D) tensor itself, for small cases (not differentiable)."""
        from .dense import dense_values

        if self.reduction_op is not None:
            raise KirError("dense() applies to a LazyTensor before its reduction")
        if self.symbolic:
            raise KirError("dense() needs data for every variable; this LazyTensor has symbolic ones")
        formula, _, leaves = self._canonical()
        dtype = self._dtype or "float32"
        like = next((a for a in self.variables.values() if self.tools.is_array(a)), None)
        arrays = [np.asarray(_to_numpy(self._leaf_array(p, dtype, like))) for p in leaves]
        values = dense_values(formula, arrays, self.ni or 1, self.nj or 1, self.batchdims or ()).astype(dtype)
        result = values if self.tools.name == "numpy" else self.tools.array(values, dtype, like)
        return self._postprocess(result)


def _to_numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x
