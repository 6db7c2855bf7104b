"""Reading OpenFactor-layout folders from a path, file:// and http://127.0.0.1, with the cache."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.handmodel import FACTORS, TICKERS, write_openfactor_folder
from xlfactor.snapshot import sources
from xlfactor.snapshot.manifest import verify_manifest


@pytest.fixture
def http_root(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 (a local http.server on a free port)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        _QuietHandler.requests.append(self.path)
        super().do_GET()


def assert_same_model(snapshot, model):
    assert list(snapshot.tickers) == TICKERS
    order = [list(snapshot.factor_names).index(f) for f in FACTORS]
    np.testing.assert_allclose(snapshot.exposures[:, order], model.exposures, rtol=1e-12)
    np.testing.assert_allclose(snapshot.factor_covariance[np.ix_(order, order)], model.factor_covariance, rtol=1e-12)
    np.testing.assert_allclose(snapshot.idiosyncratic_risk, model.idiosyncratic_risk, rtol=1e-12)
    np.testing.assert_allclose(snapshot.market_cap, model.market_cap, rtol=1e-9)
    np.testing.assert_allclose(snapshot.residual_returns.to_numpy(), model.residual_returns, rtol=1e-12)
    lagged = np.asarray(snapshot.exposure_panel.values[0])[:, order]
    np.testing.assert_allclose(lagged, model.lagged_exposures, rtol=1e-12)


def test_folder_path(hand_folder, model):
    snapshot = xf.load_snapshot(hand_folder)
    assert_same_model(snapshot, model)
    assert snapshot.as_of == "2026-01-16"
    assert not snapshot.is_simulated
    assert snapshot.index_returns is not None and "SPY" in snapshot.index_returns.columns


def test_file_url(hand_folder, model):
    snapshot = xf.load_snapshot(hand_folder.as_uri())
    assert_same_model(snapshot, model)
    assert snapshot.source.startswith("file://")


def test_dated_folder_layout(tmp_path, model):
    root = tmp_path / "universe"
    write_openfactor_folder(root / "date=2026-01-16", model)
    (root / "latest.json").write_text('{"latest": "2026-01-16"}')
    assert xf.load_snapshot(root).as_of == "2026-01-16"
    assert xf.load_snapshot(root, as_of="2026-01-16").as_of == "2026-01-16"
    with pytest.raises(xf.SnapshotError, match="no snapshot for 2025-01-01"):
        xf.load_snapshot(root, as_of="2025-01-01")


def test_http_download_is_cached_with_manifest(http_root, model):
    root, base = http_root
    write_openfactor_folder(root / "factors" / "hand" / "date=2026-01-16", model)
    (root / "factors" / "hand" / "latest.json").write_text('{"latest": "2026-01-16"}')
    shutil.copytree(root / "factors/hand/date=2026-01-16", root / "factors/hand/latest")
    progress = []
    snapshot = xf.load_snapshot(f"{base}/factors/hand", progress=lambda *a: progress.append(a))
    assert_same_model(snapshot, model)
    assert progress and progress[-1][0]
    cached = sources._cached_dates(sources.cache_dir() / "snapshots" / sources.hashlib.sha256(f"{base}/factors/hand".encode()).hexdigest()[:24])
    assert [p.name for p in cached] == ["2026-01-16"]
    assert verify_manifest(cached[0]) is None
    # A second process-level load reads the cache: only latest.json is asked for again.
    xf.snapshot.clear_loaded()
    _QuietHandler.requests.clear()
    again = xf.load_snapshot(f"{base}/factors/hand")
    assert_same_model(again, model)
    assert [r.split("?")[0] for r in _QuietHandler.requests] == ["/factors/hand/latest.json"]
    assert _QuietHandler.requests[0].split("?")[1].startswith("v=")  # cache-busted, as OpenFactor asks for latest
    dated = xf.load_snapshot(f"{base}/factors/hand", as_of="2026-01-16")
    assert dated.as_of == "2026-01-16"


def test_http_missing_optional_files_are_skipped(http_root, model):
    root, base = http_root
    folder = write_openfactor_folder(root / "snap", model)
    (folder / "index_returns.csv").unlink()
    (folder / "details/exposures_panel.csv.gz").unlink()
    snapshot = xf.load_snapshot(f"{base}/snap")
    assert snapshot.index_returns is None and snapshot.exposure_panel is None
    report = xf.portfolio_report(pd.DataFrame({"ticker": ["AAA"], "value": [1.0]}), snapshot)
    assert "no lagged exposure panel" in report["attribution"]["note"].iloc[0]


def test_http_missing_required_file_is_refused(http_root, model):
    root, base = http_root
    folder = write_openfactor_folder(root / "snap", model)
    (folder / "idiosyncratic_risk.csv").unlink()
    with pytest.raises(xf.SnapshotError, match="idiosyncratic_risk.csv: required file missing"):
        xf.load_snapshot(f"{base}/snap")


def test_crash_mid_download_leaves_no_cache_and_next_load_works(http_root, model, monkeypatch):
    root, base = http_root
    write_openfactor_folder(root / "snap", model)
    real = sources._fetch_file
    calls = {"n": 0}

    def crashing(base, name, staging, *args):
        calls["n"] += 1
        if calls["n"] == 4:
            (staging / name).write_bytes(b"ticker,factor\nAAA,mom")  # half a file, then the crash
            raise KeyboardInterrupt("simulated crash")
        return real(base, name, staging, *args)

    monkeypatch.setattr(sources, "_fetch_file", crashing)
    with pytest.raises(KeyboardInterrupt):
        xf.load_snapshot(f"{base}/snap")
    snapshots = sources.cache_dir() / "snapshots"
    assert not [p for p in snapshots.rglob("*") if p.is_dir() and p.name == "2026-01-16"]
    monkeypatch.setattr(sources, "_fetch_file", real)
    assert_same_model(xf.load_snapshot(f"{base}/snap"), model)


def test_binary_cache_is_used_on_repeat_loads(hand_folder, model, monkeypatch):
    first = xf.load_snapshot(hand_folder)
    xf.snapshot.clear_loaded()

    def refuse(*args, **kwargs):
        raise AssertionError("CSV parsed again despite the binary cache")

    monkeypatch.setattr(sources, "read_snapshot_folder", refuse)
    second = xf.load_snapshot(hand_folder)
    assert second is not first
    assert_same_model(second, model)
    pd.testing.assert_frame_equal(second.factor_returns, first.factor_returns)


def test_changed_folder_is_reloaded(hand_folder, model):
    first = xf.load_snapshot(hand_folder)
    assert xf.load_snapshot(hand_folder) is first  # once per process
    idiosyncratic = pd.read_csv(hand_folder / "idiosyncratic_risk.csv")
    idiosyncratic["idiosyncratic_risk"] *= 2
    idiosyncratic.to_csv(hand_folder / "idiosyncratic_risk.csv", index=False)
    second = xf.load_snapshot(hand_folder)
    np.testing.assert_allclose(second.idiosyncratic_risk, 2 * model.idiosyncratic_risk)


def test_crash_while_writing_binary_cache_is_harmless(hand_folder, model, monkeypatch):
    from xlfactor.snapshot import binary

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(binary.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        xf.load_snapshot(hand_folder)
    monkeypatch.undo()
    xf.snapshot.clear_loaded()
    leftovers = [p for p in sources.cache_dir().rglob("*.tmp")]
    assert leftovers == []
    assert_same_model(xf.load_snapshot(hand_folder), model)


def test_write_snapshot_round_trip(tmp_path, hand_snapshot):
    folder = xf.write_snapshot(hand_snapshot, tmp_path / "copy")
    assert verify_manifest(folder) is None
    copy = xf.load_snapshot(folder)
    np.testing.assert_array_equal(copy.exposures, hand_snapshot.exposures)
    np.testing.assert_array_equal(copy.factor_covariance, hand_snapshot.factor_covariance)
    np.testing.assert_array_equal(copy.market_cap, hand_snapshot.market_cap)
    np.testing.assert_array_equal(np.asarray(copy.exposure_panel.values), np.asarray(hand_snapshot.exposure_panel.values))
    (folder / "universe.csv").write_text((folder / "universe.csv").read_text() + "2026-01-16,XYZ,1\n")
    assert "does not match its checksum" in verify_manifest(folder)
    with pytest.raises(xf.SnapshotError, match="universe.csv does not match its checksum"):
        xf.load_snapshot(folder)


# ---------------------------------------------------------------- one code path for every URL (fsspec)


def _assert_identical(first, second):
    """Every array, frame and metadata entry (but the source) of two snapshots equal, bit for bit."""
    for name in ("tickers", "factor_names", "factor_groups", "exposures", "raw_exposures", "market_cap",
                 "factor_covariance", "idiosyncratic_risk", "idiosyncratic_observations"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)
    for name in ("factor_returns", "residual_returns", "index_returns"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    np.testing.assert_array_equal(np.asarray(first.exposure_panel.values), np.asarray(second.exposure_panel.values))
    np.testing.assert_array_equal(first.exposure_panel.dates, second.exposure_panel.dates)
    strip = lambda meta: {k: v for k, v in meta.items() if k != "source"}  # noqa: E731
    assert strip(first.metadata) == strip(second.metadata)


def test_file_and_http_snapshots_load_identically(http_root, model):
    root, base = http_root
    folder = write_openfactor_folder(root / "snap", model)
    over_http = xf.load_snapshot(f"{base}/snap")
    over_file = xf.load_snapshot(folder.as_uri())
    assert over_http.source == f"{base}/snap" and over_file.source == folder.as_uri()
    assert_same_model(over_http, model)
    _assert_identical(over_http, over_file)
    _assert_identical(over_file, xf.load_snapshot(folder))


def test_memory_url_snapshot(tmp_path, model):
    import fsspec

    folder = write_openfactor_folder(tmp_path / "snap", model)
    memory = fsspec.filesystem("memory")
    prefix = f"/xlfactor-test-{tmp_path.name}"
    try:
        for path in folder.rglob("*"):
            if path.is_file():
                memory.pipe(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
        snapshot = xf.load_snapshot(f"memory://{prefix}")
        assert_same_model(snapshot, model)
        _assert_identical(snapshot, xf.load_snapshot(folder))
    finally:
        memory.rm(prefix, recursive=True)


def _public_bucket(root, model, universe="openfactor-hand"):
    """Lay out ``root`` as OpenFactor's public bucket: factors/<universe>/{latest.json, latest/, date=.../}."""
    prefix = root / "factors" / universe
    write_openfactor_folder(prefix / "latest", model)
    write_openfactor_folder(prefix / "date=2026-01-16", model)
    (prefix / "latest.json").write_text(
        json.dumps({"latest": "2026-01-16", "universe": universe, "model_version": "0.2.0"})
    )
    return prefix


