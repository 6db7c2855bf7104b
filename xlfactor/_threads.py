"""One BLAS thread for a piece of work, so it rounds the same in any process.

A multi-threaded BLAS may sum in another order with another thread count, and Dask
workers run with other thread settings than the client (the nanny sets one thread).
Fanned-out model work and batch chunks therefore run under :func:`call_single_threaded`
wherever they run, which makes distributed results equal serial ones bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_limits


def single_threaded():
    """Context manager: the BLAS/OpenMP thread pools limited to one thread inside it.

    Entering scans the loaded libraries (about 2 ms), so a loop of many small pieces of
    work enters it once around the loop rather than once per piece.
    """
    return threadpool_limits(limits=1)


def call_single_threaded(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with the BLAS/OpenMP thread pools limited to one thread.

    >>> call_single_threaded(max, 2, 3)
    3
    """
    with single_threaded():
        return fn(*args)
