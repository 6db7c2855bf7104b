"""The exceptions xlfactor raises on purpose.

Front ends (worksheet functions, CLI) turn these into short messages by reading their
fields; they never parse the message text.
"""

from __future__ import annotations

from collections.abc import Sequence


class XlfactorError(Exception):
    """Base class for every error xlfactor raises on purpose.

    Its message is one line naming the argument or file and the rule broken; front ends
    show it as is (``#XLFACTOR: ...`` in a cell, ``xlfactor: error: ...`` on the command line).

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> try:
    ...     xf.factor_model_data().factor_index("no-such-factor")
    ... except xf.XlfactorError as error:
    ...     print(error)
    unknown factor 'no-such-factor' (OF_FACTORS() lists them)
    """


class PortfolioError(XlfactorError, ValueError):
    """A portfolio or benchmark holdings input is unusable (empty, NaN, zero gross...).

    Also a ``ValueError``.

    Examples
    --------
    >>> import pandas as pd
    >>> import xlfactor as xf
    >>> try:
    ...     xf.portfolio_report(pd.DataFrame({"ticker": ["SIM0001"], "shares": [1.0]}))  # no value or allocation column
    ... except xf.PortfolioError as error:
    ...     print("refused:", type(error).__name__)
    refused: PortfolioError
    """


class UnknownTickersError(PortfolioError):
    """Holdings name tickers that are not in the snapshot universe.

    Parameters
    ----------
    tickers : sequence of str
        The unknown tickers (kept in ``.tickers``; the message shows the first five).

    Examples
    --------
    >>> import xlfactor as xf
    >>> try:
    ...     xf.factor_model_data().ticker_position("NOPE")
    ... except xf.UnknownTickersError as error:
    ...     print(error, error.tickers)
    1 unknown tickers: NOPE ('NOPE',)
    """

    def __init__(self, tickers: Sequence[str]) -> None:
        self.tickers = tuple(tickers)
        shown = ", ".join(self.tickers[:5]) + (", ..." if len(self.tickers) > 5 else "")
        super().__init__(f"{len(self.tickers)} unknown tickers: {shown}")


class NoHoldingsInUniverseError(PortfolioError):
    """No holding of a portfolio is in the snapshot universe: every figure would be 0."""

    def __init__(self, name: str, tickers: Sequence[str], universe: str, size: int) -> None:
        self.tickers = tuple(tickers)
        shown = ", ".join(self.tickers[:5]) + (", ..." if len(self.tickers) > 5 else "")
        where = f"the universe {universe} ({size} tickers)" if universe else f"the universe ({size} tickers)"
        super().__init__(f"none of the {len(self.tickers)} {name} holdings is in {where}: {shown}")


class ScenarioError(XlfactorError, ValueError):
    """A stress or scenario input is unusable (unknown factor or scenario, date outside the history...).

    Also a ``ValueError``.

    Examples
    --------
    >>> import xlfactor as xf
    >>> data = xf.factor_model_data()
    >>> try:
    ...     xf.stress(data, data.benchmark_weights, {"market": -10})   # -10 typed for -10%
    ... except xf.ScenarioError as error:
    ...     print("refused:", type(error).__name__)
    refused: ScenarioError
    """


class SnapshotError(XlfactorError, ValueError):
    """A snapshot cannot be used: names the file and the reason.

    Parameters
    ----------
    file : str
        The snapshot file (or source) at fault, kept in ``.file``.
    reason : str
        What is wrong with it, kept in ``.reason``.

    Examples
    --------
    >>> import xlfactor as xf
    >>> try:
    ...     xf.load_snapshot(as_of="1999-01-04")       # the demo has one date
    ... except xf.SnapshotError as error:
    ...     print(error.file)
    xlfactor-demo
    """

    def __init__(self, file: str, reason: str) -> None:
        self.file = file
        self.reason = reason
        super().__init__(f"snapshot file {file}: {reason}")


class FileWriteError(XlfactorError, OSError):
    """A file or folder cannot be written: names the user's path (never a temp file) and the reason."""

    def __init__(self, target: str, reason: str) -> None:
        self.target = str(target)
        self.reason = reason
        super().__init__(f"cannot write {self.target}: {reason}")

    def __str__(self) -> str:
        return f"cannot write {self.target}: {self.reason}"


class DownloadError(XlfactorError, OSError):
    """A URL cannot be read: names the URL (credentials removed) and the reason, in one line."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = str(url)
        self.reason = reason
        super().__init__(f"cannot read {self.url}: {reason}")

    def __str__(self) -> str:
        return f"cannot read {self.url}: {self.reason}"
