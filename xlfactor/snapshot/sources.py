"""Where snapshots come from: the embedded demo, a folder, or an http(s)/file URL prefix.

Remote snapshots are downloaded once into the local cache (a folder per source and
date, renamed into place only when complete, with a checksum manifest). Every folder
gets a fast binary copy in the cache, keyed by the files' sizes and modification
times, so repeat loads skip CSV parsing. Loaded snapshots are kept for the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from xlfactor._files import make_temp_folder, replace_folder
from xlfactor.conventions import as_of_date
from xlfactor.errors import SnapshotError, XlfactorError
from xlfactor.snapshot import layout
from xlfactor.snapshot.binary import load_binary, save_binary
from xlfactor.snapshot.manifest import write_manifest
from xlfactor.snapshot.memo import memo
from xlfactor.snapshot.snapshot import Snapshot
from xlfactor.snapshot.packed import DEMO_FILE, read_packed
from xlfactor.snapshot.reader import read_snapshot_folder

DEMO_NAME = "xlfactor-demo"
CACHE_ENV = "XLFACTOR_CACHE_DIR"
DOWNLOAD_TIMEOUT_SECONDS = 60

Progress = Callable[[str, int, int | None], None]
"""Called as ``progress(file_name, bytes_done, bytes_total_or_None)`` while downloading."""

LOADED_SNAPSHOTS = 8
"""Snapshots a process keeps loaded (least recently used dropped first)."""
_loaded = memo("loaded snapshots", LOADED_SNAPSHOTS)


def cache_dir() -> Path:
    """The local cache folder: ``$XLFACTOR_CACHE_DIR`` or the platform's user cache folder."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "xlfactor" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "xlfactor"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xlfactor"


