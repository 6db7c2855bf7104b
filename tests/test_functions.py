"""Every OF_ function with Excel-shaped input equals the Python API; bad input gives #XLFACTOR."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor import functions as fn
from xlfactor.functions import CATALOG

REL = 1e-12
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def book():
    """A portfolio as Excel sends it: header, padded lower-case tickers, a blank row, None cells."""
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(5)
    picks = rng.choice(snapshot.tickers, 60, replace=False)
    values = np.round(rng.uniform(-2e5, 8e5, 60), 2)
    rows = [["Ticker", "Value"]] + [[f" {t.lower()} ", float(v)] for t, v in zip(picks, values)]
    rows.insert(10, [None, None])
    frame = pd.DataFrame({"ticker": picks, "value": values})
    bench_rows = [["ticker", "allocation"]] + [[t, 0.1] for t in snapshot.tickers[:10]]
    bench_frame = pd.DataFrame({"ticker": snapshot.tickers[:10], "allocation": 0.1})
    return rows, frame, bench_rows, bench_frame


def test_catalog_matches_the_design_table():
    design = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
    expected = {
        "OF_TOTALRISK", "OF_FACTORRISK", "OF_IDIORISK", "OF_TRACKINGERROR", "OF_BETA", "OF_VAR",
        "OF_EXPOSURE", "OF_ACTIVEEXPOSURE", "OF_RISKCONTRIB", "OF_IDIOCONTRIB", "OF_MCTR",
        "OF_ATTRIBUTION", "OF_HEDGE", "OF_FACTORS", "OF_FACTORVOL", "OF_FACTORCORR", "OF_SNAPSHOT",
        "OF_THEMES",
    }  # fmt: skip
    expected |= {"OF_STRESS", "OF_SCENARIO", "OF_HISTVAR", "OF_HISTES"}  # issue 12: scenarios
    expected |= {  # issue 11: acting on risk (xlfactor/functions/hedging.py)
        "OF_REGRESS", "OF_FMCAR", "OF_ROLLINGBETA", "OF_FACTORPORTFOLIO", "OF_TRACKINGPORTFOLIO",
        "OF_POSITIONSIZE", "OF_HEDGETOSHARE", "OF_ETFHEDGE", "OF_IMPLIEDCOV",
    }  # fmt: skip
    if design.is_file():
        expected |= set(re.findall(r"`(OF_[A-Z]+)\(", design.read_text()))
    assert expected <= set(CATALOG)  # every designed function; later areas add theirs (README reference is generated)
    for entry in CATALOG.values():
        assert entry.description and all(a.help for a in entry.arguments)
        assert getattr(fn, entry.name) is entry.function


def test_scalars_equal_the_report(book):
    rows, frame, bench_rows, bench_frame = book
    report = xf.portfolio_report(frame)
    summary = report["summary"]["value"]
    var_table = report["var"].set_index(["confidence", "horizon_days"])
    assert fn.OF_TOTALRISK(rows) == pytest.approx(summary["total_risk"], rel=REL)
    assert fn.OF_FACTORRISK(rows) == pytest.approx(summary["factor_risk"], rel=REL)
    assert fn.OF_IDIORISK(rows) == pytest.approx(summary["idiosyncratic_risk"], rel=REL)
    assert fn.OF_TRACKINGERROR(rows) == pytest.approx(summary["tracking_error"], rel=REL)
    assert fn.OF_BETA(rows) == pytest.approx(summary["beta"], rel=REL)
    assert fn.OF_VAR(rows) == pytest.approx(summary["var_95"], rel=REL)
    assert fn.OF_VAR(rows, 0.99, None, True) == pytest.approx(summary["active_var_99"], rel=REL)
    # 10 days: the forecast of that horizon (between the one-day and the 21-day one), as the report's VaR table
    assert fn.OF_VAR(rows, "0.99", 10.0) == pytest.approx(var_table.loc[(0.99, 10), "var"], rel=REL)
    versus = xf.portfolio_report(frame, benchmark=bench_frame)["summary"]["value"]
    assert fn.OF_TRACKINGERROR(rows, bench_rows) == pytest.approx(versus["tracking_error"], rel=REL)
    assert fn.OF_BETA(rows, bench_rows) == pytest.approx(versus["beta"], rel=REL)


def test_group_risk_equals_the_decomposition(book):
    rows, frame, *_ = book
    decomposition = xf.portfolio_report(frame)["risk_decomposition"]
    for group in ("market", "style", "Sector", " industry "):
        assert fn.OF_FACTORRISK(rows, group) == pytest.approx(decomposition.loc[group.strip().lower(), "risk"], rel=REL)


def test_tables_equal_the_api(book):
    rows, frame, bench_rows, bench_frame = book
    report = xf.portfolio_report(frame)
    data = xf.factor_model_data()
    w = data.align_holdings(frame).weights
    exposures = fn.OF_EXPOSURE(rows)
    assert exposures[0] == ["factor", "group", "exposure"]
    np.testing.assert_allclose([r[2] for r in exposures[1:]], data.factor_exposure(w), rtol=REL)
    assert fn.OF_EXPOSURE(rows, "Momentum") == pytest.approx(data.factor_exposure(w)[list(data.factor_names).index("momentum")], rel=REL)
    active = fn.OF_ACTIVEEXPOSURE(rows, "sector:Energy")
    assert active == pytest.approx(report["sector"].set_index("sector").loc["Energy", "active"], rel=REL)
    contrib = fn.OF_RISKCONTRIB(rows, True)
    assert contrib[-1][0] == "idiosyncratic"
    assert sum(r[4] for r in contrib[1:]) == pytest.approx(1.0, rel=REL)
    assert sum(r[3] for r in contrib[1:]) == pytest.approx(report["summary"]["value"]["tracking_error"], rel=REL)
    active_table = report["active_risk"].set_index("factor")
    market = next(r for r in contrib if r[0] == "market")
    assert market[4] == pytest.approx(active_table.loc["market", "te_share"], rel=REL)
    idiosyncratic = fn.OF_IDIOCONTRIB(rows)
    expected = report["idiosyncratic_by_name"]
    assert [r[0] for r in idiosyncratic[1:]] == list(expected["ticker"])
    np.testing.assert_allclose([r[4] for r in idiosyncratic[1:]], expected["share"], rtol=REL)
    mctr = fn.OF_MCTR(rows)
    holdings = report["holdings"].set_index("ticker")
    for ticker, weight, marginal, contribution, share in mctr[1:]:
        assert marginal == pytest.approx(holdings.loc[ticker, "marginal_contribution"], rel=REL)
    first = mctr[1][0]
    assert fn.OF_MCTR(rows, first.lower()) == pytest.approx(holdings.loc[first, "marginal_contribution"], rel=REL)
    attribution = fn.OF_ATTRIBUTION(rows)
    values = {r[0]: r[1:] for r in attribution[1:]}
    np.testing.assert_allclose(values["total"], report["attribution"].loc["total"], rtol=REL)
    assert attribution[0][0] == f"component ({report['attribution'].attrs['date']})"
    earlier = fn.OF_ATTRIBUTION(rows, xf.risk.attributable_dates(data.snapshot)[0])
    assert earlier[1:] != attribution[1:]


def test_model_facts(model, hand_folder):
    """Against the hand model's own covariance (the input written to the folder, not what xlfactor read)."""
    from tests.handmodel import FACTORS

    F = model.factor_covariance
    folder = str(hand_folder)
    factors = fn.OF_FACTORS(folder)
    assert sorted(r[0] for r in factors[1:]) == sorted(FACTORS)
    vols = {r[0]: r[2] for r in factors[1:]}
    for k, name in enumerate(FACTORS):
        assert vols[name] == pytest.approx(math.sqrt(F[k, k]), rel=REL)
    i, j = FACTORS.index("market"), FACTORS.index("momentum")
    assert fn.OF_FACTORVOL("Momentum", folder) == pytest.approx(math.sqrt(F[j, j]), rel=REL)
    expected = np.corrcoef(np.random.default_rng(0).multivariate_normal(np.zeros(len(F)), F, 200_000).T)[i, j]
    assert fn.OF_FACTORCORR([["market"]], "momentum", folder) == pytest.approx(F[i, j] / math.sqrt(F[i, i] * F[j, j]), rel=REL)
    assert fn.OF_FACTORCORR("market", "momentum", folder) == pytest.approx(expected, abs=0.01)  # a sampled correlation agrees
    assert fn.OF_FACTORCORR("momentum", "momentum", folder) == pytest.approx(1.0, rel=REL)
    data = xf.factor_model_data()
    assert len(fn.OF_FACTORS()) == len(data.factor_names) + 1
    assert fn.OF_SNAPSHOT("simulated") is True
    assert fn.OF_SNAPSHOT("tickers") == 1000
    assert dict(fn.OF_SNAPSHOT()[1:])["as_of_date"] == data.snapshot.as_of


