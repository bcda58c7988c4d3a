"""fit.plot_trace() and fit.plot_posterior() render to PNG (matplotlib, Agg backend).

Skipped with a message where matplotlib is absent; scripts/install-deps.sh installs it.
"""

import sys

import numpy as np
import pytest

import rmc

Y = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
SIGMA = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])


@pytest.fixture(scope="module")
def fit():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", lower=0, prior=rmc.HalfCauchy(5))
    theta = b.param("theta", shape=8, prior=rmc.Normal(mu, tau))
    b.observe("y", rmc.Normal(theta, "sigma"))
    return rmc.sample(b.build(), {"y": Y, "sigma": SIGMA}, chains=2, draws=150, warmup=150,
                      seed=3, target_accept=0.6, progress=False)


@pytest.fixture
def plt():
    mpl = pytest.importorskip("matplotlib", reason="matplotlib is not installed "
                              "(python3 -m pip install matplotlib; install-deps.sh does it)")
    mpl.use("Agg")
    import matplotlib.pyplot as pyplot
    yield pyplot
    pyplot.close("all")


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_trace_renders(fit, plt, tmp_path):
    fig = fit.plot_trace()
    assert len(fig.axes) == 2 * len(fit.column_names)
    assert fig.axes[0].get_ylabel() == "mu"
    path = tmp_path / "trace.png"
    fig.savefig(path, dpi=60)
    assert _is_png(path) and path.stat().st_size > 5000


def test_plot_posterior_renders(fit, plt, tmp_path):
    fig = fit.plot_posterior(var_names=["mu", "theta"], ncols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 9
    assert visible[2].get_title().startswith("theta[2]")
    path = tmp_path / "posterior.png"
    fig.savefig(path, dpi=60)
    assert _is_png(path) and path.stat().st_size > 5000


def test_plot_choices(fit, plt):
    with pytest.warns(UserWarning, match="first 3 of"):
        fig = fit.plot_trace(max_panels=3)
    assert len(fig.axes) == 6
    with pytest.raises(KeyError, match="no variable named 'nope'"):
        fit.plot_posterior(var_names="nope")


def test_plots_without_matplotlib(fit, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        fit.plot_trace()
