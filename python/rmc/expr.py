"""Model expressions with Python operators.

An :class:`Expr` is either *bound*, a node recorded in a :class:`~rmc.ModelBuilder`
(parameters and everything computed from them), or *free*, a small expression tree over
data names and constants that no builder has seen yet (``rmc.log("earn")``). A free
expression is recorded in a builder the first time it meets a bound one, or when a builder
statement uses it.

Operands may be Python numbers (constants), one-dimensional numpy arrays or lists of
numbers (constant vectors), strings (a real data field of that name, shaped by the bound
array) or other expressions.
"""

import numbers

import numpy as np

from . import _lib
from .dist import Distribution

_BINARY = {"add", "sub", "mul", "div", "pow", "min", "max", "dot"}
_UNARY = {"neg", "exp", "log", "log1p", "sqrt", "square", "logistic", "lgamma", "expm1",
          "log1p_exp", "tanh", "abs", "sum", "log_sum_exp"}
_REDUCTIONS = {"sum", "log_sum_exp", "dot"}


class Expr:
    """A node of a model graph, or a free expression waiting for a builder.

    Arithmetic (``+ - * / **``, unary ``-``) and ``@`` (matrix times vector, vector times
    matrix, matrix times matrix or a dot product, by the operands' ranks) build new
    expressions, and ``.T`` transposes a matrix; ``vec[i]``, ``vec[a:b]`` and ``vec[idx]``
    pick elements (see :meth:`__getitem__`).
    """

    # Make numpy defer to our reflected operators: np.ones(3) * beta is an Expr, not an
    # object array of Exprs.
    __array_ufunc__ = None

    def __init__(self, builder=None, node=None, kind=None, inputs=(), attrs=None):
        self._builder = builder   # the ModelBuilder holding this node, or None (free)
        self._node = node         # record index in that builder
        self._kind = kind         # free expressions: record kind, inputs and attributes
        self._inputs = tuple(inputs)
        self._attrs = dict(attrs or {})

    # ---------------------------------------------------------------- construction

    @staticmethod
    def _combine(kind, operands, attrs=None):
        """A new expression ``kind(operands)``, recorded at once if any operand is bound."""
        operands = [as_expr(o) for o in operands]
        builders = {id(o._builder): o._builder for o in operands if o._builder is not None}
        if len(builders) > 1:
            raise ValueError("cannot combine expressions from different ModelBuilders")
        if not builders:
            return Expr(kind=kind, inputs=operands, attrs=attrs)
        builder = next(iter(builders.values()))
        nodes = [builder._node_of(o) for o in operands]
        return Expr(builder, builder._add(kind, nodes, attrs or {}))

    def _binary(self, fn, other, reflected=False):
        try:
            other = as_expr(other)
        except TypeError:
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        return Expr._combine("op2", (a, b), {"fn": fn})

    def _unary(self, fn):
        return Expr._combine("op1", (self,), {"fn": fn})

    # ---------------------------------------------------------------- operators

    def __add__(self, other):
        return self._binary("add", other)

    def __radd__(self, other):
        return self._binary("add", other, True)

    def __sub__(self, other):
        return self._binary("sub", other)

    def __rsub__(self, other):
        return self._binary("sub", other, True)

    def __mul__(self, other):
        return self._binary("mul", other)

    def __rmul__(self, other):
        return self._binary("mul", other, True)

    def __truediv__(self, other):
        return self._binary("div", other)

    def __rtruediv__(self, other):
        return self._binary("div", other, True)

    def __pow__(self, other):
        # x ** 2 is common and square() has a simpler, sign-safe derivative.
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 2:
            return self._unary("square")
        return self._binary("pow", other)

    def __rpow__(self, other):
        return self._binary("pow", other, True)

    def __neg__(self):
        return self._unary("neg")

    def __pos__(self):
        return self

    def __abs__(self):
        return self._unary("abs")

    def __matmul__(self, other):
        return _matmul_operator(self, other)

    def __rmatmul__(self, other):
        return _matmul_operator(other, self)

    @property
    def T(self):  # noqa: N802 - numpy's name
        """The transpose of a matrix expression."""
        return transpose(self)

    def __getitem__(self, idx):
        """Elements of a vector, zero-based.

        - an integer ``i``: the scalar element ``i``;
        - a slice ``v[a:b]`` (step 1): the vector of elements ``a`` to ``b - 1``;
        - an :class:`Expr` of integer data, or a string naming integer data: a gather by
          that zero-based index vector (use :func:`rmc.gather` with ``base=1`` for
          one-based indexes, as in Stan data).

        Negative indexes and open or negative slice bounds (``v[-1]``, ``v[2:]``) count
        from the end, so they need a length known when the model is built (a parameter
        of fixed size, a constant vector, data declared with a fixed shape); otherwise
        IndexError asks for explicit bounds. Other ranges are checked when data are bound.
        A fixed list of indexes is integer data: bind it and index by its name.
        """
        if isinstance(idx, (str, Expr)):
            return gather(self, idx, base=0)
        if isinstance(idx, numbers.Integral) and not isinstance(idx, bool):
            what = "%s[%d]" % (_label(self), idx)
            length = _vector_length(self, what, idx < 0, "use a non-negative index")
            i = int(idx) + length if idx < 0 else int(idx)
            if i < 0:
                raise IndexError("%s is out of range for a vector of length %d"
                                 % (what, length))
            return Expr._combine("index", (self,), {"i": i})
        if isinstance(idx, slice):
            return _slice(self, idx)
        if isinstance(idx, (list, np.ndarray)):
            raise TypeError("indexing by a fixed list of indexes is not supported: bind the "
                            "indexes as integer data and index by its name (v[\"idx\"]), or "
                            "use rmc.gather")
        raise TypeError("cannot index an expression with %r" % (idx,))

    def __bool__(self):
        raise TypeError("an rmc expression has no truth value (it is evaluated in C)")

    def __repr__(self):
        if self._builder is not None:
            rec = self._builder._records[self._node]
            label = rec.get("name") or rec.get("fn") or rec["op"]
            return "<rmc.Expr node %d: %s>" % (self._node, label)
        return "<rmc.Expr free %s %s>" % (self._kind, self._attrs.get("fn") or
                                          self._attrs.get("name", ""))


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _merge_shapes(a, b):
    """The static shape of an elementwise op on operands of static shapes a and b."""
    if a == ():
        return b
    if b == ():
        return a
    if a is None or b is None:   # a scalar or an array shaped like the other operand
        return b if a is None else a
    if len(a) != len(b):
        return None   # a shape error, reported when data are bound
    return tuple(x if x is not None else y for x, y in zip(a, b))


