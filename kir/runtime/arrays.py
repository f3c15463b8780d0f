"""Checking and converting the arrays a kernel is called with (NumPy, torch; device arrays' shapes).

Every check names the argument, what was expected and what came. Inputs are never modified:
a non-contiguous or non-native-byte-order array is copied, never rewritten.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kir.errors import ArgumentError

DTYPES = {"float32": np.float32, "float64": np.float64}
SHORT_DTYPES = {"float32": "f32", "float64": "f64"}
_NAMES = {np.float32: "float32", np.float64: "float64"}


@dataclass(frozen=True)
class ArgumentSpec:
    """What a kernel expects at one argument position."""

    position: int
    name: str
    dim: int
    category: str  # 'i', 'j' or 'p'

    def describe(self) -> str:
        rows = {"i": "(M, {d})", "j": "(N, {d})", "p": "({d},)"}[self.category]
        return f"argument {self.position} ('{self.name}', {rows.format(d=self.dim)})"


def is_torch_tensor(value: object) -> bool:
    """True for a torch.Tensor, without importing torch when the caller never did."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_numpy(value: object, spec: ArgumentSpec) -> np.ndarray:
    """A NumPy view (or copy) of one argument; torch CPU tensors are shared, not copied."""
    if is_torch_tensor(value):
        if value.device.type != "cpu":
            raise ArgumentError(
                f"{spec.describe()} is on {value.device}; kir runs on the CPU and on CUDA devices "
                "(all arguments on one of them)"
            )
        value = value.detach().numpy()
    if not isinstance(value, np.ndarray):
        raise ArgumentError(
            f"{spec.describe()} must be a NumPy array or a torch tensor, got {type(value).__name__}"
        )
    return value


def check_arguments(
    values: Sequence[object], specs: Sequence[ArgumentSpec], dtype: str | None, packed: str | None = None
) -> tuple[list[np.ndarray], str, int, int]:
    """Validated arrays, their dtype name, and the sizes (M, N). Arrays are C-contiguous except
    those of category `packed` (the reduced index), which the launch copies into lane groups
    anyway: a strided or transposed view of them is read as it is, with no copy before."""
    check_count(len(values), specs)
    arrays = [to_numpy(v, s) for v, s in zip(values, specs, strict=True)]
    # dtype.name is slow (a string built per call); the scalar types say the same.
    names = [_NAMES.get(a.dtype.type) or str(a.dtype) for a in arrays]
    found, size_i, size_j = check_layout([a.shape for a in arrays], names, specs, dtype)
    checked = []
    for array, spec in zip(arrays, specs, strict=True):
        if spec.category == "p" and array.ndim == 2:
            array = array.reshape(-1)
        if spec.category != packed:
            array = np.ascontiguousarray(array)
        checked.append(array.astype(array.dtype.newbyteorder("="), copy=False))
    return checked, found, size_i, size_j


def check_count(count: int, specs: Sequence[ArgumentSpec]) -> None:
    """An ArgumentError unless `count` arguments were given for `specs`."""
    if count != len(specs):
        expected = ", ".join(s.name for s in specs)
        raise ArgumentError(f"the kernel takes {len(specs)} arguments ({expected}), got {count}")


def check_layout(
    shapes: Sequence[tuple[int, ...]], dtypes: Sequence[str], specs: Sequence[ArgumentSpec], dtype: str | None
) -> tuple[str, int | None, int | None]:
    """The checks on arguments' shapes and dtype names (every array kind, device arrays
    included): their dtype name and the sizes (M, N)."""
    check_count(len(shapes), specs)
    for name, spec in zip(dtypes, specs, strict=True):
        if name not in DTYPES:
            raise ArgumentError(f"{spec.describe()} has dtype {name}; kir takes float32 or float64")
    if len(set(dtypes)) > 1:
        spelled = ", ".join(f"{s.name}: {d}" for d, s in zip(dtypes, specs, strict=True))
        raise ArgumentError(f"arguments must share one dtype, got {spelled}")
    found = dtypes[0] if dtypes else (dtype or "float32")
    if dtype is not None and found != dtype:
        raise ArgumentError(f"the kernel was compiled for {dtype}, the arguments are {found}")
    sizes: dict[str, tuple[int, ArgumentSpec]] = {}
    for shape, spec in zip(shapes, specs, strict=True):
        shape = tuple(shape)
        if spec.category == "p":
            if shape not in ((spec.dim,), (1, spec.dim)):
                raise ArgumentError(f"{spec.describe()}: expected shape ({spec.dim},), got {shape}")
            continue
        if len(shape) != 2 or shape[1] != spec.dim:
            rows = "M" if spec.category == "i" else "N"
            raise ArgumentError(
                f"{spec.describe()}: expected a 2D array of shape ({rows}, {spec.dim}), got shape {shape}"
            )
        first = sizes.setdefault(spec.category, (shape[0], spec))
        if first[0] != shape[0]:
            raise ArgumentError(
                f"{spec.describe()} has {shape[0]} rows but {first[1].describe()} has "
                f"{first[0]}: all {spec.category}-variables must have the same number of rows"
            )
    size_i = sizes["i"][0] if "i" in sizes else None
    size_j = sizes["j"][0] if "j" in sizes else None
    return found, size_i, size_j


def reduced_sizes(axis: int, size_i: int | None, size_j: int | None) -> tuple[int, int]:
    """(output rows, reduced rows) of a call reducing over `axis`; an ArgumentError when the
    formula has no variable of an index, so that its size is unknown."""
    rows, reduced = (size_i, size_j) if axis == 1 else (size_j, size_i)
    for size, index, what in (
        (rows, "i" if axis == 1 else "j", "number of output rows"),
        (reduced, "j" if axis == 1 else "i", "size of the reduced index"),
    ):
        if size is None:
            raise ArgumentError(f"the formula has no {index}-variable, so the {what} is unknown")
    return rows, reduced
