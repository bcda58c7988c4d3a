"""The newer expression API from Python: elementwise ops and reductions, log densities as
expressions (Distribution.logpdf, rmc.lpdf, ModelBuilder.target) and recurrences
(ModelBuilder.scan); values against numpy/scipy, gradients against finite differences,
the rules of a scan step, and saving such models."""

import inspect
import json

import numpy as np
import pytest
from scipy import special, stats

import rmc
from rmc import dist as rmc_dist


def columns(program, x):
    """The output variables of ``program`` at unconstrained ``x``, by name."""
    out = program.constrain(np.asarray(x, dtype=float))
    return {name: out[first:first + int(np.prod(shape))].reshape(shape)
            for name, shape, first in program.variables}


def check_gradient(program, x, rtol=1e-6, h=1e-6):
    """The reverse-mode gradient at ``x`` against central finite differences."""
    x = np.asarray(x, dtype=float)
    lp, grad = program.logp_grad(x)
    assert np.isfinite(lp)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd = (program.logp_grad(up, grad=False)[0] - program.logp_grad(down, grad=False)[0]) \
            / (2 * h)
        assert abs(fd - grad[i]) <= rtol * max(1.0, abs(grad[i])) + 1e-8, \
            "d lp / d x[%d] = %.10g, finite difference %.10g" % (i, grad[i], fd)
    return lp


# ------------------------------------------------------------------ elementwise ops


def op_cases(a, b, s, p):
    """name -> (expression over a, b, s, p) and (numpy function of their values)."""
    return {
        "min_vv": (lambda: rmc.minimum(a, b), lambda: np.minimum(A, B)),
        "min_vs": (lambda: rmc.minimum(a, s), lambda: np.minimum(A, S)),
        "max_sv": (lambda: rmc.maximum(s, b), lambda: np.maximum(S, B)),
        "max_vc": (lambda: rmc.maximum(a, 0.25), lambda: np.maximum(A, 0.25)),
        "lgamma": (lambda: rmc.lgamma(p), lambda: special.gammaln(P)),
        "expm1": (lambda: rmc.expm1(a), lambda: np.expm1(A)),
        "log1p_exp": (lambda: rmc.log1p_exp(a), lambda: np.logaddexp(0, A)),
        "tanh": (lambda: rmc.tanh(a), lambda: np.tanh(A)),
        "abs": (lambda: rmc.abs(a), lambda: np.abs(A)),
        "abs_op": (lambda: abs(b - s), lambda: np.abs(B - S)),
        "lse": (lambda: rmc.log_sum_exp(a), lambda: special.logsumexp(A)),
        "lse_big": (lambda: rmc.log_sum_exp(a * 400.0), lambda: special.logsumexp(A * 400)),
        "mix_s": (lambda: rmc.log_mix(0.3, a, b),
                  lambda: np.log(0.3 * np.exp(A) + 0.7 * np.exp(B))),
        "mix_v": (lambda: rmc.log_mix(rmc.logistic(b), a, s),
                  lambda: np.log(special.expit(B) * np.exp(A)
                                 + (1 - special.expit(B)) * np.exp(S))),
    }


A = np.array([0.4, -1.3, 2.2])
B = np.array([-0.2, 0.9, 2.2])
S = 0.35
P = np.array([0.3, 1.7, 6.5])


def ops_program():
    b = rmc.ModelBuilder()
    a = b.param("a", shape=3)
    bb = b.param("b", shape=3)
    s = b.param("s")
    p = b.param("p", shape=3, lower=0)
    cases = op_cases(a, bb, s, p)
    for name, (make, _) in cases.items():
        b.deterministic(name, make())
    return rmc.Program(b.build(), {}), cases


def test_new_ops_against_numpy():
    program, cases = ops_program()
    x = np.concatenate([A, B, [S], np.log(P)])
    got = columns(program, x)
    for name, (_, want) in cases.items():
        np.testing.assert_allclose(got[name], want(), rtol=1e-12, atol=1e-13, err_msg=name)
    # the same ops on data only are folded at bind time, to the same values
    b = rmc.ModelBuilder()
    b.param("dummy", prior=rmc.Normal(0, 1))
    b.deterministic("lse", rmc.log_sum_exp("v"))
    b.deterministic("mx", rmc.maximum("v", 0.0) + rmc.lgamma(rmc.abs("v") + 1))
    v = np.array([-1.5, 0.5, 3.0])
    got = columns(rmc.Program(b.build(), {"v": v}), [0.0])
    assert got["lse"] == pytest.approx(special.logsumexp(v), rel=1e-14)
    np.testing.assert_allclose(got["mx"], np.maximum(v, 0) + special.gammaln(abs(v) + 1),
                               rtol=1e-13)


