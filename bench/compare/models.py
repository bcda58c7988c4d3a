"""The posteriors of the side-by-side comparison, each written for every sampler.

For every posterior this module holds:

- ``rmc``: a function data -> rmc.Model (the code of tests/python/test_posteriordb*.py, as
  functions), or None where rmc cannot express the model yet;
- ``stan``: the Stan program, written from the description in
  ../shared/posteriordb/README.md with the same priors, constraints and data
  transformations. It is written so that the Stan 2.21 of Debian's rstan compiles it and so
  does a current Stan: no ``array[...]`` declarations except integer arrays, which
  :func:`stan_program` rewrites to the old syntax for a Stan older than 2.26;
- ``pymc``: a function data -> pm.Model, the same model in PyMC (nutpie samples that
  model too).

Parameter names are the same in all three, so that every sampler's draws come out under
the reference's element names ("beta[1]", one-based).

Every posterior of the development set has its rmc function now. A new posterior that rmc
cannot express yet goes in with ``rmc=None``; when rmc can, write its rmc function and put
it in the ``rmc=`` slot of its entry, e.g.

    def rmc_garch11(data):
        b = rmc.ModelBuilder()
        ...
        return b.build()

    Posterior("garch-garch11", rmc=rmc_garch11, stan=STAN_GARCH11, pymc=pymc_garch11),

An entry whose ``rmc`` is None runs only with ``run.py --pending`` (rivals alone, so that
their side can be checked before rmc's arrives) and is never part of a ratio.
"""

import json
import os
import re

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def posteriordb_folder():
    """$RMC_POSTERIORDB, else <repo>/../shared/posteriordb (as the tests look for it)."""
    path = os.environ.get("RMC_POSTERIORDB") or os.path.join(ROOT, "..", "shared",
                                                             "posteriordb")
    return os.path.normpath(path)


def _load_json(name, suffix):
    with open(os.path.join(posteriordb_folder(), name + suffix)) as f:
        return json.load(f)


# ====================================================================== rmc models
# Copied from tests/python/test_posteriordb.py and test_posteriordb_more.py.

def _rmc():
    import rmc
    return rmc


def rmc_quickstart(data):
    rmc = _rmc()
    builder = rmc.ModelBuilder()
    beta = builder.normal_prior("beta", mu=0.0, sigma=1.0)
    mu_expr = beta * "x"
    builder.normal_likelihood("obs", mu_expr=mu_expr, sigma=1.0, observed_key="y")
    return builder.build()


