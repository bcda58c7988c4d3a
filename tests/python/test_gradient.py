"""Log densities and gradients from rmc.logp_grad against numpy."""

import math

import numpy as np
import pytest

import rmc


def small_model():
    """A model touching bounds, gathers, matvec and several distributions."""
    b = rmc.ModelBuilder()
    mu = b.normal_prior("mu", 0.0, 2.0)
    tau = b.half_cauchy_prior("tau", 1.0)
    a = b.param("a", shape="J", prior=rmc.StudentT(4.0, 0.0, 1.0))
    beta = b.param("beta", shape=2, prior=rmc.Cauchy(0.0, 2.5))
    theta = b.deterministic("theta", mu + tau * a)
    eta = rmc.gather(theta, "group", base=1) + rmc.matvec("X", beta)
    sigma = b.exponential_prior("sigma", 1.0)
    b.observe("y", rmc.Normal(eta, sigma))
    b.observe("k", rmc.BernoulliLogit(eta / 4))
    p = b.param("p", lower=0, upper=1)
    b.observe("k", rmc.Bernoulli(p))
    return b.build()


def small_data():
    rng = np.random.default_rng(0)
    n = 12
    return {"J": 3, "group": rng.integers(1, 4, n), "X": rng.normal(size=(n, 2)),
            "y": rng.normal(size=n), "k": rng.integers(0, 2, n)}


