"""Shared fixtures: an isolated cache per test, the hand-built model and its folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.handmodel import hand_model, write_openfactor_folder

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder and a fresh process-level snapshot memo."""
    from xlfactor.snapshot import clear_loaded

    monkeypatch.setenv("XLFACTOR_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    clear_loaded()
    yield
    clear_loaded()


@pytest.fixture
def model():
    return hand_model()


@pytest.fixture
def hand_folder(tmp_path, model):
    return write_openfactor_folder(tmp_path / "snap", model)


@pytest.fixture
def hand_snapshot(hand_folder):
    import xlfactor as xf

    return xf.load_snapshot(hand_folder)


def require_shared_data() -> Path:
    """The real-data folder; skip outside CI when it is absent, fail under CI."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    if os.environ.get("CI"):
        pytest.fail(f"CI must have the shared data at {SHARED_DATA}")
    pytest.skip(f"real market data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def simulated_market():
    """The demo's simulated market (about 40 s): shared by the demo and builder tests."""
    from xlfactor.demo.simulate import simulate_market

    return simulate_market()


@pytest.fixture(scope="session")
def small_market():
    """A small simulated market (400 names, 330 days) for builder paths that need no full-size market."""
    from xlfactor.demo.simulate import simulate_market

    return simulate_market(seed=5, n_assets=400, n_days=330)


@pytest.fixture(scope="session")
def demo_history(simulated_market):
    """The builder's day-by-day model of the simulated market (demo options): built once per run."""
    from xlfactor.demo.package import build_demo_history

    return build_demo_history(simulated_market)


@pytest.fixture(scope="session")
def demo_snapshot(demo_history):
    """The demo's snapshot at full precision (with quality), from the run's one build of the simulated market."""
    from xlfactor.demo.package import demo_snapshot

    return demo_snapshot(demo_history)


@pytest.fixture(scope="session")
def fresh_demo(demo_snapshot):
    """A fresh generation of the shipped demo snapshot (the full-precision one, rounded for shipping)."""
    from xlfactor.demo.package import rounded_for_shipping

    return rounded_for_shipping(demo_snapshot)


@pytest.fixture(scope="session")
def real_reference(tmp_path_factory):
    """The reference real-data build (adjusted prices, point-in-time S&P 500, 2010-2017).

    Returns ``(shared folder, ModelHistory, BuildOptions)``; shared by every real-data test.
    """
    from tests.real_inputs import REFERENCE_OPTIONS, write_adjusted_inputs
    from xlfactor.builder.builder import build_model
    from xlfactor.builder.inputs import read_inputs

    shared = require_shared_data()
    folder = write_adjusted_inputs(shared, tmp_path_factory.mktemp("real_adjusted"))
    return shared, build_model(read_inputs(folder), REFERENCE_OPTIONS), REFERENCE_OPTIONS


@pytest.fixture(scope="session")
def real_reference_snapshot(real_reference):
    """The reference build's last snapshot with its quality report (the slowest real-data step)."""
    from xlfactor.builder.builder import snapshot_at

    _, history, options = real_reference
    return snapshot_at(history, len(history.data.dates) - 1, options)


@pytest.fixture(scope="session")
def crisis_snapshot(tmp_path_factory):
    """A real-data snapshot as of 2009-12-31 over 2007-2009 (250 largest S&P 500 names, full factor history)."""
    from tests.real_inputs import write_crisis_inputs
    from xlfactor.builder.builder import BuildOptions, build_snapshot

    import xlfactor as xf

    shared = require_shared_data()
    inputs = write_crisis_inputs(shared, tmp_path_factory.mktemp("crisis-inputs"))
    options = BuildOptions(market_series="SPX", universe="sp500-2007-2009", quality=False, history_days=800)
    folder = build_snapshot(inputs, tmp_path_factory.mktemp("crisis") / "snapshot", options=options)[0]
    return xf.load_snapshot(folder)
