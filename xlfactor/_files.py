"""Atomic writes: files (a temp file in the target's folder, flushed, then renamed over it) and folders.

Files and folders get the permissions a plain ``open()`` / ``mkdir()`` would give them
(``0666`` / ``0777`` minus the umask, so 0644 / 0755 under the usual umask 022) -- not the
owner-only modes of :mod:`tempfile` -- so colleagues on a shared drive can read them.
Errors name the user's path, never the temp file.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from xlfactor.errors import FileWriteError, XlfactorError

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def default_file_mode() -> int:
    """Mode of a new file: ``0o666`` minus the umask."""
    return 0o666 & ~current_umask()


def default_folder_mode() -> int:
    """Mode of a new folder: ``0o777`` minus the umask."""
    return 0o777 & ~current_umask()


def make_temp_folder(parent: str | os.PathLike[str], prefix: str, target: str | os.PathLike[str] | None = None) -> Path:
    """A fresh staging folder in ``parent`` with normal permissions (see the module docstring).

    ``target`` is the path errors name (default: ``parent``).
    """
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        os.chmod(staging, default_folder_mode())
    except OSError as exc:
        raise write_error(target if target is not None else parent, exc) from None
    return staging


def write_error(target: str | os.PathLike[str], exc: OSError) -> FileWriteError:
    """A :class:`FileWriteError` naming ``target`` for an ``OSError`` raised while writing it."""
    if isinstance(exc, FileWriteError):
        return exc
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied" if exc.errno != errno.EROFS else "read-only file system"
    elif exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno in (errno.EISDIR,):
        reason = "is a folder"
    elif exc.errno in (errno.ENOTDIR, errno.ENOENT):
        reason = "its folder does not exist or is a file"
    else:
        reason = exc.strerror or str(exc)
    return FileWriteError(target, reason)


def atomic_write(target: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a temp file next to ``target``, then rename it into place.

    A crash before the rename leaves ``target`` as it was (old content or absent). The
    file gets ``0666`` minus the umask (or keeps the mode of the file it replaces).

    Raises
    ------
    FileWriteError
        If ``target`` is a folder or cannot be written (names ``target``, not the temp file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = atomic_write(pathlib.Path(tempfile.mkdtemp()) / "a.txt", lambda f: f.write(b"hi"))
    >>> path.read_text(), oct(path.stat().st_mode & 0o777) == oct(default_file_mode())
    ('hi', True)
    """
    target = Path(target)
    if target.is_dir():
        raise FileWriteError(target, "is a folder")
    try:
        mode = target.stat().st_mode & 0o7777 if target.is_file() else default_file_mode()
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fchmod(handle.fileno(), mode) if hasattr(os, "fchmod") else None
            os.fsync(handle.fileno())
        if not hasattr(os, "fchmod"):
            os.chmod(handle.name, mode)
        os.replace(handle.name, target)
    except BaseException as exc:
        Path(handle.name).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, XlfactorError):
            raise write_error(target, exc) from None
        raise
    return target


def replace_folder(staging: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """Move a complete ``staging`` folder to ``folder``, replacing any old one.

    ``staging`` must be a sibling of ``folder`` (same file system). An old ``folder`` is
    renamed aside first and deleted only after the new one is in place, so readers
    see the old or the new folder, never a half-written one.

    Returns
    -------
    Path
        ``folder``.
    """
    staging, folder = Path(staging), Path(folder)
    if folder.exists():
        retired = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, retired)
        os.replace(staging, folder)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, folder)
    return folder
