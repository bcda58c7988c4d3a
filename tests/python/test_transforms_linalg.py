"""Constrained parameters (ordered, positive ordered, simplex, correlation Cholesky factor),
bounds that are expressions, and the vector and matrix operations, from Python: values
against numpy, log-Jacobians against numerical determinants, gradients against finite
differences, sampled moments, model files and errors."""

import math

import numpy as np
import pytest

import rmc


def fd_gradient(program, x, h=1e-6):
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (program.logp_grad(x + e, grad=False)[0]
                   - program.logp_grad(x - e, grad=False)[0]) / (2 * h)
    return grad


def sample_cpu(model, data=None, **kw):
    settings = dict(chains=4, draws=1500, warmup=1000, seed=11, backend="cpu")
    settings.update(kw)
    return rmc.sample(model, data or {}, **settings)


# -------------------------------------------------------------------- transforms


def test_free_dimensions_and_records():
    b = rmc.ModelBuilder()
    b.param("o", 4, transform="ordered")
    b.param("po", 3, transform="positive_ordered")
    b.param("s", 4, transform="simplex")
    b.param("L", 3, transform="cholesky_corr")
    model = b.build()
    program = rmc.Program(model, {})
    assert program.dim == 4 + 3 + 3 + 3
    assert [r.get("transform") for r in model.records if r["op"] == "param"] == [
        "ordered", "positive_ordered", "simplex", "cholesky_corr"]
    assert [r["shape"] for r in model.records if r["op"] == "param"][3] == [3, 3]
    assert len(program.column_names) == 4 + 3 + 4 + 9
    assert program.column_names[-1] == "L[3,3]"


def constrained(program, x):
    """Constrained parameter values by name, reshaped."""
    cols = program.constrain(x)
    return {name: cols[first:first + int(np.prod(shape))].reshape(shape)
            for name, shape, first in program.param_variables}


def numpy_transforms(u):
    """The maps written again in numpy, for comparison: ordered (4), positive ordered (3),
    simplex (4 from 3), correlation factor (3 x 3 from 3)."""
    o = np.cumsum(np.concatenate([u[:1], np.exp(u[1:4])]))
    po = np.cumsum(np.exp(u[4:7]))
    y = u[7:10]
    k = 4
    z = 1 / (1 + np.exp(-(y - np.log(k - 1 - np.arange(k - 1)))))
    s = np.empty(k)
    rest = 1.0
    for i in range(k - 1):
        s[i] = rest * z[i]
        rest -= s[i]
    s[-1] = rest
    cpc = np.tanh(u[10:13])
    L = np.zeros((3, 3))
    L[0, 0] = 1
    L[1, 0] = cpc[0]
    L[1, 1] = math.sqrt(1 - cpc[0] ** 2)
    L[2, 0] = cpc[1]
    L[2, 1] = cpc[2] * math.sqrt(1 - cpc[1] ** 2)
    L[2, 2] = math.sqrt(1 - L[2, 0] ** 2 - L[2, 1] ** 2)
    return {"o": o, "po": po, "s": s, "L": L}


def shapes_model():
    b = rmc.ModelBuilder()
    b.param("o", 4, transform="ordered")
    b.param("po", 3, transform="positive_ordered")
    b.param("s", 4, transform="simplex")
    b.param("L", 3, transform="cholesky_corr")
    return b.build()


def test_values_match_numpy_and_sets():
    program = rmc.Program(shapes_model(), {})
    rng = np.random.default_rng(3)
    for _ in range(5):
        u = rng.normal(size=program.dim)
        got = constrained(program, u)
        want = numpy_transforms(u)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14)
        assert np.all(np.diff(got["o"]) > 0) and np.all(got["po"] > 0)
        assert abs(got["s"].sum() - 1) < 1e-14 and np.all(got["s"] > 0)
        L = got["L"]
        np.testing.assert_allclose((L * L).sum(axis=1), 1.0, rtol=1e-14)
        assert np.all(np.diag(L) > 0) and np.all(np.triu(L, 1) == 0)
        np.testing.assert_allclose(program.unconstrain(program.constrain(u)[:20]), u,
                                   rtol=1e-9, atol=1e-10)


