"""Risk of thousands of books in one run, in-process or on a Dask cluster (``xlfactor batch``).

Holdings are read once (:func:`read_books`: a long CSV or Parquet table ``portfolio,
ticker, value`` or a folder of one CSV per book), split into chunks of books, and each
chunk is one task: align the chunk's books to the universe as one sparse matrix and
price them with :func:`xlfactor.risk.batch.batch_risk`, then (with a ``report_writer``)
write a report workbook and record a track day per book. In-process the chunks run one after the
other; with ``scheduler`` they are Dask tasks (``"local"`` starts a LocalCluster, anything
else is the address of a running scheduler). A task carries its chunk of holdings and the
snapshot's *source* (path or URL), never the snapshot: each worker loads the snapshot
once into its own cache (:func:`worker_model`). The chunks are the same either way, so a
distributed run's numbers equal the serial run's exactly. A book that cannot be used is
reported by name with its reason, and the others complete.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import atomic_write, write_error
from xlfactor.cells import safe_frame
from xlfactor.errors import PortfolioError, XlfactorError
from xlfactor._threads import call_single_threaded
from xlfactor.risk.batch import book_weights
from xlfactor.risk.holdings import holdings_columns
from xlfactor.risk.batch import batch_risk as _batch_risk
from xlfactor.risk.model_data import FactorModelData, factor_model_data

CHUNK_BOOKS = 256
"""Books per task. Fixed (not derived from the worker count) so every run chunks alike."""

DISTRIBUTED_EXTRA = "pip install 'xlfactor[distributed]'"
CONNECT_TIMEOUT = "10s"  # to reach a scheduler by address
WORKER_TIMEOUT = 120  # seconds for a first worker to join before the first task is sent

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class BatchResult:
    """What a batch run produced."""

    summary: pd.DataFrame  # one row per priced book (index: portfolio), batch_risk columns + holdings counts
    failed: dict[str, str]  # book -> reason (unusable holdings, or a failed task / report)
    files: dict[str, Path] = field(default_factory=dict)  # summary_csv, summary_parquet, failed_csv


# ---------------------------------------------------------------- reading holdings


def read_books(path: str | Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read many books' holdings once: ``(long table, books that could not be read)``.

    Parameters
    ----------
    path : path
        A ``.csv`` or ``.parquet`` file with columns ``portfolio, ticker`` and ``value``
        (or ``allocation``), one row per holding; or a folder of ``*.csv`` files with
        ``ticker, value`` (or ``allocation``) columns, one book per file named by its stem.

    Returns
    -------
    (DataFrame, dict)
        The long table (``portfolio, ticker`` and the amount column) and, for a folder,
        the files that cannot be read as a book (name -> reason).

    Raises
    ------
    XlfactorError
        If the path is missing, of an unknown type, or a table lacks its columns.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise XlfactorError(f"holdings {path}: no such file or folder")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""])  # a ticker or book NA stays text
        else:
            raise XlfactorError(f"holdings {path}: expected a .csv or .parquet file or a folder of .csv files")
    except ImportError as exc:
        raise XlfactorError(f"holdings {path}: reading Parquet needs pyarrow ({exc}); {DISTRIBUTED_EXTRA}") from None
    except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise XlfactorError(f"holdings {path}: cannot be read ({' '.join(str(exc).split())})") from None
    if not any(str(c).strip().lower() == "portfolio" for c in frame.columns):
        raise XlfactorError(f"holdings {path}: needs columns portfolio, ticker and value (or allocation)")
    try:
        frame = canonical_columns(frame, f"holdings {path}", extra=("portfolio",))
    except PortfolioError as exc:
        raise XlfactorError(f"{exc}; needs columns portfolio, ticker and value (or allocation)") from None
    if not len(frame):
        raise XlfactorError(f"holdings {path}: no holdings (only a header)")
    return frame, {}


def canonical_columns(frame: pd.DataFrame, where: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` with its columns named ``ticker`` and ``value`` or ``allocation`` (a ``weight`` header is allocation).

    Raises
    ------
    PortfolioError
        If a header is unknown (the message lists the accepted names) or the ticker or
        amount column is missing (see :func:`xlfactor.risk.holdings_columns`).
    """
    ticker, amount, kind = holdings_columns(list(frame.columns), where, extra=extra)
    names = {ticker: "ticker", amount: kind}
    names.update({c: str(c).strip().lower() for c in frame.columns if str(c).strip().lower() in extra})
    return frame.rename(columns=names)


