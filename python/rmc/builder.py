"""ModelBuilder records a model as plain node records; Model replays them into C.

A record is a JSON-able dict: ``{"op": kind, "inputs": [record indexes], ...attributes}``.
The kinds are ``param`` (``lower``/``upper``: record indexes of bounds or None; an
optional ``transform``), ``data``, ``const``, ``const_vector``, ``op1``, ``op2``,
``gather``, ``slice`` (``begin``, ``end``), ``index`` (``i``, a scalar element),
``matvec``, ``vecmat``, ``matmul``, ``transpose``, ``row`` (``i``), ``col`` (``j``),
``drop`` (``first``, ``last``), ``concat``, ``diag_pre_multiply``, ``cholesky``,
``tri_solve``, ``cov_exp_quad`` (``delta``), ``op3`` (``fn``), ``lpdf`` (``dist``; inputs
value then arguments), ``tilde``, ``target`` and ``deterministic``.

A recurrence (:meth:`ModelBuilder.scan`) is a ``scan_begin`` record (inputs: the initial
state, then the sequences; it stands for the previous state), one ``scan_row`` record per
sequence (``k``; inputs: the begin record and sequence k; it stands for the current row),
the records of the step, and a ``scan_end`` record (inputs: the begin record, the next
state, then the sequences; ``steps`` and ``steps_name`` for a scan without sequences),
which stands for the states 1..T.

A :class:`Model` holds a frozen copy of the records and the C model made from them, so a
model can be saved (:meth:`Model.to_json`) and rebuilt.
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
                 "matvec", "vecmat", "matmul", "transpose", "row", "col", "drop", "concat",
                 "diag_pre_multiply", "cholesky", "tri_solve", "cov_exp_quad", "op3",
                 "lpdf"}
# Record kinds whose value depends on the parameters (or on a scan's state) whatever their
# inputs: in C they are "dynamic", and a dynamic node of a scan step exists only in it.
_DYNAMIC_KINDS = {"param", "scan_begin", "scan_row"}

# Record kinds replayed by one builder call over their inputs, with no attributes.
_PLAIN_CALLS = {"vecmat": "rmc_vecmat", "matmul": "rmc_matmul", "transpose": "rmc_transpose",
                "concat": "rmc_concat", "diag_pre_multiply": "rmc_diag_pre_multiply",
                "cholesky": "rmc_cholesky", "tri_solve": "rmc_tri_solve"}


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


def _bound_value(value, what, absent):
    """A parameter bound: None, a finite number, or an expression.

    ``absent`` is the infinity that means "no bound" on this side (-inf for a lower
    bound). An expression bound is anything an expression accepts (another parameter or
    an expression of parameters, a data name, a numeric array) and is returned as an Expr;
    its shape (a scalar, or the parameter's) is checked when data are bound.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("%s must be a number, an expression or None, got %r" % (what, value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if value != value:
            raise ValueError("%s is NaN" % what)
        if value == absent:
            return None
        if value in (float("inf"), float("-inf")):
            raise ValueError("%s must be finite, got %r" % (what, value))
        return value
    try:
        return as_expr(value)
    except TypeError:
        raise TypeError("%s must be a number, an expression or None, got %r"
                        % (what, value)) from None


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
        self._dynamic = []   # per record: depends on parameters or on a scan's state
        self._scan = None    # the scan_begin record of the scan whose step is being built
        self._closed = set() # dynamic records of finished scan steps: unusable outside them

    # ---------------------------------------------------------------- internals

    def _add(self, kind, inputs, attrs):
        """Append a record (or reuse an identical shared one) and return its index."""
        rec = {"op": kind}
        rec.update(attrs)
        if inputs:
            rec["inputs"] = [int(i) for i in inputs]
        used = list(rec.get("inputs", ()))
        if kind == "param":
            used += [i for i in (rec.get("lower"), rec.get("upper")) if i is not None]
        self._refuse_step_values(used, self._describe(kind, rec))
        key = None
        if kind in _SHARED_KINDS:
            key = json.dumps(rec, sort_keys=True)
            if key in self._keys:
                return self._keys[key]
        self._records.append(rec)
        self._dynamic.append(kind in _DYNAMIC_KINDS or any(self._dynamic[i] for i in used))
        if key is not None:
            self._keys[key] = len(self._records) - 1
        return len(self._records) - 1

    @staticmethod
    def _describe(kind, rec):
        """A short name of a record for messages: "deterministic 'x'", "op2 mul"."""
        if rec.get("name"):
            return "%s '%s'" % (kind, rec["name"])
        detail = rec.get("fn") or rec.get("dist")
        return "%s %s" % (kind, detail) if detail else kind

    def _refuse_step_values(self, nodes, what):
        """Raise if any of the record indexes ``nodes`` is a value of a finished scan step."""
        if self._closed and any(i in self._closed for i in nodes):
            raise ValueError("%s: this expression uses a value computed inside a scan step, "
                             "which exists only within the step; use the states the scan "
                             "returns instead" % what)

    def _refuse_in_scan(self, what):
        """Raise if a scan step is being built: C refuses ``what`` inside a step."""
        if self._scan is not None:
            raise ValueError("%s cannot be declared inside a scan step (the step is a pure "
                             "function of its state and rows); declare it before b.scan, or "
                             "use the states the scan returns after it" % what)

    def _rollback(self, length):
        """Forget every record from index ``length`` on (a scan step that failed)."""
        del self._records[length:]
        del self._dynamic[length:]
        del self._shapes[length:]
        self._keys = {k: v for k, v in self._keys.items() if v < length}
        self._memo = {k: v for k, v in self._memo.items() if v[1] < length}

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

    def param(self, name, shape=(), lower=None, upper=None, prior=None, transform=None):
        """Declare a parameter and return it as an expression.

        ``shape`` is an int, the name of an integer data scalar (``"J"``), or a tuple of
        those; ``()`` is a scalar.

        ``lower``/``upper`` are None, numbers, or expressions: other parameters or
        expressions of them (GARCH's ``upper=1 - alpha``), data names or numeric arrays,
        each a scalar or of the parameter's shape. The density includes the bound map's
        log-Jacobian, and its gradient reaches the parameters in the bound. Where a bound
        that depends on parameters is not below the other, the log density is -inf. With a
        prior whose support is bounded (HalfNormal, HalfCauchy, Exponential: lower 0;
        Uniform with numeric bounds) a missing bound is taken from it. Without a prior the
        parameter has a flat prior over its range.

        ``transform`` constrains the parameter's shape instead of bounding it (no bounds
        then; a prior's support is not used):

        - ``"ordered"``: a strictly increasing vector;
        - ``"positive_ordered"``: a positive, strictly increasing vector;
        - ``"simplex"``: a vector of K >= 2 positive values summing to 1 (K - 1 free
          coordinates, by stick-breaking);
        - ``"cholesky_corr"``: the K x K lower Cholesky factor of a correlation matrix
          (``shape`` K or (K, K); K (K - 1) / 2 free coordinates), with a flat density over
          its strict lower triangle unless a prior such as :class:`rmc.LKJCholesky` is
          given.

        A prior that names a transform (a ``transform`` attribute) supplies it when
        ``transform`` is not given.
        """
        self._refuse_in_scan("parameter %r" % (name,))
        if prior is not None and not isinstance(prior, Distribution):
            raise TypeError("param '%s': prior must be a Distribution, got %r" % (name, prior))
        if transform is None and prior is not None:
            transform = getattr(prior, "transform", None)
        if transform is not None:
            shape = self._transform_shape(name, shape, transform)
            if lower is not None or upper is not None:
                raise ValueError("parameter '%s': a %s parameter takes no bounds"
                                 % (name, transform))
        else:
            shape = _normalize_shape(shape, "parameter '%s'" % name)
            if prior is not None:
                lower = prior.support[0] if lower is None else lower
                upper = prior.support[1] if upper is None else upper
        lower = _bound_value(lower, "parameter '%s' lower bound" % name, float("-inf"))
        upper = _bound_value(upper, "parameter '%s' upper bound" % name, float("inf"))
        if isinstance(lower, float) and isinstance(upper, float) and not lower < upper:
            raise ValueError("parameter '%s': lower bound %g must be below upper bound %g"
                             % (name, lower, upper))
        self._refuse_step_values([e._node for e in (lower, upper)
                                  if isinstance(e, Expr) and e._builder is self],
                                 "parameter '%s' bound" % name)
        self._claim(name, "parameter")

        # Bound expressions are recorded first: a node only uses earlier ones.
        lo = self._bound_node(lower)
        hi = self._bound_node(upper)
        attrs = {"name": name, "shape": shape, "lower": lo, "upper": hi}
        if transform is not None:
            attrs["transform"] = transform
        node = self._add("param", (), attrs)
        value = Expr(self, node)
        if prior is not None:
            self.tilde(value, prior)
        return value

    def _bound_node(self, bound):
        if bound is None:
            return None
        if isinstance(bound, float):
            return self._add("const", (), {"value": bound})
        return self._node_of(bound)

    @staticmethod
    def _transform_shape(name, shape, transform):
        """The shape of a constrained parameter, checked for its transform."""
        what = "parameter '%s'" % name
        if transform not in _lib.TRANSFORMS or transform == "none":
            raise ValueError("%s: unknown transform %r (one of %s)"
                             % (what, transform, ", ".join(
                                 repr(t) for t in _lib.TRANSFORMS if t != "none")))
        shape = _normalize_shape(shape, what)
        if transform == "cholesky_corr":
            if len(shape) == 1:
                shape = [shape[0], shape[0]]
            if len(shape) != 2 or shape[0] != shape[1]:
                raise ValueError("%s: a cholesky_corr factor is square, give shape K or "
                                 "(K, K), got %r" % (what, tuple(shape)))
        elif len(shape) != 1:
            raise ValueError("%s: a %s parameter is a vector, give shape K, got %r"
                             % (what, transform, tuple(shape)))
        if transform in ("simplex", "cholesky_corr") and isinstance(shape[0], int) and \
                shape[0] < 2:
            raise ValueError("%s: a %s needs a size of at least 2, got %d"
                             % (what, transform, shape[0]))
        return shape

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
        self._refuse_in_scan("a distribution statement (tilde/observe)")
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
        self._refuse_in_scan("deterministic %r" % (name,))
        node = self._node_of(expr)
        self._refuse_step_values([node], "deterministic '%s'" % name)
        self._claim(name, "deterministic")
        self._add("deterministic", (node,), {"name": name})
        return Expr(self, node)

    def target(self, expr):
        """Add ``sum(expr)`` to the log density (Stan's ``target += expr``).

        ``expr`` is a scalar, vector or matrix expression, typically built from
        :meth:`rmc.Distribution.logpdf` (``rmc.Normal(mu, s).logpdf("y")``),
        :func:`rmc.log_mix` or :func:`rmc.log_sum_exp`. The term is added as it is: a
        change of variables needs its own log-Jacobian term.
        """
        self._refuse_in_scan("a target term")
        node = self._node_of(expr)
        self._add("target", (node,), {})

    def scan(self, step, init, sequences=(), steps=None):
        """A recurrence: ``state[t] = step(state[t - 1], rows t of the sequences)``.

        ``step`` is a Python function, called once here with the previous state (an
        expression shaped like ``init``) and one expression per sequence for its current
        row (a scalar for a vector sequence, a vector for a matrix's row); it returns the
        next state, of ``init``'s shape, built with the usual operations from its
        arguments and from anything declared before (parameters, data, constants).
        ``init`` is the state before the first step (a number, an expression, a data name).
        ``sequences`` is one or two vectors or matrices of T rows (expressions or data
        names), or none; without sequences ``steps`` gives T, an int or the name of an
        integer data scalar.

        Returns the states 1..T (``init`` is not among them): a vector of T for a scalar
        state, a T x S matrix for a vector state of S. GARCH(1,1) volatilities::

            s = b.scan(lambda s_prev, y_prev: rmc.sqrt(a0 + a1 * (y_prev - mu) ** 2
                                                       + b1 * s_prev ** 2),
                       init="sigma1", sequences=rmc.drop("y", last=1))

        A step cannot declare parameters, statements, target terms or deterministics, nor
        start another scan. Values computed inside the step exist only while it runs:
        using one after the scan (outside the step) raises ValueError. Gradients run back
        through every step.
        """
        self._refuse_in_scan("a nested scan")
        if not callable(step):
            raise TypeError("scan: step must be a function of the state (and the rows), got "
                            "%r" % (step,))
        if isinstance(sequences, (list, tuple)):
            seqs = list(sequences)
        else:
            seqs = [sequences]
        if len(seqs) > 2:
            raise ValueError("scan: at most two sequences, got %d" % len(seqs))
        steps_attrs = self._scan_steps(steps, bool(seqs))
        length = len(self._records)
        try:
            init_node = self._node_of(init)
            seq_nodes = [self._node_of(q) for q in seqs]
            begin = self._add("scan_begin", [init_node] + seq_nodes, {})
            rows = [self._add("scan_row", (begin, q), {"k": k})
                    for k, q in enumerate(seq_nodes)]
            self._scan = begin
            result = step(Expr(self, begin), *[Expr(self, r) for r in rows])
            if result is None:
                raise TypeError("scan: step returned None; it must return the next state")
            next_node = self._node_of(result)
            if next_node < begin or not self._dynamic[next_node]:
                raise ValueError("scan: the step must return a new state computed inside "
                                 "the step from its state, its rows or parameters (it "
                                 "returned %r, which %s)" % (result, "was made before the "
                                                             "scan" if next_node < begin
                                                             else "depends on data only"))
            self._check_state_shape(begin, next_node)
            end = self._add("scan_end", [begin, next_node] + seq_nodes, steps_attrs)
        except BaseException:
            self._scan = None
            self._rollback(length)
            raise
        self._scan = None
        self._close_step(begin, end)
        return Expr(self, end)

    @staticmethod
    def _scan_steps(steps, has_sequences):
        """The ``steps``/``steps_name`` attributes of a scan_end record, checked."""
        if has_sequences:
            if steps is not None:
                raise ValueError("scan: steps is only for a scan without sequences (T is "
                                 "the sequences' length)")
            return {"steps": None, "steps_name": None}
        if isinstance(steps, str):
            _check_name(steps, "scan steps")
            return {"steps": None, "steps_name": steps}
        if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps >= 1:
            return {"steps": int(steps), "steps_name": None}
        raise ValueError("scan: without sequences, steps must be a positive int or the name "
                         "of an integer data scalar, got %r" % (steps,))

    def _check_state_shape(self, begin, next_node):
        """Refuse a next state whose shape, known now, differs from the initial state's."""
        want, got = self._shape(begin), self._shape(next_node)
        if want is None or got is None or None in want or None in got:
            return
        if tuple(want) != tuple(got):
            raise ValueError("scan: the step returned a state of shape %s, but the initial "
                             "state has shape %s" % (tuple(got), tuple(want)))

    def _close_step(self, begin, end):
        """After a scan: its step's dynamic records become private to it (C refuses any use
        of them outside the step), so they leave the sharing tables."""
        private = {i for i in range(begin, end) if self._dynamic[i]}
        self._closed |= private
        self._keys = {k: v for k, v in self._keys.items() if v not in private}
        self._memo = {k: v for k, v in self._memo.items() if v[1] not in private}

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
        if self._scan is not None:
            raise ValueError("cannot build the model inside a scan step")
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
        rows = {}   # scan_begin record -> the C nodes of its rows
        for i, rec in enumerate(records):
            op = rec["op"]
            out = ctypes.c_int32(RMC_NONE)
            ins = [nodes[j] for j in rec.get("inputs", ())]
            if op in ("op3", "lpdf", "target") or op.startswith("scan_"):
                st = self._replay_new(rec, ins, rows, i, out)
            elif op == "param" and rec.get("transform") is not None:
                ndim, dims, names = _shape_args(rec["shape"])
                st = lib.rmc_param_transform(h, rec["name"].encode(), ndim, dims, names,
                                             _lib.TRANSFORMS[rec["transform"]],
                                             ctypes.byref(out))
            elif op == "param":
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
            elif op in _PLAIN_CALLS:
                st = getattr(lib, _PLAIN_CALLS[op])(h, *ins, ctypes.byref(out))
            elif op == "row":
                st = lib.rmc_row(h, ins[0], rec["i"], ctypes.byref(out))
            elif op == "col":
                st = lib.rmc_col(h, ins[0], rec["j"], ctypes.byref(out))
            elif op == "drop":
                st = lib.rmc_drop(h, ins[0], rec["first"], rec["last"], ctypes.byref(out))
            elif op == "cov_exp_quad":
                st = lib.rmc_cov_exp_quad(h, ins[0], ins[1], ins[2], rec["delta"],
                                          ctypes.byref(out))
            elif op == "tilde":
                args = (ctypes.c_int32 * max(len(ins) - 1, 1))(*ins[1:])
                st = lib.rmc_tilde(h, _lib.DISTS[rec["dist"]], ins[0], len(ins) - 1, args)
            elif op == "deterministic":
                st = lib.rmc_deterministic(h, rec["name"].encode(), ins[0])
            else:
                raise ValueError("unknown model record kind %r (record %d)" % (op, i))
            _check(st)
            nodes.append(out.value)

    def _replay_new(self, rec, ins, rows, i, out):
        """Replay an op3, lpdf, target or scan record; returns the C status."""
        h, op = self._handle, rec["op"]
        if op == "op3":
            return lib.rmc_op3(h, _lib.OPS[rec["fn"]], ins[0], ins[1], ins[2],
                               ctypes.byref(out))
        if op == "lpdf":
            args = (ctypes.c_int32 * max(len(ins) - 1, 1))(*ins[1:])
            return lib.rmc_lpdf(h, _lib.DISTS[rec["dist"]], ins[0], len(ins) - 1, args,
                                ctypes.byref(out))
        if op == "target":
            return lib.rmc_target(h, ins[0])
        if op == "scan_begin":
            n_seq = len(ins) - 1
            seqs = (ctypes.c_int32 * 2)(*ins[1:])
            inputs = (ctypes.c_int32 * 2)(RMC_NONE, RMC_NONE)
            st = lib.rmc_scan_begin(h, ins[0], n_seq, seqs, ctypes.byref(out), inputs)
            rows[i] = list(inputs)[:n_seq]
            return st
        if op == "scan_row":
            begin = rec["inputs"][0]
            if begin not in rows or not 0 <= rec["k"] < len(rows[begin]):
                raise ValueError("model record %d: scan_row %r does not follow its "
                                 "scan_begin" % (i, rec.get("k")))
            out.value = rows[begin][rec["k"]]
            return _lib.RMC_OK
        if op == "scan_end":
            name = rec.get("steps_name")
            return lib.rmc_scan_end(h, ins[1], rec.get("steps") or 0,
                                    None if name is None else name.encode(),
                                    ctypes.byref(out))
        raise ValueError("unknown model record kind %r (record %d)" % (op, i))

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
            if r["op"] == "scan_end" and r.get("steps_name"):
                names.append(r["steps_name"])
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
