"""The ``xlfactor`` command line: a thin adapter over the Python API (no math here)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

import pandas as pd

from xlfactor._json import to_plain
from xlfactor.errors import XlfactorError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 ok, 2 bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (XlfactorError, OSError) as exc:
        print(f"xlfactor: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlfactor", description="Open equity factor risk model.")
    commands = parser.add_subparsers(title="commands")

    report = commands.add_parser("report", help="risk report of a portfolio (workbook and/or JSON summary)")
    _holdings_arguments(report)
    _snapshot_arguments(report)
    report.add_argument("--out", help="write the report workbook here (.xlsx)")
    report.add_argument("--json", action="store_true", help="print the summary as JSON")
    report.add_argument("--track", help="track folder (xlfactor track --history or OpenFactor --track): realized statistics on the Summary")
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
    _snapshot_arguments(batch)
    batch.set_defaults(run=_run_batch)

    hedge = commands.add_parser("hedge", help="ETF cascade hedge (SPY, sector, subsector) and the minimum-TE hedge in the same ETFs")
    hedge.add_argument("--portfolio", required=True, help="CSV with ticker and value (or allocation) columns")
    _snapshot_arguments(hedge)
    hedge.add_argument("--levels", type=int, choices=[1, 2, 3], default=3, help="cascade depth (default 3)")
    hedge.add_argument("--json", action="store_true", help="print the result as JSON")
    hedge.set_defaults(run=_run_hedge)

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

    functions = commands.add_parser("functions", help="list the OF_ worksheet functions")
    functions.add_argument("--markdown", action="store_true", help="print the README reference table")
    functions.set_defaults(run=_run_functions)

    serve = commands.add_parser("serve", help="serve =OF.NAME(...) custom functions with xlwings Server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_run_serve)
    return parser


def _run_track(args: argparse.Namespace) -> int:
    from pathlib import Path

    from xlfactor.excel.track_workbook import write_track_workbook
    from xlfactor.snapshot import load_snapshot
    from xlfactor.reporting.track import read_history, record_day

    snapshot = load_snapshot(args.snapshot, progress=_progress)
    workbook = Path(args.workbook)
    history = Path(args.history) if args.history else workbook.with_name(f"{workbook.stem}_history")
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    day = record_day(_read_holdings(args.portfolio), history, snapshot, args.as_of, benchmark)
    write_track_workbook(workbook, read_history(history))
    track = day.tables["track"].iloc[0]
    if snapshot.is_simulated:
        print("note: SIMULATED MARKET (embedded demo snapshot), not real data", file=sys.stderr)
    _note_missing(day.missing)
    print(
        f"recorded {day.date}: portfolio {track['portfolio_return']:+.4%}, benchmark {track['benchmark_return']:+.4%}, "
        f"TE {track['tracking_error']:.2%} -> {workbook} ({history})"
    )
    return 0


class _Bar:
    """``progress(label, done, total)`` as tqdm bars on stderr: a new bar when a count restarts."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, label: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None or done <= self.bar.n or total != self.bar.total:
            self.close()
            self.bar = tqdm(total=total, file=sys.stderr, unit="step")
        self.bar.set_description_str(label, refresh=False)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run_build(args: argparse.Namespace) -> int:
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
        written = build_snapshot(args.data, args.out, args.start, args.end, args.as_of, args.every, options, _Bar(), mapper)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    print(f"wrote {len(written)} snapshot(s): {written[-1]}", file=sys.stderr)
    return 0


