"""The Vulkan backend from Python: devices, the evaluator against the CPU on every model of
the suite (posteriordb ones included), sampling through it, and the fallbacks.

Runs on lavapipe (Mesa's CPU Vulkan driver, package mesa-vulkan-drivers), asked for
explicitly; RMC_TEST_VULKAN_DEVICE names another device. Skips with a message where no
Vulkan device can be created. Shader caches go to a temporary folder.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import rmc

import posteriordb
import test_gradient
from posteriordb import check_reference, load_data, sample_posterior

DEVICE = os.environ.get("RMC_TEST_VULKAN_DEVICE", "llvmpipe")
REL = 1e-10          # float64: |vulkan - cpu| <= REL * max(1, |cpu|)

def setup_module(module):
    # Our SPIR-V cache and Mesa's shader cache both live under XDG_CACHE_HOME; point it at
    # a temporary folder so that nothing lands in the home folder.
    module._saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "RMC_CACHE_DIR")}
    module._CACHE = tempfile.mkdtemp(prefix="rmc-test-vulkan-")
    os.environ["XDG_CACHE_HOME"] = module._CACHE
    os.environ.pop("RMC_CACHE_DIR", None)


def teardown_module(module):
    for key, value in module._saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(module._CACHE, ignore_errors=True)


def _eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


EIGHT_DATA = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
              "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}


@pytest.fixture(scope="module")
def vulkan():
    """Skip unless the test device can run a program."""
    ok, why = rmc.vulkan_status()
    if not ok:
        pytest.skip("no Vulkan here (%s); install mesa-vulkan-drivers for lavapipe" % why)
    program = rmc.Program(_eight_schools(), EIGHT_DATA)
    try:
        rmc.Evaluator(program, backend="vulkan", device=DEVICE).close()
    except rmc.RmcError as exc:
        pytest.skip("no Vulkan device %r can be created: %s" % (DEVICE, exc.message))
    return DEVICE


def compare(program, evaluator, rng, radius=1.5):
    """Worst relative error over random batches of 1, 7 and 256 positions."""
    worst, finite = 0.0, 0
    for batch in (1, 7, 256):
        x = rng.uniform(-radius, radius, (batch, program.dim))
        lp0, g0 = program.logp_grad(x)
        lp1, g1 = evaluator.logp_grad(x)
        ok = np.isfinite(lp0)
        assert np.array_equal(ok, np.isfinite(lp1)), "finite lp differ: %s vs %s" % (lp0, lp1)
        finite += int(ok.sum())
        if ok.any():
            worst = max(worst, float(np.max(np.abs(lp1[ok] - lp0[ok])
                                            / np.maximum(1, np.abs(lp0[ok])))))
            worst = max(worst, float(np.max(np.abs(g1[ok] - g0[ok])
                                            / np.maximum(1, np.abs(g0[ok])))))
    return worst, finite


def _posteriordb_modules():
    """Every test module that samples a posteriordb posterior."""
    here = os.path.dirname(os.path.abspath(__file__))
    mods = []
    for file in sorted(os.listdir(here)):
        if not (file.startswith("test_") and file.endswith(".py")) or file == "test_vulkan.py":
            continue
        with open(os.path.join(here, file)) as f:
            if "sample_posterior(" in f.read():
                mods.append(importlib.import_module(file[:-3]))
    return mods


def _posteriordb_models(monkeypatch):
    """(name, model, data) of every posteriordb test, caught by running the tests with
    sampling and checking replaced: new posteriors join this check by themselves."""
    caught = []

    def catch(model, name, data=None):
        caught.append((name, model, load_data(name) if data is None else data))

    for mod in _posteriordb_modules():
        monkeypatch.setattr(mod, "sample_posterior", catch)
        monkeypatch.setattr(mod, "check_reference", lambda fit, name: None)
        for attr in sorted(dir(mod)):
            if attr.startswith("test_") and callable(getattr(mod, attr)):
                try:
                    getattr(mod, attr)()
                except pytest.skip.Exception:
                    pass
    return caught


def _suite_models(monkeypatch):
    models = [(name, model, data) for name, model, data in _posteriordb_models(monkeypatch)]
    models.append(("test_gradient.small_model", test_gradient.small_model(),
                   test_gradient.small_data()))
    models.append(("eight_schools (inline data)", _eight_schools(), EIGHT_DATA))
    return models


def test_devices_list_lavapipe(vulkan):
    found = [d for d in rmc.devices() if vulkan.lower() in d["name"].lower()
             or d["index"] == (int(vulkan) if vulkan.isdigit() else -1)]
    assert found, rmc.devices()
    d = found[0]
    assert set(d) >= {"index", "name", "type", "driver", "float64", "automatic", "memory"}
    if d["type"] == "cpu":
        assert not d["automatic"]   # lavapipe is used only when named


def test_every_suite_model_matches_the_cpu(vulkan, monkeypatch):
    rng = np.random.default_rng(20261203)
    lowered, refused, report = 0, [], []
    for name, model, data in _suite_models(monkeypatch):
        program = rmc.Program(model, data)
        try:
            evaluator = rmc.Evaluator(program, backend="vulkan", device=vulkan)
        except rmc.RmcError as exc:
            # A model using an op or distribution without GLSL yet is refused, never run.
            assert "not supported on the Vulkan backend yet" in exc.message, exc.message
            refused.append("%s (%s)" % (name, exc.message.split("yet: ")[-1]))
            continue
        worst, finite = compare(program, evaluator, rng)
        evaluator.close()
        lowered += 1
        report.append("%s: %.2g over %d finite points" % (name, worst, finite))
        assert worst <= REL, "%s: relative error %.3g" % (name, worst)
    print("\n".join(report + ["refused (CPU only for now): %s" % ", ".join(refused)]))
    assert lowered >= 3


def test_auto_without_a_gpu_uses_the_cpu(vulkan, monkeypatch):
    if any(d["automatic"] for d in rmc.devices()):
        pytest.skip("this machine has a GPU, which auto would use")
    monkeypatch.delenv("RMC_VULKAN_DEVICE", raising=False)
    fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=50, draws=50, seed=1)
    assert fit.backend == "cpu"
    assert "no Vulkan GPU" in fit.backend_reason
    # ... and uses lavapipe when it is named
    fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=50, draws=50, seed=1,
                     device=vulkan)
    assert fit.backend == "vulkan" and fit.backend_reason.startswith("auto: vulkan on")


def test_eight_schools_reference_on_the_device(vulkan, monkeypatch):
    name = "eight_schools-eight_schools_noncentered"
    posteriordb.folder()
    monkeypatch.setattr(rmc, "sample", _on_device(rmc.sample, vulkan))
    fit = sample_posterior(_eight_schools(), name)
    assert fit.backend == "vulkan", fit.backend_reason
    check_reference(fit, name)


def test_kidiq_reference_on_the_device(vulkan, monkeypatch):
    name = "kidiq-kidscore_momiq"
    posteriordb.folder()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    b.observe("kid_score", rmc.Normal(beta[0] + beta[1] * "mom_iq", sigma))
    monkeypatch.setattr(rmc, "sample", _on_device(rmc.sample, vulkan))
    fit = sample_posterior(b.build(), name)
    assert fit.backend == "vulkan", fit.backend_reason
    check_reference(fit, name)


def _on_device(sample, device):
    def wrapped(*args, **kwargs):
        return sample(*args, backend="vulkan", device=device, **kwargs)
    return wrapped


def test_lost_device_keeps_the_draws(vulkan, monkeypatch):
    monkeypatch.setenv("RMC_VULKAN_FAULT", "lost:1500")
    with pytest.raises(rmc.RmcError) as info:
        rmc.sample(_eight_schools(), EIGHT_DATA, chains=4, warmup=50, draws=200, seed=3,
                   backend="vulkan", device=vulkan)
    assert info.value.status == "RMC_ERR_BACKEND" and "lost" in info.value.message
    partial = info.value.fit
    assert partial.cancelled and 0 < partial.num_draws < 200
    fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=4, warmup=50, draws=200, seed=3,
                     device=vulkan)
    assert fit.backend == "cpu" and "failed midway" in fit.backend_reason
    assert fit.num_draws == 200


def test_compile_failure_falls_back(vulkan, monkeypatch):
    monkeypatch.setenv("RMC_VULKAN_FAULT", "compile")
    with pytest.raises(rmc.RmcError, match="failed to compile"):
        rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=20, draws=20,
                   backend="vulkan", device=vulkan)
    fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=20, draws=20,
                     device=vulkan)
    assert fit.backend == "cpu" and "failed to compile" in fit.backend_reason


HIDDEN = r"""
import numpy as np, rmc
from test_vulkan import _eight_schools, EIGHT_DATA
assert rmc.devices() == [], rmc.devices()
ok, why = rmc.vulkan_status()
assert not ok and "driver" in why, why
fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=30, draws=30, seed=2)
assert fit.backend == "cpu" and "no Vulkan driver" in fit.backend_reason, fit.backend_reason
try:
    rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=30, draws=30, backend="vulkan")
except rmc.RmcError as exc:
    assert exc.status == "RMC_ERR_BACKEND" and "driver" in exc.message, exc.message
else:
    raise AssertionError("backend='vulkan' ran without a driver")
print("ok:", fit.backend_reason)
"""


def test_hidden_driver(vulkan):
    """With the driver hidden, auto samples on the CPU and says why; vulkan fails clearly.
    (In a fresh interpreter: a process keeps the Vulkan instance it made first.)"""
    env = dict(os.environ, VK_DRIVER_FILES="/nonexistent", VK_ICD_FILENAMES="/nonexistent",
               PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("RMC_VULKAN_DEVICE", None)
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run([sys.executable, "-c", HIDDEN], env=env, cwd=here,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok:" in run.stdout
