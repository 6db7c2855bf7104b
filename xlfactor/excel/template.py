"""Build ``workbook/xlfactor_track.xlsm``: holdings, live OF_ formulas and a Refresh button.

The button is a Form Control bound to the macro ``SampleCall`` of xlwings' quickstart
VBA project (BSD licence, taken from the installed xlwings package), which runs
``import xlfactor_track; xlfactor_track.main()`` -- the module next to the workbook.
Built with XlsxWriter (the one library that writes form buttons with a VBA project);
run ``python -m xlfactor.excel.template`` after changing it.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np

TEMPLATE = Path(__file__).resolve().parents[2] / "workbook" / "xlfactor_track.xlsm"
MACRO = "SampleCall"
UDF_MODULE = "xlfactor.excel.udfs"
EXAMPLE_NAMES = 25
HOLDINGS_RANGE = "Holdings!$A$1:$B$500"


def quickstart_vba() -> bytes:
    """``xl/vbaProject.bin`` of xlwings' quickstart workbook."""
    import xlwings

    with zipfile.ZipFile(Path(xlwings.__file__).with_name("quickstart.xlsm")) as archive:
        return archive.read("xl/vbaProject.bin")


def build_template(path: Path = TEMPLATE) -> Path:
    """Write the template workbook to ``path``."""
    import tempfile

    import xlsxwriter

    from xlfactor.snapshot.sources import load_snapshot

    snapshot = load_snapshot()
    rng = np.random.default_rng(1)
    tickers = rng.choice(snapshot.tickers, EXAMPLE_NAMES, replace=False)
    values = np.round(rng.uniform(50_000, 250_000, EXAMPLE_NAMES), -3)
    with tempfile.TemporaryDirectory() as work:
        vba = Path(work) / "vbaProject.bin"
        vba.write_bytes(quickstart_vba())
        wb = xlsxwriter.Workbook(str(path))
        wb.set_properties({"created": dt.datetime(2026, 1, 1), "title": "xlfactor track history"})
        wb.set_vba_name("ThisWorkbook")
        wb.add_vba_project(str(vba))
        bold = wb.add_format({"bold": True})
        percent = wb.add_format({"num_format": "0.00%"})
        holdings = wb.add_worksheet("Holdings")
        holdings.set_vba_name("Sheet1")
        holdings.write_row(0, 0, ["ticker", "value"], bold)
        for i, (ticker, value) in enumerate(zip(tickers.tolist(), values.tolist()), start=1):
            holdings.write_string(i, 0, ticker)
            holdings.write_number(i, 1, value)
        holdings.set_column(0, 1, 14)
        holdings.insert_button("D2", {"macro": MACRO, "caption": "Refresh track", "width": 160, "height": 32})
        holdings.write(4, 3, "Risk now (xlwings UDFs, live)", bold)
        live = [
            ("Total risk", f"=OF_TOTALRISK({HOLDINGS_RANGE})"),
            ("Tracking error", f"=OF_TRACKINGERROR({HOLDINGS_RANGE})"),
            ("Beta", f"=OF_BETA({HOLDINGS_RANGE})"),
            ("1-day VaR 95%", f"=OF_VAR({HOLDINGS_RANGE})"),
            ("Snapshot", '=OF_SNAPSHOT("as_of_date")'),
        ]
        for row, (label, formula) in enumerate(live, start=5):
            holdings.write(row, 3, label)
            holdings.write_formula(row, 4, formula, percent if label != "Snapshot" and label != "Beta" else None)
        holdings.set_column(3, 3, 24)
        holdings.set_column(4, 4, 14)
        holdings.write(11, 3, "The market of the default snapshot is SIMULATED (xlfactor demo).")
        for name in ("Track", "TrackSummary"):
            wb.add_worksheet(name).write(0, 0, "Press 'Refresh track' on the Holdings sheet.")
        settings = wb.add_worksheet("Settings")
        settings.write_row(0, 0, ["setting", "value", "meaning"], bold)
        settings.write_row(1, 0, ["snapshot", "", "folder or URL; blank = embedded simulated demo"])
        settings.write_row(2, 0, ["date", "", "date to record (YYYY-MM-DD); blank = latest"])
        settings.write_row(3, 0, ["history", "", "history folder; blank = xlfactor_track_history next to this file"])
        settings.set_column(0, 2, 18)
        conf = wb.add_worksheet("xlwings.conf")
        conf.write_row(0, 0, ["UDF Modules", UDF_MODULE])
        wb.close()
    return path


if __name__ == "__main__":
    print(build_template())
