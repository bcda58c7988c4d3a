"""More of the posteriordb development set (the coverage issue), written from the model
descriptions in shared/posteriordb/README.md and held to their reference draws."""

import numpy as np

import rmc

from posteriordb import check_reference, load_data, sample_posterior


def test_kidiq_kidscore_interaction():
    name = "kidiq-kidscore_interaction"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=4)                      # flat
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    hs, iq = b.data("mom_hs"), b.data("mom_iq")
    inter = hs * iq                                      # data only: computed once at bind
    mu = beta[0] + beta[1] * hs + beta[2] * iq + beta[3] * inter
    b.observe("kid_score", rmc.Normal(mu, sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_earnings_earn_height():
    name = "earnings-earn_height"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe("earn", rmc.Normal(beta[0] + beta[1] * "height", sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_mesquite_logmesquite_logvolume():
    name = "mesquite-logmesquite_logvolume"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)
    sigma = b.param("sigma", lower=0)
    log_volume = rmc.log(b.data("diam1") * "diam2" * "canopy_height")
    b.observe(rmc.log("weight"), rmc.Normal(beta[0] + beta[1] * log_volume, sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_mesquite_mesquite():
    name = "mesquite-mesquite"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=7)
    sigma = b.param("sigma", lower=0)
    mu = beta[0]
    for k, field in enumerate(["diam1", "diam2", "canopy_height", "total_height",
                               "density", "group"]):
        mu = mu + beta[k + 1] * b.data(field)
    b.observe("weight", rmc.Normal(mu, sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_nes1972_nes():
    name = "nes1972-nes"
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
    check_reference(sample_posterior(b.build(), name), name)


def test_ark():
    name = "arK-arK"
    data = load_data(name)
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
    check_reference(sample_posterior(b.build(), name, data), name)
