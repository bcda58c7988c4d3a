"""Posteriors from posteriordb, written from the model descriptions in
shared/posteriordb/README.md and held to their reference draws (see posteriordb.py)."""

import rmc

from posteriordb import check_reference, sample_posterior


def test_eight_schools_noncentered():
    name = "eight_schools-eight_schools_noncentered"
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(theta, "sigma"))
    check_reference(sample_posterior(b.build(), name), name)


def test_kidiq_kidscore_momiq():
    name = "kidiq-kidscore_momiq"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    b.observe("kid_score", rmc.Normal(beta[0] + beta[1] * "mom_iq", sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_earnings_logearn_height():
    name = "earnings-logearn_height"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)                      # flat
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe(rmc.log("earn"), rmc.Normal(beta[0] + beta[1] * "height", sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_sblrc_blr():
    name = "sblrc-blr"
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape="D", prior=rmc.Normal(0, 10))
    sigma = b.param("sigma", prior=rmc.HalfNormal(10))
    b.observe("y", rmc.Normal(rmc.matvec("X", beta), sigma))
    check_reference(sample_posterior(b.build(), name), name)


def test_kilpisjarvi():
    name = "kilpisjarvi_mod-kilpisjarvi"
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.Normal("pmualpha", "psalpha"))
    beta = b.param("beta", prior=rmc.Normal("pmubeta", "psbeta"))
    sigma = b.param("sigma", lower=0)                    # flat on (0, inf)
    b.observe("y", rmc.Normal(alpha + beta * "x", sigma))
    check_reference(sample_posterior(b.build(), name), name)
