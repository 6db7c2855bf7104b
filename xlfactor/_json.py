"""JSON encoding of numpy values (one ``default=`` for every JSON file xlfactor writes)."""

from __future__ import annotations

import numpy as np


def to_plain(value: object) -> object:
    """``json.dumps(default=to_plain)``: numpy scalars and arrays to Python, anything else to text."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