def test_log_jacobians_match_numerical_determinants():
    """With no statements lp is the log-Jacobian: compare with log |det| of the numerical
    Jacobian of the free constrained coordinates (the last element of a simplex and the
    diagonal and upper triangle of L are determined by the others)."""
    program = rmc.Program(shapes_model(), {})
    free = np.r_[0:4, 4:7, 7:10, 11 + np.array([3, 6, 7])]   # L[2,1], L[3,1], L[3,2]
    rng = np.random.default_rng(5)
    for _ in range(4):
        u = rng.normal(scale=0.8, size=program.dim)
        jac = np.empty((free.size, program.dim))
        h = 1e-6
        for i in range(program.dim):
            e = np.zeros(program.dim)
            e[i] = h
            plus, minus = program.constrain(u + e)[free], program.constrain(u - e)[free]
            jac[:, i] = (plus - minus) / (2 * h)
        want = np.linalg.slogdet(jac)[1]
        assert program.logp_grad(u)[0] == pytest.approx(want, abs=1e-6)


def test_gradient_through_transforms_and_expression_bounds():
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", lower=0, upper=1)
    beta = b.param("beta", lower=0, upper=1 - alpha)      # GARCH's beta < 1 - alpha
    mu = b.param("mu", 3, lower="lo", upper=alpha + rmc.exp(b.param("w", 3)))
    s = b.param("s", 3, transform="simplex", prior=rmc.Normal(0.3, 0.2))
    L = b.param("L", 3, transform="cholesky_corr")
    o = b.param("o", 3, transform="positive_ordered")
    b.observe("y", rmc.Normal(rmc.diag_pre_multiply(o, L) @ mu + rmc.dot(s, mu) * beta, 1.5))
    model = b.build()
    data = {"lo": np.array([-2.0, -1.0, -0.5]), "y": np.array([0.3, -0.2, 1.1])}
    program = rmc.Program(model, data)
    rng = np.random.default_rng(7)
    for _ in range(4):
        x = rng.uniform(-1.2, 1.2, program.dim)
        lp, grad = program.logp_grad(x)
        assert np.isfinite(lp)
        np.testing.assert_allclose(grad, fd_gradient(program, x), rtol=1e-5, atol=1e-6)
        v = constrained(program, x)
        assert 0 < v["beta"] < 1 - v["alpha"]
        assert np.all(v["mu"] > data["lo"]) and np.all(v["mu"] < v["alpha"] + np.exp(v["w"]))


def test_expression_bound_records_precede_the_parameter():
    b = rmc.ModelBuilder()
    a = b.param("a", lower=0, upper=1)
    b.param("c", upper=1 - a)
    recs = b.build().records
    index = next(i for i, r in enumerate(recs) if r.get("name") == "c")
    assert recs[index]["upper"] < index
    assert recs[recs[index]["upper"]]["op"] == "op2"


def test_infinite_numeric_bounds_mean_no_bound():
    b = rmc.ModelBuilder()
    b.param("x", lower=-np.inf, upper=np.inf)
    program = rmc.Program(b.build(), {})
    assert program.constrain(np.array([-3.0]))[0] == -3.0
    with pytest.raises(ValueError, match="finite"):
        rmc.ModelBuilder().param("x", lower=np.inf)


def test_sampled_simplex_and_triangle():
    b = rmc.ModelBuilder()
    b.param("theta", 3, transform="simplex")
    a = b.param("a", lower=0, upper=1)
    b.param("c", lower=0, upper=1 - a)
    fit = sample_cpu(b.build())
    theta = fit["theta"].reshape(-1, 3)
    np.testing.assert_allclose(theta.mean(axis=0), 1 / 3, atol=0.02)
    np.testing.assert_allclose((theta ** 2).mean(axis=0), 1 / 6, atol=0.015)
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-12)
    assert fit["a"].mean() == pytest.approx(1 / 3, abs=0.02)
    assert fit["c"].mean() == pytest.approx(1 / 3, abs=0.02)
    assert np.all(fit["a"] + fit["c"] < 1)


