"""What a run hands to people: the report tables, the daily track history and the batch run.

Modules: :mod:`report` (:func:`portfolio_report`, the dictionary of report tables),
:mod:`track` (record a day, read the history, attribute it over windows) and
:mod:`narrative` (the tear sheet's sentences from the numbers) and
:mod:`batch_run` (``xlfactor batch``: thousands of books from one file, in-process or on
Dask; not to be confused with :func:`xlfactor.risk.batch.batch_risk`, the numeric kernel
it calls). Workbooks are rendered from these tables under :mod:`xlfactor.excel`.
"""

from xlfactor.reporting.batch_run import BatchResult, read_batch_tables, read_books, run_batch
from xlfactor.reporting.narrative import tear_sheet_sentences
from xlfactor.reporting.report import portfolio_report
from xlfactor.reporting.track import load_track, record_day, track_attribution

__all__ = [
    "BatchResult",
    "load_track",
    "portfolio_report",
    "read_batch_tables",
    "read_books",
    "record_day",
    "run_batch",
    "tear_sheet_sentences",
    "track_attribution",
]
