"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari and Gelman, 2018).

For each model: draw the parameters from the prior, simulate a data set from them, sample
the posterior, and record the rank of each true parameter among L thinned posterior draws.
If the sampler is right, every rank is uniform on 0..L. The ranks of many simulated data
sets are binned and tested with a chi-square test at a fixed seed, so the test is
deterministic: it passes or fails the same way on every run.

The CI run uses RMC_SBC_SIMS data sets per model (default 200); the longer run of
docs/RELIABILITY.md sets RMC_SBC_SIMS=1000.
"""

import os

import numpy as np
import pytest

import rmc

SIMS = int(os.environ.get("RMC_SBC_SIMS", "200"))
L = 99                  # thinned draws per fit: ranks 0..99 fall evenly into 10 bins
BINS = 10
THIN = 3
# 99.9% quantile of chi-square with 9 degrees of freedom: a calibrated sampler fails one
# parameter in a thousand; the fixed seeds make each outcome permanent.
CHI2_CRIT_9DF = 27.877


def ranks_are_uniform(ranks):
    """Chi-square statistic of ranks in 0..L over BINS equal bins."""
    counts = np.bincount(np.asarray(ranks) * BINS // (L + 1), minlength=BINS)
    expected = len(ranks) / BINS
    return float(np.sum((counts - expected) ** 2 / expected)), counts


def run_sbc(model, simulate, names, seed):
    """Ranks of the true values of each scalar in ``names`` over SIMS simulated data sets.

    ``simulate(rng)`` returns (truth: dict name -> value, data: dict). A name "theta[0]"
    picks element 0 of a vector parameter.
    """
    rng = np.random.default_rng(seed)
    ranks = {n: [] for n in names}
    for s in range(SIMS):
        truth, data = simulate(rng)
        fit = rmc.sample(model, data, chains=1, warmup=300, draws=L, thin=THIN,
                         seed=seed * 100003 + s, threads=1)
        for n in names:
            base, _, idx = n.partition("[")
            draws = fit[base][0]
            value = truth[base]
            if idx:
                k = int(idx.rstrip("]"))
                draws, value = draws[:, k], value[k]
            ranks[n].append(int(np.sum(draws < value)))
    return ranks


def check(ranks):
    failures = []
    for name, r in ranks.items():
        stat, counts = ranks_are_uniform(r)
        print("SBC %-9s %d data sets, chi-square %.1f (9 df), bins %s"
              % (name, len(r), stat, counts.tolist()))
        if stat > CHI2_CRIT_9DF:
            failures.append("%s: chi-square %.1f > %.1f, bin counts %s"
                            % (name, stat, CHI2_CRIT_9DF, counts.tolist()))
    assert not failures, "ranks not uniform:\n" + "\n".join(failures)


# ---------------------------------------------------------------- normal mean and scale


def normal_model():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 2))
    sigma = b.param("sigma", lower=0, prior=rmc.HalfNormal(1))
    b.observe("y", rmc.Normal(mu, sigma))
    return b.build()


def simulate_normal(rng):
    mu = rng.normal(0, 2)
    sigma = abs(rng.normal(0, 1))
    return {"mu": mu, "sigma": sigma}, {"y": rng.normal(mu, sigma, size=10)}


def test_sbc_normal_mean_and_scale():
    check(run_sbc(normal_model(), simulate_normal, ["mu", "sigma"], seed=1))


# ---------------------------------------------------------------- eight schools


SIGMA_8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools_model():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    z = b.param("z", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * z)
    b.observe("y", rmc.Normal(theta, "sigma"))
    return b.build()


def simulate_eight_schools(rng):
    mu = rng.normal(0, 5)
    tau = abs(5 * rng.standard_cauchy())
    z = rng.normal(0, 1, size=8)
    theta = mu + tau * z
    y = rng.normal(theta, SIGMA_8)
    return ({"mu": mu, "tau": tau, "z": z, "theta": theta},
            {"J": 8, "y": y, "sigma": SIGMA_8})


def test_sbc_eight_schools_noncentred():
    check(run_sbc(eight_schools_model(), simulate_eight_schools,
                  ["mu", "tau", "z[0]", "theta[0]"], seed=2))


# ---------------------------------------------------------------- logistic regression


X_LOGIT = np.random.default_rng(12345).normal(size=(40, 2))


def logistic_model():
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", prior=rmc.Normal(0, 1))
    beta = b.param("beta", shape=2, prior=rmc.Normal(0, 1))
    b.observe("y", rmc.BernoulliLogit(alpha + rmc.matvec("X", beta)))
    return b.build()


def simulate_logistic(rng):
    alpha = rng.normal(0, 1)
    beta = rng.normal(0, 1, size=2)
    p = 1 / (1 + np.exp(-(alpha + X_LOGIT @ beta)))
    y = (rng.uniform(size=len(p)) < p).astype(np.int64)
    return {"alpha": alpha, "beta": beta}, {"X": X_LOGIT, "y": y}


def test_sbc_logistic_regression():
    check(run_sbc(logistic_model(), simulate_logistic, ["alpha", "beta[0]", "beta[1]"],
                  seed=3))


# ---------------------------------------------------------------- the test itself


def test_chi_square_rejects_a_miscalibrated_sampler():
    """The check has teeth: ranks from a posterior that is too narrow (an overconfident
    sampler) pile up at both ends and fail; uniform ranks pass."""
    rng = np.random.default_rng(7)
    narrow = [int(np.sum(rng.normal(0, 0.7, L) < rng.normal())) for _ in range(SIMS)]
    stat, _ = ranks_are_uniform(narrow)
    assert stat > CHI2_CRIT_9DF
    uniform = rng.integers(0, L + 1, size=SIMS)
    stat, _ = ranks_are_uniform(uniform)
    assert stat < CHI2_CRIT_9DF


@pytest.mark.parametrize("sims", [SIMS])
def test_enough_simulations(sims):
    # Fewer than 5 expected per bin makes chi-square unreliable.
    assert sims / BINS >= 5
