"""Excel front-end speed on the demo snapshot.

Prints: one warm OF_TRACKINGERROR call on a 1000-name range and its ratio to the bare
numeric ``tracking_error(weights)`` call (target at most 10x: the parsed range is memoized
per content, and each call gets a fresh copy of the cells as Excel sends them), a cold
parse of the range, the same through the naive path (portfolio_report per call, the baseline), writing the full
report workbook (target under 1 s), and a cold first call in a fresh process (Python
start, imports and snapshot load included).
Run: python benchmarks/bench_excel.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import xlfactor as xf
from xlfactor.excel.report_workbook import write_report_workbook
from xlfactor.functions import OF_TRACKINGERROR
from xlfactor.functions import catalog, ranges
from xlfactor.functions.ranges import _parse_holdings, as_rows

COLD = """
import time
start = time.perf_counter()
from xlfactor.functions import OF_TRACKINGERROR
from xlfactor.functions.ranges import _parse_holdings, as_rows
value = OF_TRACKINGERROR([["SIM0001", 1.0], ["SIM0002", 2.0]])
print(time.perf_counter() - start)
"""


def main() -> None:
    snapshot = xf.load_snapshot()
    rng = np.random.default_rng(0)
    tickers = rng.choice(snapshot.tickers, 1000, replace=False)
    values = rng.uniform(-1e5, 4e5, 1000)
    rows = [["ticker", "value"]] + [[f" {t.lower()}", float(v)] for t, v in zip(tickers, values)]
    portfolio = pd.DataFrame({"ticker": tickers, "value": values})
    copies = [[[cell.encode().decode() if isinstance(cell, str) else cell for cell in row] for row in rows] for _ in range(64)]
    turn = iter(range(10**9))
    warm = median_seconds(lambda: OF_TRACKINGERROR(copies[next(turn) % 64]), 300)
    data = xf.factor_model_data(snapshot)
    weights = data.align_holdings(portfolio).weights
    bare = median_seconds(lambda: data.tracking_error(weights), 2000)
    cold = median_seconds(lambda: _parse_holdings(as_rows(rows), "holdings"), 100)

    def without_range_memo():
        ranges._MEMO.clear()  # what justifies the range memo: the same warm call parsing and aligning again
        catalog._ALIGNED.clear()
        return OF_TRACKINGERROR(copies[next(turn) % 64])

    unmemoized = median_seconds(without_range_memo, 100)
    print(
        f"warm OF_TRACKINGERROR / bare tracking_error(weights): {warm * 1e6:.0f} us / {bare * 1e6:.1f} us"
        f" = {warm / bare:.1f}x (target <= 10x); cold range parse {cold * 1e6:.0f} us"
    )
    print(
        f"warm OF_TRACKINGERROR without the range memo (parse + align every call): {unmemoized * 1e6:.0f} us"
        f" = {unmemoized / warm:.1f}x the memoized call"
    )
    naive = median_seconds(lambda: xf.portfolio_report(portfolio, snapshot)["summary"]["value"]["tracking_error"], 20)
    print(f"warm OF_TRACKINGERROR, 1000-name range: {warm * 1e3:.3f} ms (naive full report per call {naive * 1e3:.2f} ms, {naive / warm:.1f}x)")
    report_40 = pd.read_csv(Path(__file__).resolve().parents[1] / "examples" / "portfolio.csv")
    with tempfile.TemporaryDirectory() as work:
        for name, frame in (("40-name example", report_40), ("1000-name", portfolio)):
            write = median_seconds(lambda: write_report_workbook(Path(work) / "r.xlsx", frame, snapshot), 3)
            print(f"full report workbook ({name}): {write:.3f} s")
    colds = [float(subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, check=True).stdout) for _ in range(3)]
    print(f"cold first call in a new process (imports + snapshot load + call): {statistics.median(colds) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