def test_sampled_order_statistics_and_correlation():
    b = rmc.ModelBuilder()
    b.param("x", 3, transform="ordered", prior=rmc.Normal(0.0, 1.0))
    b.param("L", 2, transform="cholesky_corr")
    fit = sample_cpu(b.build())
    x = fit["x"].reshape(-1, 3)
    np.testing.assert_allclose(x.mean(axis=0), [-1.5 / math.sqrt(math.pi), 0,
                                                 1.5 / math.sqrt(math.pi)], atol=0.04)
    r = fit["L"][..., 1, 0].ravel()
    assert abs(r.mean()) < 0.04 and (r ** 2).mean() == pytest.approx(1 / 3, abs=0.02)


def test_init_values_for_constrained_parameters():
    b = rmc.ModelBuilder()
    b.param("s", 3, transform="simplex")
    b.param("o", 2, transform="ordered")
    fit = sample_cpu(b.build(), chains=2, draws=10, warmup=10,
                     init={"s": [0.2, 0.3, 0.5], "o": [-1.0, 2.0]})
    assert fit["s"].shape == (2, 10, 3)
    program = rmc.Program(b.build(), {})
    with pytest.raises(ValueError, match="simplex"):
        program.init_point({"s": [0.2, 0.3, 0.6]}, np.random.default_rng(0), 2.0)
    with pytest.raises(ValueError, match="increasing"):
        program.init_point({"o": [1.0, 0.5]}, np.random.default_rng(0), 2.0)


def test_transform_errors():
    b = rmc.ModelBuilder()
    with pytest.raises(ValueError, match="unknown transform"):
        b.param("x", 3, transform="sorted")
    with pytest.raises(ValueError, match="no bounds"):
        b.param("x", 3, transform="ordered", lower=0)
    with pytest.raises(ValueError, match="at least 2"):
        b.param("x", 1, transform="simplex")
    with pytest.raises(ValueError, match="square"):
        b.param("x", (2, 3), transform="cholesky_corr")
    with pytest.raises(ValueError, match="vector"):
        b.param("x", (2, 2), transform="ordered")
    with pytest.raises(ValueError, match="below"):
        b.param("x", lower=1, upper=0)
    b2 = rmc.ModelBuilder()
    b2.param("x", "K", transform="simplex")
    with pytest.raises(rmc.RmcError, match="'x'"):
        rmc.Program(b2.build(), {"K": 1})
    b3 = rmc.ModelBuilder()
    b3.param("z", 2, lower="lo")
    with pytest.raises(rmc.RmcError, match="lower bound data 'lo'"):
        rmc.Program(b3.build(), {"lo": np.zeros(3)})


# -------------------------------------------------------------------- operations


def ops_model():
    b = rmc.ModelBuilder()
    A = b.param("A", (2, 3))
    B = b.param("B", (3, 2))
    v = b.param("v", 3)
    s = b.param("s")
    alpha = b.param("alpha", lower=0)
    rho = b.param("rho", lower=0)
    S = b.data("S", shape=(3, 3))
    spd = B @ B.T + S
    L = rmc.cholesky(spd)
    det = {
        "matvec": A @ v, "vecmat": v @ B, "matmul": A @ B, "T": A.T, "transpose":
        rmc.transpose(B), "row": rmc.row(A, 1), "rowneg": rmc.row(A, -1), "col": rmc.col(A, 2),
        "colneg": rmc.col(B, -2), "drop": rmc.drop(v, first=1), "lag": rmc.lag(v),
        "concat": rmc.concat(s, v, "y"), "diag_pre": rmc.diag_pre_multiply(v, B), "spd": spd,
        "chol": L, "solve": rmc.tri_solve(L, v), "solve_m": rmc.tri_solve(L, B),
        "cov": rmc.cov_exp_quad("x", alpha, rho, delta=0.1),
        "chol_data": rmc.cholesky("S"), "matvec_data": rmc.matvec("S", "y"),
    }
    for name, expr in det.items():
        b.deterministic(name, expr)
    return b.build()


