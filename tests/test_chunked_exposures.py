"""Style exposures computed in chunks of dates equal the whole-history computation exactly.

The builder standardizes ``chunk_dates`` dates at a time and holds one raw descriptor at
a time (memory). The expected stacks come from the straightforward pipeline written out
here: every raw descriptor at once, each standardized over the whole history, mid cap
and the orthogonalizations on full panels, then stacked in style order.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlfactor.builder import descriptors as desc
from xlfactor.builder.builder import MIN_STYLE_COVERAGE, STYLE_ORDER, RowSubset, style_exposures
from xlfactor.builder.standardize import mid_cap, orthogonalize, standardize


def whole_history(data):
    """The unchunked reference: (names, standardized stack, raw stack, skipped)."""
    universe = np.isfinite(data.close) & (data.market_cap > 0) & (data.sector >= 0)
    raw = desc.raw_descriptors(data)
    members = np.maximum(universe.sum(axis=1), 1)
    scores, skipped = {}, {}
    for name, values in raw.items():
        s = standardize(values, data.market_cap, universe)
        covered = (np.isfinite(s) & universe).sum(axis=1) >= MIN_STYLE_COVERAGE * members
        s = np.where(covered[:, None], s, np.nan)
        if np.isfinite(s).any():
            scores[name] = s
        else:
            skipped[name] = "no usable values (too little history or inputs)"
    scores["mid_cap"] = raw["mid_cap"] = mid_cap(scores["size"], data.market_cap, universe)
    scores["residual_volatility"] = orthogonalize(scores["residual_volatility"], [scores["beta"], scores["size"]], data.market_cap, universe)
    # momentum needs 252 days of history: without it, downside risk is orthogonalized to the rest only
    against = [scores[n] for n in ("beta", "size", "residual_volatility", "momentum") if n in scores]
    scores["downside_risk"] = orthogonalize(scores["downside_risk"], against, data.market_cap, universe)
    if "momentum" in scores:
        scores["prospect"] = orthogonalize(scores["prospect"], [scores["momentum"]], data.market_cap, universe)
    for name in STYLE_ORDER:
        if name not in raw and name not in skipped:
            skipped[name] = "inputs absent"
    names = [n for n in STYLE_ORDER if n in scores]
    return names, np.stack([scores[n] for n in names], axis=2), np.stack([raw[n] for n in names], axis=2), skipped


@pytest.fixture(scope="module")
def market(small_market):
    return small_market.data


@pytest.fixture(scope="module")
def reference(market):
    return whole_history(market)


@pytest.mark.parametrize("chunk_dates", [1, 7, 128, 10_000])
def test_chunked_stacks_equal_the_whole_history_bit_for_bit(market, reference, chunk_dates):
    names, styles, raw, skipped = reference
    got = style_exposures(market, chunk_dates=chunk_dates)
    assert got.names == names and got.skipped == skipped
    assert got.styles.flags.c_contiguous and got.styles.shape == styles.shape
    np.testing.assert_array_equal(got.styles, styles)  # NaN in the same places, every value identical
    np.testing.assert_array_equal(got.raw, raw)
    assert np.isfinite(got.styles).mean() > 0.5  # the comparison is not of empty stacks


def test_raw_rows_keep_only_the_requested_dates(market, reference):
    _, _, raw, _ = reference
    rows = [200, 64, len(market.dates) - 1]
    got = style_exposures(market, raw_rows=rows)
    assert isinstance(got.raw, RowSubset) and got.raw.values.shape == (3,) + raw.shape[1:]
    for row in rows:
        np.testing.assert_array_equal(got.raw[row], raw[row])
    with pytest.raises(KeyError, match="row 65 was not kept"):
        got.raw[65]


def test_a_style_without_usable_values_is_skipped_and_the_stack_compacted(market):
    """Momentum needs 200 days (lagged 21): on 150 days it has no value and the stack drops it, as the reference does."""
    short = market.until(market.dates[149])
    names, styles, raw, skipped = whole_history(short)
    got = style_exposures(short, chunk_dates=16)
    assert "momentum" in skipped and "momentum" not in got.names
    assert got.names == names and got.skipped == skipped
    assert got.styles.flags.c_contiguous
    np.testing.assert_array_equal(got.styles, styles)
    np.testing.assert_array_equal(got.raw, raw)
