"""The embedded demo: labelled simulated, small, built by the model builder, equal to a fresh generation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis

import xlfactor as xf
from xlfactor.demo import DEMO_FILE, load_packaged_demo
from xlfactor.builder.builder import style_exposures


@pytest.fixture(scope="module")
def demo():
    return load_packaged_demo()


ARRAY_NOISE = 1e-7
"""Noise allowed in the snapshot's arrays, as a share of each array's largest value. The covariance's
eigenfactor adjustment (hundreds of simulated eigen-decompositions) moves near-zero covariances by up to
5.6e-10 between numpy 2.4 builds, 2e-8 of the largest variance (0.03); relative to themselves that is up
to 8.7e-5."""

QUALITY_RTOL = 1e-6
"""The quality report is statistics of refitted statistics (bias of simulated eigenfactor and factor
portfolios over hundreds of refits), which amplify an ulp of BLAS/LAPACK difference: numpy 2.4 moved
``bottom_eigenfactor_bias`` by 6.5e-8 and ``factor_bias[5]`` by 1.0e-9 relative against the shipped file.
The snapshot's arrays themselves are compared at 1e-9 below."""


def assert_same_tree(fresh, shipped, path="quality"):
    """Nested JSON values equal; floats to :data:`QUALITY_RTOL` relative."""
    if isinstance(shipped, dict):
        assert set(fresh) == set(shipped), path
        for key in shipped:
            assert_same_tree(fresh[key], shipped[key], f"{path}.{key}")
    elif isinstance(shipped, list):
        assert len(fresh) == len(shipped), path
        for i, (a, b) in enumerate(zip(fresh, shipped)):
            assert_same_tree(a, b, f"{path}[{i}]")
    elif isinstance(shipped, float):
        rel = QUALITY_RTOL
        assert (np.isnan(fresh) and np.isnan(shipped)) or fresh == pytest.approx(shipped, rel=rel, abs=1e-12), path
    else:
        assert fresh == shipped, path


def assert_same_rounded(fresh, shipped, quantum, name):
    """Equal except where a value within 1e-9 of a rounding boundary fell the other way (rare)."""
    fresh, shipped = np.asarray(fresh, dtype=float), np.asarray(shipped, dtype=float)
    assert fresh.shape == shipped.shape, name
    same = (fresh == shipped) | (np.isnan(fresh) & np.isnan(shipped))
    assert same.mean() > 0.9999, f"{name}: {(~same).sum()} of {same.size} values differ"
    np.testing.assert_allclose(fresh[~same], shipped[~same], rtol=0, atol=quantum * 1.0001, err_msg=name)


def test_shipped_snapshot_equals_fresh_generation(demo, fresh_demo):
    """The shipped file is what the simulator and the builder produce (to floating-point noise)."""
    fresh = fresh_demo
    assert json.loads(json.dumps(fresh.metadata, default=str)) == demo.metadata
    assert_same_tree(json.loads(json.dumps(fresh.quality, default=float)), demo.quality)
    for name in ("tickers", "factor_names", "factor_groups"):
        np.testing.assert_array_equal(getattr(fresh, name), getattr(demo, name))
    for name in ("market_cap", "factor_covariance", "idiosyncratic_risk", "idiosyncratic_observations"):
        shipped = np.asarray(getattr(demo, name), dtype=float)
        atol = ARRAY_NOISE * np.abs(shipped).max()  # a near-zero covariance is compared at the matrix's scale
        np.testing.assert_allclose(getattr(fresh, name), shipped, rtol=1e-9, atol=atol, err_msg=name)
    assert_same_rounded(fresh.exposures, demo.exposures, 1e-3, "exposures")
    assert_same_rounded(fresh.exposure_panel.values, demo.exposure_panel.values, 1e-3, "panel")
    np.testing.assert_array_equal(fresh.exposure_panel.dates, demo.exposure_panel.dates)
    for name in ("factor_returns", "residual_returns", "index_returns"):
        a, b = getattr(fresh, name), getattr(demo, name)
        assert a.index.equals(b.index) and a.columns.equals(b.columns), name
        np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6, atol=1e-12, err_msg=name)  # float32 shipping
    pd.testing.assert_frame_equal(fresh.indexes, demo.indexes)


