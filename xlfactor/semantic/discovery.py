"""``discover_semantic_factors``: find missing common risks with an LLM, keep only real ones.

Steps (run only when called; nothing else in xlfactor calls an LLM):

1. **Trigger.** The portfolio's idiosyncratic share of total variance must reach
   ``threshold``; otherwise the run is skipped (``residual_below_threshold``) and no
   client is built.
2. **Residual PCA** of the holdings over the earlier days of the window (all but the
   last ``test_days``), equally weighted and with missing days handled pairwise
   (:func:`xlfactor.semantic.method.residual_pca`).
3. **Propose.** The client gets the holdings' tickers and company names (never weights
   or values) and the top names of each component, and proposes themes.
4. **Classify.** Every universe name is labelled 0/1 for each theme; labels come from
   the cache when present and only missing ticker x theme cells are asked.
5. **Guardrail.** A theme is rejected when its members are already explained by the
   model: mostly one sector or industry, membership spanned by the exposures, or a
   theme return that tracks an existing factor.
6. **Test.** Out-of-sample residual-variance reduction of the members (leave-one-out
   theme return, loadings fitted on the earlier days of the window, tested on the last
   ``test_days``, which neither the PCA nor the proposal saw) against ``n_placebos``
   same-size placebo sets from the same sectors; accepted when the reduction is positive
   and the placebo p-value is below ``alpha``.
7. **Report.** Accepted themes become extra factors: exposure, volatility, variance and
   risk contribution, members, and the idiosyncratic risk they explain.
"""

from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from xlfactor.conventions import SQRT_TRADING_DAYS, TRADING_DAYS_PER_YEAR
from xlfactor.errors import PortfolioError
from xlfactor.risk import decomposition as dec
from xlfactor.risk.model_data import FactorModelData, factor_model_data
from xlfactor.semantic import method
from xlfactor.semantic.cache import ThemeCache, read_cache, theme_id
from xlfactor.semantic.client import DeadlineClient, SemanticClient, SemanticError

PROPOSE_INSTRUCTIONS = (
    "You are an equity risk analyst. The payload lists a portfolio's holdings (ticker and company name) and the "
    "names that load most on each principal component of their residual returns after a factor model with market, "
    "sector, industry and style factors. Propose up to payload.max_themes common risks that could explain the "
    "residual co-movement and that are NOT a sector, an industry or a style (for example 'AI infrastructure' or "
    "'retail speculation'). Answer with a JSON object {\"themes\": [{\"name\": str, \"description\": str}]}."
)
CLASSIFY_INSTRUCTIONS = (
    "You classify stocks for one investment theme (payload.theme: name and description). For every entry of "
    "payload.tickers answer 1 if the company's earnings are materially exposed to the theme, else 0. Answer with a "
    "JSON object {\"members\": {ticker: 0 or 1}} covering every ticker asked, and nothing else."
)
MIN_MEMBERS = 5
MAX_SECTOR_SHARE = 0.5
MAX_INDUSTRY_SHARE = 0.4
MAX_MEMBERSHIP_R2 = 0.35
MAX_FACTOR_CORRELATION = 0.6
MIN_PLACEBOS = 200
"""Placebo sets a theme must be tested against (the issue's standard)."""

CANDIDATE_COLUMNS = [
    "theme_id", "theme", "description", "members", "tested_members", "sectors", "top_sector_share",
    "in_sample_reduction", "out_of_sample_reduction", "placebo_mean", "placebo_95th", "placebo_p_value",
    "placebos", "guardrail", "accepted", "reason", "member_tickers",
]  # fmt: skip


