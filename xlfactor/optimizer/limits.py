"""The limits language: one table (``limit, name, min, max``) for the check, the what-if and the optimizer.

Each row is one limit. ``min`` and ``max`` are decimals in the unit of the kind (blank = no
bound on that side); a ``min`` above its ``max`` is refused. Kinds (:class:`LimitKind`):

========================  ==========================================  ===========================================
kind                      name                                        value (decimals of the book's gross)
========================  ==========================================  ===========================================
``weight``                a ticker (universe or index/ETF), or ``*``  the position's weight; ``*``: every universe name
``exposure``              a factor id or a group (``market``,         the book's exposure ``X'w`` (market = net weight)
                          ``style``, ``sector``, ``industry``)
``active_exposure``       as ``exposure``                             ``X'(w - b)`` against the benchmark
``tracking_error``        (blank)                                     annualized ex-ante TE ``sqrt((w-b)' V (w-b))``
``total_risk``            (blank)                                     annualized volatility ``sqrt(w' V w)``
``factor_risk``           (blank)                                     annualized ``sqrt(x' F x)``
``idiosyncratic_risk``    (blank)                                     annualized ``sqrt(w' D w)``
``beta``                  (blank)                                     ex-ante beta ``w' V b / b' V b``
``factor_share``          (blank)                                     ``x' F x / w' V w`` (the textbook's share)
``gross``                 (blank)                                     ``sum |w|``
``net``                   (blank)                                     ``sum w``
``turnover``              (blank)                                     one-way ``max(buys, sells)``
``names``                 (blank)                                     holdings with ``|w| > NAME_TOLERANCE``
========================  ==========================================  ===========================================

A group (``*``, ``style`` ...) is one row covering many elements: its value is the
element nearest to (or furthest past) its bounds, and that element is named beside it.

**Positions.** The positions are the universe names plus the *instruments*: index/ETF
tickers of the snapshot (``SPY``, the sector SPDRs...) named in a ``weight`` row, priced
with the exposures OF_HEDGE estimates for them (:func:`xlfactor.hedging.instruments.instrument_model`;
their residual is uncorrelated with the stocks'). Every other ticker outside the universe
is cash, as in the report. **Weights** are decimals of the book's gross *before* any trade
(the capital base), so a trade list that adds money shows as more gross, and ``gross``,
``net`` and ``turnover`` keep their meaning after the trades. Rows are counted from 1
after the header.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import FACTOR_GROUPS, Choice, normalize_ticker
from xlfactor.errors import XlfactorError
from xlfactor.risk.model_data import FactorModelData

NAME_TOLERANCE = 1e-9
"""A position counts as held (``names``) when ``|weight|`` exceeds this (solver noise is below it)."""

BREACH_TOLERANCE = 1e-8
"""A value breaches its limit when it is past a bound by more than this (absolute)."""


class LimitsError(XlfactorError, ValueError):
    """A limits table that cannot be used: names the row and lists the choices."""


class LimitKind(Choice):
    """The kinds of limit (see the module docstring)."""

    WEIGHT = "weight"
    EXPOSURE = "exposure"
    ACTIVE_EXPOSURE = "active_exposure"
    TRACKING_ERROR = "tracking_error"
    TOTAL_RISK = "total_risk"
    FACTOR_RISK = "factor_risk"
    IDIOSYNCRATIC_RISK = "idiosyncratic_risk"
    BETA = "beta"
    FACTOR_SHARE = "factor_share"
    GROSS = "gross"
    NET = "net"
    TURNOVER = "turnover"
    NAMES = "names"


LIMIT_KINDS = tuple(k.value for k in LimitKind)
NAMED_KINDS = frozenset({LimitKind.WEIGHT, LimitKind.EXPOSURE, LimitKind.ACTIVE_EXPOSURE})
RISK_KINDS = frozenset({LimitKind.TRACKING_ERROR, LimitKind.TOTAL_RISK, LimitKind.FACTOR_RISK, LimitKind.IDIOSYNCRATIC_RISK})


@dataclass(frozen=True, eq=False)
class Limit:
    """One parsed row of a limits table."""

    row: int  # 1-based, counted after the header
    kind: LimitKind
    name: str  # canonical ticker, factor id, group, "*" or "" (scalar kinds)
    lower: float  # -inf when blank
    upper: float  # +inf when blank
    elements: np.ndarray  # (n_elements,) int: position rows (weight) or factor columns (exposure); empty for scalars

    @property
    def label(self) -> str:
        """``row 3 (exposure momentum)``: how messages name the row."""
        return f"row {self.row} ({self.kind.value}{' ' + self.name if self.name else ''})"


@dataclass(frozen=True, eq=False)
class PositionModel:
    """The risk model over the positions: universe names (first ``n_assets`` rows) then instruments.

    ``V = X F X' + diag(d)`` over all ``n_positions``; an instrument's residual is
    uncorrelated with every stock's.
    """

    data: FactorModelData
    tickers: StrArray  # (n_positions,)
    exposures: FloatArray  # (n_positions, n_factors)
    idiosyncratic_variance: FloatArray  # (n_positions,) annual decimal^2
    n_assets: int
    ticker_index: pd.Index

    @property
    def instruments(self) -> list[str]:
        """The index/ETF tickers after the universe rows."""
        return self.tickers[self.n_assets :].tolist()

    def extend(self, universe_weights: FloatArray) -> FloatArray:
        """A universe vector (n_assets,) padded with zeros for the instruments (n_positions,)."""
        out = np.zeros(len(self.tickers))
        out[: self.n_assets] = universe_weights
        return out


def position_model(data: FactorModelData, instruments: list[str] | tuple[str, ...] = ()) -> PositionModel:
    """The positions' model: the universe plus the index/ETF ``instruments`` (canonical tickers).

    Raises
    ------
    UnknownTickersError
        An instrument is neither in the universe nor an index/ETF of the snapshot.
    """
    extra = [t for t in dict.fromkeys(normalize_ticker(t) for t in instruments) if t not in data.ticker_index]
    if not extra:
        return PositionModel(data, data.tickers, data.exposures, data.idiosyncratic_variance, len(data.tickers), data.ticker_index)
    from xlfactor.hedging.instruments import instrument_model

    Y, S, _, names = instrument_model(data, extra)
    tickers = np.concatenate([np.asarray(data.tickers, dtype=object), np.asarray(names, dtype=object)])
    return PositionModel(
        data,
        tickers,
        np.vstack([data.exposures, Y]),
        np.concatenate([data.idiosyncratic_variance, S]),
        len(data.tickers),
        pd.Index(tickers),
    )


def index_tickers(data: FactorModelData) -> list[str]:
    """Index/ETF tickers the snapshot can price as instruments (its ``index_returns`` columns)."""
    snapshot = getattr(data, "snapshot", None)
    returns = None if snapshot is None else snapshot.index_returns
    return [] if returns is None else [normalize_ticker(c) for c in returns.columns]


# ---------------------------------------------------------------- parsing


def read_limits_frame(limits: pd.DataFrame | list | None) -> pd.DataFrame:
    """A limits table as a frame with columns ``limit, name, min, max`` (from a frame or a list of rows with a header).

    Raises
    ------
    LimitsError
        Without a ``limit`` column, or with an unknown column.
    """
    if limits is None:
        return pd.DataFrame({"limit": [], "name": [], "min": [], "max": []})
    if not isinstance(limits, pd.DataFrame):
        rows = [list(r) for r in limits]
        if not rows:
            raise LimitsError("limits is empty: give a table with the header limit, name, min, max")
        limits = pd.DataFrame(rows[1:], columns=[str(c).strip() if c is not None else "" for c in rows[0]])
    columns = {str(c).strip().lower(): c for c in limits.columns}
    if "limit" not in columns:
        shown = ", ".join(map(str, limits.columns))
        raise LimitsError(f"limits needs the header limit, name, min, max (columns: {shown})")
    unknown = [str(c) for c in columns if c not in ("limit", "name", "min", "max", "")]
    if unknown:
        raise LimitsError(f"limits: unknown column(s) {', '.join(unknown)}; the columns are limit, name, min, max")
    frame = pd.DataFrame({key: limits[columns[key]] if key in columns else None for key in ("limit", "name", "min", "max")})
    return frame.reset_index(drop=True)


def _bound(value: object, row: int, side: str) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise LimitsError(f"limits row {row}: {side} must be a number, got {value!r}")
    try:
        number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise LimitsError(f"limits row {row}: {side} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise LimitsError(f"limits row {row}: {side} must be finite, got {value!r}")
    return number


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _choices(options: list[str], given: str, shown: int = 12) -> str:
    close = difflib.get_close_matches(given, options, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(options[:shown]) + (f", ... ({len(options)} in all)" if len(options) > shown else "")
    return f"{hint}choices: {listed}"


def parse_limits(model: PositionModel, limits: pd.DataFrame | list | None) -> list[Limit]:
    """Validate a limits table against the positions' model.

    Parameters
    ----------
    model : PositionModel
        From :func:`position_model` with the instruments the table names (see :func:`limit_instruments`).
    limits : DataFrame or list of rows
        Columns ``limit, name, min, max`` (header case ignored); a list of rows has the header first.

    Returns
    -------
    list of Limit
        Blank rows skipped; rows keep their number.

    Raises
    ------
    LimitsError
        One line naming the row: an unknown kind, factor, group or ticker (listing the
        choices), a ``min`` above its ``max``, no bound at all, or a name on a kind that takes none.
    """
    frame = read_limits_frame(limits)
    data = model.data
    factors = [str(f) for f in data.factor_names]
    lowered = {f.lower(): i for i, f in enumerate(factors)}
    groups = np.asarray(data.factor_groups).astype(str)
    parsed = []
    for i, (kind_text, name_text, low, high) in enumerate(frame.itertuples(index=False, name=None), start=1):
        kind_text, name = _text(kind_text), _text(name_text)
        lower, upper = _bound(low, i, "min"), _bound(high, i, "max")
        if not kind_text and not name and lower is None and upper is None:
            continue  # a blank row
        key = kind_text.lower()
        if key not in LIMIT_KINDS:
            raise LimitsError(f"limits row {i}: unknown limit {kind_text!r}; {_choices(list(LIMIT_KINDS), key, 20)}")
        kind = LimitKind(key)
        label = f"limits row {i} ({kind.value}{' ' + name if name else ''})"
        if lower is None and upper is None:
            raise LimitsError(f"{label}: give a min, a max or both")
        if lower is not None and upper is not None and lower > upper:
            raise LimitsError(f"{label}: min {lower:g} is above max {upper:g}")
        elements = np.zeros(0, dtype=int)
        if kind is LimitKind.WEIGHT:
            if not name:
                raise LimitsError(f"{label}: name a ticker, or * for every name")
            if name == "*":
                elements = np.arange(model.n_assets)
            else:
                name = normalize_ticker(name)
                row = int(model.ticker_index.get_indexer([name])[0])
                if row < 0:
                    etfs = index_tickers(data)
                    raise LimitsError(
                        f"{label}: {name} is neither in the universe ({model.n_assets} names) nor an index/ETF of the snapshot; "
                        f"use * for every name or {_choices(etfs, name) if etfs else 'a universe ticker'}"
                    )
                elements = np.array([row])
        elif kind in NAMED_KINDS:
            if not name:
                raise LimitsError(f"{label}: name a factor or a group ({', '.join(FACTOR_GROUPS)})")
            if name.lower() in FACTOR_GROUPS:
                name = name.lower()
                elements = np.nonzero(groups == name)[0]
                if not len(elements):
                    raise LimitsError(f"{label}: the model has no {name} factor")
            elif name.lower() in lowered:
                elements = np.array([lowered[name.lower()]])
                name = factors[elements[0]]
            else:
                raise LimitsError(f"{label}: unknown factor {name!r}; {_choices(list(dict.fromkeys(list(FACTOR_GROUPS) + factors)), name)}")
        elif name:
            raise LimitsError(f"{label}: {kind.value} takes no name (leave it blank)")
        if kind is LimitKind.NAMES and upper is not None and upper < 0:
            raise LimitsError(f"{label}: max must be a number of names, at least 0")
        parsed.append(Limit(i, kind, name, -math.inf if lower is None else lower, math.inf if upper is None else upper, elements))
    return parsed


def limit_instruments(data: FactorModelData, limits: pd.DataFrame | list | None) -> list[str]:
    """Index/ETF tickers named by ``weight`` rows (they become instruments); unknown names are left to :func:`parse_limits`."""
    if limits is None:
        return []
    if isinstance(limits, pd.DataFrame):
        frame = read_limits_frame(limits)
        pairs = zip(frame["limit"], frame["name"])
    else:  # rows with the header first (a worksheet range): no frame needed
        pairs = ((r[0], r[1]) for r in list(limits)[1:] if len(r) >= 2)
    names = [normalize_ticker(n) for k, n in pairs if _text(k).lower() == "weight" and _text(n)]
    if not names:
        return []
    etfs = set(index_tickers(data))
    return [n for n in dict.fromkeys(names) if n in etfs and n not in data.ticker_index]


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True, eq=False)
class BookMeasures:
    """The quantities every limit reads, computed once for one weight vector.

    All risk quantities annualized; weights decimals of the capital base.
    """

    weights: FloatArray  # (n_positions,)
    exposure: FloatArray  # (n_factors,) X'w
    active_exposure: FloatArray  # (n_factors,) X'(w - b)
    factor_variance: float  # x' F x
    idiosyncratic_variance: float  # w' D w
    active_variance: float  # (w-b)' V (w-b)
    beta: float
    turnover: float  # one-way: max(buys, sells), sum |w - w0| / 2 when the trades are self-financing


def beta_coefficients(model: PositionModel, benchmark: FloatArray) -> FloatArray:
    """(n_positions,) ``V b / b'Vb``: the beta of ``w`` is ``coefficients @ w`` (NaN when the benchmark has no risk)."""
    F, X, d = model.data.factor_covariance, model.exposures, model.idiosyncratic_variance
    b = model.extend(benchmark)
    covariance = X @ (F @ (X.T @ b)) + d * b
    variance = float(b @ covariance)
    return covariance / variance if variance > 0 else np.full(len(b), np.nan)


