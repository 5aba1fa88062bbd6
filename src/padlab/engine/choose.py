"""Which engine runs a problem: forced by ``method=``, or chosen by a cost model.

The model estimates each engine's time from the work it does, with per-operation costs measured
on a 2-core x86_64 machine by ``bench/filters.py --calibrate`` (which also checks, case by case,
that 'auto' lands on the fastest engine or close to it):

- direct: ``outputs * taps``;
- separable (rank-1 2-D kernels): ``output rows * input width * kh + outputs * kw``;
- fft: ``tiles * F**d * log2(F**d)`` for tiles of ``F`` samples per axis (stride does not shrink
  it, unlike the others), plus a fixed cost per tile, and only for finite inputs, since the FFT
  spreads a NaN over its tile.

Each engine also has a fixed cost per call, so small problems never go to the FFT.
"""

from __future__ import annotations

import math

import numpy as np

from padlab.engine.direct import correlate_direct
from padlab.engine.fft import correlate_fft, fft_tile_size
from padlab.engine.plan import Problem
from padlab.engine.separable import correlate_separable, split_rank1
from padlab.errors import PadlabValueError

__all__ = ["estimate", "pick", "run"]

# nanoseconds per unit of work (see the module docstring); measured, not guessed
COST_DIRECT = 0.075  # per output and tap
COST_SEPARABLE = 0.11  # per multiply-add of either pass
COST_FFT = 0.55  # per F**d * log2(F**d) of every tile
COST_ROW = 40.0  # per output row and task: setup of the tap tables
COST_TILE = 25_000.0  # per FFT tile: gathering it, Python and thread overhead
_FFT_MIN_TAPS = 64  # below this the FFT never wins (checked by the benchmark); skip its estimate
COST_CALL = {"direct": 5_000.0, "separable": 5_000.0, "fft": 50_000.0}  # fixed cost per call


def estimate(problem: Problem, factors: object) -> dict[str, float]:
    """Estimated nanoseconds of each engine able to run ``problem``.

    Examples
    --------
    >>> import numpy as np
    >>> from padlab.ops.geometry import Geometry
    >>> p = Problem(np.zeros((1, 2048, 2048), np.float32), np.ones((31, 31), np.float32),
    ...             Geometry.resolve((2048, 2048), (31, 31)), (0, 0), 0.0)
    >>> costs = estimate(p, None)
    >>> costs["fft"] < costs["direct"]
    True
    """
    g = problem.geometry
    batch = problem.x.shape[0]
    outputs = batch * math.prod(g.out_shape)
    rows = batch * math.prod(g.out_shape[:-1])
    costs = {"direct": outputs * problem.kernel.size * COST_DIRECT + rows * COST_ROW}
    if factors is not None:
        kh, kw = problem.kernel.shape
        work = rows * g.in_shape[-1] * kh + outputs * kw
        costs["separable"] = work * COST_SEPARABLE + rows * COST_ROW
    if problem.kernel.size < _FFT_MIN_TAPS:
        return {method: cost + COST_CALL[method] for method, cost in costs.items()}
    full = [(o - 1) * s + 1 for o, s in zip(g.out_shape, g.strides, strict=True)]
    sizes = [fft_tile_size(span, n) for span, n in zip(g.extents, full, strict=True)]
    tiles = math.prod(
        -(-n // max(1, size - span + 1))
        for n, size, span in zip(full, sizes, g.extents, strict=True)
    )
    volume = math.prod(sizes)
    costs["fft"] = batch * tiles * volume * math.log2(max(volume, 2)) * COST_FFT + tiles * COST_TILE
    return {method: cost + COST_CALL[method] for method, cost in costs.items()}


def pick(problem: Problem, factors: object) -> str:
    """The engine with the lowest estimate; never 'fft' for inputs with NaN or infinity."""
    costs = estimate(problem, factors)
    best = min(costs, key=costs.__getitem__)
    if best == "fft" and not np.isfinite(problem.x).all():
        costs.pop("fft")
        best = min(costs, key=costs.__getitem__)
    return best


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
