"""The packed snapshot file (``.npz``): one compact file per snapshot, read like any other source.

The embedded default snapshot ``xlfactor-demo`` ships in this form (:data:`DEMO_FILE`);
:mod:`xlfactor.snapshot.sources` reads it with :func:`read_packed`, and the demo
generator (``python -m xlfactor.demo``) writes it with :func:`write_packed`. The format
rounds what a data vendor rounds, so the file stays a few MB:

* exposures in int16 thousandths (NaN stored as -32768), the exposure panel as
  day-to-day differences of those codes;
* daily returns (factor, residual, index) as float32;
* the covariance, idiosyncratic risk, caps and quality report at full precision;
* company names (``Snapshot.names``) when the snapshot has them;
* raw (pre-standardization) exposures only for the factors named when writing;
  sector and industry raw values are the memberships;
* index closes are not stored: they are rebuilt from the index returns, rebased to 100;
* the factor returns may cover a longer history than the residual and index returns
  (``residual_dates``); the scenario library travels in the header.

``read_packed(pack(snapshot))`` is exact for a snapshot already rounded this way, so
:func:`round_trip` is the rounding itself.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from xlfactor._files import atomic_write
from xlfactor._json import to_plain
from xlfactor.errors import SnapshotError
from xlfactor.snapshot.snapshot import ExposurePanel, Snapshot

DEMO_FILE = Path(__file__).resolve().parents[1] / "demo" / "data" / "xlfactor-demo.npz"
"""The shipped packed file of the embedded simulated market (written by ``python -m xlfactor.demo``)."""

EXPOSURE_SCALE = 1000
"""Exposures are stored as integer multiples of 1/EXPOSURE_SCALE."""

_NAN_CODE = -32768
_RETURNS = ("factor_returns", "residual_returns", "index_returns")


_OPTIONAL = {"factor_covariance_daily": "factor_covariance_1d", "idiosyncratic_risk_daily": "idiosyncratic_risk_1d"}
"""The one-day forecast, when the model states it: the file's array name -> the Snapshot field."""


def pack(snapshot: Snapshot, raw_factors: Sequence[str] = ()) -> bytes:
    """The packed file's bytes for ``snapshot`` (see the module docstring for the rounding).

    Parameters
    ----------
    snapshot : Snapshot
        Must have an exposure panel and index returns.
    raw_factors : sequence of str
        Factors whose raw exposures are kept (others are NaN when read back).
    """
    if snapshot.exposure_panel is None or snapshot.index_returns is None:
        raise SnapshotError("packed snapshot", "needs an exposure panel and index returns")
    names = list(snapshot.factor_names)
    unknown = [f for f in raw_factors if f not in names]
    if unknown:
        raise SnapshotError("packed snapshot", f"raw_factors not in the model: {', '.join(unknown)}")
    raw_columns = [names.index(f) for f in raw_factors]
    codes = _codes(np.asarray(snapshot.exposure_panel.values))
    codes[1:] = np.diff(codes, axis=0)
    header = {
        "metadata": snapshot.metadata,
        "quality": snapshot.quality,
        "diagnostics": snapshot.diagnostics,
        "indexes": None if snapshot.indexes is None else {
            "columns": list(snapshot.indexes.columns), "rows": snapshot.indexes.to_numpy(dtype=object).tolist()
        },
        "raw_factors": list(raw_factors),
        "scenarios": None if snapshot.scenarios is None else snapshot.scenarios.astype(str).to_dict(orient="list"),
    }
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        header=np.asarray(json.dumps(header, sort_keys=True, default=to_plain)),
        tickers=snapshot.tickers,
        factor_names=snapshot.factor_names,
        factor_groups=snapshot.factor_groups,
        exposures=_codes(np.asarray(snapshot.exposures)),
        raw_exposures=np.asarray(snapshot.raw_exposures)[:, raw_columns],
        market_cap=snapshot.market_cap,
        factor_covariance=snapshot.factor_covariance,
        idiosyncratic_risk=snapshot.idiosyncratic_risk,
        idiosyncratic_observations=snapshot.idiosyncratic_observations,
        return_dates=snapshot.factor_returns.index.to_numpy(dtype=str),
        factor_returns=snapshot.factor_returns.to_numpy(dtype=np.float32),
        residual_returns=snapshot.residual_returns.to_numpy(dtype=np.float32),
        residual_dates=snapshot.residual_returns.index.to_numpy(dtype=str),
        panel_dates=snapshot.exposure_panel.dates,
        panel_deltas=codes,
        index_tickers=snapshot.index_returns.columns.to_numpy(dtype=str),
        index_returns=snapshot.index_returns.to_numpy(dtype=np.float32),
        **({} if snapshot.names is None else {"names": np.asarray(snapshot.names, dtype=str)}),
        **{key: np.asarray(getattr(snapshot, name)) for key, name in _OPTIONAL.items() if getattr(snapshot, name) is not None},
    )
    return buffer.getvalue()


