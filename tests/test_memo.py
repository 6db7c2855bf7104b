"""One cache policy: every memo is bounded, computes a key once, and clear_memos() empties them all."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import xlfactor as xf
from tests.handmodel import hand_model, write_openfactor_folder
from xlfactor.functions import OF_THEMES, OF_TRACKINGERROR, catalog, ranges
from xlfactor.hedging import etf_cascade  # noqa: F401  (the ETF map's reader is registered on import)
from xlfactor.risk.model_data import factor_model_data_at
from xlfactor.snapshot import etf_map, sources
from xlfactor.snapshot.memo import Memo, clear_memos, memo, memo_sizes
from xlfactor.snapshot.snapshot import SNAPSHOT_MEMO_SIZE

DISTINCT_KEYS = 10_000


def test_a_memo_keeps_the_most_recently_used_keys_and_no_more():
    held = memo("test lru", maxsize=100)
    for key in range(DISTINCT_KEYS):
        held.put(key, key * 2)
        held.get(0)  # key 0 stays the most recently used, so it is never dropped
    assert len(held) == 100
    assert held.keys() == [*range(DISTINCT_KEYS - 99, DISTINCT_KEYS), 0]
    assert held.get(1) is None and held.get(DISTINCT_KEYS - 100) is None


def test_lru_order_against_a_reference_model():
    """The memo's keys after a random workload equal an independent LRU simulation's."""
    rng = np.random.default_rng(3)
    held = memo("test lru model", maxsize=7)
    reference: list[int] = []  # least recently used first
    for key in rng.integers(0, 20, 2_000).tolist():
        if rng.random() < 0.5:
            held.put(key, key)
            if key in reference:
                reference.remove(key)
            reference.append(key)
            del reference[:-7]
        else:
            found = held.get(key)
            if key in reference:
                assert found == key
                reference.remove(key)
                reference.append(key)
            else:
                assert found is None
    assert held.keys() == reference


def test_each_key_is_computed_once_by_concurrent_threads():
    held = memo("test single flight", maxsize=4)
    calls = []

    def slow_load():
        calls.append(1)
        time.sleep(0.05)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(held.get_or_compute("snapshot", slow_load))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 1 and len(results) == 8 and len({id(r) for r in results}) == 1


def test_a_stale_value_is_computed_again():
    held = memo("test fresh", maxsize=2)
    assert held.get_or_compute("k", lambda: (1, "old")) == (1, "old")
    assert held.get_or_compute("k", lambda: (2, "new"), fresh=lambda hit: hit[0] == 2) == (2, "new")
    assert held.get_or_compute("k", lambda: (3, "newer"), fresh=lambda hit: hit[0] == 2) == (2, "new")


def test_a_memo_refuses_a_size_below_one():
    with pytest.raises(ValueError, match="at least 1"):
        Memo("nothing", 0)


def test_parsed_ranges_stay_bounded_over_distinct_ranges():
    for i in range(DISTINCT_KEYS):
        ranges.parse_holdings_range([["ticker", "value"], [f"T{i}", float(i + 1)]])
    assert len(ranges._MEMO) <= ranges.MEMO_SIZE


def test_values_derived_from_a_snapshot_stay_bounded():
    snapshot = xf.load_snapshot()
    for i in range(DISTINCT_KEYS):
        snapshot.cached(f"test value {i}", lambda: i)
    assert len(snapshot._memo) == SNAPSHOT_MEMO_SIZE
    dates = snapshot.exposure_panel.dates[-5:]
    for date in dates:  # one model per exposure date, through the same bounded memo
        factor_model_data_at(snapshot, str(date))
    assert len(snapshot._memo) == SNAPSHOT_MEMO_SIZE
    assert snapshot.cached(f"test value {DISTINCT_KEYS - 1}", lambda: -1) == DISTINCT_KEYS - 1  # recent kept
    assert snapshot.cached("test value 0", lambda: -1) == -1  # the oldest went


def test_loaded_snapshots_stay_bounded(tmp_path):
    model = hand_model()
    folders = [write_openfactor_folder(tmp_path / f"s{i}", model) for i in range(sources.LOADED_SNAPSHOTS + 3)]
    loaded = [xf.load_snapshot(folder) for folder in folders]
    assert len(sources.loaded_sources()) <= sources.LOADED_SNAPSHOTS
    assert xf.load_snapshot(folders[-1]) is loaded[-1]  # a recent one is reused
    assert xf.load_snapshot(folders[0]) is not loaded[0]  # the least recently used was dropped, and reloads


def test_clear_memos_empties_every_memo(tmp_path):
    holdings = [["ticker", "value"], ["SIM0001", 100.0], ["SIM0002", 50.0]]
    assert isinstance(OF_TRACKINGERROR(holdings), float)  # snapshot, model, parsed range, aligned holdings
    labels = tmp_path / "themes.csv"
    labels.write_text("ticker,ai_infrastructure\nSIM0001,1\nSIM0002,0\n")
    assert not str(OF_THEMES(holdings, str(labels))).startswith("#XLFACTOR")
    assert etf_map.etf_for_sector()  # the ETF table, read once
    sizes = memo_sizes()
    for name in ("loaded snapshots", "snapshot-derived values", "parsed ranges", "aligned holdings", "semantic labels"):
        assert sizes[name][0] > 0, name
    assert etf_map.etf_map_rows.cache_info().currsize == 1
    clear_memos()
    assert all(entries == 0 for entries, _ in memo_sizes().values()), memo_sizes()
    assert etf_map.etf_map_rows.cache_info().currsize == 0
    assert len(catalog._ALIGNED) == 0 and len(ranges._MEMO) == 0
    assert isinstance(OF_TRACKINGERROR(holdings), float)  # and everything is computed again on demand