def infer_shape(kind, attrs, inputs):
    """The shape of a node known before data are bound.

    ``inputs`` are the static shapes of its inputs. A shape is a tuple of sizes, ``None``
    for a size only data give; the result is ``None`` when even the rank is unknown
    (a data field declared without a shape, and what is computed from it).
    """
    if kind == "param":
        return tuple(s if isinstance(s, int) else None for s in attrs["shape"])
    if kind == "data":
        if attrs["shape"] is None:
            return None
        return tuple(s if isinstance(s, int) and s > 0 else None for s in attrs["shape"])
    if kind in ("const", "index"):
        return ()
    if kind == "const_vector":
        return (len(attrs["values"]),)
    if kind == "slice":
        return (attrs["end"] - attrs["begin"],)
    if kind == "op1":
        return () if attrs["fn"] in _REDUCTIONS else inputs[0]
    if kind == "op2":
        return () if attrs["fn"] in _REDUCTIONS else _merge_shapes(inputs[0], inputs[1])
    if kind == "op3":
        return _merge_shapes(_merge_shapes(inputs[0], inputs[1]), inputs[2])
    if kind == "lpdf":
        return inputs[0]
    if kind == "gather":
        index = inputs[1]
        return (index[0] if index is not None and len(index) == 1 else None,)
    if kind == "matvec":
        matrix = inputs[0]
        return (matrix[0] if matrix is not None and len(matrix) == 2 else None,)
    return _infer_linalg(kind, attrs, inputs)


def _size(shape, axis):
    """Size ``axis`` of a static shape if known, else None."""
    return shape[axis] if shape is not None and len(shape) > axis else None


