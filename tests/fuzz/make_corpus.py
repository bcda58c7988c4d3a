#!/usr/bin/env python3
"""Write the fuzzer's seed corpus: the models of the C and Python tests, encoded in the
instruction format that fuzz_model.c reads (see its opcode list). Deterministic: running it
again rewrites the same files.

    python3 tests/fuzz/make_corpus.py            # writes tests/fuzz/corpus/seed_*.bin
"""

import os
import sys

NAMES = ["x", "y", "g", "J", "K", "theta", "mu", "sigma", "z", "X", "", "a[1]", "b,c", None,
         "long", "tau"]
REALS = [0.0, 1.0, -1.0, 0.5, 2.0, 10.0, -3.5, 1e-300, 5e-324, 1e300, -1e300, "inf",
         "-inf", "nan", 1e-8, 3.0]
INTS = [0, 1, 2, 3, -1, 5, 8, 4]
OPS = ["add", "sub", "mul", "div", "pow", "min", "max", "neg", "exp", "log", "log1p", "sqrt",
       "square", "logistic", "lgamma", "expm1", "log1p_exp", "tanh", "abs", "sum", "dot",
       "log_sum_exp", "log_mix"]
DISTS = ["normal", "half_normal", "cauchy", "half_cauchy", "student_t", "uniform",
         "exponential", "bernoulli", "bernoulli_logit"]
DTYPES = {"real": 0, "int32": 1, "int64": 2}
(PARAM, DATA_FIELD, CONST, CONST_VECTOR, OP1, OP2, OP3, GATHER, SLICE, INDEX, MATVEC, TILDE,
 LPDF, TARGET, DETERMINISTIC, DATA_SET, SAMPLE) = range(17)


class Encoder:
    """Builds an input byte by byte, tracking the node list the harness keeps."""

    def __init__(self):
        self.out = bytearray()
        self.nodes = 0          # nodes kept by the harness so far

    def _node(self, k):
        # the harness reads nodes[n - 1 - (b % n)]
        b = self.nodes - 1 - k
        assert 0 <= b < 250, "node reference out of the encodable range"
        self.out.append(b)

    def _new(self):
        self.nodes += 1
        return self.nodes - 1

    def _shape(self, shape):
        self.out.append(len(shape) + 1)
        for d in list(shape) + [1] * (3 - len(shape)):
            if d == "J":
                self.out.append(161)
            elif d == "K":
                self.out.append(160)
            else:
                assert 1 <= d <= 6
                self.out.append(d - 1)

    def const(self, value):
        self.out += bytes([CONST, REALS.index(value)])
        return self._new()

    def const_vector(self, values):
        self.out += bytes([CONST_VECTOR, len(values)] + [REALS.index(v) for v in values])
        return self._new()

    def param(self, name, shape=(), lower=None, upper=None):
        self.out += bytes([PARAM, NAMES.index(name)])
        for bound in (lower, upper):
            if bound is None:
                self.out.append(0)
            else:
                self.out.append(1)
                self._node(bound)
        self._shape(shape)
        return self._new()

    def data(self, name, dtype="real", shape=None):
        """A data field; shape None takes the bound array's (rank 1)."""
        self.out += bytes([DATA_FIELD, NAMES.index(name), 0 if dtype == "real" else 2])
        self._shape((1,) if shape is None else shape)
        self.out.append(1 if shape is None else 0)
        return self._new()

    def op(self, fn, *args):
        code = {1: OP1, 2: OP2, 3: OP3}[len(args)]
        self.out += bytes([code, OPS.index(fn)])
        for a in args:
            self._node(a)
        return self._new()

    def gather(self, vec, index, base):
        self.out.append(GATHER)
        self._node(vec)
        self._node(index)
        self.out.append(base)
        return self._new()

    def slice(self, vec, begin, end):
        self.out.append(SLICE)
        self._node(vec)
        self.out += bytes([begin + 1, end + 1])
        return self._new()

    def index(self, vec, i):
        self.out.append(INDEX)
        self._node(vec)
        self.out.append(i + 1)
        return self._new()

    def matvec(self, m, v):
        self.out.append(MATVEC)
        self._node(m)
        self._node(v)
        return self._new()

    def _density(self, code, dist, value, args):
        self.out += bytes([code, DISTS.index(dist) + 1])
        self._node(value)
        self.out.append(len(args))
        for a in args:
            self._node(a)

    def tilde(self, dist, value, *args):
        self._density(TILDE, dist, value, args)

    def lpdf(self, dist, value, *args):
        self._density(LPDF, dist, value, args)
        return self._new()

    def target(self, node):
        self.out.append(TARGET)
        self._node(node)

    def deterministic(self, name, node):
        self.out += bytes([DETERMINISTIC, NAMES.index(name)])
        self._node(node)

    def bind(self, name, values, dtype="real", shape=None):
        """Bind data: values index the harness's tables (REALS, or INTS for integers)."""
        shape = (len(values),) if shape is None else shape
        assert all(0 <= d <= 9 for d in shape), "the harness binds sizes 0..9"
        table = REALS if dtype == "real" else INTS
        self.out += bytes([DATA_SET, NAMES.index(name), DTYPES[dtype], len(shape)])
        self.out += bytes(list(shape) + [0] * (3 - len(shape)))
        self.out += bytes(table.index(v) for v in values)

    def sample(self, chains=1, warmup=10, draws=4, hmc=False, thin=1, depth=4, step=1.0):
        flags = (chains - 1) | (thin - 1) << 1 | (4 if hmc else 0) | 1 << 3
        self.out += bytes([SAMPLE, flags, warmup, draws - 1, depth - 1, REALS.index(step),
                           REALS.index(2.0), 3, 7])


