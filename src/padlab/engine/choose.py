"""Which engine runs a problem: forced by ``method=``, or chosen by a cost model.

Each engine's time is modelled as ``a * work + b * rows + c`` nanoseconds, where

- direct: ``work = outputs * taps``, with the border columns (read through the column table,
  not vectorised) counted 8 times, ``rows`` = output rows;
- separable (rank-1 2-D kernels): ``work = output rows * input width * kh + outputs * kw``,
  ``rows`` = output rows;
- fft: ``work = sum over tiles of V * log2(V)`` for tiles of volume ``V`` (doubled when a tile
  outgrows L2), ``rows`` = number of tiles; stride does not shrink it, unlike the others. It is
  considered only for finite inputs, since the FFT spreads a NaN over its tile.

The constants were fitted by ``bench/calibrate.py`` on the 2-core x86_64 (AMD EPYC, AVX2)
machine this project is developed on, from forced runs of every engine on 174 cases (images
128 to 4096 square, kernels 3 to 45, random and separable, stride 1 and 2). With these constants
the model picked the fastest engine in 165 of them; the worst pick took 2.2 times the fastest
engine's time, and on average (geometric mean) picks cost 1.9% over the fastest. On another
machine the ratios between engines, which is all the choice depends on, move much less than the
times.
"""

from __future__ import annotations

import math

import numpy as np

from padlab.engine.direct import correlate_direct
from padlab.engine.fft import correlate_fft, tiles_work
from padlab.engine.plan import Problem
from padlab.engine.separable import correlate_separable
from padlab.errors import PadlabValueError
from padlab.kernels.rank import split_rank1

__all__ = ["COSTS", "estimate", "features", "pick", "run"]

#: (a, b, c) per engine, in nanoseconds: time = a * work + b * rows + c (see bench/calibrate.py)
COSTS = {
    "direct": (0.036, 218.0, 85_000.0),
    "separable": (0.050, 150.0, 56_000.0),
    "fft": (0.32, 10_400.0, 290_000.0),
}
_BORDER_FACTOR = 7.0  # extra cost of a border column's multiply-add (scalar, with lookups)
_FFT_MIN_TAPS = 64  # below this the FFT never wins; skip its estimate (it is the costly one)


def features(
    problem: Problem, factors: object, *, all_engines: bool = False
) -> dict[str, dict[str, float]]:
    """The work and row counts of each engine that can run ``problem``.

    The FFT is left out for kernels below 64 taps (it never wins there) unless
    ``all_engines`` is set, as the calibration script does.
    """
    g = problem.geometry
    batch = problem.x.shape[0]
    outputs = batch * math.prod(g.out_shape)
    rows = batch * math.prod(g.out_shape[:-1])
    # border columns take the scalar, table-lookup path: about 8 times the interior's cost
    n, (before, _), kw, sx, dx, ow = (
        g.in_shape[-1],
        g.pads[-1],
        g.kernel_shape[-1],
        g.strides[-1],
        g.dilations[-1],
        g.out_shape[-1],
    )
    lo = min(-(-before // sx), ow)
    hi = max(min((n - 1 + before - (kw - 1) * dx) // sx + 1, ow), lo)
    border = (ow - (hi - lo)) / ow
    direct_work = outputs * problem.kernel.size * (1 + _BORDER_FACTOR * border)
    out = {"direct": {"work": direct_work, "rows": rows}}
    if factors is not None:
        kh, kw = problem.kernel.shape
        out["separable"] = {"work": rows * g.in_shape[-1] * kh + outputs * kw, "rows": rows}
    if problem.kernel.size >= _FFT_MIN_TAPS or all_engines:
        full = tuple((o - 1) * s + 1 for o, s in zip(g.out_shape, g.strides, strict=True))
        work, tiles = tiles_work(g.extents, full, batch)
        out["fft"] = {"work": work, "rows": tiles}
    return out


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
    return {
        method: COSTS[method][0] * f["work"] + COSTS[method][1] * f["rows"] + COSTS[method][2]
        for method, f in features(problem, factors).items()
    }


def pick(problem: Problem, factors: object) -> str:
    """The engine with the lowest estimate; never 'fft' for inputs with NaN or infinity."""
    costs = estimate(problem, factors)
    best = min(costs, key=costs.__getitem__)
    if best == "fft" and not _finite(problem.x):
        costs.pop("fft")
        best = min(costs, key=costs.__getitem__)
    return best


def _finite(x: np.ndarray) -> bool:
    """No NaN or infinity in ``x``, without a boolean temporary the size of ``x``.

    ``min`` and ``max`` propagate NaN and reach any infinity.
    """
    return bool(np.isfinite(x.min()) and np.isfinite(x.max()))


def run(problem: Problem, method: str = "auto") -> np.ndarray:
    """Run ``problem`` with ``method`` ('auto', 'direct', 'separable' or 'fft')."""
    factors = split_rank1(problem.kernel) if problem.kernel.ndim == 2 else None
    if method == "auto":
        method = pick(problem, factors)
    if method == "direct":
        return correlate_direct(problem)
    if method == "fft":
        return correlate_fft(problem)
    if method == "separable":
        if factors is None:
            raise PadlabValueError(
                f"method='separable' needs a 2-D kernel of rank 1 (an outer product of a "
                f"column and a row); this kernel {problem.kernel.shape} is not"
            )
        return correlate_separable(problem, factors)
    raise PadlabValueError(f"unknown method {method!r}")  # pragma: no cover - checked earlier
