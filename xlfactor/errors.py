"""The exceptions xlfactor raises on purpose.

Front ends (worksheet functions, CLI) turn these into short messages by reading their
fields; they never parse the message text.
"""

from __future__ import annotations

from collections.abc import Sequence


class XlfactorError(Exception):
    """Base class for every error xlfactor raises on purpose."""


class PortfolioError(XlfactorError, ValueError):
    """A portfolio or benchmark holdings input is unusable (empty, NaN, zero gross...)."""


class UnknownTickersError(PortfolioError):
    """Holdings name tickers that are not in the snapshot universe."""

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
    """A stress or scenario input is unusable (unknown factor or scenario, date outside the history...)."""


class SnapshotError(XlfactorError, ValueError):
    """A snapshot cannot be used: names the file and the reason."""

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
