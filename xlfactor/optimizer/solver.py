r"""The optimizer: from the current book to target weights that meet the limits, in factor structure.

**Formulation.** Positions ``w`` (universe names, then index/ETF instruments; decimals of the
book's gross before trading) and the factor exposures ``x = X' w``, declared once as a
K-vector variable, so the problem grows as N + K, never N x N:

.. math::

    \sigma^2(w) = \lVert F^{1/2} x \rVert^2 + \lVert D^{1/2} w \rVert^2, \qquad
    TE^2(w) = \lVert F^{1/2} (x - X'b) \rVert^2 + \lVert D^{1/2} (w - b) \rVert^2 .

Objectives (:class:`Objective`): ``tracking_error`` (minimize :math:`TE^2`), ``total_risk``
(minimize :math:`\sigma^2`), ``alpha`` (maximize :math:`\alpha' w - \lambda \sigma^2 - c' |w - w_0|`;
``alpha`` expected annual returns, ``c`` transaction costs as decimals of the traded amount)
and ``trades`` (minimize :math:`\lVert w - w_0 \rVert`: the closest book inside the limits;
a book already inside them gets no trade, without a solve). Every limit of :mod:`xlfactor.optimizer.limits`
is a convex constraint (risk limits second-order cones, ``gross`` an l1 norm, ``turnover`` the larger of the
buys and the sells, both sums of positive parts),
except:

* a *minimum* on a risk, on ``gross``, on ``turnover`` or on ``names`` (not convex: refused);
* ``factor_share``, a difference of convex functions: solved by the convex-concave
  procedure (the concave side linearized at the current point, which makes the constraint
  stricter than the true one, then re-solved from the new point until it settles; when the
  first linearization leaves no feasible book, a penalty phase minimizes the rows' slack until
  it reaches zero and the procedure starts from there: infeasible only when it cannot). A local
  method: it returns a book that meets the limits, not a proven global optimum;
* ``names`` (cardinality), by a **heuristic**: solve without it, keep the ``max`` largest
  positions, set the rest to zero and re-solve. It is not guaranteed optimal; when the
  re-solve cannot meet the other limits the first solution is returned, the check table
  shows the breach and ``notes`` says so.

Without a ``net`` row the net weight of the universe names is held at its current value
(the book stays as invested as it is; instruments are outside this budget). Names outside
``candidates`` keep their weight. cvxpy with the Clarabel interior-point solver does the
solving (both Apache-2.0).

**Shadow prices.** For each binding limit: how much the optimal objective improves per unit
of loosening the bound (raising a max, lowering a min; a group row: every element's bound
together), in *objective units*: for ``tracking_error`` the annualized TE saved (decimal)
per 1.0 of the limit's own unit (so 0.02 on an exposure row means loosening it by 0.1 saves
0.002 = 0.2% of TE), i.e. ``lambda / (2 TE*)`` from the dual ``lambda`` of the variance
problem; for ``total_risk`` the same in total risk; for ``alpha`` the objective (annual
decimal return); for ``trades`` the Euclidean size of the trades. First-order: exact for small steps.
A limit binds when the solution is within :data:`BINDING_TOLERANCE` (relative) of its bound.
A scalar row's price comes from its dual. A group row with two or more elements at their bound
is priced by a **parametric re-solve** (the whole side loosened by :data:`SHADOW_STEP`, the
saving divided by the step): its element duals are then not unique (elements at a bound, others
at the kink of a turnover or gross norm) and their sum is not the sensitivity. One extra solve
per such row.

**Infeasible limits** raise :class:`InfeasibleLimitsError` naming the conflicting rows,
found by relaxing the limits one at a time (a deletion filter: a row whose removal leaves
the rest infeasible is dropped for good; what remains is a set of rows that conflict and
would each resolve the conflict if dropped).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xlfactor._typing import FloatArray, StrArray
from xlfactor.conventions import Choice, normalize_ticker
from xlfactor.errors import UnknownTickersError, XlfactorError
from xlfactor.optimizer.check import BookSetup, book_setup, check_table, instruments_named
from xlfactor.optimizer.limits import (
    NAME_TOLERANCE,
    Limit,
    LimitKind,
    LimitsError,
    PositionModel,
    RISK_KINDS,
    measure,
    parse_limits,
)
from xlfactor.risk.model_data import FactorModelData
from xlfactor.snapshot.memo import memo

TRADE_TOLERANCE = 1e-9
"""Solver noise: a trade smaller than this (decimal of gross) is dropped (see :func:`clean_trades`)."""

BINDING_TOLERANCE = 1e-6
"""A bound binds when the solution is within this of it (relative: scaled by max(1, |bound|)); Clarabel stops
about 1e-7 inside an active bound, so a tighter test drops limits that bind."""

SHADOW_STEP = 1e-4
"""The step (relative, times max(1, |bound|)) by which a group row is loosened for its parametric shadow price."""

SOLVER_OPTIONS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "max_iter": 400}
CCP_ITERATIONS = 30
CCP_TOLERANCE = 1e-10


class Objective(Choice):
    """What the optimizer minimizes or maximizes (see the module docstring)."""

    TRACKING_ERROR = "tracking_error"
    TOTAL_RISK = "total_risk"
    ALPHA = "alpha"
    TRADES = "trades"


class InfeasibleLimitsError(LimitsError):
    """No book meets every limit: names the rows that conflict."""

    def __init__(self, message: str, rows: tuple[int, ...]) -> None:
        self.rows = rows
        super().__init__(message)


class SolverLimitError(XlfactorError):
    """The solver stopped at its iteration limit without an answer (not a proof of infeasibility)."""


@dataclass(frozen=True, eq=False)
class OptimizeResult:
    """Target weights, the trade list, the check table after, the solver status and the shadow prices.

    Parameters
    ----------
    objective : str
        ``tracking_error``, ``total_risk``, ``alpha`` or ``trades``.
    status : str
        cvxpy's status of the last solve (``optimal``, ``optimal_inaccurate``).
    objective_value : float
        In the objective's units (annualized TE or total risk for the risk objectives).
    tickers : ndarray of str, shape (n_positions,)
        The universe, then the index/ETF instruments.
    start, target : ndarray, shape (n_positions,)
        Current and target weights, decimals of the book's gross before the trades.
    capital : float or None
        The book's gross in dollars (None for an allocation book).
    trades : DataFrame
        ``ticker, current_weight, target_weight, trade_weight`` (and ``trade_value, target_value``
        in dollars for a dollar book), one row per traded name.
    check : DataFrame
        The check table before and after (see :func:`xlfactor.check_limits`).
    binding : DataFrame
        The binding limits: ``row, limit, name, side, bound, binding_elements, shadow_price,
        largest, largest_shadow_price``.
    shadow_price_unit : str
        What a shadow price means (TE saved per 1.0 of loosening the bound, for TE).
    notes : list of str
        What the solve did that a user should know (the ``names`` heuristic, an unmet limit).
    missing : DataFrame
        Holdings treated as cash.
    tracking_error_before, tracking_error_after : float
        Annualized decimals.
    solve_seconds : float
        Wall time of the solves.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})
    >>> limits = pd.DataFrame({"limit": ["tracking_error", "turnover"], "name": ["", ""], "min": [None, None], "max": [0.10, 0.5]})
    >>> result = xf.optimize(data, book, limits)
    >>> result.status, bool(result.tracking_error_after <= 0.10 + 1e-6)
    ('optimal', True)
    """

    objective: str
    status: str  # cvxpy's status of the last solve ("optimal", "optimal_inaccurate")
    objective_value: float  # in objective units (TE or total risk for the risk objectives, annualized)
    tickers: StrArray  # (n_positions,) universe then instruments
    start: FloatArray  # (n_positions,) current weights, decimals of the book's gross
    target: FloatArray  # (n_positions,) target weights
    capital: float | None  # the book's gross in dollars (None: an allocation book)
    trades: pd.DataFrame  # ticker, current_weight, target_weight, trade_weight[, trade_value, target_value]
    check: pd.DataFrame  # check table before and after (see check_limits)
    binding: pd.DataFrame  # row, limit, name, side, bound, binding_elements, shadow_price, largest, largest_shadow_price
    shadow_price_unit: str
    notes: list[str] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)  # holdings treated as cash
    tracking_error_before: float = math.nan
    tracking_error_after: float = math.nan
    solve_seconds: float = 0.0

    @property
    def weights(self) -> pd.DataFrame:
        """``ticker, current_weight, target_weight`` of every position held before or after.

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> book = pd.DataFrame({"ticker": data.tickers[:3], "value": 100.0})
        >>> limits = pd.DataFrame({"limit": ["turnover"], "name": [""], "min": [None], "max": [0.0]})
        >>> xf.optimize(data, book, limits).weights["ticker"].tolist()   # a turnover of 0: nothing moves
        ['SIM0001', 'SIM0002', 'SIM0003']
        """
        keep = (np.abs(self.start) > 0) | (np.abs(self.target) > 0)
        return pd.DataFrame({"ticker": self.tickers[keep], "current_weight": self.start[keep], "target_weight": self.target[keep]})

    def trade_list(self) -> pd.DataFrame:
        """The trades as an input trade list: ``ticker, value`` (dollars) for a dollar book, else ``ticker, allocation``.

        Returns
        -------
        DataFrame
            What :func:`xlfactor.what_if` and :func:`xlfactor.check_limits` take as ``trades``.

        Examples
        --------
        >>> import pandas as pd
        >>> import xlfactor as xf
        >>> data = xf.factor_model_data()
        >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})
        >>> limits = pd.DataFrame({"limit": ["tracking_error"], "name": [""], "min": [None], "max": [0.10]})
        >>> trades = xf.optimize(data, book, limits).trade_list()
        >>> list(trades.columns), bool(xf.check_limits(data, book, limits, trades)["breach"].any())
        (['ticker', 'value'], False)
        """
        if self.capital is not None:
            return pd.DataFrame({"ticker": self.trades["ticker"], "value": self.trades["trade_value"]})
        return pd.DataFrame({"ticker": self.trades["ticker"], "allocation": self.trades["trade_weight"]})


# ---------------------------------------------------------------- the problem


@dataclass
class _Row:
    """One constraint of the problem and where it came from (for duals and the infeasibility search)."""

    key: int  # the limit row (0: the implicit budget)
    limit: Limit | None
    side: str  # "min" or "max"
    constraint: object  # cvxpy constraint
    bound: float
    dual_scale: float = 1.0  # d(constraint rhs) / d(bound)


@dataclass
class _Inputs:
    model: PositionModel
    start: FloatArray  # (M,)
    benchmark: FloatArray  # (M,)
    limits: list[Limit]
    objective: Objective
    alpha: FloatArray | None  # (M,)
    risk_aversion: float
    cost: FloatArray | None  # (M,)
    fixed: np.ndarray  # (M,) bool: weight held at start
    beta: FloatArray  # (M,) beta coefficients
    factor_root: FloatArray  # (r, K) with root' root = F


def factor_root(F: FloatArray) -> FloatArray:
    """``R`` (rank, K) with ``R' R = F`` (eigenvalue square root; negative rounding dropped); memoized on F's bytes."""
    F = np.ascontiguousarray(F, dtype=float)
    key = (F.shape, hash(F.tobytes()))
    held = _ROOTS.get_or_compute(key, lambda: (F.copy(), _factor_root(F)), lambda v: np.array_equal(v[0], F))
    return held[1]


_ROOTS = memo("factor covariance roots", 8)


def _factor_root(F: FloatArray) -> FloatArray:
    values, vectors = np.linalg.eigh((F + F.T) / 2)
    keep = values > values.max() * 1e-14 if values.max() > 0 else values > 0
    return (vectors[:, keep] * np.sqrt(values[keep])).T


def _build(inputs: _Inputs, rows_on: set[int] | None, point: FloatArray, zero: np.ndarray | None, feasibility: bool,
           dense: bool = False, loosen: dict[tuple[int, str], float] | None = None, share_slack: list | None = None):  # fmt: skip
    """The cvxpy problem: variables, constraints by limit row, objective. ``rows_on`` None = every row.

    ``loosen`` {(row, side): step} moves that side of a row (``min`` or ``max``) outwards by
    ``step`` (the parametric shadow prices). ``share_slack``, a list, turns on the penalty phase of the convex-concave procedure:
    each linearized ``factor_share`` row gets a slack variable >= 0 (appended to the list) and
    the objective is their sum.
    """
    import cvxpy as cp
    import scipy.sparse

    model, X, d = inputs.model, inputs.model.exposures, inputs.model.idiosyncratic_variance
    M, K = X.shape
    R = inputs.factor_root
    b, w0 = inputs.benchmark, inputs.start
    sqrt_d = np.sqrt(d)
    w = cp.Variable(M, name="w")
    constraints = []
    if dense:  # the N x N formulation, for comparisons only
        V = X @ inputs.model.data.factor_covariance @ X.T + np.diag(d)
        x = X.T @ w
        V = cp.psd_wrap((V + V.T) / 2)
        te_var = cp.quad_form(w - b, V)
        total_var = cp.quad_form(w, V)
    else:
        x = cp.Variable(K, name="x")
        constraints.append(x == X.T @ w)
        # quadratic forms in x (K x K) and w (diagonal): the solver gets them as the objective's P, no extra variables
        F = cp.psd_wrap(inputs.model.data.factor_covariance)
        D = scipy.sparse.diags(d)
        # (x - xb)'F(x - xb) expanded, so cvxpy adds no variable for the difference
        xb_ = X.T @ b
        Fm = inputs.model.data.factor_covariance
        constant = float(xb_ @ Fm @ xb_ + b @ (d * b))
        total_var = cp.quad_form(x, F) + cp.quad_form(w, D)
        te_var = total_var - 2 * (Fm @ xb_) @ x - 2 * (d * b) @ w + constant
    xb = X.T @ b

    def norm_of(kind: LimitKind):
        if dense:
            return None
        return {
            LimitKind.TRACKING_ERROR: lambda: cp.norm(cp.hstack([R @ (x - xb), cp.multiply(sqrt_d, w - b)]), 2),
            LimitKind.TOTAL_RISK: lambda: cp.norm(cp.hstack([R @ x, cp.multiply(sqrt_d, w)]), 2),
            LimitKind.FACTOR_RISK: lambda: cp.norm(R @ x, 2),
            LimitKind.IDIOSYNCRATIC_RISK: lambda: cp.norm(cp.multiply(sqrt_d, w), 2),
        }[kind]()

    rows: list[_Row] = []
    fixed = inputs.fixed
    if fixed.any():
        constraints.append(w[np.nonzero(fixed)[0]] == w0[fixed])
    if zero is not None and zero.any():
        constraints.append(w[np.nonzero(zero)[0]] == 0)
    n = model.n_assets
    if not any(limit.kind is LimitKind.NET for limit in inputs.limits) and (rows_on is None or 0 in rows_on):
        rows.append(_Row(0, None, "net", cp.sum(w[:n]) == float(w0[:n].sum()), float(w0[:n].sum())))
    for limit in inputs.limits:
        if rows_on is not None and limit.row not in rows_on:
            continue
        kind, lo, hi = limit.kind, limit.lower, limit.upper
        if loosen:
            lo, hi = lo - loosen.get((limit.row, "min"), 0.0), hi + loosen.get((limit.row, "max"), 0.0)
        sides = []
        if kind is LimitKind.WEIGHT:
            every = len(limit.elements) == n and limit.elements[-1] == n - 1
            sides = [("expr", (w if M == n else w[:n]) if every else w[limit.elements])]
        elif kind is LimitKind.EXPOSURE:
            sides = [("expr", x[limit.elements])]
        elif kind is LimitKind.ACTIVE_EXPOSURE:
            sides = [("expr", x[limit.elements] - xb[limit.elements])]
        elif kind is LimitKind.BETA:
            sides = [("expr", inputs.beta @ w)]
        elif kind is LimitKind.NET:
            sides = [("expr", cp.sum(w))]
        elif kind in RISK_KINDS:
            if dense:
                variance = {LimitKind.TRACKING_ERROR: te_var, LimitKind.TOTAL_RISK: total_var}[kind]
                rows.append(_Row(limit.row, limit, "max", variance <= hi * hi, hi, 2 * hi))
            else:
                rows.append(_Row(limit.row, limit, "max", norm_of(kind) <= hi, hi))
            continue
        elif kind is LimitKind.GROSS:
            rows.append(_Row(limit.row, limit, "max", cp.norm1(w) <= hi, hi))
            continue
        elif kind is LimitKind.TURNOVER:
            trade = w - w0  # one-way: max(buys, sells) (limits.one_way_turnover)
            rows.append(_Row(limit.row, limit, "max", cp.maximum(cp.sum(cp.pos(trade)), cp.sum(cp.neg(trade))) <= hi, hi))
            continue
        elif kind is LimitKind.FACTOR_SHARE:
            F = model.data.factor_covariance
            factor_var = cp.sum_squares(R @ x) if not dense else cp.quad_form(x, cp.psd_wrap(F))
            idiosyncratic_var = cp.sum_squares(cp.multiply(sqrt_d, w))
            p = point
            xp = X.T @ p
            total_p = float(xp @ F @ xp + p @ (d * p))
            if math.isfinite(hi):  # (1 - v) x'Fx <= v w'Dw, the right side linearized (a lower bound of it)
                tangent = 2 * (d * p) @ w - float(p @ (d * p))
                rows.append(_Row(limit.row, limit, "max", (1 - hi) * factor_var - hi * tangent <= _share_room(share_slack), hi, total_p))
            if math.isfinite(lo):  # v w'Dw <= (1 - v) x'Fx
                tangent = 2 * (F @ xp) @ x - float(xp @ F @ xp)
                rows.append(_Row(limit.row, limit, "min", lo * idiosyncratic_var - (1 - lo) * tangent <= _share_room(share_slack), lo, total_p))
            continue
        else:  # names: the heuristic handles it
            continue
        expr = sides[0][1]
        if math.isfinite(lo):
            rows.append(_Row(limit.row, limit, "min", expr >= lo, lo))
        if math.isfinite(hi):
            rows.append(_Row(limit.row, limit, "max", expr <= hi, hi))
    constraints += [r.constraint for r in rows]
    if share_slack is not None:  # penalty phase: the smallest total violation of the linearized share rows
        constraints += [slack >= 0 for slack in share_slack]
        goal = cp.Minimize(cp.sum(cp.hstack(share_slack)) if share_slack else 0)
    elif feasibility:  # the closest book: strongly convex, so Clarabel settles infeasibility cleanly
        goal = cp.Minimize(cp.sum_squares(w - w0))
    elif inputs.objective is Objective.TRACKING_ERROR:
        goal = cp.Minimize(te_var)
    elif inputs.objective is Objective.TOTAL_RISK:
        goal = cp.Minimize(total_var)
    elif inputs.objective is Objective.TRADES:  # the norm, not its square: an interior point then lands on the bounds
        goal = cp.Minimize(cp.norm(w - w0, 2))
    else:
        reward = inputs.alpha @ w - inputs.risk_aversion * total_var
        if inputs.cost is not None:
            reward = reward - inputs.cost @ cp.abs(w - w0)
        goal = cp.Maximize(reward)
    return cp.Problem(goal, constraints), w, rows


def _share_room(share_slack: list | None):
    """0, or a new slack variable (appended to ``share_slack``) in the penalty phase."""
    import cvxpy as cp

    if share_slack is None:
        return 0
    share_slack.append(cp.Variable(name=f"share_slack_{len(share_slack)}"))
    return share_slack[-1]


def _solve(problem) -> str:
    """Solve with Clarabel; the status (``optimal_inaccurate`` is kept in the result, not warned about)."""
    import cvxpy as cp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        try:
            problem.solve(solver=cp.CLARABEL, **SOLVER_OPTIONS)
        except cp.error.SolverError:
            try:  # Clarabel stops short of the tight tolerances on a few hard problems: its defaults then
                problem.solve(solver=cp.CLARABEL)
            except cp.error.SolverError:
                return "solver_error"
    return str(problem.status)


_GOOD = ("optimal", "optimal_inaccurate")


def _solve_ccp(inputs: _Inputs, zero: np.ndarray | None, rows_on: set[int] | None = None, feasibility: bool = False,
               dense: bool = False, loosen: dict[tuple[int, str], float] | None = None):  # fmt: skip
    """Solve, re-linearizing the factor_share rows until the point settles (one solve without such rows).

    The linearized rows are stricter than the true ones, so the first solve (linearized at the
    current book) can be infeasible while the limits are not. Then a penalty phase runs first:
    the same procedure minimizing the total slack of the linearized rows, from the book, until
    the slack is zero (a point that truly meets them, where the linearization is exact); the
    procedure then starts from that point. Only a penalty phase that cannot reach zero slack
    leaves the status infeasible.
    """
    point = inputs.start.copy()
    has_share = any(limit.kind is LimitKind.FACTOR_SHARE and (rows_on is None or limit.row in rows_on) for limit in inputs.limits)
    if not has_share:
        problem, w, rows = _build(inputs, rows_on, point, zero, feasibility, dense, loosen)
        return problem, w, rows, _solve(problem)
    problem, w, rows = _build(inputs, rows_on, point, zero, feasibility, dense, loosen)
    status = _solve(problem)
    if status in _NOT_FEASIBLE or status == "solver_error":  # Clarabel can stall on an infeasible cone instead of certifying it
        found = _share_feasible_point(inputs, rows_on, zero, dense, loosen)
        if found is None:
            return problem, w, rows, status
        point = found
        problem, w, rows = _build(inputs, rows_on, point, zero, feasibility, dense, loosen)
        status = _solve(problem)
    for _ in range(CCP_ITERATIONS):
        if status not in _GOOD:
            return problem, w, rows, status
        moved = float(np.abs(w.value - point).max())
        point = np.asarray(w.value, dtype=float).copy()
        if moved < CCP_TOLERANCE:
            break
        problem, w, rows = _build(inputs, rows_on, point, zero, feasibility, dense, loosen)
        status = _solve(problem)
    return problem, w, rows, status


_NOT_FEASIBLE = ("infeasible", "infeasible_inaccurate")
SHARE_SLACK_TOLERANCE = 1e-12
"""The penalty phase has found a feasible point when the linearized factor_share rows' total slack is below this (variance units)."""


