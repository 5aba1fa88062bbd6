"""The engine layer: its decisions pinned on tables, its index tables, its memory guards.

The results of every engine against the reference loop and the oracle libraries are tested in
``test_correlate.py`` and ``test_correlate_oracles.py``; here: which engine runs what (one
table per decision, so a change of the cost model shows up as a changed row), reads through
padding, strides and dilations of any size, and outputs too large for memory.
"""

from __future__ import annotations

import ast
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import padlab
from padlab.engine import choose
from padlab.engine.plan import PLAN, Problem, axis_reads, interior
from padlab.geometry import Geometry
from padlab.kernels.rank import split_rank1
from padlab.modes.index import (
    CIRCULAR,
    CONSTANT,
    REFLECT,
    REPLICATE,
    SYMMETRIC,
    index_table,
    source_index,
    tap_table,
)
from padlab.modes.registry import resolve_mode
from padlab.ops.filtering import prepare, run_problem

ENGINE_DIR = Path(padlab.__file__).parent / "engine"


def _problem(size, k, *, separable=False, stride=1, batch=1, dilation=1):
    shape = (size, size) if isinstance(size, int) else size
    ks = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    x = rng.random((batch, *shape), dtype=np.float32)
    if separable:
        w = np.outer(rng.normal(size=ks[0]), rng.normal(size=ks[1])).astype(np.float32)
    else:
        w = rng.normal(size=ks).astype(np.float32)
    g = Geometry.resolve(shape, ks, "same", stride, dilation)
    return prepare(x, w, g, (resolve_mode("reflect"),) * len(shape)), split_rank1(w)


# (image, kernel, separable, stride, batch) -> the engine 'auto' runs. A change of the cost
# model's constants (bench/calibrate.py) changes rows here, on purpose and visibly.
AUTO_TABLE = [
    ((64, 3, False, 1, 1), "direct"),
    ((64, 3, True, 1, 1), "direct"),
    ((256, 3, False, 1, 1), "direct"),
    ((256, 5, True, 1, 1), "separable"),
    ((512, 3, True, 1, 1), "direct"),
    ((512, 9, True, 1, 1), "separable"),
    ((256, 15, False, 1, 1), "direct"),
    ((512, 15, False, 1, 1), "direct"),
    ((512, 31, False, 1, 1), "fft"),
    ((2048, 3, False, 1, 1), "direct"),
    ((2048, 3, True, 1, 1), "direct"),
    ((2048, 5, True, 1, 1), "separable"),
    ((2048, 9, False, 1, 1), "direct"),
    ((2048, 15, True, 1, 1), "separable"),
    ((2048, 31, False, 1, 1), "fft"),
    ((2048, 31, True, 1, 1), "separable"),
    ((2048, 31, False, 2, 1), "fft"),
    ((128, 3, False, 1, 256), "direct"),
    ((4096, 9, False, 1, 1), "direct"),
]


@pytest.mark.parametrize(("case", "engine"), AUTO_TABLE, ids=lambda v: str(v))
def test_auto_picks_the_pinned_engine(case, engine):
    size, k, separable, stride, batch = case
    problem, factors = _problem(size, k, separable=separable, stride=stride, batch=batch)
    assert choose.pick(problem, factors) == engine


def test_auto_never_picks_the_fft_for_non_finite_input():
    problem, factors = _problem(2048, 31)
    x = problem.x.copy()
    x[0, 5, 5] = np.nan
    nan_problem = Problem(x, problem.kernel, problem.geometry, problem.codes, problem.value)
    assert choose.pick(problem, factors) == "fft"
    assert choose.pick(nan_problem, factors) == "direct"


def test_the_fft_is_not_considered_for_a_kernel_spread_wider_than_memory():
    problem, factors = _problem(64, 9, dilation=10**6)
    assert "fft" not in choose.estimate(problem, factors)


@pytest.mark.parametrize(
    ("channels", "engine"),
    [
        ((3, 16, 9), "direct"),  # a first layer: few input channels
        ((64, 128, 9), "gemm"),  # a middle layer: many products per output, many outputs
        ((16, 32, 9), "gemm"),
        ((1, 1, 9), "direct"),  # depthwise
        ((8, 8, 49), "gemm"),
        ((4, 4, 9), "direct"),
    ],
)
def test_conv_nd_engine_choice_is_pinned(channels, engine):
    assert choose.pick_conv(*channels) == engine


