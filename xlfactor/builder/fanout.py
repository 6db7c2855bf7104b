"""Fan-out of independent model work: a mapper runs ``fn(*shared, *task)`` for every task.

The builder hands its independent pieces (chunks of regression days, the as-of snapshots
of a history and the quality report of the last one) to a :data:`Mapper`. :func:`serial_map` runs them in order in this process;
``xlfactor.reporting.batch_run.dask_mapper`` runs each as a Dask task with the shared arguments sent
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

Arrived = Callable[[int, Any], Any]
"""``on_result(position, result)`` as each task's result arrives (in completion order); what it returns is kept."""

Mapper = Callable[..., list]
"""``mapper(fn, shared, tasks, on_done=None, on_result=None, meanwhile=None)`` -> ``[fn(*shared, *task) for task in tasks]``.

Tasks may finish in any order; the list is in task order. A mapper that runs tasks
concurrently starts them in task order, so a caller puts the longest first. With
``on_result``, the list holds what it returned for each task: a caller can consume a
result as soon as it exists (write it, combine it with another) and keep ``None``.
``meanwhile()`` is work of the calling process on data it already holds: a concurrent
mapper runs it once the first tasks are sent, while they run; :func:`serial_map` first.
"""


def serial_map(fn: Callable[..., Any], shared: tuple, tasks: Sequence[tuple], on_done: Done | None = None,
               on_result: Arrived | None = None, meanwhile: Callable[[], Any] | None = None) -> list:  # fmt: skip
    """Run ``meanwhile`` (if any), then the tasks one after the other, in this process.

    >>> serial_map(lambda a, b: a + b, (10,), [(1,), (2,)])
    [11, 12]
    >>> serial_map(lambda a, b: a + b, (10,), [(1,), (2,)], on_result=lambda i, r: -r)
    [-11, -12]
    """
    results = []
    with single_threaded():  # one BLAS thread for every task, set once for the loop
        if meanwhile is not None:
            meanwhile()
        for i, task in enumerate(tasks):
            result = fn(*shared, *task)
            results.append(result if on_result is None else on_result(i, result))
            del result
            if on_done is not None:
                on_done(i + 1, len(tasks))
    return results