def _read_folder(folder: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise XlfactorError(f"holdings {folder}: the folder has no .csv files")
    frames, failed, kinds = [], {}, set()
    by_name: dict[str, list[str]] = {}
    for file in files:
        by_name.setdefault(file.stem.strip(), []).append(file.stem)
    for file in files:  # one read per book file; the parsing after this is one vectorized pass
        twins = by_name[file.stem.strip()]
        if len(twins) > 1:  # "a.csv" and " a.csv": two books that would merge under one name
            others = ", ".join(repr(f"{t}.csv") for t in twins if t != file.stem)
            failed[file.stem] = f"file name differs from {others} only by spaces; rename one (the books are not merged)"
            continue
        try:
            frame = pd.read_csv(file, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:
            failed[file.stem] = "empty file (no header, no holdings)"
            continue
        except (ValueError, OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            failed[file.stem] = f"cannot be read ({' '.join(str(exc).split())})"
            continue
        try:
            frame = canonical_columns(frame, f"{file.name}")
        except PortfolioError as exc:
            failed[file.stem] = f"needs columns ticker and value (or allocation): {exc}"
            continue
        if not len(frame):
            failed[file.stem] = "no holdings (the file has only a header)"
            continue
        kind = "value" if "value" in frame.columns else "allocation"
        kinds.add(kind)
        frames.append(pd.DataFrame({"portfolio": file.stem, "ticker": frame["ticker"], kind: frame[kind]}))
    if len(kinds) > 1:
        raise XlfactorError(f"holdings {folder}: mixes value and allocation files; use one kind for all books")
    if not frames:
        return pd.DataFrame({"portfolio": [], "ticker": [], "value": []}), failed
    return pd.concat(frames, ignore_index=True), failed


# ---------------------------------------------------------------- the worker side

def worker_model(source: str | None, as_of: str = "latest") -> FactorModelData:
    """The snapshot at ``source`` (path or URL; None = embedded demo), loaded once per process.

    Dask workers call this inside each task: the first task on a worker loads the snapshot
    (from the path, the URL or the worker's download cache), later tasks reuse it through
    the process's snapshot memo (:func:`xlfactor.snapshot.load_snapshot`). Tasks therefore
    carry only the source string, never the snapshot.
    """
    from xlfactor.snapshot.sources import load_snapshot

    return factor_model_data(load_snapshot(source, as_of))


@dataclass(frozen=True)
class _Job:
    """Everything a chunk task needs besides its holdings (small, pickled per task)."""

    source: str | None
    as_of: str
    benchmark: pd.DataFrame | None
    reports: str | None  # folder for the report workbooks
    track: str | None  # folder of per-book track histories
    report_writer: Callable | None = None  # write_report_workbook (front-end layer, passed in)
    limits: pd.DataFrame | None = None  # limits table (limit, name, min, max) to check (and with optimize, meet)
    optimize: bool = False  # rebalance each book to minimum TE within the limits
    trades: str | None = None  # folder for <book>.csv trade lists
    clashing: frozenset = frozenset()  # names whose file name needs the hash suffix (see clashing_names)


def run_chunk(job: _Job, chunk: pd.DataFrame, on_book: Callable[[], None] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Price one chunk of books (a Dask task, or one step of the in-process run); ``on_book()`` after each book's files."""
    data = worker_model(job.source, job.as_of)
    books = book_weights(chunk, data.ticker_index)
    b = None if job.benchmark is None else data.align_holdings(job.benchmark, "benchmark").weights
    table = _batch_risk(data, books.weights, b, index=books.names)
    missing = books.missing.assign(weight=books.missing["weight"].abs()).groupby("portfolio", sort=False)["weight"]
    table["holdings"] = books.holdings.astype(float)
    table["missing_holdings"] = missing.size().reindex(table.index, fill_value=0).to_numpy(dtype=float)
    table["missing_weight"] = missing.sum().reindex(table.index, fill_value=0.0).to_numpy(dtype=float)
    failed = dict(books.failed)
    if job.limits is not None and len(books.names):
        failed.update(_book_limits(job, data, chunk, table))
    if job.reports is not None and len(books.names):
        failed.update(_book_files(job, data, chunk, set(books.names), on_book))
    return table, failed


def _book_files(job: _Job, data: FactorModelData, chunk: pd.DataFrame, usable: set, on_book: Callable[[], None] | None = None) -> dict[str, str]:
    """Report workbook and track day of each usable book of the chunk (per book: files)."""
    from xlfactor.reporting.track import record_day

    failed = {}
    amount = "value" if "value" in {str(c).strip().lower() for c in chunk.columns} else "allocation"
    labels = chunk["portfolio"].astype(str).str.strip()
    for name, book in chunk.groupby(labels, sort=False):
        if name not in usable:
            continue
        holdings = pd.DataFrame({"ticker": book["ticker"].to_numpy(), amount: book[amount].to_numpy()})
        stem = safe_file_name(name, job.clashing)
        try:
            job.report_writer(Path(job.reports) / f"{stem}.xlsx", holdings, data.snapshot, job.benchmark)
            track = Path(job.track) if job.track else Path(job.reports).parent / "track"
            record_day(holdings, track / stem, data.snapshot, None, job.benchmark)
        except Exception as exc:  # noqa: BLE001 - one book's files never stop the others
            failed[name] = f"report: {type(exc).__name__}: {' '.join(str(exc).split())}"
        if on_book is not None:
            on_book()
    return failed


def _book_limits(job: _Job, data: FactorModelData, chunk: pd.DataFrame, table: pd.DataFrame) -> dict[str, str]:
    """Check (and with ``job.optimize`` rebalance) each priced book of the chunk; adds columns to ``table`` in place.

    Columns: ``breaches_before`` (limits breached now) and, with ``optimize``,
    ``tracking_error_after``, ``breaches_after``, ``trades`` and ``optimize_status``; each
    book's trade list goes to ``<trades>/<book>.csv``. A book that cannot be checked or
    rebalanced keeps its risk row, gets NaN there and goes to ``failed`` with its reason.
    """
    from xlfactor.optimizer import check_limits, optimize

    failed = {}
    amount = "value" if "value" in {str(c).strip().lower() for c in chunk.columns} else "allocation"
    labels = chunk["portfolio"].astype(str).str.strip()
    columns = {"breaches_before": {}} | ({"tracking_error_after": {}, "breaches_after": {}, "trades": {}, "optimize_status": {}}
                                        if job.optimize else {})  # fmt: skip
    for name, book in chunk.groupby(labels, sort=False):
        if name not in table.index:
            continue
        holdings = pd.DataFrame({"ticker": book["ticker"].to_numpy(), amount: book[amount].to_numpy()})
        try:
            if job.optimize:
                result = optimize(data, holdings, job.limits, benchmark=job.benchmark)
                columns["breaches_before"][name] = float(result.check["breach_before"].sum())
                columns["breaches_after"][name] = float(result.check["breach"].sum())
                columns["tracking_error_after"][name] = result.tracking_error_after
                columns["trades"][name] = float(len(result.trades))
                columns["optimize_status"][name] = result.status
                trades = safe_frame(result.trade_list())  # tickers never live formulas
                atomic_write(Path(job.trades) / f"{safe_file_name(name, job.clashing)}.csv", lambda h, t=trades: t.to_csv(h, index=False, float_format="%.10g"))
            else:
                check = check_limits(data, holdings, job.limits, benchmark=job.benchmark)
                columns["breaches_before"][name] = float(check["breach_before"].sum())
        except XlfactorError as exc:
            failed[name] = f"{'optimize' if job.optimize else 'limits'}: {' '.join(str(exc).split())}"
    for column, values in columns.items():
        table[column] = pd.Series(values, dtype=object if column == "optimize_status" else float).reindex(table.index)
    return failed


WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {f"{d}{i}" for d in ("COM", "LPT") for i in range(10)}
)
"""Names Windows reserves for devices, with or without an extension (``NUL.xlsx`` opens the device)."""


def safe_file_name(name: str, clashing: frozenset | set = frozenset()) -> str:
    """A book name as a file name: letters, digits, ``._-`` kept, anything else ``_``.

    A name that had to change (or be shortened), a Windows device name (``CON``,
    ``NUL.x``, ``COM1``) and a name in ``clashing`` (see :func:`clashing_names`: in one run,
    ``Growth`` and ``growth`` are one file on a case-insensitive file system) also get 8
    hex digits of its SHA-256, so two books never share a report or a track folder
    (``Fund A/B``, ``Fund A?B``); the suffix is the same on every run, so a book finds its
    track history again.

    >>> safe_file_name("growth"), safe_file_name("Fund A/B"), safe_file_name("Fund A?B")
    ('growth', 'Fund_A_B-ffec96c8', 'Fund_A_B-c154e86e')
    >>> safe_file_name("NUL"), safe_file_name("Growth", {"Growth", "growth"})
    ('NUL-ae6de182', 'Growth-66b06e99')
    """
    text = str(name)
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".")[:100] or "book"
    if stem == text and text not in clashing and stem.split(".")[0].upper() not in WINDOWS_DEVICE_NAMES:
        return stem
    return f"{stem}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def clashing_names(names) -> frozenset:
    """The names of ``names`` whose file names would coincide on a case-insensitive file system.

    Two books clash when their :func:`safe_file_name` (without ``clashing``) is equal after
    ``casefold()`` (``Growth``/``growth``; also a book literally named like another's
    hashed file name). :func:`safe_file_name` gives each of them the hash suffix.
    """
    names = pd.unique(pd.Series(list(names), dtype=object).astype(str))
    folded = pd.Series([safe_file_name(n).casefold() for n in names], dtype=object)
    return frozenset(names[folded.duplicated(keep=False).to_numpy()])


UNUSABLE_NAMES = frozenset({"", "NA", "N/A", "NAN", "NULL", "NONE"})
"""Portfolio names read as missing: their rows are reported as failed, never dropped or merged."""


def split_unnamed(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """``(rows with a usable portfolio name, failed entries for the others)``.

    A blank, missing or ``NA``-like name (:data:`UNUSABLE_NAMES`) is not a book: its rows
    are listed in ``failed`` (one entry per such name, with the data rows, 1-based) instead
    of vanishing.
    """
    labels = frame["portfolio"]
    text = labels.astype(str).str.strip()
    bad = labels.isna().to_numpy() | text.str.upper().isin(UNUSABLE_NAMES).to_numpy()
    if not bad.any():
        return frame, {}
    failed = {}
    shown = np.where(labels.isna().to_numpy() | (text == "").to_numpy(), "(blank)", text.to_numpy())
    for label in pd.unique(shown[bad]):
        rows = np.nonzero(bad & (shown == label))[0] + 1
        where = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        failed[f"{label} (no portfolio name)"] = (
            f"{len(rows)} row(s) without a usable portfolio name (data rows {where}); name the book"
        )
    return frame[~bad], failed


# ---------------------------------------------------------------- orchestration


def chunks_of(frame: pd.DataFrame, size: int = CHUNK_BOOKS) -> list[pd.DataFrame]:
    """Split a long holdings table into chunks of ``size`` whole books, in first-appearance order."""
    if not len(frame):
        return []
    labels = frame["portfolio"].astype(str).str.strip()
    code, _ = pd.factorize(labels)
    part = code // size
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(part.max() + 2))
    return [frame.iloc[order[bounds[i] : bounds[i + 1]]] for i in range(len(bounds) - 1) if bounds[i + 1] > bounds[i]]


def run_batch(
    holdings: str | Path | pd.DataFrame,
    out: str | Path | None = None,
    snapshot: str | None = None,
    as_of: str = "latest",
    benchmark: pd.DataFrame | None = None,
    report_writer: Callable | None = None,
    track: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_books: int = CHUNK_BOOKS,
    progress: Progress | None = None,
    bar: bool = False,
    limits: pd.DataFrame | None = None,
    optimize: bool = False,
) -> BatchResult:
    """Risk summary of every book, in-process or on Dask; optionally a report and track day per book.

    Parameters
    ----------
    holdings : path or DataFrame
        See :func:`read_books`, or the long table itself.
    out : path, optional
        Folder for ``summary.csv``, ``summary.parquet`` (needs pyarrow), ``failed.csv`` and,
        with ``reports``, ``reports/<book>.xlsx``. Nothing is written when None.
    snapshot : str, optional
        Snapshot folder or URL (None: the embedded simulated demo). Workers load it themselves.
    as_of : str
        Snapshot date or ``"latest"``.
    benchmark : DataFrame, optional
        One benchmark for every book (``ticker`` + ``value``); default the cap-weighted universe.
    report_writer : callable, optional
        ``report_writer(path, holdings, snapshot, benchmark)`` writes one book's report
        workbook (the CLI passes ``xlfactor.excel.report_workbook.write_report_workbook``,
        a front end this module must not import). When given, every usable book gets
        ``<out>/reports/<book>.xlsx`` and a track day recorded in ``track`` (default
        ``<out>/track``: one history folder per book, as ``xlfactor track --history``).
    scheduler : str, optional
        None: in-process. ``"local"``: a Dask LocalCluster of ``workers`` processes.
        Otherwise the address of a running Dask scheduler (``tcp://host:8786``).
    chunk_books : int
        Books per task.
    progress : callable, optional
        ``progress("chunks", done, total)`` as each chunk finishes (``done`` counts 1..total).
    bar : bool
        Show a tqdm bar of the chunks on stderr (the CLI does), advanced as each chunk
        finishes, in-process or on Dask (``distributed.as_completed``); stdout is untouched.
    limits : DataFrame, optional
        A limits table (``limit, name, min, max``) checked on every book: ``breaches_before``.
    optimize : bool
        With ``limits``: rebalance every book to minimum tracking error within them
        (:func:`xlfactor.optimizer.optimize`), trade lists in ``<out>/trades/<book>.csv``;
        a book whose limits cannot be met goes to ``failed`` with the conflicting rows.

    Returns
    -------
    BatchResult
        ``summary``: the columns of :func:`xlfactor.batch_risk` plus ``holdings,
        missing_holdings, missing_weight`` per book, in input order. ``failed``: book ->
        reason for every book that was not priced (or whose files failed).
    """
    reports = report_writer is not None
    if reports and out is None:
        raise XlfactorError("reports need an output folder (--out)")
    if optimize and (limits is None or out is None):
        raise XlfactorError("optimize needs limits and an output folder (--out) for the trade lists")
    if isinstance(holdings, pd.DataFrame):
        if not any(str(c).strip().lower() == "portfolio" for c in holdings.columns):
            raise XlfactorError("holdings table needs columns portfolio, ticker and value (or allocation)")
        frame, failed = canonical_columns(holdings, "holdings table", extra=("portfolio",)), {}
    else:
        frame, failed = read_books(holdings)
    frame, unnamed = split_unnamed(frame)
    failed.update(unnamed)  # every input row lands in summary or failed
    source = _source(snapshot)
    out_dir = None if out is None else Path(out)
    job = _Job(
        source=source,
        as_of=as_of,
        benchmark=benchmark,
        reports=str(out_dir / "reports") if reports else None,
        track=None if not reports else str(Path(track) if track else out_dir / "track"),
        report_writer=report_writer,
        limits=limits,
        optimize=optimize,
        trades=str(out_dir / "trades") if optimize else None,
        clashing=clashing_names(frame["portfolio"].astype(str).str.strip()) if reports or optimize else frozenset(),
    )
    chunks = chunks_of(frame, chunk_books)
    if scheduler is None:
        worker_model(source, as_of)  # a bad snapshot is one clear error, not one per chunk
        outcomes = _run_serial(job, chunks, progress, bar)
    else:
        outcomes = _run_dask(job, chunks, scheduler, workers, progress, bar)
    tables = []
    for chunk, outcome in zip(chunks, outcomes):
        if isinstance(outcome, BaseException):
            reason = f"task failed: {type(outcome).__name__}: {' '.join(str(outcome).split())}"
            failed.update({name: reason for name in pd.unique(chunk["portfolio"].astype(str).str.strip())})
            continue
        tables.append(outcome[0])
        failed.update(outcome[1])
    summary = pd.concat(tables) if tables else pd.DataFrame(columns=["portfolio"]).set_index("portfolio")
    summary.index.name = "portfolio"
    files = {} if out_dir is None else write_batch_tables(out_dir, summary, failed)
    return BatchResult(summary, failed, files)


def _source(snapshot: str | None) -> str | None:
    """The snapshot source as workers must see it: URLs as given, folders absolute."""
    if snapshot is None or "://" in str(snapshot) or str(snapshot) == "xlfactor-demo":
        return None if snapshot is None else str(snapshot)
    return str(Path(snapshot).resolve())


def _chunk_bar(total: int, shown: bool):
    """A tqdm bar of ``total`` books on stderr (a disabled one that prints nothing when not ``shown``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc="books", unit="book", file=sys.stderr, disable=not shown, mininterval=0.5)


def _books_in(chunk: pd.DataFrame) -> int:
    return int(chunk["portfolio"].astype(str).str.strip().nunique())


def _run_serial(job: _Job, chunks: list[pd.DataFrame], progress: Progress | None, bar: bool = False) -> list:
    outcomes = []
    with _chunk_bar(sum(_books_in(c) for c in chunks), bar) as shown:
        for i, chunk in enumerate(chunks):
            before = shown.n
            try:
                outcomes.append(call_single_threaded(run_chunk, job, chunk, lambda: shown.update(1)))  # each book's files
            except Exception as exc:  # noqa: BLE001 - a failed chunk is reported by book, the rest go on
                outcomes.append(exc)
            shown.update(before + _books_in(chunk) - shown.n)  # the chunk's books are all done
            if progress is not None:
                progress("chunks", i + 1, len(chunks))
    return outcomes


def dask_client(scheduler: str, workers: int | None = None):
    """``(client, cluster)``: a new LocalCluster for ``"local"`` (cluster None otherwise: the scheduler at that address).

    The LocalCluster's worker processes (one thread each) start in the background
    (``scale``): they import numpy and xlfactor, a second or two, while the caller reads
    its inputs and computes what only it computes; :func:`wait_for_a_worker` before the
    first task.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise XlfactorError(f"--scheduler needs Dask: {DISTRIBUTED_EXTRA}") from None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None)
        cluster.scale(workers or 2)  # returns at once; the workers join when started
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError) as exc:
        raise XlfactorError(f"--scheduler {scheduler}: cannot connect ({exc})") from None


