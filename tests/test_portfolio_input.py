"""Bad and awkward portfolio input: clear errors, never silent wrong numbers."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.risk.holdings import holdings_from_pairs


def test_unknown_tickers_are_reported_and_treated_as_cash(hand_snapshot):
    with_unknown = pd.DataFrame({"ticker": ["AAA", "ZZZ", "DDD"], "value": [300.0, 100.0, 100.0]})
    report = xf.portfolio_report(with_unknown, hand_snapshot)
    missing = report["missing_holdings"]
    assert list(missing["ticker"]) == ["ZZZ"]
    assert missing["weight"].iloc[0] == pytest.approx(0.2)
    assert report["summary"]["value"]["missing_weight"] == pytest.approx(0.2)
    # Cash: the same figures as the known names alone, at their gross-normalized weights.
    known = pd.DataFrame({"ticker": ["AAA", "DDD"], "allocation": [0.6, 0.2]})
    alone = xf.portfolio_report(known, hand_snapshot)
    for metric in ("total_risk", "tracking_error", "beta", "var_95"):
        assert report["summary"]["value"][metric] == pytest.approx(alone["summary"]["value"][metric], rel=1e-12)
    assert report["style"]["portfolio"].notna().all()
    assert report["attribution"].loc["total", "portfolio"] == pytest.approx(alone["attribution"].loc["total", "portfolio"])


def test_duplicate_and_lower_case_tickers_are_summed(hand_snapshot):
    messy = pd.DataFrame({"ticker": [" aaa", "AAA ", "ddd"], "value": [100.0, 200.0, 100.0]})
    clean = pd.DataFrame({"ticker": ["AAA", "DDD"], "value": [300.0, 100.0]})
    a, b = xf.portfolio_report(messy, hand_snapshot), xf.portfolio_report(clean, hand_snapshot)
    pd.testing.assert_frame_equal(a["summary"], b["summary"])
    assert len(a["missing_holdings"]) == 0


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"ticker": [], "value": []}), "portfolio is empty"),
        (pd.DataFrame({"ticker": ["AAA", "BBB"], "value": [1.0, np.nan]}), "1 non-numeric or missing value\\(s\\): BBB"),
        (pd.DataFrame({"ticker": ["AAA", "BBB"], "value": [1.0, "abc"]}), "non-numeric or missing value\\(s\\): BBB"),
        (pd.DataFrame({"ticker": ["AAA", "BBB"], "value": [0.0, 0.0]}), "zero gross exposure"),
        (pd.DataFrame({"ticker": ["AAA", "BBB"], "value": [5.0, -5.0]}).iloc[:0], "portfolio is empty"),
        (pd.DataFrame({"symbol": ["AAA"], "value": [1.0]}), "no `ticker` column"),
        (pd.DataFrame({"ticker": ["AAA"], "pct": [1.0]}), "unknown column\\(s\\) 'pct'; accepted: ticker, dollars \\(value"),
        (pd.DataFrame({"ticker": ["AAA"], "weight": [1.0], "value": [1.0]}), "exactly one ticker column and one of the columns `value`"),
        (pd.DataFrame({"ticker": ["AAA", None], "value": [1.0, 2.0]}), "1 blank ticker"),
        (pd.DataFrame({"ticker": ["AAA"], "value": [True]}), "non-numeric"),
    ],
)
def test_bad_portfolios_raise_clear_errors(hand_snapshot, frame, message):
    with pytest.raises(xf.PortfolioError, match=message):
        xf.portfolio_report(frame, hand_snapshot)


def test_numbers_as_text_are_accepted(hand_snapshot):
    text = pd.DataFrame({"ticker": ["AAA", "DDD"], "value": [" 1,000 ", "500"]})
    numbers = pd.DataFrame({"ticker": ["AAA", "DDD"], "value": [1000.0, 500.0]})
    pd.testing.assert_frame_equal(
        xf.portfolio_report(text, hand_snapshot)["summary"], xf.portfolio_report(numbers, hand_snapshot)["summary"]
    )


def test_allocations_are_used_as_given(hand_snapshot):
    half = xf.portfolio_report(pd.DataFrame({"ticker": ["AAA"], "allocation": [0.5]}), hand_snapshot)
    full = xf.portfolio_report(pd.DataFrame({"ticker": ["AAA"], "allocation": [1.0]}), hand_snapshot)
    assert full["summary"]["value"]["total_risk"] == pytest.approx(2 * half["summary"]["value"]["total_risk"])


def test_all_missing_portfolio_is_an_error_not_zero_risk(hand_snapshot):
    with pytest.raises(xf.PortfolioError, match=r"none of the 1 portfolio holdings is in the universe hand \(6 tickers\): ZZZ"):
        xf.portfolio_report(pd.DataFrame({"ticker": ["ZZZ"], "value": [1.0]}), hand_snapshot)
    with pytest.raises(xf.PortfolioError, match="none of the 1 benchmark holdings"):
        xf.portfolio_report(pd.DataFrame({"ticker": ["AAA"], "value": [1.0]}), hand_snapshot, benchmark=pd.DataFrame({"ticker": ["QQQ"], "value": [1.0]}))


def test_user_benchmark(hand_snapshot):
    portfolio = pd.DataFrame({"ticker": ["AAA", "DDD"], "value": [1.0, 1.0]})
    same = xf.portfolio_report(portfolio, hand_snapshot, benchmark=portfolio)
    assert same["summary"]["value"]["tracking_error"] == pytest.approx(0.0, abs=1e-15)
    assert same["summary"]["value"]["beta"] == pytest.approx(1.0)
    benchmark = pd.DataFrame({"ticker": ["BBB", "QQQ"], "allocation": [1.0, 0.0]})
    report = xf.portfolio_report(portfolio, hand_snapshot, benchmark=benchmark)
    assert list(report["missing_holdings"]["side"]) == ["benchmark"]
    assert report["attribution"].loc["total", "benchmark"] != 0


def test_holdings_from_pairs_validates_kind():
    with pytest.raises(xf.PortfolioError, match="'value' or 'allocation'"):
        holdings_from_pairs(["AAA"], [1.0], kind="dollars")  # type: ignore[arg-type]


def test_weights_of_wrong_shape_are_refused(hand_snapshot):
    data = xf.factor_model_data(hand_snapshot)
    with pytest.raises(xf.PortfolioError, match=r"weights must have shape \(6,\)"):
        data.risk(np.ones(5))
    with pytest.raises(xf.UnknownTickersError, match="1 unknown tickers: ZZZ"):
        data.risk(pd.Series({"AAA": 0.5, "ZZZ": 0.5}))
    with pytest.raises(xf.PortfolioError, match="confidence"):
        data.var(np.ones(6) / 6, confidence=1.5)
    with pytest.raises(xf.PortfolioError, match="horizon_days"):
        data.var(np.ones(6) / 6, horizon_days=0)