def measure(model: PositionModel, weights: FloatArray, start: FloatArray, benchmark: FloatArray,
            beta_coefficient: FloatArray | None = None, benchmark_exposure: FloatArray | None = None) -> BookMeasures:  # fmt: skip
    """The :class:`BookMeasures` of ``weights`` (n_positions,) traded from ``start``, against ``benchmark`` (n_assets,).

    ``beta_coefficient`` (:func:`beta_coefficients`) and ``benchmark_exposure`` (``X'b``) may be passed when known.
    """
    F, X, d = model.data.factor_covariance, model.exposures, model.idiosyncratic_variance
    b = model.extend(benchmark)
    x = X.T @ weights
    active = weights - b
    xa = x - (X.T @ b if benchmark_exposure is None else benchmark_exposure)
    coefficients = beta_coefficients(model, benchmark) if beta_coefficient is None else beta_coefficient
    return BookMeasures(
        weights=weights,
        exposure=x,
        active_exposure=xa,
        factor_variance=max(float(x @ F @ x), 0.0),
        idiosyncratic_variance=float((weights * weights) @ d),
        active_variance=max(float(xa @ F @ xa), 0.0) + float((active * active) @ d),
        beta=float(coefficients @ weights),
        turnover=one_way_turnover(weights - start),
    )