def wait_for_a_worker(client) -> None:
    """Return once the cluster has a worker; a clear error after ``WORKER_TIMEOUT`` seconds (never a silent hang)."""
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        raise XlfactorError(f"Dask: no worker joined the scheduler within {WORKER_TIMEOUT} s") from None


def _run_dask(job: _Job, chunks: list[pd.DataFrame], scheduler: str, workers: int | None, progress: Progress | None,
              bar: bool = False) -> list:  # fmt: skip
    from distributed import as_completed

    client, cluster = dask_client(scheduler, workers)
    try:
        wait_for_a_worker(client)
        futures = [client.submit(call_single_threaded, run_chunk, job, chunk, pure=False) for chunk in chunks]  # one task per chunk
        index = {future.key: i for i, future in enumerate(futures)}
        outcomes: list = [None] * len(futures)
        # the bar and the callbacks follow each chunk as it finishes (not Dask's own bar, which
        # blocks until every chunk is done and borrows the process-wide stdout while it waits)
        with _chunk_bar(sum(_books_in(c) for c in chunks), bar) as shown:
            for done, future in enumerate(as_completed(futures), start=1):
                error = future.exception()
                outcomes[index[future.key]] = error if error is not None else future.result()
                shown.update(_books_in(chunks[index[future.key]]))
                if progress is not None:
                    progress("chunks", done, len(futures))
        return outcomes
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


