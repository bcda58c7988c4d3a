"""Expressions: what the builder records, and the values the C library computes for them."""

import json

import numpy as np
import pytest

import rmc


def test_quickstart_records_are_plain_json():
    b = rmc.ModelBuilder()
    beta = b.normal_prior("beta", mu=0.0, sigma=1.0)
    b.normal_likelihood("obs", mu_expr=beta * "x", sigma=1.0, observed_key="y")
    records = b.build().records
    assert json.loads(json.dumps(records)) == records
    ops = [r["op"] for r in records]
    assert ops.count("param") == 1 and ops.count("tilde") == 2
    data = [r for r in records if r["op"] == "data"]
    assert {r["name"] for r in data} == {"x", "y"}
    assert all(r["dtype"] == "real" and r["shape"] is None for r in data)
    likelihood = [r for r in records if r["op"] == "tilde" and r.get("label") == "obs"]
    assert len(likelihood) == 1 and likelihood[0]["dist"] == "normal"


def test_equal_leaves_are_shared():
    b = rmc.ModelBuilder()
    t = b.param("t")
    t * "x" + t * "x"
    names = [r["name"] for r in b.build().records if r["op"] == "data"]
    assert names == ["x"]
    consts = [r for r in b.build().records if r["op"] == "const"]
    assert consts == []


def test_free_expressions_need_no_builder():
    e = rmc.log("earn") * 2.0
    assert e._builder is None
    b = rmc.ModelBuilder()
    mu = b.param("mu")
    b.observe(e, rmc.Normal(mu, 1.0))
    ops = [(r["op"], r.get("fn")) for r in b.build().records]
    assert ("op1", "log") in ops and ("op2", "mul") in ops


def test_numpy_operands_defer_to_expr():
    b = rmc.ModelBuilder()
    t = b.param("t", shape=3)
    for e in (np.ones(3) * t, np.ones(3) + t, np.float64(2.0) * t, t * np.ones(3)):
        assert isinstance(e, rmc.Expr)


def test_expressions_have_no_truth_value():
    b = rmc.ModelBuilder()
    with pytest.raises(TypeError, match="truth"):
        bool(b.param("t"))


def test_model_reports_names():
    b = rmc.ModelBuilder()
    t = b.param("t", shape="J")
    b.deterministic("u", rmc.exp(t))
    b.observe("y", rmc.Normal(rmc.gather(t, "g", base=1), "s"))
    model = b.build()
    assert model.param_names == ["t"]
    assert model.deterministic_names == ["u"]
    assert set(model.data_names) == {"J", "y", "g", "s"}


def ops_model():
    """A flat model whose deterministics exercise every operation."""
    b = rmc.ModelBuilder()
    t = b.param("t", shape=3)
    p = b.param("p", shape=3, lower=0)
    m = b.data("M")
    det = {
        "add": t + 1.5, "radd": 2 + t, "sub": t - "v", "rsub": 1 - t, "mul": t * p,
        "div": t / p, "rdiv": 1 / p, "pow": p ** 1.5, "rpow": 2 ** t, "powf": rmc.pow(p, t),
        "neg": -t, "exp": rmc.exp(t), "log": rmc.log(p), "log1p": rmc.log1p(p),
        "sqrt": rmc.sqrt(p), "square": rmc.square(t), "sq2": t ** 2,
        "logistic": rmc.logistic(t), "sum": rmc.sum(t), "dot": rmc.dot(t, "v"),
        "idx": t[1], "slice": t[0:2], "last": t[-1], "tail": t[1:], "head": p[:-1],
        "gather": t["g"],
        "gather1": rmc.gather(t, "g1", base=1), "matvec": rmc.matvec("M", t),
        "matmul": m @ p, "constvec": t * np.array([1.0, 2.0, 3.0]),
        "scalar_vec": t[0] * "v", "data_only": rmc.log("w") + t[2],
    }
    for name, expr in det.items():
        b.deterministic(name, expr)
    return b.build(), list(det)


def expected_values(t, p, d):
    v, g, g1, M, w = d["v"], d["g"], d["g1"], d["M"], d["w"]
    return {
        "add": t + 1.5, "radd": 2 + t, "sub": t - v, "rsub": 1 - t, "mul": t * p,
        "div": t / p, "rdiv": 1 / p, "pow": p ** 1.5, "rpow": 2 ** t, "powf": p ** t,
        "neg": -t, "exp": np.exp(t), "log": np.log(p), "log1p": np.log1p(p),
        "sqrt": np.sqrt(p), "square": t * t, "sq2": t * t,
        "logistic": 1 / (1 + np.exp(-t)), "sum": t.sum(), "dot": t @ v,
        "idx": t[1], "slice": t[0:2], "last": t[-1], "tail": t[1:], "head": p[:-1],
        "gather": t[g],
        "gather1": t[g1 - 1], "matvec": M @ t, "matmul": M @ p,
        "constvec": t * [1.0, 2.0, 3.0], "scalar_vec": t[0] * v, "data_only": np.log(w) + t[2],
    }


