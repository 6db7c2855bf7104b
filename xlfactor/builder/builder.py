"""Build snapshots from market data: the orchestration of the model pipeline.

``build_model`` computes everything that is known day by day (descriptors, standardized
exposures, daily regressions); ``snapshot_at`` turns the history up to one date into a
:class:`~xlfactor.snapshot.snapshot.Snapshot` (covariance, idiosyncratic risk, quality);
``build_snapshot`` does both from an input folder and writes the snapshot folder(s).
Nothing at date ``d`` uses data after ``d``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor.conventions import FORECAST_HORIZON_DAYS, INDUSTRY_PREFIX, MARKET_FACTOR, SECTOR_PREFIX, TRADING_DAYS_PER_YEAR, Choice
from xlfactor._files import atomic_write
from xlfactor.errors import XlfactorError
from xlfactor.builder import descriptors as desc
from xlfactor.builder.fanout import Mapper, serial_map
from xlfactor.builder.covariance import CovarianceOptions, factor_covariance
from xlfactor.builder.inputs import MarketData, read_inputs
from xlfactor.builder.quality import bias_statistics, fit_statistics
from xlfactor.builder.scenario_library import scenarios_within
from xlfactor.builder.regression import RegressionResult, industry_members, live_industries, regress
from xlfactor.builder.idiosyncratic_risk import IdiosyncraticRiskOptions, idiosyncratic_risk
from xlfactor.builder.standardize import mid_cap, orthogonalize, standardize
from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot

MODEL_VERSION = "xlfactor-builder-1"
STYLE_ORDER = (*desc.PRICE_DESCRIPTORS, "size", "mid_cap", "value", "earnings_yield",
               "forward_earnings_yield", "dividend_yield", "growth", "forward_growth", "sentiment", "profitability",
               "gross_profitability", "leverage", "investment", "investment_quality", "earnings_quality",
               "earnings_variability", "short_interest")  # fmt: skip
MIN_REGRESSION_DAYS = 63
MIN_UNIVERSE_NAMES = 30
"""Fewest names with a price, a positive market cap and a sector on a date a build writes."""
MIN_STYLE_COVERAGE = 0.5  # share of the universe with a score for a style to be estimated that day

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildOptions:
    """Parameters of a build (USE4S-like defaults)."""

    risk_window: int = TRADING_DAYS_PER_YEAR  # days of factor and residual returns written to the snapshot
    history_days: int | None = None  # days of factor returns written if longer (scenarios, historical VaR)
    panel_dates: int = 64  # lagged exposure blocks kept for attribution and tracking
    min_industry_members: int = 3  # fewer names that day: the industry folds into its sector
    min_universe_names: int = MIN_UNIVERSE_NAMES  # fewer usable names on a date written: the build is refused
    market_series: str | None = "SPY"  # benchmark.csv series that pins the market factor, if present
    universe: str = "custom"
    quality: bool = True
    quality_start: str | None = None  # first forecast date scored by the bias statistics (default: 126 days in)
    covariance: CovarianceOptions = field(default_factory=CovarianceOptions)
    idiosyncratic: IdiosyncraticRiskOptions = field(default_factory=IdiosyncraticRiskOptions)


@dataclass(frozen=True, eq=False)
class ModelHistory:
    """Everything known day by day; row ``d`` of exposures is known at the close of ``dates[d]``."""

    data: MarketData
    style_names: list[str]
    styles: np.ndarray  # (n_dates, n_tickers, n_styles) standardized, NaN outside the universe
    raw_styles: np.ndarray | RowSubset  # (n_dates, n_tickers, n_styles) raw descriptors, or the snapshot rows only
    universe: np.ndarray  # (n_dates, n_tickers) bool: price, positive cap and a sector at the close
    regression: RegressionResult  # row t: returns of dates[t] on exposures of dates[t-1] (row 0 empty)
    factor_names: np.ndarray  # regression factor order: market, sectors, industries, styles
    factor_groups: np.ndarray
    market_pinned: bool
    skipped: dict[str, str]
    min_industry_members: int = 3


@dataclass(frozen=True, eq=False)
class RowSubset:
    """Rows of a (n_dates, ...) panel kept for some dates only; ``subset[row]`` reads like the full panel."""

    rows: np.ndarray  # (n_kept,) ascending date rows
    values: np.ndarray  # (n_kept, ...) the panel at those rows

    def __getitem__(self, row: int) -> np.ndarray:
        position = int(np.searchsorted(self.rows, row))
        if position == len(self.rows) or self.rows[position] != row:
            raise KeyError(f"row {row} was not kept (kept: {self.rows.tolist()[:5]}...)")
        return self.values[position]


@dataclass(frozen=True, eq=False)
class StyleExposures:
    """Standardized style exposures known at each close, and the descriptors behind them."""

    names: list[str]
    styles: np.ndarray  # (n_dates, n_tickers, n_styles) standardized, NaN outside the universe or absent
    raw: np.ndarray | RowSubset | None  # (n_dates, n_tickers, n_styles) or those rows only; None when not kept
    universe: np.ndarray  # (n_dates, n_tickers) bool: price, positive cap and a sector at the close
    skipped: dict[str, str]


CHUNK_DATES = 128
"""Dates standardized at once: the temporaries of a cross-section pass are this many rows, not the whole history."""


def style_exposures(
    data: MarketData, keep_raw: bool = True, from_reports: dict | None = None, raw_rows=None, chunk_dates: int = CHUNK_DATES
) -> StyleExposures:
    """Descriptors of every date, standardized day by day (also what the demo simulator uses).

    ``from_reports`` may pass :func:`~xlfactor.builder.descriptors.report_descriptors` of the
    same reports (the simulator recomputes exposures many times on the same reports).
    ``raw_rows`` (date rows) keeps the raw descriptors of those dates only (a
    :class:`RowSubset`; the builder needs them at its as-of dates); by default all dates.

    Memory: one raw descriptor panel lives at a time. The standardized scores are written
    straight into the (n_dates, n_tickers, n_styles) stack, ``chunk_dates`` dates per
    cross-section pass, so the peak is the stack plus one descriptor and its
    temporaries. Every step is a per-date (row) operation on the same values, so the
    scores do not depend on ``chunk_dates``, bit for bit.

    A secondary style that mechanically shares a primary one's signal is orthogonalized
    to it (USE4 practice, :func:`~xlfactor.builder.standardize.orthogonalize`): residual
    volatility to beta and size; downside risk to beta, size, residual volatility and
    momentum (a falling stock has many negative days); prospect (skewness) to momentum.
    The trend itself is then carried by momentum alone.
    """
    universe = np.isfinite(data.close) & (data.market_cap > 0) & (data.sector >= 0)
    items = desc.descriptor_items(data, from_reports)
    present = [name for name, _ in items]
    if "size" in present:
        present.append("mid_cap")  # the standardized size squared, orthogonalized
    order = [n for n in STYLE_ORDER if n in present]
    column = {name: j for j, name in enumerate(order)}
    n_dates, n_tickers = data.close.shape
    chunks = [slice(a, min(a + chunk_dates, n_dates)) for a in range(0, n_dates, chunk_dates)]
    block = np.empty((n_dates, n_tickers, len(order)))  # C order, so a pickled copy (a Dask worker's) has the same layout, and so the same rounding in later products
    rows = np.arange(n_dates) if raw_rows is None else np.unique(np.asarray(raw_rows, dtype=np.int64))
    raw = np.empty((len(rows), n_tickers, len(order))) if keep_raw else None
    members = np.maximum(universe.sum(axis=1), 1)
    skipped: dict[str, str] = {}
    usable: set[str] = set()

    def store(name: str, scores_of: Callable[[slice], np.ndarray]) -> bool:
        found = False
        for chunk in chunks:
            scores = scores_of(chunk)
            found = found or bool(np.isfinite(scores).any())
            block[chunk, :, column[name]] = scores
        return found

    def standardized(values: np.ndarray) -> Callable[[slice], np.ndarray]:
        def scores_of(chunk: slice) -> np.ndarray:
            scores = standardize(values[chunk], data.market_cap[chunk], universe[chunk])
            # a style is a factor only on days most of the universe has a score: with a handful of
            # names (a report season just starting) its factor return would be their idiosyncratic noise
            covered = (np.isfinite(scores) & universe[chunk]).sum(axis=1) >= MIN_STYLE_COVERAGE * members[chunk]
            return np.where(covered[:, None], scores, np.nan)

        return scores_of

    for name, compute in items:
        values = compute()
        if raw is not None:
            raw[..., column[name]] = values[rows]
        if store(name, standardized(values)):
            usable.add(name)
        else:
            skipped[name] = "no usable values (too little history or inputs)"
        del values

    def style(name: str) -> np.ndarray:
        return np.ascontiguousarray(block[..., column[name]])

    if "size" in usable:
        size_scores = style("size")
        store("mid_cap", lambda chunk: mid_cap(size_scores[chunk], data.market_cap[chunk], universe[chunk]))
        del size_scores
        usable.add("mid_cap")
        if raw is not None:
            raw[..., column["mid_cap"]] = block[rows, :, column["mid_cap"]]
    if {"residual_volatility", "beta", "size"} <= usable:
        against = [style("beta"), style("size")]
        volatility = style("residual_volatility")
        store("residual_volatility", lambda chunk: orthogonalize(
            volatility[chunk], [a[chunk] for a in against], data.market_cap[chunk], universe[chunk]))  # fmt: skip
        del against, volatility
    explains_downside = [n for n in ("beta", "size", "residual_volatility", "momentum") if n in usable]
    if "downside_risk" in usable and explains_downside:  # downside risk beyond what volatility, beta and the trend imply
        against = [style(n) for n in explains_downside]  # residual volatility as just orthogonalized
        downside = style("downside_risk")
        store("downside_risk", lambda chunk: orthogonalize(
            downside[chunk], [a[chunk] for a in against], data.market_cap[chunk], universe[chunk]))  # fmt: skip
        del against, downside
    if {"prospect", "momentum"} <= usable:  # the shape of the return distribution beyond its trend
        prospect, trend = style("prospect"), style("momentum")
        store("prospect", lambda chunk: orthogonalize(
            prospect[chunk], [trend[chunk]], data.market_cap[chunk], universe[chunk]))  # fmt: skip
        del prospect, trend
    for name in STYLE_ORDER:
        if name not in usable and name not in skipped:
            skipped[name] = "inputs absent"
    names = [n for n in order if n in usable]
    if len(names) < len(order):  # rare (a style with no usable value at all): compact the stacks
        keep = [column[n] for n in names]
        block = np.ascontiguousarray(block[..., keep])
        raw = None if raw is None else np.ascontiguousarray(raw[..., keep])
    if raw is not None and raw_rows is not None:
        raw = RowSubset(rows, raw)
    return StyleExposures(names, block, raw, universe, skipped)


def build_model(
    data: MarketData, options: BuildOptions = BuildOptions(), progress: Progress | None = None, mapper: Mapper | None = None,
    snapshot_rows=None,
) -> ModelHistory:  # fmt: skip
    """Descriptors, standardized exposures and daily regressions for every date of ``data``.

    ``mapper`` fans the chunks of regression days out (see :mod:`xlfactor.builder.fanout`).
    ``snapshot_rows`` (date rows) limits the raw descriptors kept to those dates, the
    only ones :func:`snapshot_at` can then be asked for; by default every date.
    """
    stage = _stage(progress)
    stage("descriptors", 0, 1)
    exposures = style_exposures(data, raw_rows=snapshot_rows)
    stage("descriptors", 1, 1)
    market, pinned = _market_series(data, options)
    days = len(data.dates) - 1
    stage("regressions (days)", 0, days)
    regression = regress(
        data.returns[1:], data.market_cap[:-1], exposures.styles[:-1], data.sector[:-1], data.industry[:-1],
        data.industry_sector, len(data.sector_names), None if market is None else market[1:],
        options.min_industry_members, _counting(mapper, progress, "regressions (days)", days),
    )  # fmt: skip
    regression = _prepend_empty_day(regression)
    names, groups = factor_names(data, exposures.names)
    return ModelHistory(
        data, exposures.names, exposures.styles, exposures.raw, exposures.universe, regression, names, groups,
        pinned, exposures.skipped, options.min_industry_members,
    )  # fmt: skip


def factor_names(data: MarketData, style_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Factor ids and groups in regression order: market, sectors, industries, styles."""
    names = np.array(
        [MARKET_FACTOR]
        + [SECTOR_PREFIX + s for s in data.sector_names]
        + [INDUSTRY_PREFIX + i for i in data.industry_names]
        + list(style_names)
    )
    groups = np.array(
        ["market"] + ["sector"] * len(data.sector_names) + ["industry"] * len(data.industry_names) + ["style"] * len(style_names)
    )
    return names, groups


