"""The ``xlfactor`` command line: a thin adapter over the Python API (no math here).

Results go to stdout (tables a person reads, or JSON with ``--json``), so they pipe
cleanly; notes, warnings and progress bars (tqdm) go to stderr, and ``--quiet`` silences
the progress. Money and percentages are printed with the sign first (``-$445,660``,
``-8.21%``), and a zero is never signed.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xlfactor.errors import XlfactorError

if TYPE_CHECKING:
    import pandas as pd
# pandas, numpy and the model load inside the commands, after the first progress line: `xlfactor build` shows it at once


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 2 bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (XlfactorError, OSError) as exc:
        _Bar.close_all()
        print(f"xlfactor: error: {cli_message(exc)}", file=sys.stderr)
        return 2


def cli_message(exc: BaseException) -> str:
    """An error's one line as the command line says it: the factor list is ``xlfactor factors`` here, not OF_FACTORS()."""
    return str(exc).replace("OF_FACTORS()", "`xlfactor factors`")


def _version() -> str:
    from xlfactor import __version__

    return f"xlfactor {__version__}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlfactor", description="Open equity factor risk model.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars on stderr")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars on stderr")
    parser.add_argument("--verbose", "-v", action="store_true", help="log details, including the traceback of internal errors")
    commands = parser.add_subparsers(title="commands")
    commands.add_parser = functools.partial(commands.add_parser, parents=[common])  # every command takes --quiet

    report = commands.add_parser("report", help="risk report of a portfolio (workbook and/or JSON summary)")
    _holdings_arguments(report)
    _snapshot_arguments(report)
    report.add_argument("--out", help="write the report workbook here (.xlsx)")
    report.add_argument("--json", action="store_true", help="print the summary as JSON (default: a table)")
    report.add_argument("--track", help="track folder (xlfactor track --history or OpenFactor --track): realized statistics on the Summary")
    report.add_argument("--limits", help="limits CSV (limit,name,min,max): adds a Rebalance sheet to the workbook")
    report.set_defaults(run=_run_report)

    stress = commands.add_parser("stress", help="stress tests and historical scenarios of a portfolio")
    _holdings_arguments(stress)
    _snapshot_arguments(stress)
    stress.add_argument("--shock", action="append", default=[], metavar="FACTOR=SHOCK",
                        help="factor shock as a decimal, e.g. market=-0.10 (repeatable); without it: the standard set, episodes and worst days")
    stress.add_argument("--no-propagate", action="store_true", help="move only the shocked factors")
    stress.add_argument("--json", action="store_true", help="print JSON")
    stress.set_defaults(run=_run_stress)

    snapshot = commands.add_parser("snapshot", help="snapshot commands")
    snapshot_commands = snapshot.add_subparsers(title="snapshot commands")
    snapshot_commands.add_parser = functools.partial(snapshot_commands.add_parser, parents=[common])
    info = snapshot_commands.add_parser("info", help="describe a snapshot")
    _snapshot_arguments(info)
    info.set_defaults(run=_run_snapshot_info)
    export = snapshot_commands.add_parser("export", help="write a snapshot as an OpenFactor-layout folder")
    _snapshot_arguments(export)
    export.add_argument("--out", required=True, help="target folder")
    export.set_defaults(run=_run_snapshot_export)
    track = commands.add_parser("track", help="record one day of risk and return in the track history")
    _holdings_arguments(track)
    track.add_argument("--workbook", required=True, help="track-history workbook (.xlsx), rewritten from the history")
    track.add_argument("--history", help="history folder (OpenFactor --track layout); default: <workbook>_history")
    track.add_argument("--snapshot", help=SNAPSHOT_HELP)
    track.add_argument("--as-of", default=None, help="date to record, any date the exposure panel covers (default: latest)")
    track.set_defaults(run=_run_track)

    build = commands.add_parser("build", help="build a snapshot from market data (prices, classification, fundamentals)")
    build.add_argument("--data", required=True, help="input folder (see the README for its files)")
    build.add_argument("--out", required=True, help="snapshot folder to write (with --every: a folder of date= folders)")
    build.add_argument("--start", help="first date to write with --every (default: when 63 days of history exist)")
    build.add_argument("--end", help="ignore data after this date")
    build.add_argument("--as-of", help="build the snapshot known at the close of this date (data after it is ignored)")
    build.add_argument("--every", choices=["DAY", "MONTH", "day", "month"], help="write a history of snapshots")
    build.add_argument("--universe", default="custom", help="universe name written in the metadata")
    build.add_argument("--market-series", default="SPY", help="benchmark.csv series that pins the market factor ('none' to estimate it)")
    build.add_argument("--no-quality", action="store_true", help="skip the out-of-sample bias statistics")
    build.add_argument("--scheduler", help="fan the regressions and snapshots out on Dask: 'local' or a scheduler address")
    build.add_argument("--workers", type=int, default=None, help="workers of the local cluster (default 2)")
    build.add_argument("--history-days", type=int, help="days of factor-return history to write for scenarios (default: the 252-day risk window)")
    build.set_defaults(run=_run_build)

    batch = commands.add_parser("batch", help="risk summary of many books (CSV/Parquet of portfolio,ticker,value or a folder of CSVs)")
    batch.add_argument("--holdings", required=True, help="long CSV/Parquet (portfolio, ticker, value) or a folder of one CSV per book")
    batch.add_argument("--out", required=True, help="folder for summary.csv, summary.parquet, failed.csv (and reports/)")
    batch.add_argument("--benchmark", help="CSV of benchmark holdings for every book (default: cap-weighted universe)")
    batch.add_argument("--reports", action="store_true", help="also write a report workbook and record a track day per book")
    batch.add_argument("--track", help="track folder for --reports (default: <out>/track)")
    batch.add_argument("--scheduler", help="run on Dask: 'local' (a LocalCluster) or a scheduler address (needs xlfactor[distributed])")
    batch.add_argument("--workers", type=int, default=None, help="workers of the local cluster (default 2)")
    batch.add_argument("--limits", help="limits CSV (limit,name,min,max): check every book (breach counts in the summary)")
    batch.add_argument("--optimize", action="store_true", help="with --limits: rebalance every book to minimum TE (trades in <out>/trades/)")
    _snapshot_arguments(batch)
    batch.set_defaults(run=_run_batch)

    hedge = commands.add_parser("hedge", help="ETF cascade hedge (SPY, sector, subsector) and the minimum-TE hedge in the same ETFs")
    hedge.add_argument("--portfolio", required=True, help="CSV with ticker and value (or allocation) columns")
    _snapshot_arguments(hedge)
    hedge.add_argument("--levels", type=int, choices=[1, 2, 3], default=3, help="cascade depth (default 3)")
    hedge.add_argument("--json", action="store_true", help="print the result as JSON")
    hedge.set_defaults(run=_run_hedge)

    optimize = commands.add_parser("optimize", help="trades that bring a portfolio inside its limits (minimum TE, total risk or best alpha)")
    _holdings_arguments(optimize)
    _snapshot_arguments(optimize)
    optimize.add_argument("--limits", required=True, help="CSV with the columns limit, name, min, max")
    optimize.add_argument("--objective", default="tracking_error", help="tracking_error (default), total_risk, alpha or trades")
    optimize.add_argument("--alpha", help="CSV ticker,alpha of expected annual returns (the alpha objective)")
    optimize.add_argument("--candidates", help="CSV with a ticker column: the names that may be traded (default: the universe)")
    optimize.add_argument("--out", help="write the trade list here (.csv: ticker,value or ticker,allocation)")
    optimize.add_argument("--json", action="store_true", help="print the result as JSON")
    optimize.set_defaults(run=_run_optimize)

    quality = commands.add_parser("quality", help="print a snapshot's quality report")
    quality.add_argument("snapshot", help="snapshot folder")
    quality.set_defaults(run=_run_quality)

    demo_data = commands.add_parser("demo-data", help="write the simulated demo market as builder input, with its truth")
    demo_data.add_argument("folder")
    demo_data.add_argument("--seed", type=int, default=None)
    demo_data.add_argument("--names", type=int, default=None, help="stocks in the simulated market (default 1000)")
    demo_data.add_argument("--years", type=float, default=None, help="years of daily history (default about 3)")
    demo_data.set_defaults(run=_run_demo_data)

    discover = commands.add_parser("discover", help="semantic residual discovery: missing common risks proposed by an LLM, tested against placebos")
    _holdings_arguments(discover)
    _snapshot_arguments(discover)
    discover.add_argument("--threshold", type=float, default=0.10, help="idiosyncratic share of variance from which discovery runs (default 0.10)")
    discover.add_argument("--window", type=int, default=63, help="residual days used (default 63)")
    discover.add_argument("--cache", help="semantic label cache CSV, path or URL (default: the local xlfactor cache)")
    discover.add_argument("--out", help="also write the report workbook with a Themes sheet (.xlsx)")
    discover.set_defaults(run=_run_discover)

    factors = commands.add_parser("factors", help="list the factor ids with their group and volatility")
    _snapshot_arguments(factors)
    factors.add_argument("--json", action="store_true", help="print JSON")
    factors.set_defaults(run=_run_factors)

    functions = commands.add_parser("functions", help="list the OF_ worksheet functions")
    functions.add_argument("--markdown", action="store_true", help="print the README reference table")
    functions.set_defaults(run=_run_functions)

    serve = commands.add_parser("serve", help="serve =OF.NAME(...) custom functions to a team with xlwings Server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--tokens", metavar="FILE", help="user,token per line (else XLFACTOR_SERVER_TOKENS); callers send Authorization: Bearer <token>")
    serve.add_argument("--insecure-local", action="store_true", help="no tokens: every local process may call (127.0.0.1 only)")
    serve.add_argument("--data-root", metavar="DIR", help="local snapshots and semantic caches resolve inside DIR, track folders inside DIR/users/<user>/")
    serve.add_argument("--allow-url", action="append", default=[], metavar="PREFIX", help="a URL prefix that may be fetched (repeatable); others are refused")
    serve.add_argument("--max-cells", "--max-rows", dest="max_rows", type=int, default=100_000,
                       help="largest total of range cells in one call, rows x columns (default 100000)")
    serve.add_argument("--max-bytes", type=int, default=4_000_000, help="largest request body in bytes (default 4000000)")
    serve.add_argument("--max-result-cells", type=int, default=1_000_000, help="largest answer in cells (default 1000000)")
    serve.add_argument("--heavy-cells", "--heavy-rows", dest="heavy_rows", type=int, default=2_000,
                       help="calls over this many range cells run in the worker processes (default 2000)")  # fmt: skip
    serve.add_argument("--workers", type=int, default=1, help="worker processes for large calls (default 1)")
    serve.set_defaults(run=_run_serve)
    return parser


