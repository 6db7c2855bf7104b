"""xlwings Server's ``custom`` authentication provider: the team's bearer tokens (see :mod:`xlfactor.excel.server`).

``xlfactor serve`` sets ``XLWINGS_AUTH_PROVIDERS=["custom"]``; xlwings Server then calls
``validate_token`` with the request's ``Authorization`` header before every custom-function call.
"""

from xlfactor.excel.server import validate_token

__all__ = ["validate_token"]
