"""The limits language, check_limits / what_if and the optimizer, against independent answers.

Small problems: a 12-name, 4-factor model (market, two styles, one sector pair) built here from a
seeded generator. Independent references: the dense N x N covariance written out with numpy
(``V = X F X' + D``) in a second cvxpy problem, scipy's SLSQP from several starts (the l1
terms split into buys and sells so the problem is smooth), KKT conditions checked with
multipliers found by non-negative least squares, the closed-form factor portfolio and the
lecture's tracking portfolio.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, nnls

import xlfactor as xf
from xlfactor.optimizer import InfeasibleLimitsError, LimitsError, check_limits, optimize, what_if

OBJECTIVE_TOLERANCE = 1e-6  # the agreement between formulations
LIMIT_TOLERANCE = 1e-8  # every limit holds to this
SEED = 11
N, K = 12, 5


def small_model(seed: int = SEED) -> xf.FactorModelData:
    """12 names; factors market (1 each), sector:A / sector:B (one-hot), two styles; caps benchmark."""
    rng = np.random.default_rng(seed)
    X = np.zeros((N, K))
    X[:, 0] = 1.0
    sector = np.arange(N) % 2
    X[np.arange(N), 1 + sector] = 1.0
    X[:, 3:] = rng.standard_normal((N, 2))
    A = rng.standard_normal((K, K)) * 0.08
    F = A @ A.T + np.diag([0.03, 0.01, 0.01, 0.004, 0.003])
    d = rng.uniform(0.2, 0.45, N) ** 2
    caps = rng.uniform(1, 10, N)
    return xf.FactorModelData(
        tickers=np.array([f"N{i:02d}" for i in range(N)]),
        factor_names=np.array(["market", "sector:A", "sector:B", "value", "momentum"]),
        factor_groups=np.array(["market", "sector", "sector", "style", "style"]),
        exposures=X,
        factor_covariance=F,
        idiosyncratic_variance=d,
        benchmark_weights=caps / caps.sum(),
        snapshot=None,
    )


def dense_v(data) -> np.ndarray:
    X, F, d = data.exposures, data.factor_covariance, data.idiosyncratic_variance
    return X @ F @ X.T + np.diag(d)


def limits_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["limit", "name", "min", "max"])


def allocation(data, weights) -> pd.DataFrame:
    return pd.DataFrame({"ticker": data.tickers, "allocation": weights})


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def start(model):
    rng = np.random.default_rng(3)
    w = np.zeros(N)
    held = rng.choice(N, 6, replace=False)
    w[held] = rng.uniform(0.5, 1.5, 6)
    return w / w.sum()


LIMITS_A = [["weight", "*", 0.0, 0.25], ["turnover", "", None, 0.35], ["active_exposure", "style", -0.1, 0.1]]


# ---------------------------------------------------------------- second formulations


def dense_cvxpy(data, w0, rows, objective="tracking_error", alpha=None, risk_aversion=1.0):
    """The same problem written with the dense covariance, by hand (independent of the package's constraint code)."""
    import cvxpy as cp

    V = dense_v(data)
    X, b = data.exposures, data.benchmark_weights
    w = cp.Variable(N)
    cons = [cp.sum(w) == w0.sum()]  # the package's default: net held
    for kind, name, lo, hi in rows:
        if kind == "weight":
            cons += ([w >= lo] if lo is not None else []) + ([w <= hi] if hi is not None else [])
        elif kind == "turnover":
            cons.append(cp.maximum(cp.sum(cp.pos(w - w0)), cp.sum(cp.neg(w - w0))) <= hi)
        elif kind == "active_exposure":
            cols = [3, 4] if name == "style" else [list(data.factor_names).index(name)]
            expr = X[:, cols].T @ (w - b)
            cons += ([expr >= lo] if lo is not None else []) + ([expr <= hi] if hi is not None else [])
        elif kind == "tracking_error":
            cons.append(cp.quad_form(w - b, cp.psd_wrap(V)) <= hi**2)
        else:
            raise AssertionError(kind)
    if objective == "tracking_error":
        goal = cp.Minimize(cp.quad_form(w - b, cp.psd_wrap(V)))
    elif objective == "total_risk":
        goal = cp.Minimize(cp.quad_form(w, cp.psd_wrap(V)))
    else:
        goal = cp.Maximize(alpha @ w - risk_aversion * cp.quad_form(w, cp.psd_wrap(V)))
    problem = cp.Problem(goal, cons)
    problem.solve(solver=cp.CLARABEL)
    return np.asarray(w.value), problem.value


def slsqp(data, w0, rows, objective="tracking_error", alpha=None, risk_aversion=1.0, starts=5):
    """scipy SLSQP on (buys u, sells v) with w = w0 + u - v, from several starts; the best optimum."""
    V = dense_v(data)
    X, b = data.exposures, data.benchmark_weights

    def weights(z):
        return w0 + z[:N] - z[N:]

    def f(z):
        w = weights(z)
        if objective == "tracking_error":
            return (w - b) @ V @ (w - b)
        if objective == "total_risk":
            return w @ V @ w
        return -(alpha @ w - risk_aversion * w @ V @ w)

    cons = [{"type": "eq", "fun": lambda z: weights(z).sum() - w0.sum()}]
    for kind, name, lo, hi in rows:
        if kind == "weight":
            if lo is not None:
                cons.append({"type": "ineq", "fun": lambda z, lo=lo: weights(z) - lo})
            if hi is not None:
                cons.append({"type": "ineq", "fun": lambda z, hi=hi: hi - weights(z)})
        elif kind == "turnover":
            cons.append({"type": "ineq", "fun": lambda z, hi=hi: 2 * hi - z.sum()})
        elif kind == "active_exposure":
            cols = [3, 4] if name == "style" else [list(data.factor_names).index(name)]
            if lo is not None:
                cons.append({"type": "ineq", "fun": lambda z, c=cols, lo=lo: X[:, c].T @ (weights(z) - b) - lo})
            if hi is not None:
                cons.append({"type": "ineq", "fun": lambda z, c=cols, hi=hi: hi - X[:, c].T @ (weights(z) - b)})
        elif kind == "tracking_error":
            cons.append({"type": "ineq", "fun": lambda z, hi=hi: hi**2 - (weights(z) - b) @ V @ (weights(z) - b)})
    rng = np.random.default_rng(5)
    best = None
    for _ in range(starts):
        z0 = rng.uniform(0, 0.05, 2 * N)
        out = minimize(f, z0, method="SLSQP", bounds=[(0, None)] * (2 * N), constraints=cons,
                       options={"ftol": 1e-16, "maxiter": 2000})  # fmt: skip
        if out.success and (best is None or out.fun < best.fun):
            best = out
    assert best is not None, "SLSQP found no optimum from any start"
    value = best.fun if objective != "alpha" else -best.fun
    return weights(best.x), value


def violations(data, w, w0, rows) -> float:
    """Largest violation of the rows by ``w`` (numpy, by hand)."""
    V = dense_v(data)
    X, b = data.exposures, data.benchmark_weights
    worst = abs(w.sum() - w0.sum())
    for kind, name, lo, hi in rows:
        if kind == "weight":
            values = w
        elif kind == "turnover":
            values = np.array([max(np.clip(w - w0, 0, None).sum(), np.clip(w0 - w, 0, None).sum())])
        elif kind == "active_exposure":
            cols = [3, 4] if name == "style" else [list(data.factor_names).index(name)]
            values = X[:, cols].T @ (w - b)
        elif kind == "tracking_error":
            values = np.array([math.sqrt((w - b) @ V @ (w - b))])
        lo = -np.inf if lo is None else lo
        hi = np.inf if hi is None else hi
        worst = max(worst, float(np.max(np.maximum(values - hi, lo - values))))
    return worst


CASES = [
    ("tracking_error", LIMITS_A),
    ("tracking_error", [["weight", "*", -0.05, 0.2], ["active_exposure", "value", 0.05, None], ["turnover", "", None, 0.5]]),
    ("total_risk", [["weight", "*", 0.0, 0.3], ["tracking_error", "", None, 0.06]]),
    ("alpha", [["weight", "*", 0.0, 0.3], ["turnover", "", None, 0.3], ["active_exposure", "style", -0.2, 0.2]]),
]


@pytest.mark.parametrize(("objective", "rows"), CASES)
def test_optimum_agrees_with_dense_cvxpy_and_slsqp(model, start, objective, rows):
    alpha = np.linspace(-0.03, 0.05, N) if objective == "alpha" else None
    alpha_frame = None if alpha is None else pd.DataFrame({"ticker": model.tickers, "alpha": alpha})
    result = optimize(model, allocation(model, start), limits_frame(rows), objective=objective, alpha=alpha_frame)
    w = result.target
    V = dense_v(model)
    b = model.benchmark_weights
    mine = {"tracking_error": (w - b) @ V @ (w - b), "total_risk": w @ V @ w}.get(objective)
    if objective == "alpha":
        mine = alpha @ w - w @ V @ w
    w_dense, dense_value = dense_cvxpy(model, start, rows, objective, alpha)
    w_slsqp, slsqp_value = slsqp(model, start, rows, objective, alpha)
    assert mine == pytest.approx(dense_value, abs=OBJECTIVE_TOLERANCE)
    assert mine == pytest.approx(slsqp_value, abs=OBJECTIVE_TOLERANCE)
    # the reported objective is in risk units for the risk objectives
    reported = result.objective_value**2 if objective != "alpha" else result.objective_value
    assert reported == pytest.approx(mine, abs=1e-9)
    assert violations(model, w, start, rows) <= LIMIT_TOLERANCE
    assert not result.check["breach"].any()
    np.testing.assert_allclose(w, w_dense, atol=1e-4)  # strictly convex objectives: the same book


def test_kkt_conditions_hold_at_the_solution(model, start):
    """Stationarity with non-negative multipliers on the active constraints only (found by NNLS)."""
    rows = [["weight", "*", 0.0, 0.25], ["active_exposure", "style", -0.1, 0.1]]
    result = optimize(model, allocation(model, start), limits_frame(rows))
    w = result.target
    V, X, b = dense_v(model), model.exposures, model.benchmark_weights
    gradient = 2 * V @ (w - b)
    # constraints g(w) <= 0 with gradients; the budget sum(w) = 1 both ways
    normals, slack = [], []
    for i in range(N):
        normals += [-np.eye(N)[i], np.eye(N)[i]]
        slack += [w[i] - 0.0, 0.25 - w[i]]
    for c in (3, 4):
        exposure = X[:, c] @ (w - b)
        normals += [X[:, c], -X[:, c]]
        slack += [0.1 - exposure, exposure + 0.1]
    normals += [np.ones(N), -np.ones(N)]
    slack += [0.0, 0.0]
    normals, slack = np.array(normals), np.array(slack)
    assert slack.min() >= -LIMIT_TOLERANCE  # primal feasibility
    active = slack <= 1e-7
    multipliers, residual = nnls(normals[active].T, -gradient)  # dual feasibility: multipliers >= 0
    assert residual <= 1e-6 * max(1.0, np.linalg.norm(gradient))  # stationarity on the active set (complementary slackness)
    assert active.sum() < len(slack)  # something is inactive, so complementary slackness says something


def test_shadow_price_is_the_te_saved_per_unit_of_loosening(model, start):
    """The binding turnover limit's shadow price against a finite difference of the re-solved TE."""
    rows = [["weight", "*", 0.0, 0.3], ["turnover", "", None, 0.2]]
    base = optimize(model, allocation(model, start), limits_frame(rows))
    binding = base.binding.set_index("limit")
    assert "turnover" in binding.index
    step = 1e-4
    looser = optimize(model, allocation(model, start), limits_frame([["weight", "*", 0.0, 0.3], ["turnover", "", None, 0.2 + step]]))
    saved = (base.objective_value - looser.objective_value) / step
    assert saved > 0
    assert binding.loc["turnover", "shadow_price"] == pytest.approx(saved, rel=2e-2)
    assert "TE saved" in base.shadow_price_unit


def test_factor_portfolio_is_a_corner_case(model):
    """Exposure 1 to one style and 0 to the rest, least risk: the closed-form factor portfolio."""
    X, d = model.exposures, model.idiosyncratic_variance
    target = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    rows = [["exposure", f, t, t] for f, t in zip(model.factor_names, target)] + [["net", "", -5, 5]]
    result = optimize(model, allocation(model, np.full(N, 1 / N)), limits_frame(rows), objective="total_risk")
    Di = 1 / d
    expected = (Di[:, None] * X) @ np.linalg.solve(X.T @ (Di[:, None] * X), target)
    np.testing.assert_allclose(result.target, expected, atol=1e-7)
    np.testing.assert_allclose(X.T @ result.target, target, atol=LIMIT_TOLERANCE)


def test_book_inside_its_limits_gets_no_trade(model, start):
    rows = [["weight", "*", 0.0, 0.5], ["tracking_error", "", None, 0.5], ["active_exposure", "style", -3, 3]]
    assert not check_limits(model, allocation(model, start), limits_frame(rows))["breach"].any()
    result = optimize(model, allocation(model, start), limits_frame(rows), objective="trades")
    assert result.trades.empty
    np.testing.assert_array_equal(result.target, start)


def test_turnover_zero_leaves_the_book_unchanged(model, start):
    result = optimize(model, allocation(model, start), limits_frame([["turnover", "", None, 0.0]]))
    assert result.trades.empty
    np.testing.assert_array_equal(result.target, start)
    assert result.tracking_error_after == pytest.approx(result.tracking_error_before, abs=1e-15)


def test_the_lecture_tracking_portfolio_as_a_feasibility_problem():
    """x1 = (0.7, 1.1), x2 = (0.1, 0.5), x3 = (1.5, 1.3); target (1, 1.1); weights sum to 1 -> (1/3, 1/6, 1/2)."""
    data = xf.FactorModelData(
        tickers=np.array(["A1", "A2", "A3"]),
        factor_names=np.array(["f1", "f2"]),
        factor_groups=np.array(["style", "style"]),
        exposures=np.array([[0.7, 1.1], [0.1, 0.5], [1.5, 1.3]]),
        factor_covariance=np.diag([0.04, 0.02]),
        idiosyncratic_variance=np.array([0.01, 0.02, 0.03]),
        benchmark_weights=np.full(3, 1 / 3),
        snapshot=None,
    )
    rows = [["exposure", "f1", 1.0, 1.0], ["exposure", "f2", 1.1, 1.1], ["net", "", 1.0, 1.0]]
    book = pd.DataFrame({"ticker": ["A1"], "allocation": [1.0]})
    for objective in ("trades", "total_risk", "tracking_error"):  # one feasible point: every objective finds it
        result = optimize(data, book, limits_frame(rows), objective=objective)
        np.testing.assert_allclose(result.target, [1 / 3, 1 / 6, 1 / 2], atol=1e-7)


# ---------------------------------------------------------------- check_limits and what_if


def numpy_limit_values(data, w, w0, b):
    """Every scalar kind by hand from the dense covariance."""
    V, X, F, d = dense_v(data), data.exposures, data.factor_covariance, data.idiosyncratic_variance
    x = X.T @ w
    total = w @ V @ w
    return {
        "tracking_error": math.sqrt((w - b) @ V @ (w - b)),
        "total_risk": math.sqrt(total),
        "factor_risk": math.sqrt(x @ F @ x),
        "idiosyncratic_risk": math.sqrt(w @ (d * w)),
        "beta": (w @ V @ b) / (b @ V @ b),
        "factor_share": (x @ F @ x) / total,
        "gross": np.abs(w).sum(),
        "net": w.sum(),
        "turnover": max(np.clip(w - w0, 0, None).sum(), np.clip(w0 - w, 0, None).sum()),  # one-way: the larger side
        "names": float((w != 0).sum()),
    }


def test_check_limits_matches_numpy_on_a_long_short_book_before_and_after_trades(model):
    values = np.array([3, -2, 0, 1.5, -1, 2, 0, -0.5, 1, 0, -1.5, 2.5]) * 1e6
    book = pd.DataFrame({"ticker": model.tickers, "value": values})
    trades = pd.DataFrame({"ticker": ["N01", "N02", "N06", "N00"], "value": [1e6, 5e5, -7.5e5, -1e6]})
    scalar = ["tracking_error", "total_risk", "factor_risk", "idiosyncratic_risk", "beta", "factor_share", "gross", "net",
              "turnover", "names"]  # fmt: skip
    rows = [[k, "", -10, 10] for k in scalar] + [["weight", "*", -0.1, 0.15], ["exposure", "style", -0.3, 0.3],
                                                 ["active_exposure", "momentum", None, 0.2], ["weight", "N03", 0.0, 0.05]]  # fmt: skip
    table = check_limits(model, book, limits_frame(rows), trades).set_index("row")
    gross = np.abs(values).sum()
    w0 = values / gross
    change = np.zeros(N)
    for t, v in zip(trades["ticker"], trades["value"]):
        change[list(model.tickers).index(t)] += v / gross  # decimals of the gross before the trades
    w1 = w0 + change
    b = model.benchmark_weights
    before, after = numpy_limit_values(model, w0, w0, b), numpy_limit_values(model, w1, w0, b)
    for i, kind in enumerate(scalar, start=1):
        assert table.loc[i, "before"] == pytest.approx(before[kind], abs=1e-12), kind
        assert table.loc[i, "after"] == pytest.approx(after[kind], abs=1e-12), kind
    # group rows: the element nearest to or past its bounds, by hand
    X = model.exposures

    def worst(values, lo, hi):
        past = np.maximum(values - hi, lo - values)
        return values[np.argmax(past)], past.max() > 1e-8

    for w, column, breach_column in ((w0, "before", "breach_before"), (w1, "after", "breach")):
        value, breach = worst(w, -0.1, 0.15)
        assert table.loc[11, column] == pytest.approx(value) and table.loc[11, breach_column] == breach
        value, breach = worst(X[:, 3:].T @ w, -0.3, 0.3)
        assert table.loc[12, column] == pytest.approx(value) and table.loc[12, breach_column] == breach
        assert table.loc[13, column] == pytest.approx(X[:, 4] @ (w - b))
        assert table.loc[14, column] == pytest.approx(w[3])
    assert table.loc[11, "breach_before"]  # 3m of 19m gross = 15.8% > 15%
    assert table.loc[11, "at_before"] == "N00"


def test_value_and_allocation_trades_agree(model):
    values = np.array([3, -2, 0, 1.5, -1, 2, 0, -0.5, 1, 0, -1.5, 2.5]) * 1e6
    book = pd.DataFrame({"ticker": model.tickers, "value": values})
    dollars = pd.DataFrame({"ticker": ["N01", "N05"], "value": [1e6, -2e6]})
    weights = pd.DataFrame({"ticker": ["N01", "N05"], "allocation": [1e6 / np.abs(values).sum(), -2e6 / np.abs(values).sum()]})
    a, b = what_if(model, book, dollars), what_if(model, book, weights)
    pd.testing.assert_frame_equal(a.summary, b.summary)
    V = dense_v(model)
    w1 = values / np.abs(values).sum()
    w1[[1, 5]] += np.array([1e6, -2e6]) / np.abs(values).sum()
    assert a.summary.loc["total_risk", "after"] == pytest.approx(math.sqrt(w1 @ V @ w1), abs=1e-12)
    np.testing.assert_allclose(a.exposures["after"], model.exposures.T @ w1, atol=1e-12)


def test_a_ticker_outside_the_universe_is_cash_as_in_the_report(model):
    book = pd.DataFrame({"ticker": ["N00", "N01", "ZZZ"], "value": [1e6, 1e6, 2e6]})
    table = check_limits(model, book, limits_frame([["gross", "", None, 1.0]]))
    assert table.loc[0, "before"] == pytest.approx(0.5)  # ZZZ's half of the gross is cash
    assert table.attrs["missing"]["ticker"].tolist() == ["ZZZ"]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["exposur", "value", 0, 1]], r"limits row 1: unknown limit 'exposur'; did you mean 'exposure'\? choices: weight, exposure"),
        ([["weight", "*", 0, 1], ["exposure", "valeu", 0, 1]], r"limits row 2 \(exposure valeu\): unknown factor 'valeu'; did you mean 'value'\? choices: market, style"),
        ([["weight", "QQQQ", 0, 1]], r"limits row 1 \(weight QQQQ\): QQQQ is neither in the universe \(12 names\)"),
        ([["net", "", 0.5, 0.2]], r"limits row 1 \(net\): min 0.5 is above max 0.2"),
        ([["gross", "", None, None]], r"limits row 1 \(gross\): give a min, a max or both"),
        ([["tracking_error", "x", None, 0.1]], r"limits row 1 \(tracking_error x\): tracking_error takes no name"),
        ([["net", "", "abc", 1]], r"limits row 1: min must be a number"),
    ],
)
def test_bad_rows_are_refused_in_one_line_naming_the_row(model, rows, message):
    with pytest.raises(LimitsError, match=message):
        check_limits(model, allocation(model, np.full(N, 1 / N)), limits_frame(rows))


