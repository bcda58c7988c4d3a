"""Bad input gives RmcError or ValueError/TypeError whose message names the culprit."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import rmc


def regression():
    """y ~ Normal(alpha + beta * x, sigma)."""
    b = rmc.ModelBuilder()
    alpha = b.normal_prior("alpha", 0.0, 10.0)
    beta = b.normal_prior("beta", 0.0, 10.0)
    sigma = b.half_normal_prior("sigma", 5.0)
    b.observe("y", rmc.Normal(alpha + beta * "x", sigma))
    return b.build()


def good_data(n=20):
    x = np.linspace(0, 1, n)
    return {"x": x, "y": 1 + 2 * x}


def sample_quick(model, data, **kw):
    kw.setdefault("chains", 1)
    kw.setdefault("draws", 10)
    kw.setdefault("warmup", 10)
    kw.setdefault("seed", 1)
    return rmc.sample(model, data, **kw)


def test_good_data_runs():
    sample_quick(regression(), good_data())


# ---------------------------------------------------------------- data


def test_missing_data_field():
    data = good_data()
    del data["x"]
    with pytest.raises(rmc.RmcError, match="data field 'x' is missing") as err:
        sample_quick(regression(), data)
    assert err.value.status == "RMC_ERR_DATA"


def test_missing_size_field():
    b = rmc.ModelBuilder()
    b.param("theta", shape="J", prior=rmc.Normal(0, 1))
    with pytest.raises(rmc.RmcError, match="'J' is missing.*'theta'"):
        sample_quick(b.build(), {})


def test_mismatched_lengths():
    data = good_data()
    data["x"] = data["x"][:-1]
    with pytest.raises(rmc.RmcError, match="'y'.*19.*20") as err:
        sample_quick(regression(), data)
    assert err.value.status in ("RMC_ERR_DATA", "RMC_ERR_SHAPE")


def test_wrong_declared_shape():
    b = rmc.ModelBuilder()
    mu = b.normal_prior("mu", 0.0, 1.0)
    b.observe(b.data("y", shape=(5,)), rmc.Normal(mu, 1.0))
    with pytest.raises(rmc.RmcError, match="data field 'y'.*size 5"):
        sample_quick(b.build(), {"y": np.zeros(4)})


def test_size_from_data_disagrees():
    b = rmc.ModelBuilder()
    theta = b.param("theta", shape="J", prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(theta, 1.0))
    with pytest.raises(rmc.RmcError, match="'y'.*3.*4"):
        sample_quick(b.build(), {"J": 3, "y": np.zeros(4)})


def test_matrix_where_vector_expected():
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2, prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(rmc.matvec("X", beta), 1.0))
    with pytest.raises(rmc.RmcError, match="data field 'X'.*2 dimensions"):
        sample_quick(b.build(), {"X": np.zeros(10), "y": np.zeros(10)})


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_observed_data(bad):
    data = good_data()
    data["y"] = data["y"].copy()
    data["y"][7] = bad
    with pytest.raises(rmc.RmcError, match="data field 'y' has a non-finite value.*index 7") \
            as err:
        sample_quick(regression(), data)
    assert err.value.status == "RMC_ERR_DATA"


def test_non_finite_covariate():
    data = good_data()
    data["x"] = data["x"].copy()
    data["x"][3] = np.nan
    with pytest.raises(rmc.RmcError, match="data field 'x' has a non-finite value"):
        sample_quick(regression(), data)


def group_model(base):
    b = rmc.ModelBuilder()
    a = b.param("a", shape="J", prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(rmc.gather(a, "g", base=base), 1.0))
    return b.build()


@pytest.mark.parametrize("base, g", [(1, [1, 2, 4]), (1, [0, 1, 2]), (0, [0, 1, 3]),
                                     (0, [-1, 0, 1])])
def test_index_out_of_range(base, g):
    with pytest.raises(rmc.RmcError, match="index data 'g' has value") as err:
        sample_quick(group_model(base), {"J": 3, "g": np.array(g), "y": np.zeros(3)})
    assert err.value.status == "RMC_ERR_DATA"


def test_index_in_range_runs():
    fit = sample_quick(group_model(1), {"J": 3, "g": [1, 2, 3, 3], "y": np.zeros(4)})
    assert fit["a"].shape == (1, 10, 3)


def test_element_index_out_of_range():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=3, prior=rmc.Normal(0, 1))
    b.deterministic("d", v[3])
    with pytest.raises(rmc.RmcError, match="index 3.*outside parameter 'v' of length 3") \
            as err:
        rmc.Program(b.build(), {})
    assert err.value.status == "RMC_ERR_SHAPE"


def test_slice_out_of_range_when_bound():
    b = rmc.ModelBuilder()
    w = b.param("w", shape="J", prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(w[1:5], 1.0))
    model = b.build()
    sample_quick(model, {"J": 5, "y": np.zeros(4)})
    with pytest.raises(rmc.RmcError, match="range 1..5 is outside parameter 'w' of length 4"):
        sample_quick(model, {"J": 4, "y": np.zeros(4)})


def test_real_valued_index():
    with pytest.raises(rmc.RmcError, match="'g' must hold integers"):
        sample_quick(group_model(0), {"J": 3, "g": np.array([0.0, 1.0]), "y": np.zeros(2)})


def test_bernoulli_data_outside_support():
    b = rmc.ModelBuilder()
    p = b.param("p", lower=0, upper=1)
    b.observe("k", rmc.Bernoulli(p))
    with pytest.raises(rmc.RmcError, match="observed data 'k' has 2"):
        sample_quick(b.build(), {"k": np.array([0, 1, 2])})


@pytest.mark.parametrize("value, word", [("abc", "dtype"), (np.array([1 + 2j]), "complex"),
                                         (np.array([object()], dtype=object), "object"),
                                         ([[1.0, 2.0], [3.0]], "rectangular")])
def test_unsupported_data_types(value, word):
    data = good_data()
    data["x"] = value
    with pytest.raises(ValueError, match="'x'") as err:
        sample_quick(regression(), data)
    assert word in str(err.value)


def test_three_dimensional_data():
    data = good_data()
    data["x"] = np.zeros((2, 2, 5))
    with pytest.raises(ValueError, match="'x'.*dimensions"):
        sample_quick(regression(), data)


# ---------------------------------------------------------------- model


@pytest.mark.parametrize("sigma", [0, -1, 0.0, np.inf, np.nan])
def test_non_positive_constant_scale(sigma):
    with pytest.raises(ValueError, match="Normal: sigma"):
        rmc.Normal(0.0, sigma)


@pytest.mark.parametrize("dist, word", [(lambda: rmc.HalfCauchy(-2), "scale"),
                                        (lambda: rmc.Exponential(0), "rate"),
                                        (lambda: rmc.StudentT(0, 0, 1), "nu"),
                                        (lambda: rmc.Normal(0, [1.0, 0.0]), "sigma"),
                                        (lambda: rmc.Uniform(1, 1), "lower"),
                                        (lambda: rmc.Bernoulli(1.5), "p")])
def test_bad_constant_arguments(dist, word):
    with pytest.raises(ValueError, match=word):
        dist()


def test_non_positive_scale_from_data():
    # A scale that only becomes known with the data is checked by the C library.
    b = rmc.ModelBuilder()
    mu = b.normal_prior("mu", 0.0, 1.0)
    b.observe("y", rmc.Normal(mu, "s"))
    with pytest.raises(rmc.RmcError, match="argument sigma = data 's' must be positive"):
        sample_quick(b.build(), {"y": np.zeros(3), "s": np.array([1.0, 0.0, 1.0])})


def test_duplicate_parameter_name():
    b = rmc.ModelBuilder()
    b.normal_prior("beta", 0.0, 1.0)
    with pytest.raises(ValueError, match="duplicate parameter name 'beta'"):
        b.normal_prior("beta", 0.0, 1.0)
    with pytest.raises(ValueError, match="'beta'"):
        b.deterministic("beta", b.param("gamma") * 2)


def test_duplicate_name_reported_by_c_too():
    records = [{"op": "param", "name": "a", "shape": [], "lower": None, "upper": None},
               {"op": "param", "name": "a", "shape": [], "lower": None, "upper": None}]
    with pytest.raises(rmc.RmcError, match="duplicate parameter name 'a'") as err:
        rmc.Model(records)
    assert err.value.status == "RMC_ERR_MODEL"


def test_bad_names_and_shapes():
    b = rmc.ModelBuilder()
    with pytest.raises(ValueError, match="brackets"):
        b.param("x[1]")
    with pytest.raises(ValueError, match="size 0"):
        b.param("x", shape=0)
    with pytest.raises(ValueError, match="at most 2"):
        b.param("x", shape=(2, 2, 2))
    with pytest.raises(ValueError, match="lower bound"):
        b.param("x", lower=1, upper=0)


def test_mixing_builders():
    a, b = rmc.ModelBuilder(), rmc.ModelBuilder()
    with pytest.raises(ValueError, match="different ModelBuilders"):
        a.param("x") + b.param("y")


def test_gather_needs_integer_index():
    b = rmc.ModelBuilder()
    a = b.param("a", shape=3)
    with pytest.raises(rmc.RmcError, match="integer"):
        b.tilde(a[b.data("g", dtype=float)], rmc.Normal(0, 1))
        b.build()


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize("setting, value", [("chains", 0), ("draws", 0), ("warmup", -1),
                                            ("thin", 0), ("max_treedepth", 0),
                                            ("chains", 2.5)])
def test_bad_counts(setting, value):
    with pytest.raises((ValueError, TypeError), match=setting):
        sample_quick(regression(), good_data(), **{setting: value})


def test_bad_choices():
    with pytest.raises(ValueError, match="sampler"):
        sample_quick(regression(), good_data(), sampler="gibbs")
    with pytest.raises(ValueError, match="backend"):
        sample_quick(regression(), good_data(), backend="tpu")


@pytest.mark.parametrize("setting, value", [("target_accept", 1.5), ("target_accept", 0.0),
                                            ("step_size", -1.0), ("init_radius", -1.0)])
def test_settings_checked_by_c(setting, value):
    with pytest.raises(rmc.RmcError, match=setting) as err:
        sample_quick(regression(), good_data(), **{setting: value})
    assert err.value.status == "RMC_ERR_ARGUMENT"


def test_bad_init():
    model, data = regression(), good_data()
    with pytest.raises(ValueError, match="init: .*sigma"):
        sample_quick(model, data, init={"sigma": -1.0})
    with pytest.raises(ValueError, match="init: .*sigma"):
        sample_quick(model, data, init={"sigma": 0.0})
    with pytest.raises(ValueError, match="'gamma' is not a parameter"):
        sample_quick(model, data, init={"gamma": 1.0})
    with pytest.raises(ValueError, match="one dict per chain"):
        sample_quick(model, data, chains=2, init=[{"alpha": 0.0}])
    with pytest.raises(ValueError, match="'alpha' needs shape"):
        sample_quick(model, data, init={"alpha": [1.0, 2.0]})


def test_no_finite_initial_point():
    # The German tank problem with a prior range that cannot hold the data: serial numbers
    # up to 250 are observed, but the largest serial number n is declared below 100, so
    # y ~ Uniform(0, n) has zero density for every admissible n.
    b = rmc.ModelBuilder()
    n = b.param("n", lower=0, upper=100)
    b.observe("serials", rmc.Uniform(0.0, n))
    with pytest.raises(rmc.RmcError, match="no initial point") as err:
        sample_quick(b.build(), {"serials": np.array([12.0, 250.0, 87.0])})
    assert err.value.status == "RMC_ERR_INIT"
    # The message names the statement that has no density there.
    assert "uniform(data 'serials') has a log density of -inf" in str(err.value)


def test_no_finite_initial_point_for_parameter():
    # A positive parameter with a density on negative values only.
    b = rmc.ModelBuilder()
    x = b.param("x", lower=0)
    b.tilde(x, rmc.Uniform(-2, -1))
    with pytest.raises(rmc.RmcError) as err:
        sample_quick(b.build(), {})
    assert err.value.status == "RMC_ERR_INIT"
    assert "uniform(parameter 'x')" in str(err.value)
    # Said as a prior, the clash of bounds is caught at once.
    with pytest.raises(ValueError, match="'x'.*lower bound 0 must be below upper bound -1"):
        rmc.ModelBuilder().param("x", lower=0, prior=rmc.Uniform(-2, -1))


def test_missing_library_message(tmp_path):
    # A copy of the package with no library anywhere near it, and none installed.
    shutil.copytree(os.path.dirname(rmc.__file__), tmp_path / "rmc",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("RMC_LIBRARY", "PYTHONPATH",
                                                            "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", "import rmc"], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and "cmake --build build" in out.stderr