def _run_batch(args: argparse.Namespace) -> int:
    from xlfactor.reporting.batch_run import run_batch

    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    writer = None
    if args.reports:
        from xlfactor.excel.report_workbook import write_report_workbook as writer
    result = run_batch(
        args.holdings, args.out, args.snapshot, args.as_of, benchmark, writer, args.track,
        args.scheduler, args.workers, bar=True,
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
    from xlfactor.demo import write_demo_inputs
    from xlfactor.demo.simulate_constants import SEED

    seed = SEED if args.seed is None else args.seed
    market = None
    if args.names is not None or args.years is not None:
        from xlfactor.conventions import TRADING_DAYS_PER_YEAR
        from xlfactor.demo.simulate import N_ASSETS, N_DAYS, simulate_market

        if (args.names is not None and args.names < 50) or (args.years is not None and args.years * TRADING_DAYS_PER_YEAR < 200):
            raise XlfactorError("demo-data needs --names of at least 50 and --years of at least 0.8")
        days = N_DAYS if args.years is None else int(round(args.years * TRADING_DAYS_PER_YEAR))
        market = simulate_market(seed, N_ASSETS if args.names is None else args.names, days)
    folder = write_demo_inputs(args.folder, seed, market)
    print(f"wrote the simulated market (inputs and truth/) to {folder}", file=sys.stderr)
    return 0


def _run_functions(args: argparse.Namespace) -> int:
    from xlfactor.functions import reference_markdown, reference_text

    print(reference_markdown() if args.markdown else reference_text(), end="")
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    from xlfactor.excel.server import serve

    serve(args.host, args.port)
    return 0


SNAPSHOT_HELP = "folder or http(s)/file URL (default: embedded simulated demo)"


def _holdings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portfolio", required=True, help="CSV with ticker and value (or allocation) columns")
    parser.add_argument("--benchmark", help="CSV of benchmark holdings (default: cap-weighted universe)")


def _snapshot_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--snapshot", help=SNAPSHOT_HELP)
    parser.add_argument("--as-of", default="latest", help="snapshot date YYYY-MM-DD (default: latest)")


def _load(args: argparse.Namespace):
    from xlfactor.snapshot import load_snapshot

    return load_snapshot(args.snapshot, args.as_of, progress=_progress)


def _progress(name: str, done: int, total: int | None) -> None:
    size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
    print(f"\rdownloading {name}: {size}", end="" if total is None or done < total else "\n", file=sys.stderr)


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
    if snapshot.is_simulated:
        print("note: SIMULATED MARKET (embedded demo snapshot), not real data", file=sys.stderr)
    _note_missing(report["missing_holdings"])
    if args.out:
        from xlfactor.excel.report_workbook import write_report_workbook

        path = write_report_workbook(args.out, portfolio, snapshot, benchmark, report, track=args.track)
        print(f"wrote {path}", file=sys.stderr)
    if args.json or not args.out:
        summary = {k: _json_number(k, v) for k, v in report["summary"]["value"].items()}
        facts = report["snapshot"]["value"].to_dict()
        facts["diagnostics"] = snapshot.diagnostics  # structured: counts are numbers, flags booleans
        out = {"snapshot": facts, "summary": summary}
        if args.track:
            from xlfactor.reporting.track import load_track, realized_statistics

            realized = realized_statistics(load_track(args.track)["track"])
            out["realized"] = json.loads(realized.to_json(orient="index"))
        print(json.dumps(out, indent=2, default=to_plain))
    return 0


def _run_discover(args: argparse.Namespace) -> int:
    from xlfactor.semantic import SemanticError, discover_semantic_factors

    snapshot = _load(args)
    portfolio = _read_holdings(args.portfolio)
    benchmark = _read_holdings(args.benchmark) if args.benchmark else None
    if snapshot.is_simulated:
        print("note: SIMULATED MARKET (embedded demo snapshot), not real data", file=sys.stderr)
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
    if snapshot.is_simulated:
        print("note: SIMULATED MARKET (embedded demo snapshot), not real data", file=sys.stderr)
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
        print(json.dumps(payload, indent=2, default=to_plain))
        return 0
    print(f"ETF hedges as of {snapshot.as_of} (decimals of gross; negative = short)")
    print(result.hedges.to_string(float_format=lambda v: f"{v:+.4f}"))
    print("\nETF cascade by level (shares of the book's variance over the window)")
    print(result.levels.to_string(float_format=lambda v: f"{v:.4f}"))
    print("\nModel risk (annualized), factor share of variance and beta")
    print(result.summary.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def _run_stress(args: argparse.Namespace) -> int:
    from xlfactor.risk import scenarios
    from xlfactor.risk.model_data import factor_model_data

    snapshot = _load(args)
    data = factor_model_data(snapshot)
    book = scenarios.as_book(data, _read_holdings(args.portfolio))
    benchmark = scenarios.as_book(data, _read_holdings(args.benchmark), "benchmark") if args.benchmark else None
    if snapshot.is_simulated:
        print("note: SIMULATED MARKET (embedded demo snapshot), not real data", file=sys.stderr)
    if args.shock:
        result = scenarios.stress(data, book, [_shock(text) for text in args.shock], not args.no_propagate, benchmark)
        if args.json:
            factors = result.factors[result.factors["factor_move"] != 0]
            print(json.dumps({"summary": result.summary.to_dict(orient="index"), "dollars": result.dollars,
                              "factors": factors.to_dict(orient="records")}, indent=2, default=float))  # fmt: skip
        else:
            print(result.summary.to_string(float_format=lambda v: f"{v:+.4%}"))
            if result.dollars is not None:
                print(f"portfolio P&L ${result.dollars['portfolio']:+,.0f}, active ${result.dollars['active']:+,.0f}")
        return 0
    table = scenarios.stress_table(data, book, benchmark)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2, default=float))
    else:
        shown = table.drop(columns=["description"])
        print(shown.to_string(index=False, float_format=lambda v: f"{v:+.4%}"))
    return 0


def _shock(text: str) -> tuple[str, float]:
    factor, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return factor.strip(), float(value)
    except ValueError:
        raise XlfactorError(f"--shock must be FACTOR=SHOCK with a decimal shock (market=-0.10), got {text!r}") from None


def _run_snapshot_info(args: argparse.Namespace) -> int:
    snapshot = _load(args)
    for key, value in snapshot.describe().items():
        print(f"{key:>20}: {value}")
    return 0


def _run_snapshot_export(args: argparse.Namespace) -> int:
    from xlfactor.snapshot import write_snapshot

    path = write_snapshot(_load(args), args.out)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
