"""Distributions for ``value ~ dist(args)`` statements.

Arguments may be numbers, numeric arrays (constant vectors), strings (data fields) or
expressions. Every argument broadcasts: a scalar against a vector value, or a vector of
the value's length. Numeric arguments are checked at once (a scale must be positive);
data and expression arguments are checked by the C library when data are bound or while
sampling.
"""

import numbers

import numpy as np

from . import _lib

__all__ = ["Distribution", "Normal", "HalfNormal", "Cauchy", "HalfCauchy", "StudentT",
           "Uniform", "Exponential", "Bernoulli", "BernoulliLogit", "Gamma", "InverseGamma",
           "LogNormal", "Beta", "Laplace", "Logistic", "Weibull", "HalfStudentT", "Binomial",
           "BinomialLogit", "Poisson", "PoissonLog", "NegBinomial2", "NegBinomial2Log",
           "CategoricalLogit", "MultiNormalCholesky", "Dirichlet", "LKJCholesky"]

# rmc_dist values (include/rmc.h) of the distributions defined after the first nine, so
# that a model replays them; an entry _lib already has is left as it is.
for _kind, _code in (("gamma", 9), ("inv_gamma", 10), ("lognormal", 11), ("beta", 12),
                     ("laplace", 13), ("logistic", 14), ("weibull", 15),
                     ("half_student_t", 16), ("binomial", 17), ("binomial_logit", 18),
                     ("poisson", 19), ("poisson_log", 20), ("neg_binomial_2", 21),
                     ("neg_binomial_2_log", 22), ("categorical_logit", 23),
                     ("multi_normal_cholesky", 24), ("dirichlet", 25),
                     ("lkj_corr_cholesky", 26)):
    _lib.DISTS.setdefault(_kind, _code)


def _numeric(value):
    """``value`` as a float64 array if it is a plain number or numeric array, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return np.asarray(float(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "iuf":
            return arr.astype(np.float64)
    return None


class Distribution:
    """Base class: a distribution family and its arguments.

    Subclasses set ``kind`` (the C enum name), ``arg_names``, ``positive`` (arguments that
    must be > 0), ``unit`` (arguments in [0, 1]), ``counts`` (arguments that are
    non-negative integers) and ``support`` (default bounds of a parameter with this prior).
    """

    kind = None
    arg_names = ()
    positive = ()
    unit = ()
    counts = ()
    support = (None, None)

    def __init__(self, *args):
        if len(args) != len(self.arg_names):
            raise TypeError("%s takes %d arguments (%s), got %d"
                            % (type(self).__name__, len(self.arg_names),
                               ", ".join(self.arg_names), len(args)))
        self.args = args
        for name, value in zip(self.arg_names, args):
            arr = _numeric(value)
            if arr is None:
                continue
            if not np.all(np.isfinite(arr)):
                raise ValueError("%s: %s must be finite, got %r"
                                 % (type(self).__name__, name, value))
            if name in self.positive and not np.all(arr > 0):
                raise ValueError("%s: %s must be positive, got %r"
                                 % (type(self).__name__, name, value))
            if name in self.unit and not np.all((arr >= 0) & (arr <= 1)):
                raise ValueError("%s: %s must lie in [0, 1], got %r"
                                 % (type(self).__name__, name, value))
            if name in self.counts and not np.all((arr >= 0) & (arr == np.floor(arr))):
                raise ValueError("%s: %s must be a non-negative integer, got %r"
                                 % (type(self).__name__, name, value))

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(repr(a) for a in self.args))


class Normal(Distribution):
    """Normal(mu, sigma), sigma the standard deviation."""

    kind = "normal"
    arg_names = ("mu", "sigma")
    positive = ("sigma",)

    def __init__(self, mu, sigma):
        super().__init__(mu, sigma)


class HalfNormal(Distribution):
    """Half-normal(sigma) on [0, inf): a parameter with this prior gets lower=0."""

    kind = "half_normal"
    arg_names = ("sigma",)
    positive = ("sigma",)
    support = (0.0, None)

    def __init__(self, sigma):
        super().__init__(sigma)


class Cauchy(Distribution):
    """Cauchy(loc, scale)."""

    kind = "cauchy"
    arg_names = ("loc", "scale")
    positive = ("scale",)

    def __init__(self, loc, scale):
        super().__init__(loc, scale)


class HalfCauchy(Distribution):
    """Half-Cauchy(scale) on [0, inf): a parameter with this prior gets lower=0."""

    kind = "half_cauchy"
    arg_names = ("scale",)
    positive = ("scale",)
    support = (0.0, None)

    def __init__(self, scale):
        super().__init__(scale)


class StudentT(Distribution):
    """Student's t(nu, mu, sigma): degrees of freedom, location, scale."""

    kind = "student_t"
    arg_names = ("nu", "mu", "sigma")
    positive = ("nu", "sigma")

    def __init__(self, nu, mu, sigma):
        super().__init__(nu, mu, sigma)