def load_snapshot(
    source: str | os.PathLike[str] | None = None,
    as_of: str = "latest",
    *,
    progress: Progress | None = None,
) -> Snapshot:
    """Load a risk model snapshot (once per process; later calls reuse it).

    Parameters
    ----------
    source : str or path, optional
        ``None`` (or ``"xlfactor-demo"``) for the embedded simulated market; a folder in
        the OpenFactor snapshot layout (or a folder holding ``latest.json`` and
        ``date=YYYY-MM-DD`` sub-folders); or an ``http(s)://`` / ``file://`` URL prefix of one.
    as_of : str
        ``"latest"`` or an ISO date ``YYYY-MM-DD``.
    progress : callable, optional
        Download progress callback, see :data:`Progress`.

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
    text = str(source)
    scheme = urllib.parse.urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        folder = _fetch_remote(text.rstrip("/"), as_of, progress)
        return _load_folder(folder, source=text)
    if scheme == "file":
        path = Path(urllib.request.url2pathname(urllib.parse.urlparse(text).path))
        return _load_folder(resolve_folder(path, as_of), source=text)
    return _load_folder(resolve_folder(Path(text), as_of), source=str(Path(text).resolve()))


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
    """The snapshot folder for ``as_of`` under ``path`` (itself, ``latest/`` or ``date=.../``)."""
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
            latest = json.loads((path / "latest.json").read_text()).get("latest")
            if latest and (path / f"date={latest}").is_dir():
                return path / f"date={latest}"
        dated = sorted(p for p in path.glob("date=*") if p.is_dir())
        if dated:
            return dated[-1]
    elif (path / f"date={as_of}").is_dir():
        return path / f"date={as_of}"
    raise SnapshotError(str(path), f"no snapshot for {as_of} (expected metadata.json or date=YYYY-MM-DD folders)")


def _metadata_date(path: Path) -> str:
    try:
        return str(json.loads((path / layout.METADATA).read_text()).get("as_of_date", ""))
    except (OSError, ValueError):
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


def _load_folder(folder: Path, source: str) -> Snapshot:
    folder = folder.resolve()
    return _memoized((str(folder), "folder"), lambda: _folder_fingerprint(folder), lambda: _read_cached(folder, source))


def _read_cached(folder: Path, source: str) -> Snapshot:
    """Load ``folder`` from its binary copy in the cache, writing that copy if absent."""
    stamp = json.dumps([str(folder), _folder_fingerprint(folder)])
    binary = cache_dir() / "binary" / hashlib.sha256(stamp.encode()).hexdigest()[:24]
    if (binary / "snapshot.npz").is_file():
        try:
            snapshot = load_binary(binary)
            snapshot.metadata["source"] = source
            return snapshot
        except (OSError, ValueError, KeyError):
            shutil.rmtree(binary, ignore_errors=True)
    snapshot = read_snapshot_folder(folder, source=source)
    try:
        save_binary(snapshot, binary)
    except OSError as exc:
        snapshot.diagnostics["binary_cache"] = f"not written ({exc})"
    return snapshot


# ---------------------------------------------------------------- remote sources


def _fetch_remote(prefix: str, as_of: str, progress: Progress | None) -> Path:
    """Download the snapshot at ``prefix`` for ``as_of`` into the cache; return its folder."""
    root = cache_dir() / "snapshots" / hashlib.sha256(prefix.encode()).hexdigest()[:24]
    try:
        base, date = _remote_base(prefix, as_of)
    except urllib.error.URLError as exc:
        cached = _cached_dates(root)
        if as_of not in ("latest", None):
            cached = [d for d in cached if d.name == as_of]
        if cached:
            return cached[-1]
        raise SnapshotError(prefix, f"cannot be reached and nothing is cached ({_reason(exc)})") from None
    final = root / date
    if (final / layout.MANIFEST).is_file():
        return final
    staging = make_temp_folder(root, f".{date}.", final)
    try:
        (staging / "details").mkdir()
        for name in layout.ALL_FILES:
            required = name in layout.REQUIRED_FILES
            if not _download(f"{base}/{name}", staging / name, required, progress):
                continue
        write_manifest(staging)
        (staging / "source.txt").write_text(f"{base}\n")
        replace_folder(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _cached_dates(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / layout.MANIFEST).is_file())


def _remote_base(prefix: str, as_of: str) -> tuple[str, str]:
    """The URL folder holding the files and the snapshot's as-of date."""
    if as_of in ("latest", None):
        latest = _get_json(f"{prefix}/latest.json")
        if latest is not None and latest.get("latest"):
            return f"{prefix}/latest", str(latest["latest"])
        metadata = _get_json(f"{prefix}/{layout.METADATA}")
        if metadata is None:
            raise SnapshotError(layout.METADATA, f"required file missing at {prefix}")
        return prefix, str(metadata.get("as_of_date", "latest"))
    dated = f"{prefix}/date={as_of}"
    if _get_json(f"{dated}/{layout.METADATA}") is not None:
        return dated, as_of
    metadata = _get_json(f"{prefix}/{layout.METADATA}")
    if metadata is not None and str(metadata.get("as_of_date")) == as_of:
        return prefix, as_of
    raise SnapshotError(prefix, f"no snapshot for {as_of}")


def _get_json(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    except ValueError:
        raise SnapshotError(url, "not valid JSON") from None
    return data if isinstance(data, dict) else None


def _download(url: str, target: Path, required: bool, progress: Progress | None) -> bool:
    """Stream ``url`` to ``target``; False if it does not exist and is optional."""
    name = target.name
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
            total = response.headers.get("Content-Length")
            total_bytes = int(total) if total and total.isdigit() else None
            done = 0
            with open(target, "wb") as handle:
                for block in iter(lambda: response.read(1 << 20), b""):
                    handle.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(name, done, total_bytes)
            if total_bytes is not None and done != total_bytes:
                raise SnapshotError(name, f"download incomplete ({done} of {total_bytes} bytes)")
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and not required:
            return False
        if exc.code == 404:
            raise SnapshotError(name, f"required file missing at {url}") from None
        raise SnapshotError(name, f"download failed: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise SnapshotError(name, f"download failed: {_reason(exc)}") from None
    return True


def _reason(exc: urllib.error.URLError) -> str:
    return str(getattr(exc, "reason", exc))