def _run_track(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xlfactor.excel.track_workbook import write_track_workbook
    from xlfactor.snapshot import load_snapshot
    from xlfactor.reporting.track import read_history, record_day

    snapshot = load_snapshot(args.snapshot, progress=_download_progress(args))
    workbook = Path(args.workbook)
    history = Path(args.history) if args.history else workbook.with_name(f"{workbook.stem}_history")
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    day = record_day(_read_holdings(args.portfolio), history, snapshot, args.as_of, benchmark)
    write_track_workbook(workbook, read_history(history))
    track = day.tables["track"].iloc[0]
    _note_simulated(snapshot)
    _note_missing(day.missing)
    print(
        f"recorded {day.date}: portfolio {percent(track['portfolio_return'])}, benchmark {percent(track['benchmark_return'])}, "
        f"TE {percent(track['tracking_error'], sign=False)} -> {workbook} ({history})"
    )
    return 0


class _Bar:
    """``progress(label, done, total)`` as tqdm bars on stderr: one bar per stage (a new one when the label changes).

    A stage is announced with ``done=0`` as it starts, so the bar shows before the work;
    ``quiet`` draws nothing.
    """

    live: "weakref.WeakSet[_Bar]"  # bars of this process, closed before an error line is printed

    def __init__(self, quiet: bool = False) -> None:
        self.bar = None
        self.label = None
        self.quiet = quiet
        _Bar.live.add(self)

    @classmethod
    def close_all(cls) -> None:
        """End every open bar's line, so a message that follows starts on a line of its own."""
        for bar in list(cls.live):
            bar.close()

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if self.bar is None or label != self.label or done < self.bar.n or total != self.bar.total:
            if self.bar is not None and label != self.label:
                self.finish()  # stages run one after the other: the last one is done
            self.close()
            unit = "day" if "days" in label else "book" if "book" in label else "step"
            self.bar = tqdm(total=total, desc=label, file=sys.stderr, unit=unit, mininterval=0.5, dynamic_ncols=True)
            self.label = label
        if done >= total:
            self.finish()
            return
        self.bar.update(done - self.bar.n)

    def finish(self) -> None:
        """The stage is over: its line drawn once at 100% and ended (an ``update`` then ``close`` would draw it twice)."""
        if self.bar is not None:
            self.bar.n = self.bar.total  # no draw here: close() draws the final state once
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.label = None


_Bar.live = weakref.WeakSet()


def _quiet(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "quiet", False))




