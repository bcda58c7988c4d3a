"""`cmake --install` gives a prefix that C programs can build against, two ways.

The test installs the build folder that holds the library this Python package loaded
(build/ by default, or the folder of $RMC_LIBRARY) into a temporary prefix, then compiles
examples/quickstart.c against it once with pkg-config and once with CMake's
find_package(rmc), and runs both programs.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

import rmc

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
QUICKSTART = os.path.join(ROOT, "examples", "quickstart.c")


def _build_dir():
    """The CMake build folder of the loaded librmc, or skip when it is not one."""
    folder = os.path.dirname(os.path.realpath(rmc._lib.library_path))
    if not os.path.exists(os.path.join(folder, "CMakeCache.txt")):
        pytest.skip("the loaded librmc (%s) is not in a CMake build folder"
                    % rmc._lib.library_path)
    script = os.path.join(folder, "cmake_install.cmake")
    with open(script) as f:
        if "rmc.pc" not in f.read():
            pytest.skip("%s was configured before the install rules existed: re-run "
                        "cmake on it" % folder)
    return folder


def _run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(cmd), out.stdout, out.stderr)
    return out.stdout


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    if not shutil.which("cmake"):
        pytest.skip("cmake is not installed")
    build = _build_dir()
    where = tmp_path_factory.mktemp("prefix")
    _run(["cmake", "--install", build, "--prefix", str(where)])
    return where


def _check_quickstart(exe, env=None):
    out = _run([str(exe)], env=env)
    mean = float(re.search(r"posterior mean of beta: ([-0-9.]+)", out).group(1))
    assert abs(mean - 2.5) < 0.2, out


def test_install_layout(prefix):
    lib = "lib"
    if not (prefix / lib / "librmc.so").exists():
        lib = next(p.parent.relative_to(prefix) for p in prefix.rglob("librmc.so"))
    assert (prefix / "include" / "rmc.h").exists()
    assert (prefix / lib / "pkgconfig" / "rmc.pc").exists()
    assert (prefix / lib / "cmake" / "rmc" / "rmcConfig.cmake").exists()
    assert (prefix / lib / "cmake" / "rmc" / "rmcConfigVersion.cmake").exists()


def test_pkg_config_build(prefix, tmp_path):
    if not shutil.which("pkg-config") or not shutil.which("cc"):
        pytest.skip("pkg-config or cc is not installed")
    pc_dirs = [str(p.parent) for p in prefix.rglob("rmc.pc")]
    env = dict(os.environ, PKG_CONFIG_PATH=os.pathsep.join(pc_dirs))
    assert _run(["pkg-config", "--modversion", "rmc"], env=env).strip() == rmc.version()
    flags = _run(["pkg-config", "--cflags", "--libs", "rmc"], env=env).split()
    exe = tmp_path / "quickstart"
    _run(["cc", "-O2", QUICKSTART, "-o", str(exe)] + flags + ["-lm"])
    libdirs = [f[2:] for f in flags if f.startswith("-L")]
    run_env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(libdirs))
    _check_quickstart(exe, env=run_env)


def test_cmake_find_package_build(prefix, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(QUICKSTART, src / "quickstart.c")
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.18)\n"
        "project(consumer C)\n"
        "find_package(rmc %s REQUIRED)\n"
        "add_executable(quickstart quickstart.c)\n"
        "target_link_libraries(quickstart PRIVATE rmc::rmc m)\n" % rmc.version())
    build = tmp_path / "build"
    _run(["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_PREFIX_PATH=%s" % prefix])
    _run(["cmake", "--build", str(build)])
    # CMake records the imported library's folder as the executable's build-tree RPATH.
    _check_quickstart(build / "quickstart")


def test_versions_agree():
    """The C library, the Python package metadata and the CMake project share a version."""
    assert rmc.__version__ == rmc.version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", rmc.version())
    for project in (os.path.join(ROOT, "python", "pyproject.toml"),
                    os.path.join(ROOT, "pyproject.toml")):
        with open(project) as f:
            assert 'version = "%s"' % rmc.version() in f.read(), project
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        assert "VERSION %s" % rmc.version() in f.read()


def _can_build_wheels():
    """pip's offline build (--no-build-isolation) needs bdist_wheel: the wheel package, or
    setuptools 70.1 and later, which carry it."""
    try:
        import wheel  # noqa: F401
        return True
    except ImportError:
        pass
    try:
        import setuptools
        return tuple(int(p) for p in setuptools.__version__.split(".")[:2]) >= (70, 1)
    except Exception:
        return False


@pytest.mark.parametrize("where", ["./python", "."])
def test_pip_install_finds_its_library_and_installs_the_command(tmp_path, where):
    """`pip install ./python` and `pip install .` (the repository root), offline: the
    installed package loads the librmc.so shipped inside it with no environment variable,
    and the `rmc` console script runs."""
    if not _can_build_wheels():
        pytest.skip("pip cannot build a wheel offline here: install wheel "
                    "(scripts/install-deps.sh does)")
    built = os.path.realpath(rmc._lib.library_path)
    # A copy of the checkout's layout (python/ and the root files next to build/), so that
    # the checkout stays clean.
    shutil.copytree(os.path.join(ROOT, "python"), tmp_path / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__",
                                                  "*.so"))
    for name in ("pyproject.toml", "setup.py", "setup.cfg"):
        shutil.copyfile(os.path.join(ROOT, name), tmp_path / name)
    os.makedirs(tmp_path / "build")
    shutil.copyfile(built, tmp_path / "build" / "librmc.so")
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k not in ("RMC_LIBRARY", "PYTHONPATH")}
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation",
          "--no-deps", "--no-index", "--target", str(site), where],
         cwd=str(tmp_path), env=env)
    # setuptools' scratch space stays out of CMake's build/.
    assert sorted(os.listdir(tmp_path / "build")) == ["librmc.so"]
    env["PYTHONPATH"] = str(site)
    out = _run([sys.executable, "-c", "import rmc; print(rmc._lib.library_path, "
                "rmc.__version__)"], cwd=str(tmp_path), env=env)
    assert out.split() == [str(site / "rmc" / "librmc.so"), rmc.version()]
    out = _run([str(site / "bin" / "rmc"), "--version"], cwd=str(tmp_path), env=env)
    assert out.strip() == "rmc " + rmc.version()
