"""The team server (issue 21, deliverables 2 and 3): tokens, the access policy, request caps, workers, logging.

The server cases run the real ``xlfactor serve`` in a subprocess on 127.0.0.1 (a free port,
bounded waits) and call it the way Excel's add-in does (``POST /xlwings/custom-functions-call``).
Expected numbers come from calling the catalog in this process; expected refusals are checked
to make no request (a local HTTP server counts what it receives) and to read no file.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from xlfactor.errors import XlfactorError
from xlfactor.excel.server import TokenStore, parse_tokens
from xlfactor.functions import OF_REALIZED, OF_THEMES, OF_TOTALRISK
from xlfactor.functions.catalog import AccessPolicy, access_policy, url_allowed

ROOT = Path(__file__).resolve().parents[1]
ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef-xyz"
MAX_CELLS = 120_000  # --max-cells counts range cells (rows x columns)
MAX_BYTES = 2_000_000
SECRET = "hunter2-secret-cell"


def _tickers() -> list[str]:
    from xlfactor.risk.model_data import factor_model_data
    from xlfactor.snapshot.sources import load_snapshot

    return [str(t) for t in factor_model_data(load_snapshot()).tickers]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        XLFACTOR_CACHE_DIR=str(cache),
        XLWINGS_LICENSE_KEY="noncommercial",
    )
    env.pop("XLFACTOR_SERVER_TOKENS", None)
    return env


def _start(args: list[str], tmp: Path, port: int) -> tuple[subprocess.Popen, Path]:
    """Start ``xlfactor serve`` and wait (at most 90 s) until it answers; its stderr goes to a log file."""
    import httpx

    log = tmp / f"serve-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "xlfactor.cli", "serve", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        cwd=tmp,
        env=_environment(tmp / "cache"),
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"xlfactor serve exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/xlwings/custom-functions-meta", timeout=2).status_code == 200:
                return process, log
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"xlfactor serve did not answer within 90 s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


class _Counter(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []
    redirect_to = ""  # paths under /allowed/hop/ answer 302 to this base (when set)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        if type(self).redirect_to and self.path.startswith("/allowed/hop/"):
            self.send_response(302)
            self.send_header("Location", type(self).redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_error(404)

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def counting_server():
    """A local HTTP server that counts the requests it receives (all answered 404)."""
    _Counter.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Counter.requests
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def team_server(tmp_path_factory, counting_server):
    """``xlfactor serve`` with two users, a data root, one allowed URL prefix and small caps."""
    pytest.importorskip("xlwings_server")
    tmp = tmp_path_factory.mktemp("serve")
    from tests.test_track_attribution import synthetic_track

    root = tmp / "root"
    synthetic_track(root / "users" / "alice" / "fund", 30, seed=1)
    synthetic_track(root / "users" / "bob" / "fund", 30, seed=2)
    (tmp / "outside").mkdir()
    (tmp / "outside" / "secret.csv").write_text(f"ticker,label\nAAA,{SECRET}\n")
    (root / "escape").symlink_to(tmp / "outside")
    tokens = tmp / "tokens.csv"
    tokens.write_text(f"# team tokens\nalice,{ALICE}\nbob,{BOB}\n")
    tokens.chmod(0o600)
    url_port, _ = counting_server
    port = _free_port()
    args = ["--tokens", str(tokens), "--data-root", str(root), "--allow-url", f"http://127.0.0.1:{url_port}/allowed/"]
    args += ["--max-cells", str(MAX_CELLS), "--max-bytes", str(MAX_BYTES), "--heavy-rows", "2000"]  # the new name, and the old one
    process, log = _start(args, tmp, port)
    yield {"url": f"http://127.0.0.1:{port}", "root": root, "tmp": tmp, "log": log, "url_port": url_port}
    _stop(process)


def _body(name: str, args: list) -> dict:
    from importlib.metadata import version

    return {
        "func_name": name,
        "args": args,
        "caller_address": "[Book1.xlsx]Sheet1!B2",
        "content_language": "en-US",
        "version": version("xlwings"),  # importing xlwings here would need the licence key
        "runtime": "1.4",
    }


def call(server: dict, name: str, args: list, token: str | None = ALICE, timeout: float = 120) -> tuple[int, object]:
    """POST one custom-function call; (status, first cell of the result or the error detail)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}".strip()} if token is not None else {}
    response = httpx.post(f"{server['url']}/xlwings/custom-functions-call", json=_body(name, args), headers=headers, timeout=timeout)
    payload = response.json()
    if response.status_code != 200:
        return response.status_code, payload.get("detail")
    return 200, payload["result"][0][0]


