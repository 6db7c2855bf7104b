"""Many books at once: batch_risk against portfolio_report, the long-table reader, failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import xlfactor as xf
from xlfactor.risk.batch import BATCH_COLUMNS, book_weights


def _random_books(tickers: np.ndarray, n_books: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for p in range(n_books):
        size = int(rng.integers(1, 300))
        picks = rng.choice(tickers, size, replace=True)  # duplicates are summed
        values = rng.uniform(-2e5, 5e5, size)
        frames.append(pd.DataFrame({"portfolio": f"book{p:02d}", "ticker": picks, "value": values}))
    return pd.concat(frames, ignore_index=True)


def _report_summaries(long: pd.DataFrame, snapshot, benchmark=None) -> pd.DataFrame:
    rows = {}
    for name, book in long.groupby("portfolio", sort=False):
        rows[name] = xf.portfolio_report(book[["ticker", "value"]], snapshot, benchmark)["summary"]["value"]
    return pd.DataFrame(rows).T


@pytest.mark.parametrize("form", ["sparse", "dense"])
def test_batch_risk_equals_portfolio_report_summary_for_50_books(form):
    snapshot = xf.load_snapshot()
    data = xf.factor_model_data(snapshot)
    long = _random_books(data.tickers, 50, seed=15)
    expected = _report_summaries(long, snapshot)
    books = book_weights(long, data.ticker_index)
    assert not books.failed and books.names.tolist() == expected.index.tolist()
    W = books.weights if form == "sparse" else books.weights.toarray()
    got = xf.batch_risk(data, W, index=books.names)
    for column in BATCH_COLUMNS:
        np.testing.assert_allclose(got[column], expected[column].astype(float), rtol=0, atol=1e-12, err_msg=column)
    np.testing.assert_array_equal(books.holdings, expected["holdings"].astype(int))


def test_batch_risk_against_a_user_benchmark_matches_the_dense_covariance():
    """Independent expectation: the full asset covariance V = X F X' + D built in numpy."""
    data = xf.factor_model_data()
    rng = np.random.default_rng(3)
    n = len(data.tickers)
    W = np.where(rng.uniform(size=(20, n)) < 0.05, rng.normal(size=(20, n)), 0.0)
    b = np.where(rng.uniform(size=n) < 0.3, rng.uniform(size=n), 0.0)
    b /= b.sum()
    V = data.exposures @ data.factor_covariance @ data.exposures.T + np.diag(data.idiosyncratic_variance)
    got = xf.batch_risk(data, sp.csr_matrix(W), benchmark=b)
    A = W - b
    np.testing.assert_allclose(got["total_risk"], np.sqrt(np.einsum("pi,ij,pj->p", W, V, W)), rtol=1e-12)
    np.testing.assert_allclose(got["tracking_error"], np.sqrt(np.einsum("pi,ij,pj->p", A, V, A)), rtol=1e-12)
    np.testing.assert_allclose(got["beta"], (W @ V @ b) / (b @ V @ b), rtol=1e-12)


def test_book_weights_matches_single_book_alignment_and_reports_failures():
    data = xf.factor_model_data()
    t = data.tickers
    long = pd.DataFrame(
        {
            "portfolio": ["ok", "ok", "ok", "ok", "ghost", "ghost", "blank", "nan", "flat", "flat"],
            "ticker": [t[0].lower(), f" {t[1]}", "NOPE", t[0], "ZZZ1", "ZZZ2", None, t[3], t[4], t[5]],
            "value": [100.0, -50.0, 25.0, 100.0, 1.0, 2.0, 5.0, "x", 10.0, -10.0],
        }
    )
    books = book_weights(long, data.ticker_index)
    assert books.names.tolist() == ["ok", "flat"]
    assert set(books.failed) == {"ghost", "blank", "nan"}
    assert "no holding in the model universe (2 unknown: ZZZ1, ZZZ2)" in books.failed["ghost"]
    assert "blank ticker" in books.failed["blank"] and "non-numeric" in books.failed["nan"]
    single = data.align_holdings(long[long.portfolio == "ok"][["ticker", "value"]])
    np.testing.assert_array_equal(books.weights.toarray()[0], single.weights)
    assert books.missing.to_dict("list") == {"portfolio": ["ok"], "ticker": ["NOPE"], "amount": [25.0], "weight": [25.0 / 275.0]}
    flat = book_weights(long[long.portfolio == "flat"], data.ticker_index)
    assert flat.failed == {} and np.isclose(abs(flat.weights).sum(), 1.0)
    zero = pd.DataFrame({"portfolio": ["z", "z"], "ticker": [t[0], t[1]], "value": [0.0, 0.0]})
    assert book_weights(zero, data.ticker_index).failed == {"z": "zero gross exposure"}
