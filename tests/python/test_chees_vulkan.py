"""ChEES on the Vulkan backend (lavapipe in CI): every leapfrog step of all chains is one
batch on the device, with the same adaptation as on the CPU. Skips with a message where no
Vulkan device can be created."""

import numpy as np
import pytest

import rmc

import posteriordb
from posteriordb import check_reference, load_data
from test_chees import CHAINS, DRAWS, SEED, WARMUP, eight_schools, kidiq, blr
from test_vulkan import setup_module, teardown_module, vulkan  # noqa: F401 (fixture)


@pytest.mark.parametrize("name, model", [
    ("eight_schools-eight_schools_noncentered", eight_schools),
    ("kidiq-kidscore_momiq", kidiq),
    ("sblrc-blr", blr),
])
def test_reference_with_1024_chains_on_the_device(vulkan, name, model):
    posteriordb.folder()
    fit = rmc.sample(model(), load_data(name), chains=CHAINS, warmup=WARMUP, draws=DRAWS,
                     seed=SEED, sampler="chees", backend="vulkan", device=vulkan,
                     progress=False)
    assert fit.backend == "vulkan", fit.backend_reason
    steps = fit.stats["n_leapfrog"]
    assert np.all(steps == steps[:1, :]), "chains must take the same number of steps"
    check_reference(fit, name)
    nested = fit.nested_rhat()
    assert np.all(nested < 1.01), dict(zip(fit.column_names, nested))


def test_same_seed_same_draws_on_the_device(vulkan):
    data = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
            "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}
    fits = [rmc.sample(eight_schools(), data, chains=64, warmup=100, draws=50, seed=11,
                       sampler="chees", backend="vulkan", device=vulkan, progress=False)
            for _ in range(2)]
    for k in fits[0].draws:
        assert np.array_equal(fits[0].draws[k], fits[1].draws[k]), k


def test_idle_share_of_lockstep_batches(vulkan):
    """NUTS in lockstep wastes the slots of chains whose trajectory ended; ChEES gives every
    chain the same number of steps, so only a divergence leaves a slot idle."""
    data = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
            "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}
    kw = dict(chains=64, warmup=150, draws=100, seed=5, backend="vulkan", device=vulkan,
              progress=False)
    nuts = rmc.sample(eight_schools(), data, sampler="nuts", **kw)
    chees = rmc.sample(eight_schools(), data, sampler="chees", **kw)
    print("idle share: nuts %.3f, chees %.3f" % (nuts.idle_fraction, chees.idle_fraction))
    assert 0.0 < nuts.idle_fraction < 1.0
    assert 0.0 <= chees.idle_fraction < nuts.idle_fraction
    cpu = rmc.sample(eight_schools(), data, sampler="chees", chains=8, warmup=20, draws=10,
                     seed=5, backend="cpu", progress=False)
    assert np.isnan(cpu.idle_fraction)


def test_meads_reference_on_the_device(vulkan):
    name = "eight_schools-eight_schools_noncentered"
    posteriordb.folder()
    fit = rmc.sample(eight_schools(), load_data(name), chains=CHAINS, warmup=1000, draws=1000,
                     seed=SEED, sampler="meads", backend="vulkan", device=vulkan,
                     progress=False)
    assert fit.backend == "vulkan", fit.backend_reason
    check_reference(fit, name, rhat=False)
    assert np.all(fit.nested_rhat() < 1.01)