def _infer_linalg(kind, attrs, inputs):
    """Static shapes of the vector and matrix operations (see :func:`infer_shape`)."""
    a = inputs[0] if inputs else None
    b = inputs[1] if len(inputs) > 1 else None
    if kind == "vecmat":
        return (_size(b, 1),)
    if kind == "matmul":
        return (_size(a, 0), _size(b, 1))
    if kind == "transpose":
        return (_size(a, 1), _size(a, 0))
    if kind == "row":
        return (_size(a, 1),)
    if kind == "col":
        return (_size(a, 0),)
    if kind == "drop":
        n = _size(a, 0)
        return (None if n is None else n - attrs["first"] - attrs["last"],)
    if kind == "concat":
        na = 1 if a == () else _size(a, 0)
        nb = 1 if b == () else _size(b, 0)
        return (None if na is None or nb is None else na + nb,)
    if kind in ("diag_pre_multiply", "tri_solve"):
        return b
    if kind == "cholesky":
        return a
    if kind == "cov_exp_quad":
        return (_size(a, 0), _size(a, 0))
    return _infer_scan(kind, attrs, inputs)


def _infer_scan(kind, attrs, inputs):
    """Static shapes of the scan records (see :func:`infer_shape`)."""
    if kind == "scan_begin":      # the previous state: shaped like the initial state
        return inputs[0]
    if kind == "scan_row":        # inputs (begin, sequence): one row of the sequence
        seq = inputs[1]
        return None if seq is None else tuple(seq[1:])
    if kind == "scan_end":        # inputs (begin, next, sequences...): the states 1..T
        state = inputs[0]
        steps = attrs.get("steps")
        if not isinstance(steps, int):
            steps = _size(inputs[2], 0) if len(inputs) > 2 else None
        return None if state is None else (steps,) + tuple(state)
    return None


def static_shape(expr):
    """The shape of an expression known before data are bound (see :func:`infer_shape`)."""
    if expr._builder is not None:
        return expr._builder._shape(expr._node)
    return infer_shape(expr._kind, expr._attrs, [static_shape(e) for e in expr._inputs])


def _label(expr):
    """A name for an expression in messages: its parameter or data name, else "v"."""
    attrs = expr._builder._records[expr._node] if expr._builder is not None else expr._attrs
    return attrs.get("name") or "v"


def _vector_length(vec, what, needed, hint):
    """The length of vec if known now; checks that vec is not known to be a non-vector.

    With ``needed`` true an unknown length is an IndexError saying what needs it, and
    ``hint`` what to write instead.
    """
    shape = static_shape(vec)
    if shape is not None and len(shape) != 1:
        raise IndexError("%s: only vectors can be indexed, this is a %s"
                         % (what, "scalar" if not shape else "matrix"))
    if shape is None or shape[0] is None:
        if needed:
            raise IndexError("%s needs the vector's length, which is only known once data "
                             "are bound; %s" % (what, hint))
        return None
    return shape[0]


def _slice(vec, idx):
    """``vec[start:stop]`` as a slice node; open and negative bounds need the length."""
    start, stop = idx.start, idx.stop
    parts = (start, stop) if idx.step is None else (start, stop, idx.step)
    what = "%s[%s]" % (_label(vec), ":".join("" if x is None else str(x) for x in parts))
    for bound in (start, stop, idx.step):
        if bound is not None and not (isinstance(bound, numbers.Integral)
                                      and not isinstance(bound, bool)):
            raise TypeError("%s: slice bounds must be integers, got %r" % (what, bound))
    if idx.step not in (None, 1):
        raise IndexError("%s: slices need step 1; for other patterns bind the indexes as "
                         "integer data and gather with them" % what)
    start = 0 if start is None else int(start)
    needed = start < 0 or stop is None or stop < 0
    length = _vector_length(vec, what, needed, "give explicit non-negative bounds")
    if stop is None:
        stop = length
    begin = start + length if start < 0 else start
    end = int(stop) + length if stop < 0 else int(stop)
    if begin < 0 or end < 0:
        raise IndexError("%s is out of range for a vector of length %d" % (what, length))
    if end <= begin:
        raise IndexError("%s is empty" % what)
    return Expr._combine("slice", (vec,), {"begin": begin, "end": end})


