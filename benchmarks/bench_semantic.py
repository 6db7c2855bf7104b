"""Semantic discovery speed: the placebo test as one array operation vs one fit per placebo.

Prints median wall times and ratios for a 30-name theme against 200 and 1000 same-sector
placebos on the demo residual window (63 days), against two baselines: ``theme_statistics``
called once per set, and a naive loop that fits each member of each set in each fold
(numpy over days only, the way one would write 200 refits). Then the whole
``discover_semantic_factors`` call with an in-process client (no network).
Run: python benchmarks/bench_semantic.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import xlfactor as xf  # noqa: E402
from xlfactor.conventions import SQRT_TRADING_DAYS  # noqa: E402
from xlfactor.semantic import method  # noqa: E402


class TruthClient:
    """In-process client proposing one theme of 30 fixed names (labels from a set)."""

    def __init__(self, members: set[str]) -> None:
        self.members = members

    def complete_json(self, instructions: str, payload: dict) -> dict:
        if payload["task"] == "propose":
            return {"themes": [{"name": "Benchmark theme", "description": "fixed names"}]}
        return {"members": {t["ticker"]: int(t["ticker"] in self.members) for t in payload["tickers"]}}


def naive_statistic(z: np.ndarray, members: np.ndarray, test_days: int = 21) -> float:
    """Out-of-sample reduction of one set: a loop over members (numpy over days)."""
    e = z[:, members]
    present = np.isfinite(e)
    e0 = np.where(present, e, 0.0)
    total, count = e0.sum(axis=1), present.sum(axis=1)
    train = np.arange(len(e)) < len(e) - test_days
    sse = sst = 0.0
    for j in range(e.shape[1]):
        others = count - present[:, j]
        valid = present[:, j] & (others >= 3)
        f = np.where(valid, (total - e0[:, j]) / np.maximum(others, 1), 0.0)
        fit = valid & train
        b = (f[fit] @ e0[fit, j]) / (f[fit] @ f[fit]) if fit.any() else 0.0
        test = valid & ~train
        sse += float(((e0[test, j] - b * f[test]) ** 2).sum())
        sst += float((e0[test, j] ** 2).sum())
    return 1.0 - sse / sst


def main() -> None:
    snap = xf.load_snapshot()
    z = snap.residual_returns.iloc[-63:].to_numpy() / (snap.idiosyncratic_risk / SQRT_TRADING_DAYS)
    rng = np.random.default_rng(0)
    strata = rng.integers(0, 11, z.shape[1])
    members = rng.choice(z.shape[1], 30, replace=False)
    eligible = np.ones(z.shape[1], dtype=bool)
    for n in (200, 1000):
        sets = np.vstack([members[None, :], method.placebo_sets(rng, strata, members, eligible, n)])
        vectorized = median_seconds(lambda: method.theme_statistics(z, sets), 5)
        per_set = median_seconds(lambda: [method.theme_statistics(z, s[None, :]) for s in sets], 2)
        naive = median_seconds(lambda: [naive_statistic(z, s) for s in sets], 1)
        print(f"{n} placebos: vectorized {vectorized * 1e3:.1f} ms; theme_statistics per set {per_set * 1e3:.1f} ms "
              f"({per_set / vectorized:.1f}x); naive member loop {naive * 1e3:.1f} ms ({naive / vectorized:.1f}x)")
    tickers = set(snap.tickers[members])
    book = pd.DataFrame({"ticker": list(snap.tickers[members[:15]]) + list(snap.tickers[-15:]), "value": [1.0] * 15 + [-1.0] * 15})
    report = median_seconds(lambda: xf.portfolio_report(book, snap), 5)
    folder = Path(__file__).resolve().parent / ".bench_semantic_cache.csv"
    full = median_seconds(lambda: xf.discover_semantic_factors(book, snap, threshold=0.0, client=TruthClient(tickers), semantic_cache=folder), 3)
    folder.unlink(missing_ok=True)
    print(f"discover_semantic_factors (cached labels, 200 placebos): {full * 1e3:.1f} ms = {full / report:.1f}x portfolio_report ({report * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
