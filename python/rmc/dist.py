"""Distributions for ``value ~ dist(args)`` statements.

Arguments may be numbers, numeric arrays (constant vectors), strings (data fields) or
expressions. Every argument broadcasts: a scalar against a vector value, or a vector of
the value's length. Numeric arguments are checked at once (a scale must be positive);
data and expression arguments are checked by the C library when data are bound or while
sampling.
"""

import numbers

import numpy as np

__all__ = ["Distribution", "Normal", "HalfNormal", "Cauchy", "HalfCauchy", "StudentT",
           "Uniform", "Exponential", "Bernoulli", "BernoulliLogit"]


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
    must be > 0) and ``support`` (default bounds of a parameter with this prior).
    """

    kind = None
    arg_names = ()
    positive = ()
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
