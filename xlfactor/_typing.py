"""Array aliases used in signatures (numpy only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]
IntArray = npt.NDArray[np.int64]