def test_gradient_matches_finite_differences():
    model, data = small_model(), small_data()
    program = rmc.Program(model, data)
    dim = program.dim
    assert dim == 1 + 1 + 3 + 2 + 1 + 1
    rng = np.random.default_rng(1)
    h = 1e-6
    for _ in range(5):
        x = rng.uniform(-1.5, 1.5, dim)
        lp, grad = rmc.logp_grad(model, data, x)
        assert np.isfinite(lp)
        fd = np.empty(dim)
        for i in range(dim):
            e = np.zeros(dim)
            e[i] = h
            fd[i] = (program.logp_grad(x + e)[0] - program.logp_grad(x - e)[0]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_batched_equals_single():
    model, data = small_model(), small_data()
    program = rmc.Program(model, data)
    xs = np.random.default_rng(2).uniform(-1, 1, (7, program.dim))
    lp, grad = program.logp_grad(xs)
    assert lp.shape == (7,) and grad.shape == xs.shape
    for b in range(7):
        lp1, g1 = program.logp_grad(xs[b])
        assert lp1 == lp[b]
        np.testing.assert_array_equal(g1, grad[b])
    with pytest.raises(ValueError, match="shape"):
        program.logp_grad(np.zeros(program.dim + 1))


def logistic(x):
    return 1 / (1 + np.exp(-x))


# Each case: (prior or likelihood setup, log density in numpy of the unconstrained x,
# up to a constant). Bounded parameters include the log-Jacobian of their transform.
CASES = {
    "normal": (lambda b: b.param("v", prior=rmc.Normal(1.0, 2.0)),
               lambda x: -0.5 * ((x - 1) / 2) ** 2),
    "half_normal": (lambda b: b.param("v", prior=rmc.HalfNormal(2.0)),
                    lambda x: -0.5 * (np.exp(x) / 2) ** 2 + x),
    "cauchy": (lambda b: b.param("v", prior=rmc.Cauchy(1.0, 2.0)),
               lambda x: -np.log1p(((x - 1) / 2) ** 2)),
    "half_cauchy": (lambda b: b.param("v", prior=rmc.HalfCauchy(2.0)),
                    lambda x: -np.log1p((np.exp(x) / 2) ** 2) + x),
    "student_t": (lambda b: b.param("v", prior=rmc.StudentT(3.0, 1.0, 2.0)),
                  lambda x: -2.0 * np.log1p(((x - 1) / 2) ** 2 / 3)),
    "uniform": (lambda b: b.param("v", prior=rmc.Uniform(-1.0, 3.0)),
                lambda x: np.log(logistic(x)) + np.log(1 - logistic(x))),
    "exponential": (lambda b: b.param("v", prior=rmc.Exponential(1.5)),
                    lambda x: -1.5 * np.exp(x) + x),
    "bernoulli": (lambda b: b.observe("k", rmc.Bernoulli(b.param("v", lower=0, upper=1))),
                  lambda x: 3 * np.log(logistic(x)) + 2 * np.log(1 - logistic(x))
                  + np.log(logistic(x)) + np.log(1 - logistic(x))),
    "bernoulli_logit": (lambda b: b.observe("k", rmc.BernoulliLogit(b.param("v"))),
                        lambda x: 3 * x - 5 * np.log1p(np.exp(x))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_distribution_log_densities(name):
    setup, reference = CASES[name]
    b = rmc.ModelBuilder()
    setup(b)
    program = rmc.Program(b.build(), {"k": np.array([1, 0, 1, 1, 0])})
    xs = np.array([[-1.3], [-0.2], [0.4], [1.7]])
    lp, grad = program.logp_grad(xs)
    want = reference(xs[:, 0])
    np.testing.assert_allclose(lp - lp[0], want - want[0], rtol=1e-10, atol=1e-10)
    h = 1e-6
    fd = (reference(xs[:, 0] + h) - reference(xs[:, 0] - h)) / (2 * h)
    np.testing.assert_allclose(grad[:, 0], fd, rtol=1e-5, atol=1e-7)


def test_vector_arguments_broadcast():
    # Normal with a constant-vector mean and a data-vector scale equals the sum of the
    # elementwise terms.
    b = rmc.ModelBuilder()
    v = b.param("v", shape=3)
    b.tilde(v, rmc.Normal(np.array([0.0, 1.0, 2.0]), "s"))
    s = np.array([1.0, 2.0, 0.5])
    program = rmc.Program(b.build(), {"s": s})
    x1, x2 = np.array([0.1, 0.2, 0.3]), np.array([-1.0, 2.0, 2.5])
    ref = [-0.5 * np.sum(((x - [0, 1, 2]) / s) ** 2) for x in (x1, x2)]
    lp = program.logp_grad(np.stack([x1, x2]))[0]
    assert lp[1] - lp[0] == pytest.approx(ref[1] - ref[0], rel=1e-12)


def test_outside_support_is_minus_infinity():
    b = rmc.ModelBuilder()
    x = b.param("x", lower=0)
    b.tilde(x, rmc.Uniform(-2, -1))
    lp, _ = rmc.logp_grad(b.build(), {}, np.array([0.5]))
    assert lp == -math.inf


def test_slice_value_and_gradient():
    # y ~ Normal(v[1:3], 0.5) with v ~ Normal(0, 1): only v[1] and v[2] meet the data.
    b = rmc.ModelBuilder()
    v = b.param("v", shape=4, prior=rmc.Normal(0.0, 1.0))
    b.observe("y", rmc.Normal(v[1:3], 0.5))
    model = b.build()
    data = {"y": np.array([0.3, -0.8])}

    def reference(x):
        return -0.5 * np.sum(x ** 2) - 0.5 * np.sum(((data["y"] - x[1:3]) / 0.5) ** 2)

    rng = np.random.default_rng(3)
    h = 1e-6
    lps, refs = [], []
    for _ in range(3):
        x = rng.normal(size=4)
        lp, grad = rmc.logp_grad(model, data, x)
        lps.append(lp)
        refs.append(reference(x))
        fd = np.array([(rmc.logp_grad(model, data, x + e)[0]
                        - rmc.logp_grad(model, data, x - e)[0]) / (2 * h)
                       for e in np.eye(4) * h])
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-7)
        want = -x.copy()
        want[1:3] += (data["y"] - x[1:3]) / 0.25
        np.testing.assert_allclose(grad, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.diff(lps), np.diff(refs), rtol=1e-12)