def test_demo_is_small_and_labelled_simulated(demo):
    assert DEMO_FILE.stat().st_size < 5e6
    assert demo.is_simulated and demo.metadata["simulated"] is True
    assert "SIMULATED" in demo.metadata["description"]
    assert demo.metadata["model_version"].startswith("xlfactor-builder")
    assert all(t.startswith("SIM") for t in demo.tickers)
    report = xf.portfolio_report(pd.DataFrame({"ticker": ["SIM0001"], "value": [1.0]}), demo)
    assert "SIMULATED" in report["snapshot"].loc["note", "value"]
    assert xf.load_snapshot() is xf.load_snapshot()  # loaded once per process


def test_demo_shape(demo):
    groups = pd.Series(demo.factor_groups).value_counts()
    assert groups["sector"] == 11 and 35 <= groups["industry"] <= 45 and groups["market"] == 1
    # every style of the OpenFactor coverage table but industry momentum (redundant next to industry factors)
    assert groups["style"] == 26 and "industry_momentum" not in demo.factor_names
    assert len(demo.tickers) == 1000
    assert len(demo.factor_returns) == 504 and len(demo.residual_returns) == 252  # two years of factor history
    assert len(demo.exposure_panel.dates) == 64
    assert set(demo.index_returns.columns) >= {"SPY", "XLK", "XLE"}
    assert np.linalg.eigvalsh(demo.factor_covariance).min() > 0
    dates = xf.risk.attributable_dates(demo)
    assert len(dates) == 63 and dates[-1] == demo.as_of
    assert demo.quality["bias"]["out_of_sample_days"] > 252


def test_simulated_market_has_fat_tails_and_a_regime(simulated_market):
    m = simulated_market
    standardized = m.idiosyncratic_returns[1:] / m.idiosyncratic_risk * np.sqrt(252) / np.sqrt(m.regime[1:, None])
    assert kurtosis(standardized.ravel()) > 1.0  # Student-t(5): excess kurtosis 6
    market = m.factor_returns[1:, 0]
    peak = int(np.argmax(m.regime))
    assert market[peak - 11 : peak + 9].std() > 1.3 * market[:100].std()


def test_truth_satisfies_the_identification_constraints(simulated_market):
    """Sector returns have a cap-weighted sum of zero with the previous close's caps, every day."""
    m = simulated_market
    caps = m.data.market_cap[:-1]
    sectors = m.factor_groups == "sector"
    member = (m.data.sector[0][:, None] == np.arange(sectors.sum())[None, :]).astype(float)
    sector_caps = caps @ member
    weighted = (sector_caps * m.factor_returns[1:, sectors]).sum(axis=1) / sector_caps.sum(axis=1)
    # caps move by at most the fixed-point tolerance (1e-6 of a return) after the last projection
    np.testing.assert_allclose(weighted, 0, atol=1e-10)


def test_stock_returns_are_the_builder_exposures_times_factor_returns(simulated_market):
    """The fixed point: returns = (builder exposures at t-1) x (true factor returns) + idiosyncratic."""
    m = simulated_market
    exposures = style_exposures(m.data, keep_raw=False)
    n_sec = len(m.data.sector_names)
    k_member = 1 + n_sec + len(m.data.industry_names)
    t = np.arange(2, len(m.data.dates))
    f = m.factor_returns[t]
    rows = np.arange(len(t))[:, None]
    common = f[:, :1] + f[:, 1 : 1 + n_sec][rows, m.data.sector[t - 1]]
    common = common + f[:, 1 + n_sec : k_member][rows, m.data.industry[t - 1]]
    common = common + np.einsum("dns,ds->dn", np.nan_to_num(exposures.styles[t - 1]), f[:, k_member:])
    np.testing.assert_allclose(common + m.idiosyncratic_returns[t], m.data.returns[t], atol=2e-6)


def test_demo_attribution_matches_simulated_stock_returns(demo, simulated_market):
    """Attributed total = weights x the simulated stock returns (up to the shipped rounding)."""
    rng = np.random.default_rng(3)
    picks = rng.choice(1000, 50, replace=False)
    values = rng.normal(0, 1, 50)
    report = xf.portfolio_report(pd.DataFrame({"ticker": demo.tickers[picks], "value": values}), demo)
    w = np.zeros(1000)
    w[picks] = values / np.abs(values).sum()
    assert report["attribution"].loc["total", "portfolio"] == pytest.approx(w @ simulated_market.data.returns[-1], abs=2e-5)
