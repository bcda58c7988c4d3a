"""Binding a model to data: the rmc_program, and data conversion.

The C library does not copy data arrays, so a :class:`Program` keeps every converted array
referenced for its whole life and frees the C program before the C data set.
"""

import ctypes
import numbers
import os
import sys
import warnings

import numpy as np

from . import _lib
from ._lib import _check, lib
from .builder import Model, ModelBuilder

__all__ = ["Program", "convert_data", "logp_grad"]


def convert_data(name, value):
    """Convert one data value to a C-contiguous numpy array and its rmc dtype code.

    Floats become float64, integers and booleans int64; Python ints and floats become
    0-d arrays. Arrays already in the right dtype and layout are not copied. Strings,
    objects and complex numbers are refused with a ValueError naming the field.
    """
    if isinstance(value, (bool, np.bool_)):
        value = int(value)
    if isinstance(value, numbers.Integral):
        try:
            return np.asarray(value, dtype=np.int64), _lib.RMC_INT64
        except OverflowError:
            raise ValueError("data field '%s': integer %d does not fit in int64"
                             % (name, value)) from None
    if isinstance(value, numbers.Real):
        return np.asarray(value, dtype=np.float64), _lib.RMC_REAL
    try:
        arr = np.asarray(value)
    except ValueError as exc:   # ragged nested lists
        raise ValueError("data field '%s': not a rectangular array of numbers (%s)"
                         % (name, exc)) from None
    kind = arr.dtype.kind
    if kind == "f":
        arr, code = np.ascontiguousarray(arr, dtype=np.float64), _lib.RMC_REAL
    elif kind in "iub":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError("data field '%s': values do not fit in int64" % name)
        arr, code = np.ascontiguousarray(arr, dtype=np.int64), _lib.RMC_INT64
    else:
        raise ValueError("data field '%s': expected numbers, got an array of dtype %s"
                         % (name, arr.dtype))
    if arr.ndim > _lib.RMC_MAX_DIMS:
        raise ValueError("data field '%s': at most %d dimensions, got shape %s"
                         % (name, _lib.RMC_MAX_DIMS, arr.shape))
    return arr, code


