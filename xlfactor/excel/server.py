"""Run the xlwings Server project that serves the ``OF.`` custom functions to a team.

xlwings Server is source-available: free for non-commercial use with the licence key
``noncommercial``; commercial use (including internal tools) needs your own key from
xlwings. Install with ``pip install 'xlfactor[server]'``.

What the server lets in (``docs/guide/server.md``):

* **Only its team.** Every call carries ``Authorization: Bearer <token>``; tokens come from
  ``--tokens FILE`` (``user,token`` per line) or ``XLFACTOR_SERVER_TOKENS`` and are checked in
  constant time by xlwings Server's own authentication hook (the ``custom`` provider, the
  project's ``auth/custom`` module). ``--insecure-local`` (no tokens) is allowed on 127.0.0.1 only.
* **Only its data.** Each call runs under an :class:`~xlfactor.functions.catalog.AccessPolicy`:
  local snapshots and semantic caches inside ``--data-root``, track folders inside
  ``<data-root>/users/<user>/``, URLs under ``--allow-url`` prefixes only.
* **Bounded work.** Requests over ``--max-bytes`` or ``--max-cells`` (rows x
  columns, so a 1 x 16,384 range is 16,384, not 1) get a one-line cell error, and so do results
  over ``max_result_cells``; calls run off the event loop, small ones on a thread, large ones
  (over ``--heavy-cells``) in a process pool, so a 2-row call answers while a large one runs.
* **A log line per call**: user, function, rows, lane, seconds, outcome (logger ``xlfactor.excel.server``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import hashlib
import hmac
import inspect
import ipaddress
import json
import logging
import multiprocessing
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlfactor.errors import XlfactorError

PROJECT_DIR = Path(__file__).with_name("server_project")
NAMESPACE = "OF"
SERVER_PREFIX = "OF_"
CONFIG_VARIABLE = "XLFACTOR_SERVER_CONFIG"  # the ServerConfig as JSON, read by the project modules
TOKENS_VARIABLE = "XLFACTOR_SERVER_TOKENS"  # user,token entries (one per line or separated by ';')
MIN_TOKEN_LENGTH = 16
LOCAL_USER = "local"  # the user of an --insecure-local server

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    """What ``xlfactor serve`` was started with (passed to the xlwings Server project as JSON).

    Parameters
    ----------
    data_root : str or None
        Folder inside which local snapshots, semantic caches and ``users/<user>/`` track
        folders are resolved; ``None``: no local path may be named.
    allow_urls : tuple of str
        URL prefixes that may be fetched (snapshots, semantic caches).
    tokens_file : str or None
        ``user,token`` per line; else ``XLFACTOR_SERVER_TOKENS``.
    insecure_local : bool
        No authentication (127.0.0.1 only; every caller is user ``local``).
    max_rows : int
        Largest total number of range CELLS (rows x columns) in one call (``--max-cells``).
    max_bytes : int
        Largest request body in bytes.
    heavy_rows : int
        Calls with more range cells than this run in the process pool (``--heavy-cells``).
    workers : int
        Processes in that pool.
    max_result_cells : int
        Largest number of cells in one result; a larger one is a one-line cell error.
    """

    data_root: str | None = None
    allow_urls: tuple[str, ...] = ()
    tokens_file: str | None = None
    insecure_local: bool = False
    max_rows: int = 100_000
    max_bytes: int = 4_000_000
    heavy_rows: int = 2_000
    workers: int = 1
    max_result_cells: int = 1_000_000

    def to_json(self) -> str:
        """The config as the JSON text of :data:`CONFIG_VARIABLE`."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_environment(cls) -> ServerConfig:
        """The config ``xlfactor serve`` left in the environment; the default (nobody let in) without one."""
        text = os.environ.get(CONFIG_VARIABLE)
        if not text:
            return cls()
        values = json.loads(text)
        values["allow_urls"] = tuple(values.get("allow_urls", ()))
        return cls(**values)


