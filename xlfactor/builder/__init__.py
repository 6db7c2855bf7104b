"""Model builder: market data in, a calibrated snapshot out (no look-ahead).

Pipeline: :mod:`inputs` (validated panels) -> :mod:`descriptors` (raw style descriptors,
known at each close) -> :mod:`standardize` (MAD winsorization, cap-weighted mean,
equal-weighted std) -> :mod:`regression` (daily constrained WLS, batched) ->
:mod:`covariance` and :mod:`idiosyncratic_risk` (USE4-style estimation) -> :mod:`quality`
(fit statistics and out-of-sample bias statistics) -> :mod:`builder` (the snapshot).
"""

from xlfactor.builder.builder import BuildOptions, build_snapshot, build_model

__all__ = ["BuildOptions", "build_model", "build_snapshot"]
