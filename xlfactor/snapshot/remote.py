"""Reading URLs through fsspec: one code path for http(s), file, memory, s3, gs and az.

Every byte from a URL comes through :func:`download_url` (or :func:`read_url`), which
applies the :class:`~xlfactor.snapshot.limits.SourceLimits`: a total deadline (not per read;
one deadline for a whole snapshot when the limits are :meth:`~SourceLimits.started`), a size
cap, and for ``.gz`` files a cap on the decompressed size. HTTP redirects are never followed
(a 3xx answer is an error naming the URL), so an allow-listed host cannot send a request on
to another host; responses are asked for uncompressed (``Accept-Encoding: identity``). The
cloud schemes need their fsspec package (``s3fs``, ``gcsfs``, ``adlfs``), which stays
optional: without it the error says in one line what to install.

OpenFactor's public bucket is named ``r2://openfactor-public/<key>``; like OpenFactor,
such names are read through the bucket's public https address (:data:`PUBLIC_BASE_URL`,
or ``$XLFACTOR_OPENFACTOR_URL`` for a mirror), without credentials.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import IO, Any

from xlfactor.errors import DownloadError
from xlfactor.snapshot.limits import DecompressedTooLarge, GzipSizeMeter, SourceLimits, format_bytes

logger = logging.getLogger(__name__)

PUBLIC_BASE_URL = "https://openfactor-data.rallies.ai"
"""OpenFactor's public bucket, as its own loader reads it."""
PUBLIC_BUCKET = "openfactor-public"
"""The bucket name OpenFactor gives that public address (``r2://openfactor-public/...``)."""
BASE_URL_ENV = "XLFACTOR_OPENFACTOR_URL"
"""Overrides :data:`PUBLIC_BASE_URL` (a mirror, or a local server in tests)."""

EXTRA_PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "adl": "adlfs",
}
"""URL scheme -> the optional package fsspec needs for it."""

URL_SCHEMES = frozenset({"http", "https", "file", "memory", "r2", *EXTRA_PACKAGES})
"""Schemes read as URLs; anything else (``C:\\...`` included) is a local path."""

_BLOCK = 1 << 20

Progress = Callable[[str, int, "int | None"], None]


def public_base_url() -> str:
    """OpenFactor's public https address (``$XLFACTOR_OPENFACTOR_URL`` overrides it)."""
    import os

    return (os.environ.get(BASE_URL_ENV) or PUBLIC_BASE_URL).rstrip("/")


def is_url(text: str) -> bool:
    """True for a text xlfactor reads as a URL (a known scheme followed by ``://``)."""
    scheme, sep, _ = str(text).partition("://")
    return bool(sep) and scheme.lower() in URL_SCHEMES


