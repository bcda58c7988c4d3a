"""Model files read by the C loader (rmc_model_load_file) and written by the C writer
(rmc_model_save_json): the same log density and gradient, bit for bit, as the model Python
builds, and the C loader's messages for bad files.

Run as a script (``python3 tests/python/test_modelfile_c.py``) it writes the models below
to tests/data/model_*.json, the files the C test (tests/test_modelfile.c) and the fuzzing
seed corpus (tests/fuzz/make_corpus.py) read; a test here checks they are up to date.
"""

import ctypes
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "python")))
import rmc  # noqa: E402
from rmc import _lib  # noqa: E402
from rmc.modelfile import model_to_json_c  # noqa: E402

DATA_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "data"))
# A librmc older than the package binds missing symbols to stubs without argtypes; one
# built without cJSON answers RMC_ERR_BACKEND.
HAVE_C = hasattr(_lib.lib.rmc_model_load_json, "argtypes") and \
    _lib.lib.rmc_model_load_json(b"{}", 2, ctypes.byref(ctypes.c_void_p())) != \
    _lib.RMC_ERR_BACKEND
needs_c = pytest.mark.skipif(not HAVE_C, reason="librmc cannot load model files (an older "
                             "build, or built without cJSON)")


def eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    z = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * z)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build(), {"J": 8, "y": [28, 8, -3, 7, -1, 1, 18, 12],
                       "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}


def logistic():
    """A logistic regression through a data matrix, with a constant-vector prior scale."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 3))
    y = (X @ [1.0, -0.5, 0.2] + rng.normal(size=20) > 0).astype(int)
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.StudentT(3, 0, 2.5))
    beta = b.param("beta", shape=3, prior=rmc.Normal(0.0, [1.0, 2.0, 0.5]))
    b.observe("y", rmc.BernoulliLogit(alpha + rmc.matvec("X", beta)))
    b.deterministic("p1", rmc.logistic(alpha + rmc.dot(rmc.row("X", 0), beta)))
    return b.build(), {"X": X, "y": y}


def hierarchical():
    """Varying intercepts by a one-based group index (a gather), bounded scales."""
    rng = np.random.default_rng(2)
    g = rng.integers(1, 5, size=30)
    y = rng.normal(size=30) + g * 0.3
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 10))
    sd = b.param("sd_group", lower=0, prior=rmc.HalfNormal(2))
    a = b.param("a", shape="G", prior=rmc.Normal(mu, sd))
    sigma = b.param("sigma", lower=0, upper=10, prior=rmc.Exponential(1))
    b.observe("y", rmc.Normal(rmc.gather(a, b.data("g", dtype=int), base=1), sigma))
    b.target(-0.5 * rmc.square(rmc.log(sigma)))
    return b.build(), {"G": 4, "g": g, "y": y}


def mixture():
    """Two normals mixed through log_mix over elementwise log densities; ordered means."""
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.normal(-2, 1, 15), rng.normal(2, 1, 15)])
    b = rmc.ModelBuilder()
    mu = b.param("mu", shape=2, transform="ordered", prior=rmc.Normal(0, 5))
    theta = b.param("theta", lower=0, upper=1, prior=rmc.Beta(2, 2))
    s = b.param("s", lower=0, prior=rmc.LogNormal(0, 1))
    lp1 = rmc.lpdf(rmc.Normal(mu[0], s), "y")
    lp2 = rmc.lpdf(rmc.Normal(mu[1], s), "y")
    b.target(rmc.sum(rmc.log_mix(theta, lp1, lp2)))
    return b.build(), {"y": y}


def garch():
    """GARCH(1,1) through a scan over a dropped sequence; a bound from another parameter."""
    y = np.array([0.1, -0.4, 0.3, 0.9, -1.2, 0.2, 0.05, -0.3, 0.6, -0.1])
    b = rmc.ModelBuilder()
    mu = b.param("mu")
    a0 = b.param("alpha0", lower=0)
    a1 = b.param("alpha1", lower=0, upper=1)
    b1 = b.param("beta1", lower=0, upper=1 - a1)
    yv = b.data("y", shape="T")
    s = b.scan(lambda s_prev, y_prev: rmc.sqrt(a0 + a1 * (y_prev - mu) ** 2 + b1 * s_prev ** 2),
               init="sigma1", sequences=rmc.drop(yv, last=1))
    b.deterministic("s", s)
    b.observe(rmc.drop(yv, first=1), rmc.Normal(mu, s))
    b.observe(yv[0], rmc.Normal(mu, "sigma1"))
    k = b.scan(lambda prev: prev * rmc.logistic(mu), init=1.0, steps="K")
    b.target(-rmc.sum(k))
    return b.build(), {"T": len(y), "y": y, "sigma1": 0.5, "K": 3}


def correlated():
    """A correlation Cholesky factor with an LKJ prior, scales, a multivariate normal, a
    simplex, a GP covariance's Cholesky factor, slices, concat and a triangular solve."""
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(12, 3))
    b = rmc.ModelBuilder()
    L = b.param("L", shape=(3, 3), transform="cholesky_corr", prior=rmc.LKJCholesky(2.0))
    tau = b.param("tau", shape=3, prior=rmc.HalfCauchy(2.5))
    mu = b.param("mu", shape=3, prior=rmc.Normal(0, 5))
    b.observe("Y", rmc.MultiNormalCholesky(mu, rmc.diag_pre_multiply(tau, L)))
    w = b.param("w", shape=4, transform="simplex", prior=rmc.Dirichlet([1.0, 2.0, 2.0, 1.0]))
    rho = b.param("rho", lower=0, prior=rmc.Gamma(2, 2))
    K = rmc.cov_exp_quad("x", 1.0, rho, delta=1e-6)
    Lk = rmc.cholesky(K)
    z = rmc.tri_solve(Lk, rmc.concat(w[0:2], rmc.col(L, 0)[1:]))
    b.target(rmc.sum(rmc.lpdf(rmc.Normal(0, 1), z)))
    b.deterministic("Lt", rmc.transpose(rmc.matmul(L, rmc.transpose(L))))
    b.deterministic("v", rmc.vecmat(w[1:4], L))
    return b.build(), {"Y": Y, "x": np.array([0.0, 0.5, 1.3, 2.0])}