def test_infeasible_limits_name_the_conflicting_rows(model, start):
    rows = [["weight", "*", 0.0, 0.3], ["active_exposure", "value", 2.0, None], ["turnover", "", None, 0.9], ["beta", "", None, 5]]
    with pytest.raises(InfeasibleLimitsError) as caught:
        optimize(model, allocation(model, start), limits_frame(rows))
    message = str(caught.value)
    assert "row 2 (active_exposure value)" in message
    assert "row 4" not in message  # beta <= 5 takes no part in the conflict
    assert 2 in caught.value.rows and 4 not in caught.value.rows
    assert "\n" not in message


def test_a_minimum_on_a_risk_is_refused_by_the_optimizer(model, start):
    with pytest.raises(LimitsError, match=r"row 1 \(tracking_error\): the optimizer cannot take a minimum"):
        optimize(model, allocation(model, start), limits_frame([["tracking_error", "", 0.01, 0.05]]))


def test_names_heuristic_meets_the_cardinality_and_says_it_is_a_heuristic(model, start):
    rows = [["weight", "*", 0.0, 0.4], ["names", "", None, 4]]
    result = optimize(model, allocation(model, start), limits_frame(rows))
    assert (np.abs(result.target) > 1e-9).sum() <= 4
    assert abs(result.target.sum() - start.sum()) <= LIMIT_TOLERANCE
    assert any("heuristic" in note for note in result.notes)


