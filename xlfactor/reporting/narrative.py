"""The tear sheet's sentences, written from the report's numbers.

Pure functions over the tables of :func:`xlfactor.reporting.report.portfolio_report`
(``summary``, ``active_risk``, ``risk_decomposition``, ``holdings``): no number is
typed here, each sentence names what the tables say, so a different book gives
different sentences (another largest driver, another top name). Percentages are
rounded for reading (one decimal for risk, whole percent for shares).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["Driver", "GROUP_WORDS", "driver_phrase", "largest_te_driver", "money", "tear_sheet_sentences"]

GROUP_WORDS = {
    "market": "the market",
    "style": "style factors",
    "sector": "sectors",
    "industry": "industries",
    "idiosyncratic": "idiosyncratic risk",
}
"""How the risk groups (rows of ``risk_decomposition``) are named in a sentence."""


@dataclass(frozen=True)
class Driver:
    """The largest contributor to TE² (a row of ``active_risk``)."""

    factor: str  # factor id, e.g. "sector:Energy"
    group: str  # market, style, sector or industry
    active_exposure: float  # active weight (sector, industry) or exposure in standard deviations
    te_share: float  # decimal share of TE²


def largest_te_driver(active_risk: pd.DataFrame) -> Driver | None:
    """The factor with the largest share of TE² (``active_risk`` rows; None when there is none).

    Parameters
    ----------
    active_risk : DataFrame
        ``factor, group, active_exposure, te_share`` (``te_share``: decimal share of the
        active variance, TE², signed: a diversifier is negative).
    """
    if active_risk is None or active_risk.empty or "te_share" not in active_risk:
        return None
    active_risk = active_risk[active_risk["group"] != "idiosyncratic"]  # a factor, not idiosyncratic risk
    shares = pd.to_numeric(active_risk["te_share"], errors="coerce")
    if shares.isna().all():
        return None
    row = active_risk.loc[shares.idxmax()]
    return Driver(str(row["factor"]), str(row["group"]), float(row["active_exposure"]), float(row["te_share"]))


def _readable(factor: str) -> str:
    name = factor.split(":", 1)[1] if ":" in factor else factor.replace("_", " ")
    return name


def driver_phrase(driver: Driver) -> str:
    """The driver as a reader says it: "the Energy underweight (-12.4%)", "the size exposure (-1.12)".

    Sector and industry exposures are active weights (decimal of gross; over/underweight);
    style and market exposures are in standard deviations (market: beta-like units).
    """
    name, active = _readable(driver.factor), driver.active_exposure
    if driver.group in ("sector", "industry"):
        side = "overweight" if active > 0 else "underweight"
        return f"the {name} {side} ({active:+.1%})"
    if driver.group == "market":
        side = "overweight" if active > 0 else "underweight"
        return f"the market {side} (active exposure {active:+.2f})"
    return f"the {name} exposure ({active:+.2f})"


def _share(value: float) -> str:
    """A share as a whole percent; one that rounds to zero is ``0%``, never ``-0%`` (the rule of ``cli.percent``).

    >>> _share(-0.004), _share(0.31), _share(-0.02)
    ('0%', '31%', '-2%')
    """
    rounded = round(float(value) * 100)
    return "0%" if rounded == 0 else f"{rounded:.0f}%"


def tear_sheet_sentences(report: dict[str, pd.DataFrame], gross_dollars: float | None = None) -> list[str]:
    """Three to five sentences that say what the report's numbers say.

    Parameters
    ----------
    report : dict of DataFrame
        :func:`xlfactor.reporting.report.portfolio_report` output (``summary``,
        ``active_risk``, ``risk_decomposition``, ``holdings``).
    gross_dollars : float, optional
        The book's gross in dollars (holdings given as values): the VaR sentence adds it.

    Returns
    -------
    list of str
        Total risk; tracking error and its largest driver; TE² by group; the largest
        single-name risk; the one-day VaR. A sentence whose numbers are missing is left out.
    """
    summary = report["summary"]["value"]
    sentences = []
    total, beta = float(summary["total_risk"]), float(summary["beta"])
    decomposition = report.get("risk_decomposition")
    factor_share = None
    if decomposition is not None and "common_factor" in decomposition.index:
        factor_share = float(decomposition.loc["common_factor", "share"])
    if math.isfinite(total):
        text = f"Total risk is {total:.1%} a year"
        if factor_share is not None:
            text += f", {_share(factor_share)} of its variance from factors"
        sentences.append(text + (f"; the ex-ante beta to the benchmark is {beta:.2f}." if math.isfinite(beta) else "."))
    te = float(summary["tracking_error"])
    idiosyncratic_share = float(summary.get("idiosyncratic_share_of_te", float("nan")))
    driver = largest_te_driver(report.get("active_risk"))
    if math.isfinite(te) and te > 0:
        text = f"Tracking error is {te:.1%}"
        if math.isfinite(idiosyncratic_share):
            text += f", {_share(1 - idiosyncratic_share)} of it from factors"
        if driver is not None and driver.te_share > 0:
            text += f"; the largest driver is {driver_phrase(driver)}, {_share(driver.te_share)} of TE²"
        sentences.append(text + ".")
    if decomposition is not None and "active_share" in decomposition:
        groups = [g for g in GROUP_WORDS if g in decomposition.index]
        shares = decomposition.loc[groups, "active_share"].astype(float).sort_values(ascending=False)
        if len(shares) >= 2 and shares.notna().all():
            parts = [f"{GROUP_WORDS[g]} {_share(v)}" for g, v in shares.items()]
            sentences.append(f"By group, TE² comes from {', '.join(parts[:-1])} and {parts[-1]}.")
    holdings = report.get("holdings")
    if holdings is not None and len(holdings) and "risk_contribution" in holdings and total > 0:
        top = holdings.loc[holdings["risk_contribution"].abs().idxmax()]
        side = "long" if top["weight"] > 0 else "short"
        sentences.append(
            f"The largest single-name risk is {top['ticker']} ({side} {abs(float(top['weight'])):.1%} of gross), "
            f"{float(top['risk_contribution']) / total:.0%} of total risk."
        )
    var = float(summary.get("var_95", float("nan")))
    if math.isfinite(var):
        text = f"One-day VaR at 95% is {var:.2%} of gross"
        if gross_dollars is not None and math.isfinite(gross_dollars) and gross_dollars > 0:
            text += f" ({money(var * gross_dollars)} on a {money(gross_dollars)} book)"
        sentences.append(text + ".")
    return sentences[:5]


def money(value: float) -> str:
    """Dollars with the sign before the symbol and no cents: ``-$445,660``, ``$1,200``."""
    rounded = round(value)
    return f"-${-rounded:,.0f}" if rounded < 0 else f"${rounded:,.0f}"
