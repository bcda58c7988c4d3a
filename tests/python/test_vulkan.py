"""The Vulkan backend from Python: devices, the evaluator against the CPU on every model of
the suite (posteriordb ones included), sampling through it, and the fallbacks.

Runs on lavapipe (Mesa's CPU Vulkan driver, package mesa-vulkan-drivers), asked for
explicitly; RMC_TEST_VULKAN_DEVICE names another device. Skips with a message where no
Vulkan device can be created. Shader caches go to a temporary folder.
"""

import glob
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
    models = _suite_models(monkeypatch)   # two without posteriordb, every one with it
    for name, model, data in models:
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
    assert lowered + len(refused) == len(models) >= 2
    # Every op and distribution the suite's models use has its GLSL form now.
    assert not refused, "refused: %s" % ", ".join(refused)


def _lowered_matches(program, device, rng, name, forms=("1", "wide", "2")):
    """The program runs on the device (never refused) and matches the CPU at batches 1, 7
    and 256 in each form of the shader: one thread per chain, the model's own count (what
    a GPU runs for small batches), and two threads per chain."""
    report = []
    for lanes in forms:
        os.environ["RMC_VULKAN_LANES"] = lanes
        try:
            evaluator = rmc.Evaluator(program, backend="vulkan", device=device)
        finally:
            os.environ.pop("RMC_VULKAN_LANES", None)
        worst, finite = compare(program, evaluator, rng)
        evaluator.close()
        assert finite > 0, "%s: no finite point" % name
        assert worst <= REL, "%s (lanes %s): relative error %.3g" % (name, lanes, worst)
        report.append("%s lanes %s: %.2g over %d finite points" % (name, lanes, worst, finite))
    print("\n".join(report))


@pytest.mark.parametrize("name", ["garch-garch11", "gp_pois_regr-gp_pois_regr"])
def test_scan_and_gaussian_process_posteriors_run_on_the_device(vulkan, monkeypatch, name):
    """GARCH (a scan) and the latent Gaussian process (cov_exp_quad, Cholesky, a product
    with the factor) are lowered, not refused, and match the CPU."""
    posteriordb.folder()   # skips with a message where the posteriordb files are absent
    found = [(m, d) for n, m, d in _posteriordb_models(monkeypatch) if n == name]
    assert found, "%s: no test in the suite samples it" % name
    model, data = found[0]
    _lowered_matches(rmc.Program(model, data), vulkan, np.random.default_rng(20261204), name)


LINALG_DATA = {"x": np.array([-1.0, 0.3, 1.1]),
               "D": np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 1.1]]),
               "E": np.array([[1.2, 0.0, 0.0], [0.4, 0.9, 0.0], [-0.3, 0.6, 1.5]])}


def _linalg_model(part):
    """Every linear-algebra node with operands that depend on parameters (and with data
    on one side), and a correlation Cholesky factor, each result in the log density; in
    two parts, as lavapipe takes about a second per node to compile at the first
    dispatch, and one shader with all of them came near the minute after which a dispatch
    counts as hung."""
    b = rmc.ModelBuilder()
    v = b.param("v", shape=3, prior=rmc.Normal(0, 1))
    m = b.param("M", shape=(3, 3), prior=rmc.Normal(0, 1))
    s = b.param("s", shape=3, lower=0, prior=rmc.Normal(0, 1))
    alpha = b.param("alpha", lower=0, prior=rmc.Normal(0, 1))
    rho = b.param("rho", lower=0, prior=rmc.Normal(0, 1))
    D = b.data("D", shape=(3, 2))   # noqa: N806
    E = b.data("E", shape=(3, 3))   # noqa: N806
    C = b.param("C", 3, transform="cholesky_corr")   # noqa: N806

    made = []

    def L():   # noqa: N802 - one factor, made on first use
        if not made:
            made.append(rmc.cholesky(rmc.cov_exp_quad("x", alpha, rho, delta=0.5)))
        return made[0]

    terms = [lambda: C, lambda: rmc.diag_pre_multiply(s, C) @ v,
             lambda: rmc.vecmat(v, m), lambda: rmc.vecmat(v, D), lambda: rmc.matmul(m, D),
             lambda: rmc.matmul(m, m), lambda: rmc.matmul(E, m),
             lambda: rmc.diag_pre_multiply(s, m), lambda: rmc.diag_pre_multiply(s, E),
             lambda: rmc.tri_solve(L(), v), lambda: rmc.tri_solve(L(), D),
             lambda: rmc.tri_solve(E, m), lambda: rmc.tri_solve(L(), m), lambda: L() @ v,
             lambda: m @ v, lambda: E @ v]
    for k, term in enumerate(terms):
        if k % 2 == part:   # built only when used: a node made is a node evaluated
            b.target(rmc.Normal(0.1 * k, 2.0).logpdf(term()))
    return b.build()