def data_ref(name, dtype="real", shape=None):
    """A free expression for the data field ``name``.

    ``shape`` None takes the rank and sizes from the bound array; otherwise it is a tuple
    of sizes, each an int, -1 (any) or the name of an integer data scalar.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("a data field name must be a non-empty string, got %r" % (name,))
    return Expr(kind="data", attrs={"name": name, "dtype": dtype,
                                    "shape": None if shape is None else list(shape)})


def as_expr(value):
    """Convert an operand to an :class:`Expr`.

    Numbers become constants, 1-D numeric arrays or lists constant vectors, strings real
    data fields. Raises TypeError for anything else.
    """
    if isinstance(value, Expr):
        return value
    if isinstance(value, str):
        return data_ref(value)
    if _is_number(value):
        value = float(value)
        if value != value:
            raise ValueError("a model constant is NaN")
        return Expr(kind="const", attrs={"value": value})
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.ndim == 0 and arr.dtype.kind in "iuf":
            return as_expr(float(arr))
        if arr.ndim != 1 or arr.dtype.kind not in "iuf" or arr.size == 0:
            raise TypeError("a constant array must be a non-empty 1-D array of numbers, "
                            "got shape %s dtype %s" % (arr.shape, arr.dtype))
        arr = arr.astype(np.float64)
        if np.isnan(arr).any():
            raise ValueError("a constant vector contains NaN")
        return Expr(kind="const_vector", attrs={"values": arr.tolist()})
    raise TypeError("cannot use %r (%s) in an rmc expression"
                    % (value, type(value).__name__))


# -------------------------------------------------------------------- functions


def _unary_fn(fn, doc):
    def f(x):
        return Expr._combine("op1", (x,), {"fn": fn})
    f.__name__ = fn
    f.__doc__ = doc
    return f


exp = _unary_fn("exp", "Elementwise exp(x).")
log = _unary_fn("log", "Elementwise natural logarithm; ``rmc.log(\"earn\")`` logs data once.")
log1p = _unary_fn("log1p", "Elementwise log(1 + x), accurate for small x.")
sqrt = _unary_fn("sqrt", "Elementwise square root.")
square = _unary_fn("square", "Elementwise x * x.")
logistic = _unary_fn("logistic", "Elementwise 1 / (1 + exp(-x)).")


lgamma = _unary_fn("lgamma", "Elementwise log |Gamma(x)|, the log of the gamma function.")
expm1 = _unary_fn("expm1", "Elementwise exp(x) - 1, accurate for small x.")
log1p_exp = _unary_fn("log1p_exp", "Elementwise log(1 + exp(x)) (softplus), without overflow.")
tanh = _unary_fn("tanh", "Elementwise hyperbolic tangent.")
abs_ = _unary_fn("abs", "Elementwise absolute value |x| (also ``abs(expr)``).")


def minimum(a, b):
    """Elementwise minimum of ``a`` and ``b``, broadcasting a scalar against a vector.

    The derivative follows the smaller operand (at a tie, the first).
    """
    return Expr._combine("op2", (a, b), {"fn": "min"})


def maximum(a, b):
    """Elementwise maximum of ``a`` and ``b``, broadcasting a scalar against a vector.

    The derivative follows the larger operand (at a tie, the first).
    """
    return Expr._combine("op2", (a, b), {"fn": "max"})


def log_sum_exp(x):
    """``log(sum(exp(x)))`` over a vector's elements (a scalar), computed without overflow."""
    return Expr._combine("op1", (x,), {"fn": "log_sum_exp"})


def log_mix(theta, lp1, lp2):
    """Elementwise ``log(theta * exp(lp1) + (1 - theta) * exp(lp2))``.

    The log density of a two-component mixture with weight ``theta`` in [0, 1] on the
    component whose log density is ``lp1`` (Stan's ``log_mix``); each operand is a scalar
    or a vector, scalars broadcasting. With :meth:`Distribution.logpdf` and
    :meth:`ModelBuilder.target`::

        lp = rmc.log_mix(theta, rmc.Normal(mu[0], s[0]).logpdf("y"),
                         rmc.Normal(mu[1], s[1]).logpdf("y"))
        b.target(lp)
    """
    return Expr._combine("op3", (theta, lp1, lp2), {"fn": "log_mix"})


def lpdf(dist, value):
    """The elementwise log density of ``value`` under ``dist``, shaped like ``value``.

    ``dist`` is a distribution object (``rmc.Normal(mu, sigma)``), ``value`` an expression,
    a number, a numeric vector or a string naming a data field. Each element is the full
    log density (Stan's ``normal_lpdf`` of that element, normalising constants included);
    elements outside the support are -inf. Add the result to the model with
    :meth:`ModelBuilder.target`, or combine it first (:func:`log_mix`,
    :func:`log_sum_exp`). Also ``dist.logpdf(value)``.

    Multivariate distributions (one density per row: MultiNormalCholesky, Dirichlet,
    LKJCholesky) have no elementwise log density and are refused when data are bound.
    """
    if not isinstance(dist, Distribution):
        raise TypeError("lpdf: dist must be a Distribution (rmc.Normal(...)), got %r"
                        % (dist,))
    if dist.kind not in _lib.DISTS:
        raise ValueError("lpdf: %s has no C distribution code (kind %r)"
                         % (type(dist).__name__, dist.kind))
    return Expr._combine("lpdf", (value,) + tuple(dist.args), {"dist": dist.kind})


