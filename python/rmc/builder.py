"""ModelBuilder records a model as plain node records; Model replays them into C.

A record is a JSON-able dict: ``{"op": kind, "inputs": [record indexes], ...attributes}``.
The kinds are ``param``, ``data``, ``const``, ``const_vector``, ``op1``, ``op2``,
``gather``, ``slice`` (``begin``, ``end``), ``index`` (``i``, a scalar element),
``matvec``, ``tilde`` and ``deterministic``. A :class:`Model` holds a frozen copy of the
records and the C model made from them, so a model can be saved (:meth:`Model.to_json`)
and rebuilt.
"""

import copy
import ctypes
import json
import numbers

import numpy as np

from . import _lib
from ._lib import RMC_NONE, _check, lib
from .dist import Distribution, Normal, HalfNormal, HalfCauchy, Exponential
from .expr import Expr, as_expr, data_ref, infer_shape

__all__ = ["ModelBuilder", "Model"]

FORMAT_VERSION = 2   # of Model.to_json files; version 1 files without index vectors load
_BAD_NAME_CHARS = set('[],"')
_SHARED_KINDS = {"data", "const", "const_vector", "op1", "op2", "gather", "slice", "index",
                 "matvec"}


def _check_name(name, what):
    if not isinstance(name, str) or not name or len(name) > 200:
        raise ValueError("%s name must be a non-empty string of at most 200 characters, "
                         "got %r" % (what, name))
    if _BAD_NAME_CHARS & set(name) or any(ord(c) < 32 for c in name):
        raise ValueError("%s name %r must not contain brackets, commas or quotes"
                         % (what, name))