@pytest.mark.parametrize("part", [0, 1])
def test_linear_algebra_and_correlation_factor_run_on_the_device(vulkan, part):
    program = rmc.Program(_linalg_model(part), LINALG_DATA)
    _lowered_matches(program, vulkan, np.random.default_rng(7 + part),
                     "linear algebra, part %d" % part)


ROWS_DATA = {"c": np.array([1, 3, 2, 2]), "Y": np.array([[0.3, -1.0, 0.5], [1.2, 0.1, -0.4]]),
             "Lc": np.array([[1.3, 0.0, 0.0], [0.2, 0.8, 0.0], [-0.5, 0.4, 1.1]]),
             "S": np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])}


def _rows_model():
    """The distributions over rows, with parameters in every argument: categorical_logit
    with shared logits and a row per observation, multi_normal_cholesky with a parameter
    factor (vector and matrix values), dirichlet over a simplex and a matrix of simplex
    rows, lkj_corr_cholesky on a correlation factor."""
    b = rmc.ModelBuilder()
    lg = b.param("lg", 3, prior=rmc.Normal(0, 1))
    lgm = b.param("lgm", (4, 3), prior=rmc.Normal(0, 1))
    b.observe(b.data("c", dtype=int), rmc.CategoricalLogit(lg))
    b.observe(b.data("c", dtype=int), rmc.CategoricalLogit(lgm))
    eta = b.param("eta", lower=0, prior=rmc.Gamma(2, 1))
    C = b.param("C", 3, transform="cholesky_corr", prior=rmc.LKJCholesky(eta))  # noqa: N806
    tau = b.param("tau", 3, lower=0, prior=rmc.Normal(0, 1))
    mu = b.param("mu", 3, prior=rmc.Normal(0, 1))
    v = b.param("v", 3)
    b.tilde(v, rmc.MultiNormalCholesky(mu, rmc.diag_pre_multiply(tau, C)))
    b.observe(b.data("Y"), rmc.MultiNormalCholesky(mu, "Lc"))
    M = b.param("M", (2, 3), prior=rmc.Normal(0, 1))   # noqa: N806
    b.observe(b.data("Y"), rmc.MultiNormalCholesky(M, rmc.diag_pre_multiply(tau, C)))
    alpha = b.param("alpha", 3, lower=0, prior=rmc.Gamma(2, 1))
    th = b.param("th", 3, transform="simplex", prior=rmc.Dirichlet(alpha))
    b.param("th2", 3, transform="simplex", prior=rmc.Dirichlet(rmc.concat(2.0, 1.5, 3.0)))
    am = b.param("am", (2, 3), lower=0, prior=rmc.Gamma(2, 1))
    b.observe(b.data("S"), rmc.Dirichlet(am))
    b.observe(b.data("S"), rmc.Dirichlet(alpha))
    b.tilde(th, rmc.Dirichlet(alpha * 1.5))
    # categorical_logit as a log-density expression too (the others have none): a value
    # per observation, partials weighted by its adjoint
    b.target(rmc.log_sum_exp(rmc.CategoricalLogit(lgm).logpdf(b.data("c", dtype=int))))
    b.target(rmc.CategoricalLogit(lg).logpdf(b.data("c", dtype=int)) * rmc.exp(lg[0]))
    return b.build()