MODELS = {"eight_schools": eight_schools, "logistic": logistic,
          "hierarchical": hierarchical, "mixture": mixture, "garch": garch,
          "correlated": correlated}


def write_fixtures():
    for name, make in MODELS.items():
        path = os.path.join(DATA_DIR, "model_%s.json" % name)
        rmc.save_model(make()[0], path)
        print("wrote", path)


def positions(dim, n=3):
    return 0.4 * np.sin(np.arange(n * dim).reshape(n, dim) * 1.3 + 0.7)


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fixtures_are_current(name):
    """tests/data/model_NAME.json is what save_model writes for the model today."""
    with open(os.path.join(DATA_DIR, "model_%s.json" % name)) as f:
        assert json.load(f) == json.loads(MODELS[name]()[0].to_json())


@needs_c
@pytest.mark.parametrize("name", sorted(MODELS))
def test_c_loader_gives_the_same_density(name):
    model, data = MODELS[name]()
    path = os.path.join(DATA_DIR, "model_%s.json" % name)
    loaded = rmc.load_model(path, loader="c")
    assert loaded.records == model.records
    a, b = rmc.Program(model, data), rmc.Program(loaded, data)
    assert a.dim == b.dim and a.column_names == b.column_names
    x = positions(a.dim)
    lp_a, g_a = a.logp_grad(x)
    lp_b, g_b = b.logp_grad(x)
    assert np.all(np.isfinite(lp_a))
    assert np.array_equal(lp_a, lp_b) and np.array_equal(g_a, g_b)
    assert np.array_equal(a.constrain(x[0]), b.constrain(x[0]))


