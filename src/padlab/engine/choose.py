"""Every engine decision in one place: which engine runs a problem, how the FFT tiles it, and
whether the work is worth waking the thread pool.

Decisions, each a small function with its constants beside it (pinned by ``tests/test_engine.py``
on a table of problems):

- :func:`pick` (``correlate``/``convolve``): forced by ``method=``, or the engine with the lowest
  estimated time. Each engine's time is modelled as ``a * work + b * rows + c`` nanoseconds:

  - direct: ``work = outputs * taps``, with the edge columns (read through the column table,
    not vectorised) counted ``1 + BORDER_FACTOR`` times, all of it ``STRIDED_FACTOR`` times
    with a column stride, ``rows`` = output rows;
  - separable (rank-1 2-D kernels): ``work = output rows * input width * kh + outputs * kw``,
    ``rows`` = output rows;
  - fft: ``work = sum over tiles of V * log2(V)`` for tiles of volume ``V`` (doubled when a tile
    outgrows the L2 cache), ``rows`` = number of tiles; stride does not shrink it, unlike the
    others. It is considered only for finite inputs, since the FFT spreads a NaN over its tile.

  The constants are fitted by ``bench/calibrate.py`` (forced runs of every engine on a grid of
  images, kernels, strides); it prints how often the model picks the fastest engine. Only the
  ratios between engines matter to the choice, and they move much less between machines than
  the times do.
- :func:`pick_conv` (``conv_nd``): direct or GEMM (im2col + BLAS) from the channel counts.
- :func:`tile_sizes` (the FFT engine): the tile lengths per axis, within a memory budget
  (:func:`fft_max_volume`).
- :func:`serial` and :func:`per_chunk`: below a few million multiply-adds, handing work to
  another thread risks more than it saves, and the calling thread does it alone; above, the
  work is cut into chunks small enough that a thread scheduled late holds nobody up for long;
  :func:`brief` work does not wait for a sleeping helper to wake.

The engines are imported only when :func:`run` needs them (they load numba).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from functools import cache, lru_cache

import numpy as np

from padlab._threads import threads as thread_count
from padlab._validate import allocate
from padlab.engine.plan import Problem, interior
from padlab.errors import PadlabValueError
from padlab.geometry import Geometry
from padlab.kernels.rank import split_rank1

__all__ = [
    "COSTS",
    "bind",
    "brief",
    "estimate",
    "features",
    "fft_max_volume",
    "fft_module",
    "per_chunk",
    "pick",
    "pick_conv",
    "ranking",
    "run",
    "serial",
    "tile_sizes",
    "tiles_work",
]

#: (a, b, c) per engine, in nanoseconds: time = a * work + b * rows + c (see bench/calibrate.py).
#: For the FFT, "rows" are its tiles. Refitted on 30 Nov 2026 after the direct engine's first
#: pass began assigning its sums and the FFT's tiles grew (:data:`FFT_MIN_SCRATCH`), to 169
#: timed cases (`python bench/calibrate.py --quick` plus 256-4096 with 11x11 to 45x45 kernels,
#: strides 1 and 2), searching the constants that pick the fastest engine most often with the
#: fixed costs held at a call's measured overhead (about 15 us): 159 of 169 (was 146), 28 of
#: the 30 stride-1 cases from 512x512 up (was 25; the FFT had been picked for 15x15 at up to
#: 1.96 times the direct engine's time). The misses: direct vs separable for rank-1 kernels,
#: 3x3 at 512 and 1024 and 5x5 at 64 (1.04-1.38x, near-ties whose winner flips between
#: runs), direct vs FFT for 17x17 to 25x25 at 256-1024 and 15x15 at 4096 (1.01-2.1x), and
#: 64x64 31x31 stride 2 (2.5x of 0.1 ms).
COSTS = {
    "direct": (0.022, 60.0, 15_000.0),
    "separable": (0.044, 60.0, 15_000.0),
    "fft": (0.2, 150_000.0, 100_000.0),
}
#: extra cost of an edge column's multiply-add (scalar, with table lookups), over an interior one
BORDER_FACTOR = 7.0
#: cost of a direct multiply-add with a column stride, relative to stride 1 (the strided rows
#: are read through a polyphase copy, row by row, instead of one flat loop)
STRIDED_FACTOR = 2.0
#: below this many taps the FFT never wins (up to 11x11); its estimate (the costly one) is skipped
FFT_MIN_TAPS = 128
#: dilated kernels larger than this (in samples) are never transformed
FFT_MAX_KERNEL = 2**30
#: below this many multiply-adds (about 0.1 ms on one core) the calling thread works alone. The
#: pool's helpers watch for work without sleeping for a while after each job (see
#: padlab.engine.spin), so a hand-off costs 5 to 10 us, not the 60 to 100 us of waking a
#: sleeping thread on a virtual machine. Measured in one process, alternating with the calling
#: thread alone (2 cores, shared): 512x512 3x3 (2.4 M) 111-122 -> 80-93 us, 320x320 5x5 (2.6 M)
#: 133 -> 103 us, 256x256 9x9 227 -> 183 us; 256x256 5x5 (1.6 M) 71-75 us alone, 55-80 us on
#: two threads, and 0.70x cv2 in bench/filters.py's matrix against 0.86x alone.
SERIAL_WORK = 2_000_000
#: below this many multiply-adds (about 0.4 ms on one core), a job that finds every helper
#: asleep is done by the calling thread alone, and the helpers are woken for the next job. In a
#: burst of calls after other work (a loop that decodes, filters and encodes; a benchmark that
#: alternates libraries), the first call found them asleep and took longer than alone:
#: measured in one process, alternating, each sample of calls after 3 ms of other work (2
#: cores, shared), 512x512 3x3 198 -> 139 us per call (its first call 390 -> 291 us), 512x512
#: 5x5 304 -> 263 us, 256x256 9x9 254 -> 233 us; 1024x1024 3x3 (9.4 M) 564 -> 802 us.
BRIEF_WORK = 8_000_000
#: parallel work is cut into chunks of at least this many multiply-adds, and into up to
#: CHUNKS_PER_THREAD chunks per thread, so that a thread the system schedules late (a shared
#: machine) leaves its chunks to the others instead of making them wait
CHUNK_WORK = 400_000
CHUNKS_PER_THREAD = 8

# The FFT tile model: a real FFT pair costs FFT_NS_PER_UNIT ns per V * log2(V) for a tile of
# volume V, twice that once the tile's spectrum outgrows the L2 cache (L2_VOLUME samples, about
# 256 KiB of complex64 spectrum), plus FFT_NS_PER_TILE of gathering and Python per tile.
FFT_NS_PER_UNIT = 0.5
FFT_NS_PER_TILE = 60_000.0
L2_VOLUME = 256 * 256
# The FFT's scratch memory: a tile in flight holds about FFT_SCRATCH_ITEMS samples of the
# compute dtype per tile sample (the gathered tile, its half spectrum of complex numbers, the
# inverse), one tile per thread. The tiles are kept to FFT_SCRATCH_SHARE of the input's size,
# or FFT_MIN_SCRATCH bytes for inputs below 15 MiB (2048x2048 float32 and larger keep the
# tenth): tiles within a tenth of a small image are mostly overlap and per-tile work. 1.5 MiB
# instead of 384 KiB (two threads, reflect, one process, 30 Nov 2026): 512x512 31x31 6.6-7.9 ->
# 3.2 ms (cv2.filter2D 3.7-3.8), 512x512 15x15 6.0-6.5 -> 2.9 ms, 1024x1024 15x15 17-18 -> 7.9
# ms, 256x256 31x31 2.3-2.4 -> 1.2 ms; 1 MiB got most of it at 256 and 512, not at 1024.
FFT_SCRATCH_ITEMS = 3
FFT_SCRATCH_SHARE = 0.1
FFT_MIN_SCRATCH = 1536 * 1024


def serial(work: float) -> bool:
    """True if ``work`` multiply-adds are done faster by the calling thread alone.

    Examples
    --------
    >>> serial(256 * 256 * 9), serial(512 * 512 * 9)
    (True, False)
    """
    return work < SERIAL_WORK


def brief(work: float) -> bool:
    """True if ``work`` multiply-adds, shared between the threads, take less time than it
    takes to wake a sleeping helper thread and profit from it: such a job runs on the
    calling thread when every helper sleeps (:meth:`padlab._threads.Team.run`).

    Examples
    --------
    >>> brief(512 * 512 * 9), brief(1024 * 1024 * 9)
    (True, False)
    """
    return work < BRIEF_WORK


def per_chunk(tasks: int, work: float, threads: int) -> int:
    """Tasks per chunk handed to a thread, for ``tasks`` tasks of ``work`` multiply-adds in all.

    Examples
    --------
    >>> per_chunk(16, 1024 * 1024 * 9, threads=2)
    1
    >>> per_chunk(16, 4096 * 4096 * 9, threads=2)
    1
    """
    if threads <= 1 or serial(work):
        return max(1, tasks)
    chunks = min(tasks, CHUNKS_PER_THREAD * threads, max(threads, int(work // CHUNK_WORK)))
    return max(1, -(-tasks // chunks))


def pick_conv(in_per_group: int, out_per_group: int, taps: int) -> str:
    """``conv_nd``'s engine: 'gemm' when each output sums many products (input channels times
    taps) and many outputs share the gathered patches, else 'direct'.

    The direct engine sums taps over all channels in one pass (best with few channels, such as
    a first layer or depthwise layers); GEMM pays for gathering the patches once and then runs
    at BLAS speed.

    Examples
    --------
    >>> pick_conv(3, 16, 9), pick_conv(64, 128, 9), pick_conv(1, 1, 9)
    ('direct', 'gemm', 'direct')
    """
    return "gemm" if in_per_group * taps >= 64 and out_per_group >= 8 else "direct"


def features(
    problem: Problem, factors: object, *, all_engines: bool = False
) -> dict[str, dict[str, float]]:
    """The work and row counts of each engine that can run ``problem``.

    The FFT is left out for kernels below :data:`FFT_MIN_TAPS` taps (it never wins there), and
    for dilated kernels of more than :data:`FFT_MAX_KERNEL` samples (a transform that size would
    not fit in memory), unless ``all_engines`` is set, as the calibration script does.
    """
    return _features(
        problem.geometry,
        problem.x.shape[0],
        problem.kernel.shape,
        factors is not None,
        all_engines,
        problem.x.itemsize,
    )


def _features(
    g: Geometry,
    batch: int,
    kernel_shape: tuple[int, ...],
    separable: bool,
    all_engines: bool,
    itemsize: int = 4,
) -> dict[str, dict[str, float]]:
    outputs = batch * math.prod(g.out_shape)
    rows = batch * math.prod(g.out_shape[:-1])
    taps = math.prod(kernel_shape)
    # edge columns take the scalar, table-lookup path
    n, (before, _), kw, sx, dx, ow = (
        g.in_shape[-1],
        g.pads[-1],
        g.kernel_shape[-1],
        g.strides[-1],
        g.dilations[-1],
        g.out_shape[-1],
    )
    inner = interior(n, before, kw, sx, dx, ow)
    border = (ow - len(inner)) / ow
    direct_work = outputs * taps * (1 + BORDER_FACTOR * border) * (STRIDED_FACTOR if sx > 1 else 1)
    out = {"direct": {"work": direct_work, "rows": rows}}
    if separable:
        kh, kw = kernel_shape
        out["separable"] = {"work": rows * g.in_shape[-1] * kh + outputs * kw, "rows": rows}
    fits = math.prod(g.extents) <= FFT_MAX_KERNEL
    if (taps >= FFT_MIN_TAPS and fits) or all_engines:
        full = tuple((o - 1) * s + 1 for o, s in zip(g.out_shape, g.strides, strict=True))
        limit = fft_max_volume(batch * math.prod(g.in_shape), itemsize, batch)
        work, tiles = tiles_work(g.extents, full, batch, limit)
        out["fft"] = {"work": work, "rows": tiles}
    return out


def _costs(features: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        method: COSTS[method][0] * f["work"] + COSTS[method][1] * f["rows"] + COSTS[method][2]
        for method, f in features.items()
    }


def estimate(problem: Problem, factors: object) -> dict[str, float]:
    """Estimated nanoseconds of each engine able to run ``problem``.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.geometry import Geometry
    >>> p = Problem(np.zeros((1, 2048, 2048), np.float32), np.ones((31, 31), np.float32),
    ...             Geometry.resolve((2048, 2048), (31, 31)), (0, 0), 0.0)
    >>> costs = estimate(p, None)
    >>> costs["fft"] < costs["direct"]
    True
    """
    return _costs(features(problem, factors))


def pick(problem: Problem, factors: object) -> str:
    """The engine with the lowest estimate; never 'fft' for inputs with NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.geometry import Geometry
    >>> x = np.zeros((1, 512, 512), np.float32)
    >>> p = Problem(x, np.ones((3, 3), np.float32), Geometry.resolve((512, 512), (3, 3)),
    ...             (0, 0), 0.0)
    >>> pick(p, None)
    'direct'
    """
    best, finite_only = ranking(problem, factors)
    if best == "fft" and not _finite(problem.x):
        return finite_only
    return best


def ranking(problem: Problem, factors: object) -> tuple[str, str]:
    """The cheapest engine for ``problem``, and the cheapest other than the FFT, from its
    shapes alone (:func:`pick` then looks at the data for the FFT)."""
    return _ranking(
        problem.geometry,
        problem.x.shape[0],
        problem.kernel.shape,
        factors is not None,
        problem.x.itemsize,
    )


@lru_cache(maxsize=1024)
def _ranking(
    geometry: Geometry, batch: int, kernel_shape: tuple[int, ...], separable: bool, itemsize: int
) -> tuple[str, str]:
    """The cheapest engine, and the cheapest other than the FFT (cached: problems repeat)."""
    costs = _costs(_features(geometry, batch, kernel_shape, separable, False, itemsize))
    best = min(costs, key=costs.__getitem__)
    costs.pop("fft", None)
    return best, min(costs, key=costs.__getitem__)


def _finite(x: np.ndarray) -> bool:
    """No NaN or infinity in ``x``, without a boolean temporary the size of ``x``.

    ``min`` and ``max`` propagate NaN and reach any infinity.
    """
    return bool(np.isfinite(x.min()) and np.isfinite(x.max()))


@cache
def fft_module():
    """scipy.fft, imported on first use (0.4 s: too much for every ``import padlab``)."""
    import scipy.fft

    return scipy.fft


def fft_max_volume(
    input_samples: int, itemsize: int, batch: int, share: float | None = None
) -> float:
    """The largest FFT tile (in samples per batch item) whose scratch fits the budget:
    ``share`` of the input's size (None: :data:`FFT_SCRATCH_SHARE`), at least
    :data:`FFT_MIN_SCRATCH` bytes.

    Examples
    --------
    >>> fft_max_volume(2048 * 2048, 4, 1) >= 192 * 324   # 10% of a 16 MiB input
    True
    >>> abs(fft_max_volume(4096 * 4096, 4, 1) * thread_count() - 559240) < 50  # shared by threads
    True
    """
    if share is None:
        share = FFT_SCRATCH_SHARE
    budget = max(share * input_samples * itemsize, FFT_MIN_SCRATCH)
    return float(budget // (FFT_SCRATCH_ITEMS * itemsize * thread_count() * batch))


def tile_sizes(
    spans: tuple[int, ...], lengths: tuple[int, ...], max_volume: float = math.inf
) -> tuple[int, ...]:
    """FFT lengths per axis that minimise the estimated time of all tiles together.

    ``spans`` are the dilated kernel spans, ``lengths`` the stride-1 output lengths. Each axis
    tries every number of tiles ``m`` (up to a bound), with ``F = next_fast_len(ceil(n / m) +
    span - 1)``; the cost of a combination is its number of tiles times the FFT cost of one
    tile (doubled when a tile outgrows L2) plus a fixed cost per tile. Tiles larger than
    ``max_volume`` samples are left out, unless no tile is that small (then the smallest).

    Examples
    --------
    >>> tile_sizes((31, 31), (2048, 2048))
    (192, 324)
    >>> tile_sizes((3,), (10,))
    (12,)
    """
    options = []
    limit = 40 if len(spans) <= 2 else 10
    for span, n in zip(spans, lengths, strict=True):
        axis: dict[int, int] = {}
        for m in range(1, min(n, limit) + 1):
            size = fft_module().next_fast_len(-(-n // m) + span - 1, real=True)
            tiles = -(-n // (size - span + 1))
            axis.setdefault(size, tiles)
        options.append(sorted(axis.items()))
    best, best_cost = None, math.inf
    smallest, smallest_volume = None, math.inf
    for combo in itertools.product(*options):
        volume = math.prod(size for size, _ in combo)
        if volume < smallest_volume:
            smallest, smallest_volume = tuple(size for size, _ in combo), volume
        if volume > max_volume:
            continue
        tiles = math.prod(t for _, t in combo)
        per_tile = volume * math.log2(max(volume, 2)) * FFT_NS_PER_UNIT
        if len(spans) > 1 and volume > L2_VOLUME:
            per_tile *= 2
        cost = tiles * (per_tile + FFT_NS_PER_TILE)
        if cost < best_cost:
            best, best_cost = tuple(size for size, _ in combo), cost
    chosen = best or smallest
    assert chosen is not None
    return chosen


def tiles_work(
    spans: tuple[int, ...], lengths: tuple[int, ...], batch: int, max_volume: float = math.inf
) -> tuple[float, int]:
    """The FFT engine's work: ``(sum over tiles of V * log2(V), number of tiles)``.

    ``V`` is a tile's volume (doubled when it outgrows L2), counted once per batch item.
    """
    sizes = tile_sizes(spans, lengths, max_volume)
    volume = math.prod(sizes)
    tiles = math.prod(
        -(-n // (size - span + 1)) for n, size, span in zip(lengths, sizes, spans, strict=True)
    )
    units = volume * math.log2(max(volume, 2))
    if len(spans) > 1 and volume > L2_VOLUME:
        units *= 2
    return tiles * batch * units, tiles


def run(problem: Problem, method: str = "auto", out: np.ndarray | None = None) -> np.ndarray:
    """Run ``problem`` with ``method`` ('auto', 'direct', 'separable' or 'fft').

    ``out``, if given, receives the result: a C-contiguous array of shape
    ``problem.out_shape`` and the problem's dtype, not overlapping ``problem.x`` (the engines
    write it while they read the input). Else the result is allocated with
    :func:`padlab._validate.allocate` before anything else.
    """
    if out is not None and (
        out.shape != problem.out_shape
        or out.dtype != problem.x.dtype
        or not out.flags.c_contiguous
        or not out.flags.writeable
    ):
        raise PadlabValueError(
            f"out must be a writeable C-contiguous {problem.x.dtype} array of shape "
            f"{problem.out_shape}, got {out.dtype} {out.shape}"
        )
    if method == "auto":
        factors = split_rank1(problem.kernel) if problem.kernel.ndim == 2 else None
        method = pick(problem, factors)
    if method == "fft":
        from padlab.engine.fft import correlate_fft

        return correlate_fft(problem, out)
    if method not in ("direct", "separable"):  # pragma: no cover - checked earlier
        raise PadlabValueError(f"unknown method {method!r}")
    if out is None:  # first: an output too large is refused before any table is made
        out = allocate(
            problem.out_shape, problem.x.dtype, f"the output for input {problem.x.shape}"
        )
    call = bind(problem, method)
    assert call is not None
    return call(problem.x, out)


def bind(
    problem: Problem, method: str = "auto", allocated: tuple[int, ...] | None = None
) -> Callable[[np.ndarray, np.ndarray | None], np.ndarray] | None:
    """The engine for problems like ``problem`` (the same geometry, rules, kernel and input
    shape and dtype), prepared once: ``call(x, out=None)`` runs it on such an input, into a
    new output of shape ``allocated`` (default ``problem.out_shape``) or into ``out``.

    None for the FFT ('auto' picking it included): its choice depends on the data (no NaN or
    infinity), so every call goes through :func:`run`.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.geometry import Geometry
    >>> x = np.ones((1, 8, 8), np.float32)
    >>> p = Problem(x, np.ones((3, 3), np.float32), Geometry.resolve((8, 8), (3, 3)), (0, 0), 0.0)
    >>> call = bind(p)
    >>> float(call(2 * x)[0, 4, 4]), float(call(3 * x)[0, 0, 0])
    (18.0, 12.0)
    """
    factors = (
        split_rank1(problem.kernel)
        if problem.kernel.ndim == 2 and method in ("auto", "separable")
        else None
    )
    if method == "auto":  # as pick(), without looking at the data
        method, _ = ranking(problem, factors)
    if method == "direct":
        from padlab.engine.direct import bind_direct

        return bind_direct(problem, allocated)
    if method == "separable":
        if factors is None:
            raise PadlabValueError(
                f"method='separable' needs a 2-D kernel of rank 1 (an outer product of a "
                f"column and a row); this kernel {problem.kernel.shape} is not"
            )
        from padlab.engine.separable import bind_separable

        return bind_separable(problem, factors, allocated)
    return None
