"""Read and validate the builder's input folder into aligned (n_dates, n_tickers) panels.

Input files (CSV or CSV.gz; extra columns allowed):

* ``prices.csv``: ``date, ticker, close, volume``; optional ``adj_close`` (returns come
  from it when present) and ``market_cap`` or ``shares_outstanding``.
* ``classification.csv``: ``ticker, sector, industry``; optional ``date`` (point in time)
  and ``name`` (company name; the latest row's name is kept).
* ``fundamentals.csv`` (optional): ``ticker, available_date`` and any of
  :data:`FUNDAMENTAL_COLUMNS`; a value is usable from its ``available_date`` on.
* ``benchmark.csv`` (optional): ``date, ticker, close`` of index/ETF series.

Bad input is refused with :class:`InputError` naming the file and the problem.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor.conventions import normalize_tickers
from xlfactor.errors import XlfactorError

FUNDAMENTAL_COLUMNS = (
    "book_equity",
    "net_income",
    "revenue",
    "gross_profit",
    "total_assets",
    "total_liabilities",
    "operating_cash_flow",
    "capex",
    "dividends_per_share",
    "shares_outstanding",
    "eps_forward",
    "short_interest",
    "analyst_score",
)


class InputError(XlfactorError, ValueError):
    """The builder's input is unusable; names the file and the reason."""

    def __init__(self, file: str, reason: str) -> None:
        self.file, self.reason = file, reason
        super().__init__(f"{file}: {reason}")


@dataclass(frozen=True, eq=False)
class MarketData:
    """Inputs aligned on trading dates x tickers (rows are dates, ascending)."""

    dates: np.ndarray  # (n_dates,) ISO
    tickers: np.ndarray  # (n_tickers,)
    close: np.ndarray  # (n_dates, n_tickers) unadjusted close, NaN if absent
    adjusted: np.ndarray  # (n_dates, n_tickers) adjusted close (close if no adj_close)
    volume: np.ndarray  # (n_dates, n_tickers) shares
    market_cap: np.ndarray  # (n_dates, n_tickers) dollars, NaN if unknown
    returns: np.ndarray  # (n_dates, n_tickers) daily simple returns, row 0 NaN
    sector: np.ndarray  # (n_dates, n_tickers) int code into sector_names, -1 if none
    industry: np.ndarray  # (n_dates, n_tickers) int code into industry_names, -1 if none
    sector_names: np.ndarray
    industry_names: np.ndarray
    industry_sector: np.ndarray  # (n_industries,) sector code of each industry (most common)
    fundamentals: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> (n_dates, n_tickers) as-of values (AsOfPanels)
    reports: pd.DataFrame | None = None  # raw fundamentals rows (ticker, available_date, ...)
    benchmark: pd.DataFrame | None = None  # (n_dates, n_series) closes aligned to dates
    names: np.ndarray | None = None  # (n_tickers,) company names ('' if unknown), None if not given

    def until(self, end: str) -> "MarketData":
        """The same data truncated to dates <= ``end`` (what was known then)."""
        stop = int(np.searchsorted(self.dates, end, side="right"))
        reports = None
        if self.reports is not None:
            reports = self.reports[self.reports["available_date"] <= end]
        return MarketData(
            dates=self.dates[:stop],
            tickers=self.tickers,
            close=self.close[:stop],
            adjusted=self.adjusted[:stop],
            volume=self.volume[:stop],
            market_cap=self.market_cap[:stop],
            returns=self.returns[:stop],
            sector=self.sector[:stop],
            industry=self.industry[:stop],
            sector_names=self.sector_names,
            industry_names=self.industry_names,
            industry_sector=self.industry_sector,
            fundamentals=self.fundamentals.until(stop) if isinstance(self.fundamentals, AsOfPanels)
            else {k: v[:stop] for k, v in self.fundamentals.items()},
            reports=reports,
            benchmark=None if self.benchmark is None else self.benchmark.iloc[:stop],
            names=self.names,
        )