@pytest.mark.parametrize(
    ("work", "threads", "tasks", "expected"),
    [
        (64 * 64 * 9, 2, 16, 16),  # serial: one chunk, the calling thread
        (256 * 256 * 9, 2, 16, 16),
        (512 * 512 * 9, 2, 16, 4),  # 5 chunks of about 0.5 M multiply-adds
        (256 * 256 * 25, 2, 16, 16),
        (320 * 320 * 25, 2, 16, 3),  # 6 chunks
        (1024 * 1024 * 9, 2, 16, 1),
        (1024 * 1024 * 5, 2, 16, 2),
        (4096 * 4096 * 9, 2, 16, 1),
        (4096 * 4096 * 9, 1, 16, 16),
    ],
)
def test_threading_decision_is_pinned(work, threads, tasks, expected):
    assert choose.per_chunk(tasks, work, threads) == expected
    assert choose.serial(work) == (work < choose.SERIAL_WORK)


@pytest.mark.parametrize(
    ("spans", "lengths", "sizes"),
    [
        ((31, 31), (2048, 2048), (192, 324)),
        ((3,), (10,), (12,)),
        ((15, 15), (512, 512), (192, 270)),
    ],
)
def test_fft_tiling_is_pinned(spans, lengths, sizes):
    assert choose.tile_sizes(spans, lengths) == sizes


CODES = [CONSTANT, REFLECT, SYMMETRIC, REPLICATE, CIRCULAR]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 12),
    before=st.integers(0, 40),
    code=st.sampled_from(CODES),
    outputs=st.integers(1, 12),
    stride=st.integers(1, 9),
    taps=st.integers(1, 6),
    dilation=st.integers(1, 9),
)
def test_tap_table_reads_what_the_padded_axis_holds(
    n, before, code, outputs, stride, taps, dilation
):
    table, out_step, tap_step = tap_table(n, before, code, outputs, stride, taps, dilation)
    last = (outputs - 1) * stride + (taps - 1) * dilation
    full = index_table(n, before, max(0, last + 1 - before - n), code)
    for o in range(outputs):
        for t in range(taps):
            assert table[o * out_step + t * tap_step] == full[o * stride + t * dilation]
    assert table.size <= min(last + 1, outputs * taps)  # never more than the reads
    assert not table.flags.writeable


@pytest.mark.parametrize("code", CODES)
def test_tap_table_with_positions_beyond_int64(code):
    big = 10**30
    table, out_step, tap_step = tap_table(5, big, code, 5, 1, 3, big)
    assert (out_step, tap_step) == (3, 1)
    for o in range(5):
        for t in range(3):
            assert table[o * 3 + t] == _source(o + t * big - big, 5, code)


def test_interior_is_the_range_of_outputs_whose_taps_are_all_real():
    for n, before, k, s, d in [(10, 1, 3, 1, 1), (9, 4, 3, 2, 3), (5, 0, 5, 1, 1), (4, 7, 2, 3, 1)]:
        out = (n + 2 * before - (k - 1) * d - 1) // s + 1
        expected = [o for o in range(out) if all(0 <= o * s + t * d - before < n for t in range(k))]
        assert list(interior(n, before, k, s, d, out)) == expected


def test_plan_record_has_named_fields_and_huge_geometry_stays_out_of_it():
    g = Geometry.resolve((3, 3), (3, 3), "same", dilation=10**30)
    reads = axis_reads(g, (REFLECT, REFLECT))
    assert all(not r.inner and r.before == r.stride == r.dilation == 0 for r in reads)
    assert {"groups", "rows_per_task", "before", "stride", "dilation", "lo", "hi"} <= set(
        PLAN.names
    )


def _source(position, n, code):
    """source_index of one position of any size (Python integers, not int64)."""
    return int(source_index(np.array([position], dtype=object), n, code)[0])


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _gather_oracle(x, w, pads, strides, dilations, code, out_shape):
    """out[o] = sum_t w[t] * x[source(o * s + t * d - before)] with Python integers."""
    out = np.zeros(out_shape)
    for oy in range(out_shape[0]):
        for ox in range(out_shape[1]):
            acc = 0.0
            for ky in range(w.shape[0]):
                for kx in range(w.shape[1]):
                    py = _source(oy * strides[0] + ky * dilations[0] - pads[0], x.shape[0], code)
                    px = _source(ox * strides[1] + kx * dilations[1] - pads[1], x.shape[1], code)
                    if py >= 0 and px >= 0:
                        acc += float(w[ky, kx]) * float(x[py, px])
            out[oy, ox] = acc
    return out


