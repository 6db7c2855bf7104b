"""Snapshot layer: the Snapshot type, reading/writing the OpenFactor layout, sources and cache."""

from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot
from xlfactor.snapshot.reader import read_snapshot_folder
from xlfactor.snapshot.sources import DEMO_NAME, cache_dir, clear_loaded, load_snapshot
from xlfactor.snapshot.writer import write_snapshot

__all__ = [
    "DEMO_NAME",
    "ExposurePanel",
    "Snapshot",
    "cache_dir",
    "clear_loaded",
    "load_snapshot",
    "read_snapshot_folder",
    "write_snapshot",
]