def _logpdf_method(self, value):
    """The elementwise log density of ``value`` under this distribution, as an expression
    shaped like ``value`` (see :func:`rmc.lpdf`)."""
    return lpdf(self, value)


# Every distribution, whatever module defines it, gets logpdf through the base class.
if not hasattr(Distribution, "logpdf"):
    Distribution.logpdf = _logpdf_method


def sum_(x):  # exported as rmc.sum
    """The sum of a vector's elements (a scalar)."""
    return Expr._combine("op1", (x,), {"fn": "sum"})


sum_.__name__ = "sum"


def pow(base, exponent):  # noqa: A001 - mirrors the math name on purpose
    """Elementwise ``base ** exponent``."""
    return as_expr(base) ** exponent


def dot(a, b):
    """The dot product of two vectors of equal length (a scalar)."""
    return Expr._combine("op2", (a, b), {"fn": "dot"})


def _matrix(value):
    """An operand expected to be a matrix: a string names two-dimensional real data."""
    return data_ref(value, shape=(-1, -1)) if isinstance(value, str) else value


def _vector(value):
    """An operand expected to be a vector: a string names one-dimensional real data."""
    return data_ref(value, shape=(-1,)) if isinstance(value, str) else value


def matvec(matrix, vec):
    """``matrix @ vec`` for a matrix (rows x cols) and a vector of length cols.

    Either may be data or depend on parameters. ``matrix`` may be a string naming a
    two-dimensional real data field.
    """
    return Expr._combine("matvec", (_matrix(matrix), _vector(vec)))


def vecmat(vec, matrix):
    """``vec @ matrix``: the row vector ``vec`` (length rows) times a matrix (rows x cols),
    a vector of length cols."""
    return Expr._combine("vecmat", (_vector(vec), _matrix(matrix)))


def matmul(a, b):
    """The matrix product ``a @ b`` of matrices (rows x inner) and (inner x cols)."""
    return Expr._combine("matmul", (_matrix(a), _matrix(b)))


def _matmul_operator(a, b):
    """``a @ b``: matrix-vector, vector-matrix, matrix-matrix or (two vectors) the dot
    product, by the operands' ranks.

    Ranks unknown before data are bound (data declared without a shape) are taken as a
    matrix times a vector, as ``@`` has always meant; call :func:`matmul` or
    :func:`vecmat` explicitly, or declare the data's shape, for the others.
    """
    ra = _rank(as_expr(_matrix(a)) if isinstance(a, str) else as_expr(a))
    rb = _rank(as_expr(_vector(b)) if isinstance(b, str) else as_expr(b))
    if ra == 2 and rb == 2:
        return matmul(a, b)
    if ra == 1 and rb == 2:
        return vecmat(a, b)
    if ra == 1 and rb == 1:
        return dot(a, b)
    return matvec(a, b)


def _rank(expr):
    shape = static_shape(expr)
    return None if shape is None else len(shape)


def transpose(matrix):
    """The transpose of a matrix (also ``m.T``)."""
    return Expr._combine("transpose", (_matrix(matrix),))


def _axis_index(matrix, i, axis, what):
    """A row or column index, zero-based; a negative one counts from the end and needs the
    matrix's size now."""
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        raise TypeError("%s: the index must be an integer, got %r" % (what, i))
    i = int(i)
    if i >= 0:
        return i
    shape = static_shape(as_expr(matrix))
    if shape is None or len(shape) != 2 or shape[axis] is None:
        raise IndexError("%s: a negative index needs the matrix's size, which is only known "
                         "once data are bound; use a non-negative index" % what)
    if i + shape[axis] < 0:
        raise IndexError("%s: index %d is out of range for size %d" % (what, i, shape[axis]))
    return i + shape[axis]


def row(matrix, i):
    """Row ``i`` (zero-based; negative counts from the end) of a matrix, as a vector."""
    matrix = _matrix(matrix)
    return Expr._combine("row", (matrix,), {"i": _axis_index(matrix, i, 0, "row")})


