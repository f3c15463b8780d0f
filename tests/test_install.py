"""`pip install .` (not editable) into a fresh virtual environment gives one package, kir."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_has_one_top_level_package(tmp_path: Path) -> None:
    # The venv sees the already-installed dependencies (xdsl, llvmlite, numpy) through the system
    # site-packages, so the test needs no network; kir itself is built from this checkout.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            str(ROOT),
        ],
        check=True,
        cwd=tmp_path,
    )
    probe = (
        "import kir, kir.passes, kir.backends.cpu, kir.frontends, kir.frontends.dsl, sys, sysconfig;"
        "print(kir.__file__); print(sysconfig.get_paths()['purelib'])"
    )
    output = subprocess.run(
        [str(python), "-c", probe], check=True, cwd=tmp_path, capture_output=True, text=True
    )
    kir_file, site_packages = output.stdout.split()
    assert Path(kir_file).is_relative_to(env_dir), f"imported kir from {kir_file}, not from the venv"
    top_level = {
        p.name for p in Path(site_packages).iterdir() if not p.name.endswith((".dist-info", ".pth"))
    } - {"__pycache__"}
    assert top_level == {"kir"}, f"unexpected top-level entries in site-packages: {sorted(top_level)}"
    for package in ("passes", "backends/cpu", "frontends", "frontends/lazy", "numpy", "torch"):
        assert (Path(site_packages) / "kir" / package / "__init__.py").exists()

    run = (
        "import numpy as np, kir;"
        "k = kir.compile('Exp(-SqDist(x,y))*b', ['x=Vi(3)','y=Vj(3)','b=Vj(1)']);"
        "print(k(np.zeros((2,3)), np.zeros((4,3)), np.ones((4,1)))[0,0]);"
        # The pykeops-compatible front-ends too (kir.numpy needs no torch).
        "import kir.numpy, kir.numpy.cluster;"
        "assert (kir.numpy.Vi(np.zeros((2,3))).sqdist(kir.numpy.Vj(np.zeros((4,3)))).sum(1) == 0).all();"
        # The checkout's editable install is visible through the system site-packages: every
        # kir module used must still come from the wheel (a package missing from pyproject's
        # list would otherwise be found in the checkout).
        "import sys; print(*sorted({m.__file__ for n, m in sys.modules.items()"
        " if n.split('.')[0] == 'kir' and getattr(m, '__file__', None)}), sep='\\n')"
    )
    result = subprocess.run(
        [str(python), "-c", run], check=True, cwd=tmp_path, capture_output=True, text=True
    )
    value, *module_files = result.stdout.split("\n")
    assert value.strip() == "4.0"
    outside = [f for f in module_files if f and not Path(f).is_relative_to(env_dir)]
    assert not outside, f"kir modules imported from outside the installed wheel: {outside}"