def test_new_ops_gradients():
    b = rmc.ModelBuilder()
    a = b.param("a", shape=3)
    bb = b.param("b", shape=3)
    s = b.param("s")
    p = b.param("p", shape=3, lower=0)
    w = b.param("w", shape=3)
    for name, (make, _) in op_cases(a, bb, s, p).items():
        if name == "lse_big":   # for values: its huge log density drowns differences
            continue
        # a weight per term, so that each op's adjoint is not all ones
        b.target(rmc.Normal(0.3, 1.7).logpdf(make()) * rmc.exp(w[len(name) % 3]))
    program = rmc.Program(b.build(), {})
    x = np.concatenate([A + [0.01, 0.02, -0.03], B, [S], np.log(P), [0.1, -0.2, 0.3]])
    check_gradient(program, x)


def test_op_records_and_shapes():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=4)
    assert rmc.expr.static_shape(rmc.log_sum_exp(v)) == ()
    assert rmc.expr.static_shape(rmc.log_mix(0.5, v, 1.0)) == (4,)
    assert rmc.expr.static_shape(rmc.Normal(0, 1).logpdf(v)) == (4,)
    assert rmc.expr.static_shape(rmc.maximum(v, 1.0)) == (4,)
    # free expressions over data are recorded where they meet a builder
    free = rmc.log_mix(0.5, rmc.Normal(0, 1).logpdf("y"), rmc.tanh("y"))
    assert free._builder is None
    b.target(free + v[0])
    ops = [(r["op"], r.get("fn") or r.get("dist")) for r in b.build().records]
    assert ("op3", "log_mix") in ops and ("lpdf", "normal") in ops and ("target", None) in ops
    with pytest.raises(TypeError, match="Distribution"):
        rmc.lpdf("normal", v)


# ------------------------------------------------------------------ log densities


def _scipy_cases():
    """(distribution class, its arguments, values, scipy log density of the values)."""
    y = np.array([0.3, 1.2, 2.5])
    u = np.array([0.15, 0.5, 0.8])
    k = np.array([0, 3, 7])
    lam, eta = np.array([1.5, 2.0, 6.0]), np.array([0.2, 0.7, 1.9])
    nb_mu, phi = np.array([1.0, 4.0, 5.5]), 2.5
    return [
        ("Normal", (0.5, 1.3), y, stats.norm(0.5, 1.3).logpdf(y)),
        ("HalfNormal", (1.3,), y, stats.halfnorm(scale=1.3).logpdf(y)),
        ("Cauchy", (0.5, 1.3), y, stats.cauchy(0.5, 1.3).logpdf(y)),
        ("HalfCauchy", (1.3,), y, stats.halfcauchy(scale=1.3).logpdf(y)),
        ("StudentT", (3.0, 0.5, 1.3), y, stats.t(3.0, 0.5, 1.3).logpdf(y)),
        ("Uniform", (-1.0, 3.0), y, stats.uniform(-1.0, 4.0).logpdf(y)),
        ("Exponential", (1.7,), y, stats.expon(scale=1 / 1.7).logpdf(y)),
        ("Gamma", (2.5, 1.5), y, stats.gamma(2.5, scale=1 / 1.5).logpdf(y)),
        ("InverseGamma", (2.5, 1.5), y, stats.invgamma(2.5, scale=1.5).logpdf(y)),
        ("LogNormal", (0.2, 0.9), y, stats.lognorm(s=0.9, scale=np.exp(0.2)).logpdf(y)),
        ("Beta", (2.5, 1.5), u, stats.beta(2.5, 1.5).logpdf(u)),
        ("Laplace", (0.5, 1.3), y, stats.laplace(0.5, 1.3).logpdf(y)),
        ("Logistic", (0.5, 1.3), y, stats.logistic(0.5, 1.3).logpdf(y)),
        ("Weibull", (1.8, 1.3), y, stats.weibull_min(1.8, scale=1.3).logpdf(y)),
        ("HalfStudentT", (3.0, 1.3), y, np.log(2) + stats.t(3.0, 0, 1.3).logpdf(y)),
        ("Bernoulli", (0.3,), np.array([0, 1, 1]),
         stats.bernoulli(0.3).logpmf([0, 1, 1])),
        ("BernoulliLogit", (eta,), np.array([0, 1, 1]),
         stats.bernoulli(special.expit(eta)).logpmf([0, 1, 1])),
        ("Binomial", (9, 0.35), k, stats.binom(9, 0.35).logpmf(k)),
        ("BinomialLogit", (9, eta), k, stats.binom(9, special.expit(eta)).logpmf(k)),
        ("Poisson", (lam,), k, stats.poisson(lam).logpmf(k)),
        ("PoissonLog", (np.log(lam),), k, stats.poisson(lam).logpmf(k)),
        ("NegBinomial2", (nb_mu, phi), k,
         stats.nbinom(phi, phi / (nb_mu + phi)).logpmf(k)),
        ("NegBinomial2Log", (np.log(nb_mu), phi), k,
         stats.nbinom(phi, phi / (nb_mu + phi)).logpmf(k)),
        ("CategoricalLogit", (np.array([0.2, -1.0, 0.7]),), np.array([1, 3, 2]),
         (np.array([0.2, -1.0, 0.7]) - special.logsumexp([0.2, -1.0, 0.7]))[[0, 2, 1]]),
    ]