def _share_feasible_point(inputs: _Inputs, rows_on: set[int] | None, zero: np.ndarray | None, dense: bool,
                          loosen: dict[tuple[int, str], float] | None) -> FloatArray | None:  # fmt: skip
    """A point meeting every row, the factor_share rows exactly, by the penalty phase; None when none is found."""
    point = inputs.start.copy()
    for _ in range(CCP_ITERATIONS):
        slacks: list = []
        problem, w, _ = _build(inputs, rows_on, point, zero, False, dense, loosen, share_slack=slacks)
        status = _solve(problem)
        if status not in _GOOD:
            return None  # the other rows alone cannot be met
        total = float(sum(max(float(s.value), 0.0) for s in slacks))
        moved = float(np.abs(w.value - point).max())
        point = np.asarray(w.value, dtype=float).copy()
        if total <= SHARE_SLACK_TOLERANCE:
            return point
        if moved < CCP_TOLERANCE:
            return None  # settled with slack left: no point found
    return None


def _row_label(inputs: _Inputs, key: int) -> str:
    if key == 0:
        return "the net weight of the universe names, held at its current value without a net row"
    return next(limit.label for limit in inputs.limits if limit.row == key)


def _conflicting_rows(inputs: _Inputs, zero: np.ndarray | None) -> list[int]:
    """A set of rows that cannot hold together, by relaxing them one at a time (deletion filter)."""
    keys = ([0] if not any(limit.kind is LimitKind.NET for limit in inputs.limits) else [])
    keys += [limit.row for limit in inputs.limits if limit.kind is not LimitKind.NAMES]
    active = set(keys)
    for key in keys:
        trial = active - {key}
        *_, status = _solve_ccp(inputs, zero, trial, feasibility=True)
        if status not in _GOOD:
            active = trial  # still infeasible without it: not needed for the conflict
    return [k for k in keys if k in active]