def server_environment(license_key: str | None = None, config: ServerConfig | None = None) -> dict[str, str]:
    """Environment variables that make xlwings Server serve ``=OF.NAME(...)`` from this project.

    Authentication is always on (xlwings Server's ``custom`` provider, implemented by the
    project's ``auth/custom`` module); without a ``config`` nobody is let in.
    """
    key = license_key or os.environ.get("XLWINGS_LICENSE_KEY")
    if not key:
        raise XlfactorError("set XLWINGS_LICENSE_KEY: 'noncommercial' for non-commercial use, your own xlwings key otherwise")
    return {
        "XLWINGS_LICENSE_KEY": key,
        "XLWINGS_PROJECT_DIR": str(PROJECT_DIR),
        "XLWINGS_FUNCTIONS_NAMESPACE": NAMESPACE,
        "XLWINGS_ENVIRONMENT": "prod",
        "XLWINGS_ENABLE_SOCKETIO": "false",
        "XLWINGS_ENABLE_HOTRELOAD": "false",
        "XLWINGS_ON_SERVER": "true",
        "XLWINGS_AUTH_PROVIDERS": '["custom"]',
        CONFIG_VARIABLE: (config or ServerConfig()).to_json(),
    }


# ---------------------------------------------------------------- tokens

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable, no spaces


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def parse_tokens(text: str, where: str) -> dict[str, bytes]:
    """``user,token`` entries (lines or ``;``-separated; ``#`` comments) as user -> SHA-256 of the token.

    Raises
    ------
    XlfactorError
        On a malformed line, a user name that is not plain, a token shorter than
        :data:`MIN_TOKEN_LENGTH` or with spaces, commas or ``;``, or a repeated user or token.
        The message names the line, never the token.
    """
    users: dict[str, bytes] = {}
    for number, line in enumerate(re.split(r"[;\n]", text), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, token = (part.strip() for part in line.partition(","))
        if not sep or not _USER.fullmatch(user) or user in (".", ".."):
            raise XlfactorError(f"{where}: entry {number} must be user,token with a plain user name (letters, digits, . _ -)")
        if len(token) < MIN_TOKEN_LENGTH or not _TOKEN.fullmatch(token) or "," in token:
            raise XlfactorError(
                f"{where}: the token of {user} must be at least {MIN_TOKEN_LENGTH} printable characters without spaces or commas "
                "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        digest = _digest(token)
        if user in users or digest in users.values():
            raise XlfactorError(f"{where}: user {user} or its token appears twice")
        users[user] = digest
    return users


class TokenStore:
    """The team's tokens: from the file (re-read when it changes, so a revoked token stops at once) or the environment.

    Fails closed: while the file is missing, unreadable or malformed, every token is refused
    (and an error is logged), until a good file is back.
    """

    def __init__(self, tokens_file: str | None) -> None:
        self._file = tokens_file
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        if self._file is None:
            self._users = parse_tokens(os.environ.get(TOKENS_VARIABLE, ""), TOKENS_VARIABLE)
            return
        try:
            info = os.stat(self._file)
        except OSError as exc:
            raise XlfactorError(f"--tokens {self._file}: cannot be read ({exc.strerror})") from None
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            self._users = parse_tokens(Path(self._file).read_text(encoding="utf-8"), f"--tokens {self._file}")
            self._stamp = stamp

    @property
    def users(self) -> tuple[str, ...]:
        """The user names (sorted)."""
        return tuple(sorted(self._users))

    def user_of(self, authorization: str) -> str | None:
        """The user whose token the ``Authorization`` header carries, or ``None``.

        Every stored token is compared (SHA-256 digests, :func:`hmac.compare_digest`), so the
        time taken does not depend on which token matched or how much of it.
        """
        scheme, _, token = authorization.strip().partition(" ")
        if self._file is not None:
            with self._lock:
                try:
                    self._load()
                except (XlfactorError, OSError, UnicodeDecodeError) as exc:  # fail closed: nobody is let in
                    if self._users or self._stamp is not None:
                        logger.error("tokens file unusable, refusing every call until it is fixed: %s", exc)
                    self._users, self._stamp = {}, None
        given = _digest(token.strip())
        found = None
        for user, digest in self._users.items():
            if hmac.compare_digest(given, digest):
                found = user
        return found if scheme.lower() == "bearer" and token.strip() else None


_TOKENS: TokenStore | None = None


def token_store(config: ServerConfig) -> TokenStore:
    """The process's token store (created once, from ``config``)."""
    global _TOKENS
    if _TOKENS is None:
        _TOKENS = TokenStore(config.tokens_file)
    return _TOKENS


async def validate_token(token_string: str):  # noqa: ANN201 - an xlwings_server User
    """Check the ``Authorization`` header (xlwings Server's custom auth hook): the user, else HTTP 401."""
    from fastapi import HTTPException, status
    from xlwings_server.models import User

    config = ServerConfig.from_environment()
    if config.insecure_local:
        return User(id=LOCAL_USER, name=LOCAL_USER)
    user = token_store(config).user_of(token_string or "") if (config.tokens_file or os.environ.get(TOKENS_VARIABLE)) else None
    if user is None:
        logger.warning("refused a call: missing or unknown bearer token")
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="xlfactor: missing or invalid token")
    return User(id=user, name=user)


# ---------------------------------------------------------------- calls


def convert_arguments(name: str, raw: tuple[Any, ...]) -> list[Any]:
    """Convert arguments as xlwings Server would (``ndim=2`` for ranges), here rather than on the event loop.

    The adapters declare every argument ``raw``, so xlwings Server hands the JSON values
    over untouched; this applies the conversion it would have applied (empty cells to
    ``None``, error cells, 2-D ranges) in the worker.
    """
    from xlwings import conversion

    from xlfactor.functions import CATALOG

    sys.modules.setdefault("pyodide", None)  # not Pyodide: xlwings' JsNull probe per cell then fails at once
    entry = CATALOG[name]
    return [
        value if value is None else conversion.read(None, value, {"ndim": 2} if argument.is_range else {}, engine_name="officejs")
        for value, argument in zip(raw, entry.arguments, strict=False)
    ]


def call_with_policy(name: str, raw: tuple[Any, ...], policy: Any, max_result_cells: int | None = None) -> Any:
    """Run catalog function ``name`` on the raw JSON arguments of a call under ``policy`` (in a worker thread or process).

    A result of more than ``max_result_cells`` cells becomes a one-line cell error here, in
    the worker, so it is neither sent back to the server process nor to Excel.
    """
    from xlfactor.functions import CATALOG
    from xlfactor.functions.catalog import access_policy

    try:
        args = convert_arguments(name, raw)
    except Exception:  # noqa: BLE001 - a cell must never show a traceback
        logger.debug("arguments of %s not converted", name, exc_info=True)
        return _cell_error("the arguments could not be read (a range or cell value of an unexpected kind)")
    with access_policy(policy):
        result = CATALOG[name].function(*args)
    cells = result_cells(result)
    if max_result_cells is not None and cells > max_result_cells:
        logger.info("result of %s refused: %d cells over the cap of %d", name, cells, max_result_cells)
        return _cell_error(f"the result has {cells:,} cells; this server returns at most {max_result_cells:,} (ask for fewer rows or tickers)")
    return result


def _worker_started(level: int) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s [worker %(process)d] %(message)s")
    import xlfactor.functions  # noqa: F401 - imported once, before the first call


def _cell_error(message: str) -> list[list[str]]:
    from xlfactor.functions import ERROR_PREFIX

    return [[f"{ERROR_PREFIX}: {message}"]]


def range_cells(args: tuple[Any, ...]) -> int:
    """Total cells of the range arguments of a call (lists of rows, as xlwings Server sends them).

    A row is counted by its length, so one row of 16,384 cells counts 16,384.
    """
    return sum(sum(len(row) if isinstance(row, list) else 1 for row in value) for value in args if isinstance(value, list))


def result_cells(result: Any) -> int:
    """Cells of a worksheet-function result: 1 for a scalar, rows x columns for a table."""
    if isinstance(result, list):
        return sum(len(row) if isinstance(row, list | tuple) else 1 for row in result)
    size = getattr(result, "size", None)
    return int(size) if isinstance(size, int) else 1


class CallRunner:
    """Runs worksheet-function calls off the event loop, within the size caps.

    Small calls go to one thread (the catalog's memos are shared there, as on desktop); calls
    with more than ``heavy_rows`` range cells go to a pool of ``workers`` processes, so they
    neither block the event loop nor hold the small calls' interpreter lock.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._light = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="xlfactor-call")
        self._heavy: concurrent.futures.ProcessPoolExecutor | None = None
        self._heavy_lock = threading.Lock()
        root = Path(os.path.realpath(config.data_root)) if config.data_root else None
        self._root = root

    def _heavy_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._heavy_lock:
            if self._heavy is None:
                self._heavy = concurrent.futures.ProcessPoolExecutor(
                    self.config.workers,
                    mp_context=multiprocessing.get_context("spawn"),  # never fork a process with threads
                    initializer=_worker_started,
                    initargs=(logging.getLogger("xlfactor").getEffectiveLevel(),),
                )
            return self._heavy

    def _reset_heavy(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._heavy_lock:
            if self._heavy is broken:
                self._heavy = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, name: str, args: tuple[Any, ...], user: Any) -> Any:
        """The result of ``name(*args)`` for ``user`` (an xlwings Server ``CurrentUser``), or a one-line cell error."""
        from xlfactor.functions.catalog import AccessPolicy

        start = time.perf_counter()
        user_name = getattr(user, "id", None) or LOCAL_USER
        cells = range_cells(args)
        lane = "light"
        try:
            if cells > self.config.max_rows:
                lane = "refused"
                result = _cell_error(
                    f"the call has {cells:,} range cells; this server takes at most {self.config.max_rows:,} (--max-cells)"
                )
            else:
                policy = AccessPolicy(user_name, self._root, self.config.allow_urls)
                loop = asyncio.get_running_loop()
                job = functools.partial(call_with_policy, name, args, policy, self.config.max_result_cells)
                if cells > self.config.heavy_rows:
                    lane = "heavy"
                    pool = self._heavy_pool()
                    try:
                        result = await loop.run_in_executor(pool, job)
                    except concurrent.futures.process.BrokenProcessPool:
                        self._reset_heavy(pool)
                        result = _cell_error("the worker process stopped (out of memory?); try again or a smaller range")
                else:
                    result = await loop.run_in_executor(self._light, job)
        except XlfactorError as exc:
            result = _cell_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a cell must never show a traceback
            logger.warning("call user=%s function=%s failed outside the catalog", user_name, name, exc_info=True)
            result = _cell_error(f"internal error ({type(exc).__name__}); the server log has the details")
        seconds = time.perf_counter() - start
        outcome = "error" if _is_error(result) else "ok"
        logger.info("call user=%s function=%s cells=%d lane=%s seconds=%.3f outcome=%s", user_name, name, cells, lane, seconds, outcome)
        return result


def _is_error(result: Any) -> bool:
    from xlfactor.functions import ERROR_PREFIX

    cell = result[0][0] if isinstance(result, list) and result and isinstance(result[0], list) and result[0] else result
    return isinstance(cell, str) and cell.startswith(ERROR_PREFIX)


def server_functions(func: Any, arg: Any, user_type: type, config: ServerConfig | None = None) -> dict[str, Callable[..., Any]]:
    """Every catalog function as an xlwings Server custom function (``OF.NAME``), run by a :class:`CallRunner`.

    Each adapter is a coroutine with the catalog entry's parameters (no annotations; every
    argument ``raw``, converted by :func:`convert_arguments` off the event loop) plus a
    keyword-only ``current_user`` annotated ``user_type`` (xlwings Server's ``CurrentUser``),
    which the server injects.
    """
    from xlfactor.functions import CATALOG

    runner = CallRunner(config or ServerConfig.from_environment())
    functions = {}
    for entry in CATALOG.values():

        async def call(*args: Any, current_user: Any = None, _name: str = entry.name) -> Any:
            return await runner.run(_name, args, current_user)

        signature = inspect.signature(entry.function)
        parameters = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
        parameters.append(inspect.Parameter("current_user", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=user_type))
        call.__signature__ = inspect.Signature(parameters)
        call.__annotations__ = {"current_user": user_type}
        call.__name__ = call.__qualname__ = entry.name
        call.__doc__ = entry.description
        wrapped: Any = call
        for argument in entry.arguments:  # raw: converted by convert_arguments in the worker, off the event loop
            wrapped = arg(argument.name, "raw", doc=argument.help)(wrapped)
        functions[entry.name] = func(name=entry.name.removeprefix(SERVER_PREFIX))(wrapped)
    return functions


# ---------------------------------------------------------------- the ASGI app


class RequestCap:
    """ASGI wrapper: a request body over ``max_bytes`` is answered without reaching the app.

    A custom-function call gets a 200 with a one-line cell error (what Excel shows in the
    cell); anything else a 413. The body is read at most to the cap, then the app sees it as usual.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Pass the request on with its body read (at most ``max_bytes``), or answer it over the cap."""
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, int(declared))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, send, None)
                return
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: dict, send: Callable, size: int | None) -> None:
        shown = f"{size / 1e6:.1f} MB" if size is not None else "over the limit"
        message = f"the request is {shown}; this server takes at most {self.max_bytes / 1e6:.1f} MB per call (--max-bytes)"
        logger.info("call refused: request body %s over --max-bytes %d", size if size is not None else "streamed", self.max_bytes)
        if scope.get("path", "").endswith("/custom-functions-call"):
            status, body = 200, json.dumps({"result": _cell_error(message)}).encode()
        else:
            status, body = 413, json.dumps({"detail": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


LOCAL_HOSTS = ("127.0.0.1", "localhost")
"""Host headers an ``--insecure-local`` server answers (anything else: HTTP 400, against DNS rebinding)."""


def create_app() -> Any:
    """The ASGI app ``xlfactor serve`` runs: xlwings Server's app behind :class:`RequestCap`.

    With ``--insecure-local`` (no authentication), Starlette's ``TrustedHostMiddleware`` comes
    first: a request whose ``Host`` is not 127.0.0.1 or localhost (a web page that rebinds its
    own name to 127.0.0.1) gets HTTP 400 before anything else runs.
    """
    from xlwings_server.main import main_app

    config = ServerConfig.from_environment()
    app: Any = RequestCap(main_app, config.max_bytes)
    if config.insecure_local:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app = TrustedHostMiddleware(app, allowed_hosts=list(LOCAL_HOSTS), www_redirect=False)
    return app


# ---------------------------------------------------------------- serve


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_config(config: ServerConfig, host: str) -> list[str]:
    """Refuse an unsafe start (one-line :class:`XlfactorError`); return the lines to print at start."""
    from xlfactor.functions.catalog import url_prefix_parts

    lines = []
    if config.insecure_local:
        if not _loopback(host):
            raise XlfactorError(
                f"--insecure-local is allowed only on 127.0.0.1, not --host {host}; give the team tokens instead (--tokens FILE)"
            )
        lines.append(
            f"--insecure-local: NO authentication; any process on this machine can call http://{host} (every caller is user '{LOCAL_USER}')"
        )
    else:
        if not config.tokens_file and not os.environ.get(TOKENS_VARIABLE):
            raise XlfactorError(
                f"xlfactor serve needs tokens: --tokens FILE (user,token per line) or {TOKENS_VARIABLE}; "
                "--insecure-local serves 127.0.0.1 without them"
            )
        store = TokenStore(config.tokens_file)
        if not store.users:
            raise XlfactorError("the tokens file has no user,token entries")
        if config.tokens_file and os.stat(config.tokens_file).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            lines.append(f"warning: {config.tokens_file} is readable by other users of this machine (chmod 600 it)")
        lines.append(f"{len(store.users)} users: {', '.join(store.users)}")
        if not _loopback(host):
            lines.append("tokens travel in clear over plain HTTP: put an HTTPS reverse proxy in front (Excel add-ins need HTTPS anyway)")
    if config.data_root is not None:
        if not Path(config.data_root).is_dir():
            raise XlfactorError(f"--data-root {config.data_root} is not a folder")
        lines.append(f"data root {os.path.realpath(config.data_root)} (track folders under users/<user>/)")
    else:
        lines.append("no --data-root: callers may name no local snapshot, cache or track folder")
    for prefix in config.allow_urls:
        url_prefix_parts(prefix)
    lines.append("URLs allowed under: " + (", ".join(config.allow_urls) if config.allow_urls else "none (no --allow-url)"))
    for name in ("max_rows", "max_bytes", "heavy_rows", "workers", "max_result_cells"):
        if getattr(config, name) < 1:
            raise XlfactorError(f"--{name.replace('_', '-')} must be a positive integer")
    lines.append(
        f"limits: {config.max_rows:,} range cells, {config.max_bytes:,} bytes per call, {config.max_result_cells:,} result cells; "
        f"over {config.heavy_rows:,} cells in {config.workers} worker process(es)"
    )
    return lines


def serve(host: str = "127.0.0.1", port: int = 8000, config: ServerConfig | None = None) -> None:
    """Start xlwings Server (uvicorn) on ``host:port`` with ``config``; blocks until stopped.

    Raises
    ------
    XlfactorError
        Without tokens (unless ``insecure_local`` on a loopback host), with ``insecure_local``
        on any other host, or with a data root that is not a folder or a malformed URL prefix.
    """
    config = config or ServerConfig()
    lines = check_config(config, host)
    environment = server_environment(config=config)
    try:
        import uvicorn
    except ImportError:
        raise XlfactorError("xlwings Server is not installed: pip install 'xlfactor[server]'") from None
    for line in [*lines, f"listening on http://{host}:{port} (Ctrl+C stops)"]:
        print(f"xlfactor serve: {line}", file=sys.stderr)
    os.environ.update(environment)
    logging.getLogger("xlfactor").setLevel(min(logging.INFO, logging.getLogger("xlfactor").getEffectiveLevel()))
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run("xlfactor.excel.server:create_app", factory=True, host=host, port=port, log_level="warning")