def _as_param(b, name, value):
    """A parameter that equals ``value`` at the unconstrained point returned beside it."""
    value = np.asarray(value, dtype=float)
    return b.param(name, shape=value.shape), value.ravel()


@pytest.mark.parametrize("case", _scipy_cases(), ids=lambda c: c[0])
def test_lpdf_against_scipy(case):
    cls_name, args, values, want = case
    cls = getattr(rmc, cls_name)
    discrete = values.dtype.kind == "i"
    # arguments as parameters (evaluated per point), except counts, which must be data
    b = rmc.ModelBuilder()
    exprs, xs = [], []
    for k, (arg_name, arg) in enumerate(zip(cls.arg_names, args)):
        if arg_name in cls.counts:
            exprs.append(arg)
            continue
        e, x0 = _as_param(b, "arg%d" % k, arg)
        exprs.append(e)
        xs.append(x0)
    value = b.data("y", dtype=int) if discrete else b.data("y")
    b.deterministic("lp", cls(*exprs).logpdf(value))
    b.deterministic("lp_fn", rmc.lpdf(cls(*exprs), value))
    got = columns(rmc.Program(b.build(), {"y": values}), np.concatenate(xs))
    np.testing.assert_allclose(got["lp"], want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["lp_fn"], want, rtol=1e-10, atol=1e-12)
    # data-only arguments: the same values, folded once at bind time
    b = rmc.ModelBuilder()
    b.param("dummy", prior=rmc.Normal(0, 1))
    value = b.data("y", dtype=int) if discrete else "y"
    b.deterministic("lp", cls(*args).logpdf(value))
    if cls is rmc.CategoricalLogit:   # C: a constant of this kind wants a statement
        with pytest.raises(rmc.RmcError, match="data alone"):
            rmc.Program(b.build(), {"y": values})
        return
    got = columns(rmc.Program(b.build(), {"y": values}), [0.0])
    np.testing.assert_allclose(got["lp"], want, rtol=1e-10, atol=1e-12)


def _distribution_classes():
    return [c for _, c in inspect.getmembers(rmc_dist, inspect.isclass)
            if issubclass(c, rmc.Distribution) and c is not rmc.Distribution]


@pytest.mark.parametrize("cls", _distribution_classes(), ids=lambda c: c.__name__)
def test_every_distribution_has_logpdf(cls):
    """Every class in rmc.dist, however recent, records an lpdf node of its own C code."""
    dist = cls(*["arg%d" % k for k in range(len(cls.arg_names))])
    b = rmc.ModelBuilder()
    v = b.param("v", shape=3)
    lp = dist.logpdf(v)
    assert isinstance(lp, rmc.Expr) and lp._builder is b
    rec = b._records[lp._node]
    assert rec["op"] == "lpdf" and rec["dist"] == cls.kind
    assert rmc._lib.DISTS[cls.kind] >= 0
    assert len(rec["inputs"]) == 1 + len(cls.arg_names)
    b.target(lp)
    b.build()   # the C builder accepts it (shapes are checked when data are bound)


