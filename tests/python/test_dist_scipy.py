"""The wider distribution set against scipy: log densities at many points, edges of the
support included, to a relative 1e-10; bind-time errors; and short sampling checks of
known posteriors (4 chains x 1000 draws, tolerances from the Monte Carlo standard error).

Parameterisations differ: scipy's gamma takes scale = 1 / rate, invgamma scale = beta,
lognorm s = sigma and scale = exp(mu), weibull_min c = alpha and scale = sigma, nbinom
n = phi and p = phi / (mu + phi). LKJ, which scipy lacks, is checked against the closed
form of Stan's lkj_corr_cholesky written here in numpy, and its normalising constant by
integrating the density numerically.
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import rmc

RTOL = 1e-10
# Where a log density crosses 0 a relative tolerance means nothing; no point below is near
# one, but a floor keeps the comparison honest there.
ATOL = 1e-12


def lp_at(build, x, data=None):
    """lp of the model that build(builder) makes, at unconstrained x (unbounded parameters
    only, so lp is the density itself, with no Jacobian)."""
    b = rmc.ModelBuilder()
    build(b)
    lp, _ = rmc.logp_grad(b.build(), data or {}, np.atleast_1d(np.asarray(x, dtype=float)))
    return float(lp)


def value_lp(dist, y):
    """log density of dist at y, as "v ~ dist" for a free scalar parameter v = y."""
    return lp_at(lambda b: b.tilde(b.param("v"), dist), y)


def close(got, want):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ continuous


CONTINUOUS = [
    # (rmc distribution, scipy frozen distribution, points: near 0, bulk, tail)
    (rmc.Gamma(2.0, 3.0), stats.gamma(2.0, scale=1 / 3.0), [1e-8, 0.01, 0.5, 3.0, 40.0]),
    (rmc.Gamma(0.3, 0.5), stats.gamma(0.3, scale=2.0), [1e-12, 1e-4, 0.2, 5.0]),
    (rmc.Gamma(150.0, 2.0), stats.gamma(150.0, scale=0.5), [50.0, 75.0, 120.0]),
    (rmc.InverseGamma(2.5, 1.5), stats.invgamma(2.5, scale=1.5), [0.01, 0.3, 0.7, 50.0]),
    (rmc.InverseGamma(0.4, 20.0), stats.invgamma(0.4, scale=20.0), [0.5, 3.0, 1e6]),
    (rmc.LogNormal(0.3, 0.8), stats.lognorm(s=0.8, scale=math.exp(0.3)),
     [1e-6, 0.2, 1.7, 30.0]),
    (rmc.LogNormal(-2.0, 0.05), stats.lognorm(s=0.05, scale=math.exp(-2.0)),
     [0.1, 0.135, 0.2]),
    (rmc.Beta(2.5, 0.7), stats.beta(2.5, 0.7), [1e-10, 1e-3, 0.35, 0.99, 1 - 1e-10]),
    (rmc.Beta(0.5, 0.5), stats.beta(0.5, 0.5), [1e-12, 0.5, 1 - 1e-12]),
    (rmc.Beta(40.0, 60.0), stats.beta(40.0, 60.0), [0.2, 0.4, 0.7]),
    (rmc.Laplace(0.4, 1.3), stats.laplace(0.4, 1.3), [-30.0, -0.9, 0.41, 2.0, 100.0]),
    (rmc.Logistic(0.4, 1.3), stats.logistic(0.4, 1.3), [-900.0, -0.9, 0.41, 2.0, 900.0]),
    (rmc.Weibull(1.7, 2.2), stats.weibull_min(1.7, scale=2.2), [1e-8, 0.3, 1.3, 6.0]),
    (rmc.Weibull(0.6, 0.1), stats.weibull_min(0.6, scale=0.1), [1e-9, 0.05, 3.0]),
]


@pytest.mark.parametrize("dist,ref,points", CONTINUOUS, ids=lambda v: repr(v)[:40])
def test_continuous_matches_scipy(dist, ref, points):
    for y in points:
        close(value_lp(dist, y), ref.logpdf(y))


@pytest.mark.parametrize("nu,sigma", [(3.5, 1.2), (1.0, 0.3), (30.0, 4.0)])
def test_half_student_t_is_twice_student_t(nu, sigma):
    for y in [0.0, 1e-9, 0.9, 7.0, 500.0]:
        close(value_lp(rmc.HalfStudentT(nu, sigma), y),
              math.log(2.0) + stats.t(nu, 0.0, sigma).logpdf(y))


# The first distributions (the end-to-end issue's) against scipy at the edges of their
# support and far in the tails; test_lpdf_scan.py compares them at interior points.
BASE = [
    (rmc.Normal(1.0, 2.0), stats.norm(1.0, 2.0), [-1e3, -3.0, 1.0, 40.0]),
    (rmc.Normal(0.0, 1e-3), stats.norm(0.0, 1e-3), [-0.01, 0.0, 2e-3]),
    (rmc.HalfNormal(2.0), stats.halfnorm(scale=2.0), [0.0, 1e-300, 3.0, 60.0]),
    (rmc.Cauchy(1.0, 2.0), stats.cauchy(1.0, 2.0), [-1e10, 1.0, 2.5, 1e10]),
    (rmc.HalfCauchy(2.0), stats.halfcauchy(scale=2.0), [0.0, 1e-300, 0.7, 1e8]),
    (rmc.StudentT(3.0, 1.0, 2.0), stats.t(3.0, 1.0, 2.0), [-1e6, 1.0, 4.0, 1e6]),
    (rmc.StudentT(1e3, 0.0, 1.0), stats.t(1e3, 0.0, 1.0), [-5.0, 0.0, 30.0]),
    (rmc.Uniform(-1.0, 3.0), stats.uniform(-1.0, 4.0), [-1.0, 0.0, 3.0 - 1e-12, 3.0]),
    (rmc.Exponential(1.5), stats.expon(scale=1 / 1.5), [0.0, 1e-300, 2.0, 400.0]),
]


@pytest.mark.parametrize("dist,ref,points", BASE, ids=lambda v: repr(v)[:40])
def test_first_distributions_match_scipy_at_the_edges(dist, ref, points):
    for y in points:
        close(value_lp(dist, y), ref.logpdf(y))


@pytest.mark.parametrize("dist,outside", [
    (rmc.HalfNormal(2.0), [-1e-12, -5.0]),
    (rmc.HalfCauchy(2.0), [-1e-9]),
    (rmc.Exponential(1.5), [-1e-12]),
    (rmc.Uniform(-1.0, 3.0), [-1.0000001, 3.0000001, 1e9]),
])
def test_first_distributions_outside_support(dist, outside):
    for y in outside:
        assert value_lp(dist, y) == -np.inf


@pytest.mark.parametrize("p", [1e-12, 0.3, 1 - 1e-12, 0.0, 1.0])
def test_bernoulli_matches_scipy(p):
    for y in [0, 1]:
        want = stats.bernoulli(p).logpmf(y)
        got = count_lp(lambda t, b: rmc.Bernoulli(t), p, y)
        assert got == want if np.isinf(want) else np.isclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("alpha", [-40.0, -0.7, 0.0, 2.2, 40.0])
def test_bernoulli_logit_matches_scipy(alpha):
    for y in [0, 1]:
        got = count_lp(lambda t, b: rmc.BernoulliLogit(t), alpha, y)
        # log p from alpha directly: expit(40) rounds to 1 and would lose log(1 - p)
        close(got, special.log_expit(alpha if y else -alpha))
        if abs(alpha) < 10:
            close(got, stats.bernoulli(special.expit(alpha)).logpmf(y))

def test_outside_support_is_minus_inf():
    assert value_lp(rmc.Gamma(2.0, 3.0), -0.5) == -np.inf
    assert value_lp(rmc.Beta(2.0, 3.0), 1.5) == -np.inf
    assert value_lp(rmc.LogNormal(0.0, 1.0), 0.0) == -np.inf
    assert value_lp(rmc.HalfStudentT(3.0, 1.0), -1e-9) == -np.inf


# ------------------------------------------------------------------ counts


def count_lp(make_dist, theta, y, extra=None):
    """log pmf of integer data y under make_dist(theta parameter, builder), at theta."""
    def build(b):
        b.observe(b.data("y", dtype=int), make_dist(b.param("theta", np.shape(theta)), b))
    data = {"y": np.asarray(y, dtype=np.int64)}
    data.update(extra or {})
    return lp_at(build, theta, data)


@pytest.mark.parametrize("n,p,ys", [
    (9, 0.3, [0, 4, 9]),
    (1, 0.5, [0, 1]),
    (20, 1e-12, [0, 1]),          # p near 0
    (20, 1 - 1e-9, [19, 20]),     # p near 1
    (100000, 0.37, [36000, 37000, 37500]),
])
def test_binomial(n, p, ys):
    for y in ys:
        got = count_lp(lambda t, b: rmc.Binomial(b.data("n", dtype=int), t), p, y,
                       {"n": n})
        close(got, stats.binom(n, p).logpmf(y))


@pytest.mark.parametrize("n,alpha,ys", [
    (9, -0.4, [0, 4, 9]),
    (30, 4.0, [25, 30]),
    (50, -35.0, [0, 1]),          # p = 6e-16: log p taken from alpha, not from p
    (100000, 0.2, [54000, 55000]),
])
def test_binomial_logit(n, alpha, ys):
    for y in ys:
        got = count_lp(lambda t, b: rmc.BinomialLogit(b.data("n", dtype=int), t), alpha, y,
                       {"n": n})
        want = (special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
                + y * special.log_expit(alpha) + (n - y) * special.log_expit(-alpha))
        close(got, want)
        if abs(alpha) < 10:
            close(got, stats.binom(n, special.expit(alpha)).logpmf(y))


@pytest.mark.parametrize("lam,ys", [
    (3.7, [0, 1, 5, 30]),
    (1e-8, [0, 1]),
    (50000.0, [49000, 50000, 50700]),
])
def test_poisson(lam, ys):
    for y in ys:
        close(count_lp(lambda t, b: rmc.Poisson(t), lam, y), stats.poisson(lam).logpmf(y))
        close(count_lp(lambda t, b: rmc.PoissonLog(t), math.log(lam), y),
              stats.poisson(lam).logpmf(y))


@pytest.mark.parametrize("mu,phi,ys", [
    (3.7, 2.2, [0, 1, 5, 40]),
    (0.01, 0.5, [0, 2]),
    (8000.0, 30.0, [5000, 8000, 12000]),
    (5.0, 800.0, [0, 5, 15]),      # near the Poisson limit
])
def test_neg_binomial_2(mu, phi, ys):
    ref = stats.nbinom(phi, phi / (mu + phi))
    for y in ys:
        close(count_lp(lambda t, b: rmc.NegBinomial2(t, phi), mu, y), ref.logpmf(y))
        close(count_lp(lambda t, b: rmc.NegBinomial2Log(t, phi), math.log(mu), y),
              ref.logpmf(y))


def test_categorical_logit():
    logits = np.array([0.2, -0.5, 1.1, -30.0])
    for y in [1, 2, 3, 4]:
        got = count_lp(lambda t, b: rmc.CategoricalLogit(t), logits, y)
        onehot = np.eye(4)[y - 1]
        close(got, stats.multinomial(1, special.softmax(logits)).logpmf(onehot))
        close(got, special.log_softmax(logits)[y - 1])


def test_categorical_logit_rows():
    # one row of logits per observation: the sum of each row's log probability
    rows = np.array([[0.2, -0.5, 1.1], [3.0, 0.0, -2.0]])
    y = np.array([3, 1])

    def build(b):
        b.observe(b.data("y", dtype=int), rmc.CategoricalLogit(b.param("logits", (2, 3))))
    got = lp_at(build, rows.ravel(), {"y": y})
    close(got, sum(special.log_softmax(rows[i])[y[i] - 1] for i in range(2)))


# ------------------------------------------------------------------ multivariate


def test_multi_normal_cholesky():
    rng = np.random.default_rng(3)
    L = np.array([[1.5, 0.0, 0.0], [0.4, 0.8, 0.0], [-0.3, 0.2, 0.05]])
    mu = np.array([0.3, -0.2, 1.0])
    ref = stats.multivariate_normal(mu, L @ L.T)
    for y in [mu, mu + 1e-6, rng.normal(size=3), 20 * rng.normal(size=3)]:
        got = lp_at(lambda b: b.tilde(b.param("v", 3), rmc.MultiNormalCholesky(mu, "L")), y,
                    {"L": L})
        close(got, ref.logpdf(y))


def test_multi_normal_cholesky_rows():
    # N x K data rows with one mean row each: a sum over rows
    L = np.array([[1.2, 0.0], [-0.5, 0.7]])
    Y = np.array([[0.5, -1.0], [2.0, 0.3], [-0.7, 1.1]])
    M = np.array([[0.1, 0.0], [1.0, 1.0], [-1.0, 0.5]])

    def build(b):
        b.observe(b.data("Y"), rmc.MultiNormalCholesky(b.param("M", (3, 2)), "L"))
    got = lp_at(build, M.ravel(), {"Y": Y, "L": L})
    close(got, sum(stats.multivariate_normal(M[i], L @ L.T).logpdf(Y[i]) for i in range(3)))


@pytest.mark.parametrize("alpha,theta", [
    ([1.5, 2.0, 0.7], [0.2, 0.5, 0.3]),
    ([0.3, 0.3, 0.3, 0.3], [1e-10, 0.4, 0.3, 0.3 - 1e-10]),
    ([50.0, 20.0], [0.7, 0.3]),
    ([1.0, 1.0, 1.0], [0.1, 0.1, 0.8]),
])
def test_dirichlet(alpha, theta):
    alpha = np.array(alpha)

    def build(b):
        b.observe(b.data("theta"), rmc.Dirichlet(b.param("alpha", len(alpha))))
    close(lp_at(build, alpha, {"theta": np.array(theta)}),
          stats.dirichlet(alpha).logpdf(theta))


def lkj_cholesky_logpdf(L, eta):
    """Stan's lkj_corr_cholesky: log c_K(eta) + sum_{k=2}^K (K - k + 2 eta - 2) log L_kk,
    with c_K the LKJ normalising constant (Lewandowski, Kurowicka and Joe 2009, eq. 16)."""
    K = L.shape[0]
    log_z = 0.0
    for k in range(1, K):
        b = eta + (K - k - 1) / 2.0
        log_z += (K - k) * ((2 * eta - 2 + K - k) * math.log(2.0) + special.betaln(b, b))
    ks = np.arange(2, K + 1)
    return -log_z + np.sum((K - ks + 2 * eta - 2) * np.log(np.diag(L)[1:]))


def random_corr_cholesky(K, rng):
    A = rng.normal(size=(K, K))
    C = A @ A.T + K * np.eye(K)
    d = np.sqrt(np.diag(C))
    return np.linalg.cholesky(C / np.outer(d, d))


@pytest.mark.parametrize("K,eta", [(2, 1.0), (2, 2.5), (3, 0.7), (4, 1.0), (5, 6.0)])
def test_lkj_corr_cholesky(K, eta):
    rng = np.random.default_rng(K)
    L = random_corr_cholesky(K, rng)

    def build(b):
        b.observe(b.data("L"), rmc.LKJCholesky(b.param("eta")))
    close(lp_at(build, eta, {"L": L}), lkj_cholesky_logpdf(L, eta))


@pytest.mark.parametrize("eta", [1.0, 2.5])
def test_lkj_integrates_to_one(eta):
    # rmc matches the closed form above at random factors; here the closed form's constant
    # is checked by integrating it over the factor's free entries, the strict lower
    # triangle: L21 in (-1, 1) for K = 2, and also (L31, L32) in the unit disc for K = 3.
    def density(free):
        K = 2 if len(free) == 1 else 3
        L = np.eye(K)
        L[1, 0], L[1, 1] = free[0], math.sqrt(1 - free[0] ** 2)
        if K == 3:
            L[2, 0], L[2, 1] = free[1], free[2]
            L[2, 2] = math.sqrt(max(1 - free[1] ** 2 - free[2] ** 2, 1e-300))
        return math.exp(lkj_cholesky_logpdf(L, eta))

    total, _ = integrate.quad(lambda a: density([a]), -1, 1)
    assert abs(total - 1) < 1e-8
    # K = 3: the density depends on (L31, L32) only through L33 = sqrt(1 - L31^2 - L32^2),
    # so in polar coordinates (r, t) over the disc the t integral is 2 pi.
    total, _ = integrate.dblquad(lambda r, a: 2 * math.pi * r * density([a, r, 0.0]),
                                 -1, 1, 0, 1, epsabs=1e-10, epsrel=1e-10)
    assert abs(total - 1) < 1e-8


# ------------------------------------------------------------------ bind-time errors


def program(build, data):
    b = rmc.ModelBuilder()
    build(b)
    return rmc.Program(b.build(), data)


def test_count_data_checked_at_bind():
    def poisson(b):
        b.observe(b.data("y", dtype=int), rmc.Poisson(b.param("lam", lower=0)))
    with pytest.raises(rmc.RmcError, match=r"poisson.*data 'y'.*-2.*index 1"):
        program(poisson, {"y": np.array([3, -2, 1])})

    def binomial(b):
        b.observe(b.data("y", dtype=int), rmc.Binomial("n", b.param("p", lower=0, upper=1)))
    with pytest.raises(rmc.RmcError, match=r"data 'y' has 6 at index 2.*N = 5"):
        program(binomial, {"y": np.array([1, 0, 6]), "n": np.array([5, 5, 5])})

    def categorical(b):
        b.observe(b.data("y", dtype=int), rmc.CategoricalLogit(b.param("lg", 3)))
    with pytest.raises(rmc.RmcError, match=r"data 'y' has 4 at index 0.*K = 3"):
        program(categorical, {"y": np.array([4, 1])})


def test_probability_and_unit_data_checked_at_bind():
    def binomial(b):
        b.param("z", prior=rmc.Normal(0, 1))
        b.observe(b.data("y", dtype=int), rmc.Binomial("n", "p"))
    with pytest.raises(rmc.RmcError, match=r"argument p = data 'p' must be in \[0, 1\], "
                                           r"got -0.1 at index 1"):
        program(binomial, {"y": np.array([1, 2]), "n": np.array([3, 3]),
                           "p": np.array([0.5, -0.1])})

    def beta(b):
        b.observe("x", rmc.Beta(b.param("a", lower=0), 2.0))
    with pytest.raises(rmc.RmcError, match=r"data 'x' has 1 at index 2, outside the support"):
        program(beta, {"x": np.array([0.3, 0.5, 1.0])})


def test_bad_data_in_an_lpdf_expression_stops_at_init():
    # A statement checks its data when bound (above); an lpdf expression follows "outside
    # the support is -inf" instead, so a negative count there makes every point -inf and
    # sampling stops before it starts, naming the statement (docs/models.md).
    def poisson_lpdf(b):
        b.target(rmc.Poisson(b.param("lam", lower=0)).logpdf(b.data("y", dtype=int)))
    p = program(poisson_lpdf, {"y": np.array([3, -2, 1])})
    assert p.logp_grad(np.array([0.0]))[0] == -np.inf
    b = rmc.ModelBuilder()
    poisson_lpdf(b)
    with pytest.raises(rmc.RmcError, match=r"RMC_ERR_INIT.*target statement.*-inf"):
        rmc.sample(b.build(), {"y": np.array([3, -2, 1])}, chains=1, warmup=5, draws=5,
                   progress=False)

def test_python_checks_numeric_arguments():
    with pytest.raises(ValueError, match="p must lie in"):
        rmc.Binomial(10, 1.5)
    with pytest.raises(ValueError, match="N must be a non-negative integer"):
        rmc.Binomial(2.5, 0.5)
    with pytest.raises(ValueError, match="alpha must be positive"):
        rmc.Gamma(0.0, 1.0)
    assert rmc.Gamma(1, 1).support == (0.0, None)
    assert rmc.Beta(1, 1).support == (0.0, 1.0)
    assert rmc.Dirichlet([1.0, 2.0]).support == (None, None)


# ------------------------------------------------------------------ sampling

DRAWS = dict(chains=4, draws=1000, warmup=1000, seed=11)


def check_moments(fit, name, mean, sd, index=None):
    """The posterior mean within 5 MCSE of the truth, and the sd within 5 standard errors
    of an sd estimate (sd * sqrt((kurtosis - 1) / (4 ESS)), kurtosis from the draws)."""
    s = fit.summary()
    col = name if index is None else "%s[%d]" % (name, index + 1)
    i = s["name"].index(col)
    draws = fit[name] if index is None else fit[name][..., index]
    x = draws.ravel()
    ess = s["ess_bulk"][i]
    assert s["rhat"][i] < 1.01
    assert abs(s["mean"][i] - mean) < 5 * s["mcse_mean"][i], (col, s["mean"][i], mean)
    kurt = np.mean((x - x.mean()) ** 4) / x.var() ** 2
    se_sd = sd * math.sqrt((kurt - 1) / (4 * ess))
    assert abs(s["sd"][i] - sd) < 5 * se_sd, (col, s["sd"][i], sd)


def test_sample_gamma_prior():
    b = rmc.ModelBuilder()
    b.param("x", prior=rmc.Gamma(2.0, 3.0))
    fit = rmc.sample(b.build(), {}, **DRAWS)
    assert np.all(fit["x"] > 0)
    check_moments(fit, "x", 2 / 3, math.sqrt(2) / 3)


def test_sample_beta_prior():
    a, c = 2.5, 1.5
    b = rmc.ModelBuilder()
    b.param("x", prior=rmc.Beta(a, c))
    fit = rmc.sample(b.build(), {}, **DRAWS)
    check_moments(fit, "x", a / (a + c), math.sqrt(a * c / ((a + c) ** 2 * (a + c + 1))))


def test_sample_lognormal_prior():
    mu, s = 0.3, 0.5
    b = rmc.ModelBuilder()
    b.param("x", prior=rmc.LogNormal(mu, s))
    fit = rmc.sample(b.build(), {}, **DRAWS)
    mean = math.exp(mu + s * s / 2)
    check_moments(fit, "x", mean, mean * math.sqrt(math.expm1(s * s)))


def test_sample_gamma_poisson_posterior():
    y = np.array([3, 0, 5, 2, 4, 1, 7, 2])
    a, rate = 2.0, 0.5
    b = rmc.ModelBuilder()
    lam = b.param("lam", prior=rmc.Gamma(a, rate))
    b.observe(b.data("y", dtype=int), rmc.Poisson(lam))
    fit = rmc.sample(b.build(), {"y": y}, **DRAWS)
    post_a, post_b = a + y.sum(), rate + len(y)
    check_moments(fit, "lam", post_a / post_b, math.sqrt(post_a) / post_b)


def test_sample_neg_binomial_2_posterior():
    # With phi known and q = mu / (mu + phi) ~ Beta(a, c), the likelihood is proportional
    # to q^sum(y) (1 - q)^(n phi): the posterior of q is Beta(a + sum y, c + n phi).
    y = np.array([3, 0, 9, 2, 4, 1, 12, 2, 0, 5])
    phi, a, c = 1.5, 2.0, 2.0
    b = rmc.ModelBuilder()
    q = b.param("q", prior=rmc.Beta(a, c))
    b.observe(b.data("y", dtype=int), rmc.NegBinomial2(phi * q / (1 - q), phi))
    fit = rmc.sample(b.build(), {"y": y}, **DRAWS)
    pa, pc = a + y.sum(), c + len(y) * phi
    check_moments(fit, "q", pa / (pa + pc), math.sqrt(pa * pc / ((pa + pc) ** 2 * (pa + pc + 1))))


def test_sample_dirichlet_categorical_posterior():
    # theta on the 3-simplex by stick-breaking over z in (0, 1)^2:
    #   theta = (z1, (1 - z1) z2, (1 - z1)(1 - z2)), built in logs with data matrices;
    # its Jacobian (1 - z1) comes from z1 ~ Beta(1, 2), which adds log 2 + log(1 - z1).
    # With categorical data on logits log(theta), theta's posterior is
    # Dirichlet(alpha + counts).
    alpha = np.array([2.0, 3.0, 5.0])
    y = np.array([1, 1, 2, 3, 3, 3, 1, 2])
    B = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    C = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    b = rmc.ModelBuilder()
    z = b.param("z", 2, lower=0, upper=1)
    log_theta = rmc.matvec(b.data("B", shape=(3, 2)), rmc.log(z)) + \
        rmc.matvec(b.data("C", shape=(3, 2)), rmc.log(1 - z))
    theta = b.deterministic("theta", rmc.exp(log_theta))
    b.tilde(z[0], rmc.Beta(1.0, 2.0))
    b.tilde(theta, rmc.Dirichlet(alpha))
    b.observe(b.data("y", dtype=int), rmc.CategoricalLogit(log_theta))
    fit = rmc.sample(b.build(), {"B": B, "C": C, "y": y}, **DRAWS)
    post = alpha + np.bincount(y, minlength=4)[1:]
    total = post.sum()
    for k in range(3):
        m = post[k] / total
        check_moments(fit, "theta", m, math.sqrt(m * (1 - m) / (total + 1)), index=k)


def test_sample_multi_normal_cholesky():
    mu = np.array([1.0, -2.0])
    L = np.array([[2.0, 0.0], [1.2, 0.5]])
    cov = L @ L.T
    b = rmc.ModelBuilder()
    b.param("x", 2, prior=rmc.MultiNormalCholesky(mu, "L"))
    fit = rmc.sample(b.build(), {"L": L}, **DRAWS)
    for k in range(2):
        check_moments(fit, "x", mu[k], math.sqrt(cov[k, k]), index=k)
    x = fit["x"].reshape(-1, 2)
    corr = cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])
    # the sample correlation's standard error is about (1 - r^2) / sqrt(ESS)
    ess = min(fit.summary()["ess_bulk"])
    assert abs(np.corrcoef(x.T)[0, 1] - corr) < 5 * (1 - corr ** 2) / math.sqrt(ess)
