"""The module desktop Excel imports for the ``OF_`` worksheet functions (xlwings classic).

The workbook's ``xlwings.conf`` sheet names it (``UDF Modules = xlfactor.excel.udfs``). Every
function here is generated from the catalog in :mod:`xlfactor.functions`; there is no
code of its own. Without Excel (Linux, tests) the xlwings decorators do nothing and the
functions are plain callables.
"""

import xlwings as xw

from xlfactor.excel.adapters import classic_functions

globals().update(classic_functions(xw))
__all__ = sorted(classic_functions.__globals__["CATALOG"])