def test_hedge_minimizes_risk(book):
    rows, frame, *_ = book
    data = xf.factor_model_data()
    w = data.align_holdings(frame).weights
    result = fn.OF_HEDGE(rows, [["SPY"], [None], ["XLK"]])
    assert [r[0] for r in result[1:3]] == ["SPY", "XLK"]
    hedged_risk = result[-1][1]
    assert hedged_risk < data.risk(w)
    # Independent: the full asset covariance V = X F X' + diag(d) built here, then quadratic forms.
    V = data.exposures @ data.factor_covariance @ data.exposures.T + np.diag(data.idiosyncratic_variance)
    b = data.benchmark_weights
    stock = data.tickers[0]
    e = np.zeros(len(w))
    e[0] = 1.0
    beta_hedge = fn.OF_HEDGE(rows, [[stock]], "beta")
    hedged = w + beta_hedge[1][1] * e
    assert hedged @ V @ b / (b @ V @ b) == pytest.approx(0.0, abs=1e-10), "the beta hedge leaves no beta"
    assert beta_hedge[1][2] == pytest.approx(e @ V @ b / (b @ V @ b), rel=1e-9)
    assert beta_hedge[-1][1] == pytest.approx(math.sqrt(hedged @ V @ hedged), rel=1e-9)
    # Minimum risk with one stock: the closed form h = -(e' V w) / (e' V e).
    h = fn.OF_HEDGE(rows, [[stock]])[1][1]
    assert h == pytest.approx(-(e @ V @ w) / (e @ V @ e), rel=1e-9)
    # Minimum tracking error with two stocks: solve the 2x2 normal equations on the active weights.
    pair = np.zeros((len(w), 2))
    pair[0, 0] = pair[1, 1] = 1.0
    te = fn.OF_HEDGE(rows, [[data.tickers[0]], [data.tickers[1]]], "te")
    expected = np.linalg.solve(pair.T @ V @ pair, -(pair.T @ V @ (w - b)))
    np.testing.assert_allclose([te[1][1], te[2][1]], expected, rtol=1e-9)
    active = w - b + pair @ expected
    assert te[-1][1] == pytest.approx(math.sqrt(active @ V @ active), rel=1e-9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fn.OF_TRACKINGERROR([["ZZZ", 1.0], ["QQQQ", 2.0], ["SIM0001", 1.0]]), "2 unknown tickers: ZZZ, QQQQ"),
        (lambda: fn.OF_TOTALRISK([[None, None]]), "holdings range is empty"),
        (lambda: fn.OF_TOTALRISK([["ticker", "value"]]), "header but no holdings"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", "abc"]]), "non-numeric"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", None]]), "has no value"),
        (lambda: fn.OF_TOTALRISK([[None, 5.0]]), "has a value but no ticker"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", 0.0]]), "zero gross"),
        (lambda: fn.OF_TOTALRISK("SIM0001"), "two-column range"),
        (lambda: fn.OF_VAR([["SIM0001", 1.0]], 1.5), "confidence"),
        (lambda: fn.OF_VAR([["SIM0001", 1.0]], "high"), "`confidence` must be a number"),
        (lambda: fn.OF_VAR([["SIM0001", 1.0]], None, None, "maybe"), "TRUE or FALSE"),
        (lambda: fn.OF_FACTORRISK([["SIM0001", 1.0]], "quality"), "group must be one of"),
        (lambda: fn.OF_EXPOSURE([["SIM0001", 1.0]], "quality"), "unknown factor 'quality'"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", 1.0]], "/no/such/snapshot"), "snapshot folder not found"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", 1.0]], None, "yesterday"), "`as_of` must be a date"),
        (lambda: fn.OF_TOTALRISK([["SIM0001", 1.0]], None, "2020-01-01"), "demo snapshot is as of"),
        (lambda: fn.OF_HEDGE([["SIM0001", 1.0]], [["SPY"]], "magic"), "objective must be one of"),
        (lambda: fn.OF_HEDGE([["SIM0001", 1.0]], [["NOPE"]]), "1 unknown tickers: NOPE"),
        (lambda: fn.OF_ATTRIBUTION([["SIM0001", 1.0]], "2001-01-01"), "no attribution for 2001-01-01"),
        (lambda: fn.OF_SNAPSHOT("colour"), "field must be one of"),
        (lambda: fn.OF_MCTR([["SIM0001", 1.0]], "ZZZ"), "1 unknown tickers: ZZZ"),
    ],
)
def test_bad_input_gives_a_one_line_message(call, message):
    result = call()
    assert isinstance(result, str) and result.startswith("#XLFACTOR: "), result
    assert "\n" not in result and len(result) <= fn.MAX_MESSAGE
    assert re.search(message, result), result


def test_ignore_unknown_treats_them_as_cash():
    rows = [["SIM0001", 1.0], ["ZZZ", 1.0]]
    assert fn.OF_TOTALRISK(rows, None, None, True) == pytest.approx(fn.OF_TOTALRISK([["ticker", "allocation"], ["SIM0001", 0.5]]), rel=REL)


def test_internal_errors_never_escape(monkeypatch):
    from xlfactor.risk import model_data

    monkeypatch.setattr(model_data.FactorModelData, "risk", lambda *a: 1 / 0)
    result = fn.OF_TOTALRISK([["SIM0001", 1.0]])
    assert result.startswith("#XLFACTOR: internal error (ZeroDivisionError")


def test_cli_lists_the_catalog(capsys):
    from xlfactor.cli import main

    assert main(["functions"]) == 0
    out = capsys.readouterr().out
    for entry in CATALOG.values():
        assert entry.signature in out and entry.description in out
