"""Bulk ESS by rmc's C implementation (rmc_ess_bulk), for draws from any sampler.

Every sampler's draws go through this one function, so no sampler is favoured by a
different ESS estimator. :func:`arviz_ess_bulk` is the cross-check (run.py compares the two
on every set of draws and reports the largest relative difference).
"""

import numpy as np


def ess_bulk(draws):
    """Rank-normalised split bulk ESS of one quantity; draws shaped (chains, draws)."""
    from rmc import _lib
    a = np.ascontiguousarray(draws, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError("draws must be shaped (chains, draws), got %s" % (a.shape,))
    return float(_lib.lib.rmc_ess_bulk(_lib.as_dbl_p(a), a.shape[0], a.shape[1]))


def arviz_ess_bulk(draws):
    """The same figure by ArviZ (None when arviz is not installed)."""
    try:
        import arviz
    except ImportError:
        return None
    return float(arviz.ess(np.asarray(draws, dtype=np.float64), method="bulk"))