@pytest.mark.parametrize("method", ["auto", "direct", "reference"])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular", "replicate", "symmetric"])
@pytest.mark.parametrize("dilation", [3 * 10**7, 10**9, 10**30])
def test_huge_dilation_costs_what_the_output_reads(dilation, mode, method):
    x = np.arange(1.0, 10.0).reshape(3, 3)
    w = np.arange(1.0, 10.0).reshape(3, 3)
    if method == "reference":  # the reference pads a copy: too large, and it says so
        with pytest.raises(
            (padlab.PadlabMemoryError, padlab.PadlabValueError),
            match=r"would have shape .* bytes of|pad width .* is larger than the allowed",
        ):
            padlab.correlate(x, w, dilation=dilation, mode=mode, method=method)
        return
    padlab.correlate(x, w, dilation=dilation - 1, mode=mode, method=method)  # load the engine
    got, peak = _peak_bytes(
        lambda: padlab.correlate(x, w, dilation=dilation, mode=mode, method=method)
    )
    g = Geometry.resolve((3, 3), (3, 3), "same", 1, dilation)
    code = {"zeros": CONSTANT, "reflect": REFLECT, "circular": CIRCULAR}.get(mode)
    code = {"replicate": REPLICATE, "symmetric": SYMMETRIC}.get(mode, code)
    expected = _gather_oracle(x, w, [p[0] for p in g.pads], (1, 1), (dilation,) * 2, code, (3, 3))
    np.testing.assert_array_equal(got, expected)
    assert peak < 200_000


def test_conv_nd_engines_read_through_a_huge_dilation():
    rng = np.random.default_rng(2)
    x = rng.random((1, 2, 4, 4))
    w = rng.random((8, 2, 3, 3))
    d = 10**9
    results = [
        padlab.conv_nd(x, w, padding="same", dilation=d, mode="circular", method=m)
        for m in ("direct", "gemm")
    ]
    g = Geometry.resolve((4, 4), (3, 3), "same", 1, d)
    pads = [p[0] for p in g.pads]
    expected = np.zeros((8, 4, 4))
    for o in range(8):
        for c in range(2):
            expected[o] += _gather_oracle(x[0, c], w[o, c], pads, (1, 1), (d, d), CIRCULAR, (4, 4))
    for got in results:
        np.testing.assert_allclose(got[0], expected, rtol=1e-12)


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_a_huge_padding_is_a_memory_error_naming_the_shape_before_any_allocation(method):
    x = np.ones((3, 3), np.float32)
    with pytest.raises(padlab.PadlabMemoryError) as info:
        _peak_bytes(lambda: padlab.correlate(x, np.ones((3, 3)), padding=10**9, method=method))
    message = str(info.value)
    assert "(1, 2000000001, 2000000001)" in message
    assert "16000000016000000004 bytes of float32" in message
    assert "\n" not in message
    assert isinstance(info.value, MemoryError)
    tracemalloc.start()
    with pytest.raises(padlab.PadlabMemoryError):
        padlab.correlate(x, x, padding=10**9, method=method)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100_000


def test_a_large_padding_with_a_large_stride_reads_only_its_outputs():
    x = np.arange(1.0, 10.0).reshape(3, 3)
    w = np.ones((3, 3))
    padlab.correlate(x, w, padding=3 * 10**7 - 1, stride=10**7)  # load the engine
    got, peak = _peak_bytes(lambda: padlab.correlate(x, w, padding=3 * 10**7, stride=10**7))
    assert got.shape == (7, 7)
    assert peak < 200_000
    expected = np.zeros((7, 7))
    expected[3, 3] = (x * w).sum()  # the one output whose window lies on the image
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", ["auto", "direct", "separable", "fft"])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_a_stride_of_10_to_the_30_gives_the_first_output(padding, method):
    x = np.arange(25.0).reshape(5, 5)
    w = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
    got = padlab.correlate(x, w, padding=padding, stride=10**30, mode="reflect", method=method)
    expected = padlab.correlate(x, w, padding=padding, stride=5, mode="reflect", method=method)
    assert got.shape == (1, 1)
    np.testing.assert_array_equal(got, expected)


def test_the_output_can_be_given():
    problem, _ = _problem(64, 3)
    out = np.full(problem.out_shape, np.nan, np.float32)
    for method in ("direct", "fft", "auto"):
        result = choose.run(problem, method, out=out)
        assert result is out
        np.testing.assert_array_equal(out, choose.run(problem, method))
    with pytest.raises(padlab.PadlabValueError, match=r"out must be a writeable C-contiguous"):
        choose.run(problem, "direct", out=np.empty((1, 64, 64), np.float64))