STARTING = "starting"
"""The first progress stage of a long command, shown before the model loads (under 2 s after the command starts)."""


def _started(args: argparse.Namespace) -> _Bar:
    """A progress bar for a long command, already showing its first line (``starting``) on stderr."""
    bar = _Bar(_quiet(args))
    bar(STARTING, 0, 1)
    return bar


def _run_build(args: argparse.Namespace) -> int:
    bar = _started(args)
    from xlfactor.builder.builder import BuildOptions, build_snapshot

    market = None if args.market_series.lower() == "none" else args.market_series
    if args.history_days is not None and args.history_days < 1:
        raise XlfactorError(f"--history-days must be a positive number of days, got {args.history_days}")
    options = BuildOptions(universe=args.universe, market_series=market, quality=not args.no_quality, history_days=args.history_days)
    client = cluster = mapper = None
    if args.scheduler:
        from xlfactor.reporting.batch_run import dask_client, dask_mapper

        client, cluster = dask_client(args.scheduler, args.workers)
        mapper = dask_mapper(client)
    try:
        written = build_snapshot(args.data, args.out, args.start, args.end, args.as_of, args.every, options, bar, mapper,
                                 notes=lambda text: print(f"note: {text}", file=sys.stderr))  # fmt: skip
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    print(f"wrote {len(written)} snapshot(s): {written[-1]}", file=sys.stderr)
    return 0


def _run_batch(args: argparse.Namespace) -> int:
    starting = _started(args)
    from xlfactor.reporting.batch_run import run_batch

    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    writer = None
    if args.reports:
        from xlfactor.excel.report_workbook import write_report_workbook as writer
    limits = _read_table(args.limits, "limits") if args.limits else None
    if args.optimize and limits is None:
        raise XlfactorError("--optimize needs --limits")
    if limits is not None and writer is not None:
        from functools import partial

        from xlfactor.excel.rebalance_sheet import RebalanceSheet

        writer = partial(writer, extra_sheets=(RebalanceSheet(limits),))
    starting.finish()  # the books bar follows
    result = run_batch(
        args.holdings, args.out, args.snapshot, args.as_of, benchmark, writer, args.track,
        args.scheduler, args.workers, bar=not _quiet(args), limits=limits, optimize=args.optimize,
    )  # fmt: skip
    for name, reason in result.failed.items():
        print(f"xlfactor: book {name}: {reason}", file=sys.stderr)
    written = ", ".join(str(p) for p in result.files.values())
    print(f"priced {len(result.summary)} book(s), {len(result.failed)} failed -> {written}", file=sys.stderr)
    return 0 if len(result.summary) else 2