def test_row_distributions_run_on_the_device(vulkan):
    program = rmc.Program(_rows_model(), ROWS_DATA)
    _lowered_matches(program, vulkan, np.random.default_rng(11), "row distributions")


def test_loop_guard_never_gives_wrong_numbers(vulkan, monkeypatch):
    """lavapipe silently stops an invocation's loops after 65535 iterations in all: three
    likelihoods of 25000 (each alone below the guard) and long GARCH scans must either
    match the CPU (more threads per chain) or be refused, never come back wrong."""
    b = rmc.ModelBuilder()
    mu, s = b.param("mu"), b.param("s", lower=0)
    for k in range(3):
        b.observe("y%d" % k, rmc.Normal(mu * (k + 1.0), s))
    y = np.sin(np.arange(25000) * 0.37) * 2
    models = [("three likelihoods", b.build(), {"y%d" % k: y / (k + 1) for k in range(3)})]
    posteriordb.folder()
    garch = [m for n, m, d in _posteriordb_models(monkeypatch) if n == "garch-garch11"][0]
    for steps in (600, 1500, 5000):
        ys = np.sin(np.arange(steps) * 0.3) * 3 + 5
        models.append(("garch T=%d" % steps, garch, {"T": steps, "y": ys, "sigma1": 0.5}))
    rng = np.random.default_rng(3)
    for name, model, data in models:
        program = rmc.Program(model, data)
        try:
            evaluator = rmc.Evaluator(program, backend="vulkan", device=vulkan)
        except rmc.RmcError as exc:
            assert "too large" in exc.message, exc.message
            print("%s: refused (%s)" % (name, exc.message))
            continue
        worst, finite = compare(program, evaluator, rng, radius=0.5)
        evaluator.close()
        print("%s: %.2g over %d finite points" % (name, worst, finite))
        assert finite > 0 and worst <= REL, "%s: relative error %.3g" % (name, worst)


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


NOT_PROBED = r"""
import rmc
from test_vulkan import _eight_schools, EIGHT_DATA
fit = rmc.sample(_eight_schools(), EIGHT_DATA, chains=2, warmup=30, draws=30, seed=2)
print("reason:", fit.backend_reason)
"""


def test_auto_skips_the_probe_without_a_gpu_node(vulkan):
    """Without a GPU device node, auto does not create a Vulkan instance (it would load
    every driver, lavapipe's LLVM included, for a device it may not take), and says so;
    RMC_VULKAN_PROBE=1 probes anyway and reports the devices it saw. Fresh interpreters:
    a process keeps the instance it made first."""
    nodes = [p for pat in ("/dev/dri/renderD*", "/dev/nvidia[0-9]*", "/dev/mali*", "/dev/dxg")
             for p in glob.glob(pat)]
    if nodes:
        pytest.skip("this machine has GPU device nodes: %s" % nodes)
    here = os.path.dirname(os.path.abspath(__file__))
    base = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    base.pop("RMC_VULKAN_DEVICE", None)
    base.pop("RMC_VULKAN_PROBE", None)
    reasons = []
    for extra in ({}, {"RMC_VULKAN_PROBE": "1"}):
        run = subprocess.run([sys.executable, "-c", NOT_PROBED], env=dict(base, **extra),
                             cwd=here, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        reasons.append(run.stdout)
    assert "was not probed" in reasons[0] and "no Vulkan GPU" in reasons[0], reasons[0]
    assert "was not probed" not in reasons[1] and "llvmpipe" in reasons[1], reasons[1]