PERCENT_KINDS = frozenset({"weight", "tracking_error", "total_risk", "factor_risk", "idiosyncratic_risk", "factor_share",
                           "gross", "net", "turnover"})  # fmt: skip
"""Limit kinds measured as decimals of gross or annualized risk: shown as percents (exposures and beta as numbers, names as counts)."""


def value_style(kind: str) -> str:
    """How a limit kind's values read: ``percent``, ``count`` (``names``) or ``decimal`` (exposures, beta).

    ``kind`` may carry words after it (``net (held)``).

    >>> value_style("tracking_error"), value_style("active_exposure"), value_style("names"), value_style("net (held)")
    ('percent', 'decimal', 'count', 'percent')
    """
    head = str(kind).split(" ")[0] if str(kind).strip() else ""
    if head in PERCENT_KINDS:
        return "percent"
    return "count" if head == "names" else "decimal"


def one_way_turnover(trades: FloatArray) -> float:
    """One-way turnover of ``trades`` (n_positions,), decimals of gross: ``max(buys, sells)``.

    Equal to ``sum |trades| / 2`` when the trades are self-financing (buys = sells); a trade
    list that adds or removes money counts its larger side, so selling half the book outright
    is a turnover of 50%, not 25%.

    >>> one_way_turnover(np.array([0.1, -0.1])), one_way_turnover(np.array([-0.25, -0.25]))
    (0.1, 0.5)
    """
    buys = float(trades[trades > 0].sum())
    sells = float(-trades[trades < 0].sum())
    return max(buys, sells)


