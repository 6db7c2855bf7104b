"""Hedging front ends: worksheet functions, the ``xlfactor hedge`` command, the report's Hedging sheet.

Each result is checked against an independent numpy computation on the snapshot's arrays
(or the Python API, where the front end is only a different way to call it).
"""

from __future__ import annotations

import json
import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.functions import (
    OF_ETFHEDGE,
    OF_FACTORPORTFOLIO,
    OF_FMCAR,
    OF_HEDGETOSHARE,
    OF_IMPLIEDCOV,
    OF_POSITIONSIZE,
    OF_REGRESS,
    OF_ROLLINGBETA,
    OF_TRACKINGPORTFOLIO,
)
from xlfactor.hedging import cascade as etf_cascade
from xlfactor.risk.timeseries import stock_returns


@pytest.fixture(scope="module")
def book():
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(31)
    picks = rng.choice(snapshot.tickers, 60, replace=False).tolist()
    values = rng.uniform(-2e5, 6e5, 60).round(2).tolist()
    return [["ticker", "value"]] + [[t, v] for t, v in zip(picks, values)]


def _weights(data, rows):
    frame = pd.DataFrame(rows[1:], columns=["ticker", "value"])
    return data.align_holdings(frame).weights


def _lstsq(y, X):
    design = np.column_stack([np.ones(len(y)), X])
    return np.linalg.lstsq(design, y, rcond=None)[0]


def test_of_regress_on_a_ticker_and_on_a_portfolio(book):
    data = xf.factor_model_data()
    snap = data.snapshot
    result = OF_REGRESS("sim0007", [["market", "momentum"]])
    assert result[0][:4] == ["term", "coefficient", "std_error", "t_stat"]
    r = stock_returns(snap)["SIM0007"].to_numpy()
    coef = _lstsq(r, snap.factor_returns.loc[snap.residual_returns.index, ["market", "momentum"]].to_numpy())
    np.testing.assert_allclose([row[1] for row in result[1:4]], coef, rtol=1e-9)
    labels = [row[0] for row in result]
    assert {"r_squared", "adj_r_squared", "residual_volatility", "alpha_annualized"} <= set(labels)

    portfolio = OF_REGRESS("portfolio", [["SPY"], ["XLK"]], None, book)
    w = _weights(data, book)
    series = stock_returns(snap).to_numpy() @ w
    coef = _lstsq(series, snap.index_returns[["SPY", "XLK"]].to_numpy())
    np.testing.assert_allclose([row[1] for row in portfolio[1:4]], coef, rtol=1e-9)


def test_of_regress_on_user_columns_and_errors():
    rng = np.random.default_rng(4)
    f = rng.normal(0, 0.01, (80, 2))
    y = 0.001 + f @ [0.7, -0.2] + rng.normal(0, 0.003, 80)
    returns = [["fund"]] + [[v] for v in y]
    factors = [["mkt", "hml"]] + f.tolist()
    returns[10] = [None]  # a blank cell drops that day
    result = OF_REGRESS(returns, factors, 3)
    keep = np.arange(80) != 9
    np.testing.assert_allclose([row[1] for row in result[1:4]], _lstsq(y[keep], f[keep]), rtol=1e-9)
    assert [row[0] for row in result[1:4]] == ["alpha", "mkt", "hml"]
    assert OF_REGRESS(returns, factors[:50]).startswith("#XLFACTOR: returns has 80 rows but factors has 49")
    assert OF_REGRESS("SIM0001", [["nothing"]]).startswith("#XLFACTOR: factors: not a model factor")
    assert OF_REGRESS("NOPE", [["market"]]).startswith("#XLFACTOR: 1 unknown tickers: NOPE")
    assert OF_REGRESS("portfolio", [["market"]]).startswith("#XLFACTOR: returns 'portfolio' needs a holdings range")


def test_of_fmcar_and_rolling_beta():
    fmcar = OF_FMCAR("SIM0010", [["SPY", "XLK"]])
    assert fmcar[0] == ["factor", "beta", "fmcar"]
    assert fmcar[-1][0] == "total" and fmcar[-1][2] == pytest.approx(1.0, abs=1e-12)
    parts = sum(row[2] for row in fmcar[1:-1])
    assert parts == pytest.approx(1.0, abs=1e-12)
    rolling = OF_ROLLINGBETA("SIM0010", [["SPY"]], 63)
    snap = xf.load_snapshot()
    n = len(snap.residual_returns)  # the stock-return window (the factor history may be longer)
    assert len(rolling) == 1 + (n - 63 + 1) + 1 and rolling[-1][0] == "jarque_bera_p"
    r = stock_returns(snap)["SIM0010"].to_numpy()[-63:]
    spy = snap.index_returns["SPY"].to_numpy()[-63:]
    assert rolling[-2][1] == pytest.approx(np.polyfit(spy, r, 1)[0], rel=1e-9)
    assert 0 <= rolling[-1][1] <= 1


