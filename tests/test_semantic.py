"""Semantic residual discovery through a real local OpenAI-compatible server.

The demo market hides two themes (``xlfactor.demo.themes``); the truth comes from the
simulator's own random stream, not from the discovery code. A test server on 127.0.0.1
speaks the chat-completions API and the real ``openai`` client calls it through
``OPENAI_BASE_URL``. Expected numbers come from naive loops, pandas and hand formulas.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import xlfactor as xf
from tests.llm_server import FakeOpenAI, Sleep
from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.demo.simulate import N_ASSETS, N_DAYS
from xlfactor.demo.simulate_constants import SEED
from xlfactor.demo.themes import HIDDEN_THEMES, hidden_theme_members
from xlfactor.semantic import SemanticError, discover_semantic_factors, method, read_cache, semantic_factor_members

ROOT = Path(__file__).resolve().parents[1]
PLANTED = HIDDEN_THEMES[0]
PLACEBO = "Placebo thirty"
RENAMED = "Hydrocarbon value chain"


@pytest.fixture(scope="module")
def demo():
    return xf.load_snapshot()


@pytest.fixture(scope="module")
def truth():
    """Hidden-theme members replayed from the simulator's stream: theme name -> set of tickers."""
    tickers = np.array([f"SIM{i:04d}" for i in range(1, N_ASSETS + 1)])
    members = hidden_theme_members(SEED, tickers, N_DAYS)
    return {name: set(group["ticker"]) for name, group in members.groupby("theme")}


@pytest.fixture(scope="module")
def sectors(demo):
    cols = [i for i, g in enumerate(demo.factor_groups) if g == "sector"]
    block = np.nan_to_num(demo.exposures[:, cols])
    return pd.Series(np.array([demo.factor_names[c][len("sector:"):] for c in cols])[block.argmax(axis=1)], index=demo.tickers)


@pytest.fixture(scope="module")
def placebo(demo, truth):
    rng = np.random.default_rng(2024)
    hidden = set().union(*truth.values())
    pool = [t for t in demo.tickers if t not in hidden]
    return set(rng.choice(pool, 30, replace=False))


@pytest.fixture(scope="module")
def book(truth, demo):
    """A dollar-neutral book: long 14 battery-storage names, short 16 others, distinctive dollar values."""
    rng = np.random.default_rng(7)
    theme = sorted(truth[PLANTED.name])[:14]
    others = [t for t in demo.tickers if t not in set().union(*truth.values())]
    shorts = list(rng.choice(others, 16, replace=False))
    longs, short_values = rng.uniform(3e5, 7e5, 14), rng.uniform(3e5, 7e5, 16)
    short_values *= longs.sum() / short_values.sum()
    values = np.concatenate([longs, -short_values]).round(2) + 0.37
    return pd.DataFrame({"ticker": theme + shorts, "value": values})


def brain_for(themes: dict[str, set[str]], descriptions: dict[str, str] | None = None):
    """A deterministic LLM: proposes ``themes`` and classifies by their member sets."""
    descriptions = descriptions or {}
    by_name = {name: members for name, members in themes.items()}

    def brain(payload):
        if payload["task"] == "propose":
            return {"themes": [{"name": n, "description": descriptions.get(n, f"{n} exposure")} for n in themes]}
        members = by_name[payload["theme"]["name"]]
        return {"members": {row["ticker"]: int(row["ticker"] in members) for row in payload["tickers"]}}

    return brain


@pytest.fixture
def llm_env(monkeypatch):
    """Point the real openai client at a local server (started by the test)."""

    def start(brain, **env):
        server = FakeOpenAI(brain).__enter__()
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("XLFACTOR_SEMANTIC_RETRIES", "0")
        monkeypatch.setenv("XLFACTOR_SEMANTIC_MODEL", "local-test-model")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        servers.append(server)
        return server

    servers: list[FakeOpenAI] = []
    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture(scope="module")
def discovery(demo, truth, sectors, placebo, book, tmp_path_factory):
    """One discovery run: the planted theme, a 30-name placebo and a renamed sector."""
    energy = set(sectors.index[sectors == "Energy"])
    themes = {PLANTED.name: truth[PLANTED.name], PLACEBO: placebo, RENAMED: energy}
    cache = tmp_path_factory.mktemp("semantic") / "themes.csv"
    with pytest.MonkeyPatch.context() as mp, FakeOpenAI(brain_for(themes, {PLANTED.name: PLANTED.description})) as server:
        mp.setenv("OPENAI_API_KEY", "sk-test-local")
        mp.setenv("OPENAI_BASE_URL", server.url + "/v1")
        mp.setenv("XLFACTOR_SEMANTIC_RETRIES", "0")
        result = discover_semantic_factors(book, demo, semantic_cache=cache)
        requests = list(server.requests)
        payloads = server.payloads()
    return result, requests, payloads, cache