COMPLETE_MARKER = "batch.json"
"""Written last by :func:`write_batch_tables`: the run's files with their SHA-256 (the completion marker)."""


def write_batch_tables(out: Path, summary: pd.DataFrame, failed: dict[str, str]) -> dict[str, Path]:
    """Write ``summary.csv``, ``summary.parquet`` (when pyarrow is installed) and ``failed.csv`` as one unit.

    Without pyarrow, a ``summary.parquet`` left by an earlier run is deleted: no stale output survives.

    The old completion marker (``batch.json``) is removed first and the new one written
    last, naming every file with its SHA-256: :func:`read_batch_tables` refuses a folder
    without it or whose files do not match it, so a run killed between two files never
    shows a new summary beside an old failed list. Each file is written atomically. Book
    names that a spreadsheet would read as formulas are escaped (``'=...``).
    """
    import hashlib as _hashlib
    import json

    out = Path(out)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        parquet = False
    else:
        parquet = True
    stale = [COMPLETE_MARKER] + ([] if parquet else ["summary.parquet"])  # no older run's parquet beside a new CSV
    for name in stale:
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / name).unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(out / name, exc) from None
    shown = safe_frame(summary.reset_index())  # user text never a formula (as the track CSVs)
    files = {"summary_csv": atomic_write(out / "summary.csv", lambda h: shown.to_csv(h, index=False, float_format="%.17g"))}
    if parquet:
        files["summary_parquet"] = atomic_write(out / "summary.parquet", lambda h: summary.to_parquet(h))
    table = safe_frame(pd.DataFrame({"portfolio": list(failed), "error": list(failed.values())}, dtype=object))
    files["failed_csv"] = atomic_write(out / "failed.csv", lambda h: table.to_csv(h, index=False))
    marker = {
        "complete": True,
        "priced": int(len(summary)),
        "failed": int(len(failed)),
        "files": {path.name: _hashlib.sha256(path.read_bytes()).hexdigest() for path in files.values()},
    }
    files["marker"] = atomic_write(out / COMPLETE_MARKER, lambda h: h.write((json.dumps(marker, indent=1) + "\n").encode()))
    return files


