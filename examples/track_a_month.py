"""Track a month: record 22 trading days of a book's risk and return, then attribute them.

Run: ``python examples/track_a_month.py [FOLDER]`` (default ``./example-track``). Writes the
track history (OpenFactor's ``--track`` layout) and the workbook ``track.xlsx`` there, as
``xlfactor track`` does each day in a scheduled job.
"""

import sys
from pathlib import Path

import pandas as pd

import xlfactor as xf
from xlfactor.cli import main
from xlfactor.reporting import record_day

PORTFOLIO = Path(__file__).resolve().parent / "portfolio.csv"
folder = Path(sys.argv[1] if len(sys.argv) > 1 else "example-track")
folder.mkdir(parents=True, exist_ok=True)

snap = xf.load_snapshot()
portfolio = pd.read_csv(PORTFOLIO)
days = snap.factor_returns.index[-22:]  # the demo's exposure panel covers its last 64 days
for day in days[:-1]:  # what a scheduled `xlfactor track` records each evening
    record_day(portfolio, folder / "history", snap, str(day))
# The last day through the command line, which also rewrites the workbook from the history.
status = main(["track", "--portfolio", str(PORTFOLIO), "--workbook", str(folder / "track.xlsx"),
               "--history", str(folder / "history"), "--as-of", str(days[-1])])  # fmt: skip
if status:
    sys.exit(status)

month = xf.track_attribution(folder / "history", period="1M")
print(month["reconciliation"].to_string())
print(month["contributors"].head(8).to_string(index=False))
print(month["names"].head(8).to_string(index=False))
