"""Scenario speed on the demo snapshot: stress, replay, the scenario table, historical VaR, OF_ calls.

Prints median wall times and ratios: ``stress`` against the bare numpy formula, the
historical-simulation VaR against a naive loop that prices every draw name by name, and
each worksheet function against its Python call.
Run: python benchmarks/bench_scenarios.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import xlfactor as xf  # noqa: E402
from xlfactor.functions import OF_HISTVAR, OF_SCENARIO, OF_STRESS  # noqa: E402


def main() -> None:
    data = xf.factor_model_data()
    rng = np.random.default_rng(0)
    picks = rng.choice(len(data.tickers), 200, replace=False)
    portfolio = pd.DataFrame({"ticker": data.tickers[picks], "value": rng.uniform(-1, 3, 200)})
    w = data.align_holdings(portfolio).weights
    X, F = data.exposures, data.factor_covariance
    shocks = {"market": -0.10, "momentum": -0.05}

    def bare():
        k = np.array([0, list(data.factor_names).index("momentum")])
        moves = F[:, k] @ np.linalg.solve(F[np.ix_(k, k)], np.array([-0.10, -0.05]))
        return (X.T @ w) @ moves

    stress = median_seconds(lambda: xf.stress(data, w, shocks), 300)
    numeric = median_seconds(bare, 300)
    print(f"stress            {stress * 1e6:8.1f} us  ({stress / numeric:.1f}x the bare numpy formula, {numeric * 1e6:.1f} us)")
    day = data.snapshot.factor_returns.index[-1]
    print(f"replay (one day)  {median_seconds(lambda: xf.replay(data, w, day), 300) * 1e6:8.1f} us")
    print(f"scenario_table    {median_seconds(lambda: xf.scenario_table(data, w), 20) * 1e3:8.2f} ms")
    hist = median_seconds(lambda: xf.historical_var(data, w, 0.99), 50)

    residuals = np.nan_to_num(data.snapshot.residual_returns.to_numpy())
    factor_days = np.nan_to_num(data.snapshot.factor_returns.to_numpy())

    def naive():
        picks = np.random.default_rng(12).integers(0, len(residuals), (len(factor_days), 50))
        held = np.nonzero(w)[0]
        losses = []
        for t in range(len(factor_days)):  # the loop the vectorized version avoids
            factor = sum(w[i] * (X[i] @ factor_days[t]) for i in held)
            for s in picks[t]:
                losses.append(-(factor + residuals[s, held] @ w[held]))
        return np.quantile(losses, 0.99)

    loop = median_seconds(naive, 1)
    print(f"historical_var    {hist * 1e3:8.2f} ms  (naive loop {loop:.2f} s, {loop / hist:,.0f}x slower)")
    holdings = [["ticker", "value"]] + portfolio.to_numpy().tolist()
    for name, call, python in (
        ("OF_STRESS", lambda: OF_STRESS(holdings, [["market", -0.10], ["momentum", -0.05]]), stress),
        ("OF_HISTVAR", lambda: OF_HISTVAR(holdings, 0.99), hist),
        ("OF_SCENARIO", lambda: OF_SCENARIO(holdings, day), median_seconds(lambda: xf.replay(data, w, day), 300)),
    ):
        cell = median_seconds(call, 50)
        print(f"{name:<17} {cell * 1e3:8.2f} ms  ({cell / python:.1f}x the Python call: parsing the 200-row range)")


if __name__ == "__main__":
    main()
