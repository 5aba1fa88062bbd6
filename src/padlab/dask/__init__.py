"""padlab on chunked images and clusters (Dask): exact seams, any rule, any geometry.

Needs the ``dask`` extra (``pip install padlab[dask]``); ``import padlab`` never loads it.

- :func:`correlate`, :func:`convolve`, :func:`pad`: the in-memory functions on dask arrays,
  lazily, with the same results (see :mod:`padlab.dask.filtering`);
- :func:`output_chunks`: the documented chunking of the output;
- :func:`compare_dataset`: :func:`padlab.compare` over a dataset on a cluster.
"""

from __future__ import annotations

try:
    import dask.array  # noqa: F401
except ImportError as err:  # pragma: no cover - the extra is installed in the test env
    from padlab.errors import PadlabDependencyError

    raise PadlabDependencyError(
        "padlab.dask needs Dask: pip install 'padlab[dask]' (dask[array,distributed], zarr, "
        "tifffile)"
    ) from err

from padlab.dask.dataset import DatasetReport, compare_dataset
from padlab.dask.filtering import convolve, correlate, output_chunks, pad

__all__ = ["DatasetReport", "compare_dataset", "convolve", "correlate", "output_chunks", "pad"]
