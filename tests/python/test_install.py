"""The packaging step behind `pip install ./python` ships librmc.so inside the package.

The test runs setup.py's build_py (the step pip runs, with our copy of the library) on a
copy of the python/ and build/ layout, offline; a full `pip install ./python` needs
setuptools and wheel from the package index for its isolated build.
"""

import os
import shutil
import subprocess
import sys

import pytest

import rmc

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_build_step_ships_the_library(tmp_path):
    # The library this package loaded (build/ by default, or $RMC_LIBRARY's), which is
    # current with the package; an older build/librmc.so may lack newer symbols.
    built = os.path.realpath(rmc._lib.library_path)
    if not os.path.exists(built):
        pytest.skip("no librmc.so file to ship (loaded %s)" % rmc._lib.library_path)
    # A copy of the layout pip sees (python/ next to build/), so the checkout stays clean.
    shutil.copytree(os.path.join(ROOT, "python"), tmp_path / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                  "*.so"))
    os.makedirs(tmp_path / "build")
    shutil.copyfile(built, tmp_path / "build" / "librmc.so")
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib",
                          str(target)], cwd=str(tmp_path / "python"), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (target / "rmc" / "librmc.so").exists()

    env = {k: v for k, v in os.environ.items() if k not in ("RMC_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    code = "import rmc; print(rmc._lib.library_path, rmc.version())"
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(target / "rmc" / "librmc.so"), rmc.version()]
