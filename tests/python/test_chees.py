"""ChEES-HMC: many chains in lockstep, held to the posteriordb references.

The issue's run: 1,024 chains x 200 draws after warmup, reference rule as for NUTS (the
R-hat there is the rank-normalised split R-hat over all 1,024 chains)."""

import numpy as np
import pytest

import rmc

from posteriordb import check_reference, load_data

CHAINS, WARMUP, DRAWS, SEED = 1024, 500, 200, 20241204


def eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(mu + tau * theta_trans, "sigma"))
    return b.build()


def kidiq():
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape=2)
    sigma = b.param("sigma", prior=rmc.HalfCauchy(2.5))
    b.observe("kid_score", rmc.Normal(beta[0] + beta[1] * "mom_iq", sigma))
    return b.build()


def blr():
    b = rmc.ModelBuilder()
    beta = b.param("beta", shape="D", prior=rmc.Normal(0, 10))
    sigma = b.param("sigma", prior=rmc.HalfNormal(10))
    b.observe("y", rmc.Normal(rmc.matvec("X", beta), sigma))
    return b.build()


@pytest.mark.parametrize("name, model", [
    ("eight_schools-eight_schools_noncentered", eight_schools),
    ("kidiq-kidscore_momiq", kidiq),
    ("sblrc-blr", blr),
])
def test_reference_with_1024_chains(name, model):
    fit = rmc.sample(model(), load_data(name), chains=CHAINS, warmup=WARMUP, draws=DRAWS,
                     seed=SEED, sampler="chees", progress=False)
    assert (fit.chains, fit.num_draws) == (CHAINS, DRAWS)
    # One step size and one trajectory length for every chain, frozen after warmup.
    assert np.all(fit.stats["step_size"] == fit.stats["step_size"][0, 0])
    steps = fit.stats["n_leapfrog"]
    assert np.all(steps == steps[:1, :]), "chains must take the same number of steps"
    assert steps.max() > 1, "the trajectory length was never adapted"
    check_reference(fit, name)
    nested = fit.nested_rhat()
    assert np.all(nested < 1.01), dict(zip(fit.column_names, nested))


@pytest.mark.parametrize("name, model", [
    ("eight_schools-eight_schools_noncentered", eight_schools),
    ("kidiq-kidscore_momiq", kidiq),
    ("sblrc-blr", blr),
])
def test_meads_reference_with_1024_chains(name, model):
    """MEADS: one leapfrog step per draw, so 1,000 draws per chain (still fewer gradients
    than ChEES's 200). Judged by nested R-hat (see check_reference)."""
    fit = rmc.sample(model(), load_data(name), chains=CHAINS, warmup=1000, draws=1000,
                     seed=SEED, sampler="meads", progress=False)
    assert np.all(fit.stats["n_leapfrog"] == 1)
    check_reference(fit, name, rhat=False)
    nested = fit.nested_rhat()
    assert np.all(nested < 1.01), dict(zip(fit.column_names, nested))


def test_meads_settings():
    with pytest.raises(rmc.RmcError, match="at least 8 chains"):
        rmc.sample(small_model(), SMALL_DATA, chains=4, sampler="meads", progress=False)
    runs = [rmc.sample(small_model(), SMALL_DATA, chains=64, warmup=200, draws=100, seed=9,
                       sampler="meads", threads=t, progress=False) for t in (1, 2)]
    assert np.array_equal(runs[0]["mu"], runs[1]["mu"])
    assert np.array_equal(runs[0].stats["energy"], runs[1].stats["energy"])


def nested_rhat_numpy(x, k):
    """Nested R-hat written from the paper's formulas, for draws x[chains][draws]."""
    chains, n = x.shape
    groups = x.reshape(k, chains // k, n)
    chain_means = groups.mean(axis=2)
    super_means = chain_means.mean(axis=1)
    b = super_means.var(ddof=1)
    between = chain_means.var(axis=1, ddof=1) if chains // k > 1 else 0.0
    within = groups.var(axis=2, ddof=1).mean(axis=1) if n > 1 else 0.0
    return np.sqrt(1 + b / np.mean(between + within))


def test_nested_rhat_matches_its_definition():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 10))
    x[:16] += 1.0               # one superchain of four is off
    lib = rmc._lib.lib
    for k in (2, 4, 8, 64):
        got = lib.rmc_nested_rhat(rmc._lib.as_dbl_p(x), 64, 10, k)
        assert abs(got - nested_rhat_numpy(x, k)) < 1e-12
    assert nested_rhat_numpy(x, 4) > 1.01
    assert np.isnan(lib.rmc_nested_rhat(rmc._lib.as_dbl_p(x), 64, 10, 3))  # 3 does not divide 64
    assert np.isnan(lib.rmc_nested_rhat(rmc._lib.as_dbl_p(x), 64, 10, 1))


def small_model():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    sigma = b.param("sigma", lower=0, prior=rmc.HalfNormal(2))
    b.observe("y", rmc.Normal(mu, sigma))
    return b.build()


SMALL_DATA = {"y": np.array([0.3, 1.9, -0.4, 2.2, 1.1, 0.7])}


