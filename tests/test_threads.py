"""padlab's thread pool: fork safety, spawn and forkserver children, the thread count's sources."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import padlab
from padlab import _threads
from padlab.errors import PadlabValueError

SRC = str(Path(__file__).resolve().parents[1] / "src")
# long enough for a cold child on a loaded 2-core machine, short enough not to stall CI
CHILD_TIMEOUT = 120


@pytest.fixture
def fresh_threads():
    """Re-read the thread variables in this test, and forget them afterwards."""
    _threads.reset()
    yield
    _threads.reset()


def _problem():
    rng = np.random.default_rng(7)
    x = rng.random((3, 384, 384)).astype(np.float32)
    k = rng.random((5, 5)).astype(np.float32)
    return x, k


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_children_filter_after_the_parent_used_the_pool(method):
    x, k = _problem()
    # large enough to go through the pool (work far above the serial threshold)
    expected = padlab.correlate(x, k, mode="reflect", channel_axis=0)
    assert _threads.pool() is not None
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as workers:
        jobs = [
            workers.apply_async(
                padlab.correlate, (x, k), {"mode": "reflect", "channel_axis": 0, "method": m}
            )
            for m in ("direct", "auto", "separable" if np.linalg.matrix_rank(k) == 1 else "fft")
        ]
        try:
            results = [job.get(timeout=CHILD_TIMEOUT) for job in jobs]
        except multiprocessing.TimeoutError:
            workers.terminate()
            pytest.fail(f"a {method!r} child hung in padlab.correlate")
    np.testing.assert_array_equal(results[0], expected)
    np.testing.assert_array_equal(results[1], expected)
    np.testing.assert_allclose(results[2], expected, rtol=1e-4, atol=1e-4)


def test_a_forked_child_gets_a_new_pool():
    padlab.correlate(*_problem(), channel_axis=0)  # the pool exists and has threads
    parent_pool = _threads.pool()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            fresh = _threads.pool() is not parent_pool
            x, k = _problem()
            ok = np.array_equal(
                padlab.correlate(x, k, channel_axis=0),
                np.stack([padlab.correlate(x[i], k, method="direct") for i in range(3)]),
            )
            os.write(write, b"1" if fresh and ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        # the child would hang (not answer) without the fork handler: wait with a timeout
        done = threading.Event()
        answer: list[bytes] = []

        def reader() -> None:
            answer.append(os.read(read, 1))
            done.set()

        threading.Thread(target=reader, daemon=True).start()
        if not done.wait(CHILD_TIMEOUT):
            os.kill(pid, 9)
            pytest.fail("the forked child hung")
        assert answer == [b"1"]
    finally:
        os.waitpid(pid, 0)
        os.close(read)


def test_eight_threads_get_bit_identical_results():
    x, k = _problem()
    expected = padlab.correlate(x, k, mode="symmetric", channel_axis=0)
    results: list[np.ndarray | None] = [None] * 8

    def work(i: int) -> None:
        results[i] = padlab.correlate(x, k, mode="symmetric", channel_axis=0)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(CHILD_TIMEOUT)
    assert not any(t.is_alive() for t in workers)
    for r in results:
        np.testing.assert_array_equal(r, expected)


@pytest.fixture
def two_threads(monkeypatch, fresh_threads):
    """A team of one helper beside the calling thread, whatever this machine has."""
    monkeypatch.setenv("PADLAB_NUM_THREADS", "2")
    _threads.reset()


@pytest.mark.parametrize("spinning", [True, False])
def test_a_helpers_error_reaches_the_caller_and_the_team_goes_on(two_threads, spinning):
    """The calling thread takes the first chunk and holds it long enough for the helper to
    take the second, which raises: the caller gets that error once its own chunk is done, and
    the next job runs on both threads."""
    import time

    if spinning:
        import padlab.engine.spin  # noqa: F401 - registers the compiled waits
    else:
        _threads._spinner, saved = None, _threads._spinner
    try:
        caller = threading.get_ident()
        done = []

        def chunk(first: int, last: int) -> None:
            if threading.get_ident() == caller:
                time.sleep(0.2)
                done.append(first)
            else:
                raise ValueError(f"chunk {first} failed")

        with pytest.raises(ValueError, match="chunk 1 failed"):
            _threads.run_chunks(chunk, 2, per_chunk=1)
        assert done == [0]
        seen: set[int] = set()
        lock = threading.Lock()

        def record(first: int, last: int) -> None:
            time.sleep(0.05)
            with lock:
                seen.add(threading.get_ident())

        _threads.run_chunks(record, 4, per_chunk=1)
        assert len(seen) == 2
    finally:
        if not spinning:
            _threads._spinner = saved


def test_the_team_lets_go_of_a_jobs_arrays(two_threads):
    """Once run_chunks returns, no thread of the team holds the job's function or arrays (a
    warm team: its helper took part in the jobs before; it failed when a helper kept its last
    job in a local variable)."""
    import gc
    import time
    import weakref

    def job(first: int, last: int, x: np.ndarray) -> None:
        time.sleep(0.002)
        x[first:last].sum()

    for _ in range(20):
        _threads.run_chunks(job, 8, np.ones(100), per_chunk=1)  # the helper is awake
    for _ in range(20):
        data = np.ones(1000)
        out = np.empty(8)

        def closure(first: int, last: int, out: np.ndarray = out, data: np.ndarray = data) -> None:
            time.sleep(0.002)
            out[first:last] = data[first:last].sum()

        refs = [weakref.ref(data), weakref.ref(out)]
        _threads.run_chunks(closure, 8, per_chunk=1)
        del data, out, closure
        gc.collect()
        assert [r() for r in refs] == [None, None]


def test_a_reset_lets_the_old_teams_threads_return(two_threads):
    old = []
    for _ in range(5):
        _threads.run_chunks(lambda a, b: None, 4, per_chunk=1)
        old += _threads.pool().threads
        _threads.reset()
    for thread in old:
        thread.join(5)
    assert not any(thread.is_alive() for thread in old)


def test_no_more_helpers_than_chunks_take_part(monkeypatch, fresh_threads):
    import time

    monkeypatch.setenv("PADLAB_NUM_THREADS", "4")
    _threads.reset()
    seen: set[int] = set()

    def chunk(first: int, last: int) -> None:
        time.sleep(0.05)
        seen.add(threading.get_ident())

    for _ in range(3):
        seen.clear()
        _threads.run_chunks(chunk, 2, per_chunk=1)
        assert len(seen) <= 2


@pytest.mark.parametrize("policy", ["PADLAB_WAIT_POLICY", "OMP_WAIT_POLICY"])
def test_a_passive_wait_policy_stops_the_spinning(monkeypatch, two_threads, policy):
    import padlab.engine.spin  # noqa: F401 - registers the compiled waits

    monkeypatch.setenv(policy, "PASSIVE")
    _threads.reset()
    seen = []
    _threads.run_chunks(lambda a, b: seen.extend(range(a, b)), 16, per_chunk=2)
    assert sorted(seen) == list(range(16))
    assert _threads.pool().spins is False
    assert _threads.thread_config().wait_source == f"{policy}=PASSIVE"
    monkeypatch.setenv(policy, "active")
    _threads.reset()
    assert _threads.pool().spins is True


def test_more_threads_than_cpus_wait_passively(monkeypatch, fresh_threads):
    monkeypatch.delenv("PADLAB_WAIT_POLICY", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    cpus = _threads._available_cpus().threads
    monkeypatch.setenv("PADLAB_NUM_THREADS", str(cpus + 1))
    _threads.reset()
    config = _threads.thread_config()
    assert (config.wait, config.wait_source) == ("passive", f"{cpus + 1} threads on {cpus} CPUs")
    monkeypatch.setenv("PADLAB_NUM_THREADS", str(cpus))
    _threads.reset()
    assert _threads.thread_config().wait == "active"


def test_compiled_waits_that_fail_leave_the_pool_working(monkeypatch, two_threads):
    """Waits that cannot run (NUMBA_DISABLE_JIT=1 makes numba's intrinsics raise) are given up
    for sleeping on conditions: no helper dies holding its slot, no call hangs."""

    def broken(*args: object) -> bool:
        raise NotImplementedError("intrinsics run in compiled code only")

    monkeypatch.setattr(_threads, "_spinner", _threads._Spinner(broken, broken, lambda: 1e6))
    for _ in range(5):
        seen: list[int] = []
        _threads.run_chunks(lambda a, b, seen=seen: seen.extend(range(a, b)), 16, per_chunk=2)
        assert sorted(seen) == list(range(16))
    assert _threads.pool().spins is False


def _all_asleep(team: _threads.Team) -> bool:
    import time

    deadline = time.monotonic() + 10
    while team.sleeping < len(team.threads) and time.monotonic() < deadline:
        time.sleep(0.001)
    return team.sleeping == len(team.threads)


def test_a_brief_job_does_not_wait_for_sleeping_helpers(monkeypatch, two_threads):
    """A brief job that finds every helper asleep is done by the calling thread, and the
    helpers are woken with no job (flags[0] moves on once); a job that is not brief is shared
    with them, asleep or not."""
    import time

    monkeypatch.setenv("PADLAB_WAIT_POLICY", "passive")  # helpers sleep after every job
    _threads.reset()
    team = _threads.pool()
    seen: set[int] = set()

    def chunk(first: int, last: int) -> None:
        time.sleep(0.02)
        seen.add(threading.get_ident())

    assert _all_asleep(team)
    announced = int(team.flags[0])
    _threads.run_chunks(chunk, 8, per_chunk=1, brief=True)
    assert seen == {threading.get_ident()}
    assert int(team.flags[0]) == announced + 1
    assert _all_asleep(team)
    seen.clear()
    _threads.run_chunks(chunk, 8, per_chunk=1)
    assert len(seen) == 2


def test_a_nested_call_runs_in_its_own_thread(two_threads):
    """A chunk that calls run_chunks itself (the team is busy with its job) runs that call
    alone instead of waiting for the team."""
    seen = []

    def inner(first: int, last: int) -> None:
        seen.extend(range(first, last))

    def outer(first: int, last: int) -> None:
        _threads.run_chunks(inner, 10, per_chunk=2)

    _threads.run_chunks(outer, 4, per_chunk=1)
    assert sorted(seen) == sorted(list(range(10)) * 4)


def test_no_numba_threading_layer_is_started():
    """padlab parallelises with its own pool: numba's threading layer stays unloaded."""
    padlab.correlate(*_problem(), channel_axis=0)
    import numba.np.ufunc.parallel as numba_parallel

    assert not numba_parallel._is_initialized  # numba starts it only for parallel=True


@pytest.mark.parametrize(
    ("env", "threads", "source"),
    [
        ({"PADLAB_NUM_THREADS": "3", "NUMBA_NUM_THREADS": "5"}, 3, "PADLAB_NUM_THREADS=3"),
        ({"NUMBA_NUM_THREADS": "5", "OMP_NUM_THREADS": "1"}, 5, "NUMBA_NUM_THREADS=5"),
        ({"OMP_NUM_THREADS": "1"}, 1, "OMP_NUM_THREADS=1"),
        ({"OMP_NUM_THREADS": "4,2"}, 4, "OMP_NUM_THREADS=4,2"),
        ({"PADLAB_THREADS": "2"}, 2, "PADLAB_THREADS=2"),
    ],
)
def test_thread_variables_in_order(monkeypatch, fresh_threads, env, threads, source):
    for name in (*_threads.THREAD_VARIABLES, "PADLAB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _threads.reset()
    config = _threads.thread_config()
    assert (config.threads, config.source) == (threads, source)
    assert _threads.threads() == threads


def test_one_thread_means_the_pool_is_not_used(monkeypatch, fresh_threads):
    monkeypatch.setenv("PADLAB_NUM_THREADS", "1")
    _threads.reset()
    used = []
    monkeypatch.setattr(_threads, "pool", lambda: used.append(1))
    x, k = _problem()
    padlab.correlate(x, k, channel_axis=0)
    assert used == []


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5", "99999"])
def test_a_bad_padlab_variable_is_an_error_naming_it(monkeypatch, fresh_threads, bad):
    monkeypatch.setenv("PADLAB_NUM_THREADS", bad)
    _threads.reset()
    with pytest.raises(PadlabValueError, match=f"PADLAB_NUM_THREADS='{bad}'"):
        padlab.correlate(np.ones((1024, 1024)), np.ones((3, 3)))


def test_a_bad_numba_variable_is_a_warning_and_skipped(monkeypatch, fresh_threads):
    monkeypatch.delenv("PADLAB_NUM_THREADS", raising=False)
    monkeypatch.delenv("PADLAB_THREADS", raising=False)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "lots")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    _threads.reset()
    with pytest.warns(RuntimeWarning, match="NUMBA_NUM_THREADS='lots'"):
        config = _threads.thread_config()
    assert (config.threads, config.source) == (2, "OMP_NUM_THREADS=2")


def _cgroup(tmp_path, membership, files):
    root = tmp_path / "cgroup"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc-cgroup"
    proc.write_text(membership)
    return root, proc


def test_cgroup_v2_quota(tmp_path):
    root, proc = _cgroup(
        tmp_path,
        "0::/job/step\n",
        {"job/cpu.max": "150000 100000\n", "job/step/cpu.max": "max 100000\n"},
    )
    cpus, source = _threads.cgroup_cpus(root, proc)
    assert cpus == 1.5
    assert "cpu.max: 150000 100000" in source


def test_cgroup_v1_quota(tmp_path):
    root, proc = _cgroup(
        tmp_path,
        "4:memory:/x\n2:cpu,cpuacct:/docker/abc\n",
        {
            "cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "50000\n",
            "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
        },
    )
    assert _threads.cgroup_cpus(root, proc)[0] == 0.5


def test_no_cgroup_quota(tmp_path):
    root, proc = _cgroup(
        tmp_path,
        "0::/\n1:cpu:/\n",
        {
            "cpu.max": "max 100000\n",
            "cpu/cpu.cfs_quota_us": "-1\n",
            "cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert _threads.cgroup_cpus(root, proc) is None


def test_the_quota_lowers_the_affinity(monkeypatch, fresh_threads):
    for name in (*_threads.THREAD_VARIABLES, "PADLAB_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_threads, "cgroup_cpus", lambda: (1.2, "cgroup v2 CPU quota (test)"))
    _threads.reset()
    assert _threads.thread_config() == _threads.ThreadConfig(2, "cgroup v2 CPU quota (test)")
    monkeypatch.setattr(_threads, "cgroup_cpus", lambda: None)
    _threads.reset()
    assert _threads.thread_config() == _threads.ThreadConfig(4, "CPU affinity (4 CPUs)")


def test_threads_follow_omp_num_threads_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if k not in _threads.THREAD_VARIABLES}
    env |= {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", "from padlab import _threads; print(_threads.threads())"],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=True,
    )
    assert out.stdout.strip() == "1"


def _cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _threads.THREAD_VARIABLES}
    env |= {"PYTHONPATH": SRC, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "padlab.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )


def test_padlab_info_json_says_where_the_thread_count_came_from():
    import json

    done = _cli("info", "--json", env_extra={"NUMBA_NUM_THREADS": "3"})
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["threads"]["count"] == 3
    assert info["threads"]["source"] == "NUMBA_NUM_THREADS=3"
    assert info["padlab"]["version"] == padlab.__version__
    assert info["dependencies"]["numpy"]["version"] == np.__version__
    assert info["dependencies"]["torch"]["required"] is False
    assert os.path.isdir(info["compiled_kernels"]["directory"])
    assert info["engines"]["conv_nd"] == ["auto", "direct", "gemm", "reference"]


def test_padlab_info_text_lists_every_dependency():
    done = _cli("info")
    assert done.returncode == 0, done.stderr
    for name in ("numpy", "scipy", "numba", "Pillow", "matplotlib", "jinja2", "torch", "dask"):
        assert f"\n  {name}: " in done.stdout
    assert "count: " in done.stdout and "source: " in done.stdout


@pytest.mark.parametrize(
    ("ours", "bad", "message", "theirs", "ignored"),
    [
        (
            "PADLAB_NUM_THREADS",
            "many",
            "is not a number of threads; use an integer from 1 to 4096, or unset it",
            "OMP_NUM_THREADS",
            "-1",
        ),
        (
            "PADLAB_WAIT_POLICY",
            "lazy",
            "is not a wait policy; use active or passive, or unset it",
            "OMP_WAIT_POLICY",
            "sometimes",
        ),
    ],
)
def test_a_bad_thread_variable_is_one_line_from_the_cli(ours, bad, message, theirs, ignored):
    """padlab's own variable: a one-line error; the one other libraries read too: a one-line
    warning, and skipped."""
    done = _cli("info", env_extra={ours: bad})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"padlab info: error: {ours}={bad!r} {message}"]
    warned = _cli("info", env_extra={theirs: ignored})
    assert warned.returncode == 0
    assert len(warned.stderr.strip().splitlines()) == 1
    assert f"{theirs}={ignored!r}" in warned.stderr
    assert "  wait: active (default)" in warned.stdout.splitlines()


def test_show_config_does_not_import_torch_or_dask():
    code = (
        "import sys, padlab; padlab.show_config(); "
        "print('LOADED', sorted(m for m in ('torch', 'dask') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items()} | {"PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        timeout=CHILD_TIMEOUT, check=True,
    )  # fmt: skip
    assert "LOADED []" in done.stdout
    assert "torch: " in done.stdout


def test_show_config_modes():
    info = padlab.show_config("dicts")
    assert info["threads"]["count"] == _threads.threads()
    with pytest.raises(PadlabValueError, match="mode='xml'"):
        padlab.show_config("xml")