def test_target_equals_the_statement():
    """target += lpdf(...) is the same log density as the ~ statement, vector summed."""
    y = np.array([0.3, -1.2, 2.1, 0.4])

    def model(use_target):
        b = rmc.ModelBuilder()
        mu = b.param("mu", prior=rmc.Normal(0, 5))
        sigma = b.param("sigma", lower=0)
        if use_target:
            b.target(rmc.Normal(mu, sigma).logpdf("y"))
            b.target(rmc.HalfCauchy(2.0).logpdf(sigma))
        else:
            b.observe("y", rmc.Normal(mu, sigma))
            b.tilde(sigma, rmc.HalfCauchy(2.0))
        return rmc.Program(b.build(), {"y": y})

    x = np.array([[0.3, -0.2], [1.5, 0.7]])
    lp_t, g_t = model(True).logp_grad(x)
    lp_s, g_s = model(False).logp_grad(x)
    np.testing.assert_allclose(lp_t, lp_s, rtol=1e-13)
    np.testing.assert_allclose(g_t, g_s, rtol=1e-12, atol=1e-13)


def mixture_model():
    """The two-component normal mixture of low_dim_gauss_mix, with target and log_mix."""
    b = rmc.ModelBuilder()
    mu = b.param("mu", shape=2, transform="ordered", prior=rmc.Normal(0, 2))
    sigma = b.param("sigma", shape=2, prior=rmc.HalfNormal(2))
    theta = b.param("theta", prior=rmc.Beta(5, 5))
    b.target(rmc.log_mix(theta, rmc.Normal(mu[0], sigma[0]).logpdf("y"),
                         rmc.Normal(mu[1], sigma[1]).logpdf("y")))
    return b.build()


def test_mixture_value_and_gradient():
    y = np.array([-1.9, -0.4, 0.2, 1.1, 2.6, 3.3])
    program = rmc.Program(mixture_model(), {"y": y})
    x = np.array([-0.7, 0.4, 0.2, -0.3, 0.5])
    # by hand: ordered mu, log sigma, logit theta, and their log-Jacobians
    mu = np.array([x[0], x[0] + np.exp(x[1])])
    sigma = np.exp(x[2:4])
    theta = special.expit(x[4])
    lp = (stats.norm(0, 2).logpdf(mu).sum() + stats.halfnorm(scale=2).logpdf(sigma).sum()
          + stats.beta(5, 5).logpdf(theta)
          + np.logaddexp(np.log(theta) + stats.norm(mu[0], sigma[0]).logpdf(y),
                         np.log1p(-theta) + stats.norm(mu[1], sigma[1]).logpdf(y)).sum()
          + x[1] + x[2:4].sum() + np.log(theta * (1 - theta)))
    assert check_gradient(program, x) == pytest.approx(lp, rel=1e-12)


# ------------------------------------------------------------------ scans

Y = np.array([0.3, -1.1, 2.0, 0.4, -0.2, 1.3, 0.8, -0.5])


def garch_builder():
    """GARCH(1,1) with b.scan: s[1] = sigma1, s[t]^2 = a0 + a1 (y[t-1] - mu)^2 + b1 s[t-1]^2,
    y[t] ~ Normal(mu, s[t]); beta1 bounded above by 1 - alpha1."""
    b = rmc.ModelBuilder()
    mu = b.param("mu")
    a0 = b.param("alpha0", lower=0)
    a1 = b.param("alpha1", lower=0, upper=1)
    b1 = b.param("beta1", lower=0, upper=1 - a1)
    y = b.data("y", shape="T")

    def step(s_prev, y_prev):
        return rmc.sqrt(a0 + a1 * (y_prev - mu) ** 2 + b1 * s_prev ** 2)

    s = b.scan(step, init="sigma1", sequences=rmc.drop(y, last=1))
    b.deterministic("s", s)
    b.observe(rmc.drop(y, first=1), rmc.Normal(mu, s))
    b.observe(y[0], rmc.Normal(mu, "sigma1"))
    return b, mu


GARCH_DATA = {"T": len(Y), "y": Y, "sigma1": 0.5}


def garch_by_hand(x):
    mu, a0 = x[0], np.exp(x[1])
    a1 = special.expit(x[2])
    z = special.expit(x[3])
    b1 = (1 - a1) * z
    s = [0.5]
    for t in range(1, len(Y)):
        s.append(np.sqrt(a0 + a1 * (Y[t - 1] - mu) ** 2 + b1 * s[-1] ** 2))
    s = np.array(s)
    jac = x[1] + np.log(a1 * (1 - a1)) + np.log((1 - a1) * z * (1 - z))
    return stats.norm(mu, s).logpdf(Y).sum() + jac, s[1:]