def read_inputs(folder: str | Path, start: str | None = None, end: str | None = None) -> MarketData:
    """Read and validate the input folder; keep dates in [start, end]."""
    folder = Path(folder)
    prices = _read(folder, "prices", ("date", "ticker", "close", "volume"))
    classification = _read(folder, "classification", ("ticker", "sector", "industry"))
    fundamentals = _read(folder, "fundamentals", ("ticker", "available_date"), required=False)
    benchmark = _read(folder, "benchmark", ("date", "ticker", "close"), required=False)
    return market_data(prices, classification, fundamentals, benchmark, start, end)


def market_data(
    prices: pd.DataFrame,
    classification: pd.DataFrame,
    fundamentals: pd.DataFrame | None = None,
    benchmark: pd.DataFrame | None = None,
    start: str | None = None,
    end: str | None = None,
) -> MarketData:
    """Validate input frames and align them into a :class:`MarketData`."""
    # Dates and tickers are validated and coded once per distinct value, not once per row:
    # a 3,000-name x 5-year file has 3.8M rows but 1,260 dates and 3,000 tickers.
    date_codes, row_dates = _coded_iso_dates(prices["date"], "prices.csv")
    ticker_codes, ticker_values = _factorized(prices["ticker"])
    blank = np.array([pd.isna(v) or not str(v).strip() for v in ticker_values], dtype=bool)  # one check per distinct value
    if blank[ticker_codes].any():
        rows = np.flatnonzero(blank[ticker_codes])
        raise InputError("prices.csv", f"{len(rows)} rows without a ticker, e.g. the row dated {row_dates[date_codes[rows[0]]]}")
    row_tickers = np.asarray(normalize_tickers(pd.Series(ticker_values, dtype=object)).tolist(), dtype=str)
    all_dates, date_of = np.unique(row_dates, return_inverse=True)
    all_tickers, ticker_of = np.unique(row_tickers, return_inverse=True)
    d, t = date_of[date_codes], ticker_of[ticker_codes]  # per row, into all_dates / all_tickers

    def example(rows: np.ndarray) -> str:
        first = int(np.flatnonzero(rows)[0])
        return f"{all_tickers[t[first]]} {all_dates[d[first]]}"

    duplicated = pd.Series(d * len(all_tickers) + t).duplicated().to_numpy()
    if duplicated.any():
        raise InputError("prices.csv", f"{int(duplicated.sum())} duplicate (date, ticker) rows, e.g. {example(duplicated)}")
    by_ticker = np.argsort(t, kind="stable")  # each ticker's rows in file order
    earlier = (t[by_ticker][1:] == t[by_ticker][:-1]) & (d[by_ticker][1:] < d[by_ticker][:-1])
    if earlier.any():
        rows = np.sort(by_ticker[1:][earlier])  # the rows dated before the ticker's previous row, in file order
        bad = pd.unique(all_tickers[t[rows]]).tolist()
        raise InputError("prices.csv", f"dates out of order for {len(bad)} tickers ({', '.join(bad[:5])})")
    numbers = {}
    for column in ("close", "adj_close", "volume", "market_cap", "shares_outstanding"):
        if column in prices:
            numbers[column] = pd.to_numeric(prices[column], errors="coerce").to_numpy(dtype=float)
    for column in ("close", "adj_close"):
        if column in numbers:
            bad = ~(numbers[column] > 0)
            if bad.any():
                raise InputError("prices.csv", f"{int(bad.sum())} non-positive or missing {column} values, e.g. {example(bad)}")
    kept_date = np.ones(len(all_dates), dtype=bool)
    if start:
        kept_date &= all_dates >= start
    if end:
        kept_date &= all_dates <= end
    in_range = kept_date[d]
    if not in_range.any():
        raise InputError("prices.csv", "no rows in the requested date range")
    listed = np.zeros(len(all_tickers), dtype=bool)
    listed[t[in_range]] = True  # a ticker with rows only outside the range is not in the universe
    dates, tickers = all_dates[kept_date], all_tickers[listed]
    d = (np.cumsum(kept_date) - 1)[d[in_range]]
    t = (np.cumsum(listed) - 1)[t[in_range]]

    def panel(values: np.ndarray) -> np.ndarray:
        out = np.full((len(dates), len(tickers)), np.nan)
        out[d, t] = values[in_range]
        return out

    close = panel(numbers["close"])
    adjusted = panel(numbers["adj_close"]) if "adj_close" in numbers else close.copy()
    volume = panel(numbers["volume"])
    returns = np.full_like(adjusted, np.nan)
    returns[1:] = adjusted[1:] / adjusted[:-1] - 1.0

    asof = fundamentals_asof(fundamentals, dates, tickers) if fundamentals is not None else ({}, None)
    if "market_cap" in numbers:
        market_cap = panel(numbers["market_cap"])
    elif "shares_outstanding" in numbers:
        market_cap = panel(numbers["shares_outstanding"]) * close
    elif "shares_outstanding" in asof[0]:
        market_cap = asof[0]["shares_outstanding"] * close
    else:
        raise InputError("prices.csv", "no market caps: give market_cap or shares_outstanding (prices or fundamentals)")

    if not len(classification):
        raise InputError("classification.csv", "no rows (only a header): every name needs a sector and an industry")
    sector, industry, sector_names, industry_names, industry_sector = _classification(classification, dates, tickers)
    bench = None
    if benchmark is not None:
        benchmark = benchmark.copy()
        benchmark["date"] = _iso_dates(benchmark["date"], "benchmark.csv")
        benchmark["ticker"] = normalize_tickers(benchmark["ticker"])
        if benchmark.duplicated(["date", "ticker"]).any():
            raise InputError("benchmark.csv", "duplicate (date, ticker) rows")
        closes = pd.to_numeric(benchmark["close"], errors="coerce")
        if not (closes > 0).all():
            raise InputError("benchmark.csv", "non-positive or missing close values")
        bench = benchmark.assign(close=closes).pivot(index="date", columns="ticker", values="close").reindex(dates)
    return MarketData(
        dates=dates,
        tickers=tickers,
        close=close,
        adjusted=adjusted,
        volume=volume,
        market_cap=market_cap,
        returns=returns,
        sector=sector,
        industry=industry,
        sector_names=sector_names,
        industry_names=industry_names,
        industry_sector=industry_sector,
        fundamentals=asof[0],
        reports=asof[1],
        benchmark=bench,
        names=_company_names(classification, tickers),
    )


