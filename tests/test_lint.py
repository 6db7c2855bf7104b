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


# --- the public docstrings hold the contract (numpydoc validation) ----------------------------

# numpydoc's checks that every public name must pass: a summary; every parameter documented with
# a type and a description, none unknown; a Returns section with a description (functions and
# methods); an Examples section (they run as doctests).
REQUIRED_CHECKS = {"GL08", "SS01", "PR01", "PR02", "PR03", "PR07", "PR10", "RT01", "RT03", "EX01"}


def public_contract() -> dict[str, object]:
    """Every name of ``xlfactor.__all__``, every class they return, and those classes' public members.

    The closure is computed from return annotations (one name per result class), never listed
    by hand: a new public function or result class is checked the day it is exported.
    """
    import inspect
    import typing

    import xlfactor

    def xlfactor_class(annotation) -> bool:
        return inspect.isclass(annotation) and annotation.__module__.startswith("xlfactor")

    objects: dict[str, object] = {}
    classes: list[type] = []
    for name in xlfactor.__all__:
        obj = getattr(xlfactor, name)
        if name.startswith("__"):
            continue
        if inspect.isclass(obj):
            classes.append(obj)
        else:
            objects[f"xlfactor.{name}"] = obj
            returned = typing.get_type_hints(obj).get("return")
            if xlfactor_class(returned):
                classes.append(returned)
    seen: set[type] = set()
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        objects[f"{cls.__module__}.{cls.__qualname__}"] = cls
        for member, value in vars(cls).items():
            if member.startswith("_") or not (inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod))):
                continue
            objects[f"{cls.__module__}.{cls.__qualname__}.{member}"] = value
            function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            returned = typing.get_type_hints(function).get("return")
            if xlfactor_class(returned) and not issubclass(returned, Exception):
                classes.append(returned)
    return objects


def test_public_docstrings_hold_the_contract():
    from numpydoc.validate import validate

    problems = []
    for name, obj in sorted(public_contract().items()):
        if isinstance(obj, type) and issubclass(obj, Exception):
            checks = {"GL08", "SS01", "EX01"}  # exceptions: what they mean and when they come, with an example
        elif isinstance(obj, type):
            checks = REQUIRED_CHECKS - {"RT01", "RT03"}  # a class documents its fields as Parameters
        elif isinstance(obj, property):
            checks = REQUIRED_CHECKS - {"RT01", "RT03", "PR01", "PR02", "PR03", "PR07", "PR10"}
        else:
            checks = REQUIRED_CHECKS
        for code, message in validate(name)["errors"]:
            if code in checks:
                problems.append(f"{name}: {code} {message}")
    assert not problems, f"{len(problems)} docstring problems:\n" + "\n".join(problems)


def test_the_contract_covers_the_api():
    """The closure holds the model class, its methods and the result classes of the analytics."""
    names = public_contract()
    for name in [
        "xlfactor.load_snapshot",
        "xlfactor.risk.model_data.FactorModelData.tracking_error",
        "xlfactor.risk.holdings.PortfolioWeights",
        "xlfactor.risk.scenarios.StressResult",
        "xlfactor.hedging.cascade.CascadeResult.table",
    ]:
        assert name in names, name