def test_named_snapshot_reads_the_public_layout(http_root, model, monkeypatch, tmp_path):
    root, base = http_root
    _public_bucket(root, model)
    monkeypatch.setenv("XLFACTOR_OPENFACTOR_URL", base)
    monkeypatch.chdir(tmp_path)  # no local folder of that name
    _QuietHandler.requests.clear()
    snapshot = xf.load_snapshot("openfactor-hand")
    assert_same_model(snapshot, model)
    assert snapshot.source == "openfactor-hand"
    paths = [r.split("?")[0] for r in _QuietHandler.requests]
    assert paths[0] == "/factors/openfactor-hand/latest.json"
    assert "/factors/openfactor-hand/latest/metadata.json" in paths
    assert not [p for p in paths if "date=" in p]
    # A dated load reads date=YYYY-MM-DD/ (into a fresh cache, so it is downloaded).
    monkeypatch.setenv("XLFACTOR_CACHE_DIR", str(tmp_path / "fresh-cache"))
    xf.snapshot.clear_loaded()
    _QuietHandler.requests.clear()
    dated = xf.load_snapshot("openfactor-hand", as_of="2026-01-16")
    _assert_identical(dated, snapshot)
    paths = [r.split("?")[0] for r in _QuietHandler.requests]
    assert paths[0] == "/factors/openfactor-hand/date=2026-01-16/metadata.json"
    assert not [p for p in paths if "latest" in p]
    # OpenFactor's bucket name reads through the same public address.
    xf.snapshot.clear_loaded()
    _assert_identical(xf.load_snapshot("r2://openfactor-public/factors/openfactor-hand"), snapshot)