def write_packed(snapshot: Snapshot, path: str | Path, raw_factors: Sequence[str] = ()) -> Path:
    """Write ``snapshot`` as a packed file at ``path`` (atomically)."""
    data = pack(snapshot, raw_factors)
    return atomic_write(path, lambda handle: handle.write(data))


def read_packed(source: str | Path | bytes) -> Snapshot:
    """Decode a packed file (a path or its bytes) into a :class:`Snapshot`.

    Raises
    ------
    SnapshotError
        If the file is missing, truncated or not a packed snapshot.
    """
    name = "packed snapshot" if isinstance(source, bytes) else str(source)
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        with np.load(handle, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        header = json.loads(str(arrays.pop("header")))
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise SnapshotError(name, f"not a readable packed snapshot ({exc})") from None
    try:
        return _snapshot(arrays, header)
    except (KeyError, ValueError) as exc:
        raise SnapshotError(name, f"incomplete packed snapshot ({exc})") from None


def round_trip(snapshot: Snapshot, raw_factors: Sequence[str] = ()) -> Snapshot:
    """``snapshot`` with the packed file's rounding applied (what reading its file gives)."""
    return read_packed(pack(snapshot, raw_factors))


def _codes(values: np.ndarray) -> np.ndarray:
    return np.rint(np.nan_to_num(values, nan=_NAN_CODE / EXPOSURE_SCALE) * EXPOSURE_SCALE).astype(np.int16)


def _values(codes: np.ndarray) -> np.ndarray:
    return np.where(codes == _NAN_CODE, np.nan, codes / EXPOSURE_SCALE)


def _snapshot(arrays: dict[str, np.ndarray], header: dict) -> Snapshot:
    tickers = arrays["tickers"].astype(str)
    factor_names = arrays["factor_names"].astype(str)
    groups = arrays["factor_groups"].astype(str)
    exposures = _values(arrays["exposures"])
    raw = np.where(np.isin(groups, ("sector", "industry")), exposures, np.nan)
    names = list(factor_names)
    for j, factor in enumerate(header["raw_factors"]):
        raw[:, names.index(factor)] = arrays["raw_exposures"][:, j]
    panel = _values(np.cumsum(arrays["panel_deltas"], axis=0, dtype=np.int16))
    dates = pd.Index(arrays["return_dates"].astype(str).astype(object), name="date")
    residual_dates = dates if "residual_dates" not in arrays else pd.Index(arrays["residual_dates"].astype(str).astype(object), name="date")
    index_returns = pd.DataFrame(
        arrays["index_returns"].astype(np.float64), index=residual_dates.copy(), columns=arrays["index_tickers"].astype(str).astype(object)
    )
    indexes = header.get("indexes")
    return Snapshot(
        metadata=dict(header["metadata"]),
        tickers=tickers,
        factor_names=factor_names,
        factor_groups=groups,
        exposures=exposures,
        raw_exposures=raw,
        market_cap=arrays["market_cap"],
        factor_covariance=arrays["factor_covariance"],
        idiosyncratic_risk=arrays["idiosyncratic_risk"],
        idiosyncratic_observations=arrays["idiosyncratic_observations"],
        factor_returns=pd.DataFrame(
            arrays["factor_returns"].astype(np.float64), index=dates, columns=factor_names.astype(object)
        ),
        residual_returns=pd.DataFrame(
            arrays["residual_returns"].astype(np.float64), index=residual_dates.copy(), columns=tickers.astype(object)
        ),
        exposure_panel=ExposurePanel(dates=arrays["panel_dates"].astype(str), values=panel),
        indexes=None if indexes is None else pd.DataFrame(indexes["rows"], columns=indexes["columns"]),
        index_returns=index_returns,
        index_prices=_index_prices(index_returns),
        diagnostics=dict(header["diagnostics"]),
        quality=header["quality"],
        names=arrays["names"].astype(str) if "names" in arrays else None,
        scenarios=None if header.get("scenarios") is None else pd.DataFrame(header["scenarios"], columns=["name", "start", "end", "description"]),
        **{name: arrays[key] for key, name in _OPTIONAL.items() if key in arrays},
    )


def _index_prices(index_returns: pd.DataFrame) -> pd.DataFrame:
    closes = 100.0 * (1.0 + index_returns.fillna(0.0)).cumprod()
    long = closes.stack(future_stack=True).rename("close").reset_index()
    long.columns = ["date", "ticker", "close"]
    return long