def rmc_eight_schools_noncentered(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


def rmc_kidscore_momiq(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    b.observe("kid_score", rmc.Normal(beta[0] + beta[1] * "mom_iq", sigma))
    return b.build()


def rmc_kidscore_interaction(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=4)                      # flat
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    hs, iq = b.data("mom_hs"), b.data("mom_iq")
    inter = hs * iq                                      # data only: computed once at bind
    mu = beta[0] + beta[1] * hs + beta[2] * iq + beta[3] * inter
    b.observe("kid_score", rmc.Normal(mu, sigma))
    return b.build()


def rmc_logearn_height(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe(rmc.log("earn"), rmc.Normal(beta[0] + beta[1] * "height", sigma))
    return b.build()


def rmc_earn_height(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe("earn", rmc.Normal(beta[0] + beta[1] * "height", sigma))
    return b.build()


def rmc_logmesquite_logvolume(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)
    sigma = b.param("sigma", lower=0)
    log_volume = rmc.log(b.data("diam1") * "diam2" * "canopy_height")
    b.observe(rmc.log("weight"), rmc.Normal(beta[0] + beta[1] * log_volume, sigma))
    return b.build()


def rmc_mesquite(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=7)
    sigma = b.param("sigma", lower=0)
    mu = beta[0]
    for k, field in enumerate(["diam1", "diam2", "canopy_height", "total_height",
                               "density", "group"]):
        mu = mu + beta[k + 1] * b.data(field)
    b.observe("weight", rmc.Normal(mu, sigma))
    return b.build()


def rmc_sblrc_blr(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape="D", prior=rmc.Normal(0, 10))
    sigma = b.param("sigma", prior=rmc.HalfNormal(10))
    b.observe("y", rmc.Normal(rmc.matvec("X", beta), sigma))
    return b.build()


def rmc_nes(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=9)
    sigma = b.param("sigma", lower=0)
    age = b.data("age_discrete", dtype=int)

    def dummy(level):
        # 1 where age_discrete == level: a gather from a constant indicator vector by the
        # one-based category, folded once when the data are bound.
        return rmc.gather(np.eye(4)[level - 1], age, base=1)

    mu = (beta[0] + beta[1] * "real_ideo" + beta[2] * "race_adj" + beta[3] * dummy(2)
          + beta[4] * dummy(3) + beta[5] * dummy(4) + beta[6] * "educ1" + beta[7] * "gender"
          + beta[8] * "income")
    b.observe("partyid7", rmc.Normal(mu, sigma))
    return b.build()


def rmc_kilpisjarvi(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.Normal("pmualpha", "psalpha"))
    beta = b.param("beta", prior=rmc.Normal("pmubeta", "psbeta"))
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe("y", rmc.Normal(alpha + beta * "x", sigma))
    return b.build()


def rmc_ark(data):
    rmc = _rmc()
    big_k, big_t = data["K"], data["T"]
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.Normal(0, 10))
    beta = b.param("beta", shape="K", prior=rmc.Normal(0, 10))
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    y = b.data("y", shape="T")
    mu = alpha
    for k in range(1, big_k + 1):
        mu = mu + beta[k - 1] * y[big_k - k:big_t - k]   # y[t - k] for t = K+1..T
    b.tilde(y[big_k:big_t], rmc.Normal(mu, sigma))
    return b.build()


# From tests/python/test_posteriordb_coverage.py.

def rmc_low_dim_gauss_mix(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    mu = b.param("mu", shape=2, transform="ordered", prior=rmc.Normal(0, 2))
    sigma = b.param("sigma", shape=2, prior=rmc.HalfNormal(2))      # sigma > 0
    theta = b.param("theta", prior=rmc.Beta(5, 5))                  # 0 < theta < 1
    y = b.data("y")
    b.target(rmc.log_mix(theta, rmc.Normal(mu[0], sigma[0]).logpdf(y),
                         rmc.Normal(mu[1], sigma[1]).logpdf(y)))
    return b.build()


def rmc_garch11(data):
    rmc = _rmc()
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
    return b.build()


def rmc_gp_pois_regr(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    rho = b.param("rho", prior=rmc.Gamma(25, 4))
    alpha = b.param("alpha", prior=rmc.HalfNormal(2))
    f_tilde = b.param("f_tilde", shape="N", prior=rmc.Normal(0, 1))
    L = rmc.cholesky(rmc.cov_exp_quad("x", alpha, rho, delta=1e-10))  # noqa: N806
    f = b.deterministic("f", L @ f_tilde)
    b.observe(b.data("k", dtype=int), rmc.PoissonLog(f))
    return b.build()


def rmc_diamonds(data):
    rmc = _rmc()
    b = rmc.ModelBuilder()
    beta = b.param("b", shape=data["K"] - 1, prior=rmc.Normal(0, 1))
    intercept = b.param("Intercept", prior=rmc.StudentT(3, 8, 10))
    sigma = b.param("sigma", prior=rmc.HalfStudentT(3, 10))
    X = b.data("X", shape=(-1, -1))  # noqa: N806
    # Centred predictors without a centred copy of X (column 1 is all ones): with m the
    # column means of X[:, 2:], Intercept + Xc b = X @ [Intercept - m . b, b]; m is data
    # only, computed once when the data are bound.
    ones = rmc.col(X, 0)
    m = rmc.drop(rmc.vecmat(ones / rmc.sum(ones), X), first=1)
    mu = X @ rmc.concat(intercept - rmc.dot(m, beta), beta)
    b.observe("Y", rmc.Normal(mu, sigma))
    return b.build()


# ====================================================================== Stan programs

STAN_QUICKSTART = """
data { int<lower=0> N; vector[N] x; vector[N] y; }
parameters { real beta; }
model {
  beta ~ normal(0, 1);
  y ~ normal(beta * x, 1);
}
"""

STAN_EIGHT_SCHOOLS_NONCENTERED = """
data { int<lower=0> J; vector[J] y; vector<lower=0>[J] sigma; }
parameters { real mu; real<lower=0> tau; vector[J] theta_trans; }
transformed parameters { vector[J] theta = mu + tau * theta_trans; }
model {
  mu ~ normal(0, 5);
  tau ~ cauchy(0, 5);
  theta_trans ~ normal(0, 1);
  y ~ normal(theta, sigma);
}
"""

STAN_KIDSCORE_MOMIQ = """
data { int<lower=0> N; vector[N] kid_score; vector[N] mom_iq; }
parameters { vector[2] beta; real<lower=0> sigma; }
model {
  sigma ~ cauchy(0, 2.5);
  kid_score ~ normal(beta[1] + beta[2] * mom_iq, sigma);
}
"""

STAN_KIDSCORE_INTERACTION = """
data { int<lower=0> N; vector[N] kid_score; vector[N] mom_hs; vector[N] mom_iq; }
transformed data { vector[N] inter = mom_hs .* mom_iq; }
parameters { vector[4] beta; real<lower=0> sigma; }
model {
  sigma ~ cauchy(0, 2.5);
  kid_score ~ normal(beta[1] + beta[2] * mom_hs + beta[3] * mom_iq + beta[4] * inter, sigma);
}
"""

STAN_LOGEARN_HEIGHT = """
data { int<lower=0> N; vector[N] earn; vector[N] height; }
transformed data { vector[N] log_earn = log(earn); }
parameters { vector[2] beta; real<lower=0> sigma; }
model {
  log_earn ~ normal(beta[1] + beta[2] * height, sigma);
}
"""

STAN_EARN_HEIGHT = """
data { int<lower=0> N; vector[N] earn; vector[N] height; }
parameters { vector[2] beta; real<lower=0> sigma; }
model {
  earn ~ normal(beta[1] + beta[2] * height, sigma);
}
"""

STAN_LOGMESQUITE_LOGVOLUME = """
data {
  int<lower=0> N; vector[N] weight; vector[N] diam1; vector[N] diam2;
  vector[N] canopy_height;
}
transformed data {
  vector[N] log_weight = log(weight);
  vector[N] log_volume = log(diam1 .* diam2 .* canopy_height);
}
parameters { vector[2] beta; real<lower=0> sigma; }
model {
  log_weight ~ normal(beta[1] + beta[2] * log_volume, sigma);
}
"""

STAN_MESQUITE = """
data {
  int<lower=0> N; vector[N] weight; vector[N] diam1; vector[N] diam2;
  vector[N] canopy_height; vector[N] total_height; vector[N] density; vector[N] group;
}
parameters { vector[7] beta; real<lower=0> sigma; }
model {
  weight ~ normal(beta[1] + beta[2] * diam1 + beta[3] * diam2 + beta[4] * canopy_height
                  + beta[5] * total_height + beta[6] * density + beta[7] * group, sigma);
}
"""

STAN_SBLRC_BLR = """
data { int<lower=0> N; int<lower=0> D; matrix[N, D] X; vector[N] y; }
parameters { vector[D] beta; real<lower=0> sigma; }
model {
  beta ~ normal(0, 10);
  sigma ~ normal(0, 10);
  y ~ normal(X * beta, sigma);
}
"""

STAN_NES = """
data {
  int<lower=0> N; vector[N] partyid7; vector[N] real_ideo; vector[N] race_adj;
  vector[N] age_discrete; vector[N] educ1; vector[N] gender; vector[N] income;
}
transformed data {
  vector[N] a2; vector[N] a3; vector[N] a4;
  for (n in 1:N) {
    a2[n] = age_discrete[n] == 2;
    a3[n] = age_discrete[n] == 3;
    a4[n] = age_discrete[n] == 4;
  }
}
parameters { vector[9] beta; real<lower=0> sigma; }
model {
  partyid7 ~ normal(beta[1] + beta[2] * real_ideo + beta[3] * race_adj + beta[4] * a2
                    + beta[5] * a3 + beta[6] * a4 + beta[7] * educ1 + beta[8] * gender
                    + beta[9] * income, sigma);
}
"""

STAN_KILPISJARVI = """
data {
  int<lower=0> N; vector[N] x; vector[N] y;
  real pmualpha; real<lower=0> psalpha; real pmubeta; real<lower=0> psbeta;
}
parameters { real alpha; real beta; real<lower=0> sigma; }
model {
  alpha ~ normal(pmualpha, psalpha);
  beta ~ normal(pmubeta, psbeta);
  y ~ normal(alpha + beta * x, sigma);
}
"""

STAN_ARK = """
data { int<lower=0> K; int<lower=0> T; vector[T] y; }
parameters { real alpha; vector[K] beta; real<lower=0> sigma; }
model {
  alpha ~ normal(0, 10);
  beta ~ normal(0, 10);
  sigma ~ cauchy(0, 2.5);
  for (t in (K + 1):T) {
    real mu = alpha;
    for (k in 1:K)
      mu = mu + beta[k] * y[t - k];
    y[t] ~ normal(mu, sigma);
  }
}
"""

# --- the posteriors added with the coverage issue ---

STAN_LOW_DIM_GAUSS_MIX = """
data { int<lower=0> N; vector[N] y; }
parameters { ordered[2] mu; vector<lower=0>[2] sigma; real<lower=0, upper=1> theta; }
model {
  mu ~ normal(0, 2);
  sigma ~ normal(0, 2);
  theta ~ beta(5, 5);
  for (n in 1:N)
    target += log_mix(theta, normal_lpdf(y[n] | mu[1], sigma[1]),
                      normal_lpdf(y[n] | mu[2], sigma[2]));
}
"""

# sigma's half-t normalising constant (its prior is truncated at 0) does not depend on any
# parameter, so Stan's ~ (which drops constants) gives the same posterior.
STAN_DIAMONDS = """
data { int<lower=1> N; vector[N] Y; int<lower=1> K; matrix[N, K] X; int prior_only; }
transformed data {
  int Kc = K - 1;
  matrix[N, Kc] Xc;
  for (i in 2:K)
    Xc[, i - 1] = X[, i] - mean(X[, i]);
}
parameters { vector[Kc] b; real Intercept; real<lower=0> sigma; }
model {
  b ~ normal(0, 1);
  Intercept ~ student_t(3, 8, 10);
  sigma ~ student_t(3, 0, 10);
  if (!prior_only)
    Y ~ normal(Intercept + Xc * b, sigma);
}
"""

STAN_GARCH11 = """
data { int<lower=0> T; vector[T] y; real<lower=0> sigma1; }
parameters {
  real mu; real<lower=0> alpha0; real<lower=0, upper=1> alpha1;
  real<lower=0, upper=(1 - alpha1)> beta1;
}
model {
  vector[T] sigma;
  sigma[1] = sigma1;
  for (t in 2:T)
    sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]));
  y ~ normal(mu, sigma);
}
"""

STAN_GP_POIS_REGR = """
data { int<lower=1> N; vector[N] x; array[N] int<lower=0> k; }
parameters { real<lower=0> rho; real<lower=0> alpha; vector[N] f_tilde; }
transformed parameters {
  vector[N] f;
  {
    matrix[N, N] C;
    for (i in 1:N) {
      for (j in 1:N)
        C[i, j] = square(alpha) * exp(-square(x[i] - x[j]) / (2 * square(rho)));
      C[i, i] = C[i, i] + 1e-10;
    }
    f = cholesky_decompose(C) * f_tilde;
  }
}
model {
  rho ~ gamma(25, 4);
  alpha ~ normal(0, 2);
  f_tilde ~ normal(0, 1);
  k ~ poisson_log(f);
}
"""


def stan_program(code, stan_version):
    """``code`` for the Stan release ``stan_version`` ("2.21.0"): before 2.26 the
    declaration ``array[N] int<lower=0> k;`` is written ``int<lower=0> k[N];``."""
    major_minor = tuple(int(p) for p in stan_version.split(".")[:2])
    if major_minor >= (2, 26):
        return code
    return re.sub(r"array\[([^\]]+)\]\s+(int|real)(<[^>]*>)?\s+(\w+)\s*;",
                  lambda m: "%s%s %s[%s];" % (m.group(2), m.group(3) or "", m.group(4),
                                              m.group(1)),
                  code)


# ====================================================================== PyMC models
# Flat priors are pm.Flat / pm.HalfFlat (log transform, as Stan's <lower=0>); HalfCauchy and
# HalfNormal use the same log transform. Each function returns a pm.Model whose free
# variables and deterministics carry the reference's names.

def _f(data, key):
    return np.asarray(data[key], dtype=float)


def pymc_quickstart(data):
    import pymc as pm
    with pm.Model() as m:
        beta = pm.Normal("beta", 0.0, 1.0)
        pm.Normal("obs", beta * _f(data, "x"), 1.0, observed=_f(data, "y"))
    return m


def pymc_eight_schools_noncentered(data):
    import pymc as pm
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 5)
        tau = pm.HalfCauchy("tau", 5)
        theta_trans = pm.Normal("theta_trans", 0, 1, shape=int(data["J"]))
        theta = pm.Deterministic("theta", mu + tau * theta_trans)
        pm.Normal("y", theta, _f(data, "sigma"), observed=_f(data, "y"))
    return m


def pymc_kidscore_momiq(data):
    import pymc as pm
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=2)
        sigma = pm.HalfCauchy("sigma", 2.5)
        pm.Normal("kid_score", beta[0] + beta[1] * _f(data, "mom_iq"), sigma,
                  observed=_f(data, "kid_score"))
    return m


def pymc_kidscore_interaction(data):
    import pymc as pm
    hs, iq = _f(data, "mom_hs"), _f(data, "mom_iq")
    inter = hs * iq
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=4)
        sigma = pm.HalfCauchy("sigma", 2.5)
        mu = beta[0] + beta[1] * hs + beta[2] * iq + beta[3] * inter
        pm.Normal("kid_score", mu, sigma, observed=_f(data, "kid_score"))
    return m


def pymc_logearn_height(data):
    import pymc as pm
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=2)
        sigma = pm.HalfFlat("sigma")
        pm.Normal("log_earn", beta[0] + beta[1] * _f(data, "height"), sigma,
                  observed=np.log(_f(data, "earn")))
    return m


def pymc_earn_height(data):
    import pymc as pm
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=2)
        sigma = pm.HalfFlat("sigma")
        pm.Normal("earn", beta[0] + beta[1] * _f(data, "height"), sigma,
                  observed=_f(data, "earn"))
    return m


