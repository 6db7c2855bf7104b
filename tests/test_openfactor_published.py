"""Snapshots exactly as OpenFactor publishes them: blank style cells, 6-decimal CSVs, no manifest."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.handmodel import DATES, FACTORS, STYLES, TICKERS, write_openfactor_folder
from xlfactor.cli import main

BLANKS = {("BBB", "momentum"), ("EEE", "momentum"), ("CCC", "value")}
"""(ticker, factor) cells left blank, as OpenFactor does for a name missing a fundamental."""


def _six_decimals(path):
    frame = pd.read_csv(path)
    frame.to_csv(path, index=False, float_format="%.6f")


def published_folder(tmp_path, model):
    """The hand model in OpenFactor's published form: rounded, blanks in both exposure files, no manifest."""
    for ticker, factor in BLANKS:
        model.exposures[TICKERS.index(ticker), FACTORS.index(factor)] = np.nan
    folder = write_openfactor_folder(tmp_path / "published", model)
    long_path = folder / "details/exposures_long.csv"
    long = pd.read_csv(long_path)
    blank = long.apply(lambda r: (r["ticker"], r["factor"]) in BLANKS, axis=1)
    long.loc[blank, ["value", "raw_value"]] = np.nan
    long.to_csv(long_path, index=False, float_format="%.6f")  # NaN is written as an empty cell
    wide = pd.DataFrame(model.exposures[:, 7:], columns=STYLES)
    wide.insert(0, "ticker", TICKERS)
    wide.insert(0, "as_of_date", DATES[-1])
    wide.to_csv(folder / "exposures.csv", index=False, float_format="%.6f")
    for name in ("factor_covariance.csv", "idiosyncratic_risk.csv", "factor_returns.csv", "residual_returns.csv"):
        _six_decimals(folder / name)
    assert not (folder / "manifest.json").exists()
    assert ",,," in long_path.read_text() or ",," in long_path.read_text()
    return folder


def test_blank_style_cells_load_as_neutral_and_are_counted(tmp_path, model):
    folder = published_folder(tmp_path, model)
    snapshot = xf.load_snapshot(folder)
    assert snapshot.diagnostics["blank_style_exposures"] == {"momentum": 2, "value": 1}
    assert "no_market_cap" not in snapshot.diagnostics  # the blanks are not in size
    text = snapshot.describe()["diagnostics"]
    assert "3 blank style exposure cells read as neutral (0): momentum 2, value 1" in text

    # Independent expectation: numpy on the rounded files with blanks as 0.
    cov = pd.read_csv(folder / "factor_covariance.csv", index_col=0).loc[FACTORS, FACTORS].to_numpy()
    X = np.nan_to_num(np.round(model.exposures, 6))
    idiosyncratic = np.round(model.idiosyncratic_risk, 6)
    w = np.array([0.3, 0.2, 0.1, 0.2, 0.15, 0.05])
    expected = np.sqrt(w @ X @ cov @ X.T @ w + np.sum(w**2 * idiosyncratic**2))
    portfolio = pd.DataFrame({"ticker": TICKERS, "allocation": w})
    report = xf.portfolio_report(portfolio, snapshot)
    if "covariance_repair" not in snapshot.diagnostics:
        assert report["summary"]["value"]["total_risk"] == pytest.approx(expected, rel=1e-12)
    else:  # a rounding-level repair moves entries by ~1e-6 at most
        assert report["summary"]["value"]["total_risk"] == pytest.approx(expected, rel=1e-4)
    style = report["style"].set_index("factor")["portfolio"]
    for factor in STYLES:
        assert style[factor] == pytest.approx(w @ X[:, FACTORS.index(factor)], abs=1e-12)


def test_blank_cells_reach_snapshot_info_and_of_snapshot(tmp_path, model, capsys):
    folder = published_folder(tmp_path, model)
    assert main(["snapshot", "info", "--snapshot", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "3 blank style exposure cells read as neutral (0): momentum 2, value 1" in out
    from xlfactor.functions import OF_SNAPSHOT

    assert "momentum 2, value 1" in OF_SNAPSHOT("diagnostics", str(folder))


def test_text_in_a_value_cell_names_file_ticker_and_factor_once(hand_folder):
    path = hand_folder / "details/exposures_long.csv"
    long = pd.read_csv(path)
    long["value"] = long["value"].astype(object)
    long.loc[(long["ticker"] == "BBB") & long["factor"].isin(["momentum", "value"]), "value"] = "n/a"
    long.loc[(long["ticker"] == "DDD") & (long["factor"] == "size"), "value"] = "#VALUE!"
    long.to_csv(path, index=False)
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(hand_folder)
    message = str(caught.value)
    assert "details/exposures_long.csv" in message
    assert "3 non-numeric style exposure values" in message
    assert message.count("BBB") == 1 and "DDD" in message
    assert "momentum" in message and "size" in message


def test_nan_in_the_exposure_panel_is_neutral_and_counted(hand_folder):
    path = hand_folder / "details/exposures_panel.csv.gz"
    panel = pd.read_csv(io.BytesIO(gzip.decompress(path.read_bytes())))
    first = panel["as_of_date"] == DATES[-2]
    hit = first & (panel["ticker"] == "AAA") & (panel["factor"].isin(["momentum", "value"]))
    panel.loc[hit, "value"] = np.nan
    path.write_bytes(gzip.compress(panel.to_csv(index=False).encode()))
    snapshot = xf.load_snapshot(hand_folder)
    assert snapshot.diagnostics["blank_panel_exposures"] == {"momentum": 1, "value": 1}
    block = snapshot.exposure_panel.values[0]
    names = list(snapshot.factor_names)
    row = list(snapshot.tickers).index("AAA")
    assert block[row, names.index("momentum")] == 0 and block[row, names.index("value")] == 0
    assert "2 blank exposure panel cells read as neutral (0)" in snapshot.describe()["diagnostics"]


def test_text_in_the_exposure_panel_is_refused(hand_folder):
    path = hand_folder / "details/exposures_panel.csv.gz"
    panel = pd.read_csv(io.BytesIO(gzip.decompress(path.read_bytes())))
    panel["value"] = panel["value"].astype(object)
    panel.loc[(panel["ticker"] == "CCC") & (panel["factor"] == "value"), "value"] = "oops"
    path.write_bytes(gzip.compress(panel.to_csv(index=False).encode()))
    with pytest.raises(xf.SnapshotError, match=r"exposures_panel.csv.gz: 2 non-numeric exposure values \(CCC: value\)"):
        xf.load_snapshot(hand_folder)


def test_blank_size_raw_value_is_a_name_without_a_market_cap_on_record(hand_folder):
    path = hand_folder / "details/exposures_long.csv"
    long = pd.read_csv(path)
    long.loc[(long["ticker"] == "FFF") & (long["factor"] == "size"), ["value", "raw_value"]] = np.nan
    long.to_csv(path, index=False)
    snapshot = xf.load_snapshot(hand_folder)
    assert "1 names without a market cap have no benchmark weight (FFF)" in snapshot.diagnostics["no_market_cap"]
    assert xf.factor_model_data(snapshot).benchmark_weights[list(snapshot.tickers).index("FFF")] == 0


def test_diagnostics_survive_the_binary_cache(tmp_path, model):
    folder = published_folder(tmp_path, model)
    first = xf.load_snapshot(folder)
    xf.snapshot.clear_loaded()
    again = xf.load_snapshot(folder)  # from the binary copy
    assert again.diagnostics["blank_style_exposures"] == first.diagnostics["blank_style_exposures"]
    json.dumps(again.diagnostics)
