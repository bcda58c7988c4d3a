"""The ctypes layer: struct layout, defaults, status names and error conversion."""

import ctypes

import numpy as np
import pytest

import rmc
from rmc import _lib


def test_config_defaults_read_through_the_struct():
    # A mis-declared field would shift every later one and show here as garbage.
    config = _lib.Config()
    _lib.lib.rmc_config_default(ctypes.byref(config))
    assert ctypes.sizeof(_lib.Config) == 168   # sizeof(rmc_config) on LP64
    assert (config.sampler, config.backend) == (_lib.SAMPLERS["auto"], 0)
    assert (config.chains, config.draws, config.warmup, config.thin) == (4, 1000, 1000, 1)
    assert config.seed == 1 and config.threads == 0 and config.max_depth == 10
    assert config.target_accept == pytest.approx(0.8) and config.step_size == 1.0
    assert config.adapt_metric == 1 and config.hmc_steps == 16
    assert config.init_radius == 2.0 and config.init_tries == 100
    assert not config.init and not config.progress and not config.cancel
    assert not config.progress_info
    assert not config.draws_fn and config.chunk_draws == 0 and config.keep_draws == 1


def test_status_names_match_the_header():
    for code, name in enumerate(_lib.STATUS_NAMES):
        assert _lib.status_name(code) == name


def test_check_raises_with_the_library_message():
    bad = ctypes.c_void_p()
    status = _lib.lib.rmc_model_create(None)   # out is NULL: an argument error
    with pytest.raises(rmc.RmcError, match="rmc_model_create") as err:
        _lib._check(status)
    assert err.value.status == "RMC_ERR_ARGUMENT"
    assert isinstance(err.value, RuntimeError)
    _lib._check(_lib.lib.rmc_model_create(ctypes.byref(bad)))
    _lib.lib.rmc_model_free(bad)


def test_diagnostics_are_exposed():
    draws = np.random.default_rng(0).normal(size=(4, 500))
    p = _lib.as_dbl_p(draws)
    assert abs(_lib.lib.rmc_rhat(p, 4, 500) - 1) < 0.01
    assert 1000 < _lib.lib.rmc_ess_bulk(p, 4, 500) < 3000
    assert 500 < _lib.lib.rmc_ess_tail(p, 4, 500) < 3000