def test_stale_latest_folder_falls_back_to_the_dated_one(http_root, model, monkeypatch):
    root, base = http_root
    prefix = _public_bucket(root, model)
    meta = json.loads((prefix / "latest" / "metadata.json").read_text())
    meta["as_of_date"] = "2026-01-15"  # latest/ still holds yesterday's files while latest.json moved on
    (prefix / "latest" / "metadata.json").write_text(json.dumps(meta))
    snapshot = xf.load_snapshot(f"{base}/factors/openfactor-hand")
    assert snapshot.as_of == "2026-01-16"
    assert_same_model(snapshot, model)


def test_public_url_helpers(http_root, monkeypatch):
    from xlfactor.snapshot import remote

    root, base = http_root
    (root / "semantic_factors.csv").write_text("ticker,ai\nAAA,1\n")
    assert remote.resolve_public_url("r2://openfactor-public/semantic_factors.csv") == (
        "https://openfactor-data.rallies.ai/semantic_factors.csv"
    )
    monkeypatch.setenv("XLFACTOR_OPENFACTOR_URL", base)
    assert sources.read_url("r2://openfactor-public/semantic_factors.csv") == b"ticker,ai\nAAA,1\n"
    assert sources.read_url("r2://openfactor-public/absent.csv") is None
    from xlfactor.errors import DownloadError

    with pytest.raises(DownloadError, match=r"only r2://openfactor-public/<key> can be read without credentials"):
        sources.read_url("r2://private-bucket/semantic_factors.csv")


