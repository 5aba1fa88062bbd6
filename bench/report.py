"""Warm `padlab report`: wall time and each process's peak memory, one checkout or two in turn.

    python bench/report.py                      # this checkout, 3 runs
    python bench/report.py --runs 4 OTHER/src   # this checkout and another one, alternating
    python bench/report.py -- photo.png --depth 3   # after --: arguments for `padlab report`

Each run is `python -m padlab.cli.main report -q` in a fresh process (the kernels must be
compiled already: run `padlab report` once first; set NUMBA_CACHE_DIR to share a cache). Peak
memory is each process's VmHWM, read from /proc while it runs (Linux): the report's process and
its drawing helper (`padlab.report.drawing`), if one started. Runs of two checkouts alternate:
on a shared machine the times swing from minute to minute.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = str(Path(__file__).resolve().parents[1] / "src")


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return found


def peak_kb(pid: int, helper: bool = False) -> int:
    """VmHWM of ``pid``; for a helper, 0 until it runs padlab's drawing module (a child read
    between fork and exec would show a copy of its parent's memory)."""
    try:
        if helper:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"padlab.report.drawing" not in handle.read():
                    return 0
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(source: str, args: list[str], out: str) -> tuple[float, int, int]:
    """(wall seconds, report's peak MB, helper's peak MB or 0) of one report."""
    env = dict(os.environ, PYTHONPATH=source)
    command = [sys.executable, "-m", "padlab.cli.main", "report", *args, "-q", "-o", out]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        peaks[proc.pid] = max(peaks.get(proc.pid, 0), peak_kb(proc.pid))
        for pid in children(proc.pid):
            peaks[pid] = max(peaks.get(pid, 0), peak_kb(pid, helper=True))
        time.sleep(0.01)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{source}: padlab report failed: {proc.stderr.read().decode()[-500:]}")
    main = peaks.pop(proc.pid, 0)
    helper = max(peaks.values(), default=0)
    return wall, round(main / 1024), round(helper / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="*", help="other checkouts' src directories")
    parser.add_argument("--runs", type=int, default=3)
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:split])
    report_args = argv[split + 1 :]
    sources = [HERE, *options.sources]
    results: dict[str, list[tuple[float, int, int]]] = {s: [] for s in sources}
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"load at the start: {os.getloadavg()[0]:.2f}; {now}")
    with tempfile.TemporaryDirectory() as work:
        for _ in range(options.runs):
            for source in sources:
                results[source].append(run(source, report_args, str(Path(work) / "report")))
    for source, rows in results.items():
        walls = sorted(r[0] for r in rows)
        mains = sorted(r[1] for r in rows)
        helpers = sorted(r[2] for r in rows)
        print(
            f"{source}: {', '.join(f'{w:.2f}' for w in walls)} s wall; report's process "
            f"{mains[0]}-{mains[-1]} MB, helper {helpers[0]}-{helpers[-1]} MB at their peak"
        )
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
