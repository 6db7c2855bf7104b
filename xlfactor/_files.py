"""Atomic writes: files (a temp file in the target's folder, flushed, then renamed over it) and folders.

Files and folders get the permissions a plain ``open()`` / ``mkdir()`` would give them
(``0666`` / ``0777`` minus the umask, so 0644 / 0755 under the usual umask 022) -- not the
owner-only modes of :mod:`tempfile` -- so colleagues on a shared drive can read them.
Errors name the user's path, never the temp file.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO

from xlfactor.errors import FileWriteError, XlfactorError

_NAME_TRIES = 100


def current_umask() -> int:
    """The process umask, read without changing it (safe beside other threads).

    From ``/proc/self/status`` where the kernel shows it (Linux); elsewhere from the mode
    the kernel gives a probe file created with ``0o666`` in the temp folder.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    import tempfile

    descriptor, probe = _temp_file(Path(tempfile.gettempdir()), "umask-probe")
    try:
        return 0o777 & ~os.fstat(descriptor).st_mode & 0o666
    finally:
        os.close(descriptor)
        probe.unlink(missing_ok=True)


def default_file_mode() -> int:
    """Mode of a new file: ``0o666`` minus the umask."""
    return 0o666 & ~current_umask()


def default_folder_mode() -> int:
    """Mode of a new folder: ``0o777`` minus the umask."""
    return 0o777 & ~current_umask()


def _fresh_name(parent: Path, prefix: str, suffix: str = "") -> Path:
    return parent / f"{prefix}{secrets.token_hex(6)}{suffix}"


def make_temp_folder(parent: str | os.PathLike[str], prefix: str, target: str | os.PathLike[str] | None = None) -> Path:
    """A fresh staging folder in ``parent`` with normal permissions (see the module docstring).

    Created with ``os.mkdir(path, 0o777)``: the kernel applies the umask, so no process-wide
    state is read or changed (safe beside server and Dask threads). ``target`` is the path
    errors name (default: ``parent``).
    """
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_NAME_TRIES):
            staging = _fresh_name(parent, prefix)
            try:
                os.mkdir(staging, 0o777)
            except FileExistsError:
                continue
            return staging
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(parent))
    except OSError as exc:
        raise write_error(target if target is not None else parent, exc) from None


def _temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """``(descriptor, path)`` of a new file opened with ``os.open(..., 0o666)`` (mode = the umask's)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_NAME_TRIES):
        path = _fresh_name(folder, f".{name}.", ".tmp")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def write_error(target: str | os.PathLike[str], exc: OSError) -> FileWriteError:
    """A :class:`FileWriteError` naming ``target`` for an ``OSError`` raised while writing it."""
    if isinstance(exc, FileWriteError):
        return exc
    code = exc.errno
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]  # OSError(errno.ENOSPC) raised without a message
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied" if code != errno.EROFS else "read-only file system"
    elif code == errno.ENOSPC:
        reason = "no space left on the device"
    elif code in (errno.EISDIR,):
        reason = "is a folder"
    elif code in (errno.ENOTDIR, errno.ENOENT):
        reason = "its folder does not exist or is a file"
    else:
        reason = exc.strerror or str(exc)
    return FileWriteError(target, reason)


def atomic_write(target: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a temp file next to ``target``, then rename it into place.

    A crash before the rename leaves ``target`` as it was (old content or absent), and so
    does a failed write (a full disk: the error names ``target``). The temp file is opened
    with ``os.open(..., 0o666)``, so the kernel gives it ``0666`` minus the umask (a file it
    replaces keeps its own mode); the umask is never read or changed. A ``target`` that is
    a symbolic link is written through: its target file is replaced, the link stays.

    Raises
    ------
    FileWriteError
        If ``target`` is a folder or cannot be written (names ``target``, not the temp file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = atomic_write(pathlib.Path(tempfile.mkdtemp()) / "a.txt", lambda f: f.write(b"hi"))
    >>> path.read_text()
    'hi'
    """
    target = Path(target)
    if target.is_symlink():
        target = target.resolve()  # write the file the link points to; the link stays a link
    if target.is_dir():
        raise FileWriteError(target, "is a folder")
    try:
        keep_mode = target.stat().st_mode & 0o7777 if target.is_file() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = _temp_file(target.parent, target.name)
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            if keep_mode is not None:
                os.chmod(temp, keep_mode)
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        temp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, XlfactorError):
            raise write_error(target, exc) from None
        raise
    return target


def written_path(path: str | os.PathLike[str]) -> Path:
    """The path a write to ``path`` goes to: a symbolic link's target (the link stays), else ``path``."""
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


def replace_folder(staging: str | os.PathLike[str], folder: str | os.PathLike[str]) -> Path:
    """Move a complete ``staging`` folder to ``folder``, replacing any old one.

    ``staging`` must be a sibling of ``folder`` (same file system; for a ``folder`` that
    is a symbolic link, a sibling of its target: the target is replaced, the link stays).
    An old ``folder`` is renamed aside first, under a fresh hidden name in the same
    parent (never one a crashed run may have left), and deleted only after the new one is
    in place, so readers see the old or the new folder, never a half-written one. If the
    new folder cannot be moved in, the old one is renamed back before the error is raised.

    Returns
    -------
    Path
        ``folder`` (the link, when it is one).

    Raises
    ------
    OSError
        If a rename fails (``folder`` then holds what it held before).
    """
    staging, given = Path(staging), Path(folder)
    folder = written_path(given)
    if not folder.exists():
        os.replace(staging, folder)
        return given
    retired = _set_aside(folder)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(retired, folder)  # put the old folder back: never leave ``folder`` missing
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return given


def _set_aside(folder: Path) -> Path:
    """Rename ``folder`` to a fresh hidden sibling ``.<name>.old-<random>``; return that name."""
    for _ in range(_NAME_TRIES):
        retired = _fresh_name(folder.parent, f".{folder.name}.old-")
        if retired.exists():
            continue
        try:
            os.rename(folder, retired)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue  # taken between the check and the rename
            raise
        return retired
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder.parent))