def resolve_public_url(url: str) -> str:
    """The URL to read for ``url``: ``r2://openfactor-public/<key>`` becomes the public https URL.

    Other URLs come back unchanged.

    Examples
    --------
    >>> resolve_public_url("r2://openfactor-public/semantic_factors.csv")
    'https://openfactor-data.rallies.ai/semantic_factors.csv'
    >>> resolve_public_url("https://example.org/a.csv")
    'https://example.org/a.csv'

    Raises
    ------
    DownloadError
        For an ``r2://`` name of another bucket (it needs credentials xlfactor does not handle).
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() != "r2":
        return text
    bucket, _, key = rest.partition("/")
    if bucket != PUBLIC_BUCKET or not key.strip("/"):
        raise DownloadError(
            text,
            f"only r2://{PUBLIC_BUCKET}/<key> can be read without credentials; "
            "use the bucket's https address, or s3:// with its endpoint and keys",
        )
    return f"{public_base_url()}/{key.lstrip('/')}"


def display_url(url: str) -> str:
    """``url`` without credentials or query string, for messages and logs."""
    parts = urllib.parse.urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def url_filesystem(url: str, limits: SourceLimits | None = None) -> tuple[Any, str]:
    """The fsspec file system and path for ``url`` (after :func:`resolve_public_url`).

    http(s) file systems get the time left before the deadline as aiohttp's total timeout,
    ``allow_redirects=False`` on every request (HEAD and GET) and ``Accept-Encoding: identity``.

    Raises
    ------
    DownloadError
        For an unknown scheme, or a cloud scheme whose package is not installed
        (``pip install s3fs`` / ``gcsfs`` / ``adlfs``).
    """
    import fsspec

    limits = limits or SourceLimits.from_env()
    url = resolve_public_url(url)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    options: dict[str, Any] = {}
    if scheme in ("http", "https"):
        import aiohttp

        options["client_kwargs"] = {"timeout": aiohttp.ClientTimeout(total=max(limits.remaining(), 0.001))}
        options["allow_redirects"] = False  # passed by fsspec to the HEAD of info() and to every GET
        options["headers"] = {"Accept-Encoding": "identity"}
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError:
        package = EXTRA_PACKAGES.get(scheme, f"the fsspec package for {scheme}://")
        raise DownloadError(display_url(url), f"reading {scheme}:// URLs needs {package}: pip install {package}") from None
    except ValueError as exc:
        raise DownloadError(display_url(url), f"unsupported URL ({str(exc).splitlines()[0]})") from None


def read_url(url: str, *, limits: SourceLimits | None = None) -> bytes | None:
    """The bytes at ``url``, or None if it does not exist (HTTP 404, no such key or file).

    Any scheme of :data:`URL_SCHEMES`; ``r2://openfactor-public/...`` through its public
    address. Bounded by ``limits`` (default :meth:`SourceLimits.from_env`).

    Raises
    ------
    DownloadError
        One line naming the URL and the reason: unreachable, an HTTP error, the deadline
        or a size cap passed, a missing optional package.
    """
    chunks: list[bytes] = []

    class _Sink:
        def write(self, block: bytes) -> None:
            chunks.append(block)

    if not download_url(url, _Sink(), limits=limits):  # type: ignore[arg-type]
        return None
    return b"".join(chunks)


def download_url(
    url: str,
    sink: IO[bytes],
    *,
    limits: SourceLimits | None = None,
    name: str | None = None,
    expected_bytes: int | None = None,
    progress: Progress | None = None,
) -> bool:
    """Stream ``url`` into ``sink``; False if it does not exist.

    Parameters
    ----------
    url : str
        The URL to read (see :func:`read_url`).
    sink : binary file
        Receives the bytes, block by block.
    limits : SourceLimits, optional
        Deadline and caps (default :meth:`SourceLimits.from_env`).
    name : str, optional
        The file's name for ``progress`` and for the gzip check (``.gz`` names are
        measured decompressed); default: the URL's last path part.
    expected_bytes : int, optional
        A size announced by a manifest: more bytes than this are refused at once.
    progress : callable, optional
        Called as ``progress(name, bytes_done, bytes_total_or_None)``.

    Raises
    ------
    DownloadError
        See :func:`read_url`. Nothing is retried.
    """
    limits = (limits or SourceLimits.from_env()).started()
    shown = display_url(resolve_public_url(url))
    name = name or urllib.parse.urlsplit(shown).path.rsplit("/", 1)[-1]
    cap = limits.max_file_bytes if expected_bytes is None else min(limits.max_file_bytes, expected_bytes)
    fs, path = url_filesystem(url, limits)
    streaming = {"block_size": 0} if type(fs).__name__ == "HTTPFileSystem" else {}
    meter = GzipSizeMeter(limits.max_decompressed_bytes) if name.endswith(".gz") else None
    start = time.monotonic()
    done = 0
    try:
        _check_deadline(shown, start, limits, done)
        with fs.open(path, "rb", **streaming) as handle:
            status = getattr(getattr(handle, "r", None), "status", None)
            if isinstance(status, int) and 300 <= status < 400:
                raise DownloadError(shown, f"answered HTTP {status} (a redirect); redirects are not followed, name the final URL")
            total = _announced_size(handle)
            if total is not None and total > cap:
                raise DownloadError(shown, _too_large(total, cap, expected_bytes))
            while True:
                _check_deadline(shown, start, limits, done)
                block = handle.read(_BLOCK)
                if not block:
                    break
                done += len(block)
                if done > cap:
                    raise DownloadError(shown, _too_large(done, cap, expected_bytes, more=True))
                if meter is not None:
                    meter.feed(block)
                sink.write(block)
                if progress is not None:
                    progress(name, done, total)
            if meter is not None:
                meter.finish()
    except FileNotFoundError:
        return False
    except DownloadError:
        raise
    except DecompressedTooLarge as exc:
        raise DownloadError(shown, str(exc)) from None
    except Exception as exc:  # aiohttp, asyncio, zlib and the cloud clients raise their own types
        if limits.remaining() <= 0:
            raise DownloadError(shown, _deadline_text(limits, done)) from None
        raise DownloadError(shown, f"download failed ({failure_reason(exc)})") from None
    _check_deadline(shown, start, limits, done)
    if total is not None and done != total:
        raise DownloadError(shown, f"download incomplete ({done} of {total} bytes)")
    logger.debug("read %s: %d bytes in %.2f s", shown, done, time.monotonic() - start)
    return True


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed read: ``HTTP 503``, ``connection refused``, ..."""
    status = getattr(exc, "status", None) or getattr(exc, "code", None)
    if isinstance(status, int) and status >= 400:
        return f"HTTP {status}"
    import zlib

    if isinstance(exc, zlib.error):
        return "not valid gzip"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _announced_size(handle: Any) -> int | None:
    """The size the source announces, or None (unknown, or compressed in transit)."""
    size = getattr(handle, "size", None)
    if size is None:
        response = getattr(handle, "r", None)  # fsspec's streaming HTTP file keeps the aiohttp response
        get = getattr(getattr(response, "headers", None), "get", lambda _k, _d=None: None)
        length = get("Content-Length")
        if get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            return None  # aiohttp decompresses: Content-Length is the compressed size, not what is read
        size = int(length) if isinstance(length, str) and length.isdigit() else None
    return int(size) if isinstance(size, int) and size >= 0 else None


def _check_deadline(shown: str, start: float, limits: SourceLimits, done: int) -> None:
    if limits.remaining() <= 0:
        raise DownloadError(shown, _deadline_text(limits, done))


def _deadline_text(limits: SourceLimits, done: int) -> str:
    return (
        f"stopped at the {limits.deadline_seconds:g} s download deadline after {format_bytes(done)} "
        f"(raise it with deadline_seconds= or XLFACTOR_DOWNLOAD_DEADLINE)"
    )


def _too_large(size: int, cap: int, expected: int | None, more: bool = False) -> str:
    if expected is not None and cap == expected:
        return f"larger than the {expected} bytes its manifest.json announces"
    over = "more than " if more else ""
    return f"{over}{format_bytes(size)}, over the {format_bytes(cap)} size cap (raise it with XLFACTOR_MAX_FILE_BYTES)"
