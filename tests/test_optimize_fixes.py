"""Regression tests for the optimizer, CLI and Rebalance-sheet fixes (issues 23 and 24 review)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from xlfactor.cli import main


@pytest.fixture(scope="module")
def demo():
    return xf.factor_model_data()


@pytest.fixture(scope="module")
def book(demo):
    rng = np.random.default_rng(0)
    picks = rng.choice(len(demo.tickers), 60, replace=False)
    return pd.DataFrame({"ticker": demo.tickers[picks], "value": rng.uniform(1e5, 1e6, 60)})


def _refuse(constant: str):
    raise ValueError(f"bare {constant} in JSON output")


def test_cli_optimize_json_is_strict(book, tmp_path, capsys):
    book.to_csv(tmp_path / "book.csv", index=False)
    # blank min cells: NaN in the check table, which must print as null
    pd.DataFrame({"limit": ["turnover", "weight"], "name": ["", "*"], "min": [None, None], "max": [0.3, 0.05]}).to_csv(
        tmp_path / "limits.csv", index=False)  # fmt: skip
    assert main(["optimize", "--portfolio", str(tmp_path / "book.csv"), "--limits", str(tmp_path / "limits.csv"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out, parse_constant=_refuse)
    assert payload["check"][0]["min"] is None and payload["check"][0]["max"] == pytest.approx(0.3)
