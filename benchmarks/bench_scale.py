"""Scale: history-build time and peak memory for N names x Y years, serial and on a LocalCluster.

For each size it writes the simulated market (``xlfactor demo-data --names N --years Y``;
with ``--iterations K`` the simulator's fixed point is cut at K iterations, which keeps the
shapes and the build's work but makes the inputs quicker to produce on a busy machine),
then builds, as a user would, in-process and with ``--scheduler local --workers W``: the
latest snapshot with quality statistics and, with ``--every MONTH``, also the monthly
history (a snapshot per month end after the first 63 days, the last with quality). Peak memory is the largest sum of the resident
memory of the build process and all its children (the Dask workers), sampled every 0.2 s.
Targets (2 cores): 3,000 names x 5 years serial under 3 minutes and 4 GB.
Each line states the load average before the build (the machine may be shared) and the
ratio of the cluster's time to the serial one.
Run (heavy: minutes): nice -n 10 python benchmarks/bench_scale.py [--names 1000 3000] [--years 5] [--workers 2]
    [--every MONTH] [--iterations K] [--markets DIR]  (DIR/market<N>/ is reused when present, so a market is simulated once)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil  # a dependency of dask.distributed (pip install 'xlfactor[distributed]')


def run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB, process tree) of ``command``."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root] + root.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().decode()[-2000:]}")
    return wall, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--years", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=None, help="cut the simulator's fixed point (timing runs)")
    parser.add_argument("--markets", default=None, help="folder of market<N>/ inputs: reused when present, else written there")
    parser.add_argument("--every", nargs="*", default=[], choices=["MONTH", "DAY"], help="also build these histories")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "xlfactor.cli"]
    with tempfile.TemporaryDirectory() as work:
        for names in args.names:
            folder = Path(args.markets or work) / f"market{names}"
            demo = ["demo-data", str(folder), "--names", str(names), "--years", str(args.years)]
            if (folder / "prices.csv.gz").is_file() or (folder / "prices.csv").is_file():
                print(f"{names} names x {args.years:g} years: reusing the simulated market in {folder}", flush=True)
            else:
                if args.iterations is not None:
                    patch = f"import sys, xlfactor.demo.simulate as s; s.MAX_ITERATIONS = {args.iterations}; from xlfactor.cli import main; sys.exit(main(sys.argv[1:]))"
                    wall, peak = run([sys.executable, "-c", patch] + demo)
                else:
                    wall, peak = run(cli + demo)
                print(f"{names} names x {args.years:g} years: simulated market written in {wall:.0f} s (peak {peak:.0f} MB)", flush=True)
            for every in [None, *args.every]:
                what = "latest snapshot + quality" if every is None else f"every {every.lower()}, last + quality"
                serial = None
                cluster = ["--scheduler", "local", "--workers", str(args.workers)]
                for label, extra in (("serial", []), (f"LocalCluster {args.workers} workers", cluster)):
                    out = Path(work) / f"snap{names}-{every}-{len(extra)}"
                    load = os.getloadavg()[0]
                    history = [] if every is None else ["--every", every]
                    wall, peak = run(cli + ["build", "--data", str(folder), "--out", str(out)] + history + extra)
                    ratio = "" if serial is None else f", {wall / serial:.2f} x serial"
                    serial = wall if serial is None else serial
                    print(f"  build ({what}), {label}: {wall:.0f} s{ratio}, peak memory {peak:.0f} MB (load before {load:.2f})", flush=True)


if __name__ == "__main__":
    main()
