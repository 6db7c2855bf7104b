"""``portfolio_report``: the dictionary of report tables every front end shows.

Keys (each a pandas DataFrame): OpenFactor's ``missing_holdings, style, sector,
idiosyncratic_risk, factor_risk, active_risk, risk_share, total_risk, tracking_error``
plus ``summary, risk_decomposition, idiosyncratic_by_name, industry, var, attribution,
attribution_factors, attribution_contributors, idiosyncratic_returns, holdings, snapshot,
diagnostics``. Units: risk annualized decimals, VaR a
positive daily loss fraction of gross, attribution daily decimal returns; the two
``risk_share`` columns are percent, as in OpenFactor.

Differences from OpenFactor (see CONTRIBUTING.md): the market row is part of the
active-risk table, so ``te_share`` sums to 1; holdings outside the universe are
treated as cash everywhere and listed in ``missing_holdings``; duplicate tickers are
summed; attribution reconciles with the benchmark's own model return.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np
import pandas as pd

from xlfactor.errors import XlfactorError
from xlfactor.risk import decomposition as dec
from xlfactor.risk.attribution import daily_attribution
from xlfactor.risk.model_data import FactorModelData, factor_model_data, factor_model_data_at
from xlfactor.snapshot.snapshot import Snapshot, diagnostic_value

VAR_CONFIDENCES = (0.95, 0.99)
VAR_HORIZONS_DAYS = (1, 10)


def portfolio_report(
    portfolio: pd.DataFrame,
    snapshot: Snapshot | None = None,
    benchmark: pd.DataFrame | None = None,
    date: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Risk report tables for ``portfolio`` against ``benchmark``.

    Parameters
    ----------
    portfolio : DataFrame
        ``ticker`` plus ``value`` (signed dollars, normalized by gross exposure) or
        ``allocation`` (weights used as given).
    snapshot : Snapshot, optional
        The risk model; the embedded simulated demo by default.
    benchmark : DataFrame, optional
        Holdings of the benchmark in the same form; the cap-weighted universe by default.
    date : str, optional
        A past date of the snapshot's exposure panel: risk uses the exposures known at
        its close and the attribution is that day's. Default: the snapshot's date.

    Returns
    -------
    dict of str to DataFrame
        See the module docstring for the keys.

    Raises
    ------
    PortfolioError
        If the portfolio or benchmark is unusable (empty, NaN values, zero gross...).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> book = pd.DataFrame({"ticker": ["SIM0001", "SIM0002", "ZZZ"], "value": [6e5, -2e5, 2e5]})
    >>> report = xf.portfolio_report(book)                  # on the embedded demo
    >>> summary = report["summary"]["value"]
    >>> bool(abs(summary["total_risk"] ** 2 - summary["factor_risk"] ** 2 - summary["idiosyncratic_risk"] ** 2) < 1e-12)
    True
    >>> report["missing_holdings"]["ticker"].tolist()      # outside the universe: cash
    ['ZZZ']
    """
    data = factor_model_data(snapshot)
    if date not in (None, "", "latest", data.snapshot.as_of):
        data = factor_model_data_at(data.snapshot, str(date))
    book = _aligned_book(data, portfolio, benchmark)
    w, b = book.weights, book.benchmark
    a = w - b
    x_p, x_b = data.factor_exposure(w), data.factor_exposure(b)
    blocks = data.risk_decomposition(w)
    active_blocks = data.risk_decomposition(a)
    factor_var, idiosyncratic_var, total_var = blocks["variance_contribution"][["common_factor", "idiosyncratic", "total"]]
    active_factor_var, active_idiosyncratic_var, _ = active_blocks["variance_contribution"][["common_factor", "idiosyncratic", "total"]]
    idiosyncratic_by_name = _idiosyncratic_by_name(data, w, b, idiosyncratic_var)
    active_table = _active_table(data, a, x_p, x_b)
    report = {
        "summary": _summary_table(data, book, blocks, active_blocks, idiosyncratic_by_name),
        "missing_holdings": book.missing[["side", "ticker", "amount", "weight"]],
        "style": _exposure_table(data, "style", x_p, x_b),
        "sector": _exposure_table(data, "sector", x_p, x_b),
        "industry": _exposure_table(data, "industry", x_p, x_b),
        "idiosyncratic_risk": idiosyncratic_by_name[["ticker", "weight", "idiosyncratic_risk", "observations"]],
        "idiosyncratic_by_name": idiosyncratic_by_name,
        "factor_risk": _factor_table(data, w),
        "active_risk": active_table,
        "risk_share": pd.DataFrame(
            {
                "factor_explained_percent": [100 * factor_var / total_var if total_var > 0 else math.nan],
                "residual_unexplained_percent": [100 * idiosyncratic_var / total_var if total_var > 0 else math.nan],
            }
        ),
        "total_risk": _risk_rows(factor_var, idiosyncratic_var),
        "tracking_error": _risk_rows(active_factor_var, active_idiosyncratic_var),
        "risk_decomposition": pd.concat([blocks, active_blocks.add_prefix("active_")], axis=1),
        "var": _var_table(lambda h: data.horizon_risk(w, h), lambda h: data.horizon_risk(w, h, active=True, benchmark=b)),
        "holdings": data.portfolio_frame(w, b),
        "snapshot": _snapshot_table(data.snapshot, book.benchmark_label),
        "diagnostics": _diagnostics_table(data.snapshot),
    }
    report.update(_attribution_tables(data, w, b, None if date in (None, "", "latest") else str(date), active_table))
    report.update(_quality_tables(data.snapshot))
    return report