def read_batch_tables(out: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(summary, failed)`` of a finished batch run's folder, checked against its completion marker.

    Raises
    ------
    XlfactorError
        If the marker is missing (the run did not finish, or is still writing) or a file
        differs from what the run wrote.
    """
    import hashlib as _hashlib
    import json

    out = Path(out)
    marker_path = out / COMPLETE_MARKER
    try:
        marker = json.loads(marker_path.read_text())
        files = dict(marker["files"])
    except (OSError, ValueError, KeyError, TypeError):
        raise XlfactorError(f"batch output {out} is incomplete (no valid {COMPLETE_MARKER}): the run did not finish") from None
    for name, digest in files.items():
        path = out / Path(name).name
        if not path.is_file() or _hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise XlfactorError(f"batch output {out}: {name} is not the file its run wrote (mixed or edited outputs)")
    summary = pd.read_csv(out / "summary.csv", index_col="portfolio", keep_default_na=False, na_values=[""])
    failed = pd.read_csv(out / "failed.csv", keep_default_na=False, dtype=str)
    return summary, failed


def dask_mapper(client) -> Callable:
    """A mapper (see ``xlfactor.builder.fanout.Mapper``) that runs each task on the Dask cluster of ``client``.

    Shared arguments are scattered once to every worker (``broadcast=True``), not pickled
    per task. Each task carries its own arguments (the builder sends each one only the
    slices it reads), and only a few tasks per worker thread are in flight at a time: the
    next one is submitted as one finishes, in task order, so the task data held by the
    scheduler and the workers stays a few tasks' worth however long the list, and Dask
    still balances the running tasks. ``meanwhile()`` runs in this process on a side
    thread (one BLAS thread) once the first tasks are sent, while this thread keeps
    collecting results and sending tasks, so the workers do not wait for it. Results come back in task order
    (``on_result`` sees each one as it arrives); the first failed task raises its error
    (a build is all or nothing).
    """
    from concurrent.futures import ThreadPoolExecutor

    from distributed import as_completed

    def run(fn, shared: tuple, tasks, on_done=None, on_result=None, meanwhile=None) -> list:
        wait_for_a_worker(client)
        handles = [a if a is None or isinstance(a, (str, int, float, bool)) else client.scatter(a, broadcast=True) for a in shared]
        queue = iter(enumerate(tasks))
        position: dict[str, int] = {}
        running = as_completed()

        def submit_more() -> None:
            # a running and a queued task per worker thread (counted now: workers may still be joining)
            ahead = 2 * max(sum(client.nthreads().values()), 1)
            for i, task in queue:
                with _large_tasks_allowed():
                    future = client.submit(call_single_threaded, fn, *handles, *task, pure=False)
                position[future.key] = i
                running.add(future)
                if len(position) >= ahead:
                    return

        submit_more()
        results: list = [None] * len(tasks)
        # meanwhile runs on a side thread, so this one keeps the workers fed while it runs
        with ThreadPoolExecutor(1) as side:
            aside = None if meanwhile is None else side.submit(call_single_threaded, meanwhile)
            try:
                for done, future in enumerate(running, start=1):
                    result = future.result()
                    i = position.pop(future.key)
                    del future  # the worker may drop the result once the client has it
                    submit_more()
                    results[i] = result if on_result is None else on_result(i, result)
                    del result
                    if on_done is not None:
                        on_done(done, len(tasks))
            finally:
                client.cancel(list(running.futures))
            if aside is not None:
                aside.result()  # done before the results are returned; its error, if any, is raised here
        return results

    return run


def _large_tasks_allowed():
    """Dask's warning about large task graphs off for one submit: each task's data is its own slice, sent once.

    (The warning advises scattering data that many tasks repeat; shared data is scattered.)
    """
    import dask

    return dask.config.set({"distributed.admin.large-graph-warning-threshold": "64GB"})
