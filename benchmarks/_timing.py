"""Shared timing helper for the benchmarks."""

from __future__ import annotations

import statistics
import time


def median_seconds(call, repeat: int) -> float:
    """Median wall time of ``call()`` over ``repeat`` runs after one warm-up run."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
