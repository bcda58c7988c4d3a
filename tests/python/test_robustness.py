"""Robustness end to end from Python: extreme but valid inputs, and bad input that
tests/python/test_errors.py does not try (dtypes, layouts, fractional integers, sizes,
settings, absurd sizes, handle lifetimes). Every refusal names the culprit."""

import gc
import os
import subprocess
import sys
import textwrap
import warnings
import weakref

import numpy as np
import pytest

import rmc


def regression():
    b = rmc.ModelBuilder()
    alpha = b.normal_prior("alpha", 0.0, 10.0)
    beta = b.normal_prior("beta", 0.0, 10.0)
    sigma = b.half_normal_prior("sigma", 5.0)
    b.observe("y", rmc.Normal(alpha + beta * "x", sigma))
    return b.build()


def good_data(n=20):
    x = np.linspace(0, 1, n)
    return {"x": x, "y": 1 + 2 * x}


def quick(model, data, **kw):
    kw.setdefault("chains", 1)
    kw.setdefault("draws", 20)
    kw.setdefault("warmup", 20)
    kw.setdefault("seed", 1)
    return rmc.sample(model, data, **kw)


def sized():
    b = rmc.ModelBuilder()
    b.param("theta", shape="J", prior=rmc.Normal(0, 1))
    return b.build()


# ---------------------------------------------------------------- numerical robustness

EXTREME = [-1e6, -745.5, -710.0, -300.0, -30.0, 0.0, 30.0, 300.0, 709.0, 745.5, 1e6]


def every_distribution():
    """Each distribution over a parameter value, with parameters as arguments."""
    b = rmc.ModelBuilder()
    r = b.param("r")
    p = b.param("p", lower=0)
    q = b.param("q", lower=0)
    b.tilde(r, rmc.Normal(r * 0.5, p))
    b.tilde(p, rmc.HalfNormal(q))
    b.tilde(r, rmc.Cauchy(0.0, q))
    b.tilde(q, rmc.HalfCauchy(p))
    b.tilde(r, rmc.StudentT(3.0, 0.0, p))
    b.tilde(q, rmc.Exponential(1.0))
    return b.build()


def test_extreme_points_never_give_nan_or_plus_inf():
    """lp is finite or -inf at any unconstrained point, however far out; where the point is
    moderate a finite lp comes with a finite gradient (further out a partial may overflow,
    and the sampler then rejects the step as a divergence)."""
    program = rmc.Program(every_distribution(), {})
    grid = np.array(np.meshgrid(EXTREME, EXTREME, EXTREME)).reshape(3, -1).T
    lp, grad = program.logp_grad(grid)
    assert not np.any(np.isnan(lp))
    assert not np.any(lp == np.inf)
    moderate = np.all(np.abs(grid) <= 30, axis=1) & np.isfinite(lp)
    assert np.all(np.isfinite(grad[moderate]))


def test_tiny_and_huge_data_scales():
    """Data on scales of 1e-150 and 1e150 sample to finite draws on the right scale."""
    for scale in (1e-150, 1e150):
        b = rmc.ModelBuilder()
        mu = b.param("mu", prior=rmc.Normal(0, 10 * scale))
        sigma = b.param("sigma", lower=0, prior=rmc.HalfNormal(10 * scale))
        b.observe("y", rmc.Normal(mu, sigma))
        y = scale * np.array([0.3, -1.2, 0.8, 2.0, 1.1, -0.4])
        # started near the answer: from the default inits, sigma = e^u would first have to
        # travel some 345 units of u, which is a matter of warmup length, not robustness
        fit = quick(b.build(), {"y": y}, chains=2, draws=300, warmup=300,
                    init={"mu": 0.0, "sigma": scale})
        assert np.all(np.isfinite(fit.values))
        assert 0.1 * scale < np.median(fit["sigma"]) < 10 * scale


def test_many_observations_with_saturated_logits():
    """A logistic regression on 100000 observations, separable along x: the logits run to
    large values yet the draws are finite."""
    x = np.linspace(-5, 5, 100000)
    y = (x > 0).astype(np.int64)
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.Normal(0, 5))
    beta = b.param("beta", prior=rmc.Normal(0, 5))
    b.observe("y", rmc.BernoulliLogit(alpha + beta * "x"))
    model = b.build()
    program = rmc.Program(model, {"x": x, "y": y})
    lp, grad = program.logp_grad(np.array([[0.0, 800.0], [-50.0, 1e4], [0.0, 0.0]]))
    assert np.all(np.isfinite(lp)) and np.all(np.isfinite(grad))
    fit = quick(program, None, draws=100, warmup=100)
    assert np.all(np.isfinite(fit.values)) and np.all(fit["beta"] > 5)


