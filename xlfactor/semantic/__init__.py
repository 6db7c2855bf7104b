"""Semantic residual discovery: missing common risks proposed by an LLM, kept only when real.

Runs only when :func:`discover_semantic_factors` is called; this package is the only one
that imports ``openai`` (lazily, inside :class:`OpenAIClient`). See
:mod:`xlfactor.semantic.discovery` for the method, :mod:`xlfactor.semantic.client` for the
client contract and :mod:`xlfactor.semantic.cache` for the label cache.
"""

from xlfactor.semantic.cache import ThemeCache, default_cache_path, read_cache, semantic_factor_members, theme_id
from xlfactor.semantic.client import DeadlineClient, OpenAIClient, SemanticClient, SemanticError
from xlfactor.semantic.discovery import SemanticDiscovery, discover_semantic_factors
from xlfactor.semantic.holdings import cached_theme_exposures

__all__ = [
    "DeadlineClient",
    "OpenAIClient",
    "SemanticClient",
    "SemanticDiscovery",
    "SemanticError",
    "ThemeCache",
    "cached_theme_exposures",
    "default_cache_path",
    "discover_semantic_factors",
    "read_cache",
    "semantic_factor_members",
    "theme_id",
]
