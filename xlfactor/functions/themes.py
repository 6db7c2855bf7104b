"""Worksheet functions on semantic themes: cached labels only (a worksheet function never calls an LLM)."""

from __future__ import annotations

from xlfactor.functions.catalog import book_context, cache_argument, register_arguments, worksheet_function
from xlfactor.functions.ranges import table

register_arguments({"semantic_cache": "Semantic theme cache CSV (path or URL); default: the local cache that xlfactor discover writes."})


@worksheet_function(returns="table")
def OF_THEMES(holdings, semantic_cache=None, snapshot=None, as_of=None, ignore_unknown=None):  # noqa: N802
    """Cached semantic themes of the holdings: members held and net/gross weight in each theme (no LLM call)."""
    from xlfactor.semantic.cache import CACHE_FILE
    from xlfactor.semantic.holdings import cached_theme_exposures

    cache = cache_argument(semantic_cache, CACHE_FILE)  # checked before the snapshot or the cache is read
    ctx = book_context(holdings, snapshot, as_of, ignore_unknown)
    frame = cached_theme_exposures(ctx.weights, ctx.data.tickers, cache)
    return table(list(frame.columns), frame.itertuples(index=False, name=None))