def test_divergences_leave_finite_draws():
    """Centred eight schools diverges in its funnel; divergent transitions still record
    finite draws and statistics."""
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    theta = b.param("theta", shape="J", prior=rmc.Normal(mu, tau))
    b.observe("y", rmc.Normal(theta, "sigma"))
    data = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
            "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}
    fit = quick(b.build(), data, chains=4, draws=500, warmup=200, target_accept=0.6)
    assert fit.stats["divergent"].sum() > 0
    assert np.all(np.isfinite(fit.values))
    for name, values in fit.stats.items():
        assert np.all(np.isfinite(values.astype(float))), name
    assert np.all(fit["tau"] > 0)


# ---------------------------------------------------------------- data types and layouts


@pytest.mark.parametrize("value, word", [
    (np.array(["1.0", "2.0"]), "dtype <U3"),
    (np.array([b"ab"]), "dtype |S2"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "datetime64"),
    (np.array([1 + 0j, 2 + 0j]), "complex"),
    ({"a": 1}, "object"),
    (None, "object"),
])
def test_more_unsupported_dtypes(value, word):
    data = good_data()
    data["x"] = value
    with pytest.raises(ValueError, match="data field 'x'") as err:
        quick(regression(), data)
    assert word in str(err.value)


def test_non_contiguous_and_read_only_arrays_give_the_same_draws():
    base = good_data(40)
    strided = {"x": np.repeat(base["x"], 2)[::2], "y": np.repeat(base["y"], 2)[::2]}
    assert not strided["x"].flags["C_CONTIGUOUS"]
    frozen = {k: v.copy() for k, v in base.items()}
    for v in frozen.values():
        v.setflags(write=False)
    reference = quick(regression(), base)
    for data in (strided, frozen):
        np.testing.assert_array_equal(quick(regression(), data).values, reference.values)


def test_fortran_ordered_matrix_is_read_by_rows():
    """A column-major design matrix must mean the same matrix as its row-major copy."""
    rng = np.random.default_rng(4)
    xc = rng.normal(size=(30, 3))
    xf = np.asfortranarray(xc)
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=3, prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(rmc.matvec("X", beta), 1.0))
    model = b.build()
    y = xc @ np.array([1.0, -2.0, 0.5])
    point = np.array([0.3, -0.2, 0.9])
    lp_c, g_c = rmc.Program(model, {"X": xc, "y": y}).logp_grad(point)
    lp_f, g_f = rmc.Program(model, {"X": xf, "y": y}).logp_grad(point)
    assert lp_c == lp_f
    np.testing.assert_array_equal(g_c, g_f)


def test_other_float_and_int_widths_are_converted():
    data = good_data()
    ref = quick(regression(), data).values
    for dtype in (np.float32, np.float16):
        conv = {k: v.astype(dtype) for k, v in data.items()}
        expect = quick(regression(), {k: v.astype(np.float64) for k, v in conv.items()})
        np.testing.assert_array_equal(quick(regression(), conv).values, expect.values)
    fit = quick(sized(), {"J": np.int8(3)})
    assert fit["theta"].shape == (1, 20, 3)
    assert ref.shape == (1, 20, 3)


# ---------------------------------------------------------------- integers and sizes


@pytest.mark.parametrize("j", [3.5, np.float64(3.0), "3", [3, 4]])
def test_size_must_be_an_integer_scalar(j):
    with pytest.raises((rmc.RmcError, ValueError), match="'J'"):
        quick(sized(), {"J": j})


@pytest.mark.parametrize("j", [-1, 0, -(2 ** 40)])
def test_negative_or_zero_size(j):
    with pytest.raises(rmc.RmcError, match="'J'|'theta'"):
        quick(sized(), {"J": j})


def test_size_beyond_int64():
    with pytest.raises(ValueError, match="'J'.*int64"):
        quick(sized(), {"J": 2 ** 70})


def test_fractional_index_and_bernoulli_data():
    b = rmc.ModelBuilder()
    a = b.param("a", shape=3, prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(rmc.gather(a, "g"), 1.0))
    with pytest.raises(rmc.RmcError, match="'g' must hold integers"):
        quick(b.build(), {"g": np.array([0.0, 1.5]), "y": np.zeros(2)})
    b = rmc.ModelBuilder()
    p = b.param("p", lower=0, upper=1, prior=rmc.Uniform(0, 1))
    b.observe("k", rmc.Bernoulli(p))
    with pytest.raises(rmc.RmcError, match="'k' has 0.5"):
        quick(b.build(), {"k": np.array([1.0, 0.0, 0.5])})


def test_negative_shape_in_the_builder():
    b = rmc.ModelBuilder()
    with pytest.raises(ValueError, match="x"):
        b.param("x", shape=-2)
    with pytest.raises(ValueError, match="x"):
        b.param("x", shape=(3, -1))


# ---------------------------------------------------------------- fields, settings, models