@needs_c
@pytest.mark.parametrize("name", sorted(MODELS))
def test_c_writer_round_trips(name, tmp_path):
    """rmc_model_save_json's text, read by Python and by C, is the same model again."""
    model, data = MODELS[name]()
    text = model_to_json_c(model)
    path = tmp_path / "m.json"
    path.write_text(text)
    again_py = rmc.load_model(path)
    again_c = rmc.load_model(path, loader="c")
    assert model_to_json_c(again_c) == text
    a = rmc.Program(model, data)
    x = positions(a.dim)
    for other in (again_py, again_c):
        b = rmc.Program(other, data)
        assert b.column_names == a.column_names
        lp_a, g_a = a.logp_grad(x)
        lp_b, g_b = b.logp_grad(x)
        assert np.array_equal(lp_a, lp_b) and np.array_equal(g_a, g_b)


def _broken(tmp_path, edit):
    doc = json.loads(eight_schools()[0].to_json())
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


@needs_c
@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="other"), "not an rmc model file"),
    (lambda d: d.update(version=99), "version 99 is not supported"),
    (lambda d: d.update(records=[]), "non-empty list"),
    (lambda d: d["records"].append({"op": "frobnicate"}), "record 15: unknown kind"),
    (lambda d: d["records"].append({"op": "op2", "fn": "add", "inputs": [0]}),
     r"record 15 \(op2\): takes 2 input\(s\), got 1"),
    (lambda d: d["records"].append({"op": "op1", "fn": "exp", "inputs": [999]}),
     r"record 15 \(op1\): input 999 is not an earlier record"),
    (lambda d: d["records"].append({"op": "op1", "fn": "exp", "inputs": [3]}),
     r"input 3 is record 3 \(tilde\), which stands for no value"),
    (lambda d: d["records"].append({"op": "op1", "inputs": [0]}), r"missing \"fn\""),
    (lambda d: d["records"].append({"op": "op1", "fn": "add", "inputs": [0]}),
     r"fn \"add\" takes 2 input\(s\)"),
    (lambda d: d["records"].append({"op": "tilde", "dist": "normel", "inputs": [0]}),
     r"record 15 \(tilde\): \"dist\" must be one of .*got \"normel\""),
    (lambda d: d["records"].append({"op": "tilde", "dist": "normal", "inputs": [0, 1]}),
     r"normal takes the value and 2 argument\(s\)"),
    (lambda d: d["records"].append({"op": "param", "name": "z", "shape": [0],
                                    "lower": None, "upper": None}), r"\"shape\" must be"),
    (lambda d: d["records"].append({"op": "param", "name": "z", "shape": [],
                                    "lower": "a", "upper": None}), r"\"lower\" must be"),
    (lambda d: d["records"].append({"op": "const", "value": "1"}),
     r"\"value\" must be a number, got \"1\""),
    (lambda d: d["records"].append({"op": "slice", "inputs": [6], "begin": 0.5, "end": 2}),
     r"\"begin\" must be an integer"),
    (lambda d: d["records"].append({"op": "param", "name": "mu", "shape": [],
                                    "lower": None, "upper": None}),
     r"record 15 \(param\): the model does not build: duplicate parameter name 'mu'"),
])
def test_c_loader_errors_name_the_culprit(tmp_path, edit, message):
    path = _broken(tmp_path, edit)
    with pytest.raises(rmc.ModelFileError, match=message) as err:
        rmc.load_model(path, loader="c")
    assert str(err.value).startswith(str(path) + ": ")


@needs_c
def test_c_loader_not_json_and_missing_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"format": "rmc-model",\n "version": 2, "records": [,]}')
    with pytest.raises(rmc.ModelFileError, match=r"not valid JSON \(line 2, column"):
        rmc.load_model(path, loader="c")
    with pytest.raises(rmc.ModelFileError, match="cannot read"):
        rmc.load_model(tmp_path / "absent.json", loader="c")


if __name__ == "__main__":
    write_fixtures()