def _infeasible(inputs: _Inputs, zero: np.ndarray | None, status: str) -> InfeasibleLimitsError:
    rows = _conflicting_rows(inputs, zero)
    fixed = " (names outside candidates keep their weight)" if inputs.fixed.any() else ""
    if not rows and status == "infeasible_inaccurate":
        return InfeasibleLimitsError("the solver could not settle whether the limits can be met (status infeasible_inaccurate: "
                                     f"they are at the edge of feasibility){fixed}; loosen the tightest limits slightly", ())  # fmt: skip
    if not rows:
        return InfeasibleLimitsError(f"no book meets the limits (solver status {status}){fixed}", ())
    labels = [_row_label(inputs, k) for k in rows]
    if len(rows) == 1:
        return InfeasibleLimitsError(f"infeasible limits: {labels[0]} cannot be met{fixed}", tuple(rows))
    return InfeasibleLimitsError(f"infeasible limits: {' and '.join(labels)} conflict (no book meets them together; "
                                 f"without any one of them the others can be met){fixed}", tuple(rows))  # fmt: skip


# ---------------------------------------------------------------- inputs


def _vector(model: PositionModel, table: pd.DataFrame | pd.Series | float | None, column: str, argument: str,
            required: np.ndarray | None = None) -> FloatArray | None:  # fmt: skip
    """A per-position vector from a ``ticker, <column>`` table, or a scalar for every position.

    A ticker given twice is refused (never summed). Names absent from the table are 0, unless
    ``required`` (n_positions,) bool marks positions the table must cover: then a missing one
    is refused, naming it (a transaction cost left out would make that name free to trade).
    """
    if table is None:
        return None
    if isinstance(table, (int, float)) and not isinstance(table, bool):
        if not math.isfinite(table):
            raise XlfactorError(f"{argument} must be finite, got {table!r}")
        return np.full(len(model.tickers), float(table))
    if isinstance(table, pd.Series):
        table = pd.DataFrame({"ticker": table.index, column: table.to_numpy()})
    if not isinstance(table, pd.DataFrame):
        raise XlfactorError(f"{argument} must be a table with columns ticker, {column}")
    columns = {str(c).strip().lower(): c for c in table.columns}
    if "ticker" not in columns or column not in columns:
        raise XlfactorError(f"{argument} needs the columns ticker, {column} (got {', '.join(map(str, table.columns))})")
    tickers = [normalize_ticker(t) for t in table[columns["ticker"]]]
    values = pd.to_numeric(table[columns[column]], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise XlfactorError(f"{argument}: {int((~np.isfinite(values)).sum())} non-numeric {column}(s)")
    rows = model.ticker_index.get_indexer(tickers)
    if (rows < 0).any():
        raise UnknownTickersError([t for t, r in zip(tickers, rows) if r < 0])
    twice = pd.Index(tickers)[pd.Index(tickers).duplicated()].unique().tolist()
    if twice:
        raise XlfactorError(f"{argument}: ticker(s) given more than once: {', '.join(twice[:5])}"
                            f"{f' and {len(twice) - 5} more' if len(twice) > 5 else ''}; give one {column} per ticker")  # fmt: skip
    out = np.zeros(len(model.tickers))
    out[rows] = values
    if required is not None:
        covered = np.zeros(len(model.tickers), dtype=bool)
        covered[rows] = True
        missing = [str(t) for t in model.tickers[required & ~covered]]
        if missing:
            raise XlfactorError(f"{argument}: no {column} for {len(missing)} name(s) that may trade ({', '.join(missing[:5])}"
                                f"{', ...' if len(missing) > 5 else ''}); give every candidate a {column}, one number for all, "
                                "or narrow candidates")  # fmt: skip
    return out


def _fixed_mask(model: PositionModel, candidates: list[str] | None) -> np.ndarray:
    """(n_positions,) True for the positions that keep their weight: universe names not in ``candidates``."""
    if candidates is None:
        return np.zeros(len(model.tickers), dtype=bool)
    names = [normalize_ticker(c) for c in candidates]
    rows = model.ticker_index.get_indexer(names)
    if (rows < 0).any():
        raise UnknownTickersError([n for n, r in zip(names, rows) if r < 0])
    free = np.zeros(len(model.tickers), dtype=bool)
    free[rows] = True
    free[model.n_assets :] = True  # instruments trade within their own weight rows
    return ~free


# ---------------------------------------------------------------- the entry point


def optimize(
    data: FactorModelData,
    portfolio: pd.DataFrame,
    limits: pd.DataFrame | list | None,
    objective: Objective | str = Objective.TRACKING_ERROR,
    alpha: pd.DataFrame | pd.Series | None = None,
    benchmark: pd.DataFrame | None = None,
    candidates: list[str] | None = None,
    transaction_cost: pd.DataFrame | float | None = None,
    risk_aversion: float = 1.0,
    dense: bool = False,
) -> OptimizeResult:
    """Target weights that meet ``limits``, from the current book, best for ``objective``.

    Parameters
    ----------
    data : FactorModelData
        The model.
    portfolio : DataFrame
        The current book: ``ticker`` and ``value`` (dollars) or ``allocation``.
    limits : DataFrame or list of rows
        ``limit, name, min, max`` (:mod:`xlfactor.optimizer.limits`). ``weight`` rows naming an
        index/ETF (``SPY``, ``XLF``...) make it a hedge instrument with those bounds.
    objective : str
        ``tracking_error`` (default), ``total_risk``, ``alpha`` or ``trades`` (module docstring).
    alpha : DataFrame or Series, optional
        ``ticker, alpha``: expected annual returns (decimal) for the ``alpha`` objective; names absent 0.
    benchmark : DataFrame, optional
        Benchmark holdings; default the cap-weighted universe.
    candidates : list of str, optional
        Tickers that may be traded (default: every universe name and instrument); others keep their weight.
    transaction_cost : float or DataFrame, optional
        ``alpha`` objective only: cost per unit traded (decimal of the amount), one number or
        ``ticker, cost``. A table must cover every name that may trade (``candidates``, or every
        position): a missing name is refused, naming it, never taken as free to trade.
        A ticker given twice in ``alpha`` or ``transaction_cost`` is refused.
    risk_aversion : float
        ``lambda`` of the ``alpha`` objective (per annual variance).
    dense : bool
        Use the N x N covariance instead of the factor structure (for comparisons; slow).

    Returns
    -------
    OptimizeResult
        The target weights, the trade list (dollars for a dollar book), the check table after,
        the solver status and the shadow price of each binding limit.

    Raises
    ------
    LimitsError
        Bad rows, or a limit the optimizer cannot take (a minimum on a risk, gross, turnover or names).
    InfeasibleLimitsError
        No book meets the limits: the message names the conflicting rows.
    XlfactorError
        An unbounded objective, a bad alpha, cost or objective.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> book = pd.DataFrame({"ticker": data.tickers[:20], "value": 1_000.0})
    >>> limits = pd.DataFrame({"limit": ["tracking_error", "turnover", "weight"], "name": ["", "", "*"],
    ...                        "min": [None, None, 0.0], "max": [0.08, 0.30, 0.06]})
    >>> result = xf.optimize(data, book, limits)                    # minimum TE within the limits
    >>> result.status, bool(result.check["breach"].any())
    ('optimal', False)
    >>> bool(result.tracking_error_after < result.tracking_error_before)
    True
    """
    objective = Objective.parse(objective or Objective.TRACKING_ERROR, "objective")
    if objective is Objective.ALPHA and alpha is None:
        raise XlfactorError("the alpha objective needs an alpha table (ticker, alpha)")
    if transaction_cost is not None and objective is not Objective.ALPHA:
        raise XlfactorError("transaction_cost belongs to the alpha objective (alpha'w - lambda risk^2 - cost); "
                            "with a risk objective use a turnover limit")  # fmt: skip
    if isinstance(risk_aversion, bool) or not (isinstance(risk_aversion, (int, float)) and risk_aversion >= 0):
        raise XlfactorError(f"risk_aversion must be a number >= 0, got {risk_aversion!r}")
    instruments = instruments_named(data, portfolio, limits=limits, extra=list(candidates or []))
    setup = book_setup(data, portfolio, instruments, benchmark)
    model = setup.model
    parsed = parse_limits(model, limits)
    _refuse_non_convex(parsed)
    fixed = _fixed_mask(model, candidates)
    inputs = _Inputs(
        model=model,
        start=setup.start,
        benchmark=model.extend(setup.benchmark),
        limits=parsed,
        objective=objective,
        alpha=_vector(model, alpha, "alpha", "alpha"),
        risk_aversion=float(risk_aversion),
        cost=_vector(model, transaction_cost, "cost", "transaction_cost", required=~fixed),
        fixed=fixed,
        beta=setup.beta,
        factor_root=factor_root(data.factor_covariance),
    )
    if inputs.cost is not None and (inputs.cost < 0).any():
        raise XlfactorError("transaction_cost must not be negative")
    if not np.isfinite(inputs.beta).all() and any(limit.kind is LimitKind.BETA for limit in parsed):
        raise XlfactorError("beta limits need a benchmark with risk")
    clock = time.perf_counter()
    if objective is Objective.TRADES and _inside(setup, inputs):
        return _result(setup, inputs, None, [], "optimal", setup.start.copy(), ["the book already meets its limits: no trade"], 0.0)
    problem, w, rows, status = _solve_ccp(inputs, None, dense=dense)
    notes = []
    if status == "unbounded" or status == "unbounded_inaccurate":
        raise XlfactorError("the objective is unbounded under these limits: add gross or weight limits, or raise risk_aversion")
    if status == "solver_error":
        raise XlfactorError("the solver failed on these limits (numerical trouble); loosen the tightest limits and retry")
    if status == "user_limit":
        raise SolverLimitError(f"the solver stopped at its iteration limit ({SOLVER_OPTIONS['max_iter']} iterations) before an answer: "
                               "the limits were not shown infeasible; loosen the tightest limits or trade fewer names and retry")  # fmt: skip
    if status not in _GOOD:
        raise _infeasible(inputs, None, status)
    target = np.asarray(w.value, dtype=float)
    zero = None
    names_rows = [limit for limit in parsed if limit.kind is LimitKind.NAMES and math.isfinite(limit.upper)]
    if names_rows:
        target, problem, rows, status, note, zero = _names_heuristic(inputs, names_rows, target, problem, rows, status, dense)
        notes += note
    if _inside(setup, inputs) and _objective_at(inputs, setup.start) <= _objective_at(inputs, target) + 1e-14:
        target = setup.start.copy()  # the solver's answer is no better than the book itself: no trade
        notes.append("the book already meets its limits and no trade improves the objective")
    prices = _group_prices(inputs, problem, rows, zero, dense)
    seconds = time.perf_counter() - clock
    return _result(setup, inputs, problem, rows, status, target, notes, seconds, prices)


def _objective_at(inputs: _Inputs, w: FloatArray) -> float:
    """The objective (to minimize) at ``w``, computed with numpy in factor form."""
    X, F, d = inputs.model.exposures, inputs.model.data.factor_covariance, inputs.model.idiosyncratic_variance
    if inputs.objective is Objective.TRADES:
        return float(np.linalg.norm(w - inputs.start))
    a = w - inputs.benchmark if inputs.objective is Objective.TRACKING_ERROR else w
    x = X.T @ a
    variance = float(x @ F @ x + a @ (d * a))
    if inputs.objective is not Objective.ALPHA:
        return variance
    cost = 0.0 if inputs.cost is None else float(inputs.cost @ np.abs(w - inputs.start))
    return -(float(inputs.alpha @ w) - inputs.risk_aversion * variance - cost)


def _inside(setup: BookSetup, inputs: _Inputs) -> bool:
    """True when the current book meets every limit (and holds no name outside its budget rules)."""
    now = measure(setup.model, setup.start, setup.start, setup.benchmark, setup.beta)
    return not check_table(setup, inputs.limits, now, now)["breach"].any()


def _refuse_non_convex(limits: list[Limit]) -> None:
    for limit in limits:
        if limit.kind in RISK_KINDS | {LimitKind.GROSS, LimitKind.TURNOVER, LimitKind.NAMES} and math.isfinite(limit.lower) and limit.lower > 0:
            raise LimitsError(f"limits {limit.label}: the optimizer cannot take a minimum on {limit.kind.value} "
                              "(the books it leaves are not a convex set); leave min blank (check_limits still checks it)")  # fmt: skip


def _names_heuristic(inputs: _Inputs, names_rows: list[Limit], target: FloatArray, problem, rows, status, dense: bool):
    """Keep the largest positions, zero the rest, re-solve (see the module docstring)."""
    most = int(math.floor(min(limit.upper for limit in names_rows) + 1e-9))
    held = np.abs(target) > NAME_TOLERANCE
    label = min(names_rows, key=lambda limit: limit.upper).label
    note = [f"names ({label}): cardinality by heuristic (solve, keep the {most} largest, re-solve); not guaranteed optimal"]
    if held.sum() <= most:
        return target, problem, rows, status, note, None
    keep = np.zeros(len(target), dtype=bool)
    fixed_held = inputs.fixed & (np.abs(inputs.start) > 0)
    keep[fixed_held] = True
    order = np.argsort(-np.abs(target), kind="stable")
    for i in order:
        if keep.sum() >= most:
            break
        keep[i] = True
    if fixed_held.sum() > most:
        note.append(f"names limit not met: {int(fixed_held.sum())} names outside candidates are held, above {most}")
        return target, problem, rows, status, note, None
    problem2, w2, rows2, status2 = _solve_ccp(inputs, ~keep, dense=dense)
    if status2 not in _GOOD:
        note.append(f"names limit not met: keeping the {most} largest positions leaves the other limits infeasible; "
                    f"the solution without the names limit is returned ({int(held.sum())} names)")  # fmt: skip
        return target, problem, rows, status, note, None
    return np.asarray(w2.value, dtype=float), problem2, rows2, status2, note, ~keep


def clean_trades(trades: FloatArray, tolerance: float = TRADE_TOLERANCE) -> FloatArray:
    """Trades without the solver's dust: ``|trade| <= tolerance`` set to 0, their sum spread back over the real trades.

    An interior-point solution leaves a name it does not buy at about 1e-11 instead of 0;
    a thousand of those would fill the trade list with dust. Dropping them alone would move
    the net weight by their sum, so that sum is added back to the remaining trades in
    proportion to their size (each moves by far less than the tolerance): the net weight
    is kept exactly.

    >>> clean_trades(np.array([0.1, 1e-12, -0.05, 3e-12])).round(15).tolist()
    [0.100000000002667, 0.0, -0.049999999998667, 0.0]
    """
    dust = np.abs(trades) <= tolerance
    out = np.where(dust, 0.0, trades)
    residual = float(trades[dust].sum())
    size = np.abs(out)
    if residual and size.sum() > 0:
        out = out + residual * size / size.sum()
    return out


def _shadow(inputs: _Inputs, problem) -> tuple[float, str]:
    """(factor from a variance-problem dual to objective units, unit text)."""
    value = float(problem.value) if problem is not None else 0.0
    if inputs.objective in (Objective.TRACKING_ERROR, Objective.TOTAL_RISK):
        root = math.sqrt(max(value, 0.0))
        unit = "annualized TE saved (decimal) per 1.0 of loosening" if inputs.objective is Objective.TRACKING_ERROR\
            else "annualized total risk saved (decimal) per 1.0 of loosening"  # fmt: skip
        return (1 / (2 * root) if root > 0 else 0.0), unit
    if inputs.objective is Objective.ALPHA:
        return 1.0, "objective gained (annual decimal return) per 1.0 of loosening"
    return 1.0, "Euclidean size of the trades (decimal of gross) saved per 1.0 of loosening"


def _result(setup: BookSetup, inputs: _Inputs, problem, rows: list[_Row], status: str, target: FloatArray, notes: list[str],
            seconds: float, group_prices: dict[tuple[int, str], float] | None = None) -> OptimizeResult:  # fmt: skip
    model = setup.model
    trade = clean_trades(target - setup.start)
    target = setup.start + trade
    coefficients = setup.beta
    before = measure(model, setup.start, setup.start, setup.benchmark, coefficients)
    after = measure(model, target, setup.start, setup.benchmark, coefficients)
    check = check_table(setup, inputs.limits, before, after)
    traded = np.nonzero(trade)[0]
    trades = pd.DataFrame({
        "ticker": model.tickers[traded],
        "current_weight": setup.start[traded],
        "target_weight": target[traded],
        "trade_weight": trade[traded],
    })  # fmt: skip
    if setup.capital is not None:
        trades["trade_value"] = trade[traded] * setup.capital
        trades["target_value"] = target[traded] * setup.capital
    trades = trades.reindex(trades["trade_weight"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
    scale, unit = _shadow(inputs, problem)
    binding = _binding(inputs, rows, scale, group_prices or {})
    value = float(problem.value) if problem is not None else 0.0
    if inputs.objective in (Objective.TRACKING_ERROR, Objective.TOTAL_RISK):
        value = math.sqrt(max(value, 0.0))
    for _, row in check[check["breach"]].iterrows():
        if row["limit"] != "names":
            notes.append(f"limits row {row['row']} ({row['limit']} {row['name']}) is past its bound after the solve by "
                         f"{max(row['after'] - (row['max'] if row['max'] == row['max'] else math.inf), (row['min'] if row['min'] == row['min'] else -math.inf) - row['after']):.2g}"
                         " (solver accuracy)")  # fmt: skip
    return OptimizeResult(
        objective=inputs.objective.value,
        status=status,
        objective_value=value,
        tickers=np.asarray(model.tickers, dtype=object),
        start=setup.start,
        target=target,
        capital=setup.capital,
        trades=trades,
        check=check,
        binding=binding,
        shadow_price_unit=unit,
        notes=notes,
        missing=setup.missing,
        tracking_error_before=math.sqrt(before.active_variance),
        tracking_error_after=math.sqrt(after.active_variance),
        solve_seconds=seconds,
    )


def _binding_elements(r: _Row) -> np.ndarray:
    """(n_elements,) bool: the elements of a constraint at their bound (relative slack <= BINDING_TOLERANCE)."""
    return _slack(r) <= BINDING_TOLERANCE * max(1.0, abs(r.bound))


def _objective_units(inputs: _Inputs, value: float) -> float:
    """A problem's optimal value in objective units, oriented so that larger is worse (TE, risk, -reward, trade size)."""
    if inputs.objective in (Objective.TRACKING_ERROR, Objective.TOTAL_RISK):
        return math.sqrt(max(value, 0.0))
    return -value if inputs.objective is Objective.ALPHA else value


def _group_prices(inputs: _Inputs, problem, rows: list[_Row], zero: np.ndarray | None, dense: bool) -> dict[tuple[int, str], float]:
    """Shadow prices of the group rows with two or more elements at their bound, by parametric re-solve.

    Summing element duals is the row's sensitivity only when the duals are unique; with several
    elements at their bound (and others at a kink of ``turnover`` or ``gross``) they are not.
    So each such side of a row is loosened by :data:`SHADOW_STEP` (times max(1, |bound|)) as a
    whole, the problem re-solved, and the price is the objective saved per unit of loosening
    (a one-sided finite difference: the right derivative). NaN when the re-solve fails.
    """
    if problem is None or problem.value is None:
        return {}
    base = _objective_units(inputs, float(problem.value))
    out = {}
    for r in rows:
        if r.limit is None or len(r.limit.elements) < 2 or r.constraint.dual_value is None:
            continue
        if int(_binding_elements(r).sum()) < 2:
            continue
        step = SHADOW_STEP * max(1.0, abs(r.bound))
        loosened, _, _, status = _solve_ccp(inputs, zero, dense=dense, loosen={(r.key, r.side): step})
        saved = (base - _objective_units(inputs, float(loosened.value))) / step if status in _GOOD else math.nan
        out[(r.key, r.side)] = max(saved, 0.0) if saved == saved else saved  # loosening never costs: below 0 is solver noise
    return out


def _binding(inputs: _Inputs, rows: list[_Row], scale: float, group_prices: dict[tuple[int, str], float]) -> pd.DataFrame:
    """The binding limits with their shadow prices (see the module docstring); ``group_prices`` override the dual sums."""
    out = []
    for r in rows:
        dual = r.constraint.dual_value
        if dual is None:
            continue
        dual = np.abs(np.atleast_1d(np.asarray(dual, dtype=float)))
        binding = _binding_elements(r)
        if not binding.any():
            continue
        prices = dual * r.dual_scale * scale
        if r.limit is None:
            name, kind, labels = "", "net (held)", [""]
        else:
            kind, name = r.limit.kind.value, r.limit.name
            labels = _labels(inputs.model, r.limit)
        j = int(np.argmax(np.where(binding, prices, -np.inf)))
        price = group_prices.get((r.key, r.side), float(prices[binding].sum()))
        out.append([r.key, kind, name, r.side, r.bound, int(binding.sum()), price,
                    labels[j] if len(labels) > 1 else "", float(prices[j])])  # fmt: skip
    return pd.DataFrame(out, columns=["row", "limit", "name", "side", "bound", "binding_elements", "shadow_price", "largest", "largest_shadow_price"])


def _labels(model: PositionModel, limit: Limit) -> list[str]:
    if limit.kind is LimitKind.WEIGHT:
        return [str(model.tickers[i]) for i in limit.elements]
    if limit.kind in (LimitKind.EXPOSURE, LimitKind.ACTIVE_EXPOSURE):
        return [str(model.data.factor_names[i]) for i in limit.elements]
    return [""]


def _slack(r: _Row) -> FloatArray:
    """How far each element of a constraint is from its bound, in the constraint's units (>= 0 up to solver noise)."""
    c = r.constraint
    lhs = np.atleast_1d(np.asarray(c.args[0].value, dtype=float))
    rhs = np.atleast_1d(np.asarray(c.args[1].value, dtype=float))
    if type(c).__name__ == "Equality":
        return np.zeros(np.broadcast_shapes(lhs.shape, rhs.shape))
    return np.broadcast_to(rhs - lhs, np.broadcast_shapes(lhs.shape, rhs.shape)).astype(float)  # a <= b is Inequality(a, b)