def test_operation_values():
    model, names = ops_model()
    data = {"v": np.array([0.5, -1.0, 2.0]), "g": np.array([2, 0, 1, 1]),
            "g1": np.array([3, 1]), "M": np.arange(6.0).reshape(2, 3) - 2,
            "w": np.array([1.0, 2.0, 4.0])}
    program = rmc.Program(model, data)
    assert program.dim == 6
    x = np.array([0.3, -0.7, 1.1, -0.2, 0.4, 0.9])
    columns = program.constrain(x)
    t, p = x[:3], np.exp(x[3:])   # lower=0: p = exp(x)
    np.testing.assert_allclose(columns[:6], np.concatenate([t, p]), rtol=1e-12)
    expected = expected_values(t, p, data)
    for name, shape, first in program.variables:
        if name in ("t", "p"):
            continue
        size = int(np.prod(shape))
        got = columns[first:first + size].reshape(shape)
        np.testing.assert_allclose(got, expected[name], rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    assert [v[0] for v in program.variables] == ["t", "p"] + names
    assert program.unconstrain(columns[:6]) == pytest.approx(x, rel=1e-12)


def test_integer_indexes_are_scalar_elements():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=4)
    b.deterministic("second", v[1])
    b.deterministic("last", v[-1])
    model = b.build()
    index = [r for r in model.records if r["op"] == "index"]
    assert [r["i"] for r in index] == [1, 3]
    assert model.data_names == []   # nothing bound behind the user's back
    program = rmc.Program(model, {})
    x = np.array([0.5, -1.5, 2.5, 4.0])
    assert dict((name, shape) for name, shape, _ in program.variables) == {
        "v": (4,), "second": (), "last": ()}
    np.testing.assert_array_equal(program.constrain(x)[4:], [-1.5, 4.0])


def test_slices_are_contiguous_ranges():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=5)
    w = b.param("w", shape="J")
    for name, expr in (("mid", v[1:3]), ("tail", v[2:]), ("head", v[:-2]),
                       ("neg", v[-3:-1]), ("sized", w[0:2]), ("const", rmc.exp(v)[1:4])):
        b.deterministic(name, expr)
    model = b.build()
    slices = [(r["begin"], r["end"]) for r in model.records if r["op"] == "slice"]
    assert slices == [(1, 3), (2, 5), (0, 3), (2, 4), (0, 2), (1, 4)]
    program = rmc.Program(model, {"J": 3})
    x = np.arange(8.0) / 4 - 1
    columns = program.constrain(x)
    got = {name: columns[first:first + int(np.prod(shape))]
           for name, shape, first in program.variables}
    v, w = x[:5], x[5:]
    for name, want in (("mid", v[1:3]), ("tail", v[2:]), ("head", v[:-2]),
                       ("neg", v[-3:-1]), ("sized", w[0:2]), ("const", np.exp(v)[1:4])):
        np.testing.assert_allclose(got[name], want, rtol=1e-15, err_msg=name)


def test_negative_indexes_need_a_known_length():
    b = rmc.ModelBuilder()
    w = b.param("w", shape="J")
    b.param("s")
    with pytest.raises(IndexError, match=r"w\[-1\] needs the vector's length.*non-negative"):
        w[-1]
    with pytest.raises(IndexError, match=r"w\[2:\] needs the vector's length.*bounds"):
        w[2:]
    with pytest.raises(IndexError, match="explicit non-negative bounds"):
        rmc.log("x")[-3:-1]
    w[0], w[2:5], rmc.log("x")[1:2]   # explicit bounds are checked when data are bound
    # Declared sizes are known lengths.
    assert b.data("d", shape=(6,))[-2:]._builder is b
    assert (np.ones(3) + w)[-1]._builder is b
    v = b.param("v", shape=3)
    with pytest.raises(IndexError, match=r"v\[-4\] is out of range.*length 3"):
        v[-4]
    with pytest.raises(IndexError, match="empty"):
        v[2:1]


def test_unsupported_indexes():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=4)
    with pytest.raises(IndexError, match="step 1"):
        v[0:4:2]
    with pytest.raises(TypeError, match="integer data"):
        v[[2, 0]]
    with pytest.raises(TypeError, match="integer data"):
        v[np.array([1, 2])]
    with pytest.raises(IndexError, match="scalar"):
        b.param("s")[0]
    with pytest.raises(IndexError, match="matrix"):
        b.param("m", shape=(2, 2))[1]


def test_index_records_survive_json():
    b = rmc.ModelBuilder()
    v = b.param("v", shape=3, prior=rmc.Normal(0, 1))
    b.deterministic("d", v[-1] + rmc.sum(v[0:2]))
    model = b.build()
    again = rmc.Model.from_json(model.to_json())
    assert again.records == model.records
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(rmc.Program(again, {}).constrain(x),
                                  rmc.Program(model, {}).constrain(x))
    old = {"format": "rmc-model", "version": 1,
           "records": [{"op": "index", "values": [0]}]}
    with pytest.raises(ValueError, match="index vectors"):
        rmc.Model.from_json(json.dumps(old))