def _holdings(n: int = 3) -> list[list]:
    tickers = _tickers()
    return [[tickers[i % len(tickers)], 1000.0 + 17 * i] for i in range(n)]


# ---------------------------------------------------------------- authentication


@pytest.mark.slow
def test_unauthenticated_call_is_refused(team_server):
    holdings = _holdings()
    assert call(team_server, "OF_TOTALRISK", [holdings, None, None, None], token=None) == (401, "xlfactor: missing or invalid token")
    assert call(team_server, "OF_TOTALRISK", [holdings, None, None, None], token="")[0] == 401
    status, value = call(team_server, "OF_TOTALRISK", [holdings, None, None, None])
    assert status == 200 and value == pytest.approx(OF_TOTALRISK(holdings), rel=1e-12)


@pytest.mark.slow
def test_wrong_token_is_refused(team_server):
    import httpx

    holdings = _holdings()
    for token in ("wrong-token-0123456789abcdef", ALICE[:-1], ALICE + "x", ALICE.upper()):
        assert call(team_server, "OF_TOTALRISK", [holdings, None, None, None], token=token)[0] == 401, token
    response = httpx.post(  # the right token under another scheme
        f"{team_server['url']}/xlwings/custom-functions-call",
        json=_body("OF_TOTALRISK", [holdings, None, None, None]),
        headers={"Authorization": f"Basic {ALICE}"},
        timeout=60,
    )
    assert response.status_code == 401
    assert call(team_server, "OF_TOTALRISK", [holdings, None, None, None], token=BOB)[0] == 200
    assert "refused a call: missing or unknown bearer token" in team_server["log"].read_text()
    assert ALICE not in team_server["log"].read_text() and BOB not in team_server["log"].read_text()


# ---------------------------------------------------------------- the data root


@pytest.mark.slow
def test_paths_outside_the_data_root_are_refused_alike(team_server):
    holdings = _holdings()
    outside = team_server["tmp"] / "outside"
    refused = "#XLFACTOR: snapshot: local paths on this server must be inside its data root, outside its users/ folder"
    for snapshot in (str(outside), str(outside / "nothing-here"), "/etc", "/no/such/folder", "../outside", "escape", "file:///etc"):
        assert call(team_server, "OF_TOTALRISK", [holdings, snapshot, None, None]) == (200, refused), snapshot
    cache_refused = "#XLFACTOR: semantic_cache: local paths on this server must be inside its data root, outside its users/ folder"
    for cache in (str(outside / "secret.csv"), str(outside / "absent.csv"), "/etc/passwd", "escape/secret.csv"):
        assert call(team_server, "OF_THEMES", [holdings, cache, None, None, None]) == (200, cache_refused), cache
    status, value = call(team_server, "OF_TOTALRISK", [holdings, "no-such-snapshot", None, None])  # inside: an honest not-found
    assert status == 200 and value.startswith("#XLFACTOR:") and "data root" not in value
    assert SECRET not in team_server["log"].read_text()


@pytest.mark.slow
def test_track_folders_are_per_user(team_server):
    import pandas as pd

    stored = pd.read_csv(team_server["root"] / "users" / "alice" / "fund" / "track.csv").sort_values("date")
    expected = float((stored["active_return"].tail(7) > 0).mean())  # 1W: the last 7 stored days
    assert call(team_server, "OF_REALIZED", ["fund", "hit_rate", "1W"]) == (200, pytest.approx(expected, abs=1e-12))
    bob = pd.read_csv(team_server["root"] / "users" / "bob" / "fund" / "track.csv").sort_values("date")
    assert call(team_server, "OF_REALIZED", ["fund", "hit_rate", "1W"], token=BOB) == (
        200,
        pytest.approx(float((bob["active_return"].tail(7) > 0).mean()), abs=1e-12),
    )
    refused = "#XLFACTOR: track_folder: must be a folder in your own track area on this server (users/alice/)"
    bob_folder = str(team_server["root"] / "users" / "bob" / "fund")
    for folder in ("../bob/fund", "../bob/none", bob_folder, "/etc", "../../users/bob/fund"):
        assert call(team_server, "OF_REALIZED", [folder, None, None]) == (200, refused), folder
        assert call(team_server, "OF_TRACKATTRIBUTION", [folder, None]) == (200, refused), folder