def test_garch_scan_values_and_gradient():
    program = rmc.Program(garch_builder()[0].build(), GARCH_DATA)
    assert program.dim == 4
    x = np.array([0.2, -0.5, 0.3, -0.4])
    want_lp, want_s = garch_by_hand(x)
    np.testing.assert_allclose(columns(program, x)["s"], want_s, rtol=1e-13)
    assert check_gradient(program, x) == pytest.approx(want_lp, rel=1e-12)


def test_vector_state_and_counted_steps():
    """A vector state over a matrix sequence, and scans without sequences (a count, a data
    size), against the recurrences written out; gradients against finite differences."""
    b = rmc.ModelBuilder()
    w = b.param("w", shape=2)
    h0 = b.param("h0", shape=2)
    u = b.param("u", shape=(4, 2), prior=rmc.Normal(0, 1))
    h = b.scan(lambda prev, row: rmc.tanh(w * prev + row), init=h0, sequences=u)
    assert rmc.expr.static_shape(h) == (4, 2)
    g = b.scan(lambda prev: 0.5 * prev + w[0], init=1.0, steps=3)
    k = b.scan(lambda prev: prev * rmc.logistic(w[1]), init=h0, steps="K")
    b.deterministic("h", h)
    b.deterministic("g", g)
    b.deterministic("k", k)
    b.tilde(rmc.sum(h) + rmc.sum(g) + rmc.sum(k), rmc.Normal(1.0, 1.0))
    model = b.build()
    assert "K" in model.data_names
    program = rmc.Program(model, {"K": 2})
    x = 0.3 * np.sin(1.7 * np.arange(12) + 0.2)
    got = columns(program, x)
    wv, hv, uv = x[:2], x[2:4], x[4:].reshape(4, 2)
    states, prev = [], hv
    for t in range(4):
        prev = np.tanh(wv * prev + uv[t])
        states.append(prev)
    np.testing.assert_allclose(got["h"], states, rtol=1e-13)
    np.testing.assert_allclose(got["g"], [0.5 + wv[0], 0.25 + 1.5 * wv[0],
                                          0.125 + 1.75 * wv[0]], rtol=1e-13)
    q = special.expit(wv[1])
    np.testing.assert_allclose(got["k"], [hv * q, hv * q * q], rtol=1e-13)
    check_gradient(program, x)


def test_scan_sharing_pitfall():
    """A record made inside a step is never shared with the outside, while one made
    outside and reused inside is."""
    b = rmc.ModelBuilder()
    a = b.param("a", prior=rmc.Normal(0, 1))
    c = b.param("c", prior=rmc.Normal(0, 1))
    outside = a * c                 # recorded before the scan, reused inside
    held = []

    def step(prev):
        twice = a * 2.0             # first recorded inside the step
        held.append(twice)
        return prev * 0.5 + twice + outside

    states = b.scan(step, init=0.0, steps=3)
    end = states._node
    assert held[0]._node < end and outside._node < held[0]._node
    again = a * 2.0                 # the same expression outside: a new record
    assert again._node > end
    assert (a * c)._node == outside._node   # outside records are still shared
    b.deterministic("again", again)
    b.deterministic("outside", outside)
    b.deterministic("states", states)
    with pytest.raises(ValueError, match="inside a scan step"):
        held[0] + 1.0
    with pytest.raises(ValueError, match="inside a scan step"):
        b.deterministic("leak", held[0])
    with pytest.raises(ValueError, match="inside a scan step"):
        b.param("z", upper=held[0])
    b.deterministic("leak", states[0] + 1.0)   # the names were not taken by the failures
    b.param("z", prior=rmc.Normal(0, 1))
    program = rmc.Program(b.build(), {})
    got = columns(program, [0.7, -0.4, 0.0])
    assert got["again"] == pytest.approx(1.4)
    assert got["outside"] == pytest.approx(-0.28)
    want, prev = [], 0.0
    for _ in range(3):
        prev = prev * 0.5 + 1.4 - 0.28
        want.append(prev)
    np.testing.assert_allclose(got["states"], want, rtol=1e-14)
    # a second scan of the same step reuses a * 2.0, now recorded outside any step
    second = b.scan(step, init=0.0, steps=3)
    assert held[1]._node == again._node
    assert (a * 2.0)._node == again._node
    b.deterministic("second", second)
    np.testing.assert_allclose(columns(rmc.Program(b.build(), {}), [0.7, -0.4, 0.0])["second"],
                               want, rtol=1e-14)


