"""Compiled kernels on disk, so that a new process loads machine code instead of compiling.

Where: `KIR_CACHE_DIR` when set, else `$XDG_CACHE_HOME/kir`, else `~/.cache/kir`;
`KIR_DISK_CACHE=0` turns the disk cache off. A folder that is empty (or new) is a cold start.

An entry is one file named by the SHA-256 of everything the machine code depends on: the
kernel's structure and dtype, its passes and schedule, the host CPU (name and features), the
LLVM and llvmlite versions, and kir's own source (the sizes and modification times of its
modules, so that an edited checkout never loads code an older version made). The file holds a
header (a magic line, then JSON with the SIMD width and the code's SHA-256) and the object code.
A file that is truncated, corrupt or of another format is ignored (and replaced by the next
compile). Entries are written to a temporary file in the same folder and renamed into place, so
a reader sees a whole entry or none, even with several processes at work.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from functools import cache
from pathlib import Path

MAGIC = b"kir-object-1\n"
SUFFIX = ".kirobj"
_warned = False


def enabled() -> bool:
    """False when `KIR_DISK_CACHE=0`."""
    return os.environ.get("KIR_DISK_CACHE", "1").strip().lower() not in ("0", "false", "off", "no")


def cache_directory() -> Path:
    """The folder the entries live in (not created until an entry is stored)."""
    chosen = os.environ.get("KIR_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kir"


@cache
def toolchain_fingerprint() -> str:
    """What, besides the kernel, the machine code depends on: CPU, LLVM and kir's sources."""
    import llvmlite
    import llvmlite.binding as llvm

    import kir
    from kir.backends.cpu.jit import host_cpu

    parts = [
        f"kir {kir.__version__}",
        f"llvmlite {llvmlite.__version__}",
        f"llvm {'.'.join(map(str, llvm.llvm_version_info))}",
        "cpu {} {}".format(*host_cpu()),
        f"triple {llvm.get_process_triple()}",
    ]
    for folder in _source_folders():
        _describe_sources(folder, parts)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _describe_sources(folder: str, parts: list[str]) -> None:
    """Append 'path size mtime' for every Python module under `folder` (scandir: one call per folder)."""
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            if not entry.name.startswith((".", "__")):
                _describe_sources(entry.path, parts)
        elif entry.name.endswith(".py"):
            stat = entry.stat()
            parts.append(f"{entry.path} {stat.st_size} {stat.st_mtime_ns}")


def _source_folders() -> list[str]:
    """The folders of kir's packages (an editable install maps some outside kir/), nested ones once."""
    import importlib

    # kir's own folder comes first in its __path__ (a checkout may follow it, for `python -m kir`).
    folders = [os.path.abspath(importlib.import_module("kir").__path__[0])]
    for name in ("kir.passes", "kir.backends", "kir.frontends"):
        folders.extend(os.path.abspath(p) for p in importlib.import_module(name).__path__)
    folders = sorted(set(folders))
    return [f for f in folders if not any(f.startswith(other + os.sep) for other in folders if other != f)]


def entry_path(key: str) -> Path:
    """The file of the entry for `key` (a text naming the kernel, its dtype and its passes)."""
    digest = hashlib.sha256(f"{toolchain_fingerprint()}\n{key}".encode()).hexdigest()
    return cache_directory() / f"{digest}{SUFFIX}"


def load(key: str) -> tuple[dict, bytes] | None:
    """The metadata and object code stored for `key`, or None (absent, disabled or damaged)."""
    if not enabled():
        return None
    try:
        data = entry_path(key).read_bytes()
    except OSError:
        return None
    if not data.startswith(MAGIC):
        return None
    header_end = data.find(b"\n", len(MAGIC))
    if header_end < 0:
        return None
    try:
        meta = json.loads(data[len(MAGIC) : header_end])
    except ValueError:
        return None
    code = data[header_end + 1 :]
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(code).hexdigest():
        return None
    return meta, code


def store(key: str, meta: dict, code: bytes) -> None:
    """Keep `code` (and `meta`, JSON-able) for `key`; a folder that cannot be written only warns."""
    global _warned
    if not enabled():
        return
    path = entry_path(key)
    header = json.dumps({**meta, "sha256": hashlib.sha256(code).hexdigest()}, sort_keys=True).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(MAGIC + header + b"\n" + code)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        if not _warned:
            _warned = True
            warnings.warn(
                f"kir: cannot write the kernel cache in {path.parent} ({error}); compiled kernels "
                "are kept in memory only (set KIR_CACHE_DIR to a writable folder, or KIR_DISK_CACHE=0)",
                stacklevel=3,
            )
