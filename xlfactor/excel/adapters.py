"""Excel adapters generated from the worksheet-function catalog (no math here).

* ``classic_functions(xw)``: xlwings classic UDFs for desktop Excel on Windows
  (``=OF_TRACKINGERROR(...)``, category ``xlfactor``), imported by ``xlfactor/excel/udfs.py``.
* ``server_functions(func, arg)``: Office.js custom functions served by xlwings Server
  (``=OF.TRACKINGERROR(...)`` with the manifest namespace ``OF``), imported by the
  server project's ``custom_functions`` package.

Both wrap the catalog's safe callables unchanged, so every front end returns the same
numbers and the same ``#XLFACTOR`` messages.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from xlfactor.functions import CATALOG, WorksheetFunction

CATEGORY = "xlfactor"
SERVER_PREFIX = "OF_"


def _adapter(entry: WorksheetFunction) -> Callable[..., Any]:
    """A plain function with the catalog entry's name and parameters, without type annotations.

    xlwings reads annotations as converters; the catalog's are type hints for Python
    callers (``RangeValue``, ``Cell``), so the adapters drop them and let the ``xw.arg``
    options (``ndim=2`` for ranges) decide.
    """

    @functools.wraps(entry.function)
    def call(*args: Any, **kwargs: Any) -> Any:
        return entry.function(*args, **kwargs)

    signature = inspect.signature(entry.function)
    call.__signature__ = signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    call.__annotations__ = {}
    del call.__wrapped__
    call.__doc__ = entry.description
    return call


def classic_functions(xw: Any) -> dict[str, Callable[..., Any]]:
    """Every catalog function decorated with ``xw.func``/``xw.arg`` (xlwings classic)."""
    functions = {}
    for entry in CATALOG.values():
        wrapped = _adapter(entry)
        for argument in entry.arguments:
            options = {"ndim": 2} if argument.is_range else {}
            wrapped = xw.arg(argument.name, doc=argument.help, **options)(wrapped)
        functions[entry.name] = xw.func(category=CATEGORY)(wrapped)
    return functions


def server_functions(func: Any, arg: Any) -> dict[str, Callable[..., Any]]:
    """Every catalog function decorated for xlwings Server, named without the ``OF_`` prefix."""
    functions = {}
    for entry in CATALOG.values():
        wrapped = _adapter(entry)
        for argument in entry.arguments:
            options = {"ndim": 2} if argument.is_range else {}
            wrapped = arg(argument.name, doc=argument.help, **options)(wrapped)
        functions[entry.name] = func(name=entry.name.removeprefix(SERVER_PREFIX))(wrapped)
    return functions
