"""Architecture rules read from the source: one-way layers, optional libraries in their module, 252 written once.

The folders carry the layers, and the allowed import edges are listed here, in one place
(:data:`LAYERS` and :data:`ALLOWED`). Data flows one way: market data -> ``builder`` ->
``snapshot`` -> ``risk`` -> ``hedging`` / ``reporting`` / ``semantic`` -> the worksheet-function
catalog (``functions``) -> front ends (``excel/``, ``cli``). In import terms:

* ``snapshot`` (the Snapshot type, its file formats and sources) imports only the base modules;
  the ``builder`` imports ``snapshot`` to produce snapshots, never the reverse;
* ``demo`` is a generator: it may use the builder, and nothing below the front ends imports it;
* ``risk`` imports ``snapshot`` (never ``builder`` or ``demo``); ``hedging``, ``reporting`` and
  ``semantic`` import ``risk``; the catalog imports those; front ends import anything.

A new top-level module or package must be given a layer in :data:`LAYERS` (the test says so).
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xlfactor"

# Module prefix -> layer (longest prefix wins). The folder is the layer; only the base modules are loose.
LAYERS = {
    "xlfactor._files": "base",
    "xlfactor._json": "base",
    "xlfactor._threads": "base",
    "xlfactor._typing": "base",
    "xlfactor.cells": "base",
    "xlfactor.conventions": "base",
    "xlfactor.errors": "base",
    "xlfactor.snapshot": "snapshot",
    "xlfactor.builder": "builder",
    "xlfactor.demo": "demo",
    "xlfactor.risk": "risk",
    "xlfactor.hedging": "hedging",
    "xlfactor.optimizer": "optimize",
    "xlfactor.reporting": "reporting",
    "xlfactor.semantic": "semantic",
    "xlfactor.functions": "functions",
    "xlfactor.excel": "frontend",
    "xlfactor.cli": "frontend",
    "xlfactor": "api",  # the package root re-exports the public API
}

ANALYTICS = {"base", "snapshot", "risk"}

# Layer -> the layers its modules may import (itself included).
ALLOWED = {
    "base": {"base"},
    "snapshot": {"base", "snapshot"},
    "builder": {"base", "snapshot", "builder"},
    "demo": {"base", "snapshot", "builder", "demo"},
    "risk": ANALYTICS,
    "hedging": ANALYTICS | {"hedging"},
    "optimize": ANALYTICS | {"hedging", "optimize"},
    "reporting": ANALYTICS | {"hedging", "optimize", "reporting"},
    "semantic": ANALYTICS | {"semantic"},
    "functions": ANALYTICS | {"hedging", "optimize", "reporting", "semantic", "functions"},
    "frontend": set(LAYERS.values()),
    "api": ANALYTICS | {"hedging", "optimize", "reporting", "semantic", "api"},
}

LOOSE_MODULES_AT_MOST = 8
"""Loose modules in ``xlfactor/`` (``__init__`` aside): the base helpers and the CLI, nothing else."""


# Optional or front-end libraries -> the only module prefixes that may import them.
THIRD_PARTY = {
    "openpyxl": ("xlfactor.excel",),
    "xlwings": ("xlfactor.excel",),
    "xlsxwriter": ("xlfactor.excel",),
    "openai": ("xlfactor.semantic",),
    "statsmodels": ("xlfactor.risk.timeseries",),
    "tqdm": ("xlfactor.cli", "xlfactor.reporting.batch_run"),  # progress bars of the command line
    "cvxpy": ("xlfactor.optimizer.solver",),  # the optimizer (imported when it solves)
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
        ("xlfactor.reporting.track", "from xlfactor.excel.track_workbook import render", True),  # analytics -> front end
        ("xlfactor.snapshot.sources", "def f():\n    from xlfactor.demo import x", True),  # lazy import counts
        ("xlfactor.snapshot.reader", "from xlfactor.builder import builder", True),
        ("xlfactor.risk.model_data", "from xlfactor.hedging.instruments import hedge", True),  # risk sits below hedging
        ("xlfactor.hedging.instruments", "from ..reporting.report import portfolio_report", True),  # relative import resolved
        ("xlfactor.hedging.instruments", "from xlfactor import reporting", True),
        ("xlfactor.hedging.instruments", "from xlfactor import XlfactorError", True),  # the root pulls in reporting
        ("xlfactor.semantic.discovery", "from xlfactor.hedging import hedge", True),  # siblings stay apart
        ("xlfactor.optimizer.solver", "from xlfactor.reporting import portfolio_report", True),
        ("xlfactor.reporting.report", "import openpyxl", True),
        ("xlfactor.risk.model_data", "import openai", True),
        ("xlfactor.somewhere_new", "import numpy", True),  # unassigned module
        ("xlfactor.builder.builder", "from xlfactor.snapshot.writer import write_snapshot", False),
        ("xlfactor.excel.sheets", "import openpyxl\nfrom xlfactor.reporting.report import portfolio_report", False),
        ("xlfactor.semantic.discover", "import openai", False),
        ("xlfactor.hedging.instruments", "from . import portfolios", False),
        ("xlfactor.hedging.instruments", "from xlfactor.risk import decomposition", False),
        ("xlfactor.reporting.report", "from xlfactor.hedging import hedge_comparison", False),
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
        if module_name(path) != "xlfactor.snapshot.snapshot" and (lines := memo_uses(path.read_text(encoding="utf-8")))
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


def test_the_folders_carry_the_layers():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= LOOSE_MODULES_AT_MOST, f"{len(loose)} loose modules in xlfactor/: {loose}"
    assert all(layer_of(f"xlfactor.{name}") in {"base", "frontend"} for name in loose), loose
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert all(layer_of(f"xlfactor.{name}") not in (None, "api", "base") for name in packages), packages


def private_imports(source: str) -> list[str]:
    """Private names (``_x``) imported from another xlfactor module, or reached as ``obj._x(...)`` on a non-self object."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xlfactor"):
            found += [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith("_")
            and not node.func.attr.startswith("__")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id not in ("self", "cls", "os", "sys")
        ):
            found.append(f"{node.func.value.id}.{node.func.attr}")
    return found


def test_no_module_reaches_into_another_modules_private_helpers():
    found = {
        module_name(path): names for path in package_modules() if (names := private_imports(path.read_text(encoding="utf-8")))
    }
    assert not found, f"give what is shared a public name: {found}"
    assert private_imports("from xlfactor.functions.catalog import _context\n") == ["_context"]
    assert private_imports("data._vector(w)\n") == ["data._vector"]
    assert private_imports("self._vector(w)\nfrom xlfactor._files import atomic_write\n") == []
