"""Model-builder speed.

Prints: the reference real-data build (adjusted prices, point-in-time S&P 500, 2010-2017,
from ../shared/data: inputs, model, snapshot with quality) wall and CPU time and peak
memory (measured in a child process), and the
regression time per simulated year (252 days, 11 sectors, 40 industries, 27 styles) at
50, 1000 and 3000 names against three references:

* a naive baseline, one np.linalg.lstsq KKT solve per day;
* a dense-design baseline: the same regression with the explicit one-hot design, X'WX by
  one GEMM per day and the full KKT system inverted, batched over chunks of days like the
  structured solve (what the structured normal equations and the Schur complement save);
* the bare floor of the per-name work: the syrk S'WS of the weighted styles alone.

Then what 3000 names cost against 1000, and the per-name cost (above the 50-name run, per
1000 names) against that syrk floor (the per-day KKT solves do not grow with names; the
per-name work is the style product, O(n_styles^2), and a few passes over the styles).
Run with one BLAS thread for stable ratios: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1.
Run: python benchmarks/bench_builder.py [--regression-only]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from tests.real_inputs import REFERENCE_OPTIONS, write_adjusted_inputs
from xlfactor.builder.builder import build_model, snapshot_at
from xlfactor.builder.inputs import read_inputs
begin, begin_cpu = time.perf_counter(), time.process_time()
folder = write_adjusted_inputs(Path({shared!r}), Path({work!r}))
convert, convert_cpu = time.perf_counter() - begin, time.process_time() - begin_cpu
start, cpu = time.perf_counter(), time.process_time()
data = read_inputs(folder)
read = time.perf_counter() - start
options = REFERENCE_OPTIONS
history = build_model(data, options)
model = time.perf_counter() - start - read
snapshot = snapshot_at(history, len(data.dates) - 1, options, quality=False)
plain = time.perf_counter() - start - read - model
snapshot = snapshot_at(history, len(data.dates) - 1, options)
total = time.perf_counter() - start - plain
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"real-data build ({{data.close.shape[0]}} days x {{data.close.shape[1]}} names): read {{read:.1f}} s, "
      f"model {{model:.1f}} s, snapshot {{plain:.1f}} s, snapshot+quality {{total - read - model:.1f}} s, total {{total:.1f}} s "
      f"(quality {{(total - read - model - plain) / max(total, 1e-9):.0%}} of it), CPU (all threads) {{time.process_time() - cpu:.0f}} s, "
      f"peak memory {{peak:.0f}} MB; input conversion (tests/real_inputs.py) {{convert:.1f}} s ({{convert_cpu:.0f}} s CPU) before it")
"""


