"""The slow list in conftest.py names real tests, so `-m "not slow"` leaves out what it says it does."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import SLOW_FIXTURES, SLOW_NODES

ROOT = Path(__file__).resolve().parents[1]


def test_every_slow_node_names_an_existing_test():
    for node in SLOW_NODES:
        path, _, rest = node.partition("::")
        assert (ROOT / path).is_file(), node
        if rest:
            name = rest.split("[", 1)[0].split("::")[0]
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            assert name in names, f"{node}: no {name} in {path}"


def test_every_slow_fixture_is_a_conftest_fixture():
    source = (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8")
    defined = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
    assert SLOW_FIXTURES <= defined