def pymc_logmesquite_logvolume(data):
    import pymc as pm
    log_volume = np.log(_f(data, "diam1") * _f(data, "diam2") * _f(data, "canopy_height"))
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=2)
        sigma = pm.HalfFlat("sigma")
        pm.Normal("log_weight", beta[0] + beta[1] * log_volume, sigma,
                  observed=np.log(_f(data, "weight")))
    return m


def pymc_mesquite(data):
    import pymc as pm
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=7)
        sigma = pm.HalfFlat("sigma")
        mu = beta[0]
        for k, field in enumerate(["diam1", "diam2", "canopy_height", "total_height",
                                   "density", "group"]):
            mu = mu + beta[k + 1] * _f(data, field)
        pm.Normal("weight", mu, sigma, observed=_f(data, "weight"))
    return m


def pymc_sblrc_blr(data):
    import pymc as pm
    x = np.asarray(data["X"], dtype=float)
    with pm.Model() as m:
        beta = pm.Normal("beta", 0, 10, shape=int(data["D"]))
        sigma = pm.HalfNormal("sigma", 10)
        pm.Normal("y", pm.math.dot(x, beta), sigma, observed=_f(data, "y"))
    return m


def pymc_nes(data):
    import pymc as pm
    age = np.asarray(data["age_discrete"], dtype=int)
    a2, a3, a4 = ((age == level).astype(float) for level in (2, 3, 4))
    with pm.Model() as m:
        beta = pm.Flat("beta", shape=9)
        sigma = pm.HalfFlat("sigma")
        mu = (beta[0] + beta[1] * _f(data, "real_ideo") + beta[2] * _f(data, "race_adj")
              + beta[3] * a2 + beta[4] * a3 + beta[5] * a4 + beta[6] * _f(data, "educ1")
              + beta[7] * _f(data, "gender") + beta[8] * _f(data, "income"))
        pm.Normal("partyid7", mu, sigma, observed=_f(data, "partyid7"))
    return m


