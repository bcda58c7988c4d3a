"""Fits written out and read back: CmdStan CSV, ArviZ, plain dicts and npz.

ArviZ tests skip with a message where arviz is absent; scripts/install-deps.sh installs it,
so CI runs them.
"""

import os
import sys

import numpy as np
import pytest

import rmc

Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
SIGMA = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])


def _arviz():
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # arviz 0.2x announces its refactor on import
            import arviz
        return arviz
    except ImportError:
        pytest.skip("arviz is not installed (python3 -m pip install arviz; "
                    "scripts/install-deps.sh does it)")


@pytest.fixture(scope="module")
def fit():
    """Eight schools plus a 2x3 matrix parameter, so that both vector and matrix columns
    (row-major in rmc, theta.1 / M.2.3 in the files) are exercised."""
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    z = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * z)
    b.observe("y", rmc.Normal(theta, "sigma"))
    b.param("M", shape=(2, 3), prior=rmc.Normal(0, 1))
    return rmc.sample(b.build(), {"J": 8, "y": Y, "sigma": SIGMA}, chains=3, draws=200,
                      warmup=200, seed=11, target_accept=0.9)


SETTINGS = ("chains", "num_draws", "num_warmup", "thin", "sampler", "max_treedepth",
            "target_accept", "seed", "backend", "device", "backend_reason",
            "gradient_evals", "seconds", "cancelled", "column_names", "variables")


def assert_same_fit(a, b):
    """Every array bit for bit, every setting equal, the summary identical."""
    assert np.array_equal(a.values, b.values)
    for name in a.stats:
        assert a.stats[name].dtype == b.stats[name].dtype, name
        assert np.array_equal(a.stats[name], b.stats[name]), name
    for name in a.draws:
        assert np.array_equal(a[name], b[name]), name
    assert np.array_equal(a.step_size, b.step_size)
    assert np.array_equal(a.inv_metric, b.inv_metric)
    for key in SETTINGS:
        assert getattr(a, key) == getattr(b, key), key
    assert np.array_equal(a._summary, b._summary, equal_nan=True)
    assert str(a) == str(b)


def test_csv_layout(fit, tmp_path):
    paths = fit.to_csv(tmp_path, basename="eight")
    assert [os.path.basename(p) for p in paths] == ["eight_1.csv", "eight_2.csv", "eight_3.csv"]
    with open(paths[1]) as f:
        lines = f.read().splitlines()
    header = next(line for line in lines if not line.startswith("#"))
    cols = header.split(",")
    assert cols[:7] == ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__",
                        "divergent__", "energy__"]
    assert cols[7:10] == ["mu", "tau", "theta_trans.1"]
    k = cols.index("M.1.1")     # parameters first, then deterministics
    assert cols[k:k + 6] == ["M.1.1", "M.1.2", "M.1.3", "M.2.1", "M.2.2", "M.2.3"]
    assert cols[-1] == "theta.8"
    assert "# id = 2" in lines and "# method = sample (Default)" in lines
    assert "#     num_samples = 200" in lines
    assert sum(1 for line in lines if not line.startswith("#")) == 1 + fit.num_draws


def test_csv_round_trip_is_identical(fit, tmp_path):
    paths = fit.to_csv(tmp_path)
    back = rmc.read_csv(paths)
    assert_same_fit(fit, back)
    # A folder and a glob pattern name the same files.
    assert_same_fit(fit, rmc.read_csv(str(tmp_path)))
    assert_same_fit(fit, rmc.read_csv(str(tmp_path / "output_*.csv")))


def test_read_cmdstan_column_major_file(tmp_path):
    """CmdStan writes matrices column-major and may omit rmc's headers: the reader lays
    the columns out row-major by their indices."""
    text = ("# model = m\n# num_warmup = 10\n# thin = 1\n# id = 1\n# seed = 5\n"
            "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,"
            "a,M.1.1,M.2.1,M.1.2,M.2.2\n"
            "# Adaptation terminated\n# Step size = 0.5\n"
            "# Diagonal elements of inverse mass matrix:\n# 1, 2, 3, 4, 5\n"
            "-1,0.9,0.5,2,3,0,1.5,7,11,21,12,22\n"
            "-2,0.8,0.5,2,3,1,2.5,8,111,121,112,122\n"
            "#  Elapsed Time: 0.1 seconds (Warm-up)\n#  0.2 seconds (Sampling)\n"
            "#  0.3 seconds (Total)\n")
    (tmp_path / "s_1.csv").write_text(text)
    f = rmc.read_csv(tmp_path / "s_1.csv")
    assert f.column_names == ["a", "M[1,1]", "M[1,2]", "M[2,1]", "M[2,2]"]
    assert f["M"].shape == (1, 2, 2, 2)
    assert np.array_equal(f["M"][0, 1], [[111, 112], [121, 122]])
    assert f.stats["divergent"].tolist() == [[False, True]]
    assert f.stats["tree_depth"].dtype == np.int64
    assert f.step_size.tolist() == [0.5] and f.inv_metric.tolist() == [[1, 2, 3, 4, 5]]
    assert f.seconds == 0.3 and f.seed == 5 and f.num_warmup == 10
    assert f.sampler == "nuts"