def row(result, name):
    rows = result.candidates[result.candidates["theme"] == name]
    assert len(rows) == 1, name
    return rows.iloc[0]


def test_planted_theme_is_accepted(discovery, truth):
    result, *_ = discovery
    r = row(result, PLANTED.name)
    assert r["accepted"] and r["reason"] == ""
    assert r["members"] == len(truth[PLANTED.name]) and r["sectors"] >= 4
    assert r["out_of_sample_reduction"] > 0.05
    assert r["placebo_p_value"] < 0.05 and r["placebos"] >= 200
    assert r["out_of_sample_reduction"] > r["placebo_95th"]
    assert list(result.accepted["theme"]) == [PLANTED.name]
    assert result.ran and result.residual_share >= 0.10


def test_thirty_name_placebo_is_rejected_with_its_p_value(discovery):
    result, *_ = discovery
    r = row(result, PLACEBO)
    assert not r["accepted"] and r["members"] == 30
    assert math.isfinite(r["placebo_p_value"]) and r["placebo_p_value"] >= 0.05
    assert r["reason"].startswith(("not_better_than_placebos", "no_out_of_sample_reduction"))
    if r["reason"].startswith("not_better_than_placebos"):
        assert f"p = {r['placebo_p_value']:.3f}" in r["reason"]
    else:
        assert r["out_of_sample_reduction"] <= 0 and f"{r['out_of_sample_reduction']:+.1%}" in r["reason"]
    # OpenFactor's in-sample rule would have kept it: any set of names lowers in-sample variance
    assert r["in_sample_reduction"] > 0
    assert PLACEBO in set(result.skipped["theme"])


def test_renamed_sector_is_rejected_by_the_guardrail(discovery, sectors):
    result, *_ = discovery
    r = row(result, RENAMED)
    assert not r["accepted"]
    assert r["members"] == int((sectors == "Energy").sum())
    assert r["reason"].startswith("guardrail:") and "Energy" in r["reason"]
    assert r["top_sector_share"] == 1.0


def test_no_request_carries_a_weight_or_a_value(discovery, book):
    _, requests, payloads, _ = discovery
    assert requests and all(r["authorization"] == "Bearer sk-test-local" for r in requests)
    values = book["value"].to_numpy()
    weights = values / np.abs(values).sum()
    forbidden = [repr(float(v)) for v in values] + [f"{v:.2f}" for v in values] + [f"{abs(v):.2f}" for v in values]
    forbidden += [repr(float(w)) for w in weights] + [f"{abs(w):.6f}" for w in weights] + [f"{abs(w):.4f}" for w in weights]
    for r in requests:
        for text in forbidden:
            assert text not in r["body"], text
    for payload in payloads:
        keys = _keys(payload)
        assert not keys & {"weight", "weights", "value", "values", "amount", "allocation", "exposure"}
    propose = [p for p in payloads if p["task"] == "propose"]
    assert len(propose) == 1
    assert [h["ticker"] for h in propose[0]["holdings"]] == sorted(book["ticker"])
    assert all(set(h) == {"ticker", "name"} and h["name"] for h in propose[0]["holdings"])
    assert len(propose[0]["residual_pca"]) == 3
    classify = [p for p in payloads if p["task"] == "classify"]
    assert all(set(t) == {"ticker", "name", "sector", "industry"} for p in classify for t in p["tickers"])


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_every_universe_name_is_classified_once_and_cached(discovery, demo, truth):
    result, _, payloads, cache = discovery
    classify = [p for p in payloads if p["task"] == "classify"]
    asked = pd.Series([t["ticker"] for p in classify for t in p["tickers"]])
    assert len(asked) == 3 * len(demo.tickers) and asked.value_counts().max() == 3
    labels = pd.read_csv(cache, index_col="ticker")
    assert labels.shape == (len(demo.tickers), 3) and set(np.unique(labels.to_numpy())) == {0, 1}
    assert semantic_factor_members(PLANTED.name, cache) == sorted(truth[PLANTED.name])
    assert semantic_factor_members("grid_scale_battery_storage", cache) == sorted(truth[PLANTED.name])
    with pytest.raises(SemanticError, match="not in the semantic cache"):
        semantic_factor_members("retail speculation", cache)


