"""Every script in examples/ runs on the demo, offline, as a newcomer runs it (``python examples/NAME.py``).

Each runs in a scratch folder (what it writes lands there) with this checkout first on the
import path, and must exit 0 and print what its docstring promises.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "examples").glob("*.py"))

# A phrase each task's output must hold: the task was done, not only started. A script added
# later without an entry here must still run and print something.
PROMISES = {
    "hedge_a_book.py": ["ETF hedge", "risk before", "ETF cascade of", "keep"],
    "stress_a_book.py": ["market -10%", "worst 21 days", "VaR 99% 10 days"],
    "build_model_from_csvs.py": ["prices.csv.gz", "'universe': 'example'", "tracking_error"],
    "run_a_batch.py": ["tracking_error", "broken", "largest difference of tracking error"],
    "track_a_month.py": ["linking_residual", "pct_idiosyncratic"],
}


def test_every_task_has_its_script():
    assert set(PROMISES) <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_script(script, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), f"{script} printed nothing"
    for phrase in PROMISES.get(script, []):
        assert phrase in result.stdout, f"{script} did not print {phrase!r}:\n{result.stdout}"
    assert "Traceback" not in result.stderr