def _run_quality(args: argparse.Namespace) -> int:
    from xlfactor.snapshot import load_snapshot

    snapshot = load_snapshot(args.snapshot)
    if snapshot.quality is None:
        raise XlfactorError(f"{args.snapshot} has no quality.json (not built by xlfactor build?)")
    print(quality_text(snapshot.quality), end="")
    return 0


def quality_text(quality: dict) -> str:
    """Human-readable quality report."""
    lines = [f"quality report as of {quality.get('as_of_date')}"]
    for key in ("regression_days", "stocks_per_regression_mean", "stocks_per_regression_min", "r2_weighted_mean",
                "r2_weighted_median", "r2_uncentred_mean", "r2_uncentred_median"):  # fmt: skip
        if key in quality:
            lines.append(f"  {key:<28} {quality[key]:.4f}" if isinstance(quality[key], float) else f"  {key:<28} {quality[key]}")
    for section, unit, label in (("bias", "days", "one-day"), ("bias_21d", "periods", "21-day")):
        bias = quality.get(section, {})
        if bias.get(f"out_of_sample_{unit}", 0) >= 2 and "band" in bias:
            low, high = bias["band"]
            lines.append(f"  out-of-sample bias statistics, {label} horizon, over {bias[f'out_of_sample_{unit}']} {unit} (band {low:.3f}..{high:.3f}):")
            for key in ("random_bias_mean", "random_bias_share_in_band", "cap_weighted_bias", "random_robust_bias_mean",
                        "random_q_statistic_mean", "factor_bias_mean", "factor_bias_share_in_band"):  # fmt: skip
                if key in bias:
                    lines.append(f"    {key:<26} {bias[key]:.4f}")
    stats = quality.get("factor_t_stats", {})
    if stats:
        strongest = sorted(stats.items(), key=lambda kv: -(kv[1]["mean_abs_t"] if kv[1]["mean_abs_t"] == kv[1]["mean_abs_t"] else -1))[:10]
        lines.append("  factors with the largest mean |t|:")
        lines += [f"    {name:<36} {s['mean_abs_t']:.2f} (|t|>2 on {s['share_abs_t_over_2']:.0%} of days)" for name, s in strongest]
    if quality.get("skipped_factors"):
        lines.append("  skipped: " + ", ".join(f"{k} ({v})" for k, v in quality["skipped_factors"].items()))
    return "\n".join(lines) + "\n"


def _run_demo_data(args: argparse.Namespace) -> int:
    bar = _started(args)
    from xlfactor.demo import write_demo_inputs
    from xlfactor.demo.simulate_constants import SEED

    from xlfactor.conventions import TRADING_DAYS_PER_YEAR
    from xlfactor.demo.simulate import MAX_NAMES, N_ASSETS, N_DAYS, simulate_market

    seed = SEED if args.seed is None else args.seed
    if (args.names is not None and not 50 <= args.names <= MAX_NAMES) or (args.years is not None and args.years * TRADING_DAYS_PER_YEAR < 200):
        raise XlfactorError(f"demo-data needs --names from 50 to {MAX_NAMES:,} and --years of at least 0.8")
    days = N_DAYS if args.years is None else int(round(args.years * TRADING_DAYS_PER_YEAR))
    market = None  # the default market is simulated by write_demo_inputs
    if args.names is not None or args.years is not None:
        market = simulate_market(seed, N_ASSETS if args.names is None else args.names, days, progress=bar)
    folder = write_demo_inputs(args.folder, seed, market, progress=bar)
    print(f"wrote the simulated market (inputs and truth/) to {folder}", file=sys.stderr)
    return 0


def _run_functions(args: argparse.Namespace) -> int:
    from xlfactor.functions import reference_markdown, reference_text

    print(reference_markdown() if args.markdown else reference_text(), end="")
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    from xlfactor.excel.server import ServerConfig, serve

    config = ServerConfig(
        data_root=args.data_root,
        allow_urls=tuple(args.allow_url),
        tokens_file=args.tokens,
        insecure_local=args.insecure_local,
        max_rows=args.max_rows,
        max_bytes=args.max_bytes,
        heavy_rows=args.heavy_rows,
        max_result_cells=args.max_result_cells,
        workers=args.workers,
    )
    serve(args.host, args.port, config)
    return 0