@dataclass(frozen=True, eq=False)
class SemanticDiscovery:
    """What :func:`discover_semantic_factors` found.

    ``candidates`` has one row per proposed theme (columns :data:`CANDIDATE_COLUMNS`:
    members, in-sample and out-of-sample variance reductions as fractions, placebo p-value,
    guardrail verdict, reason for rejection); ``accepted`` the rows kept; ``skipped`` the
    rows rejected plus a run-level row when discovery did not run. ``themes`` (accepted
    themes as factors), ``members`` and ``risk`` (before/after) feed the report's Themes sheet.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Every proposed theme and its test.
    accepted : pandas.DataFrame
        The themes kept.
    skipped : pandas.DataFrame
        The themes rejected, with the reason (or why nothing ran).
    themes : pandas.DataFrame
        Accepted themes as extra factors: exposure, annualized volatility, risk contribution.
    members : pandas.DataFrame
        Theme membership of the book's holdings.
    risk : pandas.DataFrame
        The book's risk before and after adding the accepted themes, annualized decimals.
    pca : pandas.DataFrame
        The residual principal components shown to the client.
    residual_share : float
        The book's idiosyncratic share of total variance.
    threshold : float
        The share from which discovery runs.
    notes : tuple of str, default ()
        What happened to the cache and the client.
    calls : dict of str to int
        Client calls by task (empty when nothing ran).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> book = pd.DataFrame({"ticker": ["SIM0001", "SIM0002"], "value": [1e6, 5e5]})
    >>> result = xf.discover_semantic_factors(book, threshold=1.0)   # below it: no client is built
    >>> result.ran, len(result.candidates)
    (False, 0)
    """

    candidates: pd.DataFrame
    accepted: pd.DataFrame
    skipped: pd.DataFrame
    themes: pd.DataFrame
    members: pd.DataFrame
    risk: pd.DataFrame
    pca: pd.DataFrame
    residual_share: float
    threshold: float
    notes: tuple[str, ...] = ()
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def ran(self) -> bool:
        """True when the threshold was reached and the client was asked.

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> book = pd.DataFrame({"ticker": ["SIM0001"], "value": [1e6]})
        >>> xf.discover_semantic_factors(book, threshold=1.0).ran
        False
        """
        return bool(self.calls)

    def report_tables(self) -> dict[str, pd.DataFrame]:
        """The tables the report workbook's Themes sheet shows.

        Returns
        -------
        dict of str to pandas.DataFrame
            ``semantic_summary, semantic_candidates, semantic_themes, semantic_risk,
            semantic_members, semantic_notes``.

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> book = pd.DataFrame({"ticker": ["SIM0001"], "value": [1e6]})
        >>> tables = xf.discover_semantic_factors(book, threshold=1.0).report_tables()
        >>> sorted(tables)[:2], float(tables["semantic_summary"].loc["threshold", "value"])
        (['semantic_candidates', 'semantic_members'], 1.0)
        """
        summary = pd.DataFrame(
            {"value": {"residual_share": self.residual_share, "threshold": self.threshold,
                       "candidates": float(len(self.candidates)), "accepted": float(len(self.accepted))}}  # fmt: skip
        )
        summary.index.name = "metric"
        candidates = self.candidates.drop(columns=["member_tickers"], errors="ignore")
        return {
            "semantic_summary": summary,
            "semantic_candidates": candidates,
            "semantic_themes": self.themes,
            "semantic_risk": self.risk,
            "semantic_members": self.members,
            "semantic_notes": pd.DataFrame({"note": list(self.notes)}),
        }


