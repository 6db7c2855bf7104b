"""The in-memory snapshot: one risk model as of one date, arrays in universe order."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.snapshot.memo import Memo, memo

from xlfactor.conventions import FORECAST_HORIZON_DAYS

T = TypeVar("T")

SNAPSHOT_MEMO_SIZE = 64
"""Values derived from one snapshot kept at a time (models per exposure date, hedging tables...)."""


@dataclass(frozen=True, eq=False)
class ExposurePanel:
    """Exposures known at the close of each panel date (used with the next day's returns).

    ``values[d]`` holds the exposures known at the close of ``dates[d]``; the return of
    a later date ``t`` is attributed with the block of the panel date just before ``t``.
    """

    dates: StrArray  # (n_dates,) ISO dates, ascending
    values: FloatArray  # (n_dates, n_assets, n_factors), same factor order as the snapshot, market = 1

    def __post_init__(self) -> None:
        if self.values.ndim != 3 or self.values.shape[0] != len(self.dates):
            raise ValueError(f"panel values must have shape (n_dates, n_assets, n_factors), got {self.values.shape}")
        self.values.flags.writeable = False


@dataclass(frozen=True, eq=False)
class Snapshot:
    """A factor risk model as of one date.

    Load one with :func:`~xlfactor.load_snapshot`; every array is read-only. Every array is
    in universe order (``tickers``) and factor order (``factor_names``, which is the
    covariance order and includes ``market``). Risk is annualized; returns are daily
    decimals (see :mod:`xlfactor.conventions`).

    Parameters
    ----------
    metadata : dict
        ``metadata.json``: ``as_of_date``, ``universe``, ``model_version``, ``source``,
        ``simulated``, ``forecast_horizon_days``, ...
    tickers : ndarray of shape (n_assets,)
        Canonical universe tickers.
    factor_names : ndarray of shape (n_factors,)
        Factor ids (``market``, ``sector:Energy``, ``industry:Banks``, ``momentum``).
    factor_groups : ndarray of shape (n_factors,)
        ``market``, ``style``, ``sector`` or ``industry``.
    exposures : ndarray of shape (n_assets, n_factors)
        Standardized exposures; NaN where the file had no style value (read as neutral 0 by
        the risk calls).
    raw_exposures : ndarray of shape (n_assets, n_factors)
        Values before standardization (NaN if absent).
    market_cap : ndarray of shape (n_assets,)
        Market caps in dollars; NaN if unknown.
    factor_covariance : ndarray of shape (n_factors, n_factors)
        Annualized decimal squared (the 21-day forecast, see ``forecast_horizon_days``).
    idiosyncratic_risk : ndarray of shape (n_assets,)
        Annualized decimal volatility.
    idiosyncratic_observations : ndarray of shape (n_assets,)
        Residual days behind each idiosyncratic estimate.
    factor_returns : pandas.DataFrame
        (n_days, n_factors) daily decimal factor returns, index ISO dates.
    residual_returns : pandas.DataFrame
        (n_days, n_assets) daily decimal idiosyncratic returns, NaN where absent.
    exposure_panel : ExposurePanel, optional
        Lagged exposures by date (``details/exposures_panel.csv.gz``) for attribution and
        track history.
    indexes : pandas.DataFrame, optional
        Index and ETF list: ``ticker, name, benchmark, provider, default_benchmark``.
    index_returns : pandas.DataFrame, optional
        (n_days, n_indexes) daily decimal returns of the index and ETF series.
    index_prices : pandas.DataFrame, optional
        Long table ``date, ticker, close, ...``.
    diagnostics : dict
        What was repaired or read as neutral while loading, and the builder's notes.
    quality : dict, optional
        The builder's quality report (``quality.json``).
    names : ndarray of shape (n_assets,), optional
        Company names (``universe.csv`` column ``name``).
    factor_covariance_1d : ndarray of shape (n_factors, n_factors), optional
        The one-day forecast, annualized.
    idiosyncratic_risk_1d : ndarray of shape (n_assets,), optional
        The one-day idiosyncratic forecast, annualized volatility.
    scenarios : pandas.DataFrame, optional
        The scenario library (``scenarios.csv``): ``name, start, end, description``.

    Raises
    ------
    ValueError
        An array's shape disagrees with ``tickers`` and ``factor_names``.

    Examples
    --------
    >>> import xlfactor as xf
    >>> snap = xf.load_snapshot()
    >>> snap.exposures.shape == (len(snap.tickers), len(snap.factor_names))
    True
    >>> str(snap.factor_names[0]), snap.is_simulated
    ('market', True)
    """

    metadata: dict[str, Any]
    tickers: StrArray  # (n_assets,)
    factor_names: StrArray  # (n_factors,)
    factor_groups: StrArray  # (n_factors,) market / style / sector / industry
    exposures: FloatArray  # (n_assets, n_factors); NaN where the file had no style value
    raw_exposures: FloatArray  # (n_assets, n_factors); pre-standardization values (NaN if absent)
    market_cap: FloatArray  # (n_assets,) dollars; NaN if unknown
    factor_covariance: FloatArray  # (n_factors, n_factors) annualized decimal^2
    idiosyncratic_risk: FloatArray  # (n_assets,) annualized decimal volatility
    idiosyncratic_observations: FloatArray  # (n_assets,) residual days behind each estimate
    factor_returns: pd.DataFrame  # (n_days, n_factors) daily decimals, index = ISO date
    residual_returns: pd.DataFrame  # (n_days, n_assets) daily decimals, NaN where absent
    exposure_panel: ExposurePanel | None = None
    indexes: pd.DataFrame | None = None  # ticker, name, benchmark, provider, default_benchmark
    index_returns: pd.DataFrame | None = None  # (n_days, n_indexes) daily decimals
    index_prices: pd.DataFrame | None = None  # long: date, ticker, close, ...
    diagnostics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None  # the builder's quality report (quality.json), if any
    names: StrArray | None = None  # (n_assets,) company names (universe.csv ``name``), None if the file has none
    factor_covariance_1d: FloatArray | None = None  # (n_factors, n_factors) one-day forecast x 252, if stated
    idiosyncratic_risk_1d: FloatArray | None = None  # (n_assets,) one-day forecast x sqrt(252), if stated
    scenarios: pd.DataFrame | None = None  # scenario library (scenarios.csv): name, start, end, description
    _memo: Memo = field(default_factory=lambda: memo("snapshot-derived values", SNAPSHOT_MEMO_SIZE), init=False, repr=False)

    def __post_init__(self) -> None:
        n, k = len(self.tickers), len(self.factor_names)
        shapes = {
            "factor_groups": (k,),
            "exposures": (n, k),
            "raw_exposures": (n, k),
            "market_cap": (n,),
            "factor_covariance": (k, k),
            "idiosyncratic_risk": (n,),
            "idiosyncratic_observations": (n,),
        }
        if self.factor_covariance_1d is not None:
            shapes["factor_covariance_1d"] = (k, k)
        if self.idiosyncratic_risk_1d is not None:
            shapes["idiosyncratic_risk_1d"] = (n,)
        for name, shape in shapes.items():
            array = getattr(self, name)
            if array.shape != shape:
                raise ValueError(f"`{name}` must have shape {shape}, got {array.shape}")
            array.flags.writeable = False
        if self.names is not None and len(self.names) != n:
            raise ValueError(f"`names` must have shape ({n},), got ({len(self.names)},)")
        if self.exposure_panel is not None and self.exposure_panel.values.shape[1:] != (n, k):
            raise ValueError("exposure panel must be in the snapshot's universe and factor order")

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """Value derived from this snapshot, computed once by ``compute()`` and kept with it.

        The snapshot is immutable, so anything derived from it (aligned risk arrays, report
        tables) can be kept with it; this is the one place that memo is read and written.
        The memo is bounded (:data:`SNAPSHOT_MEMO_SIZE` values, least recently used dropped
        first: one model per exposure date for a year of attribution would not fit otherwise)
        and emptied by :func:`xlfactor.snapshot.memo.clear_memos`.

        Parameters
        ----------
        key : str
            Names the derived value (e.g. ``"factor_model_data"``).
        compute : callable
            Called with no argument the first time ``key`` is asked for.

        Returns
        -------
        object
            The value ``compute()`` returned the first time.

        Examples
        --------
        >>> import xlfactor as xf
        >>> snap = xf.load_snapshot()
        >>> snap.cached("answer", lambda: 42), snap.cached("answer", lambda: 0)
        (42, 42)
        """
        return self._memo.get_or_compute(key, compute)

    @property
    def as_of(self) -> str:
        """ISO date of the model (exposures known at its close).

        Examples
        --------
        >>> import xlfactor as xf
        >>> xf.load_snapshot().as_of
        '2026-10-30'
        """
        return str(self.metadata.get("as_of_date", ""))

    @property
    def forecast_horizon_days(self) -> int:
        """Horizon (trading days) of ``factor_covariance`` and ``idiosyncratic_risk``.

        Builder snapshots state it in ``metadata["forecast_horizon_days"]`` (21: the
        Newey-West forecast of 21-day risk, annualized, as USE4 does); a snapshot that does
        not state it is taken as 21-day too. The one-day forecast, when present, is
        ``factor_covariance_1d`` / ``idiosyncratic_risk_1d`` (also annualized).

        Examples
        --------
        >>> import xlfactor as xf
        >>> xf.load_snapshot().forecast_horizon_days
        21
        """
        return int(self.metadata.get("forecast_horizon_days", FORECAST_HORIZON_DAYS))

    @property
    def is_simulated(self) -> bool:
        """True for a simulated market (the embedded demo); every report says so.

        Examples
        --------
        >>> import xlfactor as xf
        >>> xf.load_snapshot().is_simulated
        True
        """
        return bool(self.metadata.get("simulated", False))

    @property
    def source(self) -> str:
        """Where the snapshot came from (``xlfactor-demo``, a folder, a URL).

        Examples
        --------
        >>> import xlfactor as xf
        >>> xf.load_snapshot().source
        'xlfactor-demo'
        """
        return str(self.metadata.get("source", ""))

    def describe(self) -> dict[str, Any]:
        """Headline facts: as-of date, universe, size, model version, source, simulated.

        Returns
        -------
        dict
            ``as_of_date, universe, model_version, source, simulated, tickers, factors,
            factor_return_days, panel_dates, scenarios`` and ``diagnostics`` (one line of text).

        Examples
        --------
        >>> import xlfactor as xf
        >>> facts = xf.load_snapshot().describe()
        >>> facts["universe"], facts["tickers"], facts["simulated"]
        ('xlfactor-demo', 1000, True)
        """
        return {
            "as_of_date": self.as_of,
            "universe": self.metadata.get("universe", ""),
            "model_version": self.metadata.get("model_version", ""),
            "source": self.source,
            "simulated": self.is_simulated,
            "tickers": len(self.tickers),
            "factors": len(self.factor_names),
            "factor_return_days": len(self.factor_returns),
            "panel_dates": 0 if self.exposure_panel is None else len(self.exposure_panel.dates),
            "scenarios": 0 if self.scenarios is None else len(self.scenarios),
            "diagnostics": diagnostics_text(self.diagnostics),
        }


_COUNT_WORDING = {
    "blank_style_exposures": "blank style exposure cells read as neutral (0)",
    "missing_style_exposures": "absent style exposure rows read as neutral (0)",
    "blank_panel_exposures": "blank exposure panel cells read as neutral (0)",
}


DIAGNOSTIC_MEANINGS = {
    "eigen_adjusted": "Yes: the covariance was eigen-adjusted, so optimized books are not under-risked.",
    "eigen_bias_max": "Largest simulated bias of an eigen-portfolio's risk before adjusting (1 = none).",
    "eigen_bias_min": "Smallest simulated bias of an eigen-portfolio's risk (below 1: over-forecast).",
    "idiosyncratic_regime_multiplier": "Scale on idiosyncratic volatility for the recent regime (1 = as usual).",
    "volatility_regime_multiplier": "Scale on factor volatility for the recent regime (1 = as usual).",
    "min_eigenvalue": "Smallest eigenvalue of the factor covariance: positive = a valid covariance.",
    "missing_factor_return_days": "Factor-days without a return in the history (factors not yet listed).",
    "no_history": "Stocks without an idiosyncratic return history (structural estimate used).",
    "structural_share": "Share of stocks whose idiosyncratic risk leans on the structural estimate.",
    "simulated": "Whether the market behind the snapshot is simulated.",
}
"""One-line meanings of the snapshot diagnostics (the report's Model page, ``xlfactor snapshot info``)."""


def diagnostics_text(diagnostics: dict[str, Any]) -> str:
    """One line of a snapshot's diagnostics; per-factor counts as ``N ...: factor n, ...``.

    >>> diagnostics_text({"blank_style_exposures": {"momentum": 2, "value": 1}})
    '3 blank style exposure cells read as neutral (0): momentum 2, value 1'
    >>> diagnostics_text({})
    'none'
    """
    parts = []
    for key, value in diagnostics.items():
        parts.append(diagnostic_value(key, value) if isinstance(value, dict) else f"{key}: {value}")
    return "; ".join(parts) or "none"


def diagnostic_value(key: str, value: Any) -> Any:
    """One diagnostics entry for display: per-factor counts as one text, anything else unchanged.

    >>> diagnostic_value("blank_panel_exposures", {"size": 1}), diagnostic_value("no_history", 0)
    ('1 blank exposure panel cells read as neutral (0): size 1', 0)
    """
    if not isinstance(value, dict):
        return value
    counts = ", ".join(f"{name} {count}" for name, count in value.items())
    total = sum(v for v in value.values() if isinstance(v, (int, float)))
    return f"{total:g} {_COUNT_WORDING.get(key, key.replace('_', ' '))}: {counts}"
