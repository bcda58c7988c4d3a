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
        "idx": t[1], "slice": t[0:2], "listidx": t[[2, 2, 0]], "gather": t["g"],
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
        "idx": t[1], "slice": t[0:2], "listidx": t[[2, 2, 0]], "gather": t[g],
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
