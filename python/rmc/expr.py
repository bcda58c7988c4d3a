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

_BINARY = {"add", "sub", "mul", "div", "pow", "dot"}
_UNARY = {"neg", "exp", "log", "log1p", "sqrt", "square", "logistic", "sum"}


class Expr:
    """A node of a model graph, or a free expression waiting for a builder.

    Arithmetic (``+ - * / **``, unary ``-``) and ``@`` (data matrix times vector) build new
    expressions; ``vec[idx]`` gathers elements (see :meth:`__getitem__`).
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

    def __matmul__(self, other):
        return matvec(self, other)

    def __rmatmul__(self, other):
        return matvec(other, self)

    def __getitem__(self, idx):
        """Elements of a vector.

        - an integer ``i`` (zero-based): the scalar element ``i``;
        - a list or integer numpy array, or a slice with explicit non-negative bounds:
          a vector of those elements;
        - an :class:`Expr` of integer data, or a string naming integer data: a gather by
          that zero-based index vector (use :func:`rmc.gather` with ``base=1`` for
          one-based indexes, as in Stan data).
        """
        if isinstance(idx, (str, Expr)):
            return gather(self, idx, base=0)
        if isinstance(idx, numbers.Integral) and not isinstance(idx, bool):
            if idx < 0:
                raise IndexError("negative index %d: the vector length is only known once "
                                 "data are bound; use a non-negative index" % idx)
            return sum_(gather(self, _index_constant([int(idx)]), base=0))
        if isinstance(idx, slice):
            start, stop, step = idx.start or 0, idx.stop, idx.step or 1
            if stop is None or start < 0 or stop < 0 or step < 1:
                raise IndexError("slices need explicit non-negative start and stop "
                                 "(the vector length is only known once data are bound)")
            return gather(self, _index_constant(list(range(start, stop, step))), base=0)
        values = np.asarray(idx)
        if values.ndim == 1 and values.dtype.kind in "iu":
            return gather(self, _index_constant(values.tolist()), base=0)
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


def _index_constant(values):
    """A free expression for a fixed zero-based index vector (bound as hidden int data)."""
    if not values:
        raise IndexError("empty index")
    if min(values) < 0:
        raise IndexError("negative indexes are not supported")
    return Expr(kind="index", attrs={"values": [int(v) for v in values]})


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


def matvec(matrix, vec):
    """``matrix @ vec`` for a data matrix (rows x cols) and a vector of length cols.

    ``matrix`` is a data expression or a string naming a two-dimensional real data field.
    """
    if isinstance(matrix, str):
        matrix = data_ref(matrix, shape=(-1, -1))
    return Expr._combine("matvec", (matrix, vec))


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
    if not isinstance(index, Expr) or index._kind not in ("data", "index", None):
        raise TypeError("gather: the index must be integer data (a name or a data "
                        "expression), got %r" % (index,))
    return Expr._combine("gather", (vec, index), {"base": int(base)})
