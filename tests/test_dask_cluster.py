"""padlab.dask on a real multi-process cluster (127.0.0.1): filtering and datasets."""

from __future__ import annotations

import json
import os
import signal

import dask.array as da
import numpy as np
import pytest
from PIL import Image

import padlab
import padlab.dask as pdd
from padlab.cli.main import main

pytestmark = [pytest.mark.dask, pytest.mark.slow]  # real worker processes


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


CASES = [
    dict(mode="reflect"),
    dict(mode="circular", padding=((7, 40), (3, 9)), stride=2),
    dict(mode="partial", stride=3, dilation=2),
    dict(mode=("mean", "symmetric_odd"), stat_length=4, padding="full"),
    dict(mode="constant", value=-1.5, padding="valid", method="separable"),
]


@pytest.mark.parametrize("kwargs", CASES)
def test_correlate_on_processes_is_bitwise(client, kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((37, 29)).astype(np.float32)
    k = np.outer(rng.standard_normal(5), rng.standard_normal(4))
    kwargs = {"method": "direct", **kwargs}
    lazy = pdd.correlate(da.from_array(x, chunks=((1, 9, 2, 25), (6, 6, 17))), k, **kwargs)
    np.testing.assert_array_equal(client.compute(lazy).result(), padlab.correlate(x, k, **kwargs))


def _images(folder, count, size, corrupt=0):
    rng = np.random.default_rng(count)
    paths = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, size, dtype=np.uint8)).save(path)
        paths.append(path)
    for i in range(corrupt):
        path = folder / f"bad{i}.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 40, dtype=np.uint8)))
        paths.append(path)
    return paths


def test_dataset_with_two_corrupt_files(client, tmp_path):
    _images(tmp_path, 5, (40, 48), corrupt=2)
    modes = ["zeros", "reflect", "partial"]
    report = pdd.compare_dataset(str(tmp_path / "*.png"), "outline", modes, scheduler=client)
    assert len(report.images) == 5
    assert sorted(os.path.basename(p) for p, _ in report.failed) == ["bad0.png", "bad1.png"]
    assert all("PadlabFileError" in reason for _, reason in report.failed)
    # the aggregates are those of padlab.compare run here, image by image
    by_mode = {r["mode"]: r for r in report.rules}
    errors = {m: [] for m in modes}
    first = dict.fromkeys(modes, 0)
    for path in report.images:
        result = padlab.compare(
            padlab.read_image(path, alpha="drop"), padlab.get_kernel("outline"), modes
        )
        for r in result.records:
            errors[r.mode].append(r.context_error_rmse)
            first[r.mode] += r.rank == 1
    for m in modes:
        assert by_mode[m]["images"] == 5
        assert by_mode[m]["context_rmse_mean"] == pytest.approx(np.mean(errors[m]), rel=1e-12)
        assert by_mode[m]["context_rmse_sd"] == pytest.approx(np.std(errors[m], ddof=1), rel=1e-9)
        assert by_mode[m]["times_first"] == first[m]
    assert "2 file(s) failed" in report.table()


def test_cli_dataset_json_lists_failures(client, tmp_path, capsys):
    _images(tmp_path, 3, (32, 30), corrupt=1)
    address = client.scheduler.address
    code = main(
        [
            "compare",
            "--dataset",
            str(tmp_path / "*.png"),
            "-k",
            "outline",
            "-m",
            "zeros,reflect",
            "--json",
            "--scheduler",
            address,
        ]
    )
    captured = capsys.readouterr()
    assert code == 1  # a file failed
    data = json.loads(captured.out)
    assert len(data["images"]) == 3
    assert [os.path.basename(f["path"]) for f in data["failed"]] == ["bad0.png"]
    assert {r["mode"] for r in data["rules"]} == {"zeros", "reflect"}
    assert "images [" in captured.err  # the progress bar


def test_cli_dataset_errors_are_one_line(tmp_path, capsys):
    assert main(["compare", "--dataset", str(tmp_path / "*.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("padlab compare: error: no file matches") and err.count("\n") == 1
    assert main(["compare", "--dataset", "x.png", "-m", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("padlab compare: error:") and "'nope'" in err and err.count("\n") == 1


def test_a_worker_killed_mid_run(client, tmp_path):
    """SIGKILL one of the two worker processes after the first image: all images still come
    back, with the same measurements (the scheduler reruns the lost tasks)."""
    _images(tmp_path, 10, (96, 96))
    pids = list(client.run(os.getpid).values())
    killed = []

    def kill_once(done, total, result):
        if not killed:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    report = pdd.compare_dataset(
        str(tmp_path / "*.png"),
        "outline",
        ["zeros", "reflect"],
        scheduler=client,
        progress=kill_once,
    )
    assert killed and not report.failed and len(report.images) == 10
    expected = padlab.compare(
        padlab.read_image(report.images[-1], alpha="drop"),
        padlab.get_kernel("outline"),
        ["zeros", "reflect"],
    )
    got = report.per_image[report.images[-1]]
    assert [r["context_error_rmse"] for r in got] == [
        r.context_error_rmse for r in expected.records
    ]
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_default_local_cluster_is_started_and_stopped(tmp_path):
    import psutil

    _images(tmp_path, 2, (30, 30), corrupt=1)
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    report = pdd.compare_dataset(str(tmp_path / "*.png"), "outline", ["reflect"], n_workers=1)
    assert len(report.images) == 2 and len(report.failed) == 1
    left = [
        p.cmdline()
        for p in me.children(recursive=True)
        if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]
    # padlab's worker processes are gone (multiprocessing's own helper may stay, by design)
    assert [c for c in left if not any("resource_tracker" in a for a in c)] == []


def test_cli_filter_chunks_on_a_cluster_shows_progress(client, tmp_path, capsys):
    """``padlab filter --chunks --scheduler``: the blocks run on the cluster's workers, and the
    progress bar follows them there (local callbacks do not see a cluster's tasks)."""
    import tifffile
    import zarr

    image = np.random.default_rng(5).random((70, 50)).astype(np.float32)
    tifffile.imwrite(tmp_path / "big.tif", image)
    out = tmp_path / "out.zarr"
    code = main(
        ["filter", str(tmp_path / "big.tif"), "-k", "blur", "-m", "circular", "--chunks", "16",
         "-o", str(out), "--scheduler", client.scheduler.address]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "blocks [" in err and "20/20" in err  # 5 x 4 blocks, all seen finishing
    expected = padlab.correlate(image, padlab.get_kernel("blur"), mode="circular")
    np.testing.assert_array_equal(zarr.open(str(out), mode="r")[:], expected)
