"""Atomic writes: files (a temp file in the target's folder, flushed, then renamed over it) and folders."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(target: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a temp file next to ``target``, then rename it into place.

    A crash before the rename leaves ``target`` as it was (old content or absent).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
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
