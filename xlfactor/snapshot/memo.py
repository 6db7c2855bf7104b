"""One cache policy for the process: every memo is a bounded, thread-safe :class:`Memo`.

xlfactor keeps what it has loaded or derived so a recalculating sheet does no work twice:
the snapshots loaded by this process, what each snapshot derives (its
:class:`~xlfactor.risk.FactorModelData`, one per exposure date, hedging tables...), parsed
worksheet ranges, aligned holdings, semantic labels and the ETF map. Each of those is a
:class:`Memo` made by :func:`memo`: a least-recently-used table with a fixed number of
entries, so a long session or a server never grows without bound, and :func:`clear_memos`
empties all of them at once (the next call reads and computes again).

A memo computes a missing value outside its lock and once per key: two threads asking for
the same snapshot wait for one load rather than doing two.

>>> squares = memo("doctest squares", maxsize=2)
>>> [squares.get_or_compute(k, lambda: k * k) for k in (1, 2, 1, 3)]
[1, 4, 1, 9]
>>> sorted(squares.keys())  # 2 was the least recently used
[1, 3]
>>> clear_memos(); len(squares)
0
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")

_MISSING = object()


class Memo(Generic[V]):
    """A bounded least-recently-used memo, safe to share between threads.

    Parameters
    ----------
    name : str
        What it holds (shown by :func:`memo_sizes`).
    maxsize : int
        Entries kept; the least recently used goes first. At least 1.
    """

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"memo {name!r}: maxsize must be at least 1, got {maxsize}")
        self.name = name
        self.maxsize = int(maxsize)
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def __len__(self) -> int:
        return len(self._data)

    def __reduce__(self):
        # a memo travels empty (to a Dask worker, with its snapshot): locks do not pickle, and
        # the receiving process computes what it needs
        return (memo, (self.name, self.maxsize))

    def __repr__(self) -> str:
        return f"Memo({self.name!r}, {len(self)}/{self.maxsize})"

    def keys(self) -> list[Hashable]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._data)

    def get(self, key: Hashable, default: Any = None) -> V | Any:
        """The value of ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> V:
        """Keep ``value`` under ``key``, dropping the least recently used entries past ``maxsize``."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], V], fresh: Callable[[V], bool] | None = None) -> V:
        """The value of ``key``, computed once by ``compute()`` when absent (or not ``fresh``).

        Parameters
        ----------
        key : hashable
        compute : callable
            Called without arguments, outside the memo's lock; one thread computes a
            given key at a time, the others wait for its value.
        fresh : callable, optional
            ``fresh(value)`` is False when a held value is out of date (e.g. its file
            changed); it is then computed again.
        """
        value = self.get(key, _MISSING)
        if value is not _MISSING and (fresh is None or fresh(value)):
            return value
        with self._lock:
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            value = self.get(key, _MISSING)  # another thread may have computed it meanwhile
            if value is not _MISSING and (fresh is None or fresh(value)):
                return value
            try:
                return self.put(key, compute())
            finally:
                with self._lock:
                    self._computing.pop(key, None)

    def pop(self, key: Hashable, default: Any = None) -> V | Any:
        """Remove ``key``; its value, or ``default``."""
        with self._lock:
            return self._data.pop(key, default)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()


_MEMOS: weakref.WeakSet[Memo] = weakref.WeakSet()
_CLEARERS: list[Callable[[], None]] = []
_REGISTRY_LOCK = threading.Lock()


def memo(name: str, maxsize: int) -> Memo:
    """A new :class:`Memo`, registered so :func:`clear_memos` empties it.

    Parameters
    ----------
    name : str
        What it holds.
    maxsize : int
        Entries kept (least recently used dropped first).

    Returns
    -------
    Memo
        Held weakly by the registry: a memo that belongs to an object (a snapshot's)
        goes with it.
    """
    made = Memo(name, maxsize)
    with _REGISTRY_LOCK:
        _MEMOS.add(made)
    return made


def on_clear(clear: Callable[[], None]) -> Callable[[], None]:
    """Register a cache that is not a :class:`Memo` (a ``functools.lru_cache``'s ``cache_clear``)."""
    with _REGISTRY_LOCK:
        _CLEARERS.append(clear)
    return clear


def clear_memos() -> None:
    """Empty every memo of the process: loaded snapshots, derived tables, parsed ranges, labels."""
    with _REGISTRY_LOCK:
        memos, clearers = list(_MEMOS), list(_CLEARERS)
    for held in memos:
        held.clear()
    for clear in clearers:
        clear()


def memo_sizes() -> dict[str, tuple[int, int]]:
    """``{name: (entries, maxsize)}`` of every live memo (memos of the same name are summed)."""
    sizes: dict[str, tuple[int, int]] = {}
    with _REGISTRY_LOCK:
        memos = list(_MEMOS)
    for held in memos:
        entries, limit = sizes.get(held.name, (0, 0))
        sizes[held.name] = (entries + len(held), limit + held.maxsize)
    return sizes
