"""Vi, Vj, Pm: pykeops' shorthands for LazyTensors, for either front-end."""

from __future__ import annotations

from typing import Any


def make_shorthands(lazy_tensor: type) -> tuple[Any, Any, Any, Any]:
    """(Var, Vi, Vj, Pm) building `lazy_tensor`s: from data, or symbolic with (index, dim)."""

    def Var(x_or_index: Any, dim: int | None = None, cat: int | None = None) -> Any:  # noqa: N802
        """A variable of category `cat` (0: i, 1: j, 2: parameter)."""
        if dim is None:
            return lazy_tensor(x_or_index, axis=cat)
        return lazy_tensor((x_or_index, dim, cat))

    def Vi(x_or_index: Any, dim: int | None = None) -> Any:  # noqa: N802
        """An i-variable: Vi(x) for x of shape (M, D), or Vi(index, dim) symbolic."""
        return Var(x_or_index, dim, 0)

    def Vj(x_or_index: Any, dim: int | None = None) -> Any:  # noqa: N802
        """A j-variable: Vj(y) for y of shape (N, D), or Vj(index, dim) symbolic."""
        return Var(x_or_index, dim, 1)

    def Pm(x_or_index: Any, dim: int | None = None) -> Any:  # noqa: N802
        """A parameter: Pm(p) for p of shape (D,) or a number, or Pm(index, dim) symbolic."""
        return Var(x_or_index, dim, 2)

    return Var, Vi, Vj, Pm