def _configure_logging(verbose: bool) -> None:
    """Log to stderr: warnings, or everything of xlfactor's with ``--verbose`` (internal-error tracebacks included)."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if verbose:
        logging.getLogger("xlfactor").setLevel(logging.DEBUG)


SNAPSHOT_HELP = "folder or http(s)/file URL (default: embedded simulated demo)"


def _holdings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portfolio", required=True, help="CSV with ticker and value (or allocation) columns")
    parser.add_argument("--benchmark", help="CSV of benchmark holdings (default: cap-weighted universe)")


def _snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snapshot", help=SNAPSHOT_HELP)
    parser.add_argument("--as-of", default="latest", help="snapshot date YYYY-MM-DD (default: latest)")


def _load(args: argparse.Namespace):
    from xlfactor.snapshot import load_snapshot

    return load_snapshot(args.snapshot, args.as_of, progress=_download_progress(args))


def _download_progress(args: argparse.Namespace):
    """The download progress printer, or None under ``--quiet`` (nothing on stderr but notes and errors)."""
    return None if _quiet(args) else _progress


def _progress(name: str, done: int, total: int | None) -> None:
    size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    print(f"\rdownloading {name}: {size}", end="" if total is None or done < total else "\n", file=sys.stderr)


def _note_simulated(snapshot) -> None:
    """The simulated-market note on stderr, naming the snapshot it is about."""
    if snapshot.is_simulated:
        facts = snapshot.describe()
        print(f"note: SIMULATED MARKET: the snapshot {facts.get('source')} (as of {snapshot.as_of}) is built from "
              "simulated data, not real data", file=sys.stderr)  # fmt: skip


def _read_holdings(path: str) -> pd.DataFrame:
    from xlfactor.risk.holdings_file import read_holdings_csv

    read = read_holdings_csv(path)
    for note in read.notes:
        print(f"note: {note}", file=sys.stderr)
    return read.frame


def _note_missing(missing: pd.DataFrame) -> None:
    if len(missing):
        print(
            f"note: {len(missing)} holdings outside the universe treated as cash: {', '.join(missing['ticker'][:5])}",
            file=sys.stderr,
        )


def _run_report(args: argparse.Namespace) -> int:
    from xlfactor.reporting.report import portfolio_report

    snapshot = _load(args)
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    portfolio = _read_holdings(args.portfolio)
    report = portfolio_report(portfolio, snapshot, benchmark)
    _note_simulated(snapshot)
    _note_missing(report["missing_holdings"])
    if args.out:
        from pathlib import Path

        from xlfactor.excel.report_workbook import write_report_workbook

        extra = ()
        if args.limits:
            from xlfactor.excel.rebalance_sheet import RebalanceSheet

            extra = (RebalanceSheet(_read_table(args.limits, "limits")),)
        path = write_report_workbook(
            args.out, portfolio, snapshot, benchmark, report, track=args.track, name=Path(args.portfolio).stem, extra_sheets=extra
        )
        print(f"wrote {path}", file=sys.stderr)
    if not args.json:
        if not args.out:
            from pathlib import Path

            print(report_text(report, Path(args.portfolio).stem, _gross(portfolio)), end="")
        return 0
    if args.json:
        summary = {k: _json_number(k, v) for k, v in report["summary"]["value"].items()}
        facts = report["snapshot"]["value"].to_dict()
        facts["diagnostics"] = snapshot.diagnostics  # structured: counts are numbers, flags booleans
        out = {"snapshot": facts, "summary": summary}
        if args.track:
            from xlfactor.reporting.track import load_track, realized_statistics

            realized = realized_statistics(load_track(args.track)["track"])
            out["realized"] = json.loads(realized.to_json(orient="index"))

        print(strict_json(out))
    return 0


def _run_discover(args: argparse.Namespace) -> int:
    from xlfactor.semantic import SemanticError, discover_semantic_factors

    snapshot = _load(args)
    portfolio = _read_holdings(args.portfolio)
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    _note_simulated(snapshot)
    try:
        result = discover_semantic_factors(portfolio, snapshot, args.threshold, args.window, semantic_cache=args.cache)
    except SemanticError as exc:
        print(f"xlfactor: semantic discovery failed: {exc}", file=sys.stderr)
        if args.out:
            from xlfactor.excel.report_workbook import write_report_workbook

            path = write_report_workbook(args.out, portfolio, snapshot, benchmark)
            print(f"wrote the normal report (no Themes sheet) to {path}", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"idiosyncratic share {result.residual_share:.1%} (threshold {result.threshold:.1%})")
    columns = ["theme", "members", "in_sample_reduction", "out_of_sample_reduction", "placebo_p_value", "reason"]
    if len(result.candidates):
        print(result.candidates[columns].to_string(index=False))
    else:
        print("\n".join(result.skipped["reason"].astype(str)))
    if len(result.accepted):
        print(result.themes.to_string(index=False))
    if args.out:
        from xlfactor.excel.report_workbook import write_report_workbook

        path = write_report_workbook(args.out, portfolio, snapshot, benchmark, discovery=result)
        print(f"wrote {path}", file=sys.stderr)
    return 0


COUNT_METRICS = frozenset({"holdings", "missing_holdings"})
"""Summary metrics that are counts: printed as JSON integers."""


def _json_number(key: str, value: float) -> float | int | None:
    if isinstance(value, float) and math.isnan(value):
        return None
    if key in COUNT_METRICS and float(value).is_integer():
        return int(value)
    return value


def _run_hedge(args: argparse.Namespace) -> int:
    from xlfactor.hedging.hedge_summary import hedge_comparison
    from xlfactor.risk.model_data import factor_model_data

    snapshot = _load(args)
    data = factor_model_data(snapshot)
    held = data.align_holdings(_read_holdings(args.portfolio))
    _note_simulated(snapshot)
    if len(held.missing):
        print(f"note: {len(held.missing)} holdings outside the universe treated as cash: {', '.join(held.missing['ticker'][:5])}", file=sys.stderr)
    result = hedge_comparison(data, held.weights, args.levels)
    if args.json:
        payload = {
            "as_of": snapshot.as_of,
            "simulated": snapshot.is_simulated,
            "levels": args.levels,
            "hedges": result.hedges.to_dict(orient="index"),
            "cascade_levels": result.levels.to_dict(orient="index"),
            "summary": result.summary.to_dict(orient="index"),
            "missing_holdings": held.missing["ticker"].tolist(),
        }

        print(strict_json(payload))
        return 0
    print(f"ETF hedges as of {snapshot.as_of} (percent of gross; negative = short)")
    print(result.hedges.to_string(formatters={c: percent for c in result.hedges.columns}))
    print("\nETF cascade by level (shares of the book's variance over the window)")
    print(result.levels.to_string(formatters={c: functools.partial(percent, sign=False) for c in result.levels.columns}))
    print("\nModel risk (annualized), factor share of variance and beta")
    unsigned = functools.partial(percent, sign=False)
    print(result.summary.to_string(formatters={"risk": unsigned, "factor_share": unsigned, "beta": lambda v: f"{v:.2f}"}))
    return 0


def strict_json(payload: object) -> str:
    """``payload`` as strict JSON text (indented): NaN and infinities become ``null``, numpy values plain numbers.

    >>> strict_json({"a": float("nan"), "b": [1.5, float("inf")]}).split()
    ['{', '"a":', 'null,', '"b":', '[', '1.5,', 'null', ']', '}']
    """
    from xlfactor._json import to_plain

    plain = json.loads(json.dumps(payload, default=to_plain), parse_constant=lambda _: None)
    return json.dumps(plain, indent=2, allow_nan=False)


TABLE_NUMBERS = {"limits": ("min", "max"), "alpha": ("alpha",), "candidates": ()}
"""The numeric columns of each small CSV input; every other column stays text (tickers such as ``0700`` or ``NA``)."""


def _read_table(path: str, name: str) -> pd.DataFrame:
    """A small CSV input (limits, alpha, candidates) or a one-line error naming it.

    Every cell is read as text (so ``0700`` stays ``0700`` and ``NA`` a ticker, not a missing
    value); the numeric columns of :data:`TABLE_NUMBERS` are then parsed, a blank cell NaN,
    a cell that is not a number refused in one line naming the file, row and column.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise XlfactorError(f"--{name} {path}: cannot be read ({' '.join(str(exc).split())})") from None
    for column in frame.columns:
        if str(column).strip().lower() in TABLE_NUMBERS.get(name, ()):
            text = frame[column].str.strip()
            numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
            bad = numbers.isna() & (text != "")
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise XlfactorError(f"--{name} {path}: row {row + 1}, column {column}: {text.iloc[row]!r} is not a number")
            frame[column] = numbers.astype(float)
    return frame


