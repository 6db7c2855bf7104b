"""Worksheet ranges are parsed once per content: the memo is exact and never shares mutable state."""

from __future__ import annotations

import numpy as np
import pytest

from xlfactor.functions import ranges
from xlfactor.errors import PortfolioError
from xlfactor.functions import OF_TOTALRISK, OF_TRACKINGERROR
from xlfactor.functions.ranges import parse_holdings_range


def _rows():
    return [["Ticker", "Value"], [" sim0001", 300.0], [None, None], ["SIM0002", "1,000"], ["sim0001", 100]]


def test_equal_content_parses_once_and_a_changed_cell_parses_again(monkeypatch):
    calls = []
    real = ranges._parse_holdings
    monkeypatch.setattr(ranges, "_parse_holdings", lambda rows, name: calls.append(1) or real(rows, name))
    ranges._MEMO.clear()
    first = parse_holdings_range(_rows())
    for _ in range(20):  # twenty cells over the same range, each call a fresh copy of the cells
        assert parse_holdings_range(_rows()) is first
    assert len(calls) == 1
    assert first.tickers.tolist() == ["SIM0001", "SIM0002"]
    np.testing.assert_allclose(first.weights, [400 / 1400, 1000 / 1400])
    changed = _rows()
    changed[3][1] = "1,001"
    assert parse_holdings_range(changed).amounts.tolist() == [400.0, 1001.0] and len(calls) == 2
    with pytest.raises(ValueError):
        first.amounts[0] = 0.0  # shared between cells: read-only


def test_errors_are_not_memoized_and_cells_agree_with_the_uncached_path():
    bad = [["SIM0001", 1.0], [None, 2.0]]
    for _ in range(2):
        with pytest.raises(PortfolioError, match="row 2 has a value but no ticker"):
            parse_holdings_range(bad)
    rows = _rows()
    ranges._MEMO.clear()
    cold = OF_TRACKINGERROR(rows)
    warm = OF_TRACKINGERROR(_rows())
    assert cold == warm and isinstance(cold, float)
    assert OF_TOTALRISK(_rows()) != cold  # a different function on the same memoized range


def _book(n=30):
    return [["ticker", "value"]] + [[f"SIM{i:04d}", float(i)] for i in range(1, n + 1)]


def test_ranges_sharing_the_sampled_rows_are_told_apart_by_their_full_content(monkeypatch):
    """The memo key samples four rows; a what-if copy that differs elsewhere is its own entry, and both stay warm."""
    calls = []
    real = ranges._parse_holdings
    monkeypatch.setattr(ranges, "_parse_holdings", lambda rows, name: calls.append(1) or real(rows, name))
    ranges._MEMO.clear()
    base, what_if = _book(), _book()
    what_if[5][1] = 500.0  # row 5 of 31 is not one of the sampled rows (0, 10, 20, 30)
    a, b = parse_holdings_range(base), parse_holdings_range(what_if)
    assert len(ranges._MEMO) == 1 and len(calls) == 2  # one key, two ranges in its bucket
    assert a.amounts[4] == 5.0 and b.amounts[4] == 500.0  # each parse of its own cells (independent: the row values)
    for _ in range(5):
        assert parse_holdings_range(_book()) is a
        copy = _book()
        copy[5][1] = 500.0
        assert parse_holdings_range(copy) is b
    assert len(calls) == 2


def test_editing_the_callers_lists_after_a_call_does_not_change_what_is_memoized(monkeypatch):
    ranges._MEMO.clear()
    rows = _book()
    first = parse_holdings_range(rows)
    rows[7][1] = 70.0  # the caller reuses and edits its list (row 7 is not sampled)
    second = parse_holdings_range(rows)
    assert second is not first and second.amounts[6] == 70.0 and first.amounts[6] == 7.0
    assert parse_holdings_range(_book()) is first


@pytest.mark.parametrize(
    ("numbers", "booleans"),
    [
        ([["AAPL", 1.0], ["MSFT", 1.0], [1, 2.0]], [["AAPL", True], ["MSFT", 1.0], [True, 2.0]]),
        ([[None, 0], ["SIM0001", 5.0]], [[None, False], ["SIM0001", 5.0]]),
    ],
)
def test_a_boolean_cell_is_never_served_a_numbers_result(numbers, booleans):
    """TRUE == 1 in Python, but a boolean cell parses differently: the memo must not answer for it."""
    def outcome(rows):
        try:
            return parse_holdings_range(rows).weights.tolist()
        except PortfolioError as exc:
            return str(exc)

    ranges._MEMO.clear()
    alone = outcome(booleans)  # what the boolean range gives with an empty memo
    ranges._MEMO.clear()
    outcome(numbers)  # the numeric twin is memoized
    assert outcome(booleans) == alone
    assert outcome(booleans) == alone  # a boolean range is not stored either
    assert isinstance(alone, str)  # and it is an error, not weights


def test_a_failed_parse_leaves_no_memo_entry():
    ranges._MEMO.clear()
    with pytest.raises(PortfolioError):
        parse_holdings_range([["SIM0001", "abc"], ["SIM0002", 1.0]])
    assert len(ranges._MEMO) == 0