def _stage(progress: Progress | None) -> Progress:
    """``progress`` or a no-op: ``stage(label, done, total)`` as a stage starts (done 0) and advances."""
    return progress if progress is not None else (lambda label, done, total: None)


def _counting(mapper: Mapper | None, progress: Progress | None, label: str, units: int) -> Mapper | None:
    """``mapper`` (default in-process) reporting ``progress(label, units done, units)`` as its tasks finish.

    The tasks are chunks of ``units`` (days): a finished share of the tasks is reported as
    the same share of the units.
    """
    if progress is None:
        return mapper

    def mapped(fn, shared, tasks, on_done=None, on_result=None, meanwhile=None):
        def done(i: int, n: int) -> None:
            progress(label, round(units * i / n), units)
            if on_done is not None:
                on_done(i, n)

        return (mapper or serial_map)(fn, shared, tasks, done, on_result, meanwhile)

    return mapped


def _market_series(data: MarketData, options: BuildOptions) -> tuple[np.ndarray | None, bool]:
    if options.market_series is None or data.benchmark is None or options.market_series not in data.benchmark:
        return None, False
    closes = data.benchmark[options.market_series].to_numpy(dtype=float)
    returns = np.full(len(closes), np.nan)
    returns[1:] = closes[1:] / closes[:-1] - 1
    if np.isnan(returns[1:]).any():
        return None, False  # gaps: estimate the market instead (stated in the metadata)
    return returns, True