@dataclass(frozen=True, eq=False)
class _Book:
    """A report's book and benchmark aligned to the universe (weights (n_assets,), decimals of gross)."""

    weights: np.ndarray
    benchmark: np.ndarray
    holdings: int  # names held (in or out of the universe)
    missing: pd.DataFrame  # side, ticker, amount, weight of the holdings outside the universe (cash)
    benchmark_label: str


def _aligned_book(data: FactorModelData, portfolio: pd.DataFrame, benchmark: pd.DataFrame | None) -> _Book:
    """Step 1: the portfolio and the benchmark (default: the cap-weighted universe) in universe order."""
    held = data.align_holdings(portfolio)
    missing = held.missing.assign(side="portfolio")
    if benchmark is None:
        return _Book(held.weights, data.benchmark_weights, len(held.holdings.tickers), missing, "cap-weighted model universe")
    bench = data.align_holdings(benchmark, name="benchmark")
    missing = pd.concat([missing, bench.missing.assign(side="benchmark")], ignore_index=True)
    return _Book(held.weights, bench.weights, len(held.holdings.tickers), missing, f"user benchmark ({len(bench.holdings.tickers)} names)")


def _idiosyncratic_by_name(data: FactorModelData, w: np.ndarray, b: np.ndarray, idiosyncratic_var: float) -> pd.DataFrame:
    """Step 2: each name's idiosyncratic contribution, with the concentration figures in ``attrs``."""
    by_name = data.idiosyncratic_contributions(w, b)
    by_name.insert(3, "observations", data.snapshot.idiosyncratic_observations[data.ticker_index.get_indexer(by_name["ticker"])])
    shares = by_name["share"].to_numpy()
    effective_names = 1.0 / float((shares**2).sum()) if idiosyncratic_var > 0 else math.nan
    top_name_share = float(shares.max()) if len(shares) else math.nan
    by_name.attrs.update(top_name_share=top_name_share, effective_names=effective_names)
    return by_name