def test_accepted_theme_enters_the_report_as_a_factor(discovery, demo, book, truth):
    """Exposure, volatility and risk after the theme from pandas on the residuals (independent)."""
    result, *_ = discovery
    members = sorted(truth[PLANTED.name])
    residuals = demo.residual_returns.iloc[-63:][members]
    theme_return = residuals.mean(axis=1, skipna=True)
    loadings = {}
    for t in members:
        both = residuals[t].notna()
        y, x = residuals[t][both], theme_return[both]
        loadings[t] = float((x * y).sum() / (x * x).sum())
    data = xf.factor_model_data(demo)
    w = pd.Series(data.align_holdings(book).weights, index=data.tickers)
    exposure = sum(w[t] * loadings[t] for t in members)
    theme = result.themes.set_index("theme").loc[PLANTED.name]
    assert theme["exposure"] == pytest.approx(exposure, rel=1e-9)
    assert theme["factor_volatility"] == pytest.approx(theme_return.std(ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR), rel=1e-9)
    assert theme["held_members"] == 14 and theme["members"] == len(members)
    variance = exposure**2 * theme_return.var(ddof=1) * TRADING_DAYS_PER_YEAR
    risk = result.risk
    report = xf.portfolio_report(book, demo)
    summary = report["summary"]["value"]
    assert risk.loc["total_risk", "before"] == pytest.approx(summary["total_risk"], rel=1e-12)
    # idiosyncratic variance after: each member's model variance times 1 - R² of its pandas fit (at most 95% removed)
    idiosyncratic = pd.Series(data.idiosyncratic_variance, index=data.tickers)
    for t in members:
        both = residuals[t].notna()
        y, x = residuals[t][both], theme_return[both]
        r2 = 1.0 - ((y - loadings[t] * x) ** 2).sum() / (y * y).sum()
        idiosyncratic[t] *= 1.0 - min(max(r2, 0.0), 0.95)
    idiosyncratic_after = float((w**2 * idiosyncratic).sum())
    assert risk.loc["idiosyncratic_risk", "after"] == pytest.approx(math.sqrt(idiosyncratic_after), rel=1e-9)
    assert idiosyncratic_after < summary["idiosyncratic_risk"] ** 2
    # the theme's covariance with the model's factors over the whole stored history (pandas), in the total
    history = demo.residual_returns[members].mean(axis=1, skipna=True)
    factors = demo.factor_returns.reindex(columns=data.factor_names).loc[history.index]
    cross = factors.apply(lambda f: f.cov(history)) * TRADING_DAYS_PER_YEAR
    x_f = pd.Series(data.exposures.T @ w.to_numpy(), index=data.factor_names)
    cross_variance = 2.0 * exposure * float((x_f * cross).sum())
    total_after = summary["factor_risk"] ** 2 + variance + cross_variance + idiosyncratic_after
    assert risk.loc["total_risk", "after"] == pytest.approx(math.sqrt(total_after), rel=1e-9)
    assert risk.loc["theme_factor_share", "after"] == pytest.approx(cross_variance / total_after, rel=1e-9, abs=1e-12)
    euler = exposure * (exposure * theme_return.var(ddof=1) * TRADING_DAYS_PER_YEAR + float((x_f * cross).sum()))
    assert theme["variance_contribution"] == pytest.approx(euler, rel=1e-9)
    listed = result.members[result.members["theme_id"] == "grid_scale_battery_storage"]
    assert sorted(listed["ticker"]) == members and listed["name"].str.len().min() > 0