def pymc_kilpisjarvi(data):
    import pymc as pm
    with pm.Model() as m:
        alpha = pm.Normal("alpha", float(data["pmualpha"]), float(data["psalpha"]))
        beta = pm.Normal("beta", float(data["pmubeta"]), float(data["psbeta"]))
        sigma = pm.HalfFlat("sigma")
        pm.Normal("y", alpha + beta * _f(data, "x"), sigma, observed=_f(data, "y"))
    return m


def pymc_ark(data):
    import pymc as pm
    big_k, big_t = int(data["K"]), int(data["T"])
    y = _f(data, "y")
    with pm.Model() as m:
        alpha = pm.Normal("alpha", 0, 10)
        beta = pm.Normal("beta", 0, 10, shape=big_k)
        sigma = pm.HalfCauchy("sigma", 2.5)
        mu = alpha
        for k in range(1, big_k + 1):
            mu = mu + beta[k - 1] * y[big_k - k:big_t - k]
        pm.Normal("y", mu, sigma, observed=y[big_k:])
    return m


# --- the posteriors added with the coverage issue ---

def pymc_low_dim_gauss_mix(data):
    import pymc as pm
    import pytensor.tensor as pt
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 2, shape=2, transform=pm.distributions.transforms.ordered,
                       initval=np.array([-1.0, 1.0]))
        sigma = pm.HalfNormal("sigma", 2, shape=2)
        theta = pm.Beta("theta", 5, 5)
        pm.NormalMixture("y", w=pt.stack([theta, 1 - theta]), mu=mu, sigma=sigma,
                         observed=_f(data, "y"))
    return m


