"""Fan-out of independent model work: a mapper runs ``fn(*shared, *task)`` for every task.

The builder hands its independent pieces (chunks of regression days, the as-of snapshots
of a history) to a :data:`Mapper`. :func:`serial_map` runs them in order in this process;
``xlfactor.batch.dask_mapper`` runs each as a Dask task with the shared arguments sent
once per worker. Results come back in task order and every piece is computed by the same
function on the same inputs with one BLAS thread (:func:`xlfactor._threads.single_threaded`: a
multi-threaded BLAS may round differently with another thread count, and workers run
with other settings than the client), so the output does not depend on the mapper, bit
for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xlfactor._threads import single_threaded

Done = Callable[[int, int], None]
"""``on_done(finished, total)`` after each task."""

Mapper = Callable[[Callable[..., Any], tuple, Sequence[tuple], "Done | None"], list]
"""``mapper(fn, shared, tasks, on_done)`` -> ``[fn(*shared, *task) for task in tasks]``."""


def serial_map(fn: Callable[..., Any], shared: tuple, tasks: Sequence[tuple], on_done: Done | None = None) -> list:
    """Run the tasks one after the other in this process.

    >>> serial_map(lambda a, b: a + b, (10,), [(1,), (2,)])
    [11, 12]
    """
    results = []
    with single_threaded():  # one BLAS thread for every task, set once for the loop
        for i, task in enumerate(tasks):
            results.append(fn(*shared, *task))
            if on_done is not None:
                on_done(i + 1, len(tasks))
    return results