def col(matrix, j):
    """Column ``j`` (zero-based; negative counts from the end) of a matrix, as a vector."""
    matrix = _matrix(matrix)
    return Expr._combine("col", (matrix,), {"j": _axis_index(matrix, j, 1, "col")})


def _count_arg(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError("%s must be a non-negative integer, got %r" % (what, value))
    return int(value)


def drop(vec, first=0, last=0):
    """``vec`` without its first ``first`` and last ``last`` elements.

    Unlike a slice, this needs no length before data are bound: ``rmc.drop("y", first=1)``
    is ``y[1:]`` for whatever length y has. At least one element must remain.
    """
    first = _count_arg(first, "drop: first")
    last = _count_arg(last, "drop: last")
    return Expr._combine("drop", (_vector(vec),), {"first": first, "last": last})


def lag(vec, k=1):
    """The lag-``k`` values of a series: ``vec[0 : n - k]``, aligned with ``drop(vec, k)``.

    For an AR(1) model, ``y[t] ~ Normal(a + b * y[t - 1], s)`` for t >= 1 reads::

        b.observe(rmc.drop("y", first=1), rmc.Normal(a + b_ * rmc.lag("y"), s))
    """
    k = _count_arg(k, "lag: k")
    if k < 1:
        raise ValueError("lag: k must be at least 1, got %d" % k)
    return drop(vec, 0, k)


def concat(*parts):
    """The vectors (or scalars) ``parts`` joined end to end into one vector."""
    if len(parts) == 1 and isinstance(parts[0], (list, tuple)):
        parts = tuple(parts[0])
    if not parts:
        raise ValueError("concat needs at least one part")
    out = _vector(parts[0])
    for part in parts[1:]:
        out = Expr._combine("concat", (out, _vector(part)))
    return as_expr(out)


def diag_pre_multiply(vec, matrix):
    """``diag(vec) @ matrix``: row r of the matrix scaled by ``vec[r]``.

    With scales ``sigma`` and a correlation Cholesky factor ``L`` this is the Cholesky
    factor of the covariance ``diag(sigma) L L^T diag(sigma)``.
    """
    return Expr._combine("diag_pre_multiply", (_vector(vec), _matrix(matrix)))


def cholesky(matrix):
    """The lower-triangular Cholesky factor ``L`` (``L @ L.T == matrix``) of a symmetric
    positive-definite matrix; only the lower triangle of ``matrix`` is read.

    Data that are not symmetric positive definite are refused when bound. Where a matrix
    that depends on parameters is not positive definite, the log density is -inf and the
    sampler rejects the point.
    """
    return Expr._combine("cholesky", (_matrix(matrix),))


def tri_solve(lower, b):
    """``L \\ b``: the solution x of ``L x = b`` for a lower-triangular ``L`` (K x K; its
    upper triangle is not read) and ``b`` a vector of K or a matrix of K rows."""
    return Expr._combine("tri_solve", (_matrix(lower), b))


def cov_exp_quad(x, alpha, rho, delta=0.0):
    """The exponentiated-quadratic (squared exponential) covariance over points ``x``.

    ``K[i, j] = alpha**2 * exp(-(x[i] - x[j])**2 / (2 * rho**2))``, plus ``delta`` on the
    diagonal, a small jitter that keeps the matrix numerically positive definite. ``x`` is
    data (a name, an array or a data expression); ``alpha`` and ``rho`` are scalars,
    usually parameters.
    """
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not (
            0.0 <= float(delta) < float("inf")):
        raise ValueError("cov_exp_quad: delta must be a finite number >= 0, got %r"
                         % (delta,))
    return Expr._combine("cov_exp_quad", (_vector(x), alpha, rho), {"delta": float(delta)})


def gather(vec, index, base=0):
    """``out[i] = vec[index[i] - base]`` for an integer data vector ``index``.

    ``index`` is an expression of integer data or a string naming an integer data vector.
    ``base`` is 0 for zero-based indexes, 1 for one-based (Stan, posteriordb) data. Every
    index is checked when data are bound.
    """
    if base not in (0, 1):
        raise ValueError("gather: base must be 0 or 1, got %r" % (base,))
    if isinstance(index, str):
        index = data_ref(index, dtype="int", shape=(-1,))
    if not isinstance(index, Expr) or index._kind not in ("data", None):
        raise TypeError("gather: the index must be integer data (a name or a data "
                        "expression), got %r" % (index,))
    return Expr._combine("gather", (vec, index), {"base": int(base)})