def pymc_diamonds(data):
    import pymc as pm
    x = np.asarray(data["X"], dtype=float)[:, 1:]
    xc = x - x.mean(axis=0)
    with pm.Model() as m:
        b = pm.Normal("b", 0, 1, shape=xc.shape[1])
        intercept = pm.StudentT("Intercept", nu=3, mu=8, sigma=10)
        sigma = pm.HalfStudentT("sigma", nu=3, sigma=10)
        if not data["prior_only"]:
            pm.Normal("Y", intercept + pm.math.dot(xc, b), sigma, observed=_f(data, "Y"))
    return m


def pymc_garch11(data):
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    y = _f(data, "y")
    sigma1 = pt.as_tensor_variable(np.float64(data["sigma1"]))
    with pm.Model() as m:
        mu = pm.Flat("mu")
        alpha0 = pm.HalfFlat("alpha0")
        alpha1 = pm.Uniform("alpha1", 0, 1)
        beta1 = pm.Uniform("beta1", 0, 1 - alpha1)
        # Uniform(0, 1 - alpha1) has density 1 / (1 - alpha1); Stan's beta1 is flat on that
        # interval with no prior, so undo the normaliser.
        pm.Potential("beta1_flat", pt.log(1 - alpha1))

        def step(y_prev, s_prev, mu, a0, a1, b1):
            return pt.sqrt(a0 + a1 * (y_prev - mu) ** 2 + b1 * s_prev ** 2)

        rest, _ = pytensor.scan(step, sequences=[pt.as_tensor_variable(y[:-1])],
                                outputs_info=[sigma1],
                                non_sequences=[mu, alpha0, alpha1, beta1])
        sigma = pt.concatenate([sigma1[None], rest])
        pm.Normal("y", mu, sigma, observed=y)
    return m