def _normalize_shape(shape, what, allow_any=False):
    """A shape as a list of sizes: ints, names of integer data scalars, or -1 (any)."""
    if isinstance(shape, (numbers.Integral, str)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = list(shape)
    except TypeError:
        raise TypeError("%s: shape must be an int, a data name or a tuple of those, got %r"
                        % (what, shape)) from None
    if len(shape) > _lib.RMC_MAX_DIMS:
        raise ValueError("%s: at most %d dimensions, got shape %r"
                         % (what, _lib.RMC_MAX_DIMS, tuple(shape)))
    out = []
    for size in shape:
        if isinstance(size, str) and size:
            out.append(size)
        elif isinstance(size, numbers.Integral) and not isinstance(size, bool) and (
                size >= 1 or (allow_any and size == -1)):
            out.append(int(size))
        else:
            raise ValueError("%s: size %r must be a positive int or the name of an integer "
                             "data scalar" % (what, size))
    return out


def _dtype_name(dtype):
    """'real' or 'int' for the dtype spellings users write."""
    if dtype in (float, "float", "real", "float64") or dtype is np.float64:
        return "real"
    if dtype in (int, "int", "integer", "int64", "int32") or dtype in (np.int64, np.int32):
        return "int"
    raise ValueError("data dtype must be float or int, got %r" % (dtype,))


def _bound_value(value, what):
    """A parameter bound: None or a finite number (expression bounds come later)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number or None, got %r" % (what, value))
    value = float(value)
    if value != value:
        raise ValueError("%s is NaN" % what)
    return value


class ModelBuilder:
    """Builds a model step by step; :meth:`build` freezes it into a :class:`Model`.

    Example::

        b = rmc.ModelBuilder()
        beta = b.normal_prior("beta", mu=0.0, sigma=1.0)
        b.normal_likelihood("obs", mu_expr=beta * "x", sigma=1.0, observed_key="y")
        model = b.build()
    """

    def __init__(self):
        self._records = []
        self._keys = {}      # record key -> index, so equal leaves and ops are shared
        self._memo = {}      # id(free Expr) -> (Expr, index)
        self._names = set()  # parameter and deterministic names (one namespace, as in C)
        self._shapes = []    # static shapes of the first records (see expr.infer_shape)

    # ---------------------------------------------------------------- internals

    def _add(self, kind, inputs, attrs):
        """Append a record (or reuse an identical shared one) and return its index."""
        rec = {"op": kind}
        rec.update(attrs)
        if inputs:
            rec["inputs"] = [int(i) for i in inputs]
        key = None
        if kind in _SHARED_KINDS:
            key = json.dumps(rec, sort_keys=True)
            if key in self._keys:
                return self._keys[key]
        self._records.append(rec)
        if key is not None:
            self._keys[key] = len(self._records) - 1
        return len(self._records) - 1

    def _node_of(self, expr):
        """The record index of an expression, recording a free expression on first use."""
        expr = as_expr(expr)
        if expr._builder is self:
            return expr._node
        if expr._builder is not None:
            raise ValueError("this expression belongs to another ModelBuilder")
        hit = self._memo.get(id(expr))
        if hit is not None:
            return hit[1]
        inputs = [self._node_of(e) for e in expr._inputs]
        node = self._add(expr._kind, inputs, expr._attrs)
        self._memo[id(expr)] = (expr, node)   # keeps expr alive so its id stays unique
        return node

    def _shape(self, node):
        """The static shape of record ``node`` (inputs precede it, so no recursion)."""
        while len(self._shapes) <= node:
            rec = self._records[len(self._shapes)]
            inputs = [self._shapes[i] for i in rec.get("inputs", ())]
            self._shapes.append(infer_shape(rec["op"], rec, inputs))
        return self._shapes[node]

    def _expr(self, value):
        return Expr(self, self._node_of(value))

    def _claim(self, name, what):
        _check_name(name, what)
        if name in self._names:
            raise ValueError("duplicate parameter name '%s'" % name)
        self._names.add(name)

    # ---------------------------------------------------------------- declarations

    def param(self, name, shape=(), lower=None, upper=None, prior=None):
        """Declare a parameter and return it as an expression.

        ``shape`` is an int, the name of an integer data scalar (``"J"``), or a tuple of
        those; ``()`` is a scalar. ``lower``/``upper`` are numbers or None. With a prior
        whose support is bounded (HalfNormal, HalfCauchy, Exponential: lower 0; Uniform
        with numeric bounds) a missing bound is taken from it. Without a prior the
        parameter has a flat prior over its range.
        """
        shape = _normalize_shape(shape, "parameter '%s'" % name)
        if prior is not None and not isinstance(prior, Distribution):
            raise TypeError("param '%s': prior must be a Distribution, got %r" % (name, prior))
        if prior is not None:
            lower = prior.support[0] if lower is None else lower
            upper = prior.support[1] if upper is None else upper
        lower = _bound_value(lower, "parameter '%s' lower bound" % name)
        upper = _bound_value(upper, "parameter '%s' upper bound" % name)
        if lower is not None and upper is not None and not lower < upper:
            raise ValueError("parameter '%s': lower bound %g must be below upper bound %g"
                             % (name, lower, upper))
        self._claim(name, "parameter")

        lo = None if lower is None else self._add("const", (), {"value": lower})
        hi = None if upper is None else self._add("const", (), {"value": upper})
        node = self._add("param", (), {"name": name, "shape": shape, "lower": lo, "upper": hi})
        value = Expr(self, node)
        if prior is not None:
            self.tilde(value, prior)
        return value

    def data(self, name, shape=None, dtype=float):
        """Declare a data field and return it as an expression.

        ``shape`` None takes the rank and sizes from the bound array, so one model serves
        a scalar in one data set and a vector in another; otherwise a tuple of sizes
        (ints, -1 for "any", or names of integer data scalars). ``dtype`` is float (real
        data; integer arrays are accepted too) or int (integer data, e.g. indexes).
        """
        _check_name(name, "data field")
        if shape is not None:
            shape = _normalize_shape(shape, "data '%s'" % name, allow_any=True)
        return self._expr(data_ref(name, _dtype_name(dtype), shape))

    def tilde(self, value, dist, label=None):
        """Add ``value ~ dist`` to the log density.

        ``value`` is an expression (a parameter, a function of parameters, or data) or a
        string naming an observed data field.
        """
        if not isinstance(dist, Distribution):
            raise TypeError("tilde: dist must be a Distribution (rmc.Normal(...)), got %r"
                            % (dist,))
        nodes = [self._node_of(value)] + [self._node_of(a) for a in dist.args]
        attrs = {"dist": dist.kind}
        if label is not None:
            attrs["label"] = str(label)
        self._add("tilde", nodes, attrs)

    def observe(self, name_or_expr, dist, label=None):
        """Observed data ``name_or_expr`` ~ ``dist`` (a likelihood term); see :meth:`tilde`."""
        self.tilde(name_or_expr, dist, label)

    def deterministic(self, name, expr):
        """Record ``expr`` in the draws under ``name`` (Stan's transformed parameters).

        Returns the expression, so it can be used further in the model.
        """
        self._claim(name, "deterministic")
        node = self._node_of(expr)
        self._add("deterministic", (node,), {"name": name})
        return Expr(self, node)

    # ---------------------------------------------------------------- conveniences

    def normal_prior(self, name, mu, sigma, shape=()):
        """A parameter ``name`` ~ Normal(mu, sigma)."""
        return self.param(name, shape, prior=Normal(mu, sigma))

    def half_normal_prior(self, name, sigma, shape=()):
        """A positive parameter ``name`` ~ HalfNormal(sigma)."""
        return self.param(name, shape, prior=HalfNormal(sigma))

    def half_cauchy_prior(self, name, scale, shape=()):
        """A positive parameter ``name`` ~ HalfCauchy(scale)."""
        return self.param(name, shape, prior=HalfCauchy(scale))

    def exponential_prior(self, name, rate, shape=()):
        """A positive parameter ``name`` ~ Exponential(rate)."""
        return self.param(name, shape, prior=Exponential(rate))

    def normal_likelihood(self, name, mu_expr, sigma, observed_key):
        """Observed data ``observed_key`` ~ Normal(mu_expr, sigma); ``name`` labels it."""
        self.observe(observed_key, Normal(mu_expr, sigma), label=name)

    def build(self):
        """Freeze the model: returns an immutable :class:`Model` (the builder stays usable)."""
        return Model(self._records)


# -------------------------------------------------------------------- the C model


def _shape_args(shape):
    """(ndim, int64_t *dims, const char **dim_names) arguments for a list of sizes.

    None (a data field declared without a shape) is ndim -1: rank and sizes from the data.
    """
    if shape is None:
        return -1, None, None
    ndim = len(shape)
    dims = (ctypes.c_int64 * max(ndim, 1))(*[s if isinstance(s, int) else 0 for s in shape])
    if not any(isinstance(s, str) for s in shape):
        return ndim, dims, None
    names = (ctypes.c_char_p * ndim)(*[s.encode() if isinstance(s, str) else None
                                       for s in shape])
    return ndim, dims, names


class _CModel:
    """One rmc_model made by replaying records; freed when collected."""

    def __init__(self, records):
        self._handle = None   # set first: __del__ must work if anything below fails
        handle = ctypes.c_void_p()
        _check(lib.rmc_model_create(ctypes.byref(handle)))
        self._handle = handle
        self._replay(records)

    def _replay(self, records):
        h = self._handle
        nodes = []
        for i, rec in enumerate(records):
            op = rec["op"]
            out = ctypes.c_int32(RMC_NONE)
            ins = [nodes[j] for j in rec.get("inputs", ())]
            if op == "param":
                lo = RMC_NONE if rec["lower"] is None else nodes[rec["lower"]]
                hi = RMC_NONE if rec["upper"] is None else nodes[rec["upper"]]
                ndim, dims, names = _shape_args(rec["shape"])
                st = lib.rmc_param(h, rec["name"].encode(), ndim, dims, names, lo, hi,
                                   ctypes.byref(out))
            elif op == "data":
                ndim, dims, names = _shape_args(rec["shape"])
                code = _lib.RMC_REAL if rec["dtype"] == "real" else _lib.RMC_INT64
                st = lib.rmc_data_field(h, rec["name"].encode(), code, ndim, dims, names,
                                        ctypes.byref(out))
            elif op == "const":
                st = lib.rmc_const(h, rec["value"], ctypes.byref(out))
            elif op == "const_vector":
                vals = np.ascontiguousarray(rec["values"], dtype=np.float64)
                st = lib.rmc_const_vector(h, _lib.as_dbl_p(vals), vals.size,
                                          ctypes.byref(out))
            elif op == "op1":
                st = lib.rmc_op1(h, _lib.OPS[rec["fn"]], ins[0], ctypes.byref(out))
            elif op == "op2":
                st = lib.rmc_op2(h, _lib.OPS[rec["fn"]], ins[0], ins[1], ctypes.byref(out))
            elif op == "gather":
                st = lib.rmc_gather(h, ins[0], ins[1], rec["base"], ctypes.byref(out))
            elif op == "slice":
                st = lib.rmc_slice(h, ins[0], rec["begin"], rec["end"], ctypes.byref(out))
            elif op == "index":
                st = lib.rmc_index(h, ins[0], rec["i"], ctypes.byref(out))
            elif op == "matvec":
                st = lib.rmc_matvec(h, ins[0], ins[1], ctypes.byref(out))
            elif op == "tilde":
                args = (ctypes.c_int32 * max(len(ins) - 1, 1))(*ins[1:])
                st = lib.rmc_tilde(h, _lib.DISTS[rec["dist"]], ins[0], len(ins) - 1, args)
            elif op == "deterministic":
                st = lib.rmc_deterministic(h, rec["name"].encode(), ins[0])
            else:
                raise ValueError("unknown model record kind %r (record %d)" % (op, i))
            _check(st)
            nodes.append(out.value)

    def __del__(self):
        if getattr(self, "_handle", None):
            lib.rmc_model_free(self._handle)
            self._handle = None


class Model:
    """An immutable model: its node records and the C model made from them.

    Make one with :meth:`ModelBuilder.build` or :meth:`Model.from_json`. The C model is
    made once, here: data fields declared without a shape take their rank and sizes from
    whatever data each :class:`rmc.Program` binds.
    """

    def __init__(self, records):
        self._records = tuple(copy.deepcopy(list(records)))
        self._c_model = _CModel(self._records)   # builder errors show at build time

    # ---------------------------------------------------------------- introspection

    @property
    def records(self):
        """The node records (a deep copy: the model itself never changes)."""
        return copy.deepcopy(list(self._records))

    @property
    def param_names(self):
        """Parameter names, in declaration order."""
        return [r["name"] for r in self._records if r["op"] == "param"]

    @property
    def deterministic_names(self):
        """Deterministic names, in declaration order."""
        return [r["name"] for r in self._records if r["op"] == "deterministic"]

    @property
    def data_names(self):
        """Every data name the model reads: fields and sizes such as ``"J"``."""
        names = []
        for r in self._records:
            if r["op"] == "data":
                names.append(r["name"])
            if r["op"] in ("param", "data"):
                names.extend(s for s in (r["shape"] or ()) if isinstance(s, str))
        return list(dict.fromkeys(names))

    # ---------------------------------------------------------------- C side

    def c_model(self):
        """The C model (a ``_CModel``), shared by every program made from this model."""
        return self._c_model

    # ---------------------------------------------------------------- files

    def to_json(self):
        """The model as JSON text (``Model.from_json`` reads it back)."""
        return json.dumps({"format": "rmc-model", "version": FORMAT_VERSION,
                           "records": list(self._records)}, indent=1)

    @classmethod
    def from_json(cls, text):
        """A model from the text :meth:`to_json` wrote."""
        doc = json.loads(text)
        if doc.get("format") != "rmc-model":
            raise ValueError("not an rmc model file")
        version = doc.get("version")
        if version not in (1, FORMAT_VERSION):
            raise ValueError("rmc model file version %r is not supported (this rmc reads "
                             "versions 1 and %d)" % (version, FORMAT_VERSION))
        if version == 1 and any(r.get("op") == "index" for r in doc["records"]):
            raise ValueError("this version 1 model file indexes with fixed index vectors, "
                             "which rmc no longer records; build the model again")
        return cls(doc["records"])

    def __repr__(self):
        return "<rmc.Model params=%s data=%s>" % (self.param_names, self.data_names)
