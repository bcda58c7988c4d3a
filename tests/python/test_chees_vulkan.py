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