def pymc_gp_pois_regr(data):
    import pymc as pm
    import pytensor.tensor as pt
    x = _f(data, "x")
    n = x.shape[0]
    d2 = (x[:, None] - x[None, :]) ** 2
    with pm.Model() as m:
        rho = pm.Gamma("rho", alpha=25, beta=4)
        alpha = pm.HalfNormal("alpha", 2)
        f_tilde = pm.Normal("f_tilde", 0, 1, shape=n)
        cov = alpha ** 2 * pt.exp(-d2 / (2 * rho ** 2)) + 1e-10 * np.eye(n)
        f = pm.Deterministic("f", pt.linalg.cholesky(cov) @ f_tilde)
        pm.Poisson("k", mu=pt.exp(f), observed=np.asarray(data["k"], dtype=int))
    return m


# ====================================================================== the registry

class Posterior:
    """One posterior of the comparison.

    name: the posteriordb name (NAME.data.json, NAME.reference.json) or "quickstart".
    rmc / stan / pymc: see the module docstring. data(): the data dict; reference(): dict
    with "elements" (names, in order), "mean" and "sd" (dicts by element) and "control"
    (adapt_delta, max_treedepth, with Stan's defaults filled in).
    """

    def __init__(self, name, rmc, stan, pymc, data=None, reference=None, note=""):
        self.name = name
        self.short = name.split("-", 1)[-1]
        self.rmc, self.stan, self.pymc = rmc, stan, pymc
        self._data, self._reference = data, reference
        self.simulated = data is not None    # not a posteriordb posterior
        self.note = note

    def data(self):
        if self._data is not None:
            return self._data()
        return _load_json(self.name, ".data.json")

    def reference(self):
        if self._reference is not None:
            return self._reference()
        ref = _load_json(self.name, ".reference.json")
        control = dict(ref["reference_info"].get("control", {}))
        control.setdefault("adapt_delta", 0.8)
        control.setdefault("max_treedepth", 10)
        elements = ref.get("parameter_order", list(ref["parameters"]))
        return {"elements": elements,
                "mean": {e: ref["parameters"][e]["mean"] for e in elements},
                "sd": {e: ref["parameters"][e]["sd"] for e in elements},
                "control": control}

    def available(self):
        """True when the posteriordb files (or the simulated data) are there."""
        if self._data is not None:
            return True
        folder = posteriordb_folder()
        return all(os.path.exists(os.path.join(folder, self.name + s))
                   for s in (".data.json", ".reference.json"))