def discover_semantic_factors(
    portfolio: pd.DataFrame,
    snapshot=None,
    threshold: float = 0.10,
    window: int = 63,
    client: SemanticClient | None = None,
    semantic_cache: str | os.PathLike[str] | None = None,
    *,
    n_placebos: int = 200,
    alpha: float = 0.05,
    test_days: int | None = None,
    max_themes: int = 5,
    batch_size: int = 100,
    seed: int = 13,
    client_deadline: float | None = None,
) -> SemanticDiscovery:
    """Look for missing common risks in ``portfolio``'s residuals; keep those that beat placebos.

    Parameters
    ----------
    portfolio : DataFrame
        ``ticker`` plus ``value`` or ``allocation`` (as in :func:`xlfactor.portfolio_report`).
    snapshot : Snapshot, optional
        The risk model; default the embedded simulated demo.
    threshold : float
        Idiosyncratic share of total variance (decimal) from which discovery runs.
    window : int
        Residual days used (the last ``window`` of the snapshot).
    client : object with ``complete_json(instructions, payload) -> dict``, optional
        Default :class:`xlfactor.semantic.OpenAIClient` (needs ``OPENAI_API_KEY``),
        built only when the threshold is reached.
    semantic_cache : path or URL, optional
        The label cache (default: ``semantic_factors.csv`` in the local xlfactor cache);
        see :func:`xlfactor.semantic.read_cache` for the URLs read and written back.
    n_placebos, alpha : int, float
        Placebo sets (at least :data:`MIN_PLACEBOS`) and significance level.
    test_days : int, optional
        The last ``test_days`` of the window are the out-of-sample test; the earlier days
        steer the proposal (residual PCA) and fit the loadings. Default ``window // 3``.
    max_themes, batch_size, seed : int
        Themes asked for, tickers per classification request, placebo random seed
        (each theme draws its placebos from its own stream, so its p-value does not
        depend on the other themes proposed).
    client_deadline : float, optional
        Seconds to wait for each answer of the client, any client (default
        ``XLFACTOR_SEMANTIC_DEADLINE`` or 600); past it discovery fails in one line.

    Returns
    -------
    SemanticDiscovery
        The candidates with their tests, the accepted themes as factors, and the book's
        risk before and after them; ``.ran`` is False when the threshold was not reached.

    Raises
    ------
    SemanticError
        Missing key, unreachable model, timeout, malformed answer or unusable cache
        (one-line message; the normal report is unaffected).
    PortfolioError
        If the portfolio or an option is unusable.

    Examples
    --------
    A client that proposes one theme and labels the first 30 universe names:

    >>> import tempfile, pathlib
    >>> class Client:
    ...     def complete_json(self, instructions, payload):
    ...         if payload["task"] == "propose":
    ...             return {"themes": [{"name": "First thirty", "description": "SIM0001-SIM0030"}]}
    ...         return {"members": {t["ticker"]: int(t["ticker"] <= "SIM0030") for t in payload["tickers"]}}
    >>> book = pd.DataFrame({"ticker": ["SIM0001", "SIM0002", "SIM0500"], "value": [1e6, 5e5, -8e5]})
    >>> cache = pathlib.Path(tempfile.mkdtemp()) / "themes.csv"
    >>> found = discover_semantic_factors(book, client=Client(), semantic_cache=cache)
    >>> first = found.candidates.iloc[0]
    >>> first["theme"], int(first["members"]), int(first["placebos"]), bool(first["accepted"])
    ('First thirty', 30, 200, False)
    >>> first["reason"].split(":")[0]                   # 30 arbitrary names explain nothing out of sample
    'no_out_of_sample_reduction'
    >>> from xlfactor.semantic import semantic_factor_members
    >>> labelled = semantic_factor_members("First thirty", cache)
    >>> len(labelled), labelled[0]
    (30, 'SIM0001')
    """
    data = factor_model_data(snapshot)
    snap = data.snapshot
    w = data.align_holdings(portfolio).weights
    if window < method.MIN_OBSERVATIONS:
        raise PortfolioError(f"window must be at least {method.MIN_OBSERVATIONS} days, got {window}")
    test_days = window // 3 if test_days is None else int(test_days)
    if not 5 <= test_days <= window - method.MIN_OBSERVATIONS:
        raise PortfolioError(f"test_days must be between 5 and window - {method.MIN_OBSERVATIONS} = {window - method.MIN_OBSERVATIONS}, got {test_days}")
    if n_placebos < MIN_PLACEBOS:
        raise PortfolioError(f"n_placebos must be at least {MIN_PLACEBOS}, got {n_placebos}")
    if not 1.0 / (n_placebos + 1) < alpha < 1.0:
        raise PortfolioError(f"alpha must be between 1/(n_placebos + 1) and 1, got {alpha}")
    share = _residual_share(data, w)
    if not share >= threshold:
        reason = f"residual_below_threshold: idiosyncratic share {share:.1%} < threshold {threshold:.1%}"
        return _result([], share, threshold, _empty_tables(), skipped_run=reason)

    universe = _universe(data)
    residual_history = snap.residual_returns.reindex(columns=data.tickers).to_numpy(dtype=float)
    factor_history = snap.factor_returns.reindex(columns=data.factor_names).to_numpy(dtype=float)
    residuals, factor_returns = residual_history[-window:], factor_history[-window:]
    held = np.nonzero(w)[0]
    # the proposal sees only the earlier days, and no position size: equal weights
    pca = method.residual_pca(residuals[:-test_days, held], data.tickers[held], np.ones(len(held)))

    if client is None:
        from xlfactor.semantic.client import OpenAIClient

        client = OpenAIClient()
    client = DeadlineClient(client, client_deadline)  # a client that never answers fails in one line
    calls = {"propose": 0, "classify": 0}
    cache = read_cache(semantic_cache)
    proposals = _propose(client, calls, universe, held, pca, cache, max_themes, snap.metadata.get("universe", ""))
    notes: list[str] = []
    try:
        for proposal in proposals:
            _classify(client, calls, cache, proposal, universe, batch_size)
    finally:
        note = cache.save()  # labels already paid for are kept even when a later call fails
        if note:
            notes.append(note)

    obs = np.isfinite(residuals).sum(axis=0)
    idiosyncratic_1d = np.sqrt(data.idiosyncratic_variance) / SQRT_TRADING_DAYS
    eligible = (obs >= method.MIN_OBSERVATIONS) & (idiosyncratic_1d > 0)
    standardized = np.divide(residuals, idiosyncratic_1d, out=np.full_like(residuals, np.nan), where=idiosyncratic_1d > 0)
    gram_inverse = method.gram_pseudo_inverse(data.exposures)
    rows = []
    memberships = {}
    for proposal in proposals:  # a handful of themes
        member = _membership(cache, proposal["id"], data.tickers)
        memberships[proposal["id"]] = member
        rng = np.random.default_rng([seed, zlib.crc32(proposal["id"].encode())])  # the theme's own placebo stream
        rows.append(_evaluate(proposal, member, eligible, standardized, residuals, factor_returns, data, universe,
                              rng, n_placebos, alpha, test_days, gram_inverse))  # fmt: skip
    accepted_ids = [r["theme_id"] for r in rows if r["accepted"]]
    tables = _risk_tables(data, w, residuals, (residual_history, factor_history),
                          {k: memberships[k] for k in accepted_ids}, universe, rows)  # fmt: skip
    return _result(rows, share, threshold, tables, pca=_pca_table(pca, universe), notes=notes, calls=calls)


