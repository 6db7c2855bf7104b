"""Snapshot layer: the Snapshot type, reading/writing the OpenFactor layout, sources and cache."""

from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot
from xlfactor.snapshot.limits import SourceLimits
from xlfactor.snapshot.reader import read_snapshot_folder
from xlfactor.snapshot.remote import PUBLIC_BASE_URL, read_url, resolve_public_url, url_filesystem
from xlfactor.snapshot.sources import (
    DEMO_NAME,
    cache_dir,
    cache_path,
    clear_loaded,
    load_snapshot,
    named_snapshot_url,
    public_snapshot_url,
)
from xlfactor.snapshot.writer import write_snapshot

__all__ = [
    "DEMO_NAME",
    "PUBLIC_BASE_URL",
    "ExposurePanel",
    "Snapshot",
    "SourceLimits",
    "cache_dir",
    "cache_path",
    "clear_loaded",
    "load_snapshot",
    "named_snapshot_url",
    "public_snapshot_url",
    "read_snapshot_folder",
    "read_url",
    "resolve_public_url",
    "url_filesystem",
    "write_snapshot",
]
