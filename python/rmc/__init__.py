"""rmc: many-chain Bayesian sampling in C, driven from Python.

Build a model with :class:`ModelBuilder`, sample it with :func:`sample`, read the
:class:`FitResult`::

    import rmc
    b = rmc.ModelBuilder()
    beta = b.normal_prior("beta", mu=0.0, sigma=1.0)
    b.normal_likelihood("obs", mu_expr=beta * "x", sigma=1.0, observed_key="y")
    fit = rmc.sample(b.build(), {"x": x, "y": y}, chains=8)
    print(fit)

The package calls librmc through ctypes; see ``_lib.py`` for how the library is found.
"""

from ._lib import RmcError, lib as _clib
from .builder import Model, ModelBuilder
from .dist import (Bernoulli, BernoulliLogit, Cauchy, Distribution, Exponential, HalfCauchy,
                   HalfNormal, Normal, StudentT, Uniform)
from .expr import Expr, dot, exp, gather, log, log1p, logistic, matvec, sqrt, square
from .expr import pow, sum_ as sum  # noqa: F401 (public, but kept out of __all__)
from .fit import FitResult
from .program import Program, logp_grad
from .sampling import sample


def version():
    """The C library's version, "MAJOR.MINOR.PATCH"."""
    return _clib.rmc_version().decode()


__version__ = version()

__all__ = [
    "RmcError", "Model", "ModelBuilder", "Program", "FitResult", "Expr", "Distribution",
    "Normal", "HalfNormal", "Cauchy", "HalfCauchy", "StudentT", "Uniform", "Exponential",
    "Bernoulli", "BernoulliLogit", "exp", "log", "log1p", "sqrt", "square", "logistic",
    "dot", "matvec", "gather", "sample", "logp_grad", "version", "__version__",
]
# rmc.sum and rmc.pow stay out of __all__: "from rmc import *" must not shadow the builtins.