def test_of_factorportfolio_and_trackingportfolio():
    data = xf.factor_model_data()
    names = list(data.factor_names)
    spilled = OF_FACTORPORTFOLIO("value")
    weights = {r[0]: r[1] for r in spilled[1:] if r[0] in set(data.tickers)}
    w = np.array([weights.get(t, 0.0) for t in data.tickers])
    np.testing.assert_allclose(data.exposures.T @ w, np.eye(len(names))[names.index("value")], atol=1e-10)
    assert spilled[-1][0] == "idiosyncratic risk" and spilled[-1][1] == pytest.approx(math.sqrt(w * w @ data.idiosyncratic_variance))

    tickers = ["SIM0003", "SIM0100", "SIM0500"]
    result = OF_TRACKINGPORTFOLIO([["momentum", 0.4], ["value", -0.2]], [tickers])
    assert result[-1] == ["method", "exact"]
    h = np.array([row[1] for row in result[1:4]])
    rows = [list(data.tickers).index(t) for t in tickers]
    X = data.exposures[rows][:, [names.index("momentum"), names.index("value")]]
    np.testing.assert_allclose(X.T @ h, [0.4, -0.2], atol=1e-10)
    assert h.sum() == pytest.approx(1.0)
    assert OF_TRACKINGPORTFOLIO([["momentum", 1], ["value", 1], ["size", 1]], [tickers[:2]]).startswith("#XLFACTOR: cannot track")
    assert OF_TRACKINGPORTFOLIO([["qualityx", 1]], [tickers]).startswith("#XLFACTOR: target: unknown factor")


def test_of_positionsize_uses_total_or_idiosyncratic_risk(book):
    data = xf.factor_model_data()
    i = list(data.tickers).index("SIM0042")
    x = data.exposures[i]
    total = math.sqrt(x @ data.factor_covariance @ x + data.idiosyncratic_variance[i])
    assert OF_POSITIONSIZE("SIM0042", 1e6, "monthly") == pytest.approx(1e6 / (total / math.sqrt(252) * math.sqrt(21)))
    idiosyncratic = math.sqrt(data.idiosyncratic_variance[i])
    assert OF_POSITIONSIZE("SIM0042", 1e6, 252, True) == pytest.approx(1e6 / idiosyncratic)
    w = _weights(data, book)
    assert OF_POSITIONSIZE(book, 5e5) == pytest.approx(5e5 / (data.risk(w) / math.sqrt(252)))
    assert OF_POSITIONSIZE("SIM0042", -1).startswith("#XLFACTOR: budget must be a positive")


def test_of_hedgetoshare_reaches_the_limit(book):
    data = xf.factor_model_data()
    w = _weights(data, book)
    result = OF_HEDGETOSHARE(book, 0.4)
    rows = {r[0]: r[1] for r in result[1:]}
    names = list(data.factor_names)
    x = data.exposures.T @ w
    after = x.copy()
    for name, amount in rows.items():
        if name in names:
            after[names.index(name)] += amount
    factor = after @ data.factor_covariance @ after
    idiosyncratic = w * w @ data.idiosyncratic_variance
    assert factor / (factor + idiosyncratic) == pytest.approx(0.4, abs=1e-12)
    assert rows["factor share after"] == pytest.approx(0.4, abs=1e-12)
    assert rows["factor share before"] == pytest.approx(x @ data.factor_covariance @ x / (x @ data.factor_covariance @ x + idiosyncratic))
    assert OF_HEDGETOSHARE(book, 1.5).startswith("#XLFACTOR: limit must be")


