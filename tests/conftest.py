"""Shared fixtures (an isolated cache per test, the hand-built model and its folder) and the `slow` marker.

`pytest -m "not slow"` is the edit-test loop; CI runs everything. A test is slow when it uses
one of ``SLOW_FIXTURES`` (a build of a simulated or real market) or its node id starts with one
of ``SLOW_NODES`` (LibreOffice, servers, wheels, real data, the docs build): the one list, here,
rather than decorators spread over the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.handmodel import hand_model, write_openfactor_folder

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Session fixtures that build a market or a model (tens of seconds to minutes each).
SLOW_FIXTURES = frozenset(
    {
        "simulated_market",
        "small_market",
        "demo_history",
        "demo_snapshot",
        "fresh_demo",
        "real_reference",
        "real_reference_snapshot",
        "crisis_snapshot",
    }
)

# Node-id prefixes of the other slow tests: LibreOffice recalculation and printing, servers,
# wheels, real data, model builds inside the test body, the docs site build.
SLOW_NODES = (
    "tests/test_real_data.py",
    "tests/test_etf_cascade_real.py",
    "tests/test_packaging.py",
    "tests/test_report_workbook.py::test_libreoffice_recalculates_the_headline_formulas",
    "tests/test_report_workbook.py::test_editing_a_weight_recomputes_without_python",
    "tests/test_report_workbook.py::test_allocation_header_and_user_benchmark",
    "tests/test_report_workbook.py::test_demo_report_prints_in_at_most_12_readable_pages",
    "tests/test_report_workbook.py::test_tear_sheet_page_reads_alone",
    "tests/test_cli.py::test_progress_shows_at_once_and_advances_with_the_work",
    "tests/test_adapters.py::test_server_adapter_answers_an_http_custom_function_call",
    "tests/test_docs.py::test_mkdocs_build_is_strict",
    "tests/test_examples.py::test_example_script[build_model_from_csvs.py]",
    "tests/test_examples.py::test_example_script[track_a_month.py]",
    "tests/test_docs.py::test_shell_blocks_run[docs/getting-started/real-data.md]",
    "tests/test_docs.py::test_python_blocks_run[docs/guide/track.md]",
    # Long track histories, the discover workbook and the workbook-writing file checks (each over
    # 15 s on the shared 2-core machine): what keeps `-m "not slow"` under two minutes.
    "tests/test_track.py::test_summary_statistics_equal_an_independent_computation",
    "tests/test_semantic.py::test_cli_discover_writes_a_themes_sheet",
    "tests/test_written_files.py::test_written_files_and_folders_follow_the_umask",
    "tests/test_written_files.py::test_report_workbook_stores_every_nasty_ticker_as_text",
    "tests/test_written_files.py::test_exposure_panel_written_date_by_date_equals_the_whole_text_compressed_at_once",
    "tests/test_written_files.py::test_summary_sheet_keeps_booleans_and_counts",
    "tests/test_scenario_frontends.py::test_stress_sheet_in_the_report_workbook",
    "tests/test_cli.py::test_snapshot_info_and_export",
    "tests/test_track_attribution.py::test_window_thresholds[253",
    "tests/test_track_attribution.py::test_window_thresholds[252",
    "tests/test_bad_holdings.py::test_out_errors_name_the_users_path",
)


def pytest_collection_modifyitems(config, items):
    """Mark the tests of ``SLOW_FIXTURES`` and ``SLOW_NODES`` slow (the marker is registered in pyproject)."""
    for item in items:
        node = item.nodeid.replace("\\", "/")
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())) or node.startswith(SLOW_NODES):
            item.add_marker(pytest.mark.slow)


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
