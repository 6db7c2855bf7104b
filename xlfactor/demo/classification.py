"""Sectors, industries and style factors of the simulated demo market.

The sectors follow GICS names; industries are illustrative. Styles follow the factor
coverage of the OpenFactor model (``price`` = from prices, ``reference`` = from
fundamentals), in the order the simulation draws their returns.
"""

from __future__ import annotations

INDUSTRIES: dict[str, tuple[str, ...]] = {
    "Communication Services": ("Telecom Services", "Media", "Interactive Media", "Entertainment"),
    "Consumer Discretionary": ("Retail", "Automobiles", "Hotels & Leisure", "Household Durables"),
    "Consumer Staples": ("Food Products", "Beverages", "Household Products"),
    "Energy": ("Oil & Gas Producers", "Energy Equipment", "Refining & Marketing"),
    "Financials": ("Banks", "Insurance", "Capital Markets", "Consumer Finance"),
    "Health Care": ("Pharmaceuticals", "Biotechnology", "Medical Devices", "Health Care Providers"),
    "Industrials": ("Aerospace & Defense", "Machinery", "Transportation", "Building Products"),
    "Information Technology": ("Software", "Semiconductors", "Hardware", "IT Services"),
    "Materials": ("Chemicals", "Metals & Mining", "Containers & Packaging"),
    "Real Estate": ("REITs", "Real Estate Services", "Specialized REITs"),
    "Utilities": ("Electric Utilities", "Gas Utilities", "Multi-Utilities"),
}

PRICE_STYLES: tuple[str, ...] = (
    "beta",
    "momentum",
    "prospect",
    "long_term_reversal",
    "short_term_reversal",
    "seasonality",
    "residual_volatility",
    "downside_risk",
    "liquidity",
)
REFERENCE_STYLES: tuple[str, ...] = (
    "size",
    "mid_cap",
    "value",
    "earnings_yield",
    "forward_earnings_yield",
    "dividend_yield",
    "growth",
    "forward_growth",
    "sentiment",
    "profitability",
    "gross_profitability",
    "leverage",
    "investment",
    "investment_quality",
    "earnings_quality",
    "earnings_variability",
    "short_interest",
)
MARKET_VOLATILITY = 0.16
SECTOR_VOLATILITY = (0.14, 0.20)
INDUSTRY_VOLATILITY = (0.06, 0.10)
STYLE_VOLATILITY = (0.04, 0.06)
"""Ranges the simulation draws annual factor volatilities from (uniform). Sector and
style volatilities are higher than a real market's so that 1000 names identify every
factor's daily return well (the recovery tests need a known, measurable signal)."""

SECTOR_ETFS: dict[str, str] = {
    "Communication Services": "XLC",
    "Consumer Discretionary": "XLY",
    "Consumer Staples": "XLP",
    "Energy": "XLE",
    "Financials": "XLF",
    "Health Care": "XLV",
    "Industrials": "XLI",
    "Information Technology": "XLK",
    "Materials": "XLB",
    "Real Estate": "XLRE",
    "Utilities": "XLU",
}
