"""The project's quick start, as a test and as a script."""

import os
import subprocess
import sys

import numpy as np

import rmc

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def quickstart_data():
    """The quick start's data: y = 2.5 x + noise, N = 1000."""
    rng = np.random.RandomState(42)
    x = rng.randn(1000)
    y = 2.5 * x + rng.randn(1000)
    return x, y


def test_quickstart_posterior_matches_least_squares():
    x, y = quickstart_data()
    builder = rmc.ModelBuilder()
    beta = builder.normal_prior("beta", mu=0.0, sigma=1.0)
    builder.normal_likelihood("obs", mu_expr=beta * "x", sigma=1.0, observed_key="y")
    model = builder.build()
    fit = rmc.sample(model_spec=model, data={"x": x, "y": y}, chains=8, draws=1000,
                     warmup=500, seed=42)

    least_squares = x @ y / (x @ x)
    # Conjugate posterior: precision x'x + 1 (prior sd 1), mean x'y / precision.
    precision = x @ x + 1.0
    exact_mean, exact_sd = x @ y / precision, precision ** -0.5

    mean = fit.mean()["beta"]
    assert isinstance(mean, float)
    assert abs(mean - least_squares) < 0.01, (mean, least_squares)
    assert abs(mean - exact_mean) < 4 * exact_sd / np.sqrt(1000), (mean, exact_mean)
    sd = fit["beta"].std(ddof=1)
    assert abs(sd / exact_sd - 1) < 0.1, (sd, exact_sd)
    assert fit["beta"].shape == (8, 1000)
    assert fit.num_divergent == 0
    assert fit.summary()["rhat"][0] < 1.01


def test_quickstart_scripts_run():
    for script in ("quickstart.py", os.path.join("examples", "quickstart.py")):
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)   # the scripts must find the in-tree package alone
        out = subprocess.run([sys.executable, script], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        assert "Posterior mean: {'beta': 2." in out.stdout, out.stdout
        assert "r_hat" in out.stdout and "8 chains x 1000 draws" in out.stdout
