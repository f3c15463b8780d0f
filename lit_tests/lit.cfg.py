# -*- Python -*-
"""lit configuration for kir's FileCheck tests.

Run from the repository root: `lit -v lit_tests`.
"""

import os
import shutil
import sys

import lit.formats

config.name = "kir"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "README.md", "Inputs"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = config.test_source_root

# Look next to the Python running lit first (the environment kir is installed in), then PATH.
_search_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def _tool(name: str, module: str) -> str:
    """The console script `name`, or `python -m module` when it is not installed as a script."""
    found = shutil.which(name, path=_search_path)
    if found:
        return found
    return f"{sys.executable} -m {module}"


# A tool name is replaced only where it stands as a word of the RUN line (not inside a path).
config.substitutions.append((r"(?<![\w/.-])kir-opt(?![\w.-])", _tool("kir-opt", "kir.opt")))
config.substitutions.append((r"(?<![\w/.-])filecheck(?![\w.-])", _tool("filecheck", "filecheck")))

# Pass through what the tools need to start (pyenv shims, a virtual environment, temp files).
for variable in ("PATH", "PYTHONPATH", "HOME", "TMPDIR", "VIRTUAL_ENV", "PYENV_ROOT", "PYENV_VERSION"):
    if variable in os.environ:
        config.environment[variable] = os.environ[variable]

if shutil.which("ptxas"):
    config.available_features.add("ptxas")

try:  # the CUDA back-end's PTX needs libdevice (backends/cuda/ptx.py finds it)
    sys.path.insert(0, os.path.dirname(config.test_source_root))
    from kir.backends.cuda.ptx import find_libdevice

    find_libdevice()
    config.available_features.add("libdevice")
except Exception:  # noqa: BLE001 - no libdevice: the tests that need it are unsupported
    pass
finally:
    sys.path.pop(0)