# ---------------------------------------------------------------- steps


def _residual_share(data: FactorModelData, w: np.ndarray) -> float:
    factor_var = dec.factor_variance(data.exposures.T @ w, data.factor_covariance)
    idiosyncratic_var = dec.idiosyncratic_variance(w, data.idiosyncratic_variance)
    total = factor_var + idiosyncratic_var
    if not total > 0:
        raise PortfolioError("portfolio has no risk in the model (no holdings in the universe?)")
    return idiosyncratic_var / total


def _universe(data: FactorModelData) -> pd.DataFrame:
    """ticker, name, sector, industry, sector code of every universe name (from the exposures)."""
    snap = data.snapshot

    def category(group: str) -> tuple[np.ndarray, np.ndarray]:
        cols = np.nonzero(data.factor_groups == group)[0]
        if len(cols) == 0:
            return np.full(len(data.tickers), ""), np.full(len(data.tickers), -1)
        block = np.nan_to_num(data.exposures[:, cols])
        code = np.where(block.max(axis=1) > 0, block.argmax(axis=1), -1)
        labels = np.array([n.split(":", 1)[1] for n in data.factor_names[cols]] + [""])
        return labels[code], code

    sector, sector_code = category("sector")
    industry, industry_code = category("industry")
    names = snap.names if snap.names is not None else np.full(len(data.tickers), "")
    return pd.DataFrame(
        {"ticker": data.tickers, "name": names, "sector": sector, "industry": industry,
         "sector_code": sector_code, "industry_code": industry_code}  # fmt: skip
    )