@pytest.mark.slow
def test_urls_outside_the_allow_list_make_no_request(team_server, counting_server):
    port, requests = counting_server
    holdings = _holdings()
    base = f"http://127.0.0.1:{port}"
    refused = "#XLFACTOR: snapshot: this server fetches URLs only under its --allow-url prefixes"
    before = len(requests)
    for url in (
        f"{base}/secret/",
        f"{base}/allowed-but-not/",
        f"{base}/allowed/../secret/",
        f"{base}/allowed/%2e%2e/secret/",
        f"http://someone@127.0.0.1:{port}/allowed/",
        f"{base}/allowed/?next=/secret",
        f"http://localhost:{port}/allowed/",
        f"https://127.0.0.1:{port}/allowed/",
        "s3://bucket/allowed/",
    ):
        assert call(team_server, "OF_TOTALRISK", [holdings, url, None, None]) == (200, refused), url
    assert call(team_server, "OF_THEMES", [holdings, f"{base}/secret.csv", None, None, None])[1].startswith(
        "#XLFACTOR: semantic_cache: this server fetches URLs only"
    )
    assert len(requests) == before == 0
    status, value = call(team_server, "OF_TOTALRISK", [holdings, f"{base}/allowed/snap", None, None])  # allowed: fetched
    assert status == 200 and value.startswith("#XLFACTOR:")
    assert requests and all(path.startswith("/allowed/snap") for path in requests)


# ---------------------------------------------------------------- bounded work


