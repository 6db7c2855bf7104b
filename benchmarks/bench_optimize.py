"""The optimizer in factor structure against the dense N x N formulation; the warm OF_CHECKLIMITS.

Problems: a long-only 100-name book rebalanced to minimum tracking error with weight limits
(0..5%), turnover <= 60%, active style exposures +-0.25, active sector and industry exposures
+-0.05. Universes: the 1,000-name demo snapshot, and a 3,000-name **synthetic** model built
directly from random exposures (one market factor, 11 sectors, 40 industries one-hot, 26
standard-normal styles; the demo's factor covariance; idiosyncratic risk 15-60%; log-normal
caps) -- ``xlfactor demo-data --names 3000`` needs a full builder run, so the benchmark makes a
FactorModelData-like problem of the same shape directly.

Prints the best warm solve time of a few runs (the whole ``xf.optimize`` call: parsing, cvxpy compilation,
Clarabel) next to the dense formulation (``dense=True``: ``w' V w`` with the N x N ``V``), with
the ratio, and the warm OF_CHECKLIMITS on a 1,000-row book against the bare ``tracking_error``
call. Goals: < 1 s at 3,000 names; >= 10x faster than dense at 1,000; OF_CHECKLIMITS < 10x.
Run: python benchmarks/bench_optimize.py [--no-dense-3000]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds

import xlfactor as xf
from xlfactor.functions import OF_CHECKLIMITS, OF_TRACKINGERROR
from xlfactor.optimizer import optimize

LIMITS = pd.DataFrame(
    [
        ["weight", "*", 0.0, 0.05],
        ["turnover", "", None, 0.60],
        ["active_exposure", "style", -0.25, 0.25],
        ["active_exposure", "sector", -0.05, 0.05],
        ["active_exposure", "industry", -0.05, 0.05],
    ],
    columns=["limit", "name", "min", "max"],
)


def synthetic_model(n_assets: int, seed: int = 3) -> xf.FactorModelData:
    """A FactorModelData of ``n_assets`` names from random exposures and the demo's factor covariance."""
    demo = xf.factor_model_data()
    rng = np.random.default_rng(seed)
    groups = np.asarray(demo.factor_groups).astype(str)
    sectors, industries = np.nonzero(groups == "sector")[0], np.nonzero(groups == "industry")[0]
    styles = np.nonzero(groups == "style")[0]
    X = np.zeros((n_assets, len(groups)))
    X[:, groups == "market"] = 1.0
    industry = rng.integers(0, len(industries), n_assets)
    X[np.arange(n_assets), industries[industry]] = 1.0
    X[np.arange(n_assets), sectors[industry % len(sectors)]] = 1.0
    X[:, styles] = rng.standard_normal((n_assets, len(styles)))
    caps = np.exp(rng.normal(9, 1.2, n_assets))
    return xf.FactorModelData(
        tickers=np.array([f"S{i:05d}" for i in range(n_assets)]),
        factor_names=demo.factor_names,
        factor_groups=demo.factor_groups,
        exposures=X,
        factor_covariance=np.asarray(demo.factor_covariance),
        idiosyncratic_variance=rng.uniform(0.15, 0.60, n_assets) ** 2,
        benchmark_weights=caps / caps.sum(),
        snapshot=None,
    )


def book(data: xf.FactorModelData, names: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(data.tickers), names, replace=False)
    return pd.DataFrame({"ticker": data.tickers[picks], "value": rng.uniform(1e5, 1e6, names)})


def best_seconds(call, repeat: int) -> float:
    """Shortest wall time of ``call()`` over ``repeat`` runs (robust to other processes on a shared machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(label: str, data: xf.FactorModelData, dense: bool = True, repeat: int = 5, dense_repeat: int = 2) -> None:
    portfolio = book(data)
    factor = optimize(data, portfolio, LIMITS)
    fast = best_seconds(lambda: optimize(data, portfolio, LIMITS), repeat)
    print(f"{label}: {len(data.tickers)} names, {len(data.factor_names)} factors, status {factor.status}, "
          f"TE {factor.tracking_error_before:.2%} -> {factor.tracking_error_after:.2%}, {len(factor.trades)} trades")  # fmt: skip
    print(f"  factor structure  {fast:7.3f} s best of {repeat} (goal < 1 s at 3,000 names)")
    if not dense:
        return
    slow_result = optimize(data, portfolio, LIMITS, dense=True)
    slow = best_seconds(lambda: optimize(data, portfolio, LIMITS, dense=True), dense_repeat)
    gap = abs(slow_result.objective_value - factor.objective_value)
    print(f"  dense N x N       {slow:7.3f} s best of {dense_repeat} -> factor structure {slow / fast:.1f}x faster; "
          f"|TE difference| {gap:.1e}")  # fmt: skip


def check_speed(data: xf.FactorModelData) -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(-1, 3, len(data.tickers)) * 1e6
    holdings = [["ticker", "value"]] + [[t, float(v)] for t, v in zip(data.tickers, values)]
    limits = [["limit", "name", "min", "max"], ["weight", "*", -0.01, 0.01], ["tracking_error", None, None, 0.05],
              ["active_exposure", "style", -0.25, 0.25], ["beta", None, 0.9, 1.1], ["gross", None, None, 1.0],
              ["net", None, -0.1, 0.1], ["names", None, None, 800], ["factor_share", None, None, 0.8]]  # fmt: skip
    assert isinstance(OF_CHECKLIMITS(holdings, limits), list)
    warm = median_seconds(lambda: OF_CHECKLIMITS(holdings, limits), 30)
    cell = median_seconds(lambda: OF_TRACKINGERROR(holdings), 30)
    w = data.align_holdings(pd.DataFrame({"ticker": data.tickers, "value": values})).weights
    bare = median_seconds(lambda: data.tracking_error(w), 200)
    print(f"OF_CHECKLIMITS on a {len(data.tickers)}-row book, {len(limits) - 1} limits: warm {warm * 1e3:.3f} ms")
    print(f"  bare data.tracking_error(w) {bare * 1e3:.3f} ms -> {warm / bare:.1f}x (goal < 10x); "
          f"warm OF_TRACKINGERROR {cell * 1e3:.3f} ms -> {warm / cell:.1f}x")  # fmt: skip


def main() -> None:
    demo = xf.factor_model_data()
    optimize(demo, book(demo), LIMITS)  # imports cvxpy, warms its caches
    compare("demo", demo)
    compare("synthetic", synthetic_model(3000), dense="--no-dense-3000" not in sys.argv, repeat=3, dense_repeat=1)
    check_speed(demo)


if __name__ == "__main__":
    main()
