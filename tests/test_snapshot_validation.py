"""A corrupt or partial snapshot is refused with the file and the reason, or repaired on record."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.handmodel import FACTORS, write_openfactor_folder


def test_missing_required_file(hand_folder):
    (hand_folder / "factor_covariance.csv").unlink()
    with pytest.raises(xf.SnapshotError, match=r"factor_covariance.csv: required file missing"):
        xf.load_snapshot(hand_folder)


def test_truncated_csv(hand_folder):
    path = hand_folder / "details/exposures_long.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(xf.SnapshotError, match=r"exposures_long.csv: is truncated"):
        xf.load_snapshot(hand_folder)


def test_truncated_line_with_newline_is_still_refused(hand_folder):
    path = hand_folder / "idiosyncratic_risk.csv"
    lines = path.read_text().splitlines()
    lines[-1] = lines[-1].split(",")[0]  # the row lost its values
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: 1 missing or non-numeric"):
        xf.load_snapshot(hand_folder)


def test_empty_file(hand_folder):
    (hand_folder / "universe.csv").write_text("")
    with pytest.raises(xf.SnapshotError, match=r"universe.csv: is empty"):
        xf.load_snapshot(hand_folder)


def test_nan_covariance(hand_folder):
    cov = pd.read_csv(hand_folder / "factor_covariance.csv", index_col=0)
    cov.iloc[2, 3] = np.nan
    cov.to_csv(hand_folder / "factor_covariance.csv")
    with pytest.raises(xf.SnapshotError, match=r"factor_covariance.csv: 1 non-finite"):
        xf.load_snapshot(hand_folder)


def test_non_symmetric_covariance(hand_folder):
    cov = pd.read_csv(hand_folder / "factor_covariance.csv", index_col=0)
    cov.iloc[1, 4] += 0.001
    cov.to_csv(hand_folder / "factor_covariance.csv")
    with pytest.raises(xf.SnapshotError, match=r"factor_covariance.csv: not symmetric"):
        xf.load_snapshot(hand_folder)


def test_unknown_factor_in_covariance(hand_folder):
    cov = pd.read_csv(hand_folder / "factor_covariance.csv", index_col=0)
    cov["quality"] = 0.0
    cov.loc["quality"] = 0.0
    cov.loc["quality", "quality"] = 0.01
    cov.to_csv(hand_folder / "factor_covariance.csv")
    with pytest.raises(xf.SnapshotError, match=r"unknown factor\(s\) with no exposure rows: quality"):
        xf.load_snapshot(hand_folder)


def test_ticker_without_idiosyncratic_risk(hand_folder):
    idiosyncratic = pd.read_csv(hand_folder / "idiosyncratic_risk.csv")
    idiosyncratic[idiosyncratic["ticker"] != "DDD"].to_csv(hand_folder / "idiosyncratic_risk.csv", index=False)
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: 1 tickers in exposures have no idiosyncratic risk \(DDD\)"):
        xf.load_snapshot(hand_folder)


def test_exposure_ticker_outside_universe(hand_folder):
    universe = pd.read_csv(hand_folder / "universe.csv")
    universe[universe["ticker"] != "EEE"].to_csv(hand_folder / "universe.csv", index=False)
    with pytest.raises(xf.SnapshotError, match=r"exposures_long.csv: 1 tickers not in universe.csv \(EEE\)"):
        xf.load_snapshot(hand_folder)


def _with_smallest_eigenvalue(covariance: np.ndarray, fraction: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    values[0] = fraction * values[-1]
    return (vectors * values) @ vectors.T


def test_rounding_level_indefinite_covariance_is_repaired_on_record(tmp_path, model):
    model.factor_covariance = _with_smallest_eigenvalue(model.factor_covariance, -1e-6)
    folder = write_openfactor_folder(tmp_path / "snap", model)
    snapshot = xf.load_snapshot(folder)
    assert "covariance_repair" in snapshot.diagnostics
    eigenvalues = np.linalg.eigvalsh(snapshot.factor_covariance)
    assert eigenvalues.min() > 0
    order = [list(snapshot.factor_names).index(f) for f in FACTORS]
    np.testing.assert_allclose(np.diag(snapshot.factor_covariance)[order], np.diag(model.factor_covariance), rtol=1e-12)
    assert np.abs(snapshot.factor_covariance[np.ix_(order, order)] - model.factor_covariance).max() < 1e-5
    assert "covariance_repair" in snapshot.describe()["diagnostics"]


def test_openfactor_six_decimal_covariance_loads_positive_definite(tmp_path, model):
    folder = write_openfactor_folder(tmp_path / "snap", model, covariance_decimals=6)
    snapshot = xf.load_snapshot(folder)
    assert np.linalg.eigvalsh(snapshot.factor_covariance).min() > 0


def test_grossly_indefinite_covariance_is_refused(tmp_path, model):
    model.factor_covariance = _with_smallest_eigenvalue(model.factor_covariance, -0.002)
    folder = write_openfactor_folder(tmp_path / "snap", model)
    with pytest.raises(xf.SnapshotError, match=r"factor_covariance.csv: indefinite beyond rounding"):
        xf.load_snapshot(folder)


def test_not_a_snapshot_folder(tmp_path):
    with pytest.raises(xf.SnapshotError, match="snapshot folder not found"):
        xf.load_snapshot(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(xf.SnapshotError, match="no snapshot for latest"):
        xf.load_snapshot(tmp_path / "empty")


def test_bad_metadata(hand_folder):
    (hand_folder / "metadata.json").write_text("{not json")
    with pytest.raises(xf.SnapshotError, match=r"metadata.json: not valid JSON"):
        xf.load_snapshot(hand_folder)
