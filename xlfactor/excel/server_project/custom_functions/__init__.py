"""Custom functions of the xlfactor xlwings Server project (``=OF.TRACKINGERROR(...)``).

Generated from the catalog in :mod:`xlfactor.functions`; ``xlfactor serve`` points
xlwings Server at this project folder. Each call runs off the event loop under the
caller's access policy (see :mod:`xlfactor.excel.server`).
"""

from xlwings import arg, func
from xlwings_server.models import CurrentUser

from xlfactor.excel.server import server_functions

globals().update(server_functions(func, arg, CurrentUser))