class Uniform(Distribution):
    """Uniform(lower, upper). With numeric bounds a parameter with this prior gets them."""

    kind = "uniform"
    arg_names = ("lower", "upper")

    def __init__(self, lower, upper):
        super().__init__(lower, upper)
        lo, hi = _numeric(lower), _numeric(upper)
        if lo is not None and hi is not None and not np.all(lo < hi):
            raise ValueError("Uniform: lower must be below upper, got %r and %r"
                             % (lower, upper))
        if lo is not None and hi is not None and lo.ndim == 0 and hi.ndim == 0:
            self.support = (float(lo), float(hi))


class Exponential(Distribution):
    """Exponential(rate) on [0, inf): a parameter with this prior gets lower=0."""

    kind = "exponential"
    arg_names = ("rate",)
    positive = ("rate",)
    support = (0.0, None)

    def __init__(self, rate):
        super().__init__(rate)


class Bernoulli(Distribution):
    """Bernoulli(p) over {0, 1}."""

    kind = "bernoulli"
    arg_names = ("p",)

    def __init__(self, p):
        super().__init__(p)
        arr = _numeric(p)
        if arr is not None and not np.all((arr >= 0) & (arr <= 1)):
            raise ValueError("Bernoulli: p must lie in [0, 1], got %r" % (p,))


class BernoulliLogit(Distribution):
    """Bernoulli over {0, 1} with probability logistic(logit_p)."""

    kind = "bernoulli_logit"
    arg_names = ("logit_p",)

    def __init__(self, logit_p):
        super().__init__(logit_p)


# ------------------------------------------------------------------ positive values


class Gamma(Distribution):
    """Gamma(alpha, beta) on (0, inf): shape alpha, *rate* beta (mean alpha / beta).

    A parameter with this prior gets lower=0. In scipy terms, ``gamma(alpha, scale=1/beta)``.
    """

    kind = "gamma"
    arg_names = ("alpha", "beta")
    positive = ("alpha", "beta")
    support = (0.0, None)

    def __init__(self, alpha, beta):
        super().__init__(alpha, beta)


class InverseGamma(Distribution):
    """Inverse-gamma(alpha, beta) on (0, inf): shape alpha, scale beta.

    The density is beta^alpha / Gamma(alpha) y^(-alpha - 1) exp(-beta / y); 1 / y is
    Gamma(alpha, beta). A parameter with this prior gets lower=0. scipy:
    ``invgamma(alpha, scale=beta)``.
    """

    kind = "inv_gamma"
    arg_names = ("alpha", "beta")
    positive = ("alpha", "beta")
    support = (0.0, None)

    def __init__(self, alpha, beta):
        super().__init__(alpha, beta)


class LogNormal(Distribution):
    """Log-normal(mu, sigma) on (0, inf): log(value) is Normal(mu, sigma).

    A parameter with this prior gets lower=0. scipy: ``lognorm(s=sigma, scale=exp(mu))``.
    """

    kind = "lognormal"
    arg_names = ("mu", "sigma")
    positive = ("sigma",)
    support = (0.0, None)

    def __init__(self, mu, sigma):
        super().__init__(mu, sigma)


class Beta(Distribution):
    """Beta(a, b) on (0, 1), mean a / (a + b).

    A parameter with this prior gets lower=0, upper=1. Observed values must lie strictly
    inside (0, 1).
    """

    kind = "beta"
    arg_names = ("a", "b")
    positive = ("a", "b")
    support = (0.0, 1.0)

    def __init__(self, a, b):
        super().__init__(a, b)


class Weibull(Distribution):
    """Weibull(alpha, sigma) on (0, inf): shape alpha, scale sigma.

    The density is alpha / sigma (y / sigma)^(alpha - 1) exp(-(y / sigma)^alpha). A
    parameter with this prior gets lower=0. scipy: ``weibull_min(alpha, scale=sigma)``.
    """

    kind = "weibull"
    arg_names = ("alpha", "sigma")
    positive = ("alpha", "sigma")
    support = (0.0, None)

    def __init__(self, alpha, sigma):
        super().__init__(alpha, sigma)


class HalfStudentT(Distribution):
    """Half-Student-t(nu, sigma) on [0, inf): twice the Student-t(nu, 0, sigma) density.

    A parameter with this prior gets lower=0; a common weakly informative scale prior.
    """

    kind = "half_student_t"
    arg_names = ("nu", "sigma")
    positive = ("nu", "sigma")
    support = (0.0, None)

    def __init__(self, nu, sigma):
        super().__init__(nu, sigma)


# ------------------------------------------------------------------ real values


class Laplace(Distribution):
    """Laplace (double exponential)(mu, scale): density exp(-|y - mu| / scale) / (2 scale)."""

    kind = "laplace"
    arg_names = ("mu", "scale")
    positive = ("scale",)

    def __init__(self, mu, scale):
        super().__init__(mu, scale)