@pytest.mark.slow
def test_a_small_call_answers_while_a_large_one_runs(team_server):
    small = _holdings()
    assert call(team_server, "OF_TOTALRISK", [small, None, None, None])[0] == 200  # the light lane is warm
    big = _holdings(MAX_CELLS // 2 - 1000)  # two cells a row
    answers: dict = {}
    worker = threading.Thread(target=lambda: answers.setdefault("big", call(team_server, "OF_TOTALRISK", [big, None, None, None])))
    worker.start()
    time.sleep(0.5)  # the large call is uploading, being parsed or computing
    start = time.perf_counter()
    status, value = call(team_server, "OF_TOTALRISK", [small, None, None, None])
    elapsed = time.perf_counter() - start
    big_still_running = worker.is_alive()
    worker.join(timeout=120)
    assert status == 200 and value == pytest.approx(OF_TOTALRISK(small), rel=1e-12)
    assert big_still_running, "the large call finished before the small one started: no overlap to test"
    assert elapsed < 1.0, f"the small call took {elapsed:.2f} s beside the large one"
    assert answers["big"] == (200, pytest.approx(OF_TOTALRISK(big), rel=1e-12))
    log = team_server["log"].read_text()
    assert f"function=OF_TOTALRISK cells={MAX_CELLS - 2000} lane=heavy" in log


@pytest.mark.slow
def test_oversized_requests_get_a_one_line_cell_error(team_server):
    import httpx

    status, value = call(team_server, "OF_TOTALRISK", [_holdings(MAX_CELLS // 2 + 1), None, None, None])
    expected = f"#XLFACTOR: the call has {MAX_CELLS + 2:,} range cells; this server takes at most {MAX_CELLS:,} (--max-cells)"
    assert status == 200 and value == expected
    rows = _holdings(1000) + [["X" * 1000, 1.0]] * 2100  # few rows, many bytes
    status, value = call(team_server, "OF_TOTALRISK", [rows, None, None, None])
    assert status == 200 and value.startswith("#XLFACTOR: the request is ") and value.endswith("(--max-bytes)") and "\n" not in value
    body = json.dumps(_body("OF_TOTALRISK", [rows, None, None, None])).encode()
    response = httpx.post(  # streamed without a Content-Length: cut at the cap all the same
        f"{team_server['url']}/xlwings/custom-functions-call",
        content=(body[i : i + 65536] for i in range(0, len(body), 65536)),
        headers={"Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200 and response.json()["result"][0][0].startswith("#XLFACTOR: the request is over the limit")


@pytest.mark.slow
def test_every_call_is_logged_with_user_function_and_duration(team_server):
    call(team_server, "OF_TOTALRISK", [_holdings(), None, None, None], token=BOB)
    lines = [line for line in team_server["log"].read_text().splitlines() if "call user=bob function=OF_TOTALRISK" in line]
    assert lines and all(" seconds=" in line and " outcome=" in line for line in lines)
    seconds = float(lines[-1].split(" seconds=")[1].split()[0])
    assert 0 <= seconds < 60


# ---------------------------------------------------------------- starting the server


@pytest.mark.slow
def test_insecure_local_is_refused_off_loopback_and_announced_on_it(tmp_path):
    pytest.importorskip("xlwings_server")
    env = _environment(tmp_path / "cache")
    for args, message in (
        (["--insecure-local", "--host", "0.0.0.0"], "--insecure-local is allowed only on 127.0.0.1"),
        ([], "xlfactor serve needs tokens"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "xlfactor.cli", "serve", "--port", str(_free_port()), *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    port = _free_port()
    process, log = _start(["--insecure-local"], tmp_path, port)
    try:
        assert "--insecure-local: NO authentication" in log.read_text()
        holdings = _holdings()
        status, value = call({"url": f"http://127.0.0.1:{port}"}, "OF_TOTALRISK", [holdings, None, None, None], token=None)
        assert status == 200 and value == pytest.approx(OF_TOTALRISK(holdings), rel=1e-12)
        status, value = call({"url": f"http://127.0.0.1:{port}"}, "OF_TOTALRISK", [holdings, "/etc", None, None], token=None)
        assert value == "#XLFACTOR: snapshot: this server has no --data-root, so local paths are not allowed"
    finally:
        _stop(process)


@pytest.mark.slow
def test_insecure_local_refuses_other_host_headers(tmp_path):
    """DNS rebinding: a page at evil.example resolved to 127.0.0.1 sends Host: evil.example; it gets HTTP 400."""
    import httpx

    pytest.importorskip("xlwings_server")
    port = _free_port()
    process, _ = _start(["--insecure-local"], tmp_path, port)
    try:
        body = _body("OF_TOTALRISK", [_holdings(), None, None, None])
        url = f"http://127.0.0.1:{port}/xlwings/custom-functions-call"
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example"):
            response = httpx.post(url, json=body, headers={"Host": host}, timeout=30)
            assert response.status_code == 400, host
            assert httpx.get(f"http://127.0.0.1:{port}/xlwings/custom-functions-meta", headers={"Host": host}, timeout=30).status_code == 400
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            response = httpx.post(url, json=body, headers={"Host": host}, timeout=60)
            assert response.status_code == 200 and isinstance(response.json()["result"][0][0], float), host
    finally:
        _stop(process)


# ---------------------------------------------------------------- units: tokens and the policy


def test_tokens_are_parsed_strictly_and_never_echoed():
    users = parse_tokens(f"# comment\nalice,{ALICE}\n\nbob , {BOB}\n", "tokens")
    assert sorted(users) == ["alice", "bob"]
    for text, reason in (
        ("alice,short", "at least 16"),
        (f"alice {ALICE}", "user,token"),
        (f"../x,{ALICE}", "plain user name"),
        (f"alice,{ALICE}\nbob,{ALICE}", "appears twice"),
        (f"alice,{ALICE}\nalice,{BOB}", "appears twice"),
        ("alice,token with spaces 0123456789", "without spaces"),
    ):
        with pytest.raises(XlfactorError, match=reason) as caught:
            parse_tokens(text, "tokens")
        assert ALICE not in str(caught.value) and BOB not in str(caught.value) and "short" not in str(caught.value)


def test_token_store_matches_only_the_exact_bearer_token(tmp_path, monkeypatch):
    monkeypatch.setenv("XLFACTOR_SERVER_TOKENS", f"alice,{ALICE};bob,{BOB}")
    store = TokenStore(None)
    assert store.user_of(f"Bearer {ALICE}") == "alice" and store.user_of(f"bearer {BOB}") == "bob"
    for header in ("", "Bearer", "Bearer ", f"Basic {ALICE}", ALICE, f"Bearer {ALICE[:-1]}", f"Bearer {ALICE}0"):
        assert store.user_of(header) is None, header
    path = tmp_path / "tokens"
    path.write_text(f"alice,{ALICE}\n")
    store = TokenStore(str(path))
    assert store.user_of(f"Bearer {ALICE}") == "alice"
    path.write_text(f"bob,{BOB}\n")  # revoked without a restart
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert store.user_of(f"Bearer {ALICE}") is None and store.user_of(f"Bearer {BOB}") == "bob"


@pytest.mark.parametrize("damage", ["deleted", "malformed", "not utf-8"])
def test_token_store_fails_closed_when_the_file_goes_bad(tmp_path, caplog, damage):
    path = tmp_path / "tokens"
    path.write_text(f"alice,{ALICE}\nbob,{BOB}\n")
    store = TokenStore(str(path))
    assert store.user_of(f"Bearer {ALICE}") == "alice"
    if damage == "deleted":
        path.unlink()
    else:
        path.write_bytes(b"alice\n" if damage == "malformed" else b"alice,\xff\xfe" + ALICE.encode())
        os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    with caplog.at_level(logging.ERROR, logger="xlfactor.excel.server"):
        assert store.user_of(f"Bearer {ALICE}") is None and store.user_of(f"Bearer {BOB}") is None
    assert any(r.levelno == logging.ERROR and "refusing every call" in r.getMessage() for r in caplog.records)
    assert ALICE not in caplog.text
    path.write_text(f"bob,{BOB}\n")  # a good file again lets its users back in
    os.utime(path, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    assert store.user_of(f"Bearer {BOB}") == "bob" and store.user_of(f"Bearer {ALICE}") is None


def test_url_allow_list_matches_whole_segments():
    allowed = ("https://data.example.com/snapshots/", "http://127.0.0.1:8001/x")
    assert url_allowed("https://data.example.com/snapshots/us1000", allowed)
    assert url_allowed("https://DATA.example.com/snapshots/", allowed)
    assert url_allowed("http://127.0.0.1:8001/x", allowed) and url_allowed("http://127.0.0.1:8001/x/y/", allowed)
    for url in (
        "https://data.example.com/snapshots-evil/",
        "https://data.example.com.evil.net/snapshots/",
        "https://data.example.com/snapshots/../private/",
        "https://data.example.com/snapshots/%2E%2E/private/",
        "https://data.example.com/snapshots/a\\..\\b",
        "https://user:pw@data.example.com/snapshots/",
        "http://data.example.com/snapshots/",
        "http://127.0.0.1:8002/x",
        "http://127.0.0.1:8001/xy",
        "https://data.example.com/snapshots/a?x=1",
    ):
        assert not url_allowed(url, allowed), url
    assert not url_allowed("https://data.example.com/snapshots/", ())


def test_policy_resolves_inside_the_root_before_touching_anything(tmp_path):
    root = tmp_path / "root"
    (root / "users" / "alice" / "fund").mkdir(parents=True)
    (root / "snap").mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    policy = AccessPolicy("alice", root, ())
    assert policy.location("snap", "snapshot") == str((root / "snap").resolve())
    assert policy.location(str(root / "snap"), "snapshot") == str((root / "snap").resolve())
    assert policy.location(f"file://{root / 'snap'}", "snapshot") == str((root / "snap").resolve())
    assert policy.location("new/absent.csv", "semantic_cache") == str(root.resolve() / "new" / "absent.csv")  # inside: allowed
    assert policy.track_folder("fund") == str((root / "users" / "alice" / "fund").resolve())
    for text in ("../outside", str(tmp_path / "outside"), "link", "link/x", "/", "snap/../../outside", "a\x00b", " "):
        with pytest.raises(XlfactorError, match="inside its data root"):
            policy.location(text, "snapshot")
    for text in ("../bob", "../../snap", str(root / "snap"), "https://x/"):
        with pytest.raises(XlfactorError, match="track_folder"):
            policy.track_folder(text)
    with pytest.raises(XlfactorError, match="not a plain name"):
        AccessPolicy("../bob", root)


def test_catalog_checks_the_policy_before_reading(tmp_path, monkeypatch):
    """Under a policy a refused snapshot or cache never reaches the loader or the file."""
    import xlfactor.functions.catalog as catalog

    seen: list = []
    monkeypatch.setattr(catalog, "load_snapshot", lambda *a, **k: seen.append(a) or (_ for _ in ()).throw(AssertionError))
    holdings = _holdings()
    with access_policy(AccessPolicy("alice", tmp_path, ())):
        assert OF_TOTALRISK(holdings, "/etc").startswith("#XLFACTOR: snapshot: local paths on this server")
        assert OF_THEMES(holdings, "/etc/passwd").startswith("#XLFACTOR: semantic_cache: local paths on this server")
        assert OF_REALIZED("/etc").startswith("#XLFACTOR: track_folder: must be a folder in your own track area")
    assert seen == []
    with access_policy(AccessPolicy("alice", None, ())):
        assert OF_THEMES(holdings).startswith("#XLFACTOR: semantic_cache: this server has no --data-root")
    assert catalog.current_policy() is None


# ---------------------------------------------------------------- messages and logging (everyone)


def test_a_file_named_as_a_semantic_cache_is_not_echoed(tmp_path):
    holdings = _holdings()
    bad = tmp_path / "not-a-cache.csv"
    bad.write_text(f"ticker,password\nAAA,{SECRET}\n")
    message = OF_THEMES(holdings, str(bad))
    assert message.startswith("#XLFACTOR: semantic cache") and "line 2, column 2 is not 0, 1 or blank" in message
    assert SECRET not in message and "password" not in message
    twice = tmp_path / "twice.csv"
    twice.write_text("ticker,t\nSECRETCO,1\nSECRETCO,0\n")
    message = OF_THEMES(holdings, str(twice))
    assert "line 3 repeats a ticker" in message and "SECRETCO" not in message


def test_internal_errors_are_logged_with_their_traceback(monkeypatch, caplog):
    import xlfactor.functions.catalog as catalog

    def broken(*args, **kwargs):
        raise RuntimeError(f"boom {SECRET}")

    monkeypatch.setattr(catalog, "factor_model_data", broken)
    holdings = _holdings()
    with caplog.at_level(logging.DEBUG, logger="xlfactor"):
        desktop = OF_TOTALRISK(holdings)
        with access_policy(AccessPolicy("alice")):
            served = OF_TOTALRISK(holdings)
    assert desktop == f"#XLFACTOR: internal error (RuntimeError: boom {SECRET})"
    assert served == "#XLFACTOR: internal error (RuntimeError); the server log has the details"
    records = [r for r in caplog.records if r.name == "xlfactor.functions.catalog" and r.exc_info]
    assert len(records) == 2 and records[0].levelno == logging.DEBUG and "OF_TOTALRISK" in records[0].getMessage()


def test_cli_verbose_turns_on_debug_logging():
    from xlfactor.cli import main

    logger = logging.getLogger("xlfactor")
    level = logger.level
    try:
        assert main(["--verbose", "functions"]) == 0
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(level)


@pytest.mark.slow
def test_the_add_in_sends_the_saved_token(team_server):
    """The project's auth.js (overriding xlwings Server's) sends the token the task pane saved."""
    import httpx

    script = httpx.get(f"{team_server['url']}/static/js/auth.js", timeout=30).text
    assert 'localStorage.getItem("xlfactor-token")' in script and '"Bearer " + token' in script
    page = httpx.get(f"{team_server['url']}/taskpane", timeout=30).text
    assert 'id="xlfactor-token"' in page and "xlfactor-token.js" in page


# ---------------------------------------------------------------- issue 21: users/ subtree, messages, names, redirects


def test_snapshot_and_cache_arguments_may_not_reach_into_users(tmp_path):
    """alice cannot read bob's themes file or probe bob's folder names: one message, whether or not the path exists."""
    root = tmp_path / "root"
    (root / "users" / "bob" / "fund").mkdir(parents=True)
    (root / "users" / "bob" / "themes.csv").write_text(f"ticker,bob_theme\nAAA,1\n{SECRET},1\n")
    (root / "shared").mkdir()
    (root / "to_bob").symlink_to(root / "users" / "bob")
    policy = AccessPolicy("alice", root, ())
    texts = (
        "users/bob/themes.csv", "users/bob/absent.csv", "users/bob/fund", "users/nobody", "users", "users/",
        "shared/../users/bob/themes.csv", str(root / "users" / "bob" / "themes.csv"), "to_bob/themes.csv",
        "to_bob", "USERS/bob/themes.csv", "users/alice/own.csv",
    )
    for what in ("snapshot", "semantic_cache"):
        messages = set()
        for text in texts:
            with pytest.raises(XlfactorError) as caught:
                policy.location(text, what)
            messages.add(str(caught.value))
        assert messages == {f"{what}: local paths on this server must be inside its data root, outside its users/ folder"}
    assert policy.location("shared/themes.csv", "semantic_cache") == str(root.resolve() / "shared" / "themes.csv")
    holdings = _holdings()
    with access_policy(policy):
        present = OF_THEMES(holdings, "users/bob/themes.csv")
        absent = OF_THEMES(holdings, "users/bob/nothing.csv")
    assert present == absent and SECRET not in present and "bob_theme" not in present


def test_messages_show_paths_relative_to_the_data_root(tmp_path):
    root = tmp_path / "root"
    (root / "shared" / "broken").mkdir(parents=True)
    (root / "shared" / "themes.csv").write_text("ticker,t\nAAA,7\n")
    holdings = _holdings()
    with access_policy(AccessPolicy("alice", root, ())):
        snapshot = OF_TOTALRISK(holdings, "shared/broken")
        cache = OF_THEMES(holdings, "shared/themes.csv")
    for message in (snapshot, cache):
        assert message.startswith("#XLFACTOR") and str(tmp_path) not in message and "/root" not in message, message
    assert "shared/broken" in snapshot and "shared/themes.csv" in cache


def test_a_named_snapshot_on_the_server_is_the_public_url_under_allow_url(tmp_path, monkeypatch):
    import xlfactor.functions.catalog as catalog

    root = tmp_path / "root"
    (root / "openfactor-us1000").mkdir(parents=True)  # a folder of that name is never what the name means
    monkeypatch.chdir(root)
    monkeypatch.setenv("XLFACTOR_OPENFACTOR_URL", "https://mirror.example.org/of")
    seen: list = []
    monkeypatch.setattr(catalog, "load_snapshot", lambda source, *a, **k: seen.append(source) or (_ for _ in ()).throw(XlfactorError("stop")))
    holdings = _holdings()
    with access_policy(AccessPolicy("alice", root, ("https://other.example.org/",))):
        refused = OF_TOTALRISK(holdings, "openfactor-us1000")
    assert "OpenFactor's public snapshot" in refused and "--allow-url" in refused and seen == []
    with access_policy(AccessPolicy("alice", root, ("https://mirror.example.org/of/",))):
        OF_TOTALRISK(holdings, "openfactor-us1000")
    assert seen == ["https://mirror.example.org/of/factors/openfactor-us1000"]


def test_an_allowed_host_redirecting_elsewhere_gets_no_request_through(tmp_path):
    """SSRF by redirect through the worksheet functions: allowed host A answers 302 to host B; B hears nothing."""
    from tests.test_snapshot_trust import _http_server, redirecting_hosts

    redirect, target = redirecting_hosts()
    holdings = _holdings()
    with _http_server(target) as host_b, _http_server(redirect) as host_a:
        redirect.target = host_b
        with access_policy(AccessPolicy("alice", tmp_path, (f"{host_a}/allowed/",))):
            snapshot = OF_TOTALRISK(holdings, f"{host_a}/allowed/snap")
            themes = OF_THEMES(holdings, f"{host_a}/allowed/semantic_factors.csv")
    assert "HTTP 302" in snapshot and "HTTP 302" in themes, (snapshot, themes)
    assert len(redirect.requests) >= 2 and target.requests == []


@pytest.mark.slow
def test_a_one_row_range_is_counted_in_cells(team_server):
    """A 1 x N range is N cells: over --max-cells it is refused, over --heavy-cells it runs in the worker processes."""
    tickers = _tickers()
    wide = [[tickers[i % len(tickers)] for i in range(MAX_CELLS + 1)]]  # one row, ~1.2 MB
    status, value = call(team_server, "OF_IMPLIEDCOV", [wide, None, None])
    assert status == 200 and value.startswith(f"#XLFACTOR: the call has {MAX_CELLS + 1:,} range cells")
    row = [[tickers[i % len(tickers)] for i in range(2500)]]  # 2,500 cells, 1,500 of them repeats
    status, value = call(team_server, "OF_IMPLIEDCOV", [row, None, None])
    assert status == 200 and value.startswith(f"#XLFACTOR: tickers range lists {len(tickers)} tickers more than once")
    log = team_server["log"].read_text()
    assert f"function=OF_IMPLIEDCOV cells={MAX_CELLS + 1} lane=refused" in log
    assert "function=OF_IMPLIEDCOV cells=2500 lane=heavy" in log


def test_implied_covariance_refuses_repeated_tickers():
    """1,500 names drawn from a 1,000-name universe would make a 2.25 M-cell result: refused in one line."""
    from xlfactor.functions import OF_IMPLIEDCOV

    tickers = _tickers()
    row = [[tickers[i % len(tickers)] for i in range(1500)]]
    message = OF_IMPLIEDCOV(row)
    assert message == f"#XLFACTOR: tickers range lists 500 tickers more than once ({', '.join(tickers[:5])}, ...); list each once"
    one = OF_IMPLIEDCOV([tickers[:3]])
    assert len(one) == 3 + 1 + 2 and len(one[0]) == 4  # header, 3 tickers, 2 parameter rows


RESULT_CAP_CHECK = """
import json
from xlfactor.excel.server import call_with_policy, result_cells
from xlfactor.functions.catalog import AccessPolicy
from xlfactor.risk.model_data import factor_model_data
from xlfactor.snapshot.sources import load_snapshot

tickers = [str(t) for t in factor_model_data(load_snapshot()).tickers]
policy = AccessPolicy("alice", None, ())
small = call_with_policy("OF_IMPLIEDCOV", ([tickers[:10]], None, None), policy, 1_000)
big = call_with_policy("OF_IMPLIEDCOV", ([tickers[:40]], None, None), policy, 1_000)
print(json.dumps({"small": result_cells(small), "big": big}))
"""


def test_a_result_over_the_cell_cap_is_a_one_line_error():
    # In a process of its own: xlwings registers its Office.js engine only when the licence key is set
    # before it is first imported, as `xlfactor serve` does (other tests import xlwings without one).
    env = {**os.environ, "XLWINGS_LICENSE_KEY": "noncommercial"}
    done = subprocess.run([sys.executable, "-c", RESULT_CAP_CHECK], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["small"] == (1 + 10 + 2) * 11  # header, 10 rows, 2 parameter rows; 11 columns: under the cap
    assert answer["big"] == [[f"#XLFACTOR: the result has {43 * 41:,} cells; this server returns at most 1,000 (ask for fewer rows or tickers)"]]


@pytest.mark.slow
def test_a_real_server_follows_no_redirect_off_the_allow_list(team_server, counting_server):
    """xlfactor serve, --allow-url host A: A answers 302 to host B for a snapshot and a semantic cache; B gets 0 requests."""
    from tests.test_snapshot_trust import _http_server, redirecting_hosts

    port, requests = counting_server
    _, target = redirecting_hosts()
    holdings = _holdings()
    with _http_server(target) as host_b:
        _Counter.redirect_to = host_b
        try:
            before = len(requests)
            status, snapshot = call(team_server, "OF_TOTALRISK", [holdings, f"http://127.0.0.1:{port}/allowed/hop/snap", None, None])
            status_themes, themes = call(team_server, "OF_THEMES", [holdings, f"http://127.0.0.1:{port}/allowed/hop/t.csv", None, None, None])
        finally:
            _Counter.redirect_to = ""
    assert status == status_themes == 200
    assert "HTTP 302" in snapshot and "HTTP 302" in themes, (snapshot, themes)
    assert len(requests) > before and target.requests == []