def test_missing_cloud_package_says_what_to_install(monkeypatch):
    import importlib

    registry = importlib.import_module("fsspec.registry")
    monkeypatch.delitem(registry._registry, "s3", raising=False)
    monkeypatch.setitem(
        registry.known_implementations, "s3", {"class": "xlfactor_absent_s3fs.S3FileSystem", "err": "Install s3fs"}
    )
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot("s3://bucket/factors/openfactor-us1000")
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith("reading s3:// URLs needs s3fs: pip install s3fs")


def test_cache_folder_from_platformdirs_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv("XLFACTOR_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert sources.cache_dir() == tmp_path / "xdg" / "xlfactor"
    import platformdirs

    assert sources.cache_dir() == Path(platformdirs.user_cache_dir("xlfactor", appauthor=False))
    monkeypatch.setenv("XLFACTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert sources.cache_dir() == tmp_path / "mine"


def test_limits_from_arguments_and_environment(http_root, model, monkeypatch):
    from xlfactor.snapshot import SourceLimits

    root, base = http_root
    write_openfactor_folder(root / "snap", model)
    with pytest.raises(xf.SnapshotError, match=r"over the 100 bytes size cap"):
        xf.load_snapshot(f"{base}/snap", limits=SourceLimits(max_file_bytes=100))
    monkeypatch.setenv("XLFACTOR_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(xf.XlfactorError, match=r"^XLFACTOR_DOWNLOAD_DEADLINE='soon' is not a positive number$"):
        xf.load_snapshot(f"{base}/snap")
    monkeypatch.setenv("XLFACTOR_DOWNLOAD_DEADLINE", "30")
    monkeypatch.setenv("XLFACTOR_MAX_FILE_BYTES", "1e6")
    assert SourceLimits.from_env() == SourceLimits(deadline_seconds=30.0, max_file_bytes=1_000_000)
    assert SourceLimits.from_env(deadline_seconds=5).deadline_seconds == 5
    assert_same_model(xf.load_snapshot(f"{base}/snap"), model)


def test_concurrent_loads_download_once(http_root, model):
    from concurrent.futures import ThreadPoolExecutor

    root, base = http_root
    write_openfactor_folder(root / "snap", model)
    _QuietHandler.requests.clear()
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: xf.load_snapshot(f"{base}/snap"), range(4)))
    for snapshot in loaded:
        assert_same_model(snapshot, model)
    assert [r.split("?")[0] for r in _QuietHandler.requests].count("/snap/residual_returns.csv") == 1