def test_read_csv_rejects_mismatched_files(fit, tmp_path):
    paths = fit.to_csv(tmp_path)
    with open(paths[1]) as f:
        text = f.read().replace(",mu,", ",nu,")
    with open(paths[1], "w") as f:
        f.write(text)
    with pytest.raises(ValueError, match="output_2.csv: its columns differ"):
        rmc.read_csv(paths[::-1])     # named by its file whatever the order given
    with pytest.raises(ValueError, match="no CSV files"):
        rmc.read_csv(str(tmp_path / "nothing_*.csv"))


def test_npz_round_trip_is_identical(fit, tmp_path):
    path = fit.save(tmp_path / "fit.rmcfit")       # any name: numpy adds no extension
    assert os.path.exists(path) and path.endswith(".rmcfit")
    assert_same_fit(fit, rmc.load(path))


def test_to_dict(fit):
    d = fit.to_dict()
    assert set(d) == {"posterior", "sample_stats", "attrs"}
    assert set(d["posterior"]) == {"mu", "tau", "theta_trans", "theta", "M"}
    assert d["posterior"]["M"].shape == (3, 200, 2, 3)
    assert set(d["sample_stats"]) == {"lp", "acceptance_rate", "step_size", "tree_depth",
                                      "n_steps", "diverging", "energy"}
    assert d["sample_stats"]["diverging"].dtype == bool
    assert d["attrs"]["inference_library"] == "rmc"


def test_to_arviz_without_arviz(fit, monkeypatch):
    monkeypatch.setitem(sys.modules, "arviz", None)    # import arviz now fails
    with pytest.raises(ImportError, match="pip install arviz"):
        fit.to_arviz()


def test_arviz_from_cmdstan_reads_the_files(fit, tmp_path):
    az = _arviz()
    paths = fit.to_csv(tmp_path)
    idata = az.from_cmdstan(posterior=paths)
    for name in fit.draws:
        assert np.array_equal(idata.posterior[name].values, fit[name]), name
    ss = idata.sample_stats
    assert np.array_equal(ss["lp"].values, fit.stats["lp"])
    assert np.array_equal(ss["diverging"].values, fit.stats["divergent"])
    assert np.array_equal(ss["tree_depth"].values, fit.stats["tree_depth"])
    assert np.array_equal(ss["n_steps"].values, fit.stats["n_leapfrog"])
    assert np.array_equal(ss["acceptance_rate"].values, fit.stats["accept_stat"])


def test_arviz_summary_agrees(fit):
    az = _arviz()
    idata = fit.to_arviz()
    assert set(idata.sample_stats.data_vars) == {"lp", "acceptance_rate", "step_size",
                                                 "tree_depth", "n_steps", "diverging",
                                                 "energy"}
    table = az.summary(idata, round_to="none", kind="all")
    ours = fit.summary()
    # ArviZ labels vector elements zero-based: theta[0] is rmc's theta[1].
    for i, name in enumerate(ours["name"]):
        label = name
        if "[" in name:
            base, idx = name[:-1].split("[")
            label = "%s[%s]" % (base, ", ".join(str(int(k) - 1) for k in idx.split(",")))
        row = table.loc[label]
        assert row["mean"] == pytest.approx(ours["mean"][i], rel=1e-12, abs=1e-12)
        assert row["sd"] == pytest.approx(ours["sd"][i], rel=1e-10)
        assert row["mcse_mean"] == pytest.approx(ours["mcse_mean"][i], rel=1e-6)
        assert row["ess_bulk"] == pytest.approx(ours["ess_bulk"][i], rel=1e-6)
        assert row["ess_tail"] == pytest.approx(ours["ess_tail"][i], rel=1e-6)
        assert row["r_hat"] == pytest.approx(ours["rhat"][i], rel=1e-9)


def test_c_summary_matches_fit_summary(fit):
    """rmc_summary, which summarises fits read from files, is rmc_fit_summary's figures."""
    from rmc import _lib
    out = np.empty(len(_lib.SUMMARY_FIELDS))
    col = np.ascontiguousarray(fit["mu"])
    assert _lib.lib.rmc_summary(_lib.as_dbl_p(col), fit.chains, fit.num_draws,
                                _lib.as_dbl_p(out)) == _lib.RMC_OK
    assert np.array_equal(out, fit._summary[0])
    assert _lib.lib.rmc_summary(_lib.as_dbl_p(col), 0, fit.num_draws,
                                _lib.as_dbl_p(out)) == 1    # RMC_ERR_ARGUMENT
    assert "rmc_summary" in _lib.last_error()
