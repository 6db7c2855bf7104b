"""Custom functions of the xlfactor xlwings Server project (``=OF.TRACKINGERROR(...)``).

Generated from the catalog in :mod:`xlfactor.functions`; ``xlfactor serve`` points
xlwings Server at this project folder.
"""

from xlwings import arg, func

from xlfactor.excel.adapters import server_functions

globals().update(server_functions(func, arg))
