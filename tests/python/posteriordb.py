"""The posteriordb reference rule, shared by every posteriordb test.

Reference files live in ``$RMC_POSTERIORDB`` or else ``<repo>/../shared/posteriordb``:
``NAME.data.json`` (the data) and ``NAME.reference.json`` (per-element mean, sd, ... of
10 x 1000 reference draws, and the run's control settings).
"""

import json
import os

import pytest

import rmc

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# The run every posteriordb test makes: 4 chains x (1000 warmup + 1000 draws), fixed seed.
CHAINS, WARMUP, DRAWS, SEED = 4, 1000, 1000, 20240611


def folder():
    """The posteriordb folder; the test is skipped with a message if it is missing."""
    path = os.environ.get("RMC_POSTERIORDB") or os.path.join(REPO, "..", "shared",
                                                             "posteriordb")
    path = os.path.normpath(path)
    if not os.path.isdir(path):
        pytest.skip("posteriordb files not found at %s (set RMC_POSTERIORDB to the folder "
                    "holding NAME.reference.json and NAME.data.json)" % path)
    return path


def _load(name, suffix):
    path = os.path.join(folder(), name + suffix)
    if not os.path.exists(path):
        pytest.skip("posteriordb file %s is missing" % path)
    with open(path) as f:
        return json.load(f)


def load_data(name):
    """The data of posterior NAME, as published (lists become arrays when bound)."""
    return _load(name, ".data.json")


def load_reference(name):
    """The reference summary of posterior NAME."""
    return _load(name, ".reference.json")


def sample_posterior(model, name, data=None):
    """Sample ``model`` on NAME's data the way every reference check does: 4 chains,
    1000 warmup, 1000 draws, a fixed seed, and the reference run's adapt_delta and
    max_treedepth."""
    control = load_reference(name)["reference_info"].get("control", {})
    return rmc.sample(model, load_data(name) if data is None else data, chains=CHAINS,
                      warmup=WARMUP, draws=DRAWS, seed=SEED,
                      target_accept=control.get("adapt_delta", 0.8),
                      max_treedepth=control.get("max_treedepth", 10))


def check_reference(fit, name, rhat=True):
    """Hold ``fit`` to the reference posterior NAME; fail listing every offending element.

    ``rhat=False`` leaves out the classic R-hat, for samplers whose many short chains are
    judged by nested R-hat instead (MEADS: a draw is one leapfrog step, so each chain's
    draws are strongly autocorrelated and split R-hat over 200-1,000 of them says little
    about the pooled estimate); the caller then checks ``fit.nested_rhat()``.

    For every element of the reference (named like the fit's one-based columns,
    "theta[1]"):
      |mean - ref_mean| <= max(0.1 * ref_sd, 4 * MCSE of the mean),
      |sd / ref_sd - 1| <= 0.1,
      R-hat < 1.01;
    and divergent transitions must be fewer than 0.5% of the draws.
    """
    check_rhat = rhat
    ref = load_reference(name)
    summary = fit.summary()
    row = {n: i for i, n in enumerate(summary["name"])}
    problems = []
    total = fit.chains * fit.num_draws
    if fit.num_divergent >= 0.005 * total:
        problems.append("%d divergent transitions in %d draws (limit 0.5%%)"
                        % (fit.num_divergent, total))
    for element in ref.get("parameter_order", list(ref["parameters"])):
        want = ref["parameters"][element]
        if element not in row:
            problems.append("%s: not among the fit's columns" % element)
            continue
        i = row[element]
        mean, sd = summary["mean"][i], summary["sd"][i]
        mcse, rhat = summary["mcse_mean"][i], summary["rhat"][i]
        tol = max(0.1 * want["sd"], 4 * mcse)
        bad = []
        if not abs(mean - want["mean"]) <= tol:
            bad.append("mean %.6g vs %.6g (|diff| %.3g > tol %.3g)"
                       % (mean, want["mean"], abs(mean - want["mean"]), tol))
        if not abs(sd / want["sd"] - 1) <= 0.1:
            bad.append("sd %.6g vs %.6g (ratio %.3f)" % (sd, want["sd"], sd / want["sd"]))
        if check_rhat and not rhat < 1.01:
            bad.append("R-hat %.4f" % rhat)
        if bad:
            problems.append("%s: %s [mcse %.3g, ess_bulk %.0f]"
                            % (element, "; ".join(bad), mcse, summary["ess_bulk"][i]))
    if problems:
        pytest.fail("%s disagrees with its reference posterior:\n  %s"
                    % (name, "\n  ".join(problems)), pytrace=False)