def test_cache_asks_only_for_missing_cells(discovery, demo, truth, book, llm_env, tmp_path):
    _, _, _, filled = discovery
    labels = pd.read_csv(filled, dtype={"ticker": str}).set_index("ticker")
    labels = labels[["grid_scale_battery_storage"]].astype("Int8")
    forgotten = list(demo.tickers[[3, 250, 251, 600, 999]])
    labels.loc[forgotten, "grid_scale_battery_storage"] = pd.NA
    labels.loc["GONE01", "grid_scale_battery_storage"] = 1  # a ticker that left the universe
    cache = tmp_path / "cache.csv"
    labels.to_csv(cache)
    server = llm_env(brain_for({PLANTED.name: truth[PLANTED.name]}))
    result = discover_semantic_factors(book, demo, semantic_cache=cache)
    classify = server.payloads("classify")
    assert result.calls == {"propose": 1, "classify": 1} and len(classify) == 1
    assert [t["ticker"] for t in classify[0]["tickers"]] == forgotten
    after = pd.read_csv(cache, dtype={"ticker": str}).set_index("ticker")
    assert after.loc["GONE01", "grid_scale_battery_storage"] == 1  # kept
    assert after["grid_scale_battery_storage"].notna().all() and len(after) == len(demo.tickers) + 1
    assert sorted(after.index[after["grid_scale_battery_storage"] == 1]) == sorted(truth[PLANTED.name] | {"GONE01"})
    # everything cached now: a new run asks for nothing but the proposal
    again = discover_semantic_factors(book, demo, semantic_cache=cache)
    assert again.calls == {"propose": 1, "classify": 0}
    assert list(again.accepted["theme"]) == [PLANTED.name]


def test_read_only_and_remote_caches_are_left_unchanged(demo, truth, book, llm_env, tmp_path):
    server = llm_env(brain_for({PLANTED.name: truth[PLANTED.name]}))
    cache = tmp_path / "ro.csv"
    cache.write_text("ticker,other_theme\nSIM0001,1\n")
    cache.chmod(0o444)
    before = cache.read_bytes()
    result = discover_semantic_factors(book, demo, semantic_cache=cache)
    assert cache.read_bytes() == before
    assert any("read-only" in n and "not written back" in n for n in result.notes)
    assert list(result.accepted["theme"]) == [PLANTED.name]  # labels still used in memory
    server.files["shared/themes.csv"] = before
    remote = discover_semantic_factors(book, demo, semantic_cache=server.url + "/shared/themes.csv")
    assert any("remote" in n for n in remote.notes) and remote.calls["classify"] == math.ceil(len(demo.tickers) / 100)  # batches of 100 tickers
    assert server.files["shared/themes.csv"] == before


def test_below_threshold_never_builds_a_client(demo, monkeypatch):
    from xlfactor.semantic import client as client_module

    def refuse(*args, **kwargs):
        raise AssertionError("a client was built below the threshold")

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(client_module.OpenAIClient, "__init__", refuse)
    book = pd.DataFrame({"ticker": demo.tickers[:200], "value": 1.0})  # diversified long-only: mostly market
    result = discover_semantic_factors(book, demo)
    assert not result.ran and result.residual_share < 0.10 and result.candidates.empty
    assert result.skipped["reason"].iloc[0].startswith("residual_below_threshold")
    assert "openai" not in _modules_after("import xlfactor as xf, pandas as pd; xf.portfolio_report(pd.DataFrame({'ticker': ['SIM0001'], 'value': [1.0]}))")
    below = "import xlfactor as xf, pandas as pd; xf.discover_semantic_factors(pd.DataFrame({'ticker': xf.load_snapshot().tickers[:200], 'value': 1.0}))"
    assert "openai" not in _modules_after(below)  # a discovery that does not run never imports it


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=ROOT)  # fmt: skip
    return set(out.stdout.split())


def test_only_the_semantic_client_imports_openai():
    importers = [p.relative_to(ROOT).as_posix() for p in (ROOT / "xlfactor").rglob("*.py")
                 if re.search(r"^\s*(import openai|from openai)", p.read_text(), re.MULTILINE)]  # fmt: skip
    assert importers == ["xlfactor/semantic/client.py"]
    lower = ("xlfactor/risk", "xlfactor/snapshot", "xlfactor/model", "xlfactor/demo", "xlfactor/reporting/report.py")
    for path in (ROOT / "xlfactor").rglob("*.py"):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(lower):
            assert not re.search(r"^\s*(from|import) xlfactor\.semantic", path.read_text(), re.MULTILINE), name


