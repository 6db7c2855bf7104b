"""The semantic label cache: one row per ticker, one 0/1 column per theme id (OpenFactor's shape).

``ticker,grid_scale_battery_storage,obesity_drug_supply_chain`` with cells ``1``, ``0``
or blank (not yet asked). Labels are reused; only missing ticker x theme cells are sent
to the client. Rows of tickers that left the universe are kept (harmless, and useful if
the ticker comes back). Caches are read through fsspec (paths, ``file://``, ``memory://``,
``s3://``...); remote ones through :func:`xlfactor.snapshot.remote.read_url` (size caps, one
deadline, no redirects). A write-back merges under a lock (read the stored cache, add the new
cells, write atomically), so concurrent runs keep every label; a remote ``http(s)://`` /
``r2://`` or read-only cache is left unchanged, and the discovery result says so. A cache
cut off mid-line is refused, never half read.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import atomic_write
from xlfactor.conventions import normalize_ticker
from xlfactor.errors import XlfactorError
from xlfactor.semantic.client import SemanticError

CACHE_FILE = "semantic_factors.csv"


def theme_id(name: str) -> str:
    """Cache column id of a theme name: lower case, words joined by ``_``.

    >>> theme_id("Grid-scale battery storage")
    'grid_scale_battery_storage'
    """
    slug = re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")
    if not slug:
        raise SemanticError(f"theme name {name!r} has no letters or digits")
    return slug


def default_cache_path() -> Path:
    """``semantic_factors.csv`` in the local xlfactor cache folder (``$XLFACTOR_CACHE_DIR``)."""
    from xlfactor.snapshot.sources import cache_dir

    return cache_dir() / CACHE_FILE


READ_ONLY_SCHEMES = frozenset({"http", "https", "r2"})
"""Caches at these URLs are read, never written back."""
DOWNLOAD_DEADLINE_SECONDS = 120.0
"""Total time allowed to download a remote cache (``XLFACTOR_DOWNLOAD_DEADLINE`` may shorten it)."""
LOCK_TIMEOUT_SECONDS = 60.0
"""How long a write-back waits for another run that is merging into the same local cache."""

_MERGE_LOCKS: dict[str, threading.Lock] = {}
_MERGE_LOCKS_GUARD = threading.Lock()


def public_url(url: str) -> str:
    """``r2://openfactor-public/<key>`` as its public https URL; other URLs unchanged.

    The snapshot layer's :func:`~xlfactor.snapshot.remote.resolve_public_url`, with its
    refusal said as a :class:`SemanticError`.

    >>> public_url("r2://openfactor-public/semantic_factors.csv")
    'https://openfactor-data.rallies.ai/semantic_factors.csv'
    """
    from xlfactor.errors import DownloadError
    from xlfactor.snapshot.remote import PUBLIC_BUCKET, resolve_public_url

    try:
        return resolve_public_url(url)
    except DownloadError:
        raise SemanticError(f"semantic cache {url}: r2:// is read only for the public buckets ({PUBLIC_BUCKET})") from None


@dataclass
class ThemeCache:
    """Labels in memory: ``labels`` is ticker x theme id, values 1.0, 0.0 or NaN (not asked).

    ``save`` merges: under a lock it re-reads the stored cache, adds the cells answered
    since this one was read (:meth:`update`) and writes the result, so concurrent runs on
    one cache keep every label.
    """

    location: str
    labels: pd.DataFrame
    writable: bool
    note: str = ""
    changed: bool = field(default=False, repr=False)
    answered: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)  # theme -> ticker -> 0/1, not yet saved

    def missing(self, theme: str, tickers: np.ndarray) -> np.ndarray:
        """The tickers (in the order given) with no label yet for ``theme``."""
        if theme not in self.labels.columns:
            return np.asarray(tickers)
        known = self.labels[theme].reindex(tickers)
        return np.asarray(tickers)[known.isna().to_numpy()]

    def update(self, theme: str, answers: dict[str, int]) -> None:
        """Store 0/1 answers for ``theme`` (adds rows and the column as needed)."""
        if not answers:
            return
        self.labels = _with_cells(self.labels, theme, answers)
        self.answered.setdefault(theme, {}).update(answers)
        self.changed = True

    def members(self, theme: str) -> list[str]:
        """Tickers labelled 1 for ``theme`` (sorted)."""
        if theme not in self.labels.columns:
            return []
        column = self.labels[theme]
        return sorted(column.index[column.to_numpy() == 1.0])

    def save(self) -> str:
        """Merge the new answers into the stored cache if writable; return a note of what happened."""
        if not self.changed:
            return ""
        if not self.writable:
            return f"semantic cache {self.location} is {self.note or 'read-only'}: new labels were not written back"
        try:
            with _merge_lock(self.location):
                stored = _read_stored(self.location)
                merged = stored if stored is not None else _empty()
                for theme, answers in self.answered.items():
                    merged = _with_cells(merged, theme, answers)
                frame = merged.sort_index().astype("Int8")
                frame.index.name = "ticker"
                _write(self.location, frame.to_csv().encode())
        except (OSError, XlfactorError) as exc:  # the answers are still used; only the write-back failed
            detail = " ".join(str(exc).split())[:160]
            return f"semantic cache {self.location} could not be written back ({detail}); new labels were used but not kept"
        self.labels = merged
        self.answered = {}
        self.changed = False
        return f"semantic cache {self.location} updated"


def _with_cells(labels: pd.DataFrame, theme: str, answers: dict[str, int]) -> pd.DataFrame:
    """``labels`` with the cells ``answers`` of ``theme`` set (rows and the column added as needed)."""
    new_rows = pd.Index(answers).difference(labels.index)
    if len(new_rows):
        labels = labels.reindex(labels.index.append(new_rows))
    else:
        labels = labels.copy()
    if theme not in labels.columns:
        labels[theme] = np.nan
    labels.loc[list(answers), theme] = np.array(list(answers.values()), dtype=float)
    return labels


def _is_url(text: str) -> str | None:
    """The lower-case scheme of a URL (``memory``, ``s3``...), None for a local path."""
    scheme = re.match(r"^([a-z][a-z0-9+.-]*)://", text, flags=re.IGNORECASE)
    return scheme.group(1).lower() if scheme else None


def _local_path(text: str) -> Path | None:
    scheme = _is_url(text)
    if scheme is None:
        return Path(text).expanduser()
    if scheme == "file":
        return Path(urllib.request.url2pathname(urllib.parse.urlparse(text).path))
    return None


@contextlib.contextmanager
def _merge_lock(location: str) -> Iterator[None]:
    """An OS file lock beside a local cache (``<cache>.lock``: other processes wait); a process lock for a URL."""
    with _MERGE_LOCKS_GUARD:
        process_lock = _MERGE_LOCKS.setdefault(location, threading.Lock())
    with process_lock:
        path = _local_path(location)
        if path is None:
            yield
            return
        import filelock

        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with filelock.FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS):
                yield
        except filelock.Timeout:
            raise SemanticError(f"semantic cache {location} is being written by another run (waited {LOCK_TIMEOUT_SECONDS:g} s)") from None


def _read_stored(location: str) -> pd.DataFrame | None:
    """The labels stored at ``location`` now (None when there is no file yet)."""
    raw = _read_bytes(location)
    return None if raw is None else _parse(raw, location)


def _read_bytes(location: str) -> bytes | None:
    """The bytes of the cache at ``location`` (path or URL); None when it does not exist."""
    path = _local_path(location)
    if path is not None:
        if not path.exists():
            return None
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SemanticError(f"semantic cache {location}: cannot be read ({exc.strerror})") from None
    return _read_url(location)


def _read_url(location: str) -> bytes | None:
    """The bytes of a remote cache, or None if it does not exist.

    Read through :func:`xlfactor.snapshot.remote.read_url`: its size caps, one deadline (at
    most :data:`DOWNLOAD_DEADLINE_SECONDS`) and no redirects apply.
    """
    from dataclasses import replace

    from xlfactor.errors import DownloadError
    from xlfactor.snapshot.limits import SourceLimits
    from xlfactor.snapshot.remote import display_url, read_url

    url = public_url(location)
    limits = SourceLimits.from_env()
    limits = replace(limits, deadline_seconds=min(limits.deadline_seconds, DOWNLOAD_DEADLINE_SECONDS))
    try:
        return read_url(url, limits=limits)
    except DownloadError as exc:
        raise SemanticError(f"semantic cache {display_url(location)}: {exc.reason}") from None


def _write(location: str, data: bytes) -> None:
    path = _local_path(location)
    if path is not None:
        atomic_write(path, lambda handle: handle.write(data))
        return
    import fsspec

    with fsspec.open(location, "wb") as handle:  # object stores replace an object whole on close
        handle.write(data)


def read_cache(location: str | os.PathLike[str] | None = None, must_exist: bool = False) -> ThemeCache:
    """Open the cache at ``location``: a path or an fsspec URL (default :func:`default_cache_path`).

    ``file://``, ``memory://``, ``s3://``, ``gs://`` and ``az://`` caches are read and
    written back (the cloud schemes need their fsspec package: ``s3fs``, ``gcsfs``,
    ``adlfs``); ``http(s)://`` and ``r2://openfactor-public/...`` (read through its public
    https URL, :func:`public_url`) are read-only.

    A missing cache is an empty cache (created on the first write-back) unless
    ``must_exist``: readers of themes (``OF_THEMES``) refuse it in one line.

    Raises
    ------
    SemanticError
        If the cache is absent (with ``must_exist``), cannot be read or parsed, looks
        cut off, has no ``ticker`` column or a cell other than 0, 1 or blank.
    """
    text = str(location) if location is not None else str(default_cache_path())
    scheme = _is_url(text)
    if scheme is not None and scheme != "file" and scheme not in READ_ONLY_SCHEMES:
        import fsspec

        if scheme not in fsspec.available_protocols():
            raise SemanticError(f"semantic cache {text}: {scheme}:// is not a known URL scheme")
    raw = _read_bytes(text)
    path = _local_path(text)
    if raw is None:
        if must_exist:
            raise SemanticError(f"semantic cache {text} does not exist (run `xlfactor discover` to create it, or name another cache)")
        if path is None:
            return ThemeCache(text, _empty(), writable=scheme not in READ_ONLY_SCHEMES, note="remote" if scheme in READ_ONLY_SCHEMES else "")
        parent = next((p for p in path.parents if p.exists()), Path("."))
        writable = os.access(parent, os.W_OK)
        return ThemeCache(str(path), _empty(), writable=writable, note="" if writable else "read-only")
    labels = _parse(raw, text)
    if path is None:
        read_only = scheme in READ_ONLY_SCHEMES
        return ThemeCache(text, labels, writable=not read_only, note="remote" if read_only else "")
    writable = bool(path.stat().st_mode & 0o222) and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    return ThemeCache(str(path), labels, writable=writable, note="" if writable else "read-only")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(index=pd.Index([], name="ticker", dtype=object))


def _cut_line(text: str) -> int | None:
    """The 1-based number of the first line whose field count differs from the header's (a cut file), else None."""
    rows = list(csv.reader(io.StringIO(text)))
    width = len(rows[0]) if rows else 0
    for number, row in enumerate(rows, start=1):
        if row and len(row) != width:
            return number
    if rows and not text.endswith(("\n", "\r")) and not rows[-1][-1].strip():
        return len(rows)  # "TSLA,1," without a line end: cut after a separator
    return None