def test_model_with_no_parameters():
    b = rmc.ModelBuilder()
    b.observe("y", rmc.Normal(0.0, 1.0))
    with pytest.raises((rmc.RmcError, ValueError), match="no parameters"):
        quick(b.build(), {"y": np.zeros(3)})


def test_extra_data_field_warns():
    """(Finding 7 of docs/RELIABILITY.md: extra fields used to be ignored silently.)"""
    data = good_data()
    data["sigmaa"] = 1.0   # a typo for a field the model does not have
    with pytest.warns(UserWarning, match="sigmaa") as seen:
        quick(regression(), data)
    assert seen[0].filename == __file__   # points at the caller's line, not at rmc


def test_missing_field_named_even_with_extras():
    data = good_data()
    del data["y"]
    data["yy"] = np.zeros(20)
    with pytest.warns(UserWarning, match="'yy'"), \
            pytest.raises(rmc.RmcError, match="'y' is missing"):
        quick(regression(), data)


@pytest.mark.parametrize("setting, value, error", [
    ("threads", -1, ValueError), ("seed", -1, ValueError), ("seed", 2 ** 64, ValueError),
    ("hmc_steps", 0, ValueError), ("thin", 1.5, TypeError), ("draws", True, TypeError),
    ("step_size", float("nan"), rmc.RmcError), ("step_size", float("inf"), rmc.RmcError),
    ("target_accept", float("nan"), rmc.RmcError), ("init_radius", float("inf"), rmc.RmcError),
    ("warmup", 2 ** 63 - 5, rmc.RmcError),
])
def test_more_bad_settings(setting, value, error):
    with pytest.raises(error, match=setting if setting != "warmup" else "overflows"):
        quick(regression(), good_data(), **{setting: value})


def test_max_treedepth_named_as_passed():
    """(Finding 9: the C check's message named the C field, max_depth.)"""
    with pytest.raises((ValueError, rmc.RmcError), match="max_treedepth"):
        quick(regression(), good_data(), max_treedepth=31)


def test_absurd_draws_refused_before_allocating():
    with pytest.raises(rmc.RmcError, match="more memory") as err:
        quick(regression(), good_data(), chains=10 ** 6, draws=10 ** 7)
    assert err.value.status == "RMC_ERR_NOMEM"


def test_absurd_size_from_data_fails_cleanly():
    """A parameter of 2^31 - 1 elements: an RmcError, not a crash. It is refused before
    allocating (tests/test_faults.c checks that); the address space is capped at 2 GiB
    anyway, so that a regression fails an allocation here rather than take the machine."""
    script = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        import rmc
        b = rmc.ModelBuilder()
        b.param("theta", shape="J", prior=rmc.Normal(0, 1))
        try:
            rmc.Program(b.build(), {"J": 2 ** 31 - 1})
        except rmc.RmcError as exc:
            print(exc.status)
            sys.exit(0)
        sys.exit(3)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(rmc.__file__)),
                                         env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "RMC_ERR_NOMEM"


def test_huge_thin_refused():
    """chains x (warmup + draws x thin) must fit in int64. (Finding 4: it overflowed in
    src/sample.c, and the run would never end; the timer cancels it after 3 s if so.)"""
    script = textwrap.dedent("""
        import sys, threading, _thread
        import rmc
        b = rmc.ModelBuilder()
        b.param("a", prior=rmc.Normal(0, 1))
        threading.Timer(3.0, _thread.interrupt_main).start()
        try:
            rmc.sample(b.build(), {}, chains=4, draws=1, warmup=0, thin=2 ** 62, seed=1)
        except rmc.RmcError as exc:
            print(exc.status, exc.message)
            sys.exit(0)
        sys.exit(3)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(rmc.__file__)),
                                         env.get("PYTHONPATH", "")])
    with warnings.catch_warnings():
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "thin" in out.stdout or "overflow" in out.stdout


# ---------------------------------------------------------------- handle lifetimes


def test_program_outlives_its_builder_and_model():
    """The C model is freed only when nothing refers to it; a Program keeps what it needs,
    so no Python code path can reach a freed handle."""
    b = rmc.ModelBuilder()
    b.param("a", prior=rmc.Normal(0, 1))
    model = b.build()
    c_model = weakref.ref(model.c_model())
    program = rmc.Program(model, {})
    del b, model
    gc.collect()
    fit = quick(program, None)
    assert fit["a"].shape == (1, 20)
    del program, fit
    gc.collect()
    assert c_model() is None


def test_fit_arrays_outlive_the_c_fit():
    """FitResult copies out of the C fit, which sample() frees at once."""
    fit = quick(regression(), good_data())
    gc.collect()
    values = fit.values.copy()
    assert np.all(np.isfinite(values)) and values.base is None


def test_destructors_tolerate_failed_construction():
    with pytest.raises(rmc.RmcError):
        rmc.Program(regression(), {"x": np.zeros(3)})
    gc.collect()   # the half-made Program's __del__ ran without error