def simulated_year(names: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    days, n_sec, n_ind, n_sty = 252, 11, 40, 27
    industry_sector = np.arange(n_ind) % n_sec
    industry = np.broadcast_to(rng.integers(0, n_ind, names), (days, names)).copy()
    return (
        rng.normal(0, 0.02, (days, names)),
        np.exp(rng.normal(22, 1, (days, names))),
        rng.normal(0, 1, (days, names, n_sty)),
        industry_sector[industry],
        industry,
        industry_sector,
        n_sec,
    )


def naive_day(returns, caps, styles, sector, industry, industry_sector, n_sec):
    n_ind = len(industry_sector)
    x = np.column_stack(
        [np.ones(len(returns))] + [(sector == s) * 1.0 for s in range(n_sec)] + [(industry == i) * 1.0 for i in range(n_ind)] + [styles]
    )
    w = np.sqrt(caps)
    c = np.zeros((1 + n_sec, x.shape[1]))
    c[0, 1 : 1 + n_sec] = [caps[sector == s].sum() for s in range(n_sec)]
    for s in range(n_sec):
        c[1 + s, 1 + n_sec : 1 + n_sec + n_ind] = [caps[industry == i].sum() if industry_sector[i] == s else 0 for i in range(n_ind)]
    kkt = np.block([[x.T @ (x * w[:, None]), c.T], [c, np.zeros((len(c), len(c)))]])
    return np.linalg.lstsq(kkt, np.concatenate([x.T @ (w * returns), np.zeros(len(c))]), rcond=None)[0]


def dense_design(returns, caps, styles, sector, industry, industry_sector, n_sec, chunk=12):
    """The same constrained WLS with the explicit one-hot design, batched over chunks of days.

    X (days, names, k) holds the market, sector and industry one-hots and the styles;
    X'WX and X'Wy are one GEMM (and one GEMV) per day, the full KKT system is inverted per
    day, and the residuals are y - X f: what the structured solve does without the
    structure. Returns the factor returns, residuals and the KKT inverse's factor diagonal.
    """
    from xlfactor.builder.regression import winsorize_returns

    days, names = returns.shape
    n_ind, n_sty = len(industry_sector), styles.shape[2]
    k = 1 + n_sec + n_ind + n_sty
    fit = winsorize_returns(returns, np.isfinite(returns))
    f, residuals, variance = np.empty((days, k)), np.empty((days, names)), np.empty((days, k))
    for start in range(0, days, chunk):
        block = slice(start, min(start + chunk, days))
        m = block.stop - block.start
        x = np.zeros((m, names, k))
        x[:, :, 0] = 1.0
        day, name = np.indices((m, names))
        x[day, name, 1 + sector[block]] = 1.0
        x[day, name, 1 + n_sec + industry[block]] = 1.0
        x[:, :, 1 + n_sec + n_ind :] = styles[block]
        weighted = x * np.sqrt(caps[block])[:, :, None]
        normal = np.transpose(weighted, (0, 2, 1)) @ x  # one GEMM per day
        rhs = (np.transpose(weighted, (0, 2, 1)) @ fit[block][:, :, None])[:, :, 0]
        c = np.zeros((m, 1 + n_sec, k))
        c[:, 0, 1 : 1 + n_sec] = (x[:, :, 1 : 1 + n_sec] * caps[block][:, :, None]).sum(axis=1)
        industry_caps = (x[:, :, 1 + n_sec : 1 + n_sec + n_ind] * caps[block][:, :, None]).sum(axis=1)
        for s in range(n_sec):
            c[:, 1 + s, 1 + n_sec : 1 + n_sec + n_ind] = np.where(industry_sector == s, industry_caps, 0.0)
        c /= np.abs(c).sum(axis=2, keepdims=True)
        kkt = np.zeros((m, k + 1 + n_sec, k + 1 + n_sec))
        kkt[:, :k, :k], kkt[:, :k, k:], kkt[:, k:, :k] = normal, np.transpose(c, (0, 2, 1)), c
        inverse = np.linalg.inv(kkt)
        f[block] = (inverse[:, :k, :k] @ rhs[:, :, None])[:, :, 0]
        variance[block] = np.einsum("dkk->dk", inverse[:, :k, :k])
        residuals[block] = returns[block] - (x @ f[block][:, :, None])[:, :, 0]
    return f, residuals, variance


def syrk_floor(caps, styles):
    """The bare style product S'WS of a year, one syrk per day on the pre-weighted styles."""
    weighted = styles * np.sqrt(np.sqrt(caps))[:, :, None]
    transposed = np.transpose(weighted, (0, 2, 1))
    return median_seconds(lambda: transposed @ weighted, 3)


def main() -> None:
    from xlfactor.builder.regression import regress

    seconds, floors = {}, {}
    for names in (50, 1000, 3000):
        args = simulated_year(names)
        batched = seconds[names] = median_seconds(lambda: regress(*args), 3)
        if names == 50:
            print(f"regression, one simulated year at {names} names: {batched:.3f} s (the part that does not grow with names)")
            continue
        returns, caps, styles, sector, industry, industry_sector, n_sec = args
        start = time.perf_counter()
        for day in range(20):  # baseline on 20 days, scaled to a year
            naive_day(returns[day], caps[day], styles[day], sector[day], industry[day], industry_sector, n_sec)
        naive = (time.perf_counter() - start) * 252 / 20
        dense = median_seconds(lambda: dense_design(*args), 1)
        f_dense = dense_design(*args)[0]
        gap = np.abs(regress(*args).factor_returns - f_dense).max()
        floors[names] = syrk_floor(caps, styles)
        print(
            f"regression, one simulated year at {names} names: {batched:.3f} s (naive per-day lstsq {naive:.2f} s, {naive / batched:.1f}x; "
            f"dense one-hot design, GEMM X'WX + full KKT inverse, batched {dense:.3f} s, {dense / batched:.1f}x, "
            f"factor returns within {gap:.0e}; bare syrk S'WS floor {floors[names]:.3f} s)"
        )
    per_name = {n: (seconds[n] - seconds[50]) / (n - 50) * 1000 for n in (1000, 3000)}
    print(
        f"regression: 3000 names cost {seconds[3000] / seconds[1000]:.2f}x 1000 names (3x the names); "
        f"above the 50-name floor, {(seconds[3000] - seconds[50]) / (seconds[1000] - seconds[50]):.2f}x; "
        f"per 1000 names above 50: {per_name[1000] * 1000:.0f} ms at 1000, {per_name[3000] * 1000:.0f} ms at 3000 "
        f"({per_name[1000] / floors[1000]:.1f}x and {per_name[3000] / (floors[3000] / 3):.1f}x the syrk floor per 1000 names)"
    )
    if "--regression-only" in sys.argv:
        return
    if SHARED.is_dir():
        with tempfile.TemporaryDirectory() as work:
            code = CHILD.format(root=str(ROOT), shared=str(SHARED), work=work)
            print(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    else:
        print(f"real-data build skipped: {SHARED} not found")


if __name__ == "__main__":
    main()
