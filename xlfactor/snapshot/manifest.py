"""Checksum manifests of snapshot folders: ``manifest.json`` with each layout file's size and sha256.

Written last by every writer (:func:`write_manifest`), checked by the reader
(:func:`verify_manifest`) so a corrupt or partial folder is refused, never half-read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from xlfactor.errors import SnapshotError
from xlfactor.snapshot import layout
from xlfactor.snapshot.validation import relative_name


def file_digest(path: Path) -> str:
    """sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """Record size and sha256 of every layout file present in ``folder`` (written last)."""
    entries = {}
    for name in layout.ALL_FILES:
        path = folder / name
        if path.is_file():
            entries[name] = {"bytes": path.stat().st_size, "sha256": file_digest(path)}
    (folder / layout.MANIFEST).write_text(json.dumps({"files": entries}, indent=2, sort_keys=True) + "\n")


def verify_manifest(folder: Path) -> str | None:
    """Return None if ``folder``'s manifest matches its files, else the first problem."""
    manifest_path = folder / layout.MANIFEST
    if not manifest_path.is_file():
        return "no manifest"
    try:
        entries = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return "unreadable manifest"
    if not isinstance(entries, dict):
        return "unreadable manifest"
    for name, entry in entries.items():
        try:
            relative_name(name, layout.MANIFEST, "file name")
        except SnapshotError:
            return f"unsafe file name {name!r} (not a plain relative name)"
        path = folder / name
        if not path.is_file():
            return f"{name} missing"
        if not isinstance(entry, dict) or path.stat().st_size != entry.get("bytes") or file_digest(path) != entry.get("sha256"):
            return f"{name} does not match its checksum"
    return None
