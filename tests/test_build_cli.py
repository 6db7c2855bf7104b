"""xlfactor demo-data / build / quality: the demo market through files reproduces the demo snapshot."""

from __future__ import annotations

import json

import numpy as np
import openpyxl
import pandas as pd

import xlfactor as xf
from xlfactor.cli import main


def test_demo_data_then_build_reproduces_the_demo(tmp_path, simulated_market, fresh_demo, capsys, monkeypatch):

    monkeypatch.setattr("xlfactor.demo.simulate.simulate_market", lambda seed=None: simulated_market)
    assert main(["demo-data", str(tmp_path / "in")]) == 0
    assert json.loads((tmp_path / "in" / "source.json").read_text())["simulated"] is True
    truth = pd.read_csv(tmp_path / "in" / "truth" / "factor_returns.csv", index_col=0)
    assert list(truth.columns) == list(simulated_market.factor_names)
    themes = pd.read_csv(tmp_path / "in" / "truth" / "semantic_themes.csv")
    assert list(themes.columns) == ["theme", "ticker"] and themes["theme"].nunique() == 2
    from xlfactor.demo.simulate_constants import SEED
    from xlfactor.demo.themes import hidden_theme_members

    replayed = hidden_theme_members(SEED, simulated_market.data.tickers, len(simulated_market.data.dates))
    pd.testing.assert_frame_equal(themes, replayed[["theme", "ticker"]])
    position = pd.Index(simulated_market.data.tickers)
    for _, group in themes.groupby("theme"):  # members' specific returns share a shock; others do not
        members = simulated_market.idiosyncratic_returns[1:, position.get_indexer(group["ticker"])]
        others = simulated_market.idiosyncratic_returns[1:, np.setdiff1d(np.arange(len(position)), position.get_indexer(themes["ticker"]))[:30]]
        inside, outside = np.corrcoef(members.T), np.corrcoef(others.T)
        assert inside[np.triu_indices_from(inside, 1)].mean() > 0.1 > abs(outside[np.triu_indices_from(outside, 1)].mean()) * 5
    assert main(["build", "--data", str(tmp_path / "in"), "--out", str(tmp_path / "snap"), "--universe", "xlfactor-demo", "--no-quality"]) == 0
    built = xf.load_snapshot(tmp_path / "snap")
    assert built.is_simulated and "SIMULATED" in built.metadata["description"]
    np.testing.assert_array_equal(built.factor_names, fresh_demo.factor_names)
    np.testing.assert_allclose(np.nan_to_num(built.exposures), np.nan_to_num(fresh_demo.exposures), atol=5e-4 + 1e-9)
    np.testing.assert_allclose(built.factor_covariance, fresh_demo.factor_covariance, rtol=1e-6)
    np.testing.assert_allclose(built.idiosyncratic_risk, fresh_demo.idiosyncratic_risk, rtol=1e-6)
    classification = pd.read_csv(tmp_path / "in" / "classification.csv")
    assert list(built.names) == list(classification.set_index("ticker").loc[built.tickers, "name"])
    assert list(built.names) == list(fresh_demo.names)
    assert "wrote 1 snapshot" in capsys.readouterr().err


def test_build_every_month_and_quality(tmp_path, simulated_market, capsys):
    from xlfactor.demo import write_demo_inputs
    from xlfactor.demo.simulate import simulate_market

    small = simulate_market(seed=5, n_assets=400, n_days=330)
    write_demo_inputs(tmp_path / "in", market=small)
    out = tmp_path / "history"
    assert main(["build", "--data", str(tmp_path / "in"), "--out", str(out), "--every", "MONTH", "--start", small.data.dates[-70]]) == 0
    dated = sorted(p.name for p in out.glob("date=*"))
    assert len(dated) >= 3 and dated[-1] == f"date={small.data.dates[-1]}"
    latest = json.loads((out / "latest.json").read_text())["latest"]
    assert xf.load_snapshot(out).as_of == latest
    earlier = xf.load_snapshot(out, as_of=dated[0].split("=")[1])
    assert earlier.as_of < latest
    capsys.readouterr()
    assert main(["quality", str(out / dated[-1])]) == 0
    text = capsys.readouterr().out
    assert "r2_weighted_mean" in text and "out-of-sample bias statistics" in text
    report = tmp_path / "r.xlsx"
    portfolio = tmp_path / "p.csv"
    pd.DataFrame({"ticker": small.data.tickers[:20], "value": 1.0}).to_csv(portfolio, index=False)
    assert main(["report", "--portfolio", str(portfolio), "--snapshot", str(out), "--out", str(report)]) == 0
    assert "Quality" in openpyxl.load_workbook(report).sheetnames


def test_quality_of_a_snapshot_without_it(hand_folder, capsys):
    assert main(["quality", str(hand_folder)]) == 2
    assert "no quality.json" in capsys.readouterr().err


def test_bad_build_input_is_reported(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    assert main(["build", "--data", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    assert "prices.csv: required file missing" in capsys.readouterr().err
