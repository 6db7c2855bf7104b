"""The semantic label cache: one row per ticker, one 0/1 column per theme id (OpenFactor's shape).

``ticker,grid_scale_battery_storage,obesity_drug_supply_chain`` with cells ``1``, ``0``
or blank (not yet asked). Labels are reused; only missing ticker x theme cells are sent
to the client. Rows of tickers that left the universe are kept (harmless, and useful if
the ticker comes back). A local cache is rewritten atomically; a remote (``http(s)://``)
or read-only one is left unchanged, and the discovery result says so.
"""

from __future__ import annotations

import io
import os
import re
import urllib.parse
import urllib.request
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


@dataclass
class ThemeCache:
    """Labels in memory: ``labels`` is ticker x theme id, values 1.0, 0.0 or NaN (not asked)."""

    location: str
    labels: pd.DataFrame
    writable: bool
    note: str = ""
    changed: bool = field(default=False, repr=False)

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
        new_rows = pd.Index(answers).difference(self.labels.index)
        if len(new_rows):
            self.labels = self.labels.reindex(self.labels.index.append(new_rows))
        if theme not in self.labels.columns:
            self.labels[theme] = np.nan
        self.labels.loc[list(answers), theme] = np.array(list(answers.values()), dtype=float)
        self.changed = True

    def members(self, theme: str) -> list[str]:
        """Tickers labelled 1 for ``theme`` (sorted)."""
        if theme not in self.labels.columns:
            return []
        column = self.labels[theme]
        return sorted(column.index[column.to_numpy() == 1.0])

    def save(self) -> str:
        """Write back if changed and writable; return a note of what happened."""
        if not self.changed:
            return ""
        if not self.writable:
            return f"semantic cache {self.location} is {self.note or 'read-only'}: new labels were not written back"
        frame = self.labels.sort_index().astype("Int8")
        frame.index.name = "ticker"
        text = frame.to_csv().encode()
        try:
            atomic_write(self.location, lambda handle: handle.write(text))
        except (OSError, XlfactorError) as exc:  # the answers are still used; only the write-back failed
            detail = " ".join(str(exc).split())[:160]
            return f"semantic cache {self.location} could not be written back ({detail}); new labels were used but not kept"
        self.changed = False
        return f"semantic cache {self.location} updated"


def read_cache(location: str | os.PathLike[str] | None = None) -> ThemeCache:
    """Open the cache at ``location`` (path, ``file://`` or http(s) URL; default :func:`default_cache_path`).

    An http(s) cache is read-only; other URL schemes (``r2://``, ``s3://``) are refused.

    A missing local file is an empty cache (created on the first write-back).

    Raises
    ------
    SemanticError
        If the file cannot be read or parsed, has no ``ticker`` column or a cell other
        than 0, 1 or blank.
    """
    text = str(location) if location is not None else str(default_cache_path())
    scheme = re.match(r"^([a-z][a-z0-9+.-]*)://", text, flags=re.IGNORECASE)
    if scheme and scheme.group(1).lower() in ("http", "https"):
        try:
            with urllib.request.urlopen(text, timeout=30) as response:  # noqa: S310 - user-given cache URL
                raw = response.read()
        except OSError as exc:
            detail = " ".join(str(exc).split())[:160]
            raise SemanticError(f"semantic cache {text}: cannot be read ({detail})") from None
        return ThemeCache(text, _parse(raw, text), writable=False, note="remote")
    if scheme and scheme.group(1).lower() == "file":
        text = urllib.request.url2pathname(urllib.parse.urlparse(text).path)  # as snapshot sources read file:// URLs
    elif scheme:  # r2://, s3://, ...: never mistaken for a local folder named "r2:"
        raise SemanticError(
            f"semantic cache {text}: {scheme.group(1)}:// is not supported; use a local path or an http(s) URL "
            "(download the file first)"
        )
    path = Path(text).expanduser()
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("."))
        writable = os.access(parent, os.W_OK)
        return ThemeCache(str(path), _empty(), writable=writable, note="" if writable else "read-only")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SemanticError(f"semantic cache {path}: cannot be read ({exc.strerror})") from None
    writable = bool(path.stat().st_mode & 0o222) and os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    return ThemeCache(str(path), _parse(raw, str(path)), writable=writable, note="" if writable else "read-only")


def _empty() -> pd.DataFrame:
    return pd.DataFrame(index=pd.Index([], name="ticker", dtype=object))


def _parse(raw: bytes, where: str) -> pd.DataFrame:
    if not raw.strip():
        return _empty()
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SemanticError(f"semantic cache {where}: cannot be parsed ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if "ticker" not in frame.columns:
        raise SemanticError(f"semantic cache {where}: no `ticker` column")
    tickers = frame.pop("ticker").map(normalize_ticker)
    if tickers.duplicated().any():
        raise SemanticError(f"semantic cache {where}: duplicate ticker {tickers[tickers.duplicated()].iloc[0]}")
    labels = pd.DataFrame(index=pd.Index(tickers.to_numpy(dtype=object), name="ticker"))
    for column in frame.columns:
        cells = frame[column].str.strip().str.replace(r"\.0$", "", regex=True)
        bad = ~cells.isin(["", "0", "1"])
        if bad.any():
            raise SemanticError(f"semantic cache {where}: column {column} has a cell {frame[column][bad].iloc[0]!r} (0, 1 or blank)")
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
    cache = read_cache(semantic_cache)
    key = str(name_or_id).strip()
    key = key if key in cache.labels.columns else theme_id(key)
    if key not in cache.labels.columns:
        known = ", ".join(cache.labels.columns[:8]) or "none"
        raise SemanticError(f"theme {name_or_id!r} is not in the semantic cache {cache.location} (themes: {known})")
    return cache.members(key)