def test_scan_step_rules():
    b = rmc.ModelBuilder()
    a = b.param("a")
    before = list(b._records)
    bad_steps = {
        "parameter": lambda s: s + b.param("p"),
        "statement": lambda s: b.tilde(s, rmc.Normal(0, 1)) or s,
        "statement.*observe": lambda s: b.observe("y", rmc.Normal(s, 1)) or s,
        "deterministic": lambda s: b.deterministic("d", s) or s,
        "target": lambda s: b.target(s) or s,
        "nested": lambda s: b.scan(lambda t: t + 1, init=s, steps=2),
    }
    for what, step in bad_steps.items():
        with pytest.raises(ValueError, match="%s.*inside a scan step" % what):
            b.scan(step, init=0.0, steps=3)
        assert b._records == before and b._scan is None   # rolled back: usable again
    with pytest.raises(ZeroDivisionError):
        b.scan(lambda s: s + 1 / 0, init=0.0, steps=3)
    assert b._records == before
    with pytest.raises(ValueError, match="made before the scan"):
        b.scan(lambda s: a, init=0.0, steps=3)
    with pytest.raises(ValueError, match="data only"):
        b.scan(lambda s: rmc.log("x"), init=0.0, steps=3)
    with pytest.raises(TypeError, match="returned None"):
        b.scan(lambda s: None, init=0.0, steps=3)
    with pytest.raises(ValueError, match="shape"):
        b.scan(lambda s: s * np.ones(3), init=0.0, steps=3)
    with pytest.raises(ValueError, match="steps must be"):
        b.scan(lambda s: s + a, init=0.0)
    with pytest.raises(ValueError, match="steps is only"):
        b.scan(lambda s, r: s + r, init=0.0, sequences="y", steps=3)
    with pytest.raises(ValueError, match="at most two"):
        b.scan(lambda s, r, q, z: s, init=0.0, sequences=("y", "y", "y"))
    with pytest.raises(TypeError, match="function"):
        b.scan(3, init=0.0, steps=3)
    assert b._records == before
    # two sequences: a row of each
    out = b.scan(lambda s, r, q: s + a * r - q, init=0.0, sequences=("y", "z"))
    b.deterministic("out", out)
    got = columns(rmc.Program(b.build(), {"y": np.array([1.0, 2.0]),
                                          "z": np.array([0.5, 0.25])}), [2.0])
    np.testing.assert_allclose(got["out"], [1.5, 5.25])
    # C's own checks: the sequences' lengths at bind time
    with pytest.raises(rmc.RmcError, match="rows"):
        rmc.Program(b.build(), {"y": np.array([1.0, 2.0]), "z": np.array([0.5])})


def test_scan_model_round_trip():
    b, mu = garch_builder()
    b.target(rmc.log_mix(0.25, rmc.Normal(mu, 1).logpdf(0.1), rmc.Cauchy(mu, 2).logpdf(0.2)))
    model = b.build()
    text = model.to_json()
    again = rmc.Model.from_json(text)
    assert again.records == model.records == json.loads(text)["records"]
    kinds = {r["op"] for r in again.records}
    assert {"scan_begin", "scan_row", "scan_end", "target", "op3", "lpdf"} <= kinds
    x = np.array([[0.2, -0.5, 0.3, -0.4], [-0.1, 0.2, -1.0, 0.5]])
    lp1, g1 = rmc.Program(model, GARCH_DATA).logp_grad(x)
    lp2, g2 = rmc.Program(again, GARCH_DATA).logp_grad(x)
    np.testing.assert_array_equal(lp1, lp2)
    np.testing.assert_array_equal(g1, g2)
    # a file whose scan_row lost its scan_begin is refused with the record named
    doc = json.loads(text)
    row = next(i for i, r in enumerate(doc["records"]) if r["op"] == "scan_row")
    doc["records"][row]["k"] = 3
    with pytest.raises(ValueError, match="record %d: scan_row" % row):
        rmc.Model.from_json(json.dumps(doc))


def test_scan_samples_inside_the_bound():
    fit = rmc.sample(garch_builder()[0].build(), GARCH_DATA, chains=2, warmup=200, draws=200,
                     seed=3)
    a1, b1 = fit["alpha1"].ravel(), fit["beta1"].ravel()
    assert np.all((b1 > 0) & (b1 < 1 - a1))
    assert np.all(np.isfinite(fit["s"]))