def test_serial_and_threaded_runs_are_bitwise_equal(monkeypatch):
    problem, _ = _problem(300, 5, separable=True, batch=3)
    rules = (resolve_mode("reflect"),) * 2
    results = {}
    for serial_work in (0, 10**15):
        monkeypatch.setattr(choose, "SERIAL_WORK", serial_work)
        results[serial_work] = [
            run_problem(problem.x, problem.kernel, problem.geometry, rules, method=m)
            for m in ("direct", "separable")
        ]
    for a, b in zip(results[0], results[10**15], strict=True):
        assert a.tobytes() == b.tobytes()


def test_no_private_name_is_imported_across_engine_modules():
    offenders = []
    for path in sorted(ENGINE_DIR.glob("*.py")):
        if path.name == "warmup.py":  # compile notices: another module's business
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("padlab"):
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name[0] == "_"]
    assert offenders == []


def test_no_machine_measurements_in_engine_comments():
    for path in [*ENGINE_DIR.glob("*.py"), ENGINE_DIR.parent / "ops" / "cnn.py"]:
        text = path.read_text()
        for phrase in ("Measured on", "measured on the", "development machine", "AMD EPYC"):
            assert phrase not in text, f"{path.name}: {phrase!r}"


@pytest.mark.parametrize("engine", ["direct", "gemm"])
def test_conv_nd_engines_write_into_a_given_output(engine):
    from padlab.engine.direct import conv_direct
    from padlab.engine.gemm import conv_gemm

    rng = np.random.default_rng(3)
    x = rng.random((2, 4, 9, 7))
    w = rng.random((8, 4, 3, 3))
    g = Geometry.resolve((9, 7), (3, 3), "same", 2)
    fn = conv_direct if engine == "direct" else conv_gemm
    out = np.full((2, 8, *g.out_shape), np.nan)
    assert fn(x, w, 1, g, (REFLECT, REFLECT), 0.0, out) is out
    np.testing.assert_array_equal(out, fn(x, w, 1, g, (REFLECT, REFLECT), 0.0))