def _ask(client: SemanticClient, calls: dict[str, int], instructions: str, payload: dict[str, Any]) -> dict[str, Any]:
    calls[payload["task"]] += 1
    try:
        answer = client.complete_json(instructions, payload)
    except SemanticError:
        raise
    except Exception as exc:  # noqa: BLE001 - a client brought by the user may raise anything
        detail = " ".join(str(exc).split())[:160]  # one line, whatever the client raised
        raise SemanticError(f"semantic client failed on task {payload['task']} ({type(exc).__name__}: {detail})") from None
    if not isinstance(answer, dict):
        raise SemanticError(f"semantic client answered task {payload['task']} with {type(answer).__name__}, not a JSON object")
    return answer


def _propose(client, calls, universe, held, pca, cache: ThemeCache, max_themes: int, universe_name: str) -> list[dict]:
    tickers = universe["ticker"].to_numpy()
    names = dict(zip(universe["ticker"], universe["name"]))
    holdings = [{"ticker": t, "name": names[t]} for t in sorted(tickers[held])]
    components = []
    for c in range(len(pca.explained_share)):
        top = np.argsort(-np.abs(pca.loadings[c]))[:8]
        components.append(
            {
                "component": c + 1,
                "explained_share": round(float(pca.explained_share[c]), 3),
                "top_names": [
                    {"ticker": str(pca.tickers[i]), "name": names[str(pca.tickers[i])],
                     "direction": "+" if pca.loadings[c, i] >= 0 else "-"}  # fmt: skip
                    for i in top
                ],
            }
        )
    payload = {
        "task": "propose",
        "universe": universe_name,
        "max_themes": int(max_themes),
        "holdings": holdings,
        "residual_pca": components,
        "cached_themes": [str(c) for c in cache.labels.columns],
    }
    answer = _ask(client, calls, PROPOSE_INSTRUCTIONS, payload)
    themes = answer.get("themes")
    if not isinstance(themes, list):
        raise SemanticError("semantic client's propose answer has no `themes` list")
    proposals, seen = [], set()
    for theme in themes[:max_themes]:
        if not isinstance(theme, dict) or not isinstance(theme.get("name"), str) or not theme["name"].strip():
            raise SemanticError(f"semantic client proposed a theme without a name: {str(theme)[:60]!r}")
        key = theme_id(theme["name"])
        if key in seen:
            continue
        seen.add(key)
        description = theme.get("description", "")
        proposals.append({"id": key, "name": theme["name"].strip(), "description": str(description or "").strip()})
    return proposals


def _classify(client, calls, cache: ThemeCache, proposal: dict, universe: pd.DataFrame, batch_size: int) -> None:
    missing = cache.missing(proposal["id"], universe["ticker"].to_numpy())
    if not len(missing):
        return
    info = universe.set_index("ticker").loc[missing, ["name", "sector", "industry"]]
    for start in range(0, len(missing), batch_size):  # one request per batch of tickers
        batch = info.iloc[start : start + batch_size]
        payload = {
            "task": "classify",
            "theme": {"name": proposal["name"], "description": proposal["description"]},
            "tickers": [{"ticker": t, "name": r["name"], "sector": r["sector"], "industry": r["industry"]}
                        for t, r in batch.iterrows()],  # fmt: skip
        }
        answer = _ask(client, calls, CLASSIFY_INSTRUCTIONS, payload)
        members = answer.get("members")
        if not isinstance(members, dict):
            raise SemanticError(f"semantic client's classify answer for {proposal['id']} has no `members` object")
        given = {str(k).strip().upper(): v for k, v in members.items()}
        labels = {}
        for ticker in batch.index:
            label = _label(given.get(ticker))
            if label is None:
                shown = "no label" if ticker not in given else repr(given[ticker])[:20]
                raise SemanticError(f"semantic client's classify answer for {proposal['id']}: {ticker} has {shown} (0 or 1)")
            labels[ticker] = label
        cache.update(proposal["id"], labels)


