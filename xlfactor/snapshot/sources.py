"""Where snapshots come from: the embedded demo, a folder, a URL prefix, or a named public snapshot.

* ``None`` / ``"xlfactor-demo"``: the embedded simulated market (offline, fast).
* A folder path: read in place.
* A URL prefix (``https://``, ``http://``, ``file://``, ``memory://``, ``s3://``, ``gs://``,
  ``az://``, ``r2://openfactor-public/...``): read through fsspec
  (:mod:`xlfactor.snapshot.remote`), downloaded once into the local cache (a folder per
  source and date, renamed into place only when complete, with a checksum manifest).
* A name ``openfactor-<universe>`` (``"openfactor-us1000"``): OpenFactor's public snapshot
  ``<base>/factors/<universe>``, laid out as OpenFactor publishes it (``latest.json``, then
  ``latest/`` or ``date=YYYY-MM-DD/``).

Every name a source supplies (``latest``, a date, manifest entries) must be a plain name,
and every cache write resolves inside the cache folder. Downloads are bounded by
:class:`~xlfactor.snapshot.limits.SourceLimits`. Every folder gets a fast binary copy in
the cache, checked against its own checksum and its sources' before it is trusted.
Loaded snapshots are kept for the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import urllib.error
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from xlfactor._files import make_temp_folder, replace_folder
from xlfactor.conventions import as_of_date
from xlfactor.errors import DownloadError, SnapshotError, XlfactorError
from xlfactor.snapshot import layout
from xlfactor.snapshot.binary import binary_problem, load_binary, save_binary
from xlfactor.snapshot.limits import SourceLimits
from xlfactor.snapshot.manifest import file_digest, write_manifest
from xlfactor.snapshot.memo import memo
from xlfactor.snapshot.packed import DEMO_FILE, read_packed
from xlfactor.snapshot.reader import read_snapshot_folder
from xlfactor.snapshot.remote import (
    display_url,
    download_url,
    is_url,
    public_base_url,
    read_url,
    resolve_public_url,
    url_filesystem,
)
from xlfactor.snapshot.snapshot import Snapshot
from xlfactor.snapshot.validation import plain_date, plain_name, relative_name

logger = logging.getLogger(__name__)

DEMO_NAME = "xlfactor-demo"
CACHE_ENV = "XLFACTOR_CACHE_DIR"
NAMED_PREFIX = "openfactor-"
"""Snapshot names starting with this are OpenFactor universes in its public bucket."""
_NAMED = re.compile(r"openfactor-[a-z0-9][a-z0-9_-]{0,99}")

Progress = Callable[[str, int, int | None], None]
"""Called as ``progress(file_name, bytes_done, bytes_total_or_None)`` while downloading."""

LOADED_SNAPSHOTS = 8
"""Snapshots a process keeps loaded (least recently used dropped first)."""
_loaded = memo("loaded snapshots", LOADED_SNAPSHOTS)


def cache_dir() -> Path:
    """The local cache folder: ``$XLFACTOR_CACHE_DIR``, else the platform's user cache folder.

    The platform folder comes from :mod:`platformdirs` (``~/.cache/xlfactor`` on Linux,
    ``~/Library/Caches/xlfactor`` on macOS, ``%LOCALAPPDATA%/xlfactor/Cache`` on Windows).
    """
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("xlfactor", appauthor=False))


def named_snapshot_url(name: str) -> str | None:
    """The URL prefix of a named public snapshot, or None if ``name`` is not one.

    ``"openfactor-us1000"`` -> ``<public base>/factors/openfactor-us1000`` (the base is
    :data:`~xlfactor.snapshot.remote.PUBLIC_BASE_URL`, or ``$XLFACTOR_OPENFACTOR_URL``).
    A local folder of that name, when one exists, wins.

    Examples
    --------
    >>> named_snapshot_url("openfactor-us1000")
    'https://openfactor-data.rallies.ai/factors/openfactor-us1000'
    >>> named_snapshot_url("./my-folder") is None
    True
    """
    text = str(name)
    if Path(text).exists():
        return None
    return public_snapshot_url(text)


def public_snapshot_url(name: str) -> str | None:
    """The URL prefix a snapshot name (``openfactor-<universe>``) stands for, whatever folders exist; else None.

    The team server uses this: there a name is always the public URL, never a local folder.

    Examples
    --------
    >>> public_snapshot_url("openfactor-us1000")
    'https://openfactor-data.rallies.ai/factors/openfactor-us1000'
    >>> public_snapshot_url("my-folder") is None
    True
    """
    text = str(name)
    return f"{public_base_url()}/factors/{text}" if _NAMED.fullmatch(text) else None


def load_snapshot(
    source: str | os.PathLike[str] | None = None,
    as_of: str = "latest",
    *,
    progress: Progress | None = None,
    limits: SourceLimits | None = None,
) -> Snapshot:
    """Load a risk model snapshot (once per process; later calls reuse it).

    Parameters
    ----------
    source : str or path, optional
        ``None`` (or ``"xlfactor-demo"``) for the embedded simulated market; a name
        ``"openfactor-<universe>"`` for OpenFactor's public snapshot; a folder in the
        OpenFactor snapshot layout (or a folder holding ``latest.json`` and
        ``date=YYYY-MM-DD`` sub-folders); or a URL prefix of one (``https``, ``http``,
        ``file``, ``memory``, ``s3``, ``gs``, ``az``, ``r2://openfactor-public/...``).
    as_of : str
        ``"latest"`` or an ISO date ``YYYY-MM-DD``.
    progress : callable, optional
        Download progress callback, see :data:`Progress`.
    limits : SourceLimits, optional
        Download deadline and size caps (default: :meth:`SourceLimits.from_env`).

    Returns
    -------
    Snapshot
        Validated; ``metadata["source"]`` says where it came from and
        ``metadata["simulated"]`` whether the market is simulated.

    Raises
    ------
    SnapshotError
        If the source cannot be found, downloaded or validated (names the file and why).

    Examples
    --------
    >>> import xlfactor as xf
    >>> snap = xf.load_snapshot()            # the embedded simulated market, offline
    >>> snap.as_of, len(snap.tickers), snap.is_simulated
    ('2026-10-30', 1000, True)
    >>> xf.load_snapshot("xlfactor-demo") is snap   # loaded once per process
    True
    """
    try:
        as_of = as_of_date(as_of) or "latest"
    except ValueError as exc:
        raise XlfactorError(str(exc)) from None
    if source is None or str(source) == DEMO_NAME:
        demo = _memoized((DEMO_NAME, "latest"), _demo_fingerprint, _load_demo)
        if as_of not in ("latest", None) and as_of != demo.as_of:
            raise SnapshotError(DEMO_NAME, f"the demo snapshot is as of {demo.as_of}, not {as_of}")
        return demo
    limits = limits or SourceLimits.from_env()
    text = str(source)
    url = named_snapshot_url(text) or (text if is_url(text) else None)
    if url is not None:
        try:
            folder = _fetch_remote(resolve_public_url(url).rstrip("/"), as_of, progress, limits)
        except DownloadError as exc:
            raise SnapshotError(display_url(exc.url), exc.reason) from None
        return _load_folder(folder, source=text, limits=limits)
    return _load_folder(resolve_folder(Path(text), as_of), source=str(Path(text).resolve()), limits=limits)


def clear_loaded() -> None:
    """Forget the snapshots loaded by this process (the next load reads them again)."""
    _loaded.clear()


def loaded_sources() -> list[tuple[str, str]]:
    """The ``(source, as_of)`` keys of the snapshots this process holds, least recently used first."""
    return _loaded.keys()


def _memoized(key: tuple[str, str], fingerprint: Callable[[], object], load: Callable[[], Snapshot]) -> Snapshot:
    stamp = fingerprint()
    return _loaded.get_or_compute(key, lambda: (stamp, load()), fresh=lambda hit: hit[0] == stamp)[1]


def _demo_fingerprint() -> object:
    try:
        info = DEMO_FILE.stat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns)


def _load_demo() -> Snapshot:
    """The embedded simulated market: the packed file shipped in the package, read like any other."""
    snapshot = read_packed(DEMO_FILE)
    snapshot.metadata["source"] = DEMO_NAME
    return snapshot



def resolve_folder(path: Path, as_of: str) -> Path:
    """The snapshot folder for ``as_of`` under ``path`` (itself, ``latest/`` or ``date=.../``).

    Raises
    ------
    SnapshotError
        If there is no such folder, or ``latest.json`` is not an object naming a plain date.
    """
    if not path.is_dir():
        raise SnapshotError(str(path), "snapshot folder not found")
    if (path / layout.METADATA).is_file():
        if as_of in ("latest", None) or _metadata_date(path) == as_of:
            return path
        if (path / f"date={as_of}").is_dir():
            return path / f"date={as_of}"
        raise SnapshotError(str(path), f"snapshot is as of {_metadata_date(path)}, not {as_of}")
    if as_of in ("latest", None):
        if (path / "latest").is_dir():
            return path / "latest"
        if (path / "latest.json").is_file():
            try:
                latest = _latest_date(json.loads((path / "latest.json").read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                if isinstance(exc, SnapshotError):
                    raise
                raise SnapshotError("latest.json", f"not valid JSON ({str(exc).splitlines()[0]})") from None
            if (path / f"date={latest}").is_dir():
                return path / f"date={latest}"
        dated = sorted(p for p in path.glob("date=*") if p.is_dir())
        if dated:
            return dated[-1]
    elif (path / f"date={as_of}").is_dir():
        return path / f"date={as_of}"
    raise SnapshotError(str(path), f"no snapshot for {as_of} (expected metadata.json or date=YYYY-MM-DD folders)")


def _latest_date(latest: Any) -> str:
    """The date a parsed ``latest.json`` names (a plain ``YYYY-MM-DD``), else raise."""
    if not isinstance(latest, dict):
        raise SnapshotError("latest.json", f'must hold a JSON object with a "latest" date, not a JSON {_json_kind(latest)}')
    if "universe" in latest:
        plain_name(latest["universe"], "latest.json", '"universe"')
    return plain_date(latest.get("latest"), "latest.json", '"latest"')


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


def _metadata_date(path: Path) -> str:
    try:
        return str(json.loads((path / layout.METADATA).read_text()).get("as_of_date", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _folder_fingerprint(folder: Path) -> tuple:
    stamp = []
    for name in layout.ALL_FILES:
        try:
            info = (folder / name).stat()
        except OSError:
            continue
        stamp.append((name, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def _load_folder(folder: Path, source: str, limits: SourceLimits) -> Snapshot:
    folder = folder.resolve()
    return _memoized(
        (str(folder), "folder"), lambda: _folder_fingerprint(folder), lambda: _read_cached(folder, source, limits)
    )


def sources_digest(folder: Path) -> str:
    """sha256 over the names and sha256 of the layout files present in ``folder``."""
    digest = hashlib.sha256()
    for name in layout.ALL_FILES:
        path = folder / name
        if path.is_file():
            digest.update(f"{name}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def _read_cached(folder: Path, source: str, limits: SourceLimits) -> Snapshot:
    """Load ``folder`` from its binary copy in the cache, (re)writing that copy when absent or untrustworthy.

    The copy is used only if its own checksum and its sources' checksum match; otherwise
    it is rebuilt from the CSVs, with a logged warning and a ``binary_cache`` diagnostic.
    """
    stamp = json.dumps([str(folder), _folder_fingerprint(folder)])
    binary = cache_path("binary", hashlib.sha256(stamp.encode()).hexdigest()[:24])
    digest = sources_digest(folder)
    with _cache_lock(binary.parent, f"{binary.name}.lock", limits.deadline_seconds):
        return _read_binary_or_rebuild(folder, source, limits, binary, digest)


def _read_binary_or_rebuild(folder: Path, source: str, limits: SourceLimits, binary: Path, digest: str) -> Snapshot:
    note = None
    if binary.exists():
        problem = binary_problem(binary, digest)
        if problem is None:
            try:
                snapshot = load_binary(binary)
            except Exception as exc:  # noqa: BLE001 - a cache is never trusted: any failure means rebuild
                problem = f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            else:
                snapshot.metadata["source"] = source
                return snapshot
        note = f"rebuilt from the CSVs: the binary cache {problem}"
        logger.warning("snapshot %s: %s", folder, note)
        shutil.rmtree(binary, ignore_errors=True)
    snapshot = read_snapshot_folder(folder, source=source, limits=limits)
    try:
        save_binary(snapshot, binary, digest)
    except OSError as exc:
        snapshot.diagnostics["binary_cache"] = f"not written ({exc})"
    if note is not None:  # after saving: the note belongs to this load, not to the rebuilt copy
        snapshot.diagnostics["binary_cache"] = note
    return snapshot


def cache_path(*parts: str) -> Path:
    """``cache_dir() / part / ...``, each part a plain name, refused unless it resolves inside the cache.

    Raises
    ------
    SnapshotError
        If a part is not a plain name or the path leaves the cache folder (e.g. through a symlink).
    """
    root = cache_dir()
    path = root.joinpath(*(plain_name(p, "cache", "folder name") for p in parts))
    resolved_root = root.resolve()
    if not path.resolve().is_relative_to(resolved_root):
        raise SnapshotError("cache", f"{path} resolves outside the cache folder {resolved_root}")
    return path


# ---------------------------------------------------------------- remote sources


def _fetch_remote(prefix: str, as_of: str, progress: Progress | None, limits: SourceLimits) -> Path:
    """Download the snapshot at URL ``prefix`` for ``as_of`` into the cache; return its folder.

    ONE deadline (``limits.deadline_seconds`` from now) covers every request, every file and
    the wait for another process's download of the same date.
    """
    limits = limits.started()
    url_filesystem(prefix, limits)  # a missing package or unknown scheme is said at once, not as "unreachable"
    root = cache_path("snapshots", hashlib.sha256(prefix.encode()).hexdigest()[:24])
    shown = display_url(prefix)
    bust = f"v={time.time_ns()}" if as_of in ("latest", None) and urllib.parse.urlsplit(prefix).scheme in ("http", "https") else None
    try:
        date, candidates = _remote_date(prefix, as_of, limits, bust)
    except DownloadError as exc:
        cached = _cached_dates(root)
        if as_of not in ("latest", None):
            cached = [d for d in cached if d.name == as_of]
        if cached:
            logger.warning("%s cannot be reached (%s): using the cached %s", shown, exc.reason, cached[-1].name)
            return cached[-1]
        raise SnapshotError(shown, f"cannot be reached and nothing is cached ({exc.reason})") from None
    final = cache_path("snapshots", root.name, date)
    if (final / layout.MANIFEST).is_file():
        return final
    # One download per source and date at a time, across threads and processes; the others wait, then reuse it.
    with _cache_lock(root, f".{date}.lock", max(limits.remaining(), 0.0)):
        if (final / layout.MANIFEST).is_file():
            return final
        staging = make_temp_folder(root, f".{date}.", final)
        try:
            base = _download_snapshot(prefix, candidates, date, staging, limits, progress, bust)
            write_manifest(staging)
            (staging / "source.txt").write_text(f"{display_url(base)}\n")
            if not final.resolve().is_relative_to(root.resolve()):  # checked again right before the move
                raise SnapshotError("cache", f"{final} resolves outside {root}")
            replace_folder(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return final


@contextlib.contextmanager
def _cache_lock(folder: Path, name: str, timeout: float) -> Iterator[None]:
    """Hold the file lock ``folder/name`` (created inside the cache), waiting at most ``timeout`` seconds."""
    import filelock

    folder.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(folder / plain_name(name, "cache", "lock name")))
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise SnapshotError("cache", f"{folder} stayed locked by another download for {timeout:g} s") from None
    try:
        yield
    finally:
        lock.release()


def _cached_dates(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / layout.MANIFEST).is_file())


def _remote_date(prefix: str, as_of: str, limits: SourceLimits, bust: str | None) -> tuple[str, list[str]]:
    """The snapshot's as-of date and the URL folders that may hold its files, best first."""
    if as_of not in ("latest", None):
        return as_of, [f"{prefix}/date={as_of}", prefix]
    latest = _get_json(f"{prefix}/latest.json", "latest.json", limits, bust)
    if latest is not _ABSENT:
        date = _latest_date(latest)
        return date, [f"{prefix}/latest", f"{prefix}/date={date}"]
    metadata = _get_json(f"{prefix}/{layout.METADATA}", layout.METADATA, limits, bust)
    if metadata is _ABSENT:
        raise SnapshotError(shown_name(prefix), "no snapshot there: neither latest.json nor metadata.json")
    if not isinstance(metadata, dict):
        raise SnapshotError(layout.METADATA, "must hold a JSON object")
    return plain_date(metadata.get("as_of_date"), layout.METADATA, '"as_of_date"'), [prefix]


def shown_name(url: str) -> str:
    """A URL as messages show it (no credentials, no query)."""
    return display_url(url)


def _with_query(url: str, query: str | None) -> str:
    if not query or not url.startswith(("http://", "https://")):
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


_ABSENT = object()


def _get_json(url: str, name: str, limits: SourceLimits, bust: str | None) -> Any:
    """Parsed JSON at ``url`` (any JSON value, ``null`` included), or ``_ABSENT`` if it does not exist."""
    data = read_url(_with_query(url, bust), limits=limits)
    if data is None:
        return _ABSENT
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(name, f"not valid JSON ({str(exc).splitlines()[0]})") from None


def _download_snapshot(
    prefix: str,
    candidates: list[str], date: str, staging: Path, limits: SourceLimits, progress: Progress | None, bust: str | None
) -> str:
    """Download the snapshot files into ``staging`` from the first candidate holding them; return that URL folder."""
    base = None
    for candidate in candidates:
        if not _fetch_file(candidate, layout.METADATA, staging, limits, progress, bust, None):
            continue
        found = str(_get_local_json(staging / layout.METADATA).get("as_of_date", ""))
        if found and found != date:  # a stale latest/ (publication in progress) or another date's root
            logger.info("%s holds %s, not %s: trying the next folder", shown_name(candidate), found, date)
            continue
        base = candidate
        break
    if base is None:
        raise SnapshotError(shown_name(prefix), f"no snapshot for {date}")
    published = _published_manifest(base, limits, bust)
    (staging / "details").mkdir(exist_ok=True)
    for name in layout.ALL_FILES:
        entry = None if published is None else published.get(name)
        if name != layout.METADATA:
            present = _fetch_file(base, name, staging, limits, progress, bust, entry)
            if not present:
                if entry is not None:
                    raise SnapshotError(name, f"listed in the published manifest.json but missing at {shown_name(base)}")
                if name in layout.REQUIRED_FILES:
                    raise SnapshotError(name, f"required file missing at {shown_name(base)}")
                continue
        if entry is not None:
            path = staging / name
            if path.stat().st_size != entry["bytes"] or file_digest(path) != entry["sha256"]:
                raise SnapshotError(name, f"does not match the published manifest.json (size or sha256) at {shown_name(base)}")
    return base


def _fetch_file(
    base: str, name: str, staging: Path, limits: SourceLimits, progress: Progress | None,
    bust: str | None, entry: dict | None,
) -> bool:
    """Download ``base/name`` to ``staging/name``; False (and no file) if it does not exist."""
    target = staging / name
    target.parent.mkdir(exist_ok=True)
    try:
        with open(target, "wb") as handle:
            present = download_url(
                _with_query(f"{base}/{name}", bust), handle, limits=limits, name=name,
                expected_bytes=None if entry is None else entry["bytes"], progress=progress,
            )
    except DownloadError as exc:
        target.unlink(missing_ok=True)
        raise SnapshotError(name, exc.reason) from None
    if not present:
        target.unlink(missing_ok=True)
    return present


def _get_local_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(path.name, f"not valid JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(value, dict):
        raise SnapshotError(path.name, "must hold a JSON object")
    return value


def _published_manifest(base: str, limits: SourceLimits, bust: str | None) -> dict[str, dict] | None:
    """The entries of ``base/manifest.json`` for the layout files, or None if the source has none.

    Every entry name must be a plain relative name; entries for files xlfactor does not
    read are ignored (a publisher may ship more).
    """
    manifest = _get_json(f"{base}/{layout.MANIFEST}", layout.MANIFEST, limits, bust)
    if manifest is _ABSENT:
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise SnapshotError(layout.MANIFEST, 'must hold a JSON object with a "files" object')
    entries = {}
    for name, entry in files.items():
        relative_name(name, layout.MANIFEST, "file name")
        if name not in layout.ALL_FILES or name == layout.MANIFEST:
            logger.debug("manifest.json at %s lists %s, which xlfactor does not read", shown_name(base), name)
            continue
        size = entry.get("bytes") if isinstance(entry, dict) else None
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or not (
            isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)
        ):
            raise SnapshotError(layout.MANIFEST, f"entry {name!r} needs a byte count and a sha256 hex digest")
        entries[name] = {"bytes": size, "sha256": sha}
    return entries