def _prepend_empty_day(result: RegressionResult) -> RegressionResult:
    def pad(array: np.ndarray) -> np.ndarray:
        filler = np.full((1,) + array.shape[1:], np.nan if array.dtype.kind == "f" else 0, dtype=array.dtype)
        return np.concatenate([filler, array])

    return RegressionResult(*(pad(getattr(result, f)) for f in RegressionResult.__dataclass_fields__))


# ---------------------------------------------------------------- one snapshot


def exposure_block(history: ModelHistory, row: int, names: np.ndarray, factor_index: np.ndarray) -> np.ndarray:
    """(len(names), len(factor_index)) exposures known at the close of ``row`` (NaN = absent style)."""
    data = history.data
    n_sec, n_ind = len(data.sector_names), len(data.industry_names)
    universe = history.universe[row][None]  # rows read one at a time: a snapshot task's panels may be RowSubset windows
    industry = data.industry[row][None]
    live = live_industries(universe, industry, data.industry_sector, n_sec, history.min_industry_members)
    member = industry_members(live, industry)[0]
    full = np.zeros((len(data.tickers), 1 + n_sec + n_ind + len(history.style_names)))
    in_universe = universe[0]
    full[:, 0] = in_universe
    sec = data.sector[row]
    rows = np.nonzero(in_universe & (sec >= 0))[0]
    full[rows, 1 + sec[rows]] = 1.0
    rows = np.nonzero(in_universe & member)[0]
    full[rows, 1 + n_sec + data.industry[row][rows]] = 1.0
    full[:, 1 + n_sec + n_ind :] = history.styles[row]
    return full[np.ix_(names, factor_index)]