def regression():
    """The quick start: beta ~ normal(0, 1); y ~ normal(beta * x, sigma)."""
    e = Encoder()
    zero, one = e.const(0.0), e.const(1.0)
    beta = e.param("mu")
    sigma = e.param("sigma", lower=zero)
    e.tilde("normal", beta, zero, one)
    e.tilde("half_normal", sigma, one)
    x, y = e.data("x"), e.data("y")
    e.tilde("normal", y, e.op("mul", beta, x), sigma)
    e.bind("x", [0.5, -1.0, 2.0, 3.0, 1.0])
    e.bind("y", [1.0, -1.0, 2.0, 10.0, 0.5])
    e.sample()
    return e


def eight_schools():
    """Non-centred eight schools, with J and the data from the test models."""
    e = Encoder()
    zero, one, five = e.const(0.0), e.const(1.0), e.const(10.0)
    mu = e.param("mu")
    tau = e.param("tau", lower=zero)
    z = e.param("z", shape=("J",))
    e.tilde("normal", mu, zero, five)
    e.tilde("half_cauchy", tau, five)
    e.tilde("normal", z, zero, one)
    theta = e.op("add", mu, e.op("mul", tau, z))
    e.deterministic("theta", theta)
    y, sigma = e.data("y"), e.data("sigma")
    e.tilde("normal", y, theta, sigma)
    e.bind("J", [8], dtype="int64", shape=())
    e.bind("y", [10.0, 2.0, -3.5, 3.0, -1.0, 1.0, 10.0, 2.0])
    e.bind("sigma", [10.0, 10.0, 3.0, 2.0, 1.0, 2.0, 3.0, 10.0])
    e.sample(chains=2, warmup=20, draws=3)
    return e


def logistic():
    """Logistic regression through a data matrix: y ~ bernoulli_logit(alpha + X beta)."""
    e = Encoder()
    zero, two = e.const(0.0), e.const(2.0)
    alpha = e.param("mu")
    beta = e.param("theta", shape=(2,))
    e.tilde("normal", alpha, zero, two)
    e.tilde("student_t", beta, e.const(3.0), zero, two)
    big_x = e.data("X", shape=(3, 2))
    y = e.data("y", dtype="int64")
    eta = e.op("add", alpha, e.matvec(big_x, beta))
    e.tilde("bernoulli_logit", y, eta)
    e.bind("X", [0.5, -1.0, 2.0, 1.0, 0.0, 3.0], shape=(3, 2))
    e.bind("y", [1, 0, 1], dtype="int64")
    e.sample(hmc=True)
    return e


