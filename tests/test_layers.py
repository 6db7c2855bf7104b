"""Architecture rules read from the source: one-way layers, optional libraries in their module, 252 written once.

The allowed import edges are listed here, in one place (:data:`LAYERS` and
:data:`ALLOWED`). Data flows one way: market data -> model -> snapshot -> risk ->
report/track -> worksheet-function catalog -> front ends (excel/, cli). In import terms:

* ``snapshot`` (the Snapshot type and its file formats) imports only the base modules;
  the model builder imports ``snapshot`` to produce snapshots, never the reverse;
* ``demo`` is a generator: it may use the builder, and nothing below the front ends imports it;
* ``risk`` imports ``snapshot`` (never ``model`` or ``demo``); ``report``/``track`` (and
  ``semantic``, ``batch``) import ``risk``; the catalog imports those; front ends import anything.

A new top-level module must be given a layer in :data:`LAYERS` (the test says so).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xlfactor"

# Module prefix -> layer (longest prefix wins).
LAYERS = {
    "xlfactor._files": "base",
    "xlfactor._json": "base",
    "xlfactor._threads": "base",
    "xlfactor._typing": "base",
    "xlfactor.cells": "base",
    "xlfactor.conventions": "base",
    "xlfactor.errors": "base",
    "xlfactor.etf_map": "base",
    "xlfactor.snapshot": "snapshot",
    "xlfactor.model": "model",
    "xlfactor.demo": "demo",
    "xlfactor.risk": "risk",
    "xlfactor.report": "report",
    "xlfactor.track": "report",
    "xlfactor.batch": "report",
    "xlfactor.semantic": "report",
    "xlfactor.ranges": "functions",
    "xlfactor.functions": "functions",
    "xlfactor.excel": "frontend",
    "xlfactor.cli": "frontend",
    "xlfactor": "api",  # the package root re-exports the public API
}

# Layer -> the layers its modules may import (itself included).
ALLOWED = {
    "base": {"base"},
    "snapshot": {"base", "snapshot"},
    "model": {"base", "snapshot", "model"},
    "demo": {"base", "snapshot", "model", "demo"},
    "risk": {"base", "snapshot", "risk"},
    "report": {"base", "snapshot", "risk", "report"},
    "functions": {"base", "snapshot", "risk", "report", "functions"},
    "frontend": {"base", "snapshot", "model", "demo", "risk", "report", "functions", "frontend", "api"},
    "api": {"base", "snapshot", "risk", "report", "api"},
}

# Optional or front-end libraries -> the only module prefixes that may import them.
THIRD_PARTY = {
    "openpyxl": ("xlfactor.excel",),
    "xlwings": ("xlfactor.excel",),
    "xlsxwriter": ("xlfactor.excel",),
    "openai": ("xlfactor.semantic",),
    "statsmodels": ("xlfactor.risk.timeseries",),
    "tqdm": ("xlfactor.cli", "xlfactor.batch"),  # progress bars of the command line
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    matches = [p for p in LAYERS if module == p or (p != "xlfactor" and module.startswith(p + "."))]
    return LAYERS[max(matches, key=len)] if matches else None


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base == "xlfactor":  # `from xlfactor import track`: the submodule, when it is one
                for alias in node.names:
                    sub = f"xlfactor.{alias.name}"
                    is_module = (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file()
                    found.append((node.lineno, sub if is_module else "xlfactor"))
            else:
                found.append((node.lineno, base))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Broken rules of one module's source (empty when it respects every layer)."""
    problems = []
    layer = layer_of(module)
    if layer is None:
        return [f"{module}: no layer; add it to LAYERS in tests/test_layers.py"]
    for line, target in imported_modules(source, module, is_package):
        root = target.split(".")[0]
        if root == "xlfactor":
            target_layer = layer_of(target)
            if target_layer not in ALLOWED[layer]:
                problems.append(f"{module}:{line} imports {target} ({layer} -> {target_layer} is not allowed)")
        elif root in THIRD_PARTY and not any(module == p or module.startswith(p + ".") for p in THIRD_PARTY[root]):
            problems.append(f"{module}:{line} imports {root}, allowed only in {', '.join(THIRD_PARTY[root])}")
    return problems


def package_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_import_follows_the_layers():
    problems = []
    for path in package_modules():
        problems += violations(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
    assert not problems, "layer violations:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("xlfactor.track", "from xlfactor.excel.track_workbook import render", True),  # analytics -> front end
        ("xlfactor.snapshot.sources", "def f():\n    from xlfactor.demo import x", True),  # lazy import counts
        ("xlfactor.snapshot.reader", "from xlfactor.model import builder", True),
        ("xlfactor.risk.hedge", "from ..report import portfolio_report", True),  # relative import resolved
        ("xlfactor.risk.hedge", "from xlfactor import report", True),
        ("xlfactor.risk.hedge", "from xlfactor import XlfactorError", True),  # the root pulls in report
        ("xlfactor.report", "import openpyxl", True),
        ("xlfactor.risk.model_data", "import openai", True),
        ("xlfactor.somewhere_new", "import numpy", True),  # unassigned module
        ("xlfactor.model.builder", "from xlfactor.snapshot.writer import write_snapshot", False),
        ("xlfactor.excel.sheets", "import openpyxl\nfrom xlfactor.report import portfolio_report", False),
        ("xlfactor.semantic.discover", "import openai", False),
        ("xlfactor.risk.hedge", "from . import decomposition", False),
    ],
)
def test_the_layer_check_catches_broken_edges(module, source, broken):
    assert bool(violations(source, module)) is broken


def memo_uses(source: str) -> list[int]:
    """Lines that touch a ``_memo`` attribute (the Snapshot's memo has one owner: ``Snapshot.cached``)."""
    return [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute) and node.attr == "_memo"]


def test_the_snapshot_memo_has_one_owner():
    found = {
        module_name(path): lines
        for path in package_modules()
        if module_name(path) != "xlfactor.snapshot.model" and (lines := memo_uses(path.read_text(encoding="utf-8")))
    }
    assert not found, f"use Snapshot.cached(key, compute) instead of _memo at {found}"
    assert memo_uses("x = snapshot._memo.get('k')\n") == [1]


def literal_252(source: str) -> list[int]:
    """Lines where the number 252 is written as a literal (docstrings and comments do not count)."""
    lines = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NUMBER:
            text = token.string.replace("_", "").lower()
            try:
                value = complex(text) if text.endswith("j") else float(int(text, 0)) if text.isdigit() or text[:2] in ("0x", "0o", "0b") else float(text)
            except ValueError:
                continue
            if value == 252:
                lines.append(token.start[0])
    return lines


def test_252_is_written_only_in_conventions():
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in package_modules()
        if path.name != "conventions.py" and (lines := literal_252(path.read_text(encoding="utf-8")))
    }
    assert not found, f"use conventions.TRADING_DAYS_PER_YEAR instead of 252 at {found}"
    assert literal_252((PACKAGE / "conventions.py").read_text()) != []


def test_the_252_check_reads_numbers_not_text():
    assert literal_252("x = 252\ny = 252.0\nz = 2_52\n") == [1, 2, 3]
    assert literal_252('"""sqrt(252)"""\n# 252 days\nw = 2520\n') == []
