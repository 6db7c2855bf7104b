"""Lint in CI: ruff with the project's configuration (pyproject.toml): pyflakes and pydocstyle, numpy convention.

Every public module, class and function of ``xlfactor`` has a docstring whose numpydoc
sections are well formed; the examples in them run as doctests (``--doctest-modules``).
Run it yourself with ``ruff check xlfactor tests`` (``ruff check --fix`` repairs some).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_reports_nothing():
    result = ruff("check", "--no-cache", "--output-format", "concise", "xlfactor", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_docstring_rules_are_on(tmp_path):
    """The configuration really checks docstrings: a public function without one is reported."""
    module = tmp_path / "undocumented.py"
    module.write_text('"""A module."""\n\n\ndef public(x):\n    return x\n')
    result = ruff("check", "--no-cache", "--output-format", "concise", "--config", str(ROOT / "pyproject.toml"), str(module))
    assert result.returncode == 1 and "D103" in result.stdout, result.stdout + result.stderr