def _label(value: object) -> int | None:
    """0 or 1 from an answer cell (also true/false and "0"/"1"); None for anything else."""
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value in ("0", "1") else None
    if isinstance(value, (bool, int, float)) and value in (0, 1):
        return int(value)
    return None


def _membership(cache: ThemeCache, key: str, tickers: np.ndarray) -> np.ndarray:
    if key not in cache.labels.columns:
        return np.zeros(len(tickers), dtype=bool)
    return (cache.labels[key].reindex(tickers) == 1.0).to_numpy()


def _evaluate(proposal, member, eligible, standardized, residuals, factor_returns, data, universe, rng,
              n_placebos, alpha, test_days, gram_inverse) -> dict:  # fmt: skip
    idx = np.nonzero(member)[0]
    tested = np.nonzero(member & eligible)[0]
    sector_codes = universe["sector_code"].to_numpy()
    row: dict[str, Any] = {
        "theme_id": proposal["id"],
        "theme": proposal["name"],
        "description": proposal["description"],
        "members": len(idx),
        "tested_members": len(tested),
        "sectors": int(len(np.unique(sector_codes[idx]))) if len(idx) else 0,
        "top_sector_share": math.nan,
        "in_sample_reduction": math.nan,
        "out_of_sample_reduction": math.nan,
        "placebo_mean": math.nan,
        "placebo_95th": math.nan,
        "placebo_p_value": math.nan,
        "placebos": 0,
        "guardrail": "",
        "accepted": False,
        "reason": "",
        "member_tickers": " ".join(data.tickers[idx]),
    }
    if len(tested) < MIN_MEMBERS:
        row["reason"] = f"too_few_members: {len(tested)} members with {method.MIN_OBSERVATIONS}+ residual days (at least {MIN_MEMBERS})"
        return row
    row["guardrail"], row["top_sector_share"] = _guardrail(member, universe, data, residuals, factor_returns, gram_inverse)
    sets = np.vstack([tested[None, :], method.placebo_sets(rng, sector_codes, tested, eligible, n_placebos)])
    in_sample, out_of_sample = method.theme_statistics(standardized, sets, test_days)
    placebos = out_of_sample[1:]
    row.update(
        in_sample_reduction=float(in_sample[0]),
        out_of_sample_reduction=float(out_of_sample[0]),
        placebo_mean=float(placebos.mean()),
        placebo_95th=float(np.quantile(placebos, 0.95)),
        placebo_p_value=method.placebo_p_value(float(out_of_sample[0]), placebos),
        placebos=int(len(placebos)),
    )
    if row["guardrail"]:
        row["reason"] = f"guardrail: {row['guardrail']}"
    elif not row["out_of_sample_reduction"] > 0:
        row["reason"] = f"no_out_of_sample_reduction: {row['out_of_sample_reduction']:+.1%} of member residual variance"
    elif not row["placebo_p_value"] < alpha:
        row["reason"] = (f"not_better_than_placebos: p = {row['placebo_p_value']:.3f} >= {alpha:g} "
                         f"({row['placebos']} same-size placebos from the same sectors)")  # fmt: skip
    else:
        row["accepted"] = True
    return row


