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
from .dist import (Bernoulli, BernoulliLogit, Beta, Binomial, BinomialLogit, CategoricalLogit,
                   Cauchy, Dirichlet, Distribution, Exponential, Gamma, HalfCauchy, HalfNormal,
                   HalfStudentT, InverseGamma, LKJCholesky, Laplace, Logistic, LogNormal,
                   MultiNormalCholesky, NegBinomial2, NegBinomial2Log, Normal, Poisson,
                   PoissonLog, StudentT, Uniform, Weibull)
from .expr import Expr, dot, exp, gather, log, log1p, logistic, matvec, sqrt, square
from .expr import (cholesky, col, concat, cov_exp_quad, diag_pre_multiply, drop, lag, matmul,
                   row, transpose, tri_solve, vecmat)
from .expr import (expm1, lgamma, log1p_exp, log_mix, log_sum_exp, lpdf, maximum, minimum,
                   tanh)
from .expr import abs_ as abs, pow, sum_ as sum  # noqa: F401 (public, kept out of __all__)
from .fit import FitResult
from .outputs import load, read_csv
from .modelfile import ModelFileError, load_model, save_model
from .progress import logger  # noqa: F401 (routes librmc's messages to logging)
from .program import Program, logp_grad
from .sampling import Evaluator, devices, sample, vulkan_status


def version():
    """The C library's version, "MAJOR.MINOR.PATCH"."""
    return _clib.rmc_version().decode()


__version__ = version()

__all__ = [
    "RmcError", "Model", "ModelBuilder", "Program", "FitResult", "Expr", "Distribution",
    "Normal", "HalfNormal", "Cauchy", "HalfCauchy", "StudentT", "Uniform", "Exponential",
    "Bernoulli", "BernoulliLogit", "Gamma", "InverseGamma", "LogNormal", "Beta", "Laplace",
    "Logistic", "Weibull", "HalfStudentT", "Binomial", "BinomialLogit", "Poisson",
    "PoissonLog", "NegBinomial2", "NegBinomial2Log", "CategoricalLogit",
    "MultiNormalCholesky", "Dirichlet", "LKJCholesky", "exp", "log", "log1p", "sqrt",
    "square", "logistic", "dot", "matvec", "gather", "sample", "logp_grad", "version",
    "__version__", "vecmat", "matmul", "transpose", "row", "col", "drop", "lag", "concat",
    "diag_pre_multiply", "cholesky", "tri_solve", "cov_exp_quad",
    "minimum", "maximum", "lgamma", "expm1", "log1p_exp", "tanh", "log_sum_exp", "log_mix",
    "lpdf",
    "devices", "vulkan_status", "Evaluator", "read_csv", "load",
    "save_model", "load_model", "ModelFileError",
]
# rmc.sum, rmc.pow and rmc.abs stay out of __all__: "from rmc import *" must not shadow the
# builtins.
