"""The rest of the posteriordb development set (the coverage issue): a mixture through
log densities as expressions, GARCH through a scan, a latent Gaussian process through a
Cholesky factor, and the diamonds regression; written from the model descriptions in
shared/posteriordb/README.md and held to their reference draws (see posteriordb.py).

diamonds-diamonds runs long on a small machine (N = 5000 rows, adapt_delta 0.99 and
max_treedepth 20 from the reference run): it is marked slow and runs only with RMC_SLOW=1.
"""

import numpy as np
import pytest

import rmc

from posteriordb import check_reference, load_data, sample_posterior


def test_low_dim_gauss_mix():
    name = "low_dim_gauss_mix-low_dim_gauss_mix"
    b = rmc.ModelBuilder()
    mu = b.param("mu", shape=2, transform="ordered", prior=rmc.Normal(0, 2))
    sigma = b.param("sigma", shape=2, prior=rmc.HalfNormal(2))      # sigma > 0
    theta = b.param("theta", prior=rmc.Beta(5, 5))                  # 0 < theta < 1
    y = b.data("y")
    b.target(rmc.log_mix(theta, rmc.Normal(mu[0], sigma[0]).logpdf(y),
                         rmc.Normal(mu[1], sigma[1]).logpdf(y)))
    check_reference(sample_posterior(b.build(), name), name)


def test_garch_garch11():
    name = "garch-garch11"
    b = rmc.ModelBuilder()
    mu = b.param("mu")                                              # flat
    alpha0 = b.param("alpha0", lower=0)
    alpha1 = b.param("alpha1", lower=0, upper=1)
    beta1 = b.param("beta1", lower=0, upper=1 - alpha1)             # bound on alpha1
    y = b.data("y", shape="T")

    def volatility(s_prev, y_prev):   # s[t] from s[t-1] and y[t-1], t = 2..T
        return rmc.sqrt(alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * s_prev ** 2)

    s = b.scan(volatility, init="sigma1", sequences=rmc.drop(y, last=1))
    b.observe(y[0], rmc.Normal(mu, "sigma1"))
    b.observe(rmc.drop(y, first=1), rmc.Normal(mu, s))
    check_reference(sample_posterior(b.build(), name), name)


def test_gp_pois_regr():
    name = "gp_pois_regr-gp_pois_regr"
    b = rmc.ModelBuilder()
    rho = b.param("rho", prior=rmc.Gamma(25, 4))
    alpha = b.param("alpha", prior=rmc.HalfNormal(2))
    f_tilde = b.param("f_tilde", shape="N", prior=rmc.Normal(0, 1))
    L = rmc.cholesky(rmc.cov_exp_quad("x", alpha, rho, delta=1e-10))  # noqa: N806
    f = b.deterministic("f", L @ f_tilde)
    b.observe(b.data("k", dtype=int), rmc.PoissonLog(f))
    check_reference(sample_posterior(b.build(), name), name)


@pytest.mark.slow
def test_diamonds():
    name = "diamonds-diamonds"
    data = load_data(name)
    matrix = np.asarray(data["X"], dtype=np.float64)
    assert np.all(matrix[:, 0] == 1.0), "column 1 of X is the intercept column"
    b = rmc.ModelBuilder()
    beta = b.param("b", shape=data["K"] - 1, prior=rmc.Normal(0, 1))
    intercept = b.param("Intercept", prior=rmc.StudentT(3, 8, 10))
    sigma = b.param("sigma", prior=rmc.HalfStudentT(3, 10))
    X = b.data("X", shape=(-1, -1))  # noqa: N806
    # Centred predictors without a centred copy of X: with m the column means of X[:, 2:]
    # (one-based), Intercept + Xc b = X @ [Intercept - m . b, b], as X[:, 1] is all ones.
    # m is data only, so it is computed once when the data are bound: the ones column
    # divided by its sum is the vector 1/N, and (1/N)^T X the means of every column.
    ones = rmc.col(X, 0)
    m = rmc.drop(rmc.vecmat(ones / rmc.sum(ones), X), first=1)
    mu = X @ rmc.concat(intercept - rmc.dot(m, beta), beta)
    b.observe("Y", rmc.Normal(mu, sigma))
    check_reference(sample_posterior(b.build(), name, dict(data, X=matrix)), name)