@pytest.mark.parametrize(
    "case, expected",
    [("missing_key", "OPENAI_API_KEY is not set"), ("timeout", "timed out after 0.4 s"), ("malformed", "malformed JSON on task propose")],
)
def test_failures_are_one_line_and_the_normal_report_still_works(case, expected, demo, book, llm_env, monkeypatch, tmp_path, capsys):
    if case == "timeout":
        server = llm_env(lambda payload: Sleep(1.5), XLFACTOR_SEMANTIC_TIMEOUT="0.4", XLFACTOR_SEMANTIC_RETRIES="1")
    else:
        server = llm_env(lambda payload: "this is { not json")
    if case == "missing_key":
        monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(SemanticError) as caught:
        discover_semantic_factors(book, demo, semantic_cache=tmp_path / "c.csv")
    message = str(caught.value)
    assert expected in message and "\n" not in message and len(message) < 200
    if case == "missing_key":
        assert server.requests == []
    if case == "timeout":
        assert len(server.requests) == 2  # one retry, with the client's backoff
    report = xf.portfolio_report(book, demo)
    assert report["summary"].loc["total_risk", "value"] > 0
    portfolio = tmp_path / "book.csv"
    book.to_csv(portfolio, index=False)
    from xlfactor.cli import main

    capsys.readouterr()
    assert main(["discover", "--portfolio", str(portfolio), "--cache", str(tmp_path / "c.csv"), "--out", str(tmp_path / "r.xlsx")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "semantic discovery failed" in line]
    assert len(err) == 1 and expected in err[0]
    sheets = openpyxl.load_workbook(tmp_path / "r.xlsx").sheetnames
    assert "Summary" in sheets and "Themes" not in sheets


def test_cli_discover_writes_a_themes_sheet(demo, truth, book, llm_env, tmp_path, capsys):
    llm_env(brain_for({PLANTED.name: truth[PLANTED.name], "=HYPERLINK(\"http://x\")": set(list(truth[PLANTED.name])[:3])}))
    portfolio = tmp_path / "book.csv"
    book.to_csv(portfolio, index=False)
    from xlfactor.cli import main

    out = tmp_path / "report.xlsx"
    assert main(["discover", "--portfolio", str(portfolio), "--cache", str(tmp_path / "c.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert PLANTED.name in printed and "too_few_members" in printed
    wb = openpyxl.load_workbook(out)
    ws = wb["Themes"]
    cells = [c.value for line in ws.iter_rows() for c in line if c.value is not None]
    assert PLANTED.name in cells and "grid_scale_battery_storage" in cells
    assert all(c.data_type != "f" for line in ws.iter_rows() for c in line), "LLM text must never become a formula"
    assert '=HYPERLINK("http://x")' in cells


def test_of_themes_reads_the_cache_only(discovery, book, monkeypatch, truth):
    from xlfactor.functions import OF_THEMES

    _, _, _, cache = discovery

    def no_llm(*args, **kwargs):
        raise AssertionError("a worksheet function must never build an LLM client")

    monkeypatch.setattr("xlfactor.semantic.client.OpenAIClient.__init__", no_llm)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rows = [["ticker", "value"]] + book.values.tolist()
    table = OF_THEMES(rows, str(cache))
    header, body = table[0], table[1:]
    frame = pd.DataFrame(body, columns=header).set_index("theme_id")
    values = book.set_index("ticker")["value"]
    weights = values / values.abs().sum()
    held = [t for t in weights.index if t in truth[PLANTED.name]]
    assert frame.loc["grid_scale_battery_storage", "held_members"] == len(held) == 14
    assert frame.loc["grid_scale_battery_storage", "net_weight"] == pytest.approx(weights[held].sum(), rel=1e-12)
    assert frame.loc["placebo_thirty", "members"] == 30
    assert OF_THEMES(rows, "/nonexistent/dir/none.csv").startswith("#XLFACTOR: semantic cache /nonexistent/dir/none.csv does not exist")
    assert OF_THEMES([["ZZZZ", 1.0]], str(cache)).startswith("#XLFACTOR")


def test_out_of_sample_statistic_equals_a_naive_loop(demo):
    """The vectorized (days x sets x members) statistic equals explicit loops over sets, members, days."""
    rng = np.random.default_rng(11)
    z = demo.residual_returns.iloc[-63:].to_numpy() / (demo.idiosyncratic_risk / SQRT_TRADING_DAYS)
    z[rng.random(z.shape) < 0.05] = np.nan  # gaps
    sets = np.array([rng.choice(z.shape[1], 12, replace=False) for _ in range(4)])
    ins, oos = method.theme_statistics(z, sets, test_days=21, min_others=3)
    for s, members in enumerate(sets):
        e = z[:, members]
        f = np.full(e.shape, np.nan)
        for t in range(len(e)):
            for j in range(e.shape[1]):
                others = [e[t, k] for k in range(e.shape[1]) if k != j and not np.isnan(e[t, k])]
                if not np.isnan(e[t, j]) and len(others) >= 3:
                    f[t, j] = sum(others) / len(others)
        sse = sst = 0.0
        train, days = np.arange(42), np.arange(42, 63)  # fit on the first 42 days, test on the last 21
        for j in range(e.shape[1]):
            ok = ~np.isnan(f[train, j])
            x, y = f[train, j][ok], e[train, j][ok]
            b = (x @ y) / (x @ x)
            for t in days:
                if not np.isnan(f[t, j]):
                    sse += (e[t, j] - b * f[t, j]) ** 2
                    sst += e[t, j] ** 2
        assert oos[s] == pytest.approx(1 - sse / sst, rel=1e-10)
        mean = np.nanmean(e, axis=1)
        fit = sum(((e[:, j] - (np.nansum(mean * e[:, j]) / np.nansum(mean**2 * ~np.isnan(e[:, j]))) * mean) ** 2)[~np.isnan(e[:, j])].sum()
                  for j in range(e.shape[1]))  # fmt: skip
        assert ins[s] == pytest.approx(1 - fit / np.nansum(e**2), rel=1e-10)


def test_placebo_p_values_are_calibrated_for_random_themes(demo, sectors):
    """Random 30-name sets tested against same-sector placebos: about 5% fall below 0.05."""
    rng = np.random.default_rng(5)
    z = demo.residual_returns.iloc[-63:].to_numpy() / (demo.idiosyncratic_risk / SQRT_TRADING_DAYS)
    strata = pd.factorize(sectors.to_numpy())[0]
    eligible = np.ones(len(strata), dtype=bool)
    p_values = []
    for _ in range(60):
        members = rng.choice(len(strata), 30, replace=False)
        sets = np.vstack([members[None, :], method.placebo_sets(rng, strata, members, eligible, 200)])
        _, oos = method.theme_statistics(z, sets)
        p_values.append(method.placebo_p_value(oos[0], oos[1:]))
    p_values = np.array(p_values)
    assert (p_values < 0.05).mean() <= 0.15
    assert 0.3 < np.median(p_values) < 0.7


def test_placebos_keep_the_sector_mix(sectors):
    strata = pd.factorize(sectors.to_numpy())[0]
    members = np.array([0, 1, 2, 10, 20, 30, 40])
    sets = method.placebo_sets(np.random.default_rng(0), strata, members, np.ones(len(strata), bool), 200)
    assert sets.shape == (200, 7)
    assert all(len(set(s)) == 7 for s in sets)
    expected = np.sort(strata[members])
    assert all((np.sort(strata[s]) == expected).all() for s in sets)


def test_residual_pca_is_pairwise_like_pandas(demo):
    """Pairwise-complete covariance equals pandas DataFrame.cov; a sparse name does not empty the PCA."""
    rng = np.random.default_rng(3)
    frame = demo.residual_returns.iloc[-63:, :200].copy()
    mask = rng.random(frame.shape) < 0.03
    frame = frame.mask(mask)
    assert frame.dropna().shape[0] < 20  # listwise deletion would leave too few days
    w = rng.uniform(-1, 1, 200)
    pca = method.residual_pca(frame.to_numpy(), frame.columns.to_numpy(), w, n_components=3)
    scaled = frame * np.sqrt(np.abs(w))
    expected = scaled.cov(min_periods=method.MIN_PAIR_OBSERVATIONS).fillna(0.0).to_numpy()
    values, vectors = np.linalg.eigh(expected)
    top = np.argsort(values)[::-1][:3]
    np.testing.assert_allclose(pca.explained_share, values[top] / values.clip(0).sum(), rtol=1e-8)
    np.testing.assert_allclose(np.abs(pca.loadings), np.abs(vectors[:, top].T), atol=1e-8)


def test_demo_company_names_reach_the_snapshot_files(demo, tmp_path):
    names = demo.names
    assert names is not None and len(set(names)) == len(demo.tickers) and all(names)
    light = dataclasses.replace(demo, exposure_panel=None, index_prices=None)  # keep the write small
    folder = xf.write_snapshot(light, tmp_path / "snap")
    universe = pd.read_csv(folder / "universe.csv")
    assert list(universe.columns[:2]) == ["as_of_date", "ticker"] and list(universe["name"]) == list(names)
    assert list(xf.load_snapshot(folder).names) == list(names)
    xf.snapshot.clear_loaded()
    assert list(xf.load_snapshot(folder).names) == list(names)  # through the binary cache too


def test_hidden_themes_span_several_sectors(truth, sectors):
    assert len(truth) == 2
    for theme in HIDDEN_THEMES:
        members = truth[theme.name]
        assert 20 <= len(members) <= 40 and len(members) == theme.size
        assert sectors[list(members)].nunique() >= 4
    assert not (truth[HIDDEN_THEMES[0].name] & truth[HIDDEN_THEMES[1].name])


def test_the_openai_request_shape(demo, truth, book, llm_env, tmp_path):
    server = llm_env(brain_for({PLANTED.name: truth[PLANTED.name]}))
    discover_semantic_factors(book, demo, semantic_cache=tmp_path / "c.csv", batch_size=400)
    bodies = [json.loads(r["body"]) for r in server.requests]
    assert all(r["path"] == "/v1/chat/completions" for r in server.requests)
    assert all(b["model"] == "local-test-model" and b["response_format"] == {"type": "json_object"} for b in bodies)
    assert [json.loads(b["messages"][1]["content"])["task"] for b in bodies] == ["propose", "classify", "classify", "classify"]
    assert read_cache(tmp_path / "c.csv").labels.shape == (len(demo.tickers), 1)


@pytest.mark.parametrize(
    "members, expected",
    [({"SIM0001": 2}, "SIM0001 has 2 (0 or 1)"), ({}, "has no label"), ("all", "no `members` object")],
)
def test_bad_classification_answers_are_refused(members, expected, demo, book, tmp_path):
    class Client:  # an institution's own client, in process
        def complete_json(self, instructions, payload):
            if payload["task"] == "propose":
                return {"themes": [{"name": "Some theme", "description": "d"}]}
            if members == "all":
                return {"labels": []}
            answer = {t["ticker"]: True for t in payload["tickers"]}  # booleans and "1" strings are fine
            answer.update({t["ticker"]: "0" for t in payload["tickers"][1::2]})
            answer.update(members)
            if not members:
                answer.pop(payload["tickers"][0]["ticker"])
            return {"members": answer}

    with pytest.raises(SemanticError, match=re.escape(expected)) as caught:
        discover_semantic_factors(book, demo, client=Client(), semantic_cache=tmp_path / "c.csv")
    assert "\n" not in str(caught.value)


def test_union_of_whole_sectors_is_rejected_by_the_spanning_guardrail(demo, sectors, book):
    """Three whole sectors renamed: no sector over half, no industry over 40%, but the sector dummies span it."""
    counts = sectors.value_counts()
    chosen = list(counts.index[3:6])  # three mid-sized sectors: none is more than half of their union
    union = set(sectors.index[sectors.isin(chosen)])
    result = discover_semantic_factors(book, demo, client=InProcess(brain_for({"Three sectors": union})),
                                       semantic_cache=_fresh_cache())  # fmt: skip
    r = row(result, "Three sectors")
    assert r["top_sector_share"] <= 0.5 and not r["accepted"]
    assert r["reason"].startswith("guardrail: membership explained by existing exposures (R² 1.00")


def test_theme_return_tracking_a_factor_is_rejected(demo):
    """Members whose residuals move with the momentum factor: the correlation guardrail names it."""
    from xlfactor.semantic.discovery import _guardrail, _universe

    data = xf.factor_model_data(demo)
    universe = _universe(data)
    rng = np.random.default_rng(21)
    member = np.zeros(len(data.tickers), dtype=bool)
    member[rng.choice(len(member), 40, replace=False)] = True  # scattered names: the other rules pass
    factor_returns = demo.factor_returns.iloc[-63:].reindex(columns=data.factor_names).to_numpy()
    k = list(data.factor_names).index("momentum")
    residuals = demo.residual_returns.iloc[-63:].reindex(columns=data.tickers).to_numpy().copy()
    residuals[:, member] = factor_returns[:, [k]] * 3.0 + 0.3 * residuals[:, member]
    reason, share = _guardrail(member, universe, data, residuals, factor_returns, method.gram_pseudo_inverse(data.exposures))
    theme_return = pd.Series(np.nanmean(residuals[:, member], axis=1))
    expected = theme_return.corr(pd.Series(factor_returns[:, k]))
    assert expected > 0.6 and share <= 0.5
    assert reason == f"theme return tracks factor momentum (correlation {expected:+.2f})"


def test_pairwise_statistics_equal_pandas(demo):
    rng = np.random.default_rng(8)
    frame = demo.factor_returns.iloc[-63:, :12].mask(rng.random((63, 12)) < 0.1)
    series = demo.residual_returns.iloc[-63:, :3].mask(rng.random((63, 3)) < 0.1)
    correlations = method.pairwise_correlations(series.iloc[:, 0].to_numpy(), frame.to_numpy())
    np.testing.assert_allclose(correlations, frame.corrwith(series.iloc[:, 0]).to_numpy(), rtol=1e-10)
    covariance = method.pairwise_cross_covariance(series.to_numpy(), frame.to_numpy())
    expected = pd.concat([series, frame], axis=1).cov().iloc[:3, 3:].to_numpy()
    np.testing.assert_allclose(covariance, expected, rtol=1e-10)


def test_p_values_do_not_depend_on_the_other_themes(demo, truth, placebo, book):
    """Each theme draws its placebos from its own stream: proposing more themes, or another order, changes nothing."""
    alone = discover_semantic_factors(book, demo, client=InProcess(brain_for({PLACEBO: placebo})), semantic_cache=_fresh_cache())
    themes = {PLANTED.name: truth[PLANTED.name], PLACEBO: placebo}
    together = discover_semantic_factors(book, demo, client=InProcess(brain_for(themes)), semantic_cache=_fresh_cache())
    assert row(together, PLACEBO)["placebo_p_value"] == row(alone, PLACEBO)["placebo_p_value"]
    assert row(together, PLACEBO)["placebo_mean"] == row(alone, PLACEBO)["placebo_mean"]


def test_the_test_days_are_held_out_from_the_proposal(demo, truth, book):
    """The residual PCA shown to the client covers the earlier days only, with equal weights."""
    seen = {}

    class Recorder(InProcess):
        def complete_json(self, instructions, payload):
            if payload["task"] == "propose":
                seen.update(payload)
            return super().complete_json(instructions, payload)

    result = discover_semantic_factors(book, demo, client=Recorder(brain_for({PLANTED.name: truth[PLANTED.name]})),
                                       semantic_cache=_fresh_cache())  # fmt: skip
    data = xf.factor_model_data(demo)
    held = np.nonzero(data.align_holdings(book).weights)[0]
    early = demo.residual_returns.iloc[-63:-21].reindex(columns=data.tickers[held])
    values = np.linalg.eigvalsh(early.cov(min_periods=method.MIN_PAIR_OBSERVATIONS).fillna(0.0).to_numpy())
    shares = [c["explained_share"] for c in seen["residual_pca"]]
    np.testing.assert_allclose(shares, np.round(values[::-1][:3] / values.clip(0).sum(), 3), atol=1e-12)
    assert result.candidates.loc[0, "accepted"]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"n_placebos": 50}, "n_placebos must be at least 200"), ({"test_days": 60}, "test_days must be between 5 and")],
)
def test_bad_options_are_refused(options, message, demo, book):
    with pytest.raises(xf.XlfactorError, match=message):
        discover_semantic_factors(book, demo, client=InProcess(brain_for({})), **options)