class Logistic(Distribution):
    """Logistic(mu, scale): the density of mu + scale * logit(U) for a uniform U."""

    kind = "logistic"
    arg_names = ("mu", "scale")
    positive = ("scale",)

    def __init__(self, mu, scale):
        super().__init__(mu, scale)


# ------------------------------------------------------------------ counts


class Binomial(Distribution):
    """Binomial(N, p): successes in N trials of probability p.

    The value is integer data in 0..N, checked when data are bound (as is N, which must be
    integer data or a number, and p, given as data or numbers, in [0, 1]).
    """

    kind = "binomial"
    arg_names = ("N", "p")
    unit = ("p",)
    counts = ("N",)

    def __init__(self, N, p):  # noqa: N803 - the usual name of the trial count
        super().__init__(N, p)


class BinomialLogit(Distribution):
    """Binomial(N, logistic(alpha)): successes in N trials, probability on the logit scale."""

    kind = "binomial_logit"
    arg_names = ("N", "alpha")
    counts = ("N",)

    def __init__(self, N, alpha):  # noqa: N803
        super().__init__(N, alpha)


class Poisson(Distribution):
    """Poisson(lambda): counts of mean ``lam`` (Python reserves the name lambda).

    The value is integer data >= 0, checked when data are bound.
    """

    kind = "poisson"
    arg_names = ("lambda",)
    positive = ("lambda",)

    def __init__(self, lam):
        super().__init__(lam)


class PoissonLog(Distribution):
    """Poisson(exp(alpha)): counts with the log of the mean given, as in a log-linear model."""

    kind = "poisson_log"
    arg_names = ("alpha",)

    def __init__(self, alpha):
        super().__init__(alpha)


class NegBinomial2(Distribution):
    """Negative binomial(mu, phi) in Stan's mean form: mean mu, variance mu + mu^2 / phi.

    phi is the dispersion: a large phi approaches Poisson(mu). The value is integer data
    >= 0. scipy: ``nbinom(n=phi, p=phi / (mu + phi))``.
    """

    kind = "neg_binomial_2"
    arg_names = ("mu", "phi")
    positive = ("mu", "phi")

    def __init__(self, mu, phi):
        super().__init__(mu, phi)


class NegBinomial2Log(Distribution):
    """Negative binomial with log mean eta: NegBinomial2(exp(eta), phi)."""

    kind = "neg_binomial_2_log"
    arg_names = ("eta", "phi")
    positive = ("phi",)

    def __init__(self, eta, phi):
        super().__init__(eta, phi)


class CategoricalLogit(Distribution):
    """Categorical over 1..K with probabilities softmax(logits).

    ``logits`` is a vector of K shared by every observation, or an N x K matrix with one
    row per observation (data or an expression). The value is integer data, a scalar or a
    vector of N, one-based as in Stan, checked to lie in 1..K when data are bound.
    """

    kind = "categorical_logit"
    arg_names = ("logits",)

    def __init__(self, logits):
        super().__init__(logits)


# ------------------------------------------------------------------ multivariate


class MultiNormalCholesky(Distribution):
    """Multivariate normal(mu, L L^T), with L the lower Cholesky factor of the covariance.

    The value is a vector of K, or an N x K matrix of N independent rows. ``mu`` is a
    scalar, a vector of K, or a matrix shaped like the value (one mean per row). ``L`` is
    a K x K matrix, the name of a data field or an expression (numeric matrices cannot be
    written inline: bind them as data); only its lower triangle is read, and a data L must
    be lower triangular with a positive diagonal. A statement only: there is no
    elementwise log density of it.
    """

    kind = "multi_normal_cholesky"
    arg_names = ("mu", "L")

    def __init__(self, mu, L):  # noqa: N803 - the usual name of the factor
        super().__init__(mu, L)


class Dirichlet(Distribution):
    """Dirichlet(alpha) over the simplex: a vector of K positive values summing to 1.

    The value is a vector of K, or an N x K matrix of N rows each on the simplex; ``alpha``
    is a scalar, a vector of K, or a matrix shaped like the value. A value off the simplex
    (by more than 1e-8) has log density -inf, and data off it are refused when bound.
    """

    kind = "dirichlet"
    arg_names = ("alpha",)
    positive = ("alpha",)

    def __init__(self, alpha):
        super().__init__(alpha)


class LKJCholesky(Distribution):
    """LKJ(eta) on correlation matrices, as the density of their Cholesky factor L.

    The value is a K x K lower-triangular matrix with a positive diagonal and rows of unit
    length; the density is Stan's lkj_corr_cholesky, with its normalising constant. eta = 1
    is uniform over correlation matrices; a larger eta favours the identity.
    """

    kind = "lkj_corr_cholesky"
    arg_names = ("eta",)
    positive = ("eta",)

    def __init__(self, eta):
        super().__init__(eta)
