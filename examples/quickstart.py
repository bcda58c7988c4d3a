"""rmc quick start: a one-parameter regression, y = beta * x + noise.

Run from the repository root after building librmc (cmake -S . -B build &&
cmake --build build -j2):  PYTHONPATH=python python3 examples/quickstart.py
"""
import os
import sys

# Find the in-tree package when rmc is not installed.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import numpy as np  # noqa: E402
import rmc  # noqa: E402

np.random.seed(42); N = 1000
x = np.random.randn(N); y = 2.5 * x + np.random.randn(N)
builder = rmc.ModelBuilder()
beta = builder.normal_prior("beta", mu=0.0, sigma=1.0)
mu_expr = beta * "x"
builder.normal_likelihood("obs", mu_expr=mu_expr, sigma=1.0, observed_key="y")
model = builder.build()
fit = rmc.sample(model_spec=model, data={"x": x, "y": y}, chains=8, draws=1000, warmup=500)
print(fit)
print("Posterior mean:", fit.mean())