def model_factors(history: ModelHistory, row: int, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The factor set of the model at the close of ``row`` and the exposures of ``names`` to it.

    A factor is kept when it has at least one estimated return up to ``row`` and at least
    one member (nonzero exposure) among ``names`` at that close; the market always.
    Returns the factor positions (into ``history.factor_names``) and the
    (len(names), n_kept) exposures (NaN = absent style).
    """
    all_block = exposure_block(history, row, names, np.arange(len(history.factor_names)))
    has_history = np.isfinite(history.regression.factor_returns[1 : row + 1]).any(axis=0)
    has_members = np.nan_to_num(np.abs(all_block)).sum(axis=0) > 0
    keep = has_history & has_members
    keep[0] = True
    factor_index = np.nonzero(keep)[0]
    return factor_index, all_block[:, factor_index]


def snapshot_at(
    history: ModelHistory, row: int, options: BuildOptions = BuildOptions(), quality: bool | None = None,
    simulated: bool = False, description: str = "",
) -> Snapshot:  # fmt: skip
    """The snapshot known at the close of ``history.data.dates[row]``."""
    data, reg = history.data, history.regression
    if row < MIN_REGRESSION_DAYS:
        raise XlfactorError(f"{data.dates[row]}: only {row} days of history, at least {MIN_REGRESSION_DAYS} needed")
    names = np.nonzero(history.universe[row])[0]
    factor_index, exposures = model_factors(history, row, names)
    past = reg.factor_returns[1 : row + 1]
    factor_names = history.factor_names[factor_index]
    covariance, cov_notes = factor_covariance(past[:, factor_index], options.covariance)
    cov_notes.pop("eigen_bias", None)
    structural_x = np.nan_to_num(exposures)
    idiosyncratic_21d, observations, idiosyncratic_notes = idiosyncratic_risk(reg.residuals[1 : row + 1][:, names], structural_x, data.market_cap[row][names], options.idiosyncratic)
    # the one-day forecast beside the 21-day one (no Newey-West terms), both annualized
    covariance_1d, _ = factor_covariance(past[:, factor_index], options.covariance.one_day())
    idiosyncratic_1d, _, _ = idiosyncratic_risk(reg.residuals[1 : row + 1][:, names], structural_x, data.market_cap[row][names], options.idiosyncratic.one_day())

    window = slice(max(1, row - options.risk_window + 1), row + 1)
    dates = pd.Index(data.dates[window].astype(object), name="date")
    tickers = data.tickers[names]
    stored = slice(max(1, row - max(options.risk_window, options.history_days or 0) + 1), row + 1)
    history_dates = pd.Index(data.dates[stored].astype(object), name="date")
    factor_returns = pd.DataFrame(reg.factor_returns[stored][:, factor_index], index=history_dates, columns=factor_names.astype(object))
    residual_returns = pd.DataFrame(reg.residuals[window][:, names], index=dates.copy(), columns=tickers.astype(object))
    first_panel = max(0, row - options.panel_dates + 1)
    panel = np.stack([np.nan_to_num(exposure_block(history, r, names, factor_index)) for r in range(first_panel, row + 1)])
    raw = np.full_like(exposures, np.nan)
    style_cols = np.nonzero(history.factor_groups[factor_index] == "style")[0]
    style_pos = [history.style_names.index(n) for n in factor_names[style_cols]]
    raw[:, style_cols] = history.raw_styles[row][np.ix_(names, style_pos)]
    member_cols = np.isin(history.factor_groups[factor_index], ("sector", "industry"))
    raw[:, member_cols] = exposures[:, member_cols]
    metadata = {
        "as_of_date": str(data.dates[row]),
        "universe": options.universe,
        "model_version": MODEL_VERSION,
        "simulated": simulated,
        "tickers": int(len(names)),
        "factor_count": int(len(factor_index)),
        "risk_window": options.risk_window,
        "forecast_horizon_days": FORECAST_HORIZON_DAYS,
        "daily_forecast": "factor_covariance_daily.csv and idiosyncratic_risk_daily (one-day horizon, no Newey-West)",
        "market_factor": "pinned to " + str(options.market_series) if history.market_pinned else "estimated",
        "market_cap_source": "input",
        "skipped_factors": history.skipped,
    }
    if description:
        metadata["description"] = description
    diagnostics = {**{k: v for k, v in cov_notes.items()}, **idiosyncratic_notes}
    unclassified = unclassified_names(data, row)
    if len(unclassified):  # dropped: a market cap but no sector; kept in metadata.json too
        diagnostics["unclassified_names"] = metadata["unclassified_names"] = int(len(unclassified))
    if history.skipped:
        diagnostics["skipped_factors"] = ", ".join(f"{k} ({v})" for k, v in history.skipped.items())
    report = None
    if quality if quality is not None else options.quality:
        report = model_quality(history, row, factor_index, options)
    indexes, index_returns, index_prices = _index_files(data, window, options)
    if index_returns is not None:
        metadata["benchmark_return_ticker"] = options.market_series if options.market_series in index_returns else index_returns.columns[0]
        metadata["benchmark_return_source"] = "index_returns.csv"
    return Snapshot(
        metadata=metadata,
        tickers=tickers,
        factor_names=factor_names,
        factor_groups=history.factor_groups[factor_index],
        exposures=exposures,
        raw_exposures=raw,
        market_cap=data.market_cap[row][names],
        factor_covariance=covariance,
        idiosyncratic_risk=idiosyncratic_21d,
        idiosyncratic_observations=observations,
        factor_returns=factor_returns,
        residual_returns=residual_returns,
        exposure_panel=ExposurePanel(dates=data.dates[first_panel : row + 1].astype(str), values=panel),
        indexes=indexes,
        index_returns=index_returns,
        index_prices=index_prices,
        diagnostics=diagnostics,
        quality=report,
        names=None if data.names is None else data.names[names],
        factor_covariance_1d=covariance_1d,
        idiosyncratic_risk_1d=idiosyncratic_1d,
        scenarios=scenarios_within(history_dates),
    )


def model_quality(history: ModelHistory, row: int, factor_index: np.ndarray, options: BuildOptions) -> dict:
    """quality.json: fit statistics and out-of-sample bias statistics up to ``row``."""
    reg = history.regression
    sliced = RegressionResult(*(getattr(reg, f)[: row + 1] for f in RegressionResult.__dataclass_fields__))
    report = fit_statistics(sliced, history.factor_names)
    names = np.arange(len(history.data.tickers))
    report.update(
        bias_statistics(
            reg.factor_returns[: row + 1],
            reg.residuals[: row + 1],
            history.data.returns[: row + 1],
            lambda r: model_factors(history, r, names),
            history.data.market_cap[: row + 1],
            history.universe[: row + 1],
            covariance_options=options.covariance,
            idiosyncratic_options=options.idiosyncratic,
            report_factors=factor_index,
            first_row=0 if options.quality_start is None else int(np.searchsorted(history.data.dates, options.quality_start)),
        )
    )
    report["as_of_date"] = str(history.data.dates[row])
    report["skipped_factors"] = history.skipped
    return report


def _index_files(data: MarketData, window: slice, options: BuildOptions):
    if data.benchmark is None:
        return None, None, None
    closes = data.benchmark.iloc[window.start - 1 if window.start else 0 : window.stop]
    returns = closes.pct_change().iloc[1:] if window.start else closes.pct_change()
    returns.index = pd.Index(returns.index.astype(object), name="date")
    returns.columns = returns.columns.astype(object)
    tickers = list(closes.columns)
    indexes = pd.DataFrame(
        {
            "ticker": tickers,
            "name": tickers,
            "benchmark": ["market" if t == options.market_series else "" for t in tickers],
            "provider": "input",
            "default_benchmark": [t == options.market_series for t in tickers],
        }
    )
    prices = closes.iloc[1:] if window.start else closes
    long = prices.stack().rename("close").reset_index()
    long.columns = ["date", "ticker", "close"]
    return indexes, returns, long


# ---------------------------------------------------------------- from a folder


class BuildFrequency(Choice):
    """How often ``build_snapshot`` writes a snapshot (``--every``): each trading day or each month end."""

    DAY = "day"
    MONTH = "month"


def output_rows(dates: np.ndarray, every: BuildFrequency | str | None, first: int) -> list[int]:
    """Rows to write: the last one, every day, or the last trading day of each month.

    >>> output_rows(np.array(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]), "MONTH", 0)
    [1, 3]
    """
    last = len(dates) - 1
    if every is None:
        return [last]
    if BuildFrequency.parse(every, "every") is BuildFrequency.DAY:
        return list(range(first, last + 1))
    months = np.array([d[:7] for d in dates])
    return [i for i in range(first, last + 1) if i == last or months[i + 1] != months[i]]


def build_snapshot(
    data_dir: str | Path,
    out: str | Path,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    every: BuildFrequency | str | None = None,
    options: BuildOptions = BuildOptions(),
    progress: Progress | None = None,
    mapper: Mapper | None = None,
    notes: Callable[[str], None] | None = None,
) -> list[Path]:
    """Build snapshot folder(s) from an input folder; returns the folders written.

    Refused before anything is written (``out`` stays as it was): ``start`` after
    ``end``, no date to write, or a date whose universe has fewer than
    :data:`MIN_UNIVERSE_NAMES` names with a price, a positive market cap and a sector
    (:func:`check_universe`). Names left out for want of a classification are counted in
    each snapshot's diagnostics and told to ``notes`` (the CLI prints them). An ``out``
    that is a symbolic link is written through: the link's target receives the snapshot.

    One snapshot (at ``as_of``, default the last date) goes to ``out``; with ``every``
    (``DAY`` or ``MONTH``) one goes to ``out/date=YYYY-MM-DD`` per date from ``start``
    (after the first 63 regression days), plus ``out/latest.json``. ``mapper`` fans out
    the chunks of regression days and the as-of snapshots (:func:`snapshot_tasks`; each
    estimated from the history alone, so the files do not depend on it; see
    :mod:`xlfactor.builder.fanout`) while this process computes the last one's quality report.

    The regression chunks are the cheaper half to fan out: a chunk's solve reads about as
    many bytes as it computes on, so on one machine shipping it costs about what solving
    it does (measured at 1,000 names x 5 years on a 2-worker LocalCluster: 2.1 s fanned
    out against 0.65 s in-process). They go to the workers anyway, so that a cluster
    build leaves the client only the descriptors and the quality report.
    """
    every = None if every is None else BuildFrequency.parse(every, "every")  # refused before any work
    if start and (as_of or end) and str(start) > str(as_of or end):
        raise XlfactorError(f"--start {start} is after --end {as_of or end}: no date to write")
    stage = _stage(progress)
    data_dir = Path(data_dir)
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()  # the snapshot goes to the link's target; the link stays
    stage("read", 0, 1)
    data = read_inputs(data_dir, None, as_of or end)
    stage("read", 1, 1)
    source = _source_info(data_dir)
    first = max(MIN_REGRESSION_DAYS, int(np.searchsorted(data.dates, start)) if start else MIN_REGRESSION_DAYS)
    if first >= len(data.dates):
        where = f"from --start {start}" if start else f"after the first {MIN_REGRESSION_DAYS} days of history"
        raise XlfactorError(f"no date to write {where}: the data end on {data.dates[-1]}")
    rows = output_rows(data.dates, every, first)
    check_universe(data, rows, options)  # a degenerate universe is refused before anything is written
    unclassified = unclassified_names(data, rows[-1])
    if len(unclassified) and notes is not None:
        notes(f"{len(unclassified)} names with a price and a market cap on {data.dates[rows[-1]]} have no classification "
              f"and are left out: {', '.join(unclassified[:10])}{', ...' if len(unclassified) > 10 else ''}")  # fmt: skip
    history = _for_snapshots(build_model(data, options, progress, mapper, snapshot_rows=rows))
    del data  # the prices, volumes and fundamentals are in the exposures now
    tasks = snapshot_tasks(history, rows, options)
    last = rows[-1]
    from xlfactor.snapshot.writer import finish_snapshot

    report: dict[str, dict] = {}  # the last snapshot's quality report
    staged: list[Path] = []  # the last snapshot's staged folder, until it is finished

    def arrived(position: int, result: Path) -> Path:
        if tasks[position][0] == "stage":
            staged.append(result)
        return result

    def quality_here() -> None:
        # here, on the history this process holds (nothing shipped), while the workers estimate the snapshots
        stage("quality", 0, 1)
        names = np.nonzero(history.universe[last])[0]
        factor_index, _ = model_factors(history, last, names)
        report["quality"] = model_quality(history, last, factor_index, options)
        stage("quality", 1, 1)

    label = "covariance and write (snapshots)"
    done = None if progress is None else (lambda i, n: progress(label, i, n))

    def meanwhile() -> None:
        if options.quality:
            quality_here()
        stage(label, 0, len(tasks))  # the snapshots' bar, once the quality report is in

    try:
        results = (mapper or serial_map)(_snapshot_task, (options, source, str(out), every), tasks, done, arrived,
                                         meanwhile if options.quality or progress is not None else None)  # fmt: skip
        if staged:  # the stage task is the first (longest first): its report is in, so it goes into place
            stage("write", 0, 1)
            results[0] = finish_snapshot(staged.pop(), _snapshot_folder(out, every, history.data.dates[last]), report["quality"])
            stage("write", 1, 1)
    finally:
        for folder in staged:  # a failed build leaves no staged folder behind
            shutil.rmtree(folder, ignore_errors=True)
    written = results[::-1]  # the tasks run from the latest row back
    if every is not None:
        latest = (json.dumps({"latest": str(history.data.dates[last]), "universe": options.universe}) + "\n").encode()
        atomic_write(Path(out) / "latest.json", lambda handle: handle.write(latest))
    return written


def check_universe(data: MarketData, rows: list[int], options: BuildOptions = BuildOptions()) -> None:
    """Refuse a build whose universe is empty or degenerate on a date it writes.

    Raises
    ------
    XlfactorError
        Naming the worst date, how many names are usable there (a price, a positive market
        cap and a sector), the minimum, and how many lack a positive cap or a sector.
    """
    rows_ = np.asarray(rows)
    priced = np.isfinite(data.close[rows_])
    capped = priced & (data.market_cap[rows_] > 0)
    usable = capped & (data.sector[rows_] >= 0)
    counts = usable.sum(axis=1)
    worst = int(np.argmin(counts))
    if counts[worst] >= options.min_universe_names:
        return
    no_cap = int((priced[worst] & ~capped[worst]).sum())
    no_sector = int((capped[worst] & (data.sector[rows_[worst]] < 0)).sum())
    raise XlfactorError(
        f"build refused: on {data.dates[rows_[worst]]} only {int(counts[worst])} names have a price, a positive market cap "
        f"and a sector (at least {options.min_universe_names} needed; {no_cap} priced names have no positive market cap, "
        f"{no_sector} no classification); nothing was written"
    )


def unclassified_names(data, row: int) -> np.ndarray:
    """Tickers with a positive market cap but no sector at ``row`` (left out of the universe), sorted."""
    cap = np.asarray(data.market_cap[row], dtype=float)
    missing = np.isfinite(cap) & (cap > 0) & (np.asarray(data.sector[row]) < 0)
    return np.sort(data.tickers[missing]).astype(str)


def snapshot_tasks(history: ModelHistory, rows: list[int], options: BuildOptions) -> list[tuple[str, ModelHistory, int]]:
    """The fan-out tasks of ``build_snapshot``: ``(kind, view, row)``, longest first.

    ``"write"`` estimates and writes the snapshot of ``row``. With quality, the last row
    is ``"stage"``: the snapshot estimated and written to a hidden folder beside its
    target (:func:`xlfactor.snapshot.writer.stage_snapshot`), while the calling process computes its quality
    report (the bias statistics refit the model every month of the history: the longest
    piece, on the history it already holds); the report is added and the folder moved
    into place once the mapper is done (:func:`xlfactor.snapshot.writer.finish_snapshot`). So even a single-snapshot build
    has two pieces that run side by side. A mapper starts tasks in order, so the order is
    longest first (the snapshots from the latest back: each has a longer history to
    estimate than the one before), and no long task starts last while the other workers
    idle. Each task carries only what it reads (:func:`snapshot_view`).
    """
    last = rows[-1]
    return [("stage" if options.quality and row == last else "write", snapshot_view(history, row, options), row) for row in reversed(rows)]


def snapshot_view(history: ModelHistory, row: int, options: BuildOptions = BuildOptions()) -> ModelHistory:
    """What estimating the snapshot of ``row`` (without its quality report) reads from ``history``, and nothing more.

    One task's input. Every per-date array is cut after ``row`` (nothing later is read);
    the per-date panels (styles, universe, caps, classification) keep only the rows of
    the lagged exposure panel, as :class:`RowSubset` windows, and the regression its
    factor returns and residuals up to ``row`` (the covariance and the idiosyncratic
    risk are estimated from the whole history). Everything is a view: in-process a view
    costs nothing; sent to a worker it is that task's data, about 25 MB at 1,000 names
    (residuals and a 64-day style panel) where the whole history is 320 MB.
    :func:`snapshot_at` gives the same numbers on the view as on ``history``, bit for bit.
    """
    stop = row + 1
    data, reg = history.data, history.regression
    panel = np.arange(max(0, row - options.panel_dates + 1), stop)

    def window(panel_array: np.ndarray) -> RowSubset:
        return RowSubset(panel, panel_array[panel[0] : stop])

    data = replace(
        data, dates=data.dates[:stop], market_cap=window(data.market_cap), sector=window(data.sector),
        industry=window(data.industry), returns=None, benchmark=None if data.benchmark is None else data.benchmark.iloc[:stop],
    )  # fmt: skip
    empty = {f: getattr(reg, f)[:0] for f in RegressionResult.__dataclass_fields__}  # read only by the quality report
    regression = RegressionResult(**{**empty, "factor_returns": reg.factor_returns[:stop], "residuals": reg.residuals[:stop]})
    raw = RowSubset(np.array([row]), history.raw_styles[row][None])
    return replace(history, data=data, styles=window(history.styles), raw_styles=raw, universe=window(history.universe),
                   regression=regression)  # fmt: skip


def _for_snapshots(history: ModelHistory) -> ModelHistory:
    """``history`` without the inputs only the descriptors and the regressions read.

    Dropped: the unadjusted and adjusted closes, volumes and fundamentals, and the
    regression weights. What is kept while snapshots are estimated is then the exposures,
    returns, caps, classification and regression results: at 3,000 names x 5 years about
    0.5 GB less. :func:`snapshot_at` and :func:`model_quality` read none of the dropped
    fields; :func:`style_exposures` cannot run on the result.
    """
    slim = replace(history.data, close=None, adjusted=None, volume=None, fundamentals={}, reports=None)
    regression = replace(history.regression, weights=history.regression.weights[:0])
    return replace(history, data=slim, regression=regression)


def _snapshot_task(options: BuildOptions, source: dict, out: str, every: str | None, kind: str, view: ModelHistory,
                   row: int) -> Path:  # fmt: skip
    """One fan-out task of :func:`build_snapshot` (see :func:`snapshot_tasks`): the folder written or staged."""
    snapshot = snapshot_at(view, row, options, quality=False, **source)
    target = _snapshot_folder(out, every, view.data.dates[row])
    from xlfactor.snapshot.writer import stage_snapshot, write_snapshot

    return stage_snapshot(snapshot, target) if kind == "stage" else write_snapshot(snapshot, target)


def _snapshot_folder(out: str | Path, every: str | None, date: str) -> Path:
    return Path(out) if every is None else Path(out) / f"date={date}"


def _source_info(folder: Path) -> dict:
    info = folder / "source.json"
    if not info.is_file():
        return {}
    meta = json.loads(info.read_text())
    return {"simulated": bool(meta.get("simulated", False)), "description": str(meta.get("description", ""))}
