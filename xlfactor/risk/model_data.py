"""``FactorModelData``: the snapshot's arrays aligned for risk calls, with the risk helpers.

Built once per snapshot (``factor_model_data(snapshot)`` memoizes it). Every method
takes weights as an ndarray in universe order (``data.tickers``); use
``data.align_holdings(portfolio)`` to turn a holdings frame into one. Risk figures are
annualized decimal volatilities, variances annualized decimal squared.

>>> import pandas as pd
>>> import xlfactor as xf
>>> data = xf.factor_model_data()                      # the embedded simulated demo
>>> book = pd.DataFrame({"ticker": data.tickers[:3], "value": [100.0, 50.0, -50.0]})
>>> w = data.align_holdings(book).weights              # (n_assets,), decimals of gross
>>> w[:3].tolist()
[0.5, 0.25, -0.25]
>>> rows = data.risk_contributions(w)                  # factor rows + idiosyncratic row
>>> bool(abs(rows["risk_contribution"].sum() - data.risk(w)) < 1e-12)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import TRADING_DAYS_PER_YEAR, FactorGroup, normalize_ticker, normalize_tickers
from xlfactor.errors import PortfolioError, UnknownTickersError, XlfactorError
from xlfactor.risk import decomposition as dec
from xlfactor.risk.holdings import PortfolioWeights, align, holdings_from_frame
from xlfactor.snapshot.snapshot import Snapshot


@dataclass(frozen=True, eq=False)
class FactorModelData:
    """Risk-model arrays in one universe order, with the risk methods on weight vectors.

    Build it with :func:`factor_model_data` (memoized per snapshot), not by hand. Every
    method takes weights as an ndarray in universe order (``tickers``) or a Series indexed
    by ticker; :meth:`weights` turns a holdings table into one. Risk figures are annualized
    decimal volatilities (0.15 = 15%), variances annualized decimal squared. Arrays are
    read-only.

    Parameters
    ----------
    tickers : ndarray of shape (n_assets,)
        Canonical universe tickers (upper case, stripped), the row order of every array.
    factor_names : ndarray of shape (n_factors,)
        Factor ids (``market``, ``sector:Energy``, ``industry:Banks``, ``momentum``), the column
        order of ``exposures`` and of ``factor_covariance``.
    factor_groups : ndarray of shape (n_factors,)
        Each factor's group: ``market``, ``style``, ``sector`` or ``industry``.
    exposures : ndarray of shape (n_assets, n_factors)
        Standardized exposures X (market 1, sector and industry 0/1, styles in cross-sectional
        standard deviations); absent style scores are neutral (0).
    factor_covariance : ndarray of shape (n_factors, n_factors)
        Factor covariance F, annualized decimal squared.
    idiosyncratic_variance : ndarray of shape (n_assets,)
        Idiosyncratic variance d, annualized decimal squared.
    benchmark_weights : ndarray of shape (n_assets,)
        The default benchmark: the cap-weighted universe, summing to 1.
    snapshot : Snapshot
        The snapshot the arrays come from (dates, histories, metadata).
    ticker_index : pandas.Index, optional
        Index of ``tickers``, set after construction (leave it out).

    Raises
    ------
    ValueError
        An array's shape disagrees with ``tickers`` and ``factor_names``.

    See Also
    --------
    factor_model_data : Build it from a snapshot.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()        # the embedded simulated demo
    >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
    >>> data.exposures.shape == (len(data.tickers), len(data.factor_names))
    True
    >>> round(data.beta(w), 12)              # the benchmark's beta to itself
    1.0
    """

    tickers: StrArray  # (n_assets,)
    factor_names: StrArray  # (n_factors,)
    factor_groups: StrArray  # (n_factors,) market / style / sector / industry
    exposures: FloatArray  # (n_assets, n_factors), absent style scores neutral (0)
    factor_covariance: FloatArray  # (n_factors, n_factors) annual decimal^2
    idiosyncratic_variance: FloatArray  # (n_assets,) annual decimal^2
    benchmark_weights: FloatArray  # (n_assets,) cap-weighted universe
    snapshot: Snapshot = field(repr=False)
    ticker_index: pd.Index = field(repr=False, default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n, k = len(self.tickers), len(self.factor_names)
        for name, shape in [
            ("exposures", (n, k)),
            ("factor_covariance", (k, k)),
            ("idiosyncratic_variance", (n,)),
            ("benchmark_weights", (n,)),
        ]:
            array = getattr(self, name)
            if array.shape != shape:
                raise ValueError(f"`{name}` must have shape {shape}, got {array.shape}")
            array.flags.writeable = False
        object.__setattr__(self, "ticker_index", pd.Index(self.tickers))

    # ------------------------------------------------------------------ inputs
    def align_holdings(self, portfolio: pd.DataFrame, name: str = "portfolio") -> PortfolioWeights:
        """Align a holdings table to the universe: weights in universe order, and what was left out.

        Parameters
        ----------
        portfolio : pandas.DataFrame
            Columns ``ticker`` and either ``value`` (signed dollars, normalized by gross exposure)
            or ``allocation`` (weights used as given, decimals). Tickers are upper-cased and
            stripped; duplicates add; blank rows are skipped.
        name : str, default "portfolio"
            What the holdings are called in error messages.

        Returns
        -------
        PortfolioWeights
            ``.weights`` (n_assets,) decimals of gross in universe order (holdings outside the
            universe are cash: weight 0), ``.holdings`` the cleaned table and ``.missing`` the
            holdings outside the universe with their weight.

        Raises
        ------
        PortfolioError
            A column is missing, a value is blank or not a number, or no holding is in the
            universe (never a risk of 0).

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> book = pd.DataFrame({"ticker": ["SIM0001", "sim0002", "NOPE"], "value": [300.0, -100.0, 100.0]})
        >>> aligned = data.align_holdings(book)
        >>> float(aligned.weights[data.ticker_position("SIM0001")])   # 300 of 500 gross
        0.6
        >>> aligned.missing["ticker"].tolist()
        ['NOPE']
        """
        universe = str(self.snapshot.metadata.get("universe", ""))
        return align(holdings_from_frame(portfolio, name), self.ticker_index, name, universe)

    def weight_vector(self, weights: FloatArray | pd.Series) -> FloatArray:
        """Weights as a vector in universe order.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        ndarray of shape (n_assets,)
            The weights in universe order, decimals of gross exposure.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> v = data.weight_vector(pd.Series({"SIM0002": 0.5, "SIM0001": 0.25, "sim0001": 0.25}))
        >>> v[:2].tolist(), float(v.sum())
        ([0.5, 0.5], 1.0)
        """
        if isinstance(weights, pd.Series):
            positions = self.ticker_index.get_indexer(normalize_tickers(weights.index))
            if (positions < 0).any():
                raise UnknownTickersError(list(weights.index[positions < 0].astype(str)))
            vector = np.zeros(len(self.tickers))
            np.add.at(vector, positions, weights.to_numpy(dtype=float))
            return vector
        vector = np.asarray(weights, dtype=float)
        if vector.shape != (len(self.tickers),):
            raise PortfolioError(f"weights must have shape ({len(self.tickers)},), got {vector.shape}")
        return vector

    def _benchmark(self, benchmark: FloatArray | pd.Series | None) -> FloatArray:
        return self.benchmark_weights if benchmark is None else self.weight_vector(benchmark)

    # ------------------------------------------------------------------ exposures
    def factor_exposure(self, weights: FloatArray | pd.Series) -> FloatArray:
        """Portfolio exposure to each factor, ``x = X' w``.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        ndarray of shape (n_factors,)
            Exposures in factor order (``factor_names``): market is the net weight in the
            universe, sectors and industries the net weight in each, styles in standard deviations.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> x = data.factor_exposure(w)
        >>> float(round(x[data.factor_index("market")], 12))   # a fully invested long book
        1.0
        """
        return dec.factor_exposures(self.weight_vector(weights), self.exposures)

    def active_factor_exposure(
        self, weights: FloatArray | pd.Series, benchmark: FloatArray | pd.Series | None = None
    ) -> FloatArray:
        """Exposure of portfolio minus benchmark to each factor, ``X' (w - b)``.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        ndarray of shape (n_factors,)
            Active exposures in factor order (``factor_names``).

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> float(abs(data.active_factor_exposure(w)).max())   # the benchmark against itself
        0.0
        """
        return dec.factor_exposures(self.weight_vector(weights) - self._benchmark(benchmark), self.exposures)

    # ------------------------------------------------------------------ risk
    def risk(self, weights: FloatArray | pd.Series) -> float:
        """Annualized total risk ``sqrt(x' F x + sum w^2 d)``, a decimal volatility.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        float
            Annualized volatility as a decimal (0.15 = 15%), never negative.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> total, factor, idio = data.risk(w), data.factor_risk(w), data.idiosyncratic_risk(w)
        >>> bool(abs(total**2 - factor**2 - idio**2) < 1e-12)
        True
        """
        return dec.total_risk(self.weight_vector(weights), self.exposures, self.factor_covariance, self.idiosyncratic_variance)

    def factor_risk(self, weights: FloatArray | pd.Series, group: FactorGroup | str | None = None) -> float:
        """Annualized common-factor risk ``sqrt(x' F x)``, of every factor or of one group's.

        A group's risk is its stand-alone risk ``sqrt(x_g' F_gg x_g)`` (market, style, sector
        or industry factors only); the groups' risks do not add up to the total.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        group : {"market", "style", "sector", "industry"}, optional
            One factor group; default every factor.

        Returns
        -------
        float
            Annualized volatility as a decimal, never negative.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).
        XlfactorError
            ``group`` is not one of the four groups (the message lists them).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> bool(data.factor_risk(w, "style") < data.factor_risk(w))
        True
        """
        x = self.factor_exposure(weights)
        if group is None:
            return math.sqrt(dec.factor_variance(x, self.factor_covariance))
        mask = self.factor_groups == FactorGroup.parse(group, "group").value
        return math.sqrt(dec.group_factor_variance(x, self.factor_covariance, mask))

    def idiosyncratic_risk(self, weights: FloatArray | pd.Series) -> float:
        """Annualized idiosyncratic risk ``sqrt(sum w^2 d)``, a decimal volatility.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        float
            Annualized volatility as a decimal, never negative.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> import numpy as np
        >>> bool(np.isclose(data.idiosyncratic_risk(w), np.sqrt(np.sum(w**2 * data.idiosyncratic_variance))))
        True
        """
        return math.sqrt(dec.idiosyncratic_variance(self.weight_vector(weights), self.idiosyncratic_variance))

    def tracking_error(
        self, weights: FloatArray | pd.Series, benchmark: FloatArray | pd.Series | None = None
    ) -> float:
        """Annualized ex-ante tracking error: the risk of ``w - b``.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        float
            Annualized volatility of the active weights as a decimal (0.035 = 3.5%).

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> data.tracking_error(w)                   # the benchmark tracks itself
        0.0
        >>> import pandas as pd
        >>> one = data.weight_vector(pd.Series({"SIM0001": 1.0}))   # all in one name
        >>> bool(abs(data.tracking_error(one) - data.risk(one - w)) < 1e-12)
        True
        """
        active = self.weight_vector(weights) - self._benchmark(benchmark)
        return dec.total_risk(active, self.exposures, self.factor_covariance, self.idiosyncratic_variance)

    def beta(self, weights: FloatArray | pd.Series, benchmark: FloatArray | pd.Series | None = None) -> float:
        """Ex-ante beta to the benchmark, ``w' V b / b' V b`` with ``V = X F X' + diag(d)``.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        float
            Beta (the benchmark's own is 1; a short book's is negative).

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> round(data.beta(-0.5 * w), 12)
        -0.5
        """
        return dec.beta(
            self.weight_vector(weights),
            self._benchmark(benchmark),
            self.exposures,
            self.factor_covariance,
            self.idiosyncratic_variance,
        )

    def var(
        self,
        weights: FloatArray | pd.Series,
        confidence: float = 0.95,
        horizon_days: float = 1,
        active: bool = False,
        benchmark: FloatArray | pd.Series | None = None,
    ) -> float:
        """Parametric normal VaR, a positive loss fraction of gross: ``z sigma / sqrt(252) sqrt(h)``.

        ``sigma`` is :meth:`horizon_risk` (the forecast of that horizon); with ``active=True`` it
        is the tracking error (the loss against the benchmark).

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        confidence : float, default 0.95
            Confidence level, strictly between 0 and 1.
        horizon_days : float, default 1
            Horizon in trading days, positive.
        active : bool, default False
            VaR of ``w - b`` instead of ``w``.
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        float
            The loss not exceeded with probability ``confidence``, a positive decimal of gross
            exposure (0.02 = 2%).

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).
        PortfolioError
            ``confidence`` is not strictly between 0 and 1, or ``horizon_days`` is not positive.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> from statistics import NormalDist
        >>> sigma = data.horizon_risk(w, 1)
        >>> bool(abs(data.var(w, 0.99) - NormalDist().inv_cdf(0.99) * sigma / 252**0.5) < 1e-12)
        True
        """
        check_confidence(confidence)
        check_horizon(horizon_days)
        return dec.parametric_var(self.horizon_risk(weights, horizon_days, active, benchmark), confidence, horizon_days)

    def horizon_risk(
        self,
        weights: FloatArray | pd.Series,
        horizon_days: float = 1,
        active: bool = False,
        benchmark: FloatArray | pd.Series | None = None,
    ) -> float:
        """Annualized risk (or TE with ``active=True``) forecast for a ``horizon_days`` horizon.

        One day: the snapshot's one-day forecast (no serial-correlation terms). From the
        snapshot's ``forecast_horizon_days`` (21) on: its main, Newey-West forecast (what
        :meth:`risk` returns). In between, the variance per day is interpolated linearly in
        the horizon. A snapshot without a one-day forecast uses its main forecast at every
        horizon. Risk over the horizon itself is ``horizon_risk sqrt(h / 252)``.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        horizon_days : float, default 1
            Horizon in trading days, positive.
        active : bool, default False
            Risk of ``w - b`` (tracking error) instead of ``w``.
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        float
            Annualized volatility as a decimal, never negative.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).
        PortfolioError
            ``horizon_days`` is not a positive number.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> bool(abs(data.horizon_risk(w, 21) - data.risk(w)) < 1e-12)   # the main forecast from 21 days
        True
        """
        check_horizon(horizon_days)
        w = self.weight_vector(weights) - (self._benchmark(benchmark) if active else 0.0)
        main = dec.total_risk(w, self.exposures, self.factor_covariance, self.idiosyncratic_variance)
        daily = self._one_day_model()
        if daily is None:
            return main
        one_day = dec.total_risk(w, self.exposures, *daily)
        horizon = max(self.snapshot.forecast_horizon_days, 2)
        share = min(max((horizon_days - 1) / (horizon - 1), 0.0), 1.0)
        return math.sqrt(max(one_day**2 + share * (main**2 - one_day**2), 0.0))

    def one_day_model(self) -> tuple[FloatArray, FloatArray]:
        """The one-day forecast: (factor covariance, idiosyncratic variance), annualized.

        The snapshot's main forecast when it states no one-day forecast.

        Returns
        -------
        tuple of ndarray
            ``(F, d)``: shapes (n_factors, n_factors) and (n_assets,), annualized decimal squared.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> F, d = data.one_day_model()
        >>> F.shape == data.factor_covariance.shape and d.shape == data.idiosyncratic_variance.shape
        True
        """
        daily = self._one_day_model()
        return daily if daily is not None else (self.factor_covariance, self.idiosyncratic_variance)

    def _one_day_model(self) -> tuple[FloatArray, FloatArray] | None:
        """(factor covariance, idiosyncratic variance) of the one-day forecast, annualized, if stated."""
        snapshot = self.snapshot
        if snapshot.factor_covariance_1d is None or snapshot.idiosyncratic_risk_1d is None:
            return None
        if snapshot.factor_covariance_1d.shape != self.factor_covariance.shape or len(snapshot.tickers) != len(self.tickers):
            return None
        return np.asarray(snapshot.factor_covariance_1d), np.asarray(snapshot.idiosyncratic_risk_1d) ** 2

    # ------------------------------------------------------------------ factors
    def factor_index(self, factor: str) -> int:
        """Column of a factor in ``factor_names`` (exact id, else case-insensitive).

        Parameters
        ----------
        factor : str
            A factor id as ``OF_FACTORS()`` lists it, e.g. ``momentum`` or ``sector:Energy``.

        Returns
        -------
        int
            Position in ``factor_names`` (and in the rows and columns of ``factor_covariance``).

        Raises
        ------
        XlfactorError
            The factor is not in the model (the message names it).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> data.factor_index("market"), data.factor_index("MARKET")
        (0, 0)
        """
        names = self.factor_names.tolist()
        if factor in names:
            return names.index(factor)
        lowered = {n.lower(): i for i, n in enumerate(names)}
        key = str(factor).strip().lower()
        if key in lowered:
            return lowered[key]
        raise XlfactorError(f"unknown factor {factor!r} (OF_FACTORS() lists them)")

    def factor_volatilities(self) -> FloatArray:
        """Annualized volatility of each factor, ``sqrt(diag F)``.

        Returns
        -------
        ndarray of shape (n_factors,)
            Decimals, in factor order (``factor_names``).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> vols = data.factor_volatilities()
        >>> bool(vols[0] == data.factor_volatility("market"))
        True
        """
        return np.sqrt(np.diag(self.factor_covariance))

    def factor_volatility(self, factor: str) -> float:
        """Annualized volatility of one factor, a decimal.

        Parameters
        ----------
        factor : str
            A factor id, e.g. ``market`` or ``momentum``.

        Returns
        -------
        float
            ``sqrt(F_kk)``, annualized decimal.

        Raises
        ------
        XlfactorError
            The factor is not in the model.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> bool(0 < data.factor_volatility("momentum") < 1)
        True
        """
        i = self.factor_index(factor)
        return math.sqrt(self.factor_covariance[i, i])

    def factor_correlation(self, factor1: str, factor2: str) -> float:
        """Correlation of two factors' returns in the model covariance.

        Parameters
        ----------
        factor1, factor2 : str
            Factor ids, e.g. ``market`` and ``momentum``.

        Returns
        -------
        float
            ``F_ij / sqrt(F_ii F_jj)``, between -1 and 1.

        Raises
        ------
        XlfactorError
            A factor is not in the model.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> round(data.factor_correlation("momentum", "momentum"), 12)
        1.0
        """
        i, j = self.factor_index(factor1), self.factor_index(factor2)
        F = self.factor_covariance
        return float(F[i, j] / math.sqrt(F[i, i] * F[j, j]))

    def ticker_position(self, ticker: str) -> int:
        """Row of a ticker in the universe (after normalization: upper case, stripped).

        Parameters
        ----------
        ticker : str
            A universe ticker.

        Returns
        -------
        int
            Position in ``tickers`` (and in every per-name array).

        Raises
        ------
        UnknownTickersError
            The ticker is not in the universe.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> data.ticker_position(" sim0001 ")
        0
        """
        name = normalize_ticker(ticker)
        row = int(self.ticker_index.get_indexer([name])[0])
        if row < 0:
            raise UnknownTickersError([name])
        return row

    # ------------------------------------------------------------------ contributions
    def marginal_contributions(self, weights: FloatArray | pd.Series) -> FloatArray:
        """Marginal contribution to risk of every name, ``(V w)_i / sigma`` = d risk / d w_i.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        ndarray of shape (n_assets,)
            Annualized decimal risk per unit of weight, in universe order; ``w @ mctr`` is the
            risk (Euler). All zeros when the risk is 0.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> bool(abs(w @ data.marginal_contributions(w) - data.risk(w)) < 1e-12)
        True
        """
        return dec.asset_marginal_contributions(
            self.weight_vector(weights), self.exposures, self.factor_covariance, self.idiosyncratic_variance
        )

    def marginal_contribution(self, weights: FloatArray | pd.Series, ticker: str) -> float:
        """Marginal contribution to risk of one name (held or not), d risk / d w_i.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        ticker : str
            A universe ticker.

        Returns
        -------
        float
            Annualized decimal risk per unit of weight.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> bool(data.marginal_contribution(w, "SIM0001") == data.marginal_contributions(w)[0])
        True
        """
        return float(self.marginal_contributions(weights)[self.ticker_position(ticker)])

    def risk_contributions(self, weights: FloatArray | pd.Series) -> pd.DataFrame:
        """:meth:`factor_contributions` plus a last ``idiosyncratic`` row: the rows add up.

        ``variance_contribution`` sums to the variance, ``risk_contribution`` to the risk and
        ``share`` to 1 over all rows. The idiosyncratic row has ``group`` ``idiosyncratic``,
        variance ``sum w^2 d`` and NaN exposure, volatility, correlation and marginal
        contribution. Use active weights (``w - b``) for the tracking error's rows.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        pandas.DataFrame
            One row per factor then ``idiosyncratic``; the columns of :meth:`factor_contributions`.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> rows = data.risk_contributions(w)
        >>> round(float(rows["share"].sum()), 12)
        1.0
        """
        w = self.weight_vector(weights)
        frame = self.factor_contributions(w)
        variance = dec.idiosyncratic_variance(w, self.idiosyncratic_variance)
        risk = self.risk(w)
        scale = 1.0 / risk if risk > 0 else 0.0
        idiosyncratic = {column: np.nan for column in frame.columns}
        idiosyncratic.update(
            factor="idiosyncratic",
            group="idiosyncratic",
            variance_contribution=variance,
            risk_contribution=variance * scale,
            share=variance * scale * scale,
        )
        return pd.concat([frame, pd.DataFrame([idiosyncratic])], ignore_index=True)

    def risk_decomposition(self, weights: FloatArray | pd.Series) -> pd.DataFrame:
        """Risk by block: rows ``common_factor, market, style, sector, industry, idiosyncratic, total``.

        Columns: ``risk`` (each block's stand-alone annualized volatility),
        ``variance_contribution`` (Euler: the four groups and idiosyncratic add up to the total
        variance) and ``share`` of the total variance. Use active weights for the tracking
        error's.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        pandas.DataFrame
            Indexed by ``component``; columns ``risk, variance_contribution, share``.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> table = data.risk_decomposition(w)
        >>> parts = table.loc[["market", "style", "sector", "industry", "idiosyncratic"], "share"].sum()
        >>> round(float(parts), 12)
        1.0
        """
        w = self.weight_vector(weights)
        x = dec.factor_exposures(w, self.exposures)
        F = self.factor_covariance
        contribution = dec.factor_variance_contributions(x, F)
        common = float(contribution.sum())
        idiosyncratic = dec.idiosyncratic_variance(w, self.idiosyncratic_variance)
        total = max(common, 0.0) + idiosyncratic
        rows = {"common_factor": (math.sqrt(max(common, 0.0)), common)}
        for group in FactorGroup:
            mask = self.factor_groups == group.value
            rows[group.value] = (math.sqrt(dec.group_factor_variance(x, F, mask)), float(contribution[mask].sum()))
        rows["idiosyncratic"] = (math.sqrt(idiosyncratic), idiosyncratic)
        rows["total"] = (math.sqrt(total), total)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["risk", "variance_contribution"])
        frame["share"] = frame["variance_contribution"] / total if total > 0 else math.nan
        frame.index.name = "component"
        return frame

    def factor_contributions(self, weights: FloatArray | pd.Series) -> pd.DataFrame:
        """Per-factor risk decomposition of ``weights`` (use active weights for TE).

        Columns: ``factor, group, exposure, volatility`` (annualized), ``correlation`` (of the
        factor with the portfolio), ``marginal_contribution, variance_contribution,
        risk_contribution, share``. ``risk_contribution`` sums with the idiosyncratic row of
        :meth:`risk_contributions` to the risk, ``share`` (of variance) to 1 minus the
        idiosyncratic share.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        pandas.DataFrame
            One row per factor, in factor order.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> rows = data.factor_contributions(w)
        >>> bool(abs(rows["variance_contribution"].sum() - data.factor_risk(w) ** 2) < 1e-12)
        True
        """
        w = self.weight_vector(weights)
        x = dec.factor_exposures(w, self.exposures)
        risk = dec.total_risk(w, self.exposures, self.factor_covariance, self.idiosyncratic_variance)
        variance_contribution = dec.factor_variance_contributions(x, self.factor_covariance)
        scale = 1.0 / risk if risk > 0 else 0.0
        return pd.DataFrame(
            {
                "factor": self.factor_names,
                "group": self.factor_groups,
                "exposure": x,
                "volatility": self.factor_volatilities(),
                "correlation": dec.factor_correlations(x, self.factor_covariance, risk),
                "marginal_contribution": (self.factor_covariance @ x) * scale,
                "variance_contribution": variance_contribution,
                "risk_contribution": variance_contribution * scale,
                "share": variance_contribution * scale * scale,
            }
        )

    def asset_contributions(self, weights: FloatArray | pd.Series) -> pd.DataFrame:
        """Per-name risk decomposition: ``ticker, weight, marginal_contribution, risk_contribution, share``.

        Only names with a non-zero weight. Risk contributions (weight x marginal contribution)
        sum to the total risk, shares to 1.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).

        Returns
        -------
        pandas.DataFrame
            One row per held name, in universe order.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> rows = data.asset_contributions(w)
        >>> bool(abs(rows["risk_contribution"].sum() - data.risk(w)) < 1e-12)
        True
        """
        w = self.weight_vector(weights)
        marginal = self.marginal_contributions(w)
        held = np.nonzero(w)[0]
        contribution = w[held] * marginal[held]
        total = contribution.sum()
        return pd.DataFrame(
            {
                "ticker": self.tickers[held],
                "weight": w[held],
                "marginal_contribution": marginal[held],
                "risk_contribution": contribution,
                "share": contribution / total if total > 0 else 0.0,
            }
        )

    def idiosyncratic_contributions(
        self, weights: FloatArray | pd.Series, benchmark: FloatArray | pd.Series | None = None
    ) -> pd.DataFrame:
        """Idiosyncratic risk by held name, largest first.

        Columns: ``ticker, weight, idiosyncratic_risk`` (the name's own, annualized),
        ``variance_contribution`` (``w^2 d``; they sum to the portfolio's idiosyncratic
        variance), ``share`` (of it, sums to 1) and ``active_variance_contribution``
        (``(w - b)^2 d``).

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        pandas.DataFrame
            One row per held name, by decreasing ``variance_contribution``.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> rows = data.idiosyncratic_contributions(w)
        >>> bool(abs(rows["variance_contribution"].sum() - data.idiosyncratic_risk(w) ** 2) < 1e-12)
        True
        """
        w = self.weight_vector(weights)
        b = self._benchmark(benchmark)
        held = np.nonzero(w)[0]
        d = self.idiosyncratic_variance[held]
        variance = w[held] ** 2 * d
        total = variance.sum()
        table = pd.DataFrame(
            {
                "ticker": self.tickers[held],
                "weight": w[held],
                "idiosyncratic_risk": np.sqrt(d),
                "variance_contribution": variance,
                "share": variance / total if total > 0 else 0.0,
                "active_variance_contribution": (w[held] - b[held]) ** 2 * d,
            }
        )
        return table.sort_values("variance_contribution", ascending=False, kind="stable").reset_index(drop=True)

    def portfolio_frame(
        self, weights: FloatArray | pd.Series, benchmark: FloatArray | pd.Series | None = None
    ) -> pd.DataFrame:
        """One row per held name: weights, sector, industry, idiosyncratic risk, MCTR and risk contribution.

        Columns ``ticker, weight, benchmark_weight, active_weight, sector, industry,
        idiosyncratic_risk`` (annualized), ``marginal_contribution, risk_contribution``; the
        risk contributions (weight x marginal contribution) sum to the total risk.

        Parameters
        ----------
        weights : ndarray of shape (n_assets,) or Series indexed by ticker
            Decimals of gross exposure in universe order (``tickers``), shorts negative.
            A Series may list a ticker twice (the weights add) and may omit names (weight 0).
        benchmark : ndarray of shape (n_assets,) or Series indexed by ticker, optional
            Benchmark weights, decimals; default ``benchmark_weights`` (the cap-weighted universe).

        Returns
        -------
        pandas.DataFrame
            One row per held name, in universe order.

        Raises
        ------
        UnknownTickersError
            A Series names a ticker outside the universe.
        PortfolioError
            An array does not have shape (n_assets,).

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()        # the embedded simulated demo
        >>> w = data.benchmark_weights           # the cap-weighted universe, (n_assets,)
        >>> frame = data.portfolio_frame(w)
        >>> float(frame["active_weight"].abs().max())
        0.0
        """
        w = self.weight_vector(weights)
        b = self._benchmark(benchmark)
        held = np.nonzero(w)[0]
        marginal = self.marginal_contributions(w)
        return pd.DataFrame(
            {
                "ticker": self.tickers[held],
                "weight": w[held],
                "benchmark_weight": b[held],
                "active_weight": w[held] - b[held],
                "sector": self.member_names("sector")[held],
                "industry": self.member_names("industry")[held],
                "idiosyncratic_risk": np.sqrt(self.idiosyncratic_variance[held]),
                "marginal_contribution": marginal[held],
                "risk_contribution": w[held] * marginal[held],
            }
        )

    def member_names(self, group: str) -> StrArray:
        """Each name's sector or industry name; empty text for a name in none.

        Parameters
        ----------
        group : {"sector", "industry"}
            The membership group.

        Returns
        -------
        ndarray of shape (n_assets,)
            Group names (the factor id without its ``sector:`` / ``industry:`` prefix), object dtype.

        Examples
        --------
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> f"sector:{data.member_names('sector')[0]}" in data.factor_names
        True
        """
        mask = self.factor_groups == group
        block = self.exposures[:, mask]
        if block.shape[1] == 0:
            return np.full(len(self.tickers), "", dtype=object)
        labels = np.array([n.split(":", 1)[1] for n in self.factor_names[mask]], dtype=object)
        return np.where(block.max(axis=1) > 0, labels[np.argmax(block, axis=1)], "")


def factor_model_data(snapshot: Snapshot | None = None) -> FactorModelData:
    """Align a snapshot's arrays for risk calls (memoized on the snapshot).

    Benchmark weights are the cap-weighted universe (names with a finite positive cap).
    Absent style scores count as neutral (0); the snapshot's diagnostics count them.

    Parameters
    ----------
    snapshot : Snapshot, optional
        A loaded snapshot (:func:`load_snapshot`); default the embedded simulated demo.

    Returns
    -------
    FactorModelData
        The aligned arrays and the risk methods; the same object on every call for one snapshot.

    Raises
    ------
    PortfolioError
        The snapshot has no usable market cap for the benchmark.

    Examples
    --------
    >>> import xlfactor as xf
    >>> snap = xf.load_snapshot()
    >>> data = xf.factor_model_data(snap)
    >>> data is xf.factor_model_data(snap), len(data.tickers) == len(snap.tickers)
    (True, True)
    """
    if snapshot is None:
        from xlfactor.snapshot import load_snapshot

        snapshot = load_snapshot()
    return snapshot.cached("factor_model_data", lambda: _model_data(snapshot))


def _model_data(snapshot: Snapshot) -> FactorModelData:
    caps = np.where(np.isfinite(snapshot.market_cap) & (snapshot.market_cap > 0), snapshot.market_cap, 0.0)
    if caps.sum() <= 0:
        raise PortfolioError("the snapshot has no usable market caps for the benchmark")
    return FactorModelData(
        tickers=snapshot.tickers,
        factor_names=snapshot.factor_names,
        factor_groups=snapshot.factor_groups,
        exposures=np.nan_to_num(snapshot.exposures, nan=0.0),
        factor_covariance=np.asarray(snapshot.factor_covariance),
        idiosyncratic_variance=np.asarray(snapshot.idiosyncratic_risk) ** 2,
        benchmark_weights=caps / caps.sum(),
        snapshot=snapshot,
    )


def factor_model_data_at(snapshot: Snapshot, exposure_date: str) -> FactorModelData:
    """Model data with the exposures known at the close of ``exposure_date`` (exposure panel).

    The covariance, idiosyncratic risk and caps are the snapshot's own (a snapshot holds
    one estimate of each); the exposures are the panel's block for that date, absent
    names neutral (0, market exposure 0). ``exposure_date`` equal to the snapshot's date
    gives :func:`factor_model_data`.
    """
    current = factor_model_data(snapshot)
    if exposure_date == snapshot.as_of:
        return current
    return snapshot.cached(f"factor_model_data@{exposure_date}", lambda: _model_data_at(current, exposure_date))


def _model_data_at(current: FactorModelData, exposure_date: str) -> FactorModelData:
    snapshot = current.snapshot
    panel = snapshot.exposure_panel
    if panel is None or exposure_date not in set(panel.dates.tolist()):
        raise PortfolioError(f"no exposures known at {exposure_date} in the snapshot's exposure panel")
    block = np.asarray(panel.values[int(np.searchsorted(panel.dates, exposure_date))])
    return FactorModelData(
        tickers=current.tickers,
        factor_names=current.factor_names,
        factor_groups=current.factor_groups,
        exposures=np.nan_to_num(block, nan=0.0),
        factor_covariance=current.factor_covariance,
        idiosyncratic_variance=current.idiosyncratic_variance,
        benchmark_weights=current.benchmark_weights,
        snapshot=snapshot,
    )


def check_confidence(confidence: object) -> float:
    """Raise unless ``confidence`` is a number strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise PortfolioError(f"`confidence` must be a number strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def check_horizon(horizon_days: object) -> float:
    """Raise unless ``horizon_days`` is a positive number of trading days, at most a year (252).

    The square-root-of-time scaling of a one-day forecast is no forecast beyond a year.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float)) or not horizon_days > 0:
        raise PortfolioError(f"`horizon_days` must be a positive number of days, got {horizon_days!r}")
    if not horizon_days <= TRADING_DAYS_PER_YEAR:
        raise PortfolioError(f"`horizon_days` must be at most {TRADING_DAYS_PER_YEAR} trading days (one year), got {horizon_days:g}")
    return float(horizon_days)