def test_same_seed_same_draws_whatever_the_threads():
    runs = [rmc.sample(small_model(), SMALL_DATA, chains=64, warmup=200, draws=100, seed=7,
                       sampler="chees", threads=t, progress=False) for t in (1, 2, 3, 1)]
    for fit in runs[1:]:
        for k in runs[0].draws:
            assert np.array_equal(fit.draws[k], runs[0].draws[k]), k
        for k in runs[0].stats:
            assert np.array_equal(fit.stats[k], runs[0].stats[k]), k
    other = rmc.sample(small_model(), SMALL_DATA, chains=64, warmup=200, draws=100, seed=8,
                       sampler="chees", progress=False)
    assert not np.array_equal(other.draws["mu"], runs[0].draws["mu"])


def test_needs_two_chains():
    with pytest.raises(rmc.RmcError, match="at least 2 chains"):
        rmc.sample(small_model(), SMALL_DATA, chains=1, sampler="chees", progress=False)


def test_thin_and_no_warmup():
    fit = rmc.sample(small_model(), SMALL_DATA, chains=16, warmup=0, draws=30, thin=3,
                     seed=2, sampler="chees", step_size=0.3, progress=False)
    assert fit["mu"].shape == (16, 30)
    assert np.all(fit.stats["step_size"] == 0.3)
    assert np.all(np.isfinite(fit["mu"])) and np.all(np.isfinite(fit["sigma"]))


def test_divergences_never_write_nan():
    # A funnel with a large fixed step: many divergent proposals, all rejected.
    b = rmc.ModelBuilder()
    v = b.param("v", prior=rmc.Normal(0, 3))
    b.param("x", shape=5, prior=rmc.Normal(0, rmc.exp(v / 2)))
    fit = rmc.sample(b.build(), {}, chains=32, warmup=0, draws=50, seed=3, sampler="chees",
                     step_size=2.0, progress=False)
    assert fit.num_divergent > 0
    assert np.all(np.isfinite(fit["x"])) and np.all(np.isfinite(fit["v"]))
    assert np.all(np.isfinite(fit.stats["lp"]))


def test_streamed_chunks_are_the_kept_draws():
    full = rmc.sample(small_model(), SMALL_DATA, chains=16, warmup=100, draws=50, seed=3,
                      sampler="chees", progress=False)
    chunks = []
    fit = rmc.sample(small_model(), SMALL_DATA, chains=16, warmup=100, draws=50, seed=3,
                     sampler="chees", progress=False, chunk_draws=7,
                     keep=lambda first, draws, stats: chunks.append((first, draws, stats)))
    assert [c[0] for c in chunks] == list(range(0, 50, 7))
    assert fit.num_draws == 0 and "streamed" in str(fit)
    for name in ("mu", "sigma"):
        got = np.concatenate([c[1][name] for c in chunks], axis=1)
        assert np.array_equal(got, full[name]), name
    for name in full.stats:
        got = np.concatenate([c[2][name] for c in chunks], axis=1)
        assert np.array_equal(got, full.stats[name]), name


def test_keep_thin_is_thin():
    a = rmc.sample(small_model(), SMALL_DATA, chains=8, warmup=50, draws=20, seed=4,
                   sampler="chees", progress=False, keep="thin:3")
    b = rmc.sample(small_model(), SMALL_DATA, chains=8, warmup=50, draws=20, seed=4,
                   sampler="chees", progress=False, thin=3)
    assert np.array_equal(a["mu"], b["mu"]) and a.thin == 3


def test_streaming_errors():
    class Stop(Exception):
        pass

    def keep(first, draws, stats):
        if first >= 10:
            raise Stop("enough")

    with pytest.raises(Stop):
        rmc.sample(small_model(), SMALL_DATA, chains=8, warmup=20, draws=40, seed=4,
                   sampler="chees", progress=False, keep=keep, chunk_draws=5)
    with pytest.raises(rmc.RmcError, match="chees and meads only"):
        rmc.sample(small_model(), SMALL_DATA, chains=4, warmup=20, draws=10, seed=4,
                   progress=False, keep=keep)
    for bad in ("some", "thin:0", "thin:x", 3):
        with pytest.raises(ValueError, match="keep"):
            rmc.sample(small_model(), SMALL_DATA, chains=4, sampler="chees", keep=bad,
                       progress=False)


STREAM_SCRIPT = r"""
import resource, sys
import numpy as np
import rmc
b = rmc.ModelBuilder()
b.param("x", shape=100, prior=rmc.Normal(0, 1))
seen = [0, 0.0]
def keep(first, draws, stats):
    seen[0] += draws["x"].shape[1]
    seen[1] += float(np.square(draws["x"]).sum())
# No warmup and a fixed step: one leapfrog step per draw keeps the run short; memory does
# not depend on the trajectory length.
fit = rmc.sample(b.build(), {}, chains=10000, warmup=0, draws=1000, seed=1,
                 sampler="chees", step_size=0.5, progress=False, keep=keep)
print(seen[0], seen[1] / (seen[0] * 10000 * 100),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_streaming_keeps_memory_bounded():
    """10,000 chains x 1,000 draws of 100 parameters: kept in the fit they would need
    8.6 GB (107 columns and statistics of doubles); streamed, the process stays under
    1 GiB resident."""
    import os
    import subprocess
    import sys
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT], env=env, check=True,
                         capture_output=True, text=True, timeout=600).stdout.split()
    draws, second_moment, peak_kib = int(out[0]), float(out[1]), int(out[2])
    print("peak resident memory: %.0f MiB" % (peak_kib / 1024))
    assert draws == 1000
    assert 0.5 < second_moment < 1.5          # the draws were real
    assert peak_kib < 1024 * 1024, "peak resident %d KiB" % peak_kib