def test_unsupported_cache_urls_and_failed_write_backs(demo, truth, book, tmp_path):
    client = InProcess(brain_for({PLANTED.name: truth[PLANTED.name]}))
    with pytest.raises(SemanticError, match=r"^semantic cache r2://bucket/themes.csv: r2:// is read only for the public buckets"):
        discover_semantic_factors(book, demo, client=client, semantic_cache="r2://bucket/themes.csv")
    assert not (Path.cwd() / "r2:").exists()
    local = tmp_path / "file-url.csv"
    found = discover_semantic_factors(book, demo, client=client, semantic_cache=local.as_uri())
    assert local.exists() and read_cache(local).labels.shape == (len(demo.tickers), 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    failed = discover_semantic_factors(book, demo, client=client, semantic_cache=blocker / "themes.csv")
    assert any("could not be written back" in n and "\n" not in n for n in failed.notes)
    assert list(failed.accepted["theme"]) == list(found.accepted["theme"]) == [PLANTED.name]


class InProcess:
    """A client object (the contract without HTTP) over a ``brain_for`` function."""

    def __init__(self, brain) -> None:
        self.brain = brain

    def complete_json(self, instructions: str, payload: dict) -> dict:
        return self.brain(payload)


def _fresh_cache() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp()) / "themes.csv"
