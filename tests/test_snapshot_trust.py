"""A hostile or broken snapshot source: names stay contained, downloads stay bounded, no wrong number passes.

Each test is one case of issue 21 (snapshot part); ``tests/reliability/snapshot.csv`` lists
them. Servers bind 127.0.0.1 and every loop in them is bounded.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import io
import json
import logging
import os
import shutil
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xlfactor as xf
from tests.handmodel import FACTORS, write_openfactor_folder


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture's folder; ``behaviors[path]`` replaces the answer for one path."""

    behaviors: dict = {}
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        path = self.path.split("?")[0]
        type(self).requests.append(path)
        behavior = type(self).behaviors.get(path)
        if behavior is not None:
            behavior(self)
        else:
            super().do_GET()


@pytest.fixture
def served(tmp_path):
    """(root folder, base URL, handler class) of a local http server on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_Handler,), {"behaviors": {}, "requests": []})

    def make(*args, **kwargs):
        return handler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def _cache_root(prefix: str) -> Path:
    """Where today's and tomorrow's code put a URL prefix's downloads (independent of the code)."""
    return Path(os.environ["XLFACTOR_CACHE_DIR"]) / "snapshots" / hashlib.sha256(prefix.encode()).hexdigest()[:24]


# ------------------------------------------------------------------ 1. paths are contained


def test_hostile_latest_json_cannot_replace_a_folder(served, tmp_path, model):
    root, base, _ = served
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    universe = root / "u"
    write_openfactor_folder(universe / "latest", model)
    hostile = "./" + os.path.relpath(victim, _cache_root(f"{base}/u"))
    (universe / "latest.json").write_text(json.dumps({"latest": hostile}))
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(f"{base}/u")
    message = _one_line(caught.value)
    assert "latest.json" in message and repr(hostile) in message
    assert (victim / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]


def test_local_latest_json_with_dotdot_is_refused(tmp_path, model):
    folder = tmp_path / "u"
    write_openfactor_folder(tmp_path / "elsewhere" / "date=2026-01-16", model)
    folder.mkdir()
    (folder / "date=..").mkdir()
    (folder / "latest.json").write_text(json.dumps({"latest": "../elsewhere/date=2026-01-16"}))
    with pytest.raises(xf.SnapshotError, match=r"latest.json: \"latest\" '\.\./elsewhere/date=2026-01-16' is not a plain name"):
        xf.load_snapshot(folder)


def test_published_manifest_with_a_path_name_is_refused(served, model):
    root, base, _ = served
    folder = write_openfactor_folder(root / "snap", model)
    (folder / "manifest.json").write_text(json.dumps({"files": {"../../etc/passwd": {"bytes": 1, "sha256": "0" * 64}}}))
    with pytest.raises(xf.SnapshotError, match=r"manifest.json: file name '\.\./\.\./etc/passwd'.*not a plain name"):
        xf.load_snapshot(f"{base}/snap")


def test_cache_writes_stay_inside_the_cache_folder(served, tmp_path, model):
    root, base, _ = served
    write_openfactor_folder(root / "snap", model)
    outside = tmp_path / "outside"
    outside.mkdir()
    planted = _cache_root(f"{base}/snap")
    planted.parent.mkdir(parents=True)
    planted.symlink_to(outside, target_is_directory=True)  # a link planted in the cache
    with pytest.raises(xf.SnapshotError, match="outside the cache folder"):
        xf.load_snapshot(f"{base}/snap")
    assert list(outside.iterdir()) == []


# ------------------------------------------------------------------ 3. bounded downloads


def _trickle(seconds_per_byte: float, first_delay: float = 0.0):
    """An answer that announces 10,000 bytes and sends one byte every ``seconds_per_byte`` (bounded)."""

    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", "10000")
        handler.end_headers()
        try:
            handler.wfile.flush()
            for _ in range(int(first_delay / 0.1)):
                time.sleep(0.1)
            for _ in range(60):  # at most 60 bytes, then the server gives up
                handler.wfile.write(b"1")
                handler.wfile.flush()
                time.sleep(seconds_per_byte)
        except OSError:
            pass

    return answer


