"""A small hand-built risk model and an OpenFactor-layout writer independent of xlfactor's.

The folder is written with plain pandas the way OpenFactor publishes it (no market rows,
sector/industry one-hot member rows, caps only as ``exp(raw_value)`` of ``size``), so
reading it proves compatibility rather than round-tripping our own writer.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
SECTOR = ["Tech", "Tech", "Tech", "Energy", "Energy", "Energy"]
INDUSTRY = ["Software", "Software", "Hardware", "Oil", "Oil", "Gas"]
STYLES = ["momentum", "size", "value"]
FACTORS = (
    ["market", "sector:Energy", "sector:Tech"]
    + ["industry:Gas", "industry:Hardware", "industry:Oil", "industry:Software"]
    + STYLES
)
DATES = [f"2026-01-{d:02d}" for d in range(5, 10)] + [f"2026-01-{d:02d}" for d in range(12, 17)]


@dataclass
class HandModel:
    """Every input of the small model, as plain arrays in TICKERS x FACTORS order."""

    exposures: np.ndarray  # (6, 10) market = 1, one-hot sector/industry, styles
    lagged_exposures: np.ndarray  # (6, 10) known at the previous date
    factor_covariance: np.ndarray  # (10, 10) annualized
    idiosyncratic_risk: np.ndarray  # (6,) annualized
    market_cap: np.ndarray  # (6,)
    factor_returns: np.ndarray  # (10 dates, 10 factors) daily
    residual_returns: np.ndarray  # (10 dates, 6) daily


def hand_model(seed: int = 11) -> HandModel:
    rng = np.random.default_rng(seed)
    n, k = len(TICKERS), len(FACTORS)
    caps = np.array([300e9, 120e9, 40e9, 90e9, 25e9, 8e9])

    def exposures(styles: np.ndarray) -> np.ndarray:
        x = np.zeros((n, k))
        x[:, 0] = 1.0
        for i in range(n):
            x[i, FACTORS.index(f"sector:{SECTOR[i]}")] = 1.0
            x[i, FACTORS.index(f"industry:{INDUSTRY[i]}")] = 1.0
        x[:, 7:] = styles
        return x

    styles = rng.normal(0, 1, (n, 3))
    styles[:, 1] = (np.log(caps) - np.log(caps).mean()) / np.log(caps).std()
    vols = np.array([0.16, 0.10, 0.09, 0.06, 0.07, 0.05, 0.06, 0.04, 0.03, 0.03])
    loadings = rng.normal(0, 0.5, (k, 2))
    corr = loadings @ loadings.T + np.eye(k)
    corr /= np.sqrt(np.outer(np.diag(corr), np.diag(corr)))
    return HandModel(
        exposures=exposures(styles),
        lagged_exposures=exposures(styles + rng.normal(0, 0.1, (n, 3))),
        factor_covariance=corr * np.outer(vols, vols),
        idiosyncratic_risk=np.array([0.20, 0.25, 0.35, 0.22, 0.30, 0.45]),
        market_cap=caps,
        factor_returns=rng.normal(0, 0.01, (len(DATES), k)),
        residual_returns=rng.normal(0, 0.015, (len(DATES), n)),
    )


def _long_rows(model_exposures: np.ndarray, caps: np.ndarray, as_of: str) -> pd.DataFrame:
    rows = []
    for i, ticker in enumerate(TICKERS):
        for j, factor in enumerate(FACTORS):
            if factor == "market":
                continue
            value = model_exposures[i, j]
            if factor.startswith(("sector:", "industry:")):
                if value == 0:
                    continue
                group, raw = factor.split(":")[0], 1.0
            else:
                group = "price" if factor == "momentum" else "reference"
                raw = np.log(caps[i]) if factor == "size" else value * 2.0
            rows.append((as_of, ticker, factor, group, value, raw, 252))
    return pd.DataFrame(rows, columns=["as_of_date", "ticker", "factor", "group", "value", "raw_value", "observations"])


def write_openfactor_folder(folder: Path, model: HandModel, covariance_decimals: int | None = None) -> Path:
    """Write ``model`` as OpenFactor publishes a snapshot (as of the last of DATES)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "details").mkdir(exist_ok=True)
    as_of = DATES[-1]
    (folder / "metadata.json").write_text(
        json.dumps({"as_of_date": as_of, "universe": "hand", "model_version": "0.2.0", "tickers": len(TICKERS)})
    )
    pd.DataFrame({"as_of_date": as_of, "ticker": TICKERS}).to_csv(folder / "universe.csv", index=False)
    _long_rows(model.exposures, model.market_cap, as_of).to_csv(folder / "details/exposures_long.csv", index=False)
    panel = pd.concat(
        [_long_rows(model.lagged_exposures, model.market_cap, DATES[-2]), _long_rows(model.exposures, model.market_cap, as_of)]
    )
    (folder / "details/exposures_panel.csv.gz").write_bytes(gzip.compress(panel.to_csv(index=False).encode()))
    covariance = model.factor_covariance
    if covariance_decimals is not None:
        covariance = np.round(covariance, covariance_decimals)
    frame = pd.DataFrame(covariance, index=pd.Index(FACTORS, name="factor"), columns=FACTORS)
    frame.to_csv(folder / "factor_covariance.csv")
    pd.DataFrame(
        {"ticker": TICKERS, "idiosyncratic_risk": model.idiosyncratic_risk, "observations": 252}
    ).to_csv(folder / "idiosyncratic_risk.csv", index=False)
    pd.DataFrame(model.factor_returns, index=pd.Index(DATES, name="date"), columns=FACTORS).to_csv(
        folder / "factor_returns.csv"
    )
    residual = pd.DataFrame(model.residual_returns, index=pd.Index(DATES, name="date"), columns=TICKERS)
    residual.stack().rename("residual_return").reset_index().rename(columns={"level_1": "ticker"}).to_csv(
        folder / "residual_returns.csv", index=False
    )
    spy = pd.DataFrame({"date": DATES, "ticker": "SPY", "return": model.factor_returns[:, 0]})
    spy.to_csv(folder / "index_returns.csv", index=False)
    return folder