def _run_optimize(args: argparse.Namespace) -> int:
    from xlfactor._files import atomic_write
    from xlfactor.optimizer import optimize
    from xlfactor.risk.model_data import factor_model_data

    snapshot = _load(args)
    portfolio = _read_holdings(args.portfolio)
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    alpha = _read_table(args.alpha, "alpha") if args.alpha else None
    candidates = None
    if args.candidates:
        frame = _read_table(args.candidates, "candidates")
        column = {str(c).strip().lower(): c for c in frame.columns}.get("ticker")
        if column is None:
            raise XlfactorError(f"--candidates {args.candidates}: needs a ticker column")
        candidates = [t for t in frame[column].str.strip() if t]
    _note_simulated(snapshot)
    result = optimize(factor_model_data(snapshot), portfolio, _read_table(args.limits, "limits"), args.objective, alpha, benchmark,
                      candidates)  # fmt: skip
    _note_missing(result.missing)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        from xlfactor.cells import safe_frame

        trades = safe_frame(result.trade_list())  # a ticker never becomes a live formula in a spreadsheet
        path = atomic_write(args.out, lambda handle: trades.to_csv(handle, index=False, float_format="%.10g"))
        print(f"wrote {len(trades)} trades to {path}", file=sys.stderr)
    if args.json:
        payload = {
            "as_of": snapshot.as_of,
            "simulated": snapshot.is_simulated,
            "objective": result.objective,
            "status": result.status,
            "objective_value": result.objective_value,
            "tracking_error_before": result.tracking_error_before,
            "tracking_error_after": result.tracking_error_after,
            "trades": result.trades.to_dict(orient="records"),
            "check": result.check.to_dict(orient="records"),
            "binding": result.binding.to_dict(orient="records"),
            "shadow_price_unit": result.shadow_price_unit,
            "notes": result.notes,
        }

        print(strict_json(payload))
        return 0
    print(optimize_text(result), end="")
    return 0


