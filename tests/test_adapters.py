"""The Excel adapters expose every catalog function with the metadata Excel needs."""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from xlfactor.functions import CATALOG, OF_TRACKINGERROR

ROOT = Path(__file__).resolve().parents[1]
HOLDINGS = [["ticker", "value"], ["SIM0001", 100.0], ["sim0002 ", 50.0], [None, None], ["SIM0003", -25.0]]


@pytest.fixture
def classic_udfs(monkeypatch):
    """xlwings' real classic decorators, importable on Linux with pywin32 stubbed out."""
    for name in ("pythoncom", "pywintypes", "win32com", "win32com.client"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["pythoncom"].com_error = Exception
    sys.modules["pythoncom"].CoInitialize = lambda: None
    sys.modules["pywintypes"].TimeType = type("TimeType", (), {})
    sys.modules["win32com"].client = sys.modules["win32com.client"]
    sys.modules["win32com.client"].Dispatch = lambda *a, **k: None
    monkeypatch.delitem(sys.modules, "xlwings.udfs", raising=False)
    udfs = importlib.import_module("xlwings.udfs")
    yield udfs
    sys.modules.pop("xlwings.udfs", None)


def test_classic_adapter_metadata(classic_udfs):
    from xlfactor.excel.adapters import classic_functions

    fake_xw = types.SimpleNamespace(func=classic_udfs.xlfunc, arg=classic_udfs.xlarg)
    functions = classic_functions(fake_xw)
    assert set(functions) == set(CATALOG)
    for name, function in functions.items():
        meta = function.__xlfunc__
        entry = CATALOG[name]
        assert meta["name"] == name and meta["category"] == "xlfactor"
        assert meta["ret"]["doc"] == entry.description
        assert [a["name"] for a in meta["args"]] == [a.name for a in entry.arguments]
        for arg, spec in zip(meta["args"], entry.arguments):
            assert arg["doc"] == spec.help
            assert ("optional" in arg) == spec.optional
            assert arg["options"].get("ndim") == (2 if spec.is_range else None)
    assert functions["OF_TRACKINGERROR"](HOLDINGS) == OF_TRACKINGERROR(HOLDINGS)


def test_classic_vba_wrapper_names_every_function(classic_udfs, monkeypatch):
    from xlfactor.excel.adapters import classic_functions

    module = types.ModuleType("xlfactor.excel.udfs")
    fake_xw = types.SimpleNamespace(func=classic_udfs.xlfunc, arg=classic_udfs.xlarg)
    for name, function in classic_functions(fake_xw).items():
        setattr(module, name, function)
    out = io.StringIO()
    book = types.SimpleNamespace(Name="xlfactor_track.xlsm", FullName="xlfactor_track.xlsm")
    classic_udfs.generate_vba_wrapper("xlfactor.excel.udfs", module, out, book)
    vba = out.getvalue()
    assert "Function OF_TRACKINGERROR(holdings, Optional benchmark" in vba
    for name in CATALOG:
        assert f'"xlfactor.excel.udfs", "{name}"' in vba


def test_udf_module_imports_without_excel():
    module = importlib.import_module("xlfactor.excel.udfs")
    assert set(CATALOG) <= set(dir(module))
    assert module.OF_TRACKINGERROR(HOLDINGS) == OF_TRACKINGERROR(HOLDINGS)
    assert module.OF_TOTALRISK([["ZZZ", 1.0]]).startswith("#XLFACTOR")


SERVER_CHECK = r"""
import json, os, sys
from xlfactor.excel.server import ServerConfig, server_environment
os.environ.update(server_environment("noncommercial", ServerConfig(insecure_local=True)))  # before xlwings is imported
import xlwings as xw
from fastapi.testclient import TestClient
from xlwings_server.main import main_app

client = TestClient(main_app, raise_server_exceptions=False)
holdings = json.loads(sys.argv[1])

def call(name, args):
    body = {"func_name": name, "args": args, "caller_address": "[Book1.xlsx]Sheet1!B2",
            "content_language": "en-US", "version": xw.__version__, "runtime": "1.4"}
    response = client.post("/xlwings/custom-functions-call", json=body)
    return response.status_code, response.json()["result"]

meta = client.get("/xlwings/custom-functions-meta").json()["functions"]
print(json.dumps({
    "names": sorted(f["name"] for f in meta),
    "namespace_ok": 'DefaultValue="OF"' in client.get("/manifest").text,
    "te": call("OF_TRACKINGERROR", [holdings, None, None, None, None]),
    "unknown": call("OF_TOTALRISK", [holdings[:2] + [["ZZZ", 1]], None, None, None]),
    "beta_blank_rows_as_zero": call("OF_BETA", [holdings[:3] + [["", 0]], None, None, None, None]),
    "exposure": call("OF_EXPOSURE", [holdings, [["momentum"]], None, None, None]),
}))
"""


def test_server_adapter_answers_an_http_custom_function_call():
    pytest.importorskip("xlwings_server")
    result = subprocess.run(
        [sys.executable, "-c", SERVER_CHECK, json.dumps(HOLDINGS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["names"] == sorted(name.removeprefix("OF_") for name in CATALOG)
    assert answer["namespace_ok"]
    status, value = answer["te"]
    assert status == 200 and value[0][0] == pytest.approx(OF_TRACKINGERROR(HOLDINGS), rel=1e-12)
    status, value = answer["unknown"]
    assert status == 200 and value[0][0].startswith("#XLFACTOR: 1 unknown tickers: ZZZ")
    from xlfactor.functions import OF_BETA, OF_EXPOSURE

    assert answer["beta_blank_rows_as_zero"][1][0][0] == pytest.approx(OF_BETA(HOLDINGS[:3]), rel=1e-12)
    assert answer["exposure"][1][0][0] == pytest.approx(OF_EXPOSURE(HOLDINGS, "momentum"), rel=1e-12)


def test_serve_requires_a_licence_key(monkeypatch):
    from xlfactor.errors import XlfactorError
    from xlfactor.excel.server import server_environment

    monkeypatch.delenv("XLWINGS_LICENSE_KEY", raising=False)
    with pytest.raises(XlfactorError, match="XLWINGS_LICENSE_KEY"):
        server_environment()
