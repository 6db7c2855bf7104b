"""Bounds on what a source may cost: a total deadline per download and size caps per file.

One :class:`SourceLimits` travels from :func:`~xlfactor.snapshot.sources.load_snapshot`
to the downloader and the folder reader. Defaults come from the environment
(:data:`DEADLINE_ENV`, :data:`MAX_FILE_BYTES_ENV`, :data:`MAX_DECOMPRESSED_BYTES_ENV`),
else from the constants below, which are far above any published snapshot (OpenFactor's
1,000-name files are under 20 MB each) and far below what would exhaust a machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

from xlfactor.errors import XlfactorError

DEADLINE_ENV = "XLFACTOR_DOWNLOAD_DEADLINE"
"""Seconds one download (a file, or a whole snapshot) may take in total (connecting, waiting and reading)."""
MAX_FILE_BYTES_ENV = "XLFACTOR_MAX_FILE_BYTES"
"""Largest size of one source file, as stored (compressed size for ``.gz`` files)."""
MAX_DECOMPRESSED_BYTES_ENV = "XLFACTOR_MAX_DECOMPRESSED_BYTES"
"""Largest decompressed size of one ``.gz`` source file."""

DEFAULT_DEADLINE_SECONDS = 600.0
DEFAULT_MAX_FILE_BYTES = 512 * 1024**2
DEFAULT_MAX_DECOMPRESSED_BYTES = 512 * 1024**2


@dataclass(frozen=True)
class SourceLimits:
    """Deadline and size caps applied to every source file.

    Attributes
    ----------
    deadline_seconds : float
        Total wall-clock seconds allowed for one file's download, not per read: a source
        that trickles bytes is cut at the deadline.
    max_file_bytes : int
        Largest size of one file as stored or sent.
    max_decompressed_bytes : int
        Largest decompressed size of one gzip file (a gzip bomb stops here).
    until : float or None
        A :func:`time.monotonic` instant every request under these limits must finish by
        (set by :meth:`started`); ``None``: each download gets ``deadline_seconds`` from its start.
    """

    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    until: float | None = field(default=None, compare=False)

    def started(self) -> SourceLimits:
        """These limits with ONE deadline, ``deadline_seconds`` from now (kept if one is already running).

        Carry the result through a whole operation (a snapshot download: every file, every
        request, the lock wait) so that together they stop at the deadline.
        """
        return self if self.until is not None else replace(self, until=time.monotonic() + self.deadline_seconds)

    def remaining(self) -> float:
        """Seconds left before the deadline (``deadline_seconds`` when none is running; may be <= 0)."""
        return self.deadline_seconds if self.until is None else self.until - time.monotonic()

    def __post_init__(self) -> None:
        if not (self.deadline_seconds > 0 and self.deadline_seconds < float("inf")):
            raise XlfactorError(f"download deadline must be a positive number of seconds, not {self.deadline_seconds!r}")
        for name in ("max_file_bytes", "max_decompressed_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise XlfactorError(f"{name} must be a positive whole number of bytes, not {value!r}")

    @classmethod
    def from_env(
        cls,
        deadline_seconds: float | None = None,
        max_file_bytes: int | None = None,
        max_decompressed_bytes: int | None = None,
    ) -> SourceLimits:
        """The limits from the arguments, else the environment variables, else the defaults.

        Raises
        ------
        XlfactorError
            If an environment variable is not a positive number (names the variable).
        """
        limits = cls(
            deadline_seconds=_env_number(DEADLINE_ENV, DEFAULT_DEADLINE_SECONDS, float),
            max_file_bytes=_env_number(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES, int),
            max_decompressed_bytes=_env_number(MAX_DECOMPRESSED_BYTES_ENV, DEFAULT_MAX_DECOMPRESSED_BYTES, int),
        )
        given = {
            "deadline_seconds": deadline_seconds,
            "max_file_bytes": max_file_bytes,
            "max_decompressed_bytes": max_decompressed_bytes,
        }
        return replace(limits, **{k: v for k, v in given.items() if v is not None})


def _env_number(name: str, default: float, kind: type) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(float(text)) if kind is int else kind(text)
    except (ValueError, OverflowError):
        raise XlfactorError(f"{name}={text!r} is not a positive number") from None
    if not value > 0 or value == float("inf"):
        raise XlfactorError(f"{name}={text!r} is not a positive number")
    return value


class DecompressedTooLarge(ValueError):
    """A gzip stream inflates past its cap (``cap`` bytes)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        super().__init__(f"decompresses to more than the {format_bytes(cap)} cap (a gzip bomb?)")


class GzipSizeMeter:
    """Count the decompressed size of a gzip stream fed in blocks, without keeping the output.

    Memory stays at one block of output whatever the ratio; multi-member streams are
    followed. :meth:`feed` raises :class:`DecompressedTooLarge` as soon as the count
    passes ``cap`` and ``zlib.error`` for data that is not gzip.
    """

    BLOCK = 1 << 20

    def __init__(self, cap: int) -> None:
        import zlib

        self._zlib = zlib
        self.cap = cap
        self.size = 0
        self._stream = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> None:
        """Decompress ``data`` and count its output."""
        pending = data
        while pending:
            out = self._stream.decompress(pending, self.BLOCK)
            self._count(out)
            if self._stream.eof:
                pending = self._stream.unused_data.lstrip(b"\0")
                self._stream = self._zlib.decompressobj(16 + self._zlib.MAX_WBITS)
            else:
                pending = self._stream.unconsumed_tail
                if not pending:  # output held back by max_length: drain it
                    while True:
                        out = self._stream.decompress(b"", self.BLOCK)
                        if not out:
                            break
                        self._count(out)

    def finish(self) -> None:
        """Count what the stream still holds (a cut stream is left to the reader to refuse)."""
        self._count(self._stream.flush())

    def _count(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.cap:
            raise DecompressedTooLarge(self.cap)


def gunzip_within(data: bytes, cap: int) -> bytes:
    """Decompress gzip ``data``, refusing output larger than ``cap`` bytes.

    Raises
    ------
    DecompressedTooLarge
        When the output passes ``cap`` (memory stays at about ``cap``).
    OSError, EOFError, zlib.error
        For data that is not complete gzip.
    """
    import gzip
    import io

    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        out = stream.read(cap + 1)
    if len(out) > cap:
        raise DecompressedTooLarge(cap)
    return out


def format_bytes(count: float) -> str:
    """``536870912`` -> ``'512 MiB'`` (binary units, at most one decimal)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            text = f"{count:.1f}".rstrip("0").rstrip(".") if unit != "bytes" else f"{int(count)}"
            return f"{text} {unit}"
        count /= 1024
    return f"{count} GiB"