def _summary_table(data: FactorModelData, book: _Book, blocks: pd.DataFrame, active_blocks: pd.DataFrame,
                   idiosyncratic_by_name: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """Step 3: the headline figures (``metric, value``): risks annualized, VaR from the one-day forecast."""
    w, b = book.weights, book.benchmark
    factor_var, idiosyncratic_var, total_var = blocks["variance_contribution"][["common_factor", "idiosyncratic", "total"]]
    active_factor_var, active_idiosyncratic_var, te_var = active_blocks["variance_contribution"][["common_factor", "idiosyncratic", "total"]]
    total_1d, te_1d = data.horizon_risk(w, 1), data.horizon_risk(w, 1, active=True, benchmark=b)  # one-day forecasts
    values = {
        "total_risk": math.sqrt(total_var),
        "factor_risk": math.sqrt(factor_var),
        "idiosyncratic_risk": math.sqrt(idiosyncratic_var),
        "tracking_error": math.sqrt(te_var),
        "active_factor_risk": math.sqrt(active_factor_var),
        "active_idiosyncratic_risk": math.sqrt(active_idiosyncratic_var),
        "beta": data.beta(w, b),
        "var_95": dec.parametric_var(total_1d, 0.95),
        "var_99": dec.parametric_var(total_1d, 0.99),
        "active_var_95": dec.parametric_var(te_1d, 0.95),
        "active_var_99": dec.parametric_var(te_1d, 0.99),
        "idiosyncratic_share_of_te": active_idiosyncratic_var / te_var if te_var > 0 else math.nan,
        "idiosyncratic_share_of_total": idiosyncratic_var / total_var if total_var > 0 else math.nan,
        "effective_names": idiosyncratic_by_name.attrs["effective_names"],
        "top_name_share": idiosyncratic_by_name.attrs["top_name_share"],
        "net_exposure": float(w.sum()),
        "gross_exposure": float(np.abs(w).sum()),
        "holdings": float(book.holdings),
        "missing_holdings": float((book.missing["side"] == "portfolio").sum()),
        "missing_weight": float(book.missing.loc[book.missing["side"] == "portfolio", "weight"].abs().sum()),
    }
    summary = pd.DataFrame({"value": values})
    summary.index.name = "metric"
    return summary


def _quality_tables(snapshot: Snapshot) -> dict[str, pd.DataFrame]:
    """``model_quality`` (fit and bias statistics) and ``factor_quality`` when the snapshot has quality.json.

    Built once per snapshot (not per portfolio); each report gets copies.
    """
    if not snapshot.quality:
        return {}
    tables = snapshot.cached("quality_tables", lambda: _build_quality_tables(snapshot.quality))
    return {key: table.copy() for key, table in tables.items()}


def _build_quality_tables(quality: dict) -> dict[str, pd.DataFrame]:
    rows = {k: v for k, v in quality.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for section in ("bias", "bias_21d"):  # one-day and 21-day horizons
        bias = quality.get(section, {})
        rows.update({f"{section}_{k}": v for k, v in bias.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        if "band" in bias:
            rows[f"{section}_band_low"], rows[f"{section}_band_high"] = bias["band"]
    model = pd.DataFrame({"value": pd.Series(rows, dtype=float)})
    model.index.name = "metric"
    stats = quality.get("factor_t_stats", {})
    factor = pd.DataFrame(
        {
            "factor": list(stats),
            "mean_abs_t": [v["mean_abs_t"] for v in stats.values()],
            "share_abs_t_over_2": [v["share_abs_t_over_2"] for v in stats.values()],
        }
    )
    return {"model_quality": model, "factor_quality": factor}


def _factor_table(data: FactorModelData, w: np.ndarray) -> pd.DataFrame:
    """Factors the portfolio is exposed to, by |variance contribution| (shares of total variance)."""
    table = data.factor_contributions(w).rename(columns={"volatility": "factor_volatility"})
    table = table[table["exposure"] != 0].drop(columns="marginal_contribution")
    return table.reindex(table["variance_contribution"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def _active_table(data: FactorModelData, a: np.ndarray, x_p: np.ndarray, x_b: np.ndarray) -> pd.DataFrame:
    """Every factor with an active exposure, market included, plus the idiosyncratic row.

    ``te_share`` (of TE^2) sums to exactly 1 and ``te_contribution`` to the TE.
    """
    rows = data.risk_contributions(a)
    rows["portfolio_exposure"] = np.append(x_p, np.nan)
    rows["benchmark_exposure"] = np.append(x_b, np.nan)
    idiosyncratic = rows["group"] == "idiosyncratic"
    factors = rows[~idiosyncratic & (rows["exposure"] != 0)]
    factors = factors.loc[factors["variance_contribution"].abs().sort_values(ascending=False).index]
    rows = pd.concat([factors, rows[idiosyncratic]])
    table = pd.DataFrame(
        {
            "factor": rows["factor"],
            "group": rows["group"],
            "portfolio_exposure": rows["portfolio_exposure"],
            "benchmark_exposure": rows["benchmark_exposure"],
            "active_exposure": rows["exposure"],
            "factor_volatility": rows["volatility"],
            "correlation": rows["correlation"],
            "variance_contribution": rows["variance_contribution"],
            "te_contribution": rows["risk_contribution"],
            "te_share": rows["share"],
        }
    ).reset_index(drop=True)
    table["diversifier"] = table["variance_contribution"] < 0
    return table


def _exposure_table(data: FactorModelData, group: str, x_p: np.ndarray, x_b: np.ndarray) -> pd.DataFrame:
    mask = data.factor_groups == group
    names = data.factor_names[mask]
    if group in ("sector", "industry"):
        names = np.array([n.split(":", 1)[1] for n in names])
    table = pd.DataFrame({group if group != "style" else "factor": names, "portfolio": x_p[mask], "benchmark": x_b[mask]})
    table["active"] = table["portfolio"] - table["benchmark"]
    return table


def _risk_rows(factor_var: float, idiosyncratic_var: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"risk": [math.sqrt(factor_var), math.sqrt(idiosyncratic_var), math.sqrt(factor_var + idiosyncratic_var)]},
        index=["factor", "idiosyncratic", "total"],
    )
    frame.index.name = "component"
    return frame


def _var_table(total_at, te_at) -> pd.DataFrame:
    """VaR and ES rows; ``total_at(h)``/``te_at(h)`` give the annualized risk forecast for horizon ``h``."""
    rows = []
    for confidence in VAR_CONFIDENCES:
        for horizon in VAR_HORIZONS_DAYS:
            total, te = total_at(horizon), te_at(horizon)
            rows.append(
                {
                    "confidence": confidence,
                    "horizon_days": horizon,
                    "var": dec.parametric_var(total, confidence, horizon),
                    "active_var": dec.parametric_var(te, confidence, horizon),
                    "expected_shortfall": dec.parametric_expected_shortfall(total, confidence, horizon),
                    "active_expected_shortfall": dec.parametric_expected_shortfall(te, confidence, horizon),
                }
            )
    return pd.DataFrame(rows)


def _snapshot_table(snapshot: Snapshot, benchmark_label: str) -> pd.DataFrame:
    facts = snapshot.describe()
    facts["benchmark"] = benchmark_label
    if snapshot.is_simulated:
        facts["note"] = "SIMULATED MARKET: the demo snapshot is generated by xlfactor, not real data"
    # Native values (booleans, counts as numbers, text): JSON and the Summary sheet keep their types.
    frame = pd.DataFrame({"value": pd.Series(facts, dtype=object)})
    frame.index.name = "field"
    return frame


def _diagnostics_table(snapshot: Snapshot) -> pd.DataFrame:
    """The snapshot's diagnostics, one row per item (``item``, ``value``: numbers and flags typed, counts per factor as text)."""
    items = snapshot.diagnostics or {}
    values = [diagnostic_value(k, v) for k, v in items.items()]
    return pd.DataFrame({"item": list(items), "value": pd.Series(values, dtype=object)}, columns=["item", "value"])


def _attribution_tables(
    data: FactorModelData, w: np.ndarray, b: np.ndarray, date: str | None, active_table: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """``attribution`` (reconciliation), ``attribution_factors``, ``attribution_contributors`` and names.

    ``attribution_contributors`` ranks the factors by |active contribution| with
    ``pct_active`` (contribution / active return, may exceed 100% when drivers offset)
    next to ``te_share`` (the factor's ex-ante share of TE²).
    """
    try:
        result = daily_attribution(data, w, b, date)
    except XlfactorError as exc:
        note = pd.DataFrame({"note": [str(exc)]})
        return {"attribution": note, "attribution_factors": note, "attribution_contributors": note, "idiosyncratic_returns": note}
    summary = result.summary.copy()
    summary.attrs.update(date=result.date, exposure_date=result.exposure_date, notes=result.notes)
    te_share = active_table.set_index("factor")["te_share"]
    factors = result.factors
    contributors = pd.DataFrame(
        {
            "group": factors["group"],
            "factor": factors["factor"],
            "contribution": factors["active_contribution"],
            "pct_active": factors["pct_active"],
            "te_share": factors["factor"].map(te_share).fillna(0.0).to_numpy(),
        }
    )
    order = contributors["contribution"].abs().sort_values(ascending=False, kind="stable").index
    return {
        "attribution": summary,
        "attribution_factors": factors,
        "attribution_contributors": contributors.loc[order].reset_index(drop=True),
        "idiosyncratic_returns": result.names,
    }