def hierarchical():
    """Groups through a one-based gather, bounds on both sides, an exponential prior."""
    e = Encoder()
    zero, one, ten = e.const(0.0), e.const(1.0), e.const(10.0)
    a = e.param("theta", shape=("K",))
    sigma = e.param("sigma", lower=zero, upper=ten)
    e.tilde("normal", a, zero, one)
    e.tilde("exponential", sigma, one)
    g = e.data("g", dtype="int64")
    y = e.data("y")
    e.tilde("cauchy", y, e.gather(a, g, 1), sigma)
    e.bind("K", [3], dtype="int64", shape=())
    e.bind("g", [1, 2, 3, 3, 1], dtype="int64")
    e.bind("y", [0.5, 1.0, -1.0, 2.0, 0.0])
    e.sample(thin=2)
    return e


def mixture():
    """Two-component mixture: target += log_mix(theta, normal_lpdf, normal_lpdf)."""
    e = Encoder()
    zero, one, two = e.const(0.0), e.const(1.0), e.const(2.0)
    theta = e.param("theta", lower=zero, upper=one)
    mu = e.param("mu", shape=(2,))
    e.tilde("uniform", theta, zero, one)
    e.tilde("normal", mu, zero, two)
    y = e.data("y")
    la = e.lpdf("normal", y, e.index(mu, 0), one)
    lb = e.lpdf("normal", y, e.index(mu, 1), one)
    e.target(e.op("log_mix", theta, la, lb))
    e.bind("y", [-1.0, -3.5, 2.0, 3.0, 0.5])
    e.sample(depth=3)
    return e


def expressions():
    """Slices, reductions and elementwise ops over a vector parameter."""
    e = Encoder()
    zero, one = e.const(0.0), e.const(1.0)
    v = e.param("z", shape=(5,))
    e.tilde("normal", v, zero, one)
    head = e.slice(v, 1, 4)
    w = e.const_vector([0.5, 2.0, 1.0])
    e.deterministic("mu", e.op("dot", head, w))
    s = e.op("sum", e.op("square", e.op("tanh", head)))
    e.deterministic("tau", e.op("log_sum_exp", v))
    e.target(e.op("neg", e.op("log1p_exp", s)))
    e.deterministic("sigma", e.op("exp", e.op("logistic", e.index(v, 4))))
    e.sample(warmup=0, draws=2)
    return e


def bad_inputs():
    """Inputs that must be refused: a duplicate name, NaN data, an index out of range."""
    inputs = []
    e = Encoder()
    e.param("mu")
    e.param("mu")
    inputs.append(e)
    e = Encoder()
    mu = e.param("mu")
    y = e.data("y")
    e.tilde("normal", y, mu, e.const(1.0))
    e.bind("y", [1.0, "nan"])
    inputs.append(e)
    e = Encoder()
    a = e.param("theta", shape=(3,))
    g = e.data("g", dtype="int64")
    e.tilde("normal", e.gather(a, g, 0), e.const(0.0), e.const(1.0))
    e.bind("g", [0, 3], dtype="int64")
    inputs.append(e)
    return inputs


def main():
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(folder, exist_ok=True)
    seeds = {"regression": regression(), "eight_schools": eight_schools(),
             "logistic": logistic(), "hierarchical": hierarchical(), "mixture": mixture(),
             "expressions": expressions()}
    for i, e in enumerate(bad_inputs()):
        seeds["refused_%d" % i] = e
    for name, e in seeds.items():
        with open(os.path.join(folder, "seed_%s.bin" % name), "wb") as f:
            f.write(bytes(e.out))
    print("wrote %d seeds to %s" % (len(seeds), folder), file=sys.stderr)


if __name__ == "__main__":
    main()
