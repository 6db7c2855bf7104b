"""Many-book risk speed: ``batch_risk`` for 10,000 books on the 1,000-name demo universe.

Prints the time of one ``batch_risk`` call for 10,000 books as a dense (10,000 x 1,000)
matrix and as sparse books of 20-300 names (target under 2 s), the ratio to the
per-book loop it replaces (``tracking_error`` + ``risk`` + ``beta`` per book, timed on
500 books and scaled), and ``book_weights`` (the long-table reader's vectorized pass).
Run: python benchmarks/bench_batch.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

import xlfactor as xf
from xlfactor.risk.batch import book_weights

BOOKS = 10_000


def main() -> None:
    data = xf.factor_model_data()
    n = len(data.tickers)
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(BOOKS, n))
    dense /= np.abs(dense).sum(axis=1, keepdims=True)
    sizes = rng.integers(20, 300, BOOKS)
    long = pd.DataFrame(
        {
            "portfolio": np.repeat([f"book{p:05d}" for p in range(BOOKS)], sizes),
            "ticker": rng.choice(data.tickers, sizes.sum()),
            "value": rng.uniform(-1e5, 4e5, sizes.sum()),
        }
    )
    start = time.perf_counter()
    books = book_weights(long, data.ticker_index)
    read = time.perf_counter() - start
    sparse = books.weights
    t_dense = median_seconds(lambda: xf.batch_risk(data, dense), 3)
    t_sparse = median_seconds(lambda: xf.batch_risk(data, sparse), 3)

    def loop(W, count=500):
        rows = W[:count].toarray() if sp.issparse(W) else W[:count]
        for w in rows:
            data.tracking_error(w), data.risk(w), data.beta(w)

    naive = median_seconds(lambda: loop(dense), 1) * BOOKS / 500
    print(f"{BOOKS:,} books x {n:,} names, dense:  batch_risk {t_dense:.3f} s (target < 2 s); per-book loop ~{naive:.1f} s ({naive / t_dense:.0f}x slower)")
    print(f"{BOOKS:,} books, sparse ({sizes.mean():.0f} names each, {len(long):,} rows): batch_risk {t_sparse:.3f} s, book_weights {read:.3f} s")


if __name__ == "__main__":
    main()