def test_of_etfhedge_matches_the_portfolio_cascade(book):
    data = xf.factor_model_data()
    w = _weights(data, book)
    expected = etf_cascade.portfolio_cascade(etf_cascade.universe_cascade(data), w, 3)
    result = OF_ETFHEDGE(book)
    assert result[0] == ["etf", "level 1", "level 2", "level 3"]
    rows = {r[0]: r[1:] for r in result[1:]}
    for j, etf in enumerate(expected.etfs):
        if etf in rows:
            np.testing.assert_allclose(rows[etf], expected.hedge_ratios[:, j], atol=1e-15)
    assert sum(rows["explained risk"]) + rows["residual share"][-1] == pytest.approx(1.0, abs=1e-12)
    assert any(e in rows for e in ("SOXX", "XBI", "KBE", "XOP", "IGV"))  # subsector ETFs reach the demo books
    single = OF_ETFHEDGE("SIM0001", 1)
    assert single[0] == ["etf", "level 1"] and single[1][0] == "SPY"
    assert OF_ETFHEDGE(book, 5).startswith("#XLFACTOR: levels must be 1, 2 or 3")


def test_of_impliedcov():
    data = xf.factor_model_data()
    tickers = ["SIM0001", "SIM0002", "SIM0003"]
    result = OF_IMPLIEDCOV([tickers])
    rows = [list(data.tickers).index(t) for t in tickers]
    B = data.exposures[rows]
    V = B @ data.factor_covariance @ B.T + np.diag(data.idiosyncratic_variance[rows])
    np.testing.assert_allclose([r[1:] for r in result[1:4]], V, rtol=1e-12)
    k = len(data.factor_names)
    assert result[4][:2] == ["parameters", 3 * k + k * (k + 1) // 2 + 3] and result[5][:2] == ["sample parameters", 6]


def test_cli_hedge_text_and_json(tmp_path, capsys, book):
    from xlfactor.cli import main

    path = tmp_path / "book.csv"
    pd.DataFrame(book[1:], columns=book[0]).to_csv(path, index=False)
    assert main(["hedge", "--portfolio", str(path), "--levels", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    data = xf.factor_model_data()
    expected = etf_cascade.portfolio_cascade(etf_cascade.universe_cascade(data), _weights(data, book), 2)
    for j, etf in enumerate(expected.etfs):
        if expected.hedge_ratios[-1, j]:
            assert out["hedges"][etf]["etf_cascade"] == pytest.approx(expected.hedge_ratios[-1, j], abs=1e-15)
    assert out["simulated"] is True and set(out["summary"]) == {"unhedged", "etf_cascade", "minimum_te"}
    assert abs(out["summary"]["minimum_te"]["risk"]) <= out["summary"]["etf_cascade"]["risk"] + 1e-12  # the model's optimum
    assert main(["hedge", "--portfolio", str(path)]) == 0
    text = capsys.readouterr().out
    assert "minimum_te" in text and "level_2" in text
    assert main(["hedge", "--portfolio", str(tmp_path / "missing.csv")]) == 2


def test_report_workbook_has_the_hedging_sheet(tmp_path, book):
    from xlfactor.excel.report_workbook import write_report_workbook
    from xlfactor.hedging.hedge_summary import hedge_comparison

    frame = pd.DataFrame(book[1:], columns=book[0])
    path = write_report_workbook(tmp_path / "r.xlsx", frame)
    ws = openpyxl.load_workbook(path)["Hedging"]
    data = xf.factor_model_data()
    expected = hedge_comparison(data, _weights(data, book))
    cells = {ws.cell(row=r, column=1).value: [ws.cell(row=r, column=c).value for c in range(2, 5)] for r in range(1, ws.max_row + 1)}
    for etf, row in expected.hedges.iterrows():
        assert cells[etf][:2] == pytest.approx([row["etf_cascade"], row["minimum_te"]], abs=1e-15)
    for name, label in (("unhedged", "Unhedged"), ("etf_cascade", "Cascade hedge"), ("minimum_te", "Minimum-TE hedge")):
        assert cells[label] == pytest.approx(expected.summary.loc[name].tolist(), abs=1e-15)
    assert expected.summary.loc["minimum_te", "risk"] < expected.summary.loc["unhedged", "risk"]


def test_hedging_sheet_explains_when_no_etf_hedge_is_possible(tmp_path, hand_snapshot):
    from xlfactor.excel.hedging_sheet import write_hedging_sheet

    data = xf.factor_model_data(hand_snapshot)
    wb = openpyxl.Workbook()
    w = np.zeros(len(data.tickers))
    w[0] = 1.0
    write_hedging_sheet(wb.active, data, w)
    texts = [c.value for row in wb.active.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("No ETF hedge for this book:") for t in texts) or any(t == "SPY" for t in texts)
