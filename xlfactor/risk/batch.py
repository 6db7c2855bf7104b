"""Risk of many books at once: P portfolios x N names as one matrix, matrix products only.

``batch_risk`` computes, for every row of a weights matrix ``W`` (P, N) in universe order,
the figures of :func:`xlfactor.portfolio_report`'s summary with a handful of matrix
products: exposures ``W X`` (P, K), factor variances as row sums of ``(W X) F * (W X)``,
idiosyncratic variances ``W^2 d``, and their active (benchmark-relative) versions from
the same products. There is no Python loop over portfolios. ``W`` may be a dense array
or a ``scipy.sparse`` matrix (books hold few of the universe's names).

``book_weights`` turns a long holdings table (``portfolio, ticker, value``) into that
matrix in one vectorized pass, with the single-book rules of
:mod:`xlfactor.risk.holdings` applied per book; a book that cannot be used is returned
with its reason instead of stopping the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from xlfactor._typing import FloatArray
from xlfactor.conventions import SQRT_TRADING_DAYS
from xlfactor.errors import PortfolioError
from xlfactor.risk.decomposition import normal_quantile
from xlfactor.risk.holdings import canonical_tickers, numeric_amounts
from xlfactor.risk.model_data import FactorModelData

BATCH_COLUMNS = (
    "total_risk",
    "factor_risk",
    "idiosyncratic_risk",
    "tracking_error",
    "active_factor_risk",
    "active_idiosyncratic_risk",
    "beta",
    "var_95",
    "var_99",
    "active_var_95",
    "active_var_99",
    "idiosyncratic_share_of_te",
    "idiosyncratic_share_of_total",
    "effective_names",
    "top_name_share",
    "net_exposure",
    "gross_exposure",
)
"""Columns of :func:`batch_risk`, named as the rows of ``portfolio_report(...)["summary"]``."""


def batch_risk(
    data: FactorModelData,
    weights_matrix: FloatArray | sp.spmatrix | sp.sparray,
    benchmark: FloatArray | None = None,
    index: pd.Index | list | None = None,
) -> pd.DataFrame:
    r"""Risk, tracking error, beta and VaR of P portfolios at once.

    Parameters
    ----------
    data : FactorModelData
        The risk model (``factor_model_data(snapshot)``).
    weights_matrix : (P, N) array or scipy.sparse matrix
        Row ``p`` is portfolio ``p``'s weights in universe order (``data.tickers``),
        decimals of gross exposure, shorts negative.
    benchmark : (N,) array, optional
        Benchmark weights for every portfolio; default the cap-weighted universe.
    index : sequence of P labels, optional
        Row labels of the result (portfolio names); default 0..P-1.

    Returns
    -------
    DataFrame
        (P, len(BATCH_COLUMNS)): risks annualized decimals (total, factor,
        idiosyncratic, tracking error and its factor / idiosyncratic parts), ``beta`` to
        the benchmark, one-day parametric VaR as positive loss fractions of gross at 95%
        and 99% (``var_*`` of the portfolio, ``active_var_*`` against the benchmark),
        variance shares, the effective number of names of the idiosyncratic variance
        and the largest name's share of it, net and gross exposure. Values equal
        ``portfolio_report``'s summary of each book (to rounding).

    Notes
    -----
    With :math:`E = W X`, :math:`x_b = X^\top b` and :math:`S = W \circ W`:
    factor variance :math:`\mathrm{rowsum}(E F \circ E)`, idiosyncratic variance
    :math:`S d`, active idiosyncratic variance :math:`S d - 2 W (b \circ d) + b^\top(b \circ d)`,
    beta :math:`(E F x_b + W (b \circ d)) / (x_b^\top F x_b + b^\top (b \circ d))`.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> W = np.zeros((2, len(data.tickers))); W[0, :10] = 0.1; W[1, 5:25] = 0.05
    >>> table = batch_risk(data, W, index=["a", "b"])
    >>> bool(np.isclose(table.loc["a", "tracking_error"], data.tracking_error(W[0])))
    True
    """
    X, F, d = data.exposures, data.factor_covariance, data.idiosyncratic_variance
    n = len(data.tickers)
    b = data.benchmark_weights if benchmark is None else np.asarray(benchmark, dtype=float)
    if b.shape != (n,):
        raise PortfolioError(f"`benchmark` must have shape ({n},), got {b.shape}")
    sparse = sp.issparse(weights_matrix)
    W = sp.csr_matrix(weights_matrix, dtype=float) if sparse else np.asarray(weights_matrix, dtype=float)
    if W.ndim != 2 or W.shape[1] != n:
        raise PortfolioError(f"`weights_matrix` must have shape (n_portfolios, {n}), got {W.shape}")
    E = np.asarray(W @ X)  # (P, K) factor exposures
    x_b = X.T @ b
    F_xb = F @ x_b
    bd = b * d
    if sparse:
        name_var = W.multiply(W).multiply(d).tocsr()  # w_i^2 d_i, only the held names
        idiosyncratic_var = np.asarray(name_var.sum(axis=1)).ravel()
        top = np.asarray(name_var.max(axis=1).todense()).ravel()
        fourth = np.asarray(name_var.multiply(name_var).sum(axis=1)).ravel()
        gross = np.asarray(abs(W).sum(axis=1)).ravel()
    else:
        name_var = W * np.sqrt(d)  # one (P, N) temporary, squared in place: w_i^2 d_i
        np.multiply(name_var, name_var, out=name_var)
        idiosyncratic_var = name_var.sum(axis=1)
        top = name_var.max(axis=1, initial=0.0)
        fourth = np.einsum("pn,pn->p", name_var, name_var)
        gross = np.abs(W).sum(axis=1)
    factor_var = np.maximum(np.einsum("pk,pk->p", E @ F, E), 0.0)
    cross = np.asarray(W @ bd).ravel()  # sum_i w_i b_i d_i
    A = E - x_b  # active exposures
    active_factor_var = np.maximum(np.einsum("pk,pk->p", A @ F, A), 0.0)
    active_idiosyncratic_var = np.maximum(idiosyncratic_var - 2.0 * cross + float(b @ bd), 0.0)
    total_var, te_var = factor_var + idiosyncratic_var, active_factor_var + active_idiosyncratic_var
    total, te = np.sqrt(total_var), np.sqrt(te_var)
    benchmark_var = float(x_b @ F_xb) + float(b @ bd)
    beta = (E @ F_xb + cross) / benchmark_var if benchmark_var > 0 else np.full(len(E), np.nan)
    total_1d, te_1d = _one_day_risk(data, W, E, x_b, b, sparse)  # VaR uses the one-day forecast

    with np.errstate(invalid="ignore", divide="ignore"):
        columns = {
            "total_risk": total,
            "factor_risk": np.sqrt(factor_var),
            "idiosyncratic_risk": np.sqrt(idiosyncratic_var),
            "tracking_error": te,
            "active_factor_risk": np.sqrt(active_factor_var),
            "active_idiosyncratic_risk": np.sqrt(active_idiosyncratic_var),
            "beta": beta,
            "var_95": _daily_var(total_1d, 0.95),
            "var_99": _daily_var(total_1d, 0.99),
            "active_var_95": _daily_var(te_1d, 0.95),
            "active_var_99": _daily_var(te_1d, 0.99),
            "idiosyncratic_share_of_te": np.where(te_var > 0, active_idiosyncratic_var / te_var, np.nan),
            "idiosyncratic_share_of_total": np.where(total_var > 0, idiosyncratic_var / total_var, np.nan),
            "effective_names": np.where(idiosyncratic_var > 0, idiosyncratic_var * idiosyncratic_var / fourth, np.nan),
            "top_name_share": np.where(idiosyncratic_var > 0, top / idiosyncratic_var, np.nan),
            "net_exposure": np.asarray(W.sum(axis=1)).ravel(),
            "gross_exposure": gross,
        }
    return pd.DataFrame(columns, index=pd.RangeIndex(len(E)) if index is None else pd.Index(index, name="portfolio"))


def _daily_var(risk: FloatArray, confidence: float) -> FloatArray:
    """One-day parametric VaR ``z sigma / sqrt(252)`` as a positive loss fraction (vectorized)."""
    return normal_quantile(confidence) * risk / SQRT_TRADING_DAYS


@dataclass(frozen=True, eq=False)
class BookWeights:
    """Many books aligned to one universe (see :func:`book_weights`)."""

    names: np.ndarray  # (P,) names of the usable books, first-appearance order
    weights: sp.csr_matrix  # (P, N) weights in universe order; names outside it excluded (cash)
    holdings: np.ndarray  # (P,) distinct tickers per book, unknown ones included
    missing: pd.DataFrame  # portfolio, ticker, amount, weight of holdings outside the universe
    failed: dict[str, str]  # book name -> why it cannot be used


def book_weights(frame: pd.DataFrame, universe: pd.Index, name: str = "holdings") -> BookWeights:
    """Align a long holdings table of many books to ``universe`` in one vectorized pass.

    Parameters
    ----------
    frame : DataFrame
        Columns ``portfolio``, ``ticker`` and exactly one of ``value`` (signed dollars,
        normalized by each book's gross exposure) or ``allocation`` (weights as given).
        One row per holding; a book's duplicate tickers are summed.
    universe : pandas.Index
        Canonical tickers in universe order (``data.ticker_index``).
    name : str
        Name of the input for messages (e.g. its file).

    Returns
    -------
    BookWeights
        A book with a blank ticker, a non-numeric amount, zero gross exposure or no
        holding in the universe is left out of the matrix and listed in ``failed`` with
        the reason; holdings outside the universe are treated as cash (as
        ``portfolio_report`` does) and listed in ``missing``.

    Examples
    --------
    >>> frame = pd.DataFrame({"portfolio": ["a", "a", "b"], "ticker": ["x", "Y", "zz"], "value": [1.0, 3.0, 2.0]})
    >>> books = book_weights(frame, pd.Index(["X", "Y"]))
    >>> books.names.tolist(), books.weights.toarray().tolist(), list(books.failed)
    (['a'], [[0.25, 0.75]], ['b'])
    """
    columns = {str(c).strip().lower(): c for c in frame.columns}
    for column in ("portfolio", "ticker"):
        if column not in columns:
            raise PortfolioError(f"{name} has no `{column}` column (columns: {', '.join(map(str, frame.columns))})")
    kinds = [k for k in ("value", "allocation") if k in columns]
    if len(kinds) != 1:
        raise PortfolioError(f"{name} needs exactly one of the columns `value` or `allocation`")
    kind = kinds[0]
    labels = frame[columns["portfolio"]]
    if labels.isna().any():
        raise PortfolioError(f"{name} has {int(labels.isna().sum())} row(s) without a portfolio name")
    raw_book, raw_names = pd.factorize(labels.to_numpy(dtype=object))  # text work on the distinct values only
    name_code, book_names = pd.factorize(np.array([str(v).strip() for v in raw_names], dtype=object))
    book = name_code[raw_book]
    raw_ticker, raw_tickers = pd.factorize(frame[columns["ticker"]].to_numpy(dtype=object), use_na_sentinel=False)
    canonical_unique = canonical_tickers(raw_tickers)
    unique_code, tickers = pd.factorize(canonical_unique)
    ticker_code = unique_code[raw_ticker]
    values = numeric_amounts(frame[columns[kind]].to_numpy())
    n_books = len(book_names)

    reasons: dict[int, str] = {}
    blank = ((canonical_unique == "") | (canonical_unique == "NAN"))[raw_ticker]
    bad_value = ~np.isfinite(values)
    blank_count = np.bincount(book, weights=blank, minlength=n_books)
    bad_count = np.bincount(book, weights=bad_value & ~blank, minlength=n_books)
    for p in np.nonzero(blank_count)[0]:  # a loop over the failed books only
        reasons[int(p)] = f"{int(blank_count[p])} blank ticker(s)"
    for p in np.nonzero(bad_count)[0]:
        reasons.setdefault(int(p), f"{int(bad_count[p])} non-numeric or missing {kind}(s)")

    pair_code, pairs = pd.factorize(book.astype(np.int64) * len(tickers) + ticker_code)  # first-appearance order
    pair_book, pair_ticker = pairs // len(tickers), pairs % len(tickers)
    amounts = np.bincount(pair_code, weights=np.where(bad_value, 0.0, values), minlength=len(pairs))
    gross = np.bincount(pair_book, weights=np.abs(amounts), minlength=n_books)
    for p in np.nonzero(~(gross > 0))[0]:  # all-zero weights too: no risk to report, not a risk of 0
        reasons.setdefault(int(p), "zero gross exposure")
    if kind == "value":
        weights = amounts / np.where(gross > 0, gross, 1.0)[pair_book]
    else:
        weights = amounts
    position = universe.get_indexer(tickers)[pair_ticker]
    found = position >= 0
    known = np.bincount(pair_book[found], minlength=n_books)
    for p in np.nonzero(known == 0)[0]:
        if int(p) not in reasons:
            unknown = tickers[pair_ticker[pair_book == p]]
            shown = ", ".join(map(str, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
            reasons[int(p)] = f"no holding in the model universe ({len(unknown)} unknown: {shown})"

    ok = np.ones(n_books, dtype=bool)
    ok[list(reasons)] = False
    row_of = np.cumsum(ok) - 1
    use = found & ok[pair_book]
    matrix = sp.csr_matrix(
        (weights[use], (row_of[pair_book[use]], position[use])), shape=(int(ok.sum()), len(universe))
    )
    lost = ~found & ok[pair_book]
    missing = pd.DataFrame(
        {
            "portfolio": np.asarray(book_names, dtype=object)[pair_book[lost]],
            "ticker": np.asarray(tickers, dtype=object)[pair_ticker[lost]],
            "amount": amounts[lost],
            "weight": weights[lost],
        }
    )
    return BookWeights(
        names=np.asarray(book_names, dtype=object)[ok],
        weights=matrix,
        holdings=np.bincount(pair_book, minlength=n_books)[ok],
        missing=missing,
        failed={str(book_names[p]): reasons[p] for p in sorted(reasons)},
    )


def _one_day_risk(data, W, E, x_b, b, sparse: bool) -> tuple[np.ndarray, np.ndarray]:
    """(P,) annualized total and active risk of the one-day forecast (the main one if none is stated)."""
    F1, d1 = data.one_day_model()
    A = E - x_b
    if sparse:
        idiosyncratic = np.asarray(W.multiply(W).multiply(d1).sum(axis=1)).ravel()
        cross = np.asarray(W @ (b * d1)).ravel()
    else:
        idiosyncratic = (W * W) @ d1
        cross = W @ (b * d1)
    total = np.sqrt(np.maximum(np.einsum("pk,pk->p", E @ F1, E), 0.0) + idiosyncratic)
    active_idiosyncratic = np.maximum(idiosyncratic - 2.0 * cross + float(b @ (b * d1)), 0.0)
    active = np.sqrt(np.maximum(np.einsum("pk,pk->p", A @ F1, A), 0.0) + active_idiosyncratic)
    return total, active