@pytest.mark.slow
@pytest.mark.parametrize("pace", ["one byte every 0.2 s", "headers, then 20 s of silence"])
def test_trickling_source_is_cut_at_the_deadline(served, model, monkeypatch, pace):
    root, base, handler = served
    write_openfactor_folder(root / "snap", model)
    answer = _trickle(0.2) if pace.startswith("one") else _trickle(0.2, first_delay=20.0)
    handler.behaviors["/snap/factor_returns.csv"] = answer
    monkeypatch.setenv("XLFACTOR_DOWNLOAD_DEADLINE", "1.5")
    start = time.monotonic()
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(f"{base}/snap")
    elapsed = time.monotonic() - start
    message = _one_line(caught.value)
    assert "factor_returns.csv" in message and "1.5 s download deadline" in message
    assert elapsed < 6.0  # the deadline (1.5 s) plus the other files, far below the source's 12 s or 20 s


def test_file_over_the_size_cap_is_refused(served, model, monkeypatch):
    root, base, _ = served
    folder = write_openfactor_folder(root / "snap", model)
    sizes = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    largest = max(sizes, key=sizes.get)
    monkeypatch.setenv("XLFACTOR_MAX_FILE_BYTES", str(sizes[largest] - 1))
    with pytest.raises(xf.SnapshotError, match=rf"{largest}: .*over the .* size cap") as caught:
        xf.load_snapshot(f"{base}/snap")
    _one_line(caught.value)


