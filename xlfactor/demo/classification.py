"""Sectors, industries and style factors of the simulated demo market.

The sectors follow GICS names; industries are illustrative. Styles follow the factor
coverage of the OpenFactor model (``price`` = from prices, ``reference`` = from
fundamentals), with the annualized volatilities the simulation gives their returns.
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

PRICE_STYLES: dict[str, float] = {
    "beta": 0.060,
    "momentum": 0.070,
    "prospect": 0.020,
    "long_term_reversal": 0.025,
    "short_term_reversal": 0.030,
    "seasonality": 0.015,
    "residual_volatility": 0.055,
    "downside_risk": 0.020,
    "liquidity": 0.030,
}
REFERENCE_STYLES: dict[str, float] = {
    "size": 0.040,
    "mid_cap": 0.025,
    "value": 0.035,
    "earnings_yield": 0.030,
    "forward_earnings_yield": 0.020,
    "dividend_yield": 0.030,
    "growth": 0.025,
    "forward_growth": 0.015,
    "sentiment": 0.015,
    "industry_momentum": 0.030,
    "profitability": 0.020,
    "gross_profitability": 0.015,
    "leverage": 0.025,
    "investment": 0.020,
    "investment_quality": 0.015,
    "earnings_quality": 0.015,
    "earnings_variability": 0.020,
    "short_interest": 0.020,
}
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
