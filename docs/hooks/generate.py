"""MkDocs hook: the reference pages that are generated, never hand-copied.

* ``<!-- generated:python-api -->``: one mkdocstrings entry per name of ``xlfactor.__all__``
  and per result class those functions return, grouped by package.
* ``<!-- generated:functions -->``: the ``OF_`` worksheet functions, from the catalog
  (``xlfactor.functions.reference_markdown()``).
* ``<!-- generated:cli -->``: every ``xlfactor`` command's ``--help``, from the argparse parser
  (through the public entry point ``xlfactor.cli.main``).
* ``<!-- generated:reliability -->``: the case tables ``tests/reliability/*.csv``
  (``case,handled,test``).

``guide/server.md`` belongs to the xlwings Server work; until that page exists this hook adds a
short generated one, so the links to it hold.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELIABILITY = ROOT / "tests" / "reliability"

SERVER_FALLBACK = """# xlwings Server: Excel on the web, Mac and Windows

`pip install 'xlfactor[server]'`, set `XLWINGS_LICENSE_KEY` and run `xlfactor serve` (it binds
127.0.0.1:8000), then sideload the add-in manifest from `http(s)://127.0.0.1:8000/manifest`
(Excel needs HTTPS: see the xlwings Server docs for local certificates). The functions are the
same catalog as on the desktop, written `=OF.TRACKINGERROR(A2:B40)`.

xlwings Server is source-available: the key `noncommercial` covers non-commercial use;
**commercial use, including internal tools, needs your own xlwings licence key.**

See [the worksheet functions](../reference/functions.md) and [`xlfactor serve`](../reference/cli.md#xlfactor-serve).
"""


API_SECTIONS = {
    "snapshot": "Snapshots",
    "risk": "Risk, stress tests and time series",
    "hedging": "Hedging and budgets",
    "optimizer": "Limits, what-if and the optimizer",
    "reporting": "Reports and track history",
    "semantic": "Semantic discovery",
    "errors": "Errors",
}


def python_api() -> dict[str, list[str]]:
    """Dotted paths to document, by section: ``xlfactor.__all__`` then the classes its functions return."""
    import inspect
    import typing

    import xlfactor

    sections: dict[str, list[str]] = {title: [] for title in API_SECTIONS.values()}

    def place(obj, path: str) -> None:
        package = obj.__module__.split(".")[1] if obj.__module__.count(".") else "errors"
        title = API_SECTIONS.get(package, "Other")
        sections.setdefault(title, [])
        if path not in sections[title]:
            sections[title].append(path)

    def result_class(function):
        result = typing.get_type_hints(function).get("return")
        return result if inspect.isclass(result) and result.__module__.startswith("xlfactor") else None

    exported = [getattr(xlfactor, name) for name in xlfactor.__all__ if not name.startswith("__")]
    for obj in exported:  # by the module that defines it: the package root imports its names lazily
        place(obj, f"{obj.__module__}.{obj.__qualname__}")
    # The result classes: what the exported functions, and the exported classes' methods, return.
    functions = [obj for obj in exported if inspect.isfunction(obj)]
    functions += [m for obj in exported if inspect.isclass(obj) for m in vars(obj).values() if inspect.isfunction(m)]
    for function in functions:
        cls = result_class(function)
        if cls is not None and cls not in exported:
            place(cls, f"{cls.__module__}.{cls.__qualname__}")
    return {title: paths for title, paths in sections.items() if paths}


def python_api_markdown() -> str:
    """The API reference: a heading per section, a mkdocstrings entry per name."""
    parts = []
    for title, paths in python_api().items():
        parts.append(f"## {title}\n")
        parts += [f"::: {path}\n" for path in paths]
    return "\n".join(parts)


def functions_markdown() -> str:
    """The OF_ function reference table, from the catalog."""
    from xlfactor.functions import reference_markdown

    return reference_markdown()


def _help(argv: list[str]) -> str:
    from xlfactor.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue()


def cli_commands(prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every command path with its ``--help`` text, depth first, in the parser's order."""
    text = _help(list(prefix))
    found = [(prefix, text)] if prefix else [((), text)]
    usage = text.split("\n\n", 1)[0]
    choices = re.search(r"\{([a-z0-9,-]+)\}\s+\.\.\.", usage)  # the sub-command placeholder: {a,b} ...
    if choices:
        for name in choices.group(1).split(","):
            found += cli_commands((*prefix, name))
    return found


def cli_markdown() -> str:
    """One section per command, its argparse help verbatim."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal; the page gets a fixed width
    try:
        commands = cli_commands()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    parts = []
    for path, text in commands:
        title = " ".join(("xlfactor", *path))
        parts.append(f"## `{title}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def reliability_rows() -> dict[str, list[dict[str, str]]]:
    """The case tables by area (file stem): rows with ``case``, ``handled`` and ``test``."""
    tables = {}
    for path in sorted(RELIABILITY.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            tables[path.stem] = list(csv.DictReader(handle))
    return tables


def _cell(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ").strip()


def reliability_markdown() -> str:
    """One table per case file; a note when there is none yet."""
    tables = reliability_rows()
    if not tables:
        return "_No case table has been recorded yet (`tests/reliability/*.csv`)._\n"
    parts = []
    for area, rows in tables.items():
        parts.append(f"## {area.replace('_', ' ').capitalize()}\n")
        parts.append(f"{len(rows)} cases, from `tests/reliability/{area}.csv`.\n")
        parts.append("| case | how it is handled | test |\n|---|---|---|")
        parts += [f"| {_cell(r.get('case'))} | {_cell(r.get('handled'))} | `{_cell(r.get('test'))}` |" for r in rows]
        parts.append("")
    return "\n".join(parts)


class _CatalogExports(logging.Filter):
    """Drop griffe's note on ``xlfactor.functions.__all__``.

    That ``__all__`` adds the ``OF_`` names from the catalog at import time (``*CATALOG``), which
    static analysis cannot expand; the functions page is generated from the catalog itself.
    Every other griffe warning still fails ``mkdocs build --strict``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("Unsupported item in" in message and "xlfactor.functions.__all__" in message)


logging.getLogger("mkdocs.plugins.griffe").addFilter(_CatalogExports())


GENERATORS = {
    "<!-- generated:python-api -->": python_api_markdown,
    "<!-- generated:functions -->": functions_markdown,
    "<!-- generated:cli -->": cli_markdown,
    "<!-- generated:reliability -->": reliability_markdown,
}


def on_files(files, config):
    """Add a generated server page while ``guide/server.md`` is not written yet."""
    if files.get_file_from_path("guide/server.md") is None:
        from mkdocs.structure.files import File

        files.append(File.generated(config, "guide/server.md", content=SERVER_FALLBACK))
    return files


def on_page_markdown(markdown, page, config, files):
    """Replace each generation marker with its generated text."""
    for marker, generate in GENERATORS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, generate())
    return markdown


SPHINX_ROLE = re.compile(r":(?:meth|func|class|data|mod|attr|exc):(<code>)")


def on_page_content(html, page, config, files):
    """Drop the Sphinx roles (``:meth:`x```) the docstrings use, keeping the code they mark."""
    return SPHINX_ROLE.sub(r"\1", html)
