"""File names and columns of the OpenFactor-compatible snapshot layout.

A snapshot is a folder. xlfactor reads and writes these names and never renames them;
it may add files of its own (``manifest.json``).
"""

from __future__ import annotations

METADATA = "metadata.json"
UNIVERSE = "universe.csv"
"""``as_of_date, ticker``; xlfactor adds ``market_cap`` and, when known, the company ``name``."""
EXPOSURES_WIDE = "exposures.csv"
EXPOSURES_LONG = "details/exposures_long.csv"
EXPOSURES_PANEL = "details/exposures_panel.csv.gz"
FACTOR_COVARIANCE = "factor_covariance.csv"
IDIOSYNCRATIC_RISK = "idiosyncratic_risk.csv"
FACTOR_RETURNS = "factor_returns.csv"
RESIDUAL_RETURNS = "residual_returns.csv"
INDEXES = "indexes.csv"
INDEX_PRICES = "index_prices.csv"
INDEX_RETURNS = "index_returns.csv"
FACTOR_COVARIANCE_DAILY = "factor_covariance_daily.csv"
"""xlfactor's own addition: the one-day-horizon factor covariance (annualized), optional."""
QUALITY = "quality.json"
"""xlfactor's own addition: the model builder's quality report."""
SCENARIOS = "scenarios.csv"
"""Optional scenario library: name, start, end, description (return dates, inclusive)."""
MANIFEST = "manifest.json"
"""xlfactor's own addition: sha256 and size of every other file, written last."""

REQUIRED_FILES = (
    METADATA,
    UNIVERSE,
    EXPOSURES_LONG,
    FACTOR_COVARIANCE,
    IDIOSYNCRATIC_RISK,
    FACTOR_RETURNS,
    RESIDUAL_RETURNS,
)
OPTIONAL_FILES = (EXPOSURES_WIDE, EXPOSURES_PANEL, INDEXES, INDEX_PRICES, INDEX_RETURNS, QUALITY, SCENARIOS, FACTOR_COVARIANCE_DAILY)
ALL_FILES = REQUIRED_FILES + OPTIONAL_FILES

REQUIRED_COLUMNS = {
    UNIVERSE: ("ticker",),
    EXPOSURES_LONG: ("ticker", "factor", "value"),
    EXPOSURES_PANEL: ("as_of_date", "ticker", "factor", "value"),
    IDIOSYNCRATIC_RISK: ("ticker", "idiosyncratic_risk"),
    RESIDUAL_RETURNS: ("date", "ticker", "residual_return"),
    INDEX_RETURNS: ("date", "ticker", "return"),
    INDEXES: ("ticker",),
    SCENARIOS: ("name", "start"),
}