def _parse(raw: bytes, where: str) -> pd.DataFrame:
    if not raw.strip():
        return _empty()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SemanticError(f"semantic cache {where}: cannot be parsed ({exc})") from None
    cut = _cut_line(text)
    if cut is not None:
        raise SemanticError(
            f"semantic cache {where}: line {cut} has a different number of cells than the header; the file looks cut off "
            "(restore it, or delete it to start a new cache)"
        )
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise SemanticError(f"semantic cache {where}: cannot be parsed ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if "ticker" not in frame.columns:
        raise SemanticError(f"semantic cache {where}: no `ticker` column")
    tickers = frame.pop("ticker").map(normalize_ticker)
    if tickers.duplicated().any():  # messages name lines and columns, never cell contents (the file may not be a cache)
        line = int(np.flatnonzero(tickers.duplicated().to_numpy())[0]) + 2
        raise SemanticError(f"semantic cache {where}: line {line} repeats a ticker of an earlier line")
    labels = pd.DataFrame(index=pd.Index(tickers.to_numpy(dtype=object), name="ticker"))
    for number, column in enumerate(frame.columns, start=2):
        cells = frame[column].str.strip().str.replace(r"\.0$", "", regex=True)
        bad = ~cells.isin(["", "0", "1"])
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise SemanticError(f"semantic cache {where}: line {line}, column {number} is not 0, 1 or blank")
        labels[column] = cells.replace("", np.nan).astype(float).to_numpy()
    return labels


def semantic_factor_members(name_or_id: str, semantic_cache: str | os.PathLike[str] | None = None) -> list[str]:
    """Tickers labelled members of a cached theme, by readable name or cache column id.

    Parameters
    ----------
    name_or_id : str
        ``"Grid-scale battery storage"`` or ``"grid_scale_battery_storage"``.
    semantic_cache : path or URL, optional
        The cache; default the local one (:func:`default_cache_path`).

    Returns
    -------
    list of str
        Member tickers, sorted (including tickers no longer in any universe).

    Raises
    ------
    SemanticError
        If the theme is not in the cache (the message lists the themes it has).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> cache = Path(tempfile.mkdtemp()) / "themes.csv"
    >>> labels = {"ticker": ["SIM0005", "SIM0006", "SIM0018"], "grid_scale_battery_storage": [1, 0, 1]}
    >>> pd.DataFrame(labels).to_csv(cache, index=False)
    >>> xf.semantic_factor_members("Grid-scale battery storage", cache)
    ['SIM0005', 'SIM0018']
    """
    cache = read_cache(semantic_cache, must_exist=True)
    key = str(name_or_id).strip()
    key = key if key in cache.labels.columns else theme_id(key)
    if key not in cache.labels.columns:
        known = ", ".join(cache.labels.columns[:8]) or "none"
        raise SemanticError(f"theme {name_or_id!r} is not in the semantic cache {cache.location} (themes: {known})")
    return cache.members(key)
