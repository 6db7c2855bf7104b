"""The scenario library: scenarios.csv in the layout, the builder's episodes and history, the demo's crises, 2007-2009."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.conftest import require_shared_data
from xlfactor.errors import SnapshotError
from xlfactor.builder.scenario_library import KNOWN_EPISODES, scenarios_within

LIBRARY = pd.DataFrame(
    {"name": ["Week two", "Tuesday"], "start": ["2026-01-12", "2026-01-13"], "end": ["2026-01-16", ""],
     "description": ["second week", None]}
)  # fmt: skip


def test_scenarios_csv_round_trips_through_folder_and_binary_cache(hand_snapshot, tmp_path):
    snapshot = dataclasses.replace(hand_snapshot, scenarios=LIBRARY.replace("", np.nan))
    folder = xf.write_snapshot(snapshot, tmp_path / "with")
    written = pd.read_csv(folder / "scenarios.csv")
    assert list(written.columns) == ["name", "start", "end", "description"]
    xf.snapshot.clear_loaded()
    for _ in range(2):  # first from the CSVs, then from the binary cache
        loaded = xf.load_snapshot(folder)
        assert loaded.scenarios.to_dict(orient="list") == {
            "name": ["Week two", "Tuesday"], "start": ["2026-01-12", "2026-01-13"],
            "end": ["2026-01-16", "2026-01-13"], "description": ["second week", ""],
        }  # fmt: skip
        xf.snapshot.clear_loaded()
    assert xf.load_snapshot(hand_snapshot.source).scenarios is None  # optional file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,start,end\nA,2026-01-05,2026-01-06\na,2026-01-07,\n", "duplicate scenario name 'a'"),
        ("name,start,end\nA,2026-01-09,2026-01-06\n", "'A' starts after it ends"),
        ("name,start,end\nA,2026-13-45,\n", "'A' has an invalid date"),
        ("name,start,end\n,2026-01-05,\n", "blank scenario name in row 1"),
        ("label,start\nA,2026-01-05\n", r"missing column\(s\) name"),
    ],
)
def test_bad_scenarios_csv_is_refused_naming_the_file(hand_folder, text, message):
    (hand_folder / "scenarios.csv").write_text(text)
    with pytest.raises(SnapshotError, match=f"scenarios.csv.*{message}"):
        xf.load_snapshot(hand_folder)


def test_library_keeps_the_episodes_inside_the_history():
    library = scenarios_within(["2007-01-03", "2009-12-31"])
    expected = [e.name for e in KNOWN_EPISODES if "2007-01-03" <= e.start and e.end <= "2009-12-31"]
    assert list(library["name"]) == expected == ["2007 quant quake", "2008 Lehman weeks", "2009 momentum crash"]
    assert scenarios_within(["2016-06-24", "2016-06-24"]) is None  # Brexit ends on the 27th
    assert list(scenarios_within(["2016-01-04", "2016-12-30"])["name"]) == ["2016 Brexit vote"]
    assert scenarios_within([]) is None
    for episode in KNOWN_EPISODES:
        assert episode.start <= episode.end and pd.Timestamp(episode.start).day_of_week < 5


def test_builder_writes_a_longer_factor_history_and_the_library(demo_history):
    from xlfactor.demo.package import build_options
    from xlfactor.builder.builder import snapshot_at

    last = len(demo_history.data.dates) - 1
    options = dataclasses.replace(build_options(), history_days=400)
    snapshot = snapshot_at(demo_history, last, options, quality=False)
    assert len(snapshot.factor_returns) == 400 and len(snapshot.residual_returns) == options.risk_window
    assert snapshot.factor_returns.index[-1] == snapshot.residual_returns.index[-1] == demo_history.data.dates[last]
    columns = [list(demo_history.factor_names).index(f) for f in snapshot.factor_names]
    expected = demo_history.regression.factor_returns[last - 399 : last + 1][:, columns]
    np.testing.assert_array_equal(snapshot.factor_returns.to_numpy(), expected)
    assert snapshot.scenarios is None  # no well-known episode falls inside the simulated calendar


def test_demo_carries_two_simulated_crises_inside_its_history(simulated_market):
    demo = xf.load_snapshot()
    library = demo.scenarios
    assert len(library) == 2 and all("SIMULATED" in d for d in library["description"])
    assert all("(demo)" in n for n in library["name"])
    first, last = demo.factor_returns.index[0], demo.factor_returns.index[-1]
    assert (library["start"] >= first).all() and (library["end"] <= last).all()
    data = xf.factor_model_data(demo)
    crash = xf.scenario(data, data.benchmark_weights, "Simulated crash (demo)")
    # the true market factor over the episode, from the simulator's truth
    dates = list(simulated_market.data.dates)
    rows = slice(dates.index(crash.start), dates.index(crash.end) + 1)
    true_market = simulated_market.factor_returns[rows, 0].sum()
    assert crash.days == 6 and true_market < -0.10
    assert crash.portfolio_pnl == pytest.approx(true_market, abs=0.01)  # the builder recovers the crash
    momentum = np.where(data.exposures[:, list(data.factor_names).index("momentum")] > 0, 1.0, -1.0)
    unwind = xf.scenario(data, momentum / np.abs(momentum).sum(), "Simulated momentum unwind (demo)")
    assert unwind.summary.loc["style", "portfolio"] < 0  # long winners, short losers loses in the unwind
    with pytest.raises(xf.ScenarioError, match="unknown scenario 'Lehman'.*Simulated crash \\(demo\\), Simulated momentum"):
        xf.scenario(data, data.benchmark_weights, "Lehman")


@pytest.mark.parametrize("book", ["benchmark", "equal"])
def test_demo_historical_var_exceeds_the_parametric_at_99(book):
    """Fat tails of the Student-t demo (with its crises): historical above parametric at 99%."""
    data = xf.factor_model_data(xf.load_snapshot())
    w = data.benchmark_weights if book == "benchmark" else np.full(len(data.tickers), 1 / len(data.tickers))
    h = xf.historical_var(data, w, 0.99)
    assert h.ratio > 1.0, f"historical {h.var:.4f} vs parametric {h.parametric_var:.4f}"
    assert h.es_ratio > 1.0


def test_real_2007_2009_build_has_the_lehman_episode(crisis_snapshot):
    shared = require_shared_data()
    from tests.real_inputs import sp500_index_returns

    snapshot = crisis_snapshot
    assert not snapshot.is_simulated and snapshot.as_of == "2009-12-31"
    assert list(snapshot.scenarios.columns) == ["name", "start", "end", "description"]  # the written library's form
    names = list(snapshot.scenarios["name"])
    assert "2008 Lehman weeks" in names and "2007 quant quake" in names
    data = xf.factor_model_data(snapshot)
    lehman = xf.scenario(data, data.benchmark_weights, "2008 Lehman weeks")
    # independent check: the replay is today's exposures times the stored returns, read with pandas
    stored = pd.read_csv(snapshot.source + "/factor_returns.csv", index_col=0).loc["2008-09-15":"2008-10-10"]
    x = data.exposures.T @ data.benchmark_weights
    assert lehman.portfolio_pnl == pytest.approx(float((stored[list(data.factor_names)].fillna(0).to_numpy() @ x).sum()), abs=1e-9)
    spx = sp500_index_returns(shared).loc["2008-09-15":"2008-10-10"]
    assert lehman.days == len(spx) == 20
    assert lehman.portfolio_pnl == pytest.approx(spx.sum(), abs=0.03)  # the market factor is pinned to the S&P 500
    # a market-heavy long-only book: the 30 largest names, equal weighted
    largest = np.argsort(-snapshot.market_cap)[:30]
    book = pd.DataFrame({"ticker": snapshot.tickers[largest], "value": 1e6})
    result = xf.scenario(data, book, "2008 Lehman weeks")
    assert result.portfolio_pnl < -0.10 and result.compounded["portfolio"] < -0.10
    assert result.dollars["portfolio"] < -0.10 * 30e6