def _guardrail(member, universe, data: FactorModelData, residuals, factor_returns, gram_inverse) -> tuple[str, float]:
    """Why the members are already explained by the model ('' if they are not), and the top sector share."""
    members = universe[member]
    sector_share = members["sector"].value_counts(normalize=True)
    top_sector = float(sector_share.iloc[0]) if len(sector_share) else math.nan
    if top_sector > MAX_SECTOR_SHARE:
        return f"{top_sector:.0%} of members in one sector ({sector_share.index[0]})", top_sector
    industry_share = members["industry"].value_counts(normalize=True)
    if len(industry_share) and industry_share.iloc[0] > MAX_INDUSTRY_SHARE:
        return f"{industry_share.iloc[0]:.0%} of members in one industry ({industry_share.index[0]})", top_sector
    r2, top = method.membership_r2(member.astype(float), data.exposures, gram_inverse)
    if r2 > MAX_MEMBERSHIP_R2:
        return f"membership explained by existing exposures (R² {r2:.2f}, mostly {data.factor_names[top]})", top_sector
    present = np.isfinite(residuals[:, member])
    counts = present.sum(axis=1)
    theme_return = np.divide(np.nansum(residuals[:, member], axis=1), counts, out=np.full(len(counts), np.nan), where=counts >= 3)
    correlations = method.pairwise_correlations(theme_return, factor_returns)
    k = int(np.argmax(np.abs(correlations)))
    if abs(correlations[k]) > MAX_FACTOR_CORRELATION:
        return f"theme return tracks factor {data.factor_names[k]} (correlation {correlations[k]:+.2f})", top_sector
    return "", top_sector


def _risk_tables(data: FactorModelData, w, residuals, history, memberships: dict[str, np.ndarray], universe,
                 rows) -> dict[str, pd.DataFrame]:  # fmt: skip
    """Accepted themes as extra factors: exposures, contributions, members, risk before/after.

    ``residuals`` (n_days, n_assets) are the window's daily decimal residuals; ``history``
    is ``(residuals, factor_returns)`` over every stored day (the factor history may be
    longer: the days are aligned on the latest). A theme's return is the mean residual of
    its members; its variance and loadings come from the window, and its annualized
    covariance with the model's factors is the sample cross-covariance over the whole
    stored history: over 63 days that covariance is mostly noise (on the demo, whose themes
    are independent of the factors by construction, a theme's correlation with the book's
    factor return is 0.25 over 63 days and 0.06 over 252). The total after is
    ``x_f' F x_f + x_t' T x_t + 2 x_f' C x_t + idiosyncratic after``; the risk table's
    ``theme_factor_share`` row is the cross term's share of that total variance. ``risk_contribution``
    is a contribution to annualized volatility (Euler: ``x_t (T x_t + C' x_f) / risk``),
    ``share_of_total`` the same as a share of total variance.
    """
    if not memberships:
        return _empty_tables()
    ids = np.array(list(memberships))
    membership = np.column_stack([memberships[k] for k in ids])
    themes = method.theme_factors(residuals, membership, data.idiosyncratic_variance, ids)
    x_f = data.exposures.T @ w
    factor_var = dec.factor_variance(x_f, data.factor_covariance)
    idiosyncratic_before = dec.idiosyncratic_variance(w, data.idiosyncratic_variance)
    idiosyncratic_after = dec.idiosyncratic_variance(w, themes.idiosyncratic_variance)
    x = themes.exposures.T @ w
    residual_history, factor_history = history
    days = min(len(residual_history), len(factor_history))
    theme_history = method.theme_returns(residual_history[-days:], membership)
    cross = method.pairwise_cross_covariance(factor_history[-days:], theme_history) * TRADING_DAYS_PER_YEAR  # (n_factors, m)
    contributions = x * (themes.covariance @ x + cross.T @ x_f)
    theme_var = float(x @ themes.covariance @ x)
    cross_var = 2.0 * float(x_f @ cross @ x)
    total_after = factor_var + theme_var + cross_var + idiosyncratic_after
    risk_after = math.sqrt(max(total_after, 0.0))
    labels = {r["theme_id"]: r["theme"] for r in rows}
    held = w != 0
    table = pd.DataFrame(
        {
            "theme_id": ids,
            "theme": [labels[k] for k in ids],
            "members": membership.sum(axis=0),
            "held_members": (membership & held[:, None]).sum(axis=0),
            "exposure": x,
            "factor_volatility": np.sqrt(np.clip(np.diag(themes.covariance), 0.0, None)),
            "variance_contribution": contributions,
            "risk_contribution": contributions / risk_after if risk_after > 0 else 0.0,
            "share_of_total": contributions / total_after if total_after > 0 else 0.0,
        }
    )
    rows_m = []
    for j, key in enumerate(ids):
        idx = np.nonzero(membership[:, j])[0]
        rows_m.append(
            pd.DataFrame(
                {
                    "theme_id": key,
                    "ticker": data.tickers[idx],
                    "name": universe["name"].to_numpy()[idx],
                    "sector": universe["sector"].to_numpy()[idx],
                    "industry": universe["industry"].to_numpy()[idx],
                    "weight": w[idx],
                    "loading": themes.exposures[idx, j],
                }
            )
        )
    members = pd.concat(rows_m, ignore_index=True)
    total_before = factor_var + idiosyncratic_before
    risk = pd.DataFrame(
        {
            "before": [math.sqrt(total_before), math.sqrt(factor_var), 0.0, 0.0, math.sqrt(idiosyncratic_before),
                       idiosyncratic_before / total_before],  # fmt: skip
            "after": [risk_after, math.sqrt(factor_var), math.sqrt(max(theme_var, 0.0)),
                      cross_var / total_after if total_after > 0 else math.nan, math.sqrt(idiosyncratic_after),
                      idiosyncratic_after / total_after if total_after > 0 else math.nan],  # fmt: skip
        },
        index=pd.Index(["total_risk", "factor_risk", "theme_risk", "theme_factor_share", "idiosyncratic_risk",
                        "idiosyncratic_share"], name="metric"),  # fmt: skip
    )
    return {"themes": table, "members": members, "risk": risk}


