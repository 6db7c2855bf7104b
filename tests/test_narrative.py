"""The tear sheet's sentences: written from the numbers, checked against numbers computed here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.reporting.narrative import driver_phrase, largest_te_driver, money, tear_sheet_sentences

ROOT = Path(__file__).resolve().parents[1]


def hand_report(driver: str = "sector:Energy", share: float = 0.31) -> dict[str, pd.DataFrame]:
    """A report with known numbers: TE 12.6%, 6% idiosyncratic; ``driver`` carries ``share`` of TE²."""
    summary = pd.DataFrame({"value": {"total_risk": 0.187, "beta": 0.82, "tracking_error": 0.126,
                                      "idiosyncratic_share_of_te": 0.06, "var_95": 0.0167}})  # fmt: skip
    rows = [("market", "market", -0.23, 0.08), ("size", "style", -1.12, 0.2), ("sector:Energy", "sector", -0.124, 0.05),
            ("idiosyncratic", "idiosyncratic", np.nan, 0.06)]  # fmt: skip
    active = pd.DataFrame(rows, columns=["factor", "group", "active_exposure", "te_share"])
    active.loc[active["factor"] == driver, "te_share"] = share
    decomposition = pd.DataFrame(
        {"share": [0.97, 0.5, 0.4, 0.04, 0.03, 0.03], "active_share": [0.94, 0.08, 0.55, 0.31, 0.0, 0.06]},
        index=["common_factor", "market", "style", "sector", "industry", "idiosyncratic"],
    )
    holdings = pd.DataFrame({"ticker": ["AAA", "BBB"], "weight": [0.6, -0.4], "risk_contribution": [0.05, 0.137]})
    return {"summary": summary, "active_risk": active, "risk_decomposition": decomposition, "holdings": holdings}


def test_sentences_say_the_numbers():
    sentences = tear_sheet_sentences(hand_report(), gross_dollars=9_360_000.0)
    assert 3 <= len(sentences) <= 5
    assert sentences[0] == "Total risk is 18.7% a year, 97% of its variance from factors; the ex-ante beta to the benchmark is 0.82."
    assert sentences[1] == "Tracking error is 12.6%, 94% of it from factors; the largest driver is the Energy underweight (-12.4%), 31% of TE²."
    assert sentences[2] == ("By group, TE² comes from style factors 55%, sectors 31%, the market 8%, idiosyncratic risk 6% "
                            "and industries 0%.")  # fmt: skip
    # BBB: 0.137 of the 0.187 total risk, short 40% of gross
    assert sentences[3] == "The largest single-name risk is BBB (short 40.0% of gross), 73% of total risk."
    assert sentences[4] == f"One-day VaR at 95% is 1.67% of gross (${0.0167 * 9_360_000:,.0f} on a $9,360,000 book)."


def test_the_driver_is_the_largest_share_and_said_by_its_kind():
    assert "the size exposure (-1.12), 45% of TE²" in tear_sheet_sentences(hand_report("size", 0.45))[1]
    assert "the market underweight (active exposure -0.23), 40% of TE²" in tear_sheet_sentences(hand_report("market", 0.4))[1]
    report = hand_report()
    report["active_risk"].loc[report["active_risk"]["factor"] == "idiosyncratic", "te_share"] = 0.9
    assert largest_te_driver(report["active_risk"]).factor == "sector:Energy"  # idiosyncratic risk is not a factor
    driver = largest_te_driver(pd.DataFrame({"factor": ["industry:Banks"], "group": ["industry"], "active_exposure": [0.031],
                                             "te_share": [0.5]}))  # fmt: skip
    assert driver_phrase(driver) == "the Banks overweight (+3.1%)"
    assert money(-445_660.4) == "-$445,660" and money(1200) == "$1,200"


def independent_te_shares(data, weights: np.ndarray) -> pd.Series:
    """Each factor's share of TE² from the model arrays: x_k (F x)_k / (x'Fx + sum a² d)."""
    active = weights - data.benchmark_weights
    x = data.exposures.T @ active
    f = data.factor_covariance
    te2 = x @ f @ x + np.sum(active**2 * data.idiosyncratic_variance)
    return pd.Series(x * (f @ x) / te2, index=data.factor_names)


def phrase_name(factor: str) -> str:
    return factor.split(":", 1)[1] if ":" in factor else factor.replace("_", " ")


def test_change_the_book_and_the_sentence_names_the_new_largest_driver():
    data = xf.factor_model_data()
    book = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    shares = independent_te_shares(data, data.align_holdings(book).weights)
    first = shares.idxmax()
    sentence = tear_sheet_sentences(xf.portfolio_report(book))[1]
    assert f"the largest driver is the {phrase_name(first)} " in sentence and f"{shares.max():.0%} of TE²" in sentence

    # add a large long book of one sector the first book hardly bets on: that sector becomes the driver
    sector_shares = shares[[f for f, g in zip(data.factor_names, data.factor_groups) if g == "sector"]]
    target = sector_shares.abs().idxmin()
    snapshot = xf.load_snapshot()
    sector_of = pd.Series(np.asarray(snapshot.exposures[:, list(data.factor_names).index(target)]), index=data.tickers)
    members = sector_of[sector_of == 1].index[:30]
    changed = pd.concat([book, pd.DataFrame({"ticker": members, "value": 2_000_000.0})], ignore_index=True)
    shares = independent_te_shares(data, data.align_holdings(changed).weights)
    assert shares.idxmax() == target != first  # the change did what it was meant to
    sentence = tear_sheet_sentences(xf.portfolio_report(changed))[1]
    assert f"the largest driver is the {phrase_name(target)} overweight" in sentence
    assert f"{shares.max():.0%} of TE²" in sentence


def test_the_top_name_is_the_largest_risk_contribution():
    data = xf.factor_model_data()
    book = pd.read_csv(ROOT / "examples" / "portfolio.csv")
    w = data.align_holdings(book).weights
    covariance = data.exposures @ data.factor_covariance @ data.exposures.T + np.diag(data.idiosyncratic_variance)
    total = np.sqrt(w @ covariance @ w)
    contribution = w * (covariance @ w) / total
    top = int(np.argmax(np.abs(contribution)))
    sentence = tear_sheet_sentences(xf.portfolio_report(book))[3]
    side = "long" if w[top] > 0 else "short"
    assert sentence == (f"The largest single-name risk is {data.tickers[top]} ({side} {abs(w[top]):.1%} of gross), "
                        f"{contribution[top] / total:.0%} of total risk.")  # fmt: skip
    assert total == pytest.approx(xf.portfolio_report(book)["summary"].loc["total_risk", "value"], rel=1e-9)


def test_a_share_that_rounds_to_zero_is_not_negative_zero():
    report = hand_report()
    report["risk_decomposition"].loc["industry", "active_share"] = -0.004  # a tiny negative share, as on the demo
    sentence = next(s for s in tear_sheet_sentences(report) if s.startswith("By group"))
    assert "-0%" not in sentence
    assert sentence.endswith("and industries 0%.")
