"""Cached themes of a portfolio (what ``OF_THEMES`` shows): no LLM call, only the label cache."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from xlfactor.semantic.cache import default_cache_path, read_cache
from xlfactor.snapshot.memo import memo

_LABELS = memo("semantic labels", 16)
"""Labels read per cache file version (path, size, mtime) or per URL, for this process."""


def _cached_labels(semantic_cache: str | os.PathLike[str] | None) -> pd.DataFrame:
    """The cache's labels, read once per file version: a recalculating sheet does not re-read it."""
    text = str(semantic_cache) if semantic_cache is not None else str(default_cache_path())
    if "://" in text:
        key: tuple = (text,)  # a URL is downloaded once per process
    else:
        try:
            stat = os.stat(os.path.expanduser(text))
            key = (text, stat.st_size, stat.st_mtime_ns)
        except OSError:
            return read_cache(semantic_cache).labels  # absent: an empty cache, nothing to remember
    return _LABELS.get_or_compute(key, lambda: read_cache(semantic_cache).labels)


def cached_theme_exposures(
    weights: np.ndarray, tickers: np.ndarray, semantic_cache: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    r"""Portfolio weight in the members of every theme of the cache.

    Parameters
    ----------
    weights : ndarray, shape (n_assets,)
        Portfolio weights in universe order (decimals of gross; shorts negative).
    tickers : ndarray of str, shape (n_assets,)
        The universe.
    semantic_cache : path or URL, optional
        The label cache (default: the local one).

    Returns
    -------
    DataFrame
        ``theme_id, members`` (universe names labelled 1), ``held_members``, ``net_weight``
        and ``gross_weight`` (decimals of the portfolio's gross) and ``held`` (the held
        member tickers, space-separated), one row per cached theme; empty without a cache.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "themes.csv"
    >>> _ = path.write_text("ticker,ai\nA,1\nB,0\nC,1\n")
    >>> cached_theme_exposures(np.array([0.5, 0.3, -0.2]), np.array(["A", "B", "C"]), path)[["theme_id", "net_weight", "gross_weight"]]
      theme_id  net_weight  gross_weight
    0       ai         0.3           0.7
    """
    labels = _cached_labels(semantic_cache)
    columns = ["theme_id", "members", "held_members", "net_weight", "gross_weight", "held"]
    if labels.shape[1] == 0:
        return pd.DataFrame(columns=columns)
    member = (labels.reindex(tickers) == 1.0).to_numpy()  # (n_assets, n_themes)
    held = weights != 0
    rows = {
        "theme_id": labels.columns.astype(str),
        "members": member.sum(axis=0),
        "held_members": (member & held[:, None]).sum(axis=0),
        "net_weight": weights @ member,
        "gross_weight": np.abs(weights) @ member,
        "held": [" ".join(tickers[member[:, j] & held]) for j in range(member.shape[1])],
    }
    return pd.DataFrame(rows, columns=columns)