def ops_data():
    return {"S": np.array([[4.0, 1.2, -0.6], [1.2, 3.0, 0.5], [-0.6, 0.5, 2.0]]),
            "y": np.array([0.4, -1.1, 2.0]), "x": np.array([-1.0, 0.2, 0.9, 2.5])}


def test_operation_values_match_numpy():
    data = ops_data()
    program = rmc.Program(ops_model(), data)
    x = np.sin(0.9 * np.arange(program.dim) + 0.4) * 1.3
    cols = program.constrain(x)
    got = {name: cols[first:first + int(np.prod(shape))].reshape(shape)
           for name, shape, first in program.variables}
    A, B, v, s = got["A"], got["B"], got["v"], got["s"]
    alpha, rho = got["alpha"], got["rho"]
    spd = B @ B.T + data["S"]
    L = np.linalg.cholesky(spd)
    d = data["x"][:, None] - data["x"][None, :]
    want = {
        "matvec": A @ v, "vecmat": v @ B, "matmul": A @ B, "T": A.T, "transpose": B.T,
        "row": A[1], "rowneg": A[-1], "col": A[:, 2], "colneg": B[:, -2], "drop": v[1:],
        "lag": v[:-1], "concat": np.concatenate([[s], v, data["y"]]),
        "diag_pre": v[:, None] * B, "spd": spd, "chol": L, "solve": np.linalg.solve(L, v),
        "solve_m": np.linalg.solve(L, B),
        "cov": alpha ** 2 * np.exp(-d ** 2 / (2 * rho ** 2)) + 0.1 * np.eye(4),
        "chol_data": np.linalg.cholesky(data["S"]), "matvec_data": data["S"] @ data["y"],
    }
    for name, value in want.items():
        np.testing.assert_allclose(got[name], np.reshape(value, got[name].shape), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


def test_operation_gradients_match_finite_differences():
    """A Gaussian process marginal likelihood written with the operations, plus matrix
    products of parameters."""
    b = rmc.ModelBuilder()
    alpha = b.param("alpha", lower=0, prior=rmc.Normal(0, 2))
    rho = b.param("rho", lower=0, prior=rmc.Normal(0, 2))
    L = rmc.cholesky(rmc.cov_exp_quad("x", alpha, rho, delta=1e-6))
    z = rmc.tri_solve(L, "y")
    b.observe(z, rmc.Normal(0.0, 1.0))
    A = b.param("A", (2, 3), prior=rmc.Normal(0, 1))
    w = b.param("w", 2)
    u = A.T @ w                     # matrix @ vector
    t = rmc.row(A, 0) @ u           # vector @ vector: a dot product
    b.observe("y", rmc.Normal(rmc.concat(u, t), 1.0))
    b.observe(rmc.drop("x", first=1), rmc.Normal(rmc.lag(rmc.concat(u, rmc.col(A, 1)[1])),
                                                 2.0))
    program = rmc.Program(b.build(), {"x": np.array([-1.0, 0.2, 0.9, 2.5]),
                                      "y": np.array([0.4, -1.1, 2.0, 0.3])})
    rng = np.random.default_rng(13)
    for _ in range(4):
        x = rng.uniform(-1, 1, program.dim)
        lp, grad = program.logp_grad(x)
        assert np.isfinite(lp)
        np.testing.assert_allclose(grad, fd_gradient(program, x), rtol=1e-5, atol=1e-6)


def test_not_positive_definite_is_rejected():
    b = rmc.ModelBuilder()
    M = b.param("M", (2, 2), prior=rmc.Normal(0, 1))
    b.deterministic("L", rmc.cholesky(M))
    program = rmc.Program(b.build(), {})
    lp, grad = program.logp_grad(np.array([1.0, 0.0, 0.5, 1.0]))
    assert np.isfinite(lp) and np.all(np.isfinite(grad))
    assert program.logp_grad(np.array([1.0, 0.0, 0.5, 0.1]))[0] == -np.inf
    fit = sample_cpu(b.build(), draws=300, warmup=300, init_radius=0.5)
    m = fit["M"].reshape(-1, 2, 2)
    assert np.all(np.isfinite(fit["L"]))
    assert np.all(m[:, 0, 0] > 0) and np.all(m[:, 0, 0] * m[:, 1, 1] - m[:, 1, 0] ** 2 > 0)


def test_operation_errors_name_the_nodes():
    b = rmc.ModelBuilder()
    b.param("t")
    b.deterministic("L", rmc.cholesky("S"))
    with pytest.raises(rmc.RmcError, match=r"cholesky\(data 'S'\).*not positive definite"):
        rmc.Program(b.build(), {"S": np.array([[1.0, 2.0], [2.0, 1.0]])})
    b = rmc.ModelBuilder()
    A = b.param("A", (2, 3))
    b.deterministic("p", rmc.matmul(A, A))
    with pytest.raises(rmc.RmcError, match=r"matmul\(parameter 'A', parameter 'A'\)"):
        rmc.Program(b.build(), {})
    b = rmc.ModelBuilder()
    v = b.param("v", 2)
    b.deterministic("d", rmc.drop(v, 1, 1))
    with pytest.raises(rmc.RmcError, match="leaves none"):
        rmc.Program(b.build(), {})
    with pytest.raises(IndexError, match="only known once data are bound"):
        rmc.row("M", -1)
    with pytest.raises(ValueError, match="delta"):
        rmc.cov_exp_quad("x", 1.0, 1.0, delta=-1)
    with pytest.raises(ValueError, match="at least 1"):
        rmc.lag("y", 0)


def test_static_shapes_and_model_files():
    b = rmc.ModelBuilder()
    A = b.param("A", (2, 3))
    v = b.param("v", 3)
    L = b.param("L", 3, transform="cholesky_corr")
    assert rmc.expr.static_shape(A @ v) == (2,)
    assert rmc.expr.static_shape(v @ A.T) == (2,)
    assert rmc.expr.static_shape(A @ A.T) == (2, 2)
    assert rmc.expr.static_shape(rmc.concat(v, v[0], v)) == (7,)
    assert rmc.expr.static_shape(rmc.lag(v, 2)) == (1,)
    assert rmc.expr.static_shape(rmc.tri_solve(L, v)) == (3,)
    assert rmc.expr.static_shape(rmc.cov_exp_quad([0.0, 1.0, 2.5], 1.0, 1.0)) == (3, 3)
    b.deterministic("w", rmc.diag_pre_multiply(rmc.exp(v), L) @ v)
    model = b.build()
    again = rmc.Model.from_json(model.to_json())
    assert again.records == model.records
    x = np.linspace(-1, 1, rmc.Program(model, {}).dim)
    np.testing.assert_array_equal(rmc.Program(again, {}).constrain(x),
                                  rmc.Program(model, {}).constrain(x))


def test_ar1_with_lag_matches_numpy():
    b = rmc.ModelBuilder()
    a = b.param("a")
    phi = b.param("phi", lower=-1, upper=1)
    sigma = b.param("sigma", lower=0)
    b.observe(rmc.drop("y", first=1), rmc.Normal(a + phi * rmc.lag("y"), sigma))
    y = np.array([0.3, 0.8, 0.1, -0.4, 0.2, 0.9])
    program = rmc.Program(b.build(), {"y": y})
    x = np.array([0.1, 0.4, -0.3])
    phi_v = -1 + 2 / (1 + np.exp(-0.4))
    sigma_v = np.exp(-0.3)
    r = y[1:] - (0.1 + phi_v * y[:-1])
    logj = np.log(2) - 0.4 - 2 * np.log1p(np.exp(-0.4)) - 0.3
    want = (-0.5 * (r / sigma_v) ** 2 - np.log(sigma_v) - 0.5 * np.log(2 * np.pi)).sum() + logj
    assert program.logp_grad(x)[0] == pytest.approx(want, rel=1e-12)