def _bomb(decompressed_bytes: int) -> bytes:
    """A valid gzip stream of ``decompressed_bytes`` zeros after a CSV header (about 1000:1)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as stream:
        stream.write(b"as_of_date,ticker,factor,value\n")
        block = b"0" * (1 << 20)
        for _ in range(decompressed_bytes >> 20):
            stream.write(block)
    return out.getvalue()


@pytest.mark.parametrize("where", ["http", "folder"])
def test_gzip_bomb_exposure_panel_is_refused_at_the_cap(served, model, monkeypatch, where):
    root, base, _ = served
    folder = write_openfactor_folder(root / "snap", model)
    bomb = _bomb(200 * 2**20)  # 200 MiB inflated, about 200 KB on the wire
    (folder / "details/exposures_panel.csv.gz").write_bytes(bomb)
    monkeypatch.setenv("XLFACTOR_MAX_DECOMPRESSED_BYTES", str(16 * 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(xf.SnapshotError) as caught:
            xf.load_snapshot(f"{base}/snap" if where == "http" else folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = _one_line(caught.value)
    assert "exposures_panel.csv.gz" in message and "16 MiB cap" in message
    assert peak < 60 * 2**20  # the cap and the compressed file, not the 200 MiB


# ------------------------------------------------------------------ 5. no wrong number passes


@pytest.mark.parametrize("cell", ["abc", "1e400", "-inf"])
def test_text_or_infinite_factor_return_is_refused(hand_folder, cell):
    path = hand_folder / "factor_returns.csv"
    frame = pd.read_csv(path, index_col=0, dtype=str)
    frame.iloc[3, 2] = cell
    frame.to_csv(path)
    with pytest.raises(xf.SnapshotError, match=rf"factor_returns.csv: 1 non-numeric or infinite values \(2026-01-08/{FACTORS[2]}="):
        xf.load_snapshot(hand_folder)


def test_blank_factor_return_stays_missing(hand_folder):
    path = hand_folder / "factor_returns.csv"
    frame = pd.read_csv(path, index_col=0, dtype=str)
    frame.iloc[3, 2] = ""
    frame.to_csv(path)
    snapshot = xf.load_snapshot(hand_folder)
    assert np.isnan(snapshot.factor_returns.loc["2026-01-08", FACTORS[2]])


def test_text_residual_return_is_refused(hand_folder):
    path = hand_folder / "residual_returns.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[7, "residual_return"] = "1e400"
    frame.to_csv(path, index=False)
    with pytest.raises(xf.SnapshotError, match=r"residual_returns.csv: 1 non-numeric or infinite values"):
        xf.load_snapshot(hand_folder)


def test_implausible_factor_return_is_refused(hand_folder):
    path = hand_folder / "factor_returns.csv"
    frame = pd.read_csv(path, index_col=0)
    frame.iloc[5, 1] = 3.0  # +300% in a day
    frame.to_csv(path)
    with pytest.raises(xf.SnapshotError, match=r"factor_returns.csv: 1 daily factor returns beyond \+/-1"):
        xf.load_snapshot(hand_folder)


def test_idiosyncratic_volatility_over_1000_percent_is_refused(hand_folder):
    path = hand_folder / "idiosyncratic_risk.csv"
    frame = pd.read_csv(path)
    frame.loc[frame["ticker"] == "CCC", "idiosyncratic_risk"] = 1e6
    frame.to_csv(path, index=False)
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: 1 idiosyncratic_risk values above 1000% \(CCC 1e\+06\)"):
        xf.load_snapshot(hand_folder)


def test_negative_daily_idiosyncratic_risk_is_refused(hand_folder):
    path = hand_folder / "idiosyncratic_risk.csv"
    frame = pd.read_csv(path)
    frame["idiosyncratic_risk_daily"] = frame["idiosyncratic_risk"]
    frame.loc[frame["ticker"] == "BBB", "idiosyncratic_risk_daily"] = -0.2
    frame.to_csv(path, index=False)
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: 1 idiosyncratic_risk_daily values negative \(BBB -0.2\)"):
        xf.load_snapshot(hand_folder)


def test_implausible_factor_volatility_is_refused(hand_folder):
    path = hand_folder / "factor_covariance.csv"
    frame = pd.read_csv(path, index_col=0)
    frame.iloc[1, 1] = 150.0  # a 1,225% volatility
    frame.to_csv(path)
    with pytest.raises(xf.SnapshotError, match=rf"factor_covariance.csv: factor volatility above 1000% a year.*{FACTORS[1]} 12.2"):
        xf.load_snapshot(hand_folder)


def test_metadata_date_disagreeing_with_universe_is_refused(hand_folder):
    path = hand_folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["as_of_date"] = "2026-01-15"
    path.write_text(json.dumps(metadata))
    with pytest.raises(xf.SnapshotError, match=r"metadata.json: as_of_date 2026-01-15 disagrees with universe.csv \(2026-01-16\)"):
        xf.load_snapshot(hand_folder)


def test_xlfactor_metadata_without_simulated_flag_is_refused(hand_folder):
    path = hand_folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["model_version"] = "xlfactor-builder-1"  # written by xlfactor's builder, which always states it
    path.write_text(json.dumps(metadata))
    with pytest.raises(xf.SnapshotError, match=r'metadata.json: written by xlfactor but has no "simulated" flag'):
        xf.load_snapshot(hand_folder)
    metadata["simulated"] = "no"
    path.write_text(json.dumps(metadata))
    with pytest.raises(xf.SnapshotError, match=r'"simulated" must be true or false'):
        xf.load_snapshot(hand_folder)
    metadata["simulated"] = True
    path.write_text(json.dumps(metadata))
    assert xf.load_snapshot(hand_folder).is_simulated


def _manifest(folder: Path) -> dict:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            files[path.relative_to(folder).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return {"files": files}


def test_published_manifest_is_fetched_and_checked(served, model):
    root, base, handler = served
    folder = write_openfactor_folder(root / "snap", model)
    manifest = _manifest(folder)
    manifest["files"]["extra_file_xlfactor_does_not_read.csv"] = {"bytes": 3, "sha256": "a" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    snapshot = xf.load_snapshot(f"{base}/snap")
    assert "/snap/manifest.json" in handler.requests
    assert snapshot.as_of == "2026-01-16"
    # the same bytes served under another prefix, with one file changed after publication
    shutil.copytree(folder, root / "snap2")
    idiosyncratic = root / "snap2" / "idiosyncratic_risk.csv"
    text = idiosyncratic.read_text()
    at = text.index("AAA,0.") + 6
    idiosyncratic.write_text(text[:at] + ("1" if text[at] != "1" else "2") + text[at + 1 :])  # same size, one digit changed
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: does not match the published manifest.json"):
        xf.load_snapshot(f"{base}/snap2")
    idiosyncratic.write_text(text + "ZZZ,0.2,252\n")  # grown after publication: refused before reading past the announced size
    with pytest.raises(xf.SnapshotError, match=r"idiosyncratic_risk.csv: larger than the \d+ bytes its manifest.json announces"):
        xf.load_snapshot(f"{base}/snap2")


def _rewrite_npz(path: Path, change) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _binary_folder() -> Path:
    (found,) = [p for p in (Path(os.environ["XLFACTOR_CACHE_DIR"]) / "binary").iterdir() if p.is_dir()]
    return found


@pytest.mark.parametrize("damage", ["covariance x4", "truncated", "bad CRC"])
def test_damaged_binary_cache_is_rebuilt_from_the_csvs(hand_folder, model, caplog, damage):
    first = xf.load_snapshot(hand_folder)
    npz = _binary_folder() / "snapshot.npz"
    if damage == "covariance x4":
        _rewrite_npz(npz, lambda arrays: arrays.__setitem__("factor_covariance", 4 * arrays["factor_covariance"]))
        with np.load(npz) as data:  # a valid file that np.load reads without complaint
            assert np.allclose(data["factor_covariance"], 4 * first.factor_covariance)
    elif damage == "truncated":
        npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    else:
        data = bytearray(npz.read_bytes())
        with zipfile.ZipFile(npz) as archive:
            info = archive.getinfo("factor_covariance.npy")
        data[info.header_offset + 200] ^= 0xFF  # one flipped bit inside a stored member
        npz.write_bytes(bytes(data))
    xf.snapshot.clear_loaded()
    with caplog.at_level(logging.WARNING, logger="xlfactor.snapshot.sources"):
        second = xf.load_snapshot(hand_folder)
    order = [list(second.factor_names).index(f) for f in FACTORS]
    np.testing.assert_allclose(second.factor_covariance[np.ix_(order, order)], model.factor_covariance, rtol=1e-12)
    assert "rebuilt from the CSVs" in second.diagnostics["binary_cache"]
    assert any("rebuilt from the CSVs" in r.getMessage() for r in caplog.records)
    xf.snapshot.clear_loaded()
    third = xf.load_snapshot(hand_folder)  # the rebuilt copy is trusted again, without a note
    assert "binary_cache" not in third.diagnostics
    np.testing.assert_array_equal(third.factor_covariance, second.factor_covariance)


def test_binary_cache_of_other_sources_is_not_trusted(hand_folder, model, monkeypatch):
    xf.load_snapshot(hand_folder)
    record = _binary_folder() / "checksums.json"
    content = json.loads(record.read_text())
    content["sources"] = "0" * 64
    record.write_text(json.dumps(content))
    xf.snapshot.clear_loaded()
    again = xf.load_snapshot(hand_folder)
    assert "other source files" in again.diagnostics["binary_cache"]


# ------------------------------------------------------------------ 6. one line, never a traceback


def test_residual_returns_cut_at_a_line_boundary(hand_folder):
    path = hand_folder / "residual_returns.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-3]))  # the last date keeps AAA, BBB and CCC only
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(hand_folder)
    message = _one_line(caught.value)
    assert message.startswith("snapshot file residual_returns.csv: looks cut at a line boundary")
    assert "2026-01-16 stops at CCC" in message


def test_residual_returns_cut_at_a_date_boundary(hand_folder):
    path = hand_folder / "residual_returns.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-6]))  # the whole last date is gone
    with pytest.raises(xf.SnapshotError, match=r"residual_returns.csv: ends on 2026-01-15 but factor_returns.csv runs to 2026-01-16"):
        xf.load_snapshot(hand_folder)


@pytest.mark.parametrize("content", ["[\"2026-01-16\"]", "\"2026-01-16\"", "null", "{\"latest\": 20260116}"])
def test_latest_json_that_is_not_an_object_naming_a_date(served, tmp_path, model, content):
    root, base, _ = served
    write_openfactor_folder(root / "u" / "latest", model)
    (root / "u" / "latest.json").write_text(content)
    local = tmp_path / "local"
    write_openfactor_folder(local / "date=2026-01-16", model)
    (local / "latest.json").write_text(content)
    for source in (f"{base}/u", local):
        with pytest.raises(xf.SnapshotError) as caught:
            xf.load_snapshot(source)
        message = _one_line(caught.value)
        assert message.startswith("snapshot file latest.json: ")
        assert "JSON object" in message or "not a plain name" in message


def test_reliability_table_lists_real_tests():
    """Every row of tests/reliability/snapshot.csv names a test that exists and is marked handled."""
    import csv
    import re

    table = Path(__file__).parent / "reliability" / "snapshot.csv"
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(set(row) == {"case", "handled", "test"} for row in rows)
    assert len({row["case"] for row in rows}) == len(rows)
    for row in rows:
        assert row["handled"] == "yes", row
        path, _, node = row["test"].partition("::")
        name = re.sub(r"\[.*\]$", "", node)
        source = (Path(__file__).parents[1] / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, row["test"]


def test_local_manifest_naming_a_file_outside_is_refused(hand_folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    name = os.path.relpath(secret, hand_folder)
    (hand_folder / "manifest.json").write_text(json.dumps({"files": {name: {"bytes": 9, "sha256": "0" * 64}}}))
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(hand_folder)
    message = _one_line(caught.value)
    assert message.startswith("snapshot file manifest.json: unsafe file name") and "not yours" not in message


# ------------------------------------------------------------------ 4. no redirects, gzip in transit, one deadline


@contextlib.contextmanager
def _http_server(handler_class):
    """A ThreadingHTTPServer on 127.0.0.1 running ``handler_class``; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def redirecting_hosts():
    """(host A handler that answers 302 to host B for every HEAD and GET, host B handler counting its requests)."""

    class Target(http.server.BaseHTTPRequestHandler):
        requests: list = []

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server API
            type(self).requests.append(self.path)
            body = b'{"latest": "2026-01-16"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

    class Redirect(http.server.BaseHTTPRequestHandler):
        target = ""
        requests: list = []

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server API
            type(self).requests.append(self.path)
            self.send_response(302)
            self.send_header("Location", type(self).target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

    return Redirect, Target


def test_a_redirect_to_another_host_is_not_followed():
    from xlfactor.snapshot.remote import read_url

    redirect, target = redirecting_hosts()
    with _http_server(target) as host_b, _http_server(redirect) as host_a:
        redirect.target = host_b
        with pytest.raises(xf.errors.DownloadError) as caught:
            read_url(f"{host_a}/snap/latest.json")
        assert "HTTP 302" in _one_line(caught.value) and f"{host_a}/snap/latest.json" in str(caught.value)
        with pytest.raises(xf.SnapshotError) as caught:
            xf.load_snapshot(f"{host_a}/snap")
        assert "redirect" in _one_line(caught.value) and host_b not in str(caught.value)
        assert redirect.requests and target.requests == []  # host B never heard from us


class _Gzipping(http.server.SimpleHTTPRequestHandler):
    """Serves a folder gzip-compressed in transit (Content-Encoding: gzip, compressed Content-Length) whatever was asked."""

    accept: list = []

    def log_message(self, *args):
        pass

    def _answer(self, with_body: bool) -> None:
        type(self).accept.append(self.headers.get("Accept-Encoding"))
        path = Path(self.translate_path(self.path.split("?")[0]))
        if not path.is_file():
            self.send_error(404)
            return
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server API
        self._answer(True)

    def do_HEAD(self):  # noqa: N802 - http.server API
        self._answer(False)


def test_a_server_that_gzips_in_transit_is_read_whole(tmp_path, model):
    folder = write_openfactor_folder(tmp_path / "www" / "snap", model)
    handler = type("Gz", (_Gzipping,), {"accept": []})

    def make(*args, **kwargs):
        return handler(*args, directory=str(tmp_path / "www"), **kwargs)

    with _http_server(make) as base:
        snapshot = xf.load_snapshot(f"{base}/snap")
    local = xf.load_snapshot(folder)
    assert snapshot.tickers == local.tickers if isinstance(snapshot.tickers, list) else list(snapshot.tickers) == list(local.tickers)
    np.testing.assert_array_equal(np.asarray(snapshot.factor_covariance), np.asarray(local.factor_covariance))
    assert handler.accept and set(handler.accept) == {"identity"}


@pytest.mark.slow
def test_one_deadline_covers_the_whole_snapshot_download(served, model, monkeypatch):
    """Every file answers within the deadline, but together they take longer: the download stops at the deadline."""
    root, base, handler = served
    folder = write_openfactor_folder(root / "snap", model)

    def slow(request_handler):
        time.sleep(0.5)
        http.server.SimpleHTTPRequestHandler.do_GET(request_handler)

    for path in folder.iterdir():
        handler.behaviors[f"/snap/{path.name}"] = slow
    monkeypatch.setenv("XLFACTOR_DOWNLOAD_DEADLINE", "1.5")
    start = time.monotonic()
    with pytest.raises(xf.SnapshotError) as caught:
        xf.load_snapshot(f"{base}/snap")
    elapsed = time.monotonic() - start
    assert "1.5 s download deadline" in _one_line(caught.value) or "deadline" in str(caught.value)
    assert len(list(folder.iterdir())) * 0.5 > 3.0  # each file alone is well inside 1.5 s; all of them are not
    assert elapsed < 3.0


@pytest.mark.slow
def test_the_lock_wait_is_inside_the_download_deadline(served, model, monkeypatch):
    import filelock

    root, base, _ = served
    write_openfactor_folder(root / "snap", model)
    cache = _cache_root(f"{base}/snap")
    cache.mkdir(parents=True)
    date = str(pd.Timestamp(model.as_of).date()) if hasattr(model, "as_of") else None
    locks = [filelock.FileLock(str(cache / f".{d}.lock")) for d in {date, "2026-01-16"} if d]
    for lock in locks:
        lock.acquire()
    try:
        monkeypatch.setenv("XLFACTOR_DOWNLOAD_DEADLINE", "1")
        start = time.monotonic()
        with pytest.raises(xf.SnapshotError, match="locked"):
            xf.load_snapshot(f"{base}/snap")
        assert time.monotonic() - start < 2.5  # not deadline x number of files
    finally:
        for lock in locks:
            lock.release()


# ------------------------------------------------------------------ 5. remote semantic caches read through the same code


def test_a_remote_semantic_cache_follows_no_redirect():
    from xlfactor.semantic.cache import read_cache
    from xlfactor.semantic.client import SemanticError

    redirect, target = redirecting_hosts()
    with _http_server(target) as host_b, _http_server(redirect) as host_a:
        redirect.target = host_b
        with pytest.raises(SemanticError) as caught:
            read_cache(f"{host_a}/semantic_factors.csv", must_exist=True)
        assert "HTTP 302" in _one_line(caught.value)
        assert redirect.requests and target.requests == []


def test_a_remote_semantic_cache_is_capped_and_r2_names_go_through_the_public_base(served, monkeypatch):
    from xlfactor.semantic.cache import read_cache
    from xlfactor.semantic.client import SemanticError

    root, base, handler = served
    rows = "".join(f"T{i:05d},1\n" for i in range(5000))
    (root / "semantic_factors.csv").write_text("ticker,grid_storage\n" + rows)
    monkeypatch.setenv("XLFACTOR_OPENFACTOR_URL", base)
    cache = read_cache("r2://openfactor-public/semantic_factors.csv", must_exist=True)
    assert cache.labels.shape == (5000, 1) and handler.requests[-1] == "/semantic_factors.csv"
    monkeypatch.setenv("XLFACTOR_MAX_FILE_BYTES", "10000")  # the file is ~55 KB
    with pytest.raises(SemanticError) as caught:
        read_cache(f"{base}/semantic_factors.csv", must_exist=True)
    assert "size cap" in _one_line(caught.value)
