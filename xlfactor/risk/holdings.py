"""Turn holdings (ticker, value or allocation) into a weight vector in universe order.

This is the one boundary where portfolio input is validated. Rules:

* ``value`` is signed dollars, normalized by gross exposure (sum of absolute values);
  ``allocation`` is used as given.
* Tickers are matched case-insensitively, ignoring surrounding spaces; duplicates are summed.
* Holdings outside the universe are **missing**: reported with their weight, excluded
  from every figure, i.e. treated as cash (their weight stays in the gross).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import normalize_ticker
from xlfactor.errors import PortfolioError

HoldingsKind = Literal["value", "allocation"]


@dataclass(frozen=True, eq=False)
class Holdings:
    """Validated holdings: unique canonical tickers and their summed amounts."""

    tickers: StrArray  # (n_holdings,) canonical, unique, in first-appearance order
    amounts: FloatArray  # (n_holdings,) dollars (kind "value") or weights (kind "allocation")
    kind: HoldingsKind

    @property
    def weights(self) -> FloatArray:
        """Weights as decimals of gross exposure (``value``) or as given (``allocation``)."""
        if self.kind == "allocation":
            return self.amounts
        return self.amounts / np.abs(self.amounts).sum()


@dataclass(frozen=True, eq=False)
class PortfolioWeights:
    """Holdings aligned to a universe."""

    weights: FloatArray  # (n_assets,) in universe order; missing names excluded (cash)
    missing: pd.DataFrame  # ticker, amount, weight of holdings outside the universe
    holdings: Holdings


def holdings_from_frame(portfolio: pd.DataFrame, name: str = "portfolio") -> Holdings:
    """Validate a frame with ``ticker`` and ``value`` or ``allocation`` columns.

    Raises
    ------
    PortfolioError
        If the frame is empty, lacks the columns, has blank tickers, non-numeric or
        non-finite amounts, or (for ``value``) zero gross exposure.
    """
    if not isinstance(portfolio, pd.DataFrame):
        raise PortfolioError(f"{name} must be a DataFrame with ticker and value/allocation columns")
    columns = {str(c).strip().lower(): c for c in portfolio.columns}
    if "ticker" not in columns:
        raise PortfolioError(f"{name} has no `ticker` column (columns: {', '.join(map(str, portfolio.columns))})")
    kinds = [k for k in ("value", "allocation") if k in columns]
    if len(kinds) != 1:
        raise PortfolioError(f"{name} needs exactly one of the columns `value` or `allocation`")
    return holdings_from_pairs(
        portfolio[columns["ticker"]].tolist(), portfolio[columns[kinds[0]]].tolist(), kinds[0], name
    )


def holdings_from_pairs(
    tickers: list[object], amounts: list[object], kind: HoldingsKind = "value", name: str = "portfolio"
) -> Holdings:
    """Validate parallel lists of tickers and amounts (the form Excel ranges come in)."""
    if kind not in ("value", "allocation"):
        raise PortfolioError(f"holdings kind must be 'value' or 'allocation', got {kind!r}")
    if len(tickers) == 0:
        raise PortfolioError(f"{name} is empty")
    canonical = ["" if t is None else normalize_ticker(t) for t in tickers]
    blank = [i for i, t in enumerate(canonical) if not t or t == "NAN"]
    if blank:
        raise PortfolioError(f"{name} has {len(blank)} blank ticker(s) (row {blank[0] + 1})")
    if all(type(a) is float or type(a) is int for a in amounts):
        values = np.array(amounts, dtype=float)
    else:
        values = np.array([_number(a) for a in amounts], dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        shown = ", ".join(np.asarray(canonical)[bad][:5])
        raise PortfolioError(f"{name} has {int(bad.sum())} non-numeric or missing {kind}(s): {shown}")
    codes, unique = pd.factorize(np.asarray(canonical, dtype=object))
    summed = np.bincount(codes, weights=values, minlength=len(unique))
    if kind == "value" and not np.abs(summed).sum() > 0:
        raise PortfolioError(f"{name} has zero gross exposure")
    return Holdings(tickers=np.asarray(unique, dtype=str), amounts=summed, kind=kind)


def align(holdings: Holdings, universe: pd.Index) -> PortfolioWeights:
    """Place holdings' weights in universe order; collect those outside the universe."""
    positions = universe.get_indexer(holdings.tickers)
    weights = holdings.weights
    found = positions >= 0
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
        text = value.strip().replace(",", "")
        try:
            return float(text)
        except ValueError:
            return np.nan
    return np.nan
