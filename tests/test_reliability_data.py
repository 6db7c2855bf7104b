"""Issue 21/20 data cases: nothing lost, no wrong number, no traceback (one test per case).

Each test names the case it holds; tests/reliability/data.csv lists them.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from xlfactor.errors import XlfactorError


# ---------------------------------------------------------------- plumbing (issue 20)


def test_temp_files_take_their_mode_from_the_kernel_while_another_thread_reads_the_umask(tmp_path):
    from xlfactor._files import atomic_write, default_file_mode, make_temp_folder

    old, interval = os.umask(0o077), sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over often, so a toggled umask would be seen
    try:
        stop = threading.Event()
        seen: list[int] = []

        def reader():
            while not stop.is_set():
                seen.append(default_file_mode())

        def writer(k: int):
            for i in range(40):
                atomic_write(tmp_path / f"f{k}-{i}.txt", lambda h: h.write(b"x"))
                atomic_write(tmp_path / "new" / f"{k}-{i}" / "a.txt", lambda h: h.write(b"x"))  # creates its folder
                make_temp_folder(tmp_path / "dirs", f"d{k}-{i}-")
                with open(tmp_path / f"plain{k}-{i}.txt", "w") as handle:  # any other library's open() in the process
                    handle.write("x")

        watcher = threading.Thread(target=reader)
        watcher.start()
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        watcher.join()
    finally:
        os.umask(old)
        sys.setswitchinterval(interval)
    files = [*tmp_path.glob("f*.txt"), *tmp_path.glob("plain*.txt"), *tmp_path.glob("new/*/a.txt")]
    folders = [*(tmp_path / "dirs").iterdir(), *(tmp_path / "new").iterdir()]
    assert len(files) == 3 * 320 and len(folders) == 2 * 320
    assert {oct(f.stat().st_mode & 0o777) for f in files} == {oct(0o600)}  # 0o666 minus umask 077
    assert {oct(d.stat().st_mode & 0o777) for d in folders} == {oct(0o700)}
    assert seen and set(seen) == {0o600}


# ---------------------------------------------------------------- track lock (issue 21 deliver 3)


def test_a_track_lock_held_by_a_killed_process_is_taken_over_at_once(tmp_path, monkeypatch):
    import signal
    import subprocess
    import time

    from xlfactor.reporting import track as track_module

    history = tmp_path / "history"
    holder = (
        "import sys, time, pathlib\n"
        "import xlfactor.reporting.track as t\n"
        "lock = getattr(t, 'history_lock', None) or t._locked\n"
        "with lock(pathlib.Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", holder, str(history)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "held"
    finally:
        os.kill(process.pid, signal.SIGKILL)  # kill -9: no cleanup runs
        process.wait(timeout=30)
    assert (history / ".lock").exists()
    monkeypatch.setattr(track_module, "LOCK_TIMEOUT_SECONDS", 3.0)  # a live holder would make this fail, a dead one must not
    started = time.monotonic()
    day = track_module.record_day(pd.DataFrame({"ticker": ["SIM0001", "SIM0002"], "value": [1.0, 2.0]}), history)
    assert time.monotonic() - started < 3.0
    assert (history / "days" / day.date / "track.csv").is_file()