def _company_names(frame: pd.DataFrame, tickers: np.ndarray) -> np.ndarray | None:
    """Company name of each ticker from an optional ``name`` column (latest dated row wins)."""
    columns = {str(c).strip().lower(): c for c in frame.columns}
    if "name" not in columns:
        return None
    rows = pd.DataFrame({"ticker": frame[columns["ticker"]].astype(str).str.strip().str.upper(),
                         "name": frame[columns["name"]].fillna("").astype(str).str.strip()})  # fmt: skip
    if "date" in columns:
        rows["date"] = frame[columns["date"]].astype(str).to_numpy()
        rows = rows.sort_values("date", kind="stable")
    latest = rows.drop_duplicates("ticker", keep="last").set_index("ticker")["name"]
    return latest.reindex(tickers).fillna("").to_numpy(dtype=str)


def _read(folder: Path, stem: str, columns: tuple[str, ...], required: bool = True) -> pd.DataFrame | None:
    for name in (f"{stem}.csv", f"{stem}.csv.gz"):
        path = folder / name
        if path.is_file():
            try:
                frame = pd.read_csv(path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
                raise InputError(name, f"cannot be parsed ({str(exc).splitlines()[0]})") from None
            frame.columns = [str(c).strip().lower() for c in frame.columns]
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise InputError(name, f"missing column(s) {', '.join(missing)}")
            return frame
    if required:
        raise InputError(f"{stem}.csv", f"required file missing in {folder}")
    return None


def _iso_dates(values: pd.Series, file: str) -> pd.Series:
    """ISO ``YYYY-MM-DD`` text of each value (see :func:`_coded_iso_dates`)."""
    codes, iso = _coded_iso_dates(values, file)
    return pd.Series(iso[codes], index=values.index, dtype=object)


def _coded_iso_dates(values: pd.Series, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes per row, ISO text of each distinct value): each distinct spelling is parsed once.

    One format for the whole column, inferred from its first value (as pandas reads a
    column), so a file that mixes spellings is refused rather than read two ways
    (``03.01.2024`` as March next to ``2024-01-03``), and so is a bare year. A numeric column
    (``20240102`` read as a number) is read as its digits, never as nanoseconds since 1970.
    """
    codes, distinct = _factorized(values)
    text = pd.Series(distinct, dtype=object)  # in order of first appearance: text[0] is the first row's
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = pd.to_numeric(text, errors="coerce")
        whole = (numbers.notna() & (numbers % 1 == 0)).to_numpy()
        text = pd.Series(np.where(whole, numbers.fillna(0).astype(np.int64).astype(str), None), dtype=object)
    try:
        with warnings.catch_warnings():  # a day-first format inferred from an unambiguous first value is meant
            warnings.filterwarnings("ignore", message="Parsing dates in", category=UserWarning)
            parsed = pd.to_datetime(text, errors="coerce")
    except (ValueError, TypeError) as exc:  # e.g. mixed time zones
        raise InputError(file, f"dates cannot be read ({str(exc).splitlines()[0]})") from None
    missing = parsed.isna().to_numpy()
    if missing.any():
        bad_rows = np.flatnonzero(missing[codes])
        raise InputError(file, f"{len(bad_rows)} unparseable dates, e.g. {distinct[codes[bad_rows[0]]]!r}")
    return codes, parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=str)


def _factorized(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes per row, distinct values): missing values are one distinct value of their own, never dropped."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def forward_fill(grid: np.ndarray) -> np.ndarray:
    """Each column's last non-NaN value carried down its rows (NaN before the first), without a loop over columns.

    >>> forward_fill(np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan]]))
    array([[nan,  1.],
           [ 2.,  1.],
           [ 2.,  1.]])
    """
    source = np.where(np.isnan(grid), 0, np.arange(len(grid))[:, None])
    np.maximum.accumulate(source, axis=0, out=source)  # the row each cell's value comes from
    return np.take_along_axis(grid, source, axis=0)


def _classification(frame: pd.DataFrame, dates: np.ndarray, tickers: np.ndarray):
    frame = frame.copy()
    frame["ticker"] = normalize_tickers(frame["ticker"])
    for column in ("sector", "industry"):
        frame[column] = frame[column].astype(str).str.strip()
        frame.loc[frame[column].isin(["", "nan", "None"]), column] = np.nan
    dated = "date" in frame.columns
    if dated:
        frame["date"] = _iso_dates(frame["date"].fillna("1900-01-01"), "classification.csv")
    else:
        frame["date"] = "1900-01-01"
    if frame.duplicated(["ticker", "date"]).any():
        raise InputError("classification.csv", "duplicate (ticker, date) rows")
    sector_names = np.array(sorted(frame["sector"].dropna().unique()))
    industry_names = np.array(sorted(frame["industry"].dropna().unique()))
    sector = np.full((len(dates), len(tickers)), -1, dtype=np.int64)
    industry = np.full_like(sector, -1)
    frame = frame.sort_values(["date", "ticker"])
    t = np.searchsorted(tickers, frame["ticker"].to_numpy())
    known = (t < len(tickers)) & (tickers[np.minimum(t, len(tickers) - 1)] == frame["ticker"].to_numpy())
    frame, t = frame[known], t[known]
    start = np.searchsorted(dates, frame["date"].to_numpy())
    s_codes = np.where(frame["sector"].notna(), np.searchsorted(sector_names, frame["sector"].fillna("")), -1)
    i_codes = np.where(frame["industry"].notna(), np.searchsorted(industry_names, frame["industry"].fillna("")), -1)
    # Point in time: each row applies from its date until the ticker's next row (rows sorted by date).
    marks = np.full(sector.shape, -2, dtype=np.int64)
    order = np.arange(len(frame))
    marks[np.minimum(start, len(dates) - 1), t] = np.where(start < len(dates), order, -2)
    filled = forward_fill(np.where(marks >= 0, marks, np.nan))
    has = ~np.isnan(filled)
    index = np.where(has, filled, 0).astype(np.int64)
    sector = np.where(has, s_codes[index] if len(frame) else -1, -1)
    industry = np.where(has, i_codes[index] if len(frame) else -1, -1)
    industry_sector = np.full(len(industry_names), -1, dtype=np.int64)
    pairs = pd.DataFrame({"i": industry.ravel(), "s": sector.ravel()})
    pairs = pairs[(pairs["i"] >= 0) & (pairs["s"] >= 0)]
    if len(pairs):
        parent = pairs.groupby("i")["s"].agg(lambda s: s.value_counts().index[0])
        industry_sector[parent.index.to_numpy()] = parent.to_numpy()
    return sector, industry, sector_names, industry_names, industry_sector


@dataclass(frozen=True, eq=False)
class AsOfPanels(Mapping):
    """Point-in-time fundamentals: ``panels[name]`` builds the (n_dates, n_tickers) panel when read.

    Dense panels of every fundamental would hold 13 x n_dates x n_tickers floats (390 MB
    at 3,000 names x 5 years, 1.6 GB at 20 years) for inputs that a few descriptors read;
    the report cells behind them are a few MB. The last two panels read are kept, since
    the descriptors that share one (total assets, net income) are computed in a row. A panel is the report values
    at their first usable row, carried forward down each column (:func:`forward_fill`),
    so building it again gives the same array bit for bit.

    >>> panels = AsOfPanels((3, 2), {"book_equity": (np.array([1]), np.array([0]), np.array([5.0]))})
    >>> panels["book_equity"]
    array([[nan, nan],
           [ 5., nan],
           [ 5., nan]])
    >>> panels.until(1)["book_equity"].shape, list(panels)
    ((1, 2), ['book_equity'])
    """

    shape: tuple[int, int]  # (n_dates, n_tickers)
    cells: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # name -> (rows, columns, values), report order

    recent: dict = field(default_factory=dict, repr=False, compare=False)  # the last two panels read, read-only

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.recent:
            return self.recent[name]
        rows, columns, values = self.cells[name]
        grid = np.full(self.shape, np.nan)
        grid[rows, columns] = values  # later rows (later available_date) win
        panel = forward_fill(grid)
        panel.flags.writeable = False  # shared by the descriptors that read it next
        if len(self.recent) >= 2:  # the descriptors that share an input come one after another
            self.recent.pop(next(iter(self.recent)))
        self.recent[name] = panel
        return panel

    def __iter__(self):
        return iter(self.cells)

    def __len__(self) -> int:
        return len(self.cells)

    def until(self, stop: int) -> "AsOfPanels":
        """The panels of the first ``stop`` dates (what was known then)."""
        kept = {name: tuple(a[rows < stop] for a in (rows, columns, values)) for name, (rows, columns, values) in self.cells.items()}
        return AsOfPanels((stop, self.shape[1]), kept)  # a name with no report yet stays, all NaN, as a sliced panel would


def fundamentals_asof(
    frame: pd.DataFrame, dates: np.ndarray, tickers: np.ndarray
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Point-in-time panels of fundamentals: each value usable from its ``available_date``.

    Parameters
    ----------
    frame : DataFrame
        Long rows ``ticker, available_date`` plus any of ``FUNDAMENTAL_COLUMNS``.
    dates : ndarray of str, shape (n_dates,)
        Ascending ISO trading dates.
    tickers : ndarray of str, shape (n_tickers,)
        Sorted canonical tickers.

    Returns
    -------
    panels : AsOfPanels
        A mapping of each fundamental to its (n_dates, n_tickers) panel as known at each
        close (from the first trading date on or after its ``available_date``, carried
        forward; NaN before the first report), built when read.
    reports : DataFrame
        The usable report rows, sorted by ``available_date``.
    """
    frame = frame.copy()
    frame["ticker"] = normalize_tickers(frame["ticker"])
    frame["available_date"] = _iso_dates(frame["available_date"], "fundamentals.csv")
    frame = frame[frame["ticker"].isin(set(tickers))].sort_values(["available_date", "ticker"], kind="stable")
    row = np.searchsorted(dates, frame["available_date"].to_numpy(), side="left")
    col = np.searchsorted(tickers, frame["ticker"].to_numpy())
    usable = row < len(dates)
    cells = {}
    for name in FUNDAMENTAL_COLUMNS:
        if name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        keep = usable & np.isfinite(values)
        if keep.any():
            cells[name] = (row[keep], col[keep], values[keep])
    panels = AsOfPanels((len(dates), len(tickers)), cells)
    reports = frame[["ticker", "available_date", *[c for c in FUNDAMENTAL_COLUMNS if c in frame.columns]]]
    return panels, reports.reset_index(drop=True)