def _empty_tables() -> dict[str, pd.DataFrame]:
    return {
        "themes": pd.DataFrame(columns=["theme_id", "theme", "members", "held_members", "exposure", "factor_volatility",
                                        "variance_contribution", "risk_contribution", "share_of_total"]),  # fmt: skip
        "members": pd.DataFrame(columns=["theme_id", "ticker", "name", "sector", "industry", "weight", "loading"]),
        "risk": pd.DataFrame(columns=["before", "after"], index=pd.Index([], name="metric")),
    }


def _pca_table(pca: method.ResidualPCA, universe: pd.DataFrame) -> pd.DataFrame:
    names = dict(zip(universe["ticker"], universe["name"]))
    rows = []
    for c in range(len(pca.explained_share)):
        top = np.argsort(-np.abs(pca.loadings[c]))[:8]
        rows.append({"component": c + 1, "explained_share": float(pca.explained_share[c]),
                     "top_names": ", ".join(f"{pca.tickers[i]} ({names[str(pca.tickers[i])]})" for i in top)})  # fmt: skip
    return pd.DataFrame(rows, columns=["component", "explained_share", "top_names"])


def _result(rows, share, threshold, tables, skipped_run: str = "", pca=None, notes=(), calls=None) -> SemanticDiscovery:
    candidates = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    accepted = candidates[candidates["accepted"].astype(bool)].reset_index(drop=True)
    skipped = candidates[~candidates["accepted"].astype(bool)].reset_index(drop=True)
    if skipped_run:
        run = pd.DataFrame([{c: (skipped_run if c == "reason" else "" if c in ("theme_id", "theme") else math.nan)
                             for c in CANDIDATE_COLUMNS}]).astype({"accepted": bool}, errors="ignore")  # fmt: skip
        run["accepted"] = False
        skipped = pd.concat([run, skipped], ignore_index=True) if len(skipped) else run
    return SemanticDiscovery(
        candidates=candidates,
        accepted=accepted,
        skipped=skipped,
        themes=tables["themes"],
        members=tables["members"],
        risk=tables["risk"],
        pca=pca if pca is not None else pd.DataFrame(columns=["component", "explained_share", "top_names"]),
        residual_share=float(share),
        threshold=float(threshold),
        notes=tuple(notes),
        calls=dict(calls or {}),
    )