def test_factor_share_limit_is_met(model, start):
    """The convex-concave procedure: the factor share after is at most the limit (numpy)."""
    before = check_limits(model, allocation(model, start), limits_frame([["factor_share", "", None, 1.0]]))["before"].iloc[0]
    goal = round(before - 0.15, 2)
    result = optimize(model, allocation(model, start), limits_frame([["factor_share", "", None, goal], ["weight", "*", -0.5, 0.5]]),
                      objective="trades")  # fmt: skip
    w = result.target
    X, F, d = model.exposures, model.factor_covariance, model.idiosyncratic_variance
    x = X.T @ w
    assert (x @ F @ x) / (x @ F @ x + w @ (d * w)) <= goal + LIMIT_TOLERANCE


def test_alpha_objective_with_transaction_costs_agrees_with_slsqp(model, start):
    """max alpha'w - w'Vw - c|w - w0|: SLSQP on buys and sells (the cost is linear in them)."""
    alpha = np.linspace(0.06, -0.04, N)
    cost = 0.004
    rows = [["weight", "*", 0.0, 0.3], ["active_exposure", "style", -0.2, 0.2]]
    result = optimize(model, allocation(model, start), limits_frame(rows), objective="alpha",
                      alpha=pd.DataFrame({"ticker": model.tickers, "alpha": alpha}), transaction_cost=cost)  # fmt: skip
    V, X, b = dense_v(model), model.exposures, model.benchmark_weights

    def reward(w):
        return alpha @ w - w @ V @ w - cost * np.abs(w - start).sum()

    def negative(z):
        w = start + z[:N] - z[N:]
        return -(alpha @ w - w @ V @ w - cost * z.sum())

    weights = lambda z: start + z[:N] - z[N:]  # noqa: E731
    cons = [{"type": "eq", "fun": lambda z: weights(z).sum() - 1.0},
            {"type": "ineq", "fun": lambda z: weights(z)}, {"type": "ineq", "fun": lambda z: 0.3 - weights(z)},
            {"type": "ineq", "fun": lambda z: 0.2 - X[:, 3:].T @ (weights(z) - b)},
            {"type": "ineq", "fun": lambda z: X[:, 3:].T @ (weights(z) - b) + 0.2}]  # fmt: skip
    rng = np.random.default_rng(9)
    best = min((minimize(negative, rng.uniform(0, 0.05, 2 * N), method="SLSQP", bounds=[(0, None)] * (2 * N), constraints=cons,
                         options={"ftol": 1e-16, "maxiter": 2000}) for _ in range(5)), key=lambda o: o.fun)  # fmt: skip
    assert reward(result.target) == pytest.approx(-best.fun, abs=OBJECTIVE_TOLERANCE)
    assert result.objective_value == pytest.approx(reward(result.target), abs=1e-9)
    assert len(result.trades) < N  # the cost leaves some names untraded


def test_an_etf_hedge_with_its_own_bounds():
    """SPY as an instrument (demo snapshot): the optimizer's risk after matches the hedging layer's variance of book + hedge."""
    from xlfactor.hedging.instruments import hedged_statistics

    data = xf.factor_model_data()
    etf = "SPY"
    book = pd.DataFrame({"ticker": data.tickers[:4], "value": [4e6, 3e6, 2e6, 1e6]})
    rows = [["weight", etf, -0.6, 0.0], ["turnover", "", None, 0.3]]
    result = optimize(data, book, limits_frame(rows), objective="total_risk", candidates=[etf])
    h = result.target[-1]
    assert result.tickers[-1] == etf and -0.6 - 1e-8 <= h < 0  # a short hedge within its bounds
    np.testing.assert_array_equal(result.target[:-1], result.start[:-1])  # only the ETF is a candidate
    independent = hedged_statistics(data, result.start[:-1], [etf], np.array([h])).risk
    assert result.objective_value == pytest.approx(independent, abs=1e-12)
    unhedged = hedged_statistics(data, result.start[:-1], [etf], np.array([0.0])).risk
    assert independent < unhedged