def limit_elements(limit: Limit, m: BookMeasures) -> FloatArray:
    """The values of every element of ``limit`` on the measured book (one value for a scalar kind)."""
    kind = limit.kind
    if kind is LimitKind.WEIGHT:
        every = len(limit.elements) > 1 and limit.elements[0] == 0 and limit.elements[-1] == len(limit.elements) - 1
        return m.weights[: len(limit.elements)] if every else m.weights[limit.elements]  # "*": a view, no copy
    if kind is LimitKind.EXPOSURE:
        return m.exposure[limit.elements]
    if kind is LimitKind.ACTIVE_EXPOSURE:
        return m.active_exposure[limit.elements]
    total = m.factor_variance + m.idiosyncratic_variance
    value = {
        LimitKind.TRACKING_ERROR: lambda: math.sqrt(m.active_variance),
        LimitKind.TOTAL_RISK: lambda: math.sqrt(total),
        LimitKind.FACTOR_RISK: lambda: math.sqrt(m.factor_variance),
        LimitKind.IDIOSYNCRATIC_RISK: lambda: math.sqrt(m.idiosyncratic_variance),
        LimitKind.BETA: lambda: m.beta,
        LimitKind.FACTOR_SHARE: lambda: m.factor_variance / total if total > 0 else math.nan,
        LimitKind.GROSS: lambda: float(np.abs(m.weights).sum()),
        LimitKind.NET: lambda: float(m.weights.sum()),
        LimitKind.TURNOVER: lambda: m.turnover,
        LimitKind.NAMES: lambda: float((np.abs(m.weights) > NAME_TOLERANCE).sum()),
    }[kind]()
    return np.array([value])


def excess(values: FloatArray, lower: float, upper: float) -> FloatArray:
    """How far each value is past its bounds (positive = breach, negative = margin left)."""
    return np.maximum(values - upper, lower - values)


def worst_element(limit: Limit, m: BookMeasures, labels: list[str] | StrArray) -> tuple[float, str, bool]:
    """(value, element name, breach) of the element of ``limit`` nearest to or furthest past its bounds."""
    values = limit_elements(limit, m)
    if len(values) == 1:
        value = float(values[0])
        if math.isnan(value):
            return math.nan, "", False
        return value, "", max(value - limit.upper, limit.lower - value) > BREACH_TOLERANCE
    past = excess(values, limit.lower, limit.upper)
    j = int(np.argmax(past))
    name = str(labels[limit.elements[j]]) if len(limit.elements) > 1 else ""
    return float(values[j]), name, bool(past[j] > BREACH_TOLERANCE)


def element_labels(model: PositionModel, limit: Limit) -> StrArray:
    """The names of a limit's elements: tickers (weight) or factor ids (exposures)."""
    return model.tickers if limit.kind is LimitKind.WEIGHT else model.data.factor_names
