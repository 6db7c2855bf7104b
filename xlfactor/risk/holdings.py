"""Turn holdings (ticker, value or allocation) into a weight vector in universe order.

This is the one boundary where portfolio input is validated. Rules:

* ``value`` is signed dollars, normalized by gross exposure (sum of absolute values);
  ``allocation`` is used as given.
* Tickers are matched case-insensitively, ignoring surrounding spaces; duplicates are summed.
* Holdings outside the universe are **missing**: reported with their weight, excluded
  from every figure, i.e. treated as cash (their weight stays in the gross). A portfolio
  with no holding in the universe is an error, not a portfolio of cash.
* Blank rows (no ticker and no amount) are skipped and counted; a ticker without an
  amount, or an amount without a ticker, is an error.
* Amounts whose gross exposure overflows a float are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import normalize_ticker, number_from_text
from xlfactor.errors import NoHoldingsInUniverseError, PortfolioError

HoldingsKind = Literal["value", "allocation"]


@dataclass(frozen=True, eq=False)
class Holdings:
    """Validated holdings: unique canonical tickers and their summed amounts."""

    tickers: StrArray  # (n_holdings,) canonical, unique, in first-appearance order
    amounts: FloatArray  # (n_holdings,) dollars (kind "value") or weights (kind "allocation")
    kind: HoldingsKind
    skipped_blank_rows: int = 0  # rows with neither ticker nor amount, skipped

    @property
    def weights(self) -> FloatArray:
        """Weights as decimals of gross exposure (``value``) or as given (``allocation``)."""
        if self.kind == "allocation":
            return self.amounts
        return self.amounts / np.abs(self.amounts).sum()


@dataclass(frozen=True, eq=False)
class PortfolioWeights:
    """Holdings aligned to a universe: what :meth:`FactorModelData.align_holdings` returns.

    Parameters
    ----------
    weights : ndarray of shape (n_assets,)
        Decimals of gross exposure in universe order, shorts negative; holdings outside the
        universe are excluded (cash, weight 0).
    missing : pandas.DataFrame
        ``ticker, amount, weight`` of the holdings outside the universe.
    holdings : Holdings
        The validated holdings (tickers normalized, duplicates summed).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> aligned = data.align_holdings(pd.DataFrame({"ticker": ["SIM0001", "ZZZ"], "allocation": [0.6, 0.4]}))
    >>> float(aligned.weights.sum()), aligned.missing["weight"].tolist()
    (0.6, [0.4])
    """

    weights: FloatArray  # (n_assets,) in universe order; missing names excluded (cash)
    missing: pd.DataFrame  # ticker, amount, weight of holdings outside the universe
    holdings: Holdings


TICKER_HEADERS = ("ticker", "tickers", "symbol", "symbols", "security", "id")
"""Headers of the ticker column of an Excel range (a table's is ``ticker``)."""
VALUE_HEADERS = ("value", "values", "amount", "market value", "market_value", "position", "notional", "usd")
"""Headers of a signed-dollar amount column (normalized by gross exposure)."""
ALLOCATION_HEADERS = ("allocation", "weight", "weights")
"""Headers of a weight column (decimals, used as given: a ``weight`` is never renormalized as dollars)."""
INFORMATIVE_HEADERS = ("name", "company", "sector", "industry", "note", "notes", "description")
"""Columns a holdings table may carry beside ticker and amount; they are not read."""


def amount_kind(header: object) -> HoldingsKind | None:
    """``"value"`` or ``"allocation"`` for an amount column's header, None when it is not one.

    >>> amount_kind(" Weight"), amount_kind("Market Value"), amount_kind("pct")
    ('allocation', 'value', None)
    """
    text = " ".join(str(header).strip().lower().split())
    if text in ALLOCATION_HEADERS:
        return "allocation"
    if text in VALUE_HEADERS:
        return "value"
    return None


def accepted_headers() -> str:
    """The accepted column headers, for messages."""
    return (f"ticker, dollars ({', '.join(VALUE_HEADERS)}) or weights "
            f"({', '.join(ALLOCATION_HEADERS)}); also allowed: {', '.join(INFORMATIVE_HEADERS)}")  # fmt: skip


def header_key(header: object) -> str:
    """A header as matched: lower case, surrounding spaces removed, inner runs of spaces as one."""
    return " ".join(str(header).strip().lower().split())


def same_headers(headers: Sequence[object]) -> str:
    """The first group of ``headers`` that are one name ignoring case and spaces, shown ``'a', 'A'`` ("" if none)."""
    groups: dict[str, list[str]] = {}
    for header in headers:
        groups.setdefault(header_key(header), []).append(repr(str(header)))
    return next((", ".join(group) for group in groups.values() if len(group) > 1), "")


def holdings_columns(columns: Sequence[object], name: str = "portfolio", extra: Sequence[str] = ()) -> tuple[object, object, HoldingsKind]:
    """``(ticker column, amount column, kind)`` of a holdings table's headers.

    Headers are matched ignoring case and surrounding spaces: :data:`TICKER_HEADERS`,
    :data:`VALUE_HEADERS` (kind ``value``) and :data:`ALLOCATION_HEADERS` (kind
    ``allocation``). :data:`INFORMATIVE_HEADERS` and ``extra`` are allowed and ignored.

    Raises
    ------
    PortfolioError
        If a header is none of these (the message lists the accepted names), two headers
        are one name ignoring case and spaces (``portfolio``, ``Portfolio``), the ticker
        column is missing, or there is not exactly one amount column.
    """
    same = same_headers(columns)
    if same:
        raise PortfolioError(f"{name} has columns that are one name ignoring case and spaces: {same}; keep one of them")
    tickers, amounts, unknown = [], [], []
    allowed = set(INFORMATIVE_HEADERS) | {str(e).lower() for e in extra}
    for column in columns:
        text = header_key(column)
        if text == "ticker":
            tickers.append(column)
        elif amount_kind(text) is not None:
            amounts.append(column)
        elif text not in allowed:
            unknown.append(column)
    shown = ", ".join(map(str, columns))
    if not tickers:
        hint = ""
        for separator, word in ((";", "semicolon"), ("\t", "tab")):
            if any(separator in str(c) for c in columns):
                hint = f" -- is the file {word}-separated?"
                break
        raise PortfolioError(f"{name} has no `ticker` column (columns: {shown}){hint}")
    if unknown:
        raise PortfolioError(f"{name} has unknown column(s) {', '.join(map(repr, map(str, unknown)))}; accepted: {accepted_headers()}")
    if len(tickers) != 1 or len(amounts) != 1:
        raise PortfolioError(
            f"{name} needs exactly one ticker column and one of the columns `value` (dollars) or `allocation`/`weight` "
            f"(decimals), got: {shown}"
        )
    return tickers[0], amounts[0], amount_kind(amounts[0])  # type: ignore[return-value]


def holdings_from_frame(portfolio: pd.DataFrame, name: str = "portfolio") -> Holdings:
    """Validate a frame with ``ticker`` and ``value`` or ``allocation`` columns (see :func:`holdings_columns`).

    Raises
    ------
    PortfolioError
        If the frame is empty, has an unknown column, lacks the columns, has blank
        tickers, non-numeric or non-finite amounts, or zero gross exposure.
    """
    if not isinstance(portfolio, pd.DataFrame):
        raise PortfolioError(f"{name} must be a DataFrame with ticker and value/allocation columns")
    ticker, amount, kind = holdings_columns(list(portfolio.columns), name)
    return holdings_from_pairs(portfolio[ticker].to_numpy(dtype=object), portfolio[amount].to_numpy(), kind, name)


def holdings_from_pairs(
    tickers: Sequence[object], amounts: Sequence[object], kind: HoldingsKind = "value", name: str = "portfolio"
) -> Holdings:
    """Validate parallel lists of tickers and amounts (the form Excel ranges come in)."""
    if kind not in ("value", "allocation"):
        raise PortfolioError(f"holdings kind must be 'value' or 'allocation', got {kind!r}")
    if len(tickers) == 0:
        raise PortfolioError(f"{name} is empty")
    canonical = canonical_tickers(tickers)
    values = numeric_amounts(amounts)
    no_ticker = (canonical == "") | (canonical == "NAN")
    skipped = 0
    if no_ticker.any():
        blank_row = no_ticker & np.array([_is_blank(a) for a in amounts], dtype=bool)
        skipped = int(blank_row.sum())
        if skipped:
            keep = ~blank_row
            canonical, values = canonical[keep], values[keep]
            if not len(canonical):
                raise PortfolioError(f"{name} is empty ({skipped} blank rows)")
    holdings = holdings_from_arrays(canonical, values, kind, name)
    return replace(holdings, skipped_blank_rows=skipped) if skipped else holdings


def canonical_tickers(tickers: Sequence[object]) -> np.ndarray:
    """(n,) object array of tickers in canonical form: text, stripped, upper case (None -> "")."""
    return np.array(["" if t is None else normalize_ticker(t) for t in tickers], dtype=object)


def numeric_amounts(amounts: Sequence[object], types: np.ndarray | None = None) -> FloatArray:
    """(n,) floats of cell amounts: numbers as they are, text numbers (``"1,000"``) parsed, anything else NaN.

    Work is per distinct cell type (a handful), not per cell; only text cells are parsed
    one by one. ``types`` may pass ``cell_types(amounts)`` when already computed.
    """
    array = amounts if isinstance(amounts, np.ndarray) else np.array(amounts, dtype=object)
    if array.dtype.kind in "fiu":
        return array.astype(float)
    kinds = set(map(type, array))
    if kinds <= _PLAIN_CELLS:
        return array.astype(float)  # numbers and blanks only (None -> NaN)
    types = cell_types(array) if types is None else types
    out = np.full(len(array), np.nan)
    codes, distinct = pd.factorize(types)  # hashing the types: ``types == np.float64`` would raise a TypeError
    for code, kind in enumerate(distinct):  # a loop over the distinct cell types, not over cells
        if issubclass(kind, (bool, np.bool_, np.complexfloating)) or not issubclass(kind, (int, float, np.number, str)):
            continue  # booleans, complex numbers, dates, errors...: not an amount
        mask = codes == code
        out[mask] = [_number(v) for v in array[mask]] if issubclass(kind, str) else array[mask].astype(float)
    return out


def kind_mask(types: np.ndarray, classes: type | tuple[type, ...]) -> np.ndarray:
    """(n,) bool: which cell types (see :func:`cell_types`) are subclasses of ``classes``.

    ``np.float64`` cells count as ``float``, ``np.str_`` as ``str``; one ``issubclass`` per
    distinct type, never ``types == kind`` (a TypeError for NumPy scalar types).
    """
    if not len(types):
        return np.zeros(0, dtype=bool)
    codes, distinct = pd.factorize(types)
    return np.array([issubclass(kind, classes) for kind in distinct], dtype=bool)[codes]


_PLAIN_CELLS = frozenset({float, int, type(None), np.float64})


def cell_types(cells: np.ndarray) -> np.ndarray:
    """(n,) object array of each cell's Python type (for vectorized masks such as ``types == str``)."""
    return np.fromiter(map(type, cells), dtype=object, count=len(cells))


def holdings_from_arrays(canonical: np.ndarray, values: FloatArray, kind: HoldingsKind, name: str) -> Holdings:
    """Validate canonical tickers (see :func:`canonical_tickers`) and float amounts; sum duplicates."""
    blank = (canonical == "") | (canonical == "NAN")
    if blank.any():
        raise PortfolioError(f"{name} has {int(blank.sum())} blank ticker(s) (row {int(np.argmax(blank)) + 1})")
    bad = ~np.isfinite(values)
    if bad.any():
        shown = ", ".join(canonical[bad][:5])
        raise PortfolioError(f"{name} has {int(bad.sum())} non-numeric or missing {kind}(s): {shown}")
    codes, unique = pd.factorize(canonical)
    with np.errstate(over="ignore", invalid="ignore"):
        summed = np.bincount(codes, weights=values, minlength=len(unique))
        gross = np.abs(summed).sum()
        squares = np.square(summed).sum() if kind == "allocation" else 0.0
    if not (np.isfinite(gross) and np.isfinite(squares)):
        raise PortfolioError(
            f"{name} values overflow: their gross exposure or risk exceeds the largest number "
            f"({np.finfo(float).max:.3g}); give them in smaller units"
        )
    if not gross > 0:  # an all-zero book (dollars or weights) has no risk to report, not a risk of 0
        raise PortfolioError(f"{name} has zero gross exposure (every {kind} is 0)")
    return Holdings(tickers=np.asarray(unique, dtype=str), amounts=summed, kind=kind)


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and value != value


def align(holdings: Holdings, universe: pd.Index, name: str = "portfolio", universe_name: str = "") -> PortfolioWeights:
    """Place holdings' weights in universe order; collect those outside the universe.

    Raises
    ------
    NoHoldingsInUniverseError
        If no holding is in the universe (every figure would be a silent 0).
    """
    positions = universe.get_indexer(holdings.tickers)
    weights = holdings.weights
    found = positions >= 0
    if not found.any():
        raise NoHoldingsInUniverseError(name, holdings.tickers.tolist(), universe_name, len(universe))
    aligned = np.zeros(len(universe))
    aligned[positions[found]] = weights[found]
    missing = pd.DataFrame(
        {
            "ticker": holdings.tickers[~found],
            "amount": holdings.amounts[~found],
            "weight": weights[~found],
        }
    )
    return PortfolioWeights(weights=aligned, missing=missing, holdings=holdings)


def _number(value: object) -> float:
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return number_from_text(value)  # "1,000" is 1000, "1,5" is 1.5: never 15
        except ValueError:
            return np.nan
    return np.nan