OPTIMIZE_SHOWN_TRADES = 20
OBJECTIVE_TEXT = {"tracking_error": "Minimum tracking error", "total_risk": "Minimum total risk",
                  "alpha": "Maximum alpha net of risk and costs", "trades": "Nearest book inside the limits"}  # fmt: skip


def optimize_text(result) -> str:
    """What ``xlfactor optimize`` prints: the outcome, the trades, the limits before and after, the binding limits."""
    goal = OBJECTIVE_TEXT.get(result.objective, result.objective)
    lines = [
        f"{goal}: {result.status}; tracking error {percent(result.tracking_error_before, sign=False)}"
        f" -> {percent(result.tracking_error_after, sign=False)}; {len(result.trades)} trade(s) in {result.solve_seconds:.2f} s",
        "",
    ]
    if len(result.trades):
        dollars = "trade_value" in result.trades
        header = f"  {'ticker':<12}{'weight now':>12}{'target':>12}{'trade':>12}" + (f"{'trade $':>16}" if dollars else "")
        lines.append(header)
        for row in result.trades.head(OPTIMIZE_SHOWN_TRADES).itertuples(index=False):
            line = (f"  {str(row.ticker):<12}{percent(row.current_weight, sign=False):>12}{percent(row.target_weight, sign=False):>12}"
                    f"{percent(row.trade_weight):>12}")  # fmt: skip
            lines.append(line + (f"{money(row.trade_value):>16}" if dollars else ""))
        if len(result.trades) > OPTIMIZE_SHOWN_TRADES:
            lines.append(f"  ... {len(result.trades) - OPTIMIZE_SHOWN_TRADES} more (--out writes them all)")
        lines.append("")
    lines.append("Limits before and after")
    lines.append(f"  {'limit':<18}{'name':<10}{'min':>10}{'max':>10}{'before':>12}{'breach':>8}{'after':>12}{'breach':>8}")
    for row in result.check.itertuples(index=False):
        shown = _limit_value_format(str(row.limit))
        lines.append(f"  {str(row.limit):<18}{str(row.name or ''):<10}{shown(row.min):>10}{shown(row.max):>10}"
                     f"{shown(row.before):>12}{'yes' if row.breach_before else 'no':>8}{shown(row.after):>12}"
                     f"{'yes' if row.breach else 'no':>8}")  # fmt: skip
    if len(result.binding):
        lines += ["", f"Binding limits (shadow price: {result.shadow_price_unit})"]
        for row in result.binding.itertuples(index=False):
            lines.append(f"  {str(row.limit):<18}{str(row.name or ''):<10}{row.side:>5}  bound {_limit_value_format(str(row.limit).split()[0])(row.bound):>10}"
                         f"  shadow price {row.shadow_price:.4f}")  # fmt: skip
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _limit_value_format(kind: str):
    """How one limit kind's numbers read: percents, two decimals, or a count; blank for no bound."""

    def shown(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        from xlfactor.optimizer import value_style  # percents, two decimals or a count, as the Rebalance sheet

        style = value_style(kind)
        if style == "percent":
            return percent(value, sign=False)
        return f"{float(value):,.0f}" if style == "count" else f"{float(value):.2f}"

    return shown


def _run_stress(args: argparse.Namespace) -> int:
    from xlfactor.risk import scenarios
    from xlfactor.risk.model_data import factor_model_data

    snapshot = _load(args)
    data = factor_model_data(snapshot)
    book = scenarios.as_book(data, _read_holdings(args.portfolio))
    benchmark = scenarios.as_book(data, _read_holdings(args.benchmark), "benchmark") if args.benchmark else None
    _note_simulated(snapshot)
    if args.shock:
        result = scenarios.stress(data, book, [_shock(text) for text in args.shock], not args.no_propagate, benchmark)
        if args.json:
            factors = result.factors[result.factors["factor_move"] != 0]
            print(strict_json({"summary": result.summary.to_dict(orient="index"), "dollars": result.dollars,
                              "factors": factors.to_dict(orient="records")}))  # fmt: skip
        else:
            print(result.summary.to_string(float_format=percent))
            if result.dollars is not None:
                print(f"portfolio P&L {money(result.dollars['portfolio'])}, active {money(result.dollars['active'])}")
        return 0
    table = scenarios.stress_table(data, book, benchmark)
    if args.json:
        print(strict_json(table.to_dict(orient="records")))
    else:
        shown = table.drop(columns=["description"])
        print(shown.to_string(index=False, float_format=percent))
    return 0


def _shock(text: str) -> tuple[str, float]:
    from xlfactor.conventions import number_from_text

    factor, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return factor.strip(), number_from_text(value)  # -0,1 is -0.1
    except ValueError:
        raise XlfactorError(f"--shock must be FACTOR=SHOCK with a decimal shock (market=-0.10), got {text!r}") from None


def _run_snapshot_info(args: argparse.Namespace) -> int:
    snapshot = _load(args)
    print(snapshot_text(snapshot.describe(), snapshot.diagnostics), end="")
    return 0


SNAPSHOT_SECTIONS = (
    ("Snapshot", ("source", "universe", "model_version", "as_of_date", "simulated")),
    ("Coverage", ("tickers", "factors", "factor_return_days", "panel_dates", "scenarios")),
)


def snapshot_text(facts: dict, diagnostics: dict) -> str:
    """``snapshot info`` as sections: what it is, what it covers, its diagnostics one per line."""
    lines = []
    shown = set()
    for title, keys in SNAPSHOT_SECTIONS:
        lines.append(title)
        for key in keys:
            if key in facts:
                lines.append(f"  {key.replace('_', ' '):<22} {_plain(facts[key])}")
                shown.add(key)
        lines.append("")
    rest = [k for k in facts if k not in shown and k != "diagnostics"]
    if rest:
        lines.append("Other")
        lines += [f"  {k.replace('_', ' '):<22} {_plain(facts[k])}" for k in rest]
        lines.append("")
    if diagnostics:
        from xlfactor.snapshot.snapshot import DIAGNOSTIC_MEANINGS, diagnostic_value

        lines.append("Diagnostics")
        for key, value in diagnostics.items():
            if isinstance(value, dict):  # per-factor counts: one sentence ("3 blank ... cells read as neutral (0): ...")
                lines.append(f"  {diagnostic_value(key, value)}")
            else:
                lines.append(f"  {str(key).replace('_', ' '):<32} {_plain(value)}")
            if key in DIAGNOSTIC_MEANINGS:
                lines.append(f"  {'':<32} {DIAGNOSTIC_MEANINGS[key]}")
    return "\n".join(lines).rstrip("\n") + "\n"


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    return str(value)


def percent(value: float, digits: int = 2, sign: bool = True) -> str:
    """A decimal as a percent with the sign first: ``-8.21%``, ``+0.41%``; a value that rounds to zero is ``0.00%``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    rounded = round(float(value) * 100, digits)
    if rounded == 0:
        return f"{0:.{digits}f}%"
    return f"{rounded:+.{digits}f}%" if sign else f"{rounded:.{digits}f}%"


def money(value: float) -> str:
    """Dollars with the sign before the symbol and no cents: ``-$445,660``, ``+$12,000``; zero is ``$0``."""
    rounded = round(float(value))
    if rounded == 0:
        return "$0"
    return f"-${-rounded:,.0f}" if rounded < 0 else f"+${rounded:,.0f}"


REPORT_ROWS = (
    ("total_risk", "Total risk (annualized)"), ("factor_risk", "Factor risk"), ("idiosyncratic_risk", "Idiosyncratic risk"),
    ("tracking_error", "Tracking error"), ("active_factor_risk", "Active factor risk"),
    ("active_idiosyncratic_risk", "Active idiosyncratic risk"), ("beta", "Ex-ante beta"),
    ("var_95", "One-day VaR 95% (of gross)"), ("var_99", "One-day VaR 99% (of gross)"),
    ("idiosyncratic_share_of_te", "Idiosyncratic share of TE²"), ("net_exposure", "Net exposure (of gross)"),
    ("holdings", "Holdings"), ("missing_holdings", "Holdings outside the universe"),
)  # fmt: skip


def report_text(report: dict, name: str, gross: float | None = None) -> str:
    """The report's summary as a table a person reads, then the tear sheet's sentences."""
    from xlfactor.reporting.narrative import tear_sheet_sentences

    summary = report["summary"]["value"]
    facts = report["snapshot"]["value"]
    lines = [f"Risk report: {name}", f"snapshot {facts.get('source')} as of {facts.get('as_of_date')}, benchmark: {facts.get('benchmark')}", ""]
    for key, label in REPORT_ROWS:
        if key not in summary:
            continue
        value = summary[key]
        if key in ("holdings", "missing_holdings"):
            text = f"{int(value):,}"
        elif key == "beta":
            text = f"{value:.2f}"
        else:
            text = percent(value, sign=key == "net_exposure")
        lines.append(f"  {label:<32} {text:>10}")
    if gross is not None:
        lines.append(f"  {'Gross (dollars)':<32} {money(gross).lstrip('+'):>10}")
    lines.append("")
    lines += tear_sheet_sentences(report, gross)
    return "\n".join(lines) + "\n"


def _gross(portfolio: pd.DataFrame) -> float | None:
    import pandas as pd

    columns = {str(c).strip().lower(): c for c in portfolio.columns}
    if "value" not in columns:
        return None
    return float(pd.to_numeric(portfolio[columns["value"]], errors="coerce").abs().sum())


def _run_factors(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd


    from xlfactor.risk.model_data import factor_model_data

    snapshot = _load(args)
    data = factor_model_data(snapshot)
    volatility = np.sqrt(np.diag(data.factor_covariance))
    table = pd.DataFrame({"factor": data.factor_names, "group": data.factor_groups, "volatility": volatility})
    _note_simulated(snapshot)
    if args.json:
        print(strict_json(table.to_dict(orient="records")))
        return 0
    print(f"{len(table)} factors of snapshot {snapshot.describe().get('source')} as of {snapshot.as_of} (volatility annualized)")
    print(table.to_string(index=False, formatters={"volatility": functools.partial(percent, sign=False)}))
    return 0


def _run_snapshot_export(args: argparse.Namespace) -> int:
    from xlfactor.snapshot import write_snapshot

    path = write_snapshot(_load(args), args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
