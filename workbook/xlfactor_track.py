"""Python behind the Refresh button of ``xlfactor_track.xlsm``.

The button runs the xlwings macro ``SampleCall``, which imports the module named like
the workbook (this file, kept next to it) and calls ``main()``.
"""

import xlwings as xw

from xlfactor.excel.refresh import refresh_book


def main() -> None:
    """Record today's risk and return for the workbook's holdings."""
    refresh_book(xw.Book.caller())
