"""Sampling through the Python API: shapes, settings, determinism, summaries, printing."""

import signal

import numpy as np
import pytest

import rmc


def hierarchical_model():
    """Eight-schools-like model with a size from data, a bounded parameter and a
    deterministic, used by several tests."""
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfNormal(5))
    z = b.param("z", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * z)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


DATA = {"J": 8, "y": np.array([28, 8, -3, 7, -1, 1, 18, 12]),
        "sigma": np.array([15, 10, 16, 11, 9, 11, 10, 18])}


@pytest.fixture(scope="module")
def fit():
    return rmc.sample(hierarchical_model(), DATA, chains=3, draws=200, warmup=200, seed=7,
                      target_accept=0.9)


def _default_sigint():
    """In the child, before exec: take SIGINT's default action back. A test runner started
    in the background by a shell without job control (`cmd &`, nohup) ignores SIGINT, and
    an ignored signal stays ignored across exec, so the child would never see the Ctrl-C
    under test (Python installs its KeyboardInterrupt handler only over the default)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_draw_shapes(fit):
    assert fit.chains == 3 and fit.num_draws == 200
    assert fit["mu"].shape == (3, 200)
    assert fit["tau"].shape == (3, 200)
    assert fit["z"].shape == (3, 200, 8)
    assert fit["theta"].shape == (3, 200, 8)
    assert set(fit.draws) == {"mu", "tau", "z", "theta"}
    assert np.all(fit["tau"] > 0)
    np.testing.assert_allclose(fit["theta"], fit["mu"][..., None]
                               + fit["tau"][..., None] * fit["z"], rtol=1e-12)


def test_column_names(fit):
    names = fit.column_names
    assert names[:3] == ["mu", "tau", "z[1]"]
    assert "theta[8]" in names and "z[8]" in names
    assert len(names) == 2 + 8 + 8
    assert fit.values.shape == (3, 200, len(names))
    np.testing.assert_array_equal(fit.values[:, :, names.index("theta[3]")], fit["theta"][..., 2])


def test_stats(fit):
    assert set(fit.stats) == {"lp", "accept_stat", "step_size", "tree_depth", "n_leapfrog",
                              "divergent", "energy"}
    for value in fit.stats.values():
        assert value.shape == (3, 200)
    assert fit.stats["divergent"].dtype == bool
    assert np.all(fit.stats["tree_depth"] >= 0) and np.all(fit.stats["tree_depth"] <= 10)
    assert np.all(fit.stats["n_leapfrog"] >= 1)
    assert np.all((fit.stats["accept_stat"] >= 0) & (fit.stats["accept_stat"] <= 1))
    assert np.all(np.isfinite(fit.stats["lp"]))
    assert fit.num_divergent == int(fit.stats["divergent"].sum())
    assert fit.step_size.shape == (3,) and np.all(fit.step_size > 0)
    assert fit.inv_metric.shape == (3, 10) and np.all(fit.inv_metric > 0)
    assert fit.gradient_evals >= fit.stats["n_leapfrog"].sum()
    assert fit.seconds > 0 and fit.seed == 7


def test_mean_and_summary(fit):
    means = fit.mean()
    assert isinstance(means["mu"], float)
    assert means["theta"].shape == (8,)
    np.testing.assert_allclose(means["theta"], fit["theta"].mean(axis=(0, 1)))

    s = fit.summary()
    assert list(s) == ["name", "mean", "sd", "q5", "q50", "q95", "mcse_mean", "ess_bulk",
                       "ess_tail", "rhat"]
    assert s["name"] == fit.column_names
    i = s["name"].index("mu")
    mu = fit["mu"].ravel()
    np.testing.assert_allclose(s["mean"][i], mu.mean(), rtol=1e-9)
    np.testing.assert_allclose(s["sd"][i], mu.std(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(s["q50"][i], np.median(mu), rtol=1e-6, atol=1e-9)
    assert s["q5"][i] < s["q50"][i] < s["q95"][i]
    assert np.all(s["ess_bulk"] > 0) and np.all(s["mcse_mean"] > 0)
    assert np.all(np.isfinite(s["rhat"]))


def test_print(fit):
    text = str(fit)
    assert repr(fit) == text
    for word in ("name", "mean", "sd", "5%", "50%", "95%", "mcse", "ess_bulk", "ess_tail",
                 "r_hat", "theta[8]", "tau", "3 chains x 200 draws", "warmup 200",
                 "divergences"):
        assert word in text, word


def test_warnings_for_bad_runs():
    # Tiny steps at tree depth 1 on a wide posterior: every draw saturates the depth and
    # the chains cannot mix in 20 draws.
    b = rmc.ModelBuilder()
    b.param("a", prior=rmc.Normal(0, 1000))
    fit = rmc.sample(b.build(), {}, chains=2, draws=20, warmup=0, seed=1, max_treedepth=1,
                     step_size=0.01)
    text = str(fit)
    assert "maximum tree depth of 1" in text
    assert "R-hat above 1.01" in text


def test_same_seed_same_draws():
    model = hierarchical_model()
    a = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=11)
    b = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=11)
    c = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=12)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.stats["lp"], b.stats["lp"])
    assert not np.array_equal(a.values, c.values)


def test_thread_count_does_not_change_draws():
    model = hierarchical_model()
    one = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=5, threads=1)
    two = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=5, threads=2)
    every = rmc.sample(model, DATA, chains=4, draws=100, warmup=100, seed=5, threads=0)
    np.testing.assert_array_equal(one.values, two.values)
    np.testing.assert_array_equal(one.values, every.values)
    np.testing.assert_array_equal(one.stats["n_leapfrog"], two.stats["n_leapfrog"])


def test_random_seed_is_recorded():
    b = rmc.ModelBuilder()
    b.normal_prior("x", 0.0, 1.0)
    model = b.build()
    fit = rmc.sample(model, {}, chains=1, draws=20, warmup=20)
    assert isinstance(fit.seed, int) and 0 <= fit.seed < 2 ** 64
    again = rmc.sample(model, {}, chains=1, draws=20, warmup=20, seed=fit.seed)
    np.testing.assert_array_equal(fit.values, again.values)


def test_standard_normal_moments():
    b = rmc.ModelBuilder()
    b.normal_prior("x", 1.0, 2.0, shape=3)
    fit = rmc.sample(b.build(), {}, chains=4, draws=1000, warmup=500, seed=3)
    s = fit.summary()
    np.testing.assert_allclose(s["mean"], 1.0, atol=5 * s["mcse_mean"].max())
    np.testing.assert_allclose(s["sd"], 2.0, rtol=0.1)
    assert fit["x"].shape == (4, 1000, 3)


def test_matrix_parameter_shape():
    b = rmc.ModelBuilder()
    b.param("m", shape=(2, 3), prior=rmc.Normal(0, 1))
    fit = rmc.sample(b.build(), {}, chains=2, draws=50, warmup=50, seed=1)
    assert fit["m"].shape == (2, 50, 2, 3)
    assert len(fit.column_names) == 6


def test_static_hmc_and_thinning():
    b = rmc.ModelBuilder()
    b.normal_prior("x", 0.0, 1.0)
    fit = rmc.sample(b.build(), {}, chains=2, draws=100, warmup=100, seed=1, sampler="hmc",
                     hmc_steps=8, thin=2)
    assert fit["x"].shape == (2, fit.num_draws)
    assert fit.sampler == "hmc" and fit.thin == 2
    assert np.all(fit.stats["n_leapfrog"] == 8)


def test_init_values():
    model = hierarchical_model()
    # A given starting point is where each chain's first warmup iteration begins; with no
    # warmup and a tiny step the first draw stays close to it.
    fit = rmc.sample(model, DATA, chains=2, draws=1, warmup=0, seed=1, step_size=1e-8,
                     init={"mu": 3.0, "tau": 2.0, "z": np.zeros(8)})
    np.testing.assert_allclose(fit["mu"][:, 0], 3.0, atol=1e-4)
    np.testing.assert_allclose(fit["tau"][:, 0], 2.0, atol=1e-4)
    per_chain = rmc.sample(model, DATA, chains=2, draws=1, warmup=0, seed=1, step_size=1e-8,
                           init=[{"mu": -1.0}, {"mu": 1.0}])
    np.testing.assert_allclose(per_chain["mu"][:, 0], [-1.0, 1.0], atol=1e-4)


def test_model_json_round_trip():
    model = hierarchical_model()
    again = rmc.Model.from_json(model.to_json())
    assert again.records == model.records
    a = rmc.sample(model, DATA, chains=2, draws=50, warmup=50, seed=9)
    b = rmc.sample(again, DATA, chains=2, draws=50, warmup=50, seed=9)
    np.testing.assert_array_equal(a.values, b.values)


def test_one_model_serves_data_of_any_rank_and_length():
    # "x" is declared without a shape: a scalar in one data set, a vector of another
    # length in the next, with the same Model and the one C model it built.
    b = rmc.ModelBuilder()
    beta = b.normal_prior("beta", 0.0, 1.0)
    b.observe("y", rmc.Normal(beta * "x", 1.0))
    model = b.build()
    c_model = model.c_model()
    scalar = {"x": 2.0, "y": np.array([1.0, 3.0, 2.5, 1.5, 2.0])}
    vector = {"x": np.linspace(-1, 1, 8), "y": np.linspace(-2, 2, 8)}
    for data in (scalar, vector, scalar):
        lp = rmc.logp_grad(model, data, np.array([[0.0], [0.7]]))[0]
        ref = [-0.5 * t * t - 0.5 * np.sum((data["y"] - t * data["x"]) ** 2) for t in (0, 0.7)]
        assert lp[1] - lp[0] == pytest.approx(ref[1] - ref[0], rel=1e-12)
        fit = rmc.sample(model, data, chains=2, draws=200, warmup=200, seed=4)
        x = np.broadcast_to(data["x"], data["y"].shape)
        assert abs(fit.mean()["beta"] - x @ data["y"] / (x @ x + 1)) < 0.2
    assert model.c_model() is c_model


def test_data_conversion_keeps_arrays_and_accepts_lists():
    b = rmc.ModelBuilder()
    beta = b.normal_prior("beta", 0.0, 1.0)
    b.observe("y", rmc.Normal(beta * "x", 1.0))
    model = b.build()
    x = np.linspace(-1, 1, 20)
    with pytest.warns(UserWarning, match="'unused' is not used"):   # ignored, with a warning
        program = rmc.Program(model, {"x": x, "y": list(2 * x), "unused": "text is ignored"})
    assert program._arrays["x"][0] is x              # float64, contiguous: no copy
    assert program._arrays["y"][0].dtype == np.float64
    fit = rmc.sample(program, None, chains=1, draws=50, warmup=50, seed=2)
    assert abs(fit.mean()["beta"] - 2 * (x @ x) / (x @ x + 1)) < 0.3


def test_version():
    assert rmc.__version__ == rmc.version()
    assert rmc.version().count(".") == 2


CANCEL_SCRIPT = """
import sys
import numpy as np
import rmc
b = rmc.ModelBuilder()
mu = b.normal_prior("mu", 0.0, 1.0)
b.observe("y", rmc.Normal(mu, 1.0))
model = b.build()
y = np.random.default_rng(0).normal(size=100000)
print("ready", flush=True)
fit = rmc.sample(model, {"y": y}, chains=2, draws=200000, warmup=100, seed=1)
print("cancelled", fit.cancelled, fit["mu"].shape[1] < 200000, flush=True)
"""


def test_ctrl_c_cancels_and_keeps_draws():
    import os
    import signal
    import subprocess
    import sys
    import time

    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(rmc.__file__))
    proc = subprocess.Popen([sys.executable, "-c", CANCEL_SCRIPT], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        start = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "cancelled True True" in out
    assert "sampling was interrupted" in err
    assert time.time() - start < 10


def test_c_summary_counts_tree_depth_against_the_runs_limit():
    """rmc_fit_summary_text warns about saturated trees by the run's max_depth, not 10."""
    import ctypes
    from rmc import _lib
    b = rmc.ModelBuilder()
    b.param("x", shape=3, prior=rmc.Normal(0, 1))
    program = rmc.Program(b.build(), {})
    texts = []
    for depth in (1, 12):
        config = _lib.Config()
        _lib.lib.rmc_config_default(ctypes.byref(config))
        config.max_depth, config.warmup, config.draws, config.chains = depth, 100, 50, 2
        fit = ctypes.c_void_p()
        assert _lib.lib.rmc_sample(program._handle, ctypes.byref(config),
                                   ctypes.byref(fit)) == 0
        texts.append(_lib.lib.rmc_fit_summary_text(fit).decode())
        _lib.lib.rmc_fit_free(fit)
    assert "maximum tree depth" in texts[0]
    assert "maximum tree depth" not in texts[1]


def test_draws_view_the_c_fit_without_a_copy():
    """The draws are views into the C fit's memory (a fit of many chains is held once,
    not twice); the C fit lives while any array does and is freed after the last one."""
    import gc
    import weakref
    from rmc.fit import _CFit

    result = rmc.sample(hierarchical_model(), DATA, chains=2, draws=50, warmup=50, seed=3,
                        progress=False)
    base = result.values
    while not isinstance(base, rmc.fit._View):
        assert base.base is not None, "values is a copy, not a view of the C fit"
        base = base.base
    owner = weakref.ref(base._owner)
    assert isinstance(owner(), _CFit)
    assert result.draws["theta"].base is not None

    keep = result.draws["mu"]
    expect = keep.copy()
    del result, base
    gc.collect()
    assert owner() is not None, "the C fit was freed while an array still views it"
    np.testing.assert_array_equal(keep, expect)
    del keep
    gc.collect()
    assert owner() is None, "the C fit outlived every array that viewed it"