def quickstart_data():
    """The quick start's simulated data, exactly as quickstart.py makes them."""
    np.random.seed(42)
    n = 1000
    x = np.random.randn(n)
    y = 2.5 * x + np.random.randn(n)
    return {"N": n, "x": x, "y": y}


def quickstart_reference():
    """The exact posterior of the quick start: conjugate normal, so
    beta | y ~ Normal(sum(x y) / (1 + sum(x^2)), 1 / sqrt(1 + sum(x^2)))."""
    d = quickstart_data()
    precision = 1.0 + float(np.sum(d["x"] ** 2))
    return {"elements": ["beta"],
            "mean": {"beta": float(np.sum(d["x"] * d["y"])) / precision},
            "sd": {"beta": precision ** -0.5},
            "control": {"adapt_delta": 0.8, "max_treedepth": 10}}


POSTERIORS = [
    Posterior("quickstart", rmc_quickstart, STAN_QUICKSTART, pymc_quickstart,
              data=quickstart_data, reference=quickstart_reference,
              note="README quick start, N = 1000 simulated points; exact posterior"),
    Posterior("eight_schools-eight_schools_noncentered", rmc_eight_schools_noncentered,
              STAN_EIGHT_SCHOOLS_NONCENTERED, pymc_eight_schools_noncentered),
    Posterior("kidiq-kidscore_momiq", rmc_kidscore_momiq, STAN_KIDSCORE_MOMIQ,
              pymc_kidscore_momiq),
    Posterior("kidiq-kidscore_interaction", rmc_kidscore_interaction,
              STAN_KIDSCORE_INTERACTION, pymc_kidscore_interaction),
    Posterior("earnings-logearn_height", rmc_logearn_height, STAN_LOGEARN_HEIGHT,
              pymc_logearn_height),
    Posterior("earnings-earn_height", rmc_earn_height, STAN_EARN_HEIGHT, pymc_earn_height),
    Posterior("mesquite-logmesquite_logvolume", rmc_logmesquite_logvolume,
              STAN_LOGMESQUITE_LOGVOLUME, pymc_logmesquite_logvolume),
    Posterior("mesquite-mesquite", rmc_mesquite, STAN_MESQUITE, pymc_mesquite),
    Posterior("sblrc-blr", rmc_sblrc_blr, STAN_SBLRC_BLR, pymc_sblrc_blr),
    Posterior("nes1972-nes", rmc_nes, STAN_NES, pymc_nes),
    Posterior("kilpisjarvi_mod-kilpisjarvi", rmc_kilpisjarvi, STAN_KILPISJARVI,
              pymc_kilpisjarvi),
    Posterior("arK-arK", rmc_ark, STAN_ARK, pymc_ark),
    Posterior("low_dim_gauss_mix-low_dim_gauss_mix", rmc_low_dim_gauss_mix,
              STAN_LOW_DIM_GAUSS_MIX, pymc_low_dim_gauss_mix),
    Posterior("diamonds-diamonds", rmc_diamonds, STAN_DIAMONDS, pymc_diamonds),
    Posterior("garch-garch11", rmc_garch11, STAN_GARCH11, pymc_garch11),
    Posterior("gp_pois_regr-gp_pois_regr", rmc_gp_pois_regr, STAN_GP_POIS_REGR,
              pymc_gp_pois_regr),
]

PENDING = [p.name for p in POSTERIORS if p.rmc is None]


def by_name(name):
    """The Posterior called ``name`` (full posteriordb name or the part after "-")."""
    for p in POSTERIORS:
        if name in (p.name, p.short):
            return p
    raise KeyError("no posterior named %r; known: %s"
                   % (name, ", ".join(p.short for p in POSTERIORS)))