def _user_stacklevel():
    """The warnings.warn stacklevel of the first caller outside this package, so that a
    warning points at the user's line whether Program was made directly or by sample()."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1    # the frame that calls warn is level 1
    while frame.f_back and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame, level = frame.f_back, level + 1
    return level


class Program:
    """A model bound to data: evaluates the log density and its gradient, and samples.

    ``model`` is an :class:`rmc.Model` (or a ModelBuilder, which is built), ``data`` a
    dict name -> array, list or number. Only the fields the model reads are converted and
    bound; others are ignored with a warning naming them. Creation validates the data
    (names, shapes, finite observed values, index ranges) and raises :class:`rmc.RmcError`
    naming the culprit.
    """

    def __init__(self, model, data):
        self._handle = None        # set first: __del__ must work after a failure below
        self._data_handle = None
        if isinstance(model, ModelBuilder):
            model = model.build()
        if not isinstance(model, Model):
            raise TypeError("expected an rmc.Model or rmc.ModelBuilder, got %r" % (model,))
        if not isinstance(data, dict):
            raise TypeError("data must be a dict of name -> array, got %s"
                            % type(data).__name__)
        self.model = model

        self._arrays = {}          # name -> numpy array: the C side points into these
        for name in model.data_names:
            if name in data:
                self._arrays[name] = convert_data(name, data[name])
        # A field the model never reads is likely a typo for one it does. Only read fields
        # are bound, so C (which warns through its log callback) never sees these.
        for name in data:
            if name not in self._arrays:
                warnings.warn("data field '%s' is not used by the model (a typo?)" % (name,),
                              UserWarning, stacklevel=_user_stacklevel())

        c_model = model.c_model()
        handle = ctypes.c_void_p()
        _check(lib.rmc_data_create(ctypes.byref(handle)))
        self._data_handle = handle
        for name, (arr, code) in self._arrays.items():
            shape = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
            _check(lib.rmc_data_set(handle, name.encode(), code, arr.ctypes.data_as(
                ctypes.c_void_p), arr.ndim, shape))

        program = ctypes.c_void_p()
        _check(lib.rmc_program_create(c_model._handle, handle, ctypes.byref(program)))
        self._handle = program
        self._read_layout()

    def _read_layout(self):
        h = self._handle
        self.dim = int(lib.rmc_program_dim(h))
        ncol = lib.rmc_program_num_columns(h)
        self.column_names = [lib.rmc_program_column_name(h, c).decode() for c in range(ncol)]
        self.variables = []   # (name, shape, first column), parameters first
        name = ctypes.c_char_p()
        ndim = ctypes.c_int32()
        dims = (ctypes.c_int64 * _lib.RMC_MAX_DIMS)()
        first = ctypes.c_int64()
        for v in range(lib.rmc_program_num_vars(h)):
            _check(lib.rmc_program_var(h, v, ctypes.byref(name), ctypes.byref(ndim), dims,
                                       ctypes.byref(first)))
            shape = tuple(int(dims[d]) for d in range(ndim.value))
            self.variables.append((name.value.decode(), shape, int(first.value)))
        params = set(self.model.param_names)
        self.param_variables = [v for v in self.variables if v[0] in params]
        self.num_param_columns = sum(int(np.prod(s)) for _, s, _ in self.param_variables)

    # ---------------------------------------------------------------- evaluation

    def logp_grad(self, x, grad=True):
        """Log density and gradient on the unconstrained space.

        ``x`` has shape (dim,) or (batch, dim). Returns ``(lp, grad)`` with lp of shape ()
        or (batch,) and grad shaped like x (None when ``grad`` is false). A position
        outside the support gives lp = -inf.
        """
        x = np.ascontiguousarray(x, dtype=np.float64)
        single = x.ndim == 1
        xb = x.reshape(1, -1) if single else x
        if xb.ndim != 2 or xb.shape[1] != self.dim:
            raise ValueError("x must have shape (%d,) or (batch, %d), got %s"
                             % (self.dim, self.dim, x.shape))
        lp = np.empty(xb.shape[0])
        g = np.empty(xb.shape) if grad else None
        _check(lib.rmc_program_logp_grad(self._handle, xb.shape[0], _lib.as_dbl_p(xb),
                                         _lib.as_dbl_p(lp), _lib.as_dbl_p(g)))
        if single:
            return lp[0], (g[0] if grad else None)
        return lp, g

    def constrain(self, x):
        """The output columns (constrained parameters, then deterministics) at ``x``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise ValueError("x must have shape (%d,), got %s" % (self.dim, x.shape))
        out = np.empty(len(self.column_names))
        _check(lib.rmc_program_constrain(self._handle, _lib.as_dbl_p(x), _lib.as_dbl_p(out)))
        return out

    def unconstrain(self, params):
        """The unconstrained position for constrained parameter column values."""
        params = np.ascontiguousarray(params, dtype=np.float64)
        if params.shape != (self.num_param_columns,):
            raise ValueError("expected %d parameter values, got shape %s"
                             % (self.num_param_columns, params.shape))
        x = np.empty(self.dim)
        _check(lib.rmc_program_unconstrain(self._handle, _lib.as_dbl_p(params),
                                           _lib.as_dbl_p(x)))
        return x

    def init_point(self, values, rng, radius):
        """An unconstrained initial point from a dict of constrained parameter values.

        Parameters missing from ``values`` start at a random point drawn uniformly in
        (-radius, radius) on the unconstrained scale, as the sampler would draw them.
        """
        known = {name: (shape, first) for name, shape, first in self.param_variables}
        for name in values:
            if name not in known:
                raise ValueError("init: '%s' is not a parameter of the model (parameters: "
                                 "%s)" % (name, ", ".join(known)))
        columns = self.constrain(rng.uniform(-radius, radius, self.dim))
        params = columns[:self.num_param_columns].copy()
        for name, value in values.items():
            shape, first = known[name]
            try:
                value = np.broadcast_to(np.asarray(value, dtype=np.float64), shape)
            except ValueError:
                raise ValueError("init: '%s' needs shape %s, got %s"
                                 % (name, shape, np.shape(value))) from None
            params[first:first + value.size] = value.ravel()
        try:
            x = self.unconstrain(params)
        except _lib.RmcError as exc:   # the C side names the parameter and its bounds
            raise ValueError("init: %s" % exc.message) from None
        if not np.all(np.isfinite(x)):
            raise ValueError("init: %s outside the support of the parameter(s) given: %s"
                             % (_first_bad(values, self.param_variables, x, self.dim),
                                ", ".join("'%s'" % n for n in values)))
        return x

    def __del__(self):
        if getattr(self, "_handle", None):
            lib.rmc_program_free(self._handle)
            self._handle = None
        if getattr(self, "_data_handle", None):
            lib.rmc_data_free(self._data_handle)
            self._data_handle = None


def _first_bad(values, param_variables, x, dim):
    """Name the first given parameter whose unconstrained values are not finite.

    Elementwise transforms map each parameter column to one coordinate; when the layouts
    differ (dim != number of columns) only "a value" can be blamed.
    """
    columns = sum(int(np.prod(s)) for _, s, _ in param_variables)
    if columns == dim:
        for name, shape, first in param_variables:
            if name in values and not np.all(np.isfinite(x[first:first + int(np.prod(shape))])):
                return "the value of '%s' lies" % name
    return "a value lies"


def logp_grad(model, data, x):
    """Log density and gradient of ``model`` bound to ``data`` at unconstrained ``x``.

    ``x`` has shape (dim,) or (batch, dim); returns ``(lp, grad)``. Builds a throwaway
    :class:`Program`; keep a Program to evaluate many times.
    """
    return Program(model, data).logp_grad(x)
