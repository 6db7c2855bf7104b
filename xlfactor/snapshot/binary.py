"""The fast binary form of a snapshot: one uncompressed ``.npz`` plus the panel as ``.npy``.

Written once per snapshot into the local cache after the CSVs were validated, so a
repeat load skips CSV parsing and validation. The exposure panel is memory-mapped and
read only when attribution needs it.

A ``checksums.json`` written last records the sha256 of each binary file and a digest of
the source files the copy was made from; :func:`binary_problem` checks both before the
copy is trusted, so an edited, truncated or stale copy is rebuilt, never used.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._json import to_plain
from xlfactor._files import atomic_write
from xlfactor.snapshot.manifest import file_digest
from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot

FORMAT_VERSION = 4  # 4: the one-day forecast arrays are named *_1d
CHECKSUMS = "checksums.json"
"""Written last: ``{"format_version", "sources": digest, "files": {name: sha256}}``."""
_ARRAYS = (
    "tickers",
    "factor_names",
    "factor_groups",
    "exposures",
    "raw_exposures",
    "market_cap",
    "factor_covariance",
    "idiosyncratic_risk",
    "idiosyncratic_observations",
)
_OPTIONAL_ARRAYS = ("factor_covariance_1d", "idiosyncratic_risk_1d")  # the one-day forecast, when the model states it
_FRAMES = ("factor_returns", "residual_returns", "index_returns")
_TABLES = ("indexes", "index_prices", "scenarios")


def save_binary(snapshot: Snapshot, path: Path, sources: str = "") -> None:
    """Write ``snapshot`` to ``path`` (a folder) atomically: temp files, then renames.

    ``sources`` is the digest of the files the snapshot was read from; it and the
    binary files' own sha256 go into ``checksums.json``, written last.
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / CHECKSUMS).unlink(missing_ok=True)
    arrays: dict[str, np.ndarray] = {name: np.asarray(getattr(snapshot, name)) for name in _ARRAYS}
    arrays.update({name: np.asarray(getattr(snapshot, name)) for name in _OPTIONAL_ARRAYS if getattr(snapshot, name) is not None})
    header = {
        "format_version": FORMAT_VERSION,
        "metadata": snapshot.metadata,
        "diagnostics": snapshot.diagnostics,
        "quality": snapshot.quality,
        "frames": [],
        "tables": {},
    }
    for name in _FRAMES:
        frame = getattr(snapshot, name)
        if frame is None:
            continue
        header["frames"].append(name)
        arrays[f"{name}.values"] = frame.to_numpy(dtype=float)
        arrays[f"{name}.index"] = frame.index.to_numpy(dtype=str)
        arrays[f"{name}.columns"] = frame.columns.to_numpy(dtype=str)
    for name in _TABLES:
        table = getattr(snapshot, name)
        if table is not None:
            header["tables"][name] = table.to_json(orient="split", index=False, double_precision=15)
    if snapshot.exposure_panel is not None:
        arrays["panel.dates"] = snapshot.exposure_panel.dates.astype(str)
        atomic_write(path / "panel.npy", lambda f: np.save(f, np.asarray(snapshot.exposure_panel.values)))
    elif (path / "panel.npy").exists():
        (path / "panel.npy").unlink()
    if snapshot.names is not None:
        arrays["names"] = np.asarray(snapshot.names, dtype=str)
    arrays["header"] = np.asarray(json.dumps(header, default=to_plain))
    atomic_write(path / "snapshot.npz", lambda f: np.savez(f, **arrays))
    files = {name: file_digest(path / name) for name in ("snapshot.npz", "panel.npy") if (path / name).is_file()}
    record = {"format_version": FORMAT_VERSION, "sources": sources, "files": files}
    atomic_write(path / CHECKSUMS, lambda f: f.write(json.dumps(record, indent=1).encode()))


def binary_problem(path: Path, sources: str) -> str | None:
    """None if the binary copy in ``path`` can be trusted for sources with digest ``sources``, else why not.

    Checks ``checksums.json`` (present, same format version, same source digest) and
    the sha256 of each binary file it lists; a file present but not listed is a problem too.
    """
    try:
        record = json.loads((path / CHECKSUMS).read_text(encoding="utf-8"))
        files = dict(record["files"])
        version, recorded = record["format_version"], record["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"has no readable {CHECKSUMS}"
    if version != FORMAT_VERSION:
        return "is of another format version"
    if recorded != sources:
        return "was made from other source files"
    for name in ("snapshot.npz", "panel.npy"):
        present = (path / name).is_file()
        if name not in files:
            if present:
                return f"has a {name} its {CHECKSUMS} does not list"
            continue
        if not present:
            return f"lacks {name}"
        if file_digest(path / name) != files[name]:
            return f"{name} does not match its checksum"
    if "snapshot.npz" not in files:
        return "lacks snapshot.npz"
    return None


def load_binary(path: Path) -> Snapshot:
    """Read a snapshot written by :func:`save_binary`."""
    with np.load(path / "snapshot.npz", allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        if header.get("format_version") != FORMAT_VERSION:
            raise ValueError("binary snapshot format version mismatch")
        fields = {name: data[name] for name in _ARRAYS}
        fields.update({name: data[name] for name in _OPTIONAL_ARRAYS if name in data.files})
        for name in header["frames"]:
            fields[name] = pd.DataFrame(
                data[f"{name}.values"],
                index=pd.Index(data[f"{name}.index"].astype(object), name="date"),
                columns=data[f"{name}.columns"].astype(object),
            )
        panel_dates = data["panel.dates"] if "panel.dates" in data.files else None
        if "names" in data.files:
            fields["names"] = data["names"].astype(str)
    for name, text in header["tables"].items():
        fields[name] = pd.read_json(io.StringIO(text), orient="split", dtype=name != "scenarios")
    if panel_dates is not None:
        values = np.load(path / "panel.npy", mmap_mode="r")
        fields["exposure_panel"] = ExposurePanel(dates=panel_dates, values=values)
    return Snapshot(
        metadata=header["metadata"], diagnostics=header["diagnostics"], quality=header.get("quality"), **fields
    )
