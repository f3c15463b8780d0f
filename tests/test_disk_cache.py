"""The disk cache of machine code (kir/runtime/disk_cache.py): a new process loads, not compiles."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kir
from kir import kernel as kernel_module
from kir.runtime import disk_cache

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
FORMULA = "Exp(-SqDist(x, y) * 0.625) * b"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder, and no machine code kept in memory from earlier tests."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("KIR_CACHE_DIR", str(folder))
    monkeypatch.delenv("KIR_DISK_CACHE", raising=False)
    monkeypatch.setattr(kernel_module, "_MACHINE_CODE", type(kernel_module._MACHINE_CODE)())
    return folder


def _arrays(rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.normal(size=s).astype(np.float32) for s in ((37, 3), (53, 3), (53, 1))]


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{disk_cache.SUFFIX}")) if folder.exists() else []


def _forget_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_module, "_MACHINE_CODE", type(kernel_module._MACHINE_CODE)())


def test_an_empty_folder_is_a_cold_start_and_the_next_build_loads(cache_dir, rng, monkeypatch) -> None:
    arrays = _arrays(rng)
    first = kir.compile(FORMULA, ALIASES)
    expected = first(*arrays)
    assert first._compile("float32").jit.optimized  # compiled from the formula
    assert len(_entries(cache_dir)) == 1

    _forget_in_memory(monkeypatch)
    again = kir.compile(FORMULA, ALIASES)
    loaded = again._compile("float32")
    assert not loaded.jit.optimized  # loaded from the object file, nothing compiled
    assert loaded.lanes == first._compile("float32").lanes
    np.testing.assert_array_equal(again(*arrays), expected)


def test_entries_differ_by_formula_dtype_and_schedule(cache_dir, rng) -> None:
    kernel = kir.compile(FORMULA, ALIASES)
    kernel._compile("float32")
    kernel._compile("float64")
    kir.compile("Exp(-SqDist(x, y) * 0.75) * b", ALIASES)._compile("float32")
    kir.compile(FORMULA, ALIASES).use_schedule(kir.pipeline.Schedule(lanes=1, rows=1))._compile("float32")
    assert len(_entries(cache_dir)) == 4


def test_names_of_variables_do_not_change_the_code(cache_dir) -> None:
    one = kir.compile(FORMULA, ALIASES)
    other = kir.compile("Exp(-SqDist(p, q) * 0.625) * w", ["p = Vi(3)", "q = Vj(3)", "w = Vj(1)"])
    assert one.cache_key("float32") == other.cache_key("float32")
    assert one.cache_key("float32") != one.cache_key("float64")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"garbage",
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    ],
    ids=["truncated", "foreign", "flipped"],
)
def test_a_damaged_entry_is_ignored_and_replaced(cache_dir, rng, monkeypatch, damage) -> None:
    arrays = _arrays(rng)
    expected = kir.compile(FORMULA, ALIASES)(*arrays)
    (entry,) = _entries(cache_dir)
    entry.write_bytes(damage(entry.read_bytes()))

    _forget_in_memory(monkeypatch)
    kernel = kir.compile(FORMULA, ALIASES)
    np.testing.assert_array_equal(kernel(*arrays), expected)
    assert kernel._compile("float32").jit.optimized  # compiled again
    assert disk_cache.load(kernel.cache_key("float32")) is not None  # and stored whole


def test_the_disk_cache_can_be_turned_off(cache_dir, rng, monkeypatch) -> None:
    monkeypatch.setenv("KIR_DISK_CACHE", "0")
    kir.compile(FORMULA, ALIASES)(*_arrays(rng))
    assert _entries(cache_dir) == []


def test_an_unwritable_folder_warns_once_and_still_computes(tmp_path, rng, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KIR_CACHE_DIR", str(blocker / "cache"))
    _forget_in_memory(monkeypatch)
    monkeypatch.setattr(disk_cache, "_warned", False)
    arrays = _arrays(rng)
    with pytest.warns(UserWarning, match="cannot write the kernel cache"):
        result = kir.compile(FORMULA, ALIASES)(*arrays)
    assert result.shape == (37, 1)


def test_the_default_folder_is_the_user_cache(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("KIR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert disk_cache.cache_directory() == tmp_path / "kir"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert disk_cache.cache_directory() == Path(os.path.expanduser("~")) / ".cache" / "kir"


SCRIPT = textwrap.dedent(
    """
    import numpy as np, kir
    kernel = kir.compile("Exp(-SqDist(x, y) * 0.375) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
    rng = np.random.default_rng(0)
    out = kernel(*(rng.normal(size=s).astype(np.float32) for s in ((20, 3), (30, 3), (30, 1))))
    print("compiled" if kernel._compile("float32").jit.optimized else "loaded", float(out.sum()))
    """
)


def test_a_new_process_loads_what_another_compiled(tmp_path) -> None:
    environment = {**os.environ, "KIR_CACHE_DIR": str(tmp_path / "shared")}
    environment.pop("KIR_DISK_CACHE", None)

    def run() -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True, check=True
        )
        return result.stdout.split()

    first, second = run(), run()
    assert first[0] == "compiled" and second[0] == "loaded"
    assert first[1] == second[1]