@pytest.mark.parametrize("shape", [(1,), (3, 1), (2, 9)])
def test_edge_columns_fuse_each_tap_into_its_sum(shape):
    """The direct engine's edge columns sum their taps in order, each float64 product fused
    into the running sum (one rounding per tap), the constant's products too: a constant
    product computed once and rounded apart moved these sums by one unit in the last place."""
    from fractions import Fraction

    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    k = rng.standard_normal((1,) * (len(shape) - 1) + (4,))
    value = -1.373
    got = padlab.correlate(x, k, mode="constant", value=value, method="direct")
    g = Geometry.resolve(x.shape, k.shape, "same")
    padded = np.pad(x, g.pads, constant_values=value)
    lo, hi = g.interior()[-1]
    edges = [col for col in range(shape[-1]) if not lo <= col < hi]
    assert edges
    for index in np.ndindex(*got.shape[:-1]):
        row = padded[index]
        for col in edges:
            acc = Fraction(0)
            for tap, w in enumerate(k.reshape(-1)):  # a fused multiply-add: one rounding
                acc = Fraction(float(acc + Fraction(w) * Fraction(row[col + tap])))
            assert got[(*index, col)] == float(acc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_sets_its_range_from_init_without_reading_it(dtype):
    """The shared multiply-add loop writes ``init + sum`` over [lo, hi) for every tap count
    and stride, whatever the output held (NaN here), and nothing outside that range."""
    from padlab._validate import readonly
    from padlab.engine.loops import SEGMENT, accumulate

    rng = np.random.default_rng(5)
    width = SEGMENT + 37  # two segments, the second short
    xf = readonly(rng.standard_normal(3 * width + 64).astype(dtype))
    init = dtype(-1.25)
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 17, 25):
        offs = rng.integers(0, 64, n).astype(np.uint64)
        wts = rng.standard_normal(n).astype(dtype)
        for sx in (1, 2):
            lo, hi = 3, width - 5
            orow = np.full(width, np.nan, dtype)
            accumulate(orow, xf, offs, wts, np.int64(n), np.uint64(lo), np.uint64(hi),
                       np.uint64(sx), init)  # fmt: skip
            cols = np.arange(lo, hi)
            want = init + sum(
                wts[t].astype(float) * xf[offs[t].astype(np.int64) + cols * sx] for t in range(n)
            )
            np.testing.assert_allclose(
                orow[lo:hi], want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5
            )
            assert np.isnan(orow[:lo]).all() and np.isnan(orow[hi:]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_pair_loops_sum_as_the_plain_loop(dtype):
    """The two pair loops themselves, at any width (accumulate_band gives them only wide
    rows): both rows bitwise as accumulate sums them, nothing written outside them."""
    from padlab._validate import readonly
    from padlab.engine.loops import _pair9, _pair_rows9, accumulate

    rng = np.random.default_rng(7)
    u = np.uint64
    for width in (5, 16, 70, 2100):
        for kh, kw in ((3, 3), (9, 9), (2, 9), (4, 9)):
            xf = readonly(rng.standard_normal((kh + 3) * width + kw + 8).astype(dtype))
            offs = np.array([ky * width + kx for ky in range(kh) for kx in range(kw)], u)
            n = kh * kw
            wts = rng.standard_normal(n).astype(dtype)
            init, first = dtype(-0.25), 3
            pairs = np.full(2 * width + 8, np.nan, dtype)
            plain = pairs.copy()
            if n == 9:
                _pair9(pairs, xf, offs, wts, u(first), u(first + width), u(width), init)
            else:
                _pair_rows9(pairs, xf, offs, wts, np.int64(n), u(first), u(width), init)
            accumulate(plain, xf, offs, wts, np.int64(n), u(first), u(first + 2 * width), u(1),
                       init)  # fmt: skip
            np.testing.assert_array_equal(pairs, plain, err_msg=f"{kh}x{kw} width {width}")
            assert np.isnan(pairs[:first]).all() and np.isnan(pairs[first + 2 * width :]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_band_of_row_pairs_sums_as_the_plain_loop(dtype):
    """accumulate_band computes a 3x3 kernel's band, and a band of kernels with rows of nine
    (9x9, 2x9, 5x9), two rows at a time where rows are wide enough: every output bitwise as
    accumulate sums it, for any start in a row, any number of rows (an odd last one), any
    width (wider than a segment too); other kernels, and taps that are not rows apart
    (dilated rows, a second plane), take accumulate itself."""
    from padlab._validate import readonly
    from padlab.engine.loops import accumulate, accumulate_band

    rng = np.random.default_rng(6)
    shapes = ((3, 3), (3, 3, 8), (5, 5), (9, 9), (2, 9), (5, 9), (9, 3), (2, 3, 3))
    cases = ((9, 5, 0, 1), (70, 8, 3, 1), (401, 5, 7, 1), (2100, 3, 5, 1), (64, 6, 2, 2))
    for width, rows, lo, dilation in cases:  # narrow (one band), 3x3 pairs, all pairs, dilated
        plane = (rows + 9 * dilation) * width + 9
        xf = readonly(rng.standard_normal(2 * plane).astype(dtype))
        for shape in shapes:
            if len(shape) == 3 and shape[2] == 8:  # a 3x3 kernel's first 8 taps
                taps = [(0, ky, kx) for ky in range(3) for kx in range(3)][:8]
            elif len(shape) == 3:  # 3x3 over two planes: rows of nine that are not rows apart
                taps = [(p, ky, kx) for p in range(2) for ky in range(3) for kx in range(3)]
            else:
                taps = [(0, ky, kx) for ky in range(shape[0]) for kx in range(shape[1])]
            offs = np.array([p * plane + ky * dilation * width + kx for p, ky, kx in taps],
                            np.uint64)  # fmt: skip
            n = len(taps)
            wts = rng.standard_normal(n).astype(dtype)
            init = dtype(0.5)
            hi = rows * width - 1
            pairs = np.full(rows * width, np.nan, dtype)
            plain = np.full(rows * width, np.nan, dtype)
            accumulate_band(pairs, xf, offs, wts, np.int64(n), np.uint64(lo), np.uint64(hi),
                            np.uint64(width), init)  # fmt: skip
            accumulate(plain, xf, offs, wts, np.int64(n), np.uint64(lo), np.uint64(hi),
                       np.uint64(1), init)  # fmt: skip
            np.testing.assert_array_equal(pairs, plain, err_msg=f"{shape} {width} {dilation}")
            assert np.isnan(pairs[:lo]).all() and np.isnan(pairs[hi:]).all()
            # and each output is its taps' sum (the order aside)
            q = np.arange(lo, hi, dtype=np.uint64)
            expected = init + (wts[:, None] * np.asarray(xf)[offs[:, None] + q]).sum(axis=0)
            np.testing.assert_allclose(plain[lo:hi], expected, rtol=1e-4, atol=1e-4)
