"""The catalog machinery: registry, argument help, the never-raising wrapper, shared parsing.

:func:`worksheet_function` registers a function in :data:`CATALOG` (name, arguments with
help, return shape, description). Every front end is generated from that catalog: the
xlwings classic UDF module, the xlwings Server custom functions, ``xlfactor functions``
and the docs' reference page. The functions themselves live in the sibling modules of this
package, one module per area (``portfolio_risk`` ...); each registers its own argument help
with :func:`register_arguments`.

On the team server every call runs under an :class:`AccessPolicy` (:func:`access_policy`):
the shared argument parsing (:func:`snapshot_argument`, :func:`cache_argument`,
:func:`track_folder_argument`) resolves local paths inside the server's data root and admits
URLs under its allowed prefixes only, before anything touches the disk or the network.
Without a policy (desktop, Python, CLI) any path or URL is the user's own to name.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.functions.ranges import (
    optional_date,
    optional_flag,
    optional_text,
    parse_holdings_range,
    text_list,
)
from xlfactor.risk.holdings import Holdings, PortfolioWeights, align
from xlfactor.risk.model_data import FactorModelData, factor_model_data
from xlfactor.snapshot.memo import memo
from xlfactor.snapshot.sources import DEMO_NAME, load_snapshot, public_snapshot_url

ERROR_PREFIX = "#XLFACTOR"
MAX_MESSAGE = 250  # Excel text results over 255 characters fail in older versions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Argument:
    """One worksheet-function argument."""

    name: str
    help: str
    optional: bool
    is_range: bool  # a multi-cell range (holdings, instruments) rather than one cell


@dataclass(frozen=True)
class WorksheetFunction:
    """A catalog entry: what Excel shows and what the adapters are generated from."""

    name: str
    description: str
    arguments: tuple[Argument, ...]
    returns: str  # "number", "table", "number or table", "text or table"
    function: Callable[..., Any]  # the safe callable (never raises)

    @property
    def signature(self) -> str:
        """``OF_VAR(holdings, [confidence], ...)`` as shown in the reference."""
        parts = [f"[{a.name}]" if a.optional else a.name for a in self.arguments]
        return f"{self.name}({', '.join(parts)})"


CATALOG: dict[str, WorksheetFunction] = {}

# Help texts shared by every function that takes the argument (written once).
ARGUMENT_HELP = {
    "holdings": "Two-column range: ticker, value (signed dollars); header 'allocation' means weights as given.",
    "benchmark": "Benchmark holdings range (ticker, value); default: the cap-weighted model universe.",
    "snapshot": "Snapshot folder or URL; default: the embedded simulated demo.",
    "as_of": "Snapshot date (YYYY-MM-DD or a date cell); default: latest.",
    "ignore_unknown": "TRUE to treat tickers outside the universe as cash instead of an error.",
    "group": "Factor group: market, style, sector or industry; default: all factors.",
    "confidence": "VaR confidence, e.g. 0.95 (default) or 0.99.",
    "horizon_days": "Horizon in trading days (default 1); OF_POSITIONSIZE also takes daily, monthly (21), annual (252).",
    "active": "TRUE for active (benchmark-relative) figures.",
    "factor": "Factor id, e.g. momentum or sector:Energy; omit for the whole table.",
    "ticker": "One ticker; omit for the table of all holdings.",
    "date": "Return date to attribute (YYYY-MM-DD); default: latest.",
    "instruments": "Range of hedge instruments: universe tickers or index/ETF tickers (e.g. SPY).",
    "objective": "OF_HEDGE: risk (default), te, factor or beta. OF_OPTIMIZE: tracking_error (default), total_risk, alpha or trades.",
    "factor1": "First factor id.",
    "factor2": "Second factor id.",
    "field": "as_of_date, universe, model_version, source, simulated, tickers, factors; omit for all.",
}
_RANGE_ARGUMENTS = {"holdings", "benchmark", "instruments"}


def register_arguments(help_texts: dict[str, str], ranges: tuple[str, ...] = ()) -> None:
    """Add the help of a module's own arguments (written once) before it registers functions.

    Parameters
    ----------
    help_texts : dict of str to str
        Argument name to its one-line help. A name already registered must keep its text.
    ranges : tuple of str
        The names among them that take a multi-cell range rather than one cell.
    """
    for name, text in help_texts.items():
        if ARGUMENT_HELP.get(name, text) != text:
            raise ValueError(f"argument {name!r} already has another help text")
        ARGUMENT_HELP[name] = text
    _RANGE_ARGUMENTS.update(ranges)


def worksheet_function(returns: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` in the catalog and return its never-raising version."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        parameters = inspect.signature(func).parameters.values()
        arguments = tuple(
            Argument(
                name=p.name,
                help=ARGUMENT_HELP[p.name],
                optional=p.default is not inspect.Parameter.empty,
                is_range=p.name in _RANGE_ARGUMENTS,
            )
            for p in parameters
        )

        @functools.wraps(func)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                result = func(*args, **kwargs)
            except UnknownTickersError as exc:
                shown = ", ".join(exc.tickers[:5]) + (", ..." if len(exc.tickers) > 5 else "")
                return _error(f"{len(exc.tickers)} unknown tickers: {shown} (ignore_unknown=TRUE treats them as cash)")
            except XlfactorError as exc:
                policy = current_policy()
                return _error(str(exc) if policy is None else policy.shown(str(exc)))
            except Exception as exc:  # noqa: BLE001 - a cell must never show a traceback
                logger.debug("internal error in %s", func.__name__, exc_info=True)
                if current_policy() is not None:  # a server caller sees the kind, the server log has the rest
                    return _error(f"internal error ({type(exc).__name__}); the server log has the details")
                return _error(f"internal error ({type(exc).__name__}: {exc})")
            if isinstance(result, float) and not math.isfinite(result):
                return _error("result is undefined (no risk in the benchmark or portfolio)")
            return result

        description = inspect.getdoc(func).split("\n\n")[0].replace("\n", " ")
        CATALOG[func.__name__] = WorksheetFunction(func.__name__, description, arguments, returns, safe)
        return safe

    return register


def _error(message: str) -> str:
    text = f"{ERROR_PREFIX}: {' '.join(str(message).split())}"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


# ---------------------------------------------------------------- access policy (team server)

USERS_FOLDER = "users"  # <data root>/users/<user>/ holds each server user's track folders
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class AccessPolicy:
    """What one caller of the team server may name as a snapshot, track folder or semantic cache.

    Set per request by the server (:func:`access_policy`); absent for desktop, Python and CLI
    use, where the user is on their own machine and any path or URL is theirs to name. The
    catalog's argument parsing consults it before anything touches the disk or network.

    Parameters
    ----------
    user : str
        The authenticated user (a plain name: letters, digits, ``.``, ``_``, ``-``).
    data_root : Path or None
        Local snapshots and semantic caches resolve inside it; track folders inside
        ``data_root/users/<user>``. ``None``: no local path is allowed.
    allowed_urls : tuple of str
        URL prefixes (``https://host/path/``) that may be fetched; others are refused.
    """

    user: str
    data_root: Path | None = None
    allowed_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _USER_NAME.fullmatch(self.user) or self.user in (".", ".."):
            raise XlfactorError(f"server user name {self.user!r} is not a plain name (letters, digits, '.', '_', '-')")
        for prefix in self.allowed_urls:
            url_prefix_parts(prefix)  # raises on a malformed prefix

    def location(self, text: str, what: str) -> str:
        """A snapshot or semantic-cache argument as the loader should see it (URL or absolute path inside the root).

        A snapshot name (``openfactor-us1000``) is the public URL it stands for, allowed only
        when an ``--allow-url`` prefix covers it. Local paths must be inside the data root and
        outside its ``users/`` folder (the users' own track areas); every refusal has the
        same message whether or not the path exists.
        """
        if what == "snapshot" and (public := public_snapshot_url(text)) is not None:
            if not url_allowed(public, self.allowed_urls):
                raise XlfactorError(
                    f"snapshot: {text} is OpenFactor's public snapshot; this server fetches it only when "
                    "--allow-url covers the OpenFactor public address"
                )
            return public
        scheme = _SCHEME.match(text)
        if scheme and scheme.group(1).lower() != "file":
            if not url_allowed(text, self.allowed_urls):
                raise XlfactorError(f"{what}: this server fetches URLs only under its --allow-url prefixes")
            return text
        if scheme:  # file:// is a local path like any other
            text = urllib.request.url2pathname(urllib.parse.urlsplit(text).path)
        if self.data_root is None:
            raise XlfactorError(f"{what}: this server has no --data-root, so local paths are not allowed")
        refusal = f"{what}: local paths on this server must be inside its data root, outside its {USERS_FOLDER}/ folder"
        found = _inside(text, self.data_root, refusal)
        root = os.path.realpath(self.data_root)
        lexical = os.path.normpath(os.path.join(root, text.strip()))
        if any(_first_part(path, root).casefold() == USERS_FOLDER for path in (lexical, found)):
            raise XlfactorError(refusal)
        return found

    def shown(self, message: str) -> str:
        """``message`` with the data root's absolute path taken out (paths relative to the root)."""
        if self.data_root is None:
            return message
        for root in sorted({os.path.realpath(self.data_root), str(self.data_root)}, key=len, reverse=True):
            message = message.replace(root + os.sep, "").replace(root, ".")
        return message

    def track_folder(self, text: str) -> str:
        """A track-folder argument: a folder inside the caller's own area ``data_root/users/<user>``."""
        if self.data_root is None:
            raise XlfactorError("track_folder: this server has no --data-root, so track folders are not available")
        if _SCHEME.match(text):
            raise XlfactorError("track_folder: a track folder on this server is a folder name, not a URL")
        area = self.data_root / USERS_FOLDER / self.user
        return _inside(text, area, f"track_folder: must be a folder in your own track area on this server ({USERS_FOLDER}/{self.user}/)")


_POLICY: contextvars.ContextVar[AccessPolicy | None] = contextvars.ContextVar("xlfactor_access_policy", default=None)


def current_policy() -> AccessPolicy | None:
    """The access policy of the call being served, or ``None`` outside the server."""
    return _POLICY.get()


@contextlib.contextmanager
def access_policy(policy: AccessPolicy | None) -> Iterator[None]:
    """Apply ``policy`` to the worksheet-function calls made inside the ``with`` block (this thread/task only)."""
    token = _POLICY.set(policy)
    try:
        yield
    finally:
        _POLICY.reset(token)


def url_prefix_parts(prefix: str) -> tuple[str, str, str]:
    """``(scheme, host[:port], path ending in /)`` of an ``--allow-url`` prefix; raises on a malformed one."""
    parts = urllib.parse.urlsplit(prefix)
    if not parts.scheme or not parts.netloc or parts.username or parts.password or parts.query or parts.fragment:
        raise XlfactorError(f"--allow-url {prefix!r} must look like https://host/path/ (no user, query or fragment)")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return parts.scheme.lower(), parts.netloc.lower(), path


def url_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """True if ``url`` lies under one of ``prefixes`` (whole path segments; no ``..``, escapes or credentials)."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    if parts.username or parts.password or parts.query or parts.fragment or "\\" in url:
        return False
    path = parts.path
    if re.search(r"%(2e|2f|5c|00)", path, flags=re.IGNORECASE) or any(s in (".", "..") for s in path.split("/")):
        return False
    target = path if path.endswith("/") else path + "/"  # the prefix itself is allowed too
    for prefix in prefixes:
        scheme, host, root = url_prefix_parts(prefix)
        if parts.scheme.lower() == scheme and netloc == host and target.startswith(root):
            return True
    return False


def _inside(text: str, base: Path, refusal: str) -> str:
    """``text`` (relative to ``base``, or absolute) as a real path inside ``base``; else ``refusal``.

    The check is lexical first, so a path outside is refused without touching the disk and
    the message is the same whether or not it exists; symbolic links are then resolved and
    must stay inside too.
    """
    if "\x00" in text or not text.strip():
        raise XlfactorError(refusal)
    root = os.path.realpath(base)
    joined = os.path.normpath(os.path.join(root, text.strip()))
    if not _within(joined, root):
        raise XlfactorError(refusal)
    real = os.path.realpath(joined)
    if not _within(real, root):
        raise XlfactorError(refusal)
    return real


def _first_part(path: str, root: str) -> str:
    """The first folder of ``path`` below ``root`` (``""`` for the root itself)."""
    relative = os.path.relpath(path, root)
    return "" if relative == os.curdir else relative.split(os.sep)[0]


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives
        return False


def snapshot_argument(snapshot: object) -> str | None:
    """The snapshot argument as text, checked against the server's access policy (if any)."""
    text = optional_text(snapshot)
    policy = current_policy()
    if policy is None or text is None or text == DEMO_NAME:
        return text
    return policy.location(text, "snapshot")


def cache_argument(semantic_cache: object, default_name: str) -> str | None:
    """A semantic-cache argument as text; on the server a blank one is ``default_name`` in the data root."""
    text = optional_text(semantic_cache)
    policy = current_policy()
    if policy is None:
        return text
    return policy.location(text if text is not None else default_name, "semantic_cache")


def track_folder_argument(track_folder: object) -> str:
    """The track-folder argument as text (required); on the server, a folder in the caller's own area."""
    text = optional_text(track_folder)
    if text is None:
        raise XlfactorError("track_folder is required (the folder xlfactor track writes)")
    policy = current_policy()
    return text if policy is None else policy.track_folder(text)


# ---------------------------------------------------------------- shared argument handling


@dataclass(frozen=True, eq=False)
class BookContext:
    """The parsed common arguments of a worksheet function: model data, weights and benchmark weights (n_assets,)."""

    data: FactorModelData
    weights: np.ndarray
    benchmark: np.ndarray


def book_context(
    holdings: object,
    snapshot: object = None,
    as_of: object = None,
    ignore_unknown: object = None,
    benchmark: object = None,
) -> BookContext:
    """Parse the common arguments: the model data and the aligned portfolio and benchmark weights."""
    snap = load_snapshot(snapshot_argument(snapshot), optional_date(as_of) or "latest")
    data = factor_model_data(snap)
    ignore = optional_flag(ignore_unknown, "ignore_unknown")
    universe = str(data.snapshot.metadata.get("universe", ""))
    held = _aligned(parse_holdings_range(holdings), data.ticker_index, "portfolio", universe)
    if len(held.missing) and not ignore:
        raise UnknownTickersError(list(held.missing["ticker"]))
    bench = data.benchmark_weights
    if benchmark is not None and not _blank_range(benchmark):
        aligned = _aligned(parse_holdings_range(benchmark, "benchmark"), data.ticker_index, "benchmark", universe)
        if len(aligned.missing) and not ignore:
            raise UnknownTickersError(list(aligned.missing["ticker"]))
        bench = aligned.weights
    return BookContext(data, held.weights, bench)


ALIGNED_HOLDINGS = 256
"""Aligned (parsed range, universe) pairs kept: a warm cell does no parsing and no alignment."""
_ALIGNED = memo("aligned holdings", ALIGNED_HOLDINGS)


def _aligned(holdings: Holdings, universe: pd.Index, name: str = "portfolio", universe_name: str = "") -> PortfolioWeights:
    """``align`` memoized on the (memoized) parsed range and the universe: a warm cell does no parsing."""
    def compute() -> tuple[Holdings, pd.Index, PortfolioWeights]:
        held = align(holdings, universe, name, universe_name)
        held.weights.flags.writeable = False
        return holdings, universe, held  # the references keep the ids from being reused

    key = (id(holdings), id(universe), name)
    return _ALIGNED.get_or_compute(key, compute, fresh=lambda hit: hit[0] is holdings and hit[1] is universe)[2]


def _blank_range(value: object) -> bool:
    return not text_list(value)


def _factor_index(data: FactorModelData, factor: str) -> int:
    """Column of ``factor`` in the model (see :meth:`FactorModelData.factor_index`)."""
    return data.factor_index(factor)


def snapshot_model_data(snapshot: object, as_of: object) -> FactorModelData:
    """The FactorModelData of a snapshot argument (loaded once per process)."""
    return factor_model_data(load_snapshot(snapshot_argument(snapshot), optional_date(as_of) or "latest"))


def reference_markdown() -> str:
    """The function reference (one table) generated from the catalog, as on docs/reference/functions.md."""
    lines = ["| function | returns | description |", "|---|---|---|"]
    for entry in CATALOG.values():
        lines.append(f"| `{entry.signature}` | {entry.returns} | {entry.description} |")
    lines += ["", "| argument | meaning |", "|---|---|"]
    used = {a.name for entry in CATALOG.values() for a in entry.arguments}
    lines += [f"| `{name}` | {text} |" for name, text in ARGUMENT_HELP.items() if name in used]
    return "\n".join(lines) + "\n"


def reference_text() -> str:
    """The catalog as plain text for ``xlfactor functions``."""
    blocks = []
    for entry in CATALOG.values():
        lines = [f"{entry.signature} -> {entry.returns}", f"    {entry.description}"]
        lines += [f"    {a.name}{' (optional)' if a.optional else ''}: {a.help}" for a in entry.arguments]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
