"""Compilation the user can predict: the first command compiles everything once, with a notice
and progress; no later command compiles anything (checked with numba's own compile events)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import padlab

SRC = str(Path(__file__).resolve().parents[1] / "src")

# runs one padlab command and reports every numba compilation that happened in the process
RUNNER = """
import json, sys
from numba.core import event

compiled = []


class Listener(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)


event.register("numba:compile", Listener())
from padlab.cli.main import main

status = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"status": status, "compiled": compiled}, f)
"""


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[dict, str]:
    record = tmp_path / "record.json"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(record), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(record.read_text()), done.stderr


@pytest.mark.slow
def test_first_command_compiles_everything_once_and_later_ones_never(tmp_path):
    rng = np.random.default_rng(3)
    image = tmp_path / "photo16.png"
    padlab.write_image(image, (rng.random((96, 128)) * 65535).astype(np.uint16))
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, PYTHONPATH=SRC, NUMBA_CACHE_DIR=str(cache))

    first, stderr = _run(tmp_path, env, "report", str(image), "-o", str(tmp_path / "report"))
    assert "padlab: compiling its kernels for this machine, once for every command" in stderr
    # progress: one line per engine kernel and dtype, driven by numba's compile events
    for engine in ("direct", "separable", "gemm"):
        for dtype in ("float32", "float64"):
            assert f"padlab:   {engine} engine, {dtype}: " in stderr, stderr
    assert any(name.endswith("_conv_tasks") for name in first["compiled"])

    import tifffile

    big = tmp_path / "big.tif"  # chunked filtering: the blocks reach the same compiled code
    tifffile.imwrite(big, rng.random((70, 90)).astype(np.float32))
    for args in (
        ("filter", str(image), "-o", str(tmp_path / "f1.png")),
        ("compare", str(image)),
        ("filter", str(image), "-o", str(tmp_path / "f2.png"), "-m", "reflect", "-k", "blur"),
        ("filter", str(big), "--chunks", "32", "-o", str(tmp_path / "c1.zarr")),
        ("filter", str(big), "--chunks", "32", "-k", "blur", "-o", str(tmp_path / "c2.zarr")),
    ):
        record, stderr = _run(tmp_path, env, *args)
        assert record["compiled"] == [], (args, record["compiled"])
        assert "compiling" not in stderr, (args, stderr)


@pytest.mark.slow
def test_read_only_and_writable_inputs_share_the_compiled_code(tmp_path):
    """A read-only input (memory map, broadcast) is another type to numba; padlab hands the
    engines read-only views always, so it does not trigger a compilation."""
    code = """
import numpy as np, padlab
from numba.core import event
padlab.correlate(np.ones((64, 64)), np.ones((3, 3)))  # warm: compiles or loads everything
with event.install_recorder("numba:compile") as rec:
    x = np.ones((64, 64), np.float32)
    x.flags.writeable = False
    k = np.ones((3, 3), np.float32)
    k.flags.writeable = False
    padlab.correlate(x, k, method="direct")
    padlab.correlate(np.broadcast_to(np.float64(1.0), (50, 50)), k, method="separable")
    padlab.conv_nd(np.ones((1, 2, 9, 9)), np.ones((8, 2, 3, 3)), method="gemm")
print("COMPILED", len(rec.buffer))
"""
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr
    assert "COMPILED 0" in done.stdout, done.stdout + done.stderr


def test_a_failed_helper_process_leaves_its_dtype_to_this_process(monkeypatch):
    from padlab.ops import warmup

    padlab.correlate(np.ones((8, 8)), np.ones((3, 3)))  # everything compiled or loaded
    compiled = []
    monkeypatch.setattr(warmup, "_compile", lambda dtypes, progress: compiled.append(dtypes))
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    monkeypatch.setattr(warmup, "_helper", lambda dtypes: subprocess.Popen(failing))
    monkeypatch.setenv("PADLAB_NUM_THREADS", "2")
    from padlab import _threads

    _threads.reset()
    try:
        stream = io.StringIO()
        warmup.warm(stream)
    finally:
        _threads.reset()
    assert compiled == [("float32",), ("float64",)]
    assert "kernels ready" in stream.getvalue()


def test_an_interrupted_warm_up_stops_its_helper_process(monkeypatch):
    """The helper runs in a session of its own (a Ctrl-C at the terminal does not reach it), so
    the warm-up stops it when it is interrupted itself."""
    from padlab.ops import warmup

    started = []

    def helper(dtypes):
        started.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]))
        return started[-1]

    def interrupted(dtypes, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(warmup, "_helper", helper)
    monkeypatch.setattr(warmup, "_compile", interrupted)
    monkeypatch.setenv("PADLAB_NUM_THREADS", "2")
    from padlab import _threads

    _threads.reset()
    try:
        with pytest.raises(KeyboardInterrupt):
            warmup.warm(io.StringIO())
    finally:
        _threads.reset()
    assert len(started) == 1 and started[0].poll() is not None  # killed and reaped


def test_the_commands_load_numba_without_scipys_blas():
    """``padlab report``/``compare`` load numba's registries without scipy.linalg (16 MB: the
    report's memory floor); afterwards scipy.linalg imports as usual and numba still compiles
    np.dot with it."""
    code = """
import sys
from padlab.ops.warmup import notice
notice()
loaded = "scipy.linalg" in sys.modules
import numba, numpy as np
import scipy.linalg
dot = numba.njit(lambda a, b: np.dot(a, b))
print(loaded, float(dot(np.ones((2, 3)), np.ones((3, 2))).sum()), scipy.linalg.norm([3.0, 4.0]))
"""
    env = {**os.environ, "PYTHONPATH": SRC}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "12.0", "5.0"], out.stdout + out.stderr
