"""What padlab runs with: version, threads, engines, compiled-kernel cache, dependencies.

:func:`show_config` prints it, like ``numpy.show_config()``; ``padlab info`` is the same on the
command line (``--json`` for a machine-readable copy). Dependency versions are read from the
installed package metadata (:mod:`importlib.metadata`), so nothing heavy is imported: torch and
dask are reported without being loaded.
"""

from __future__ import annotations

import json
import os
import platform
import sys

__all__ = ["DEPENDENCIES", "config", "show_config"]

#: Distributions reported, and whether padlab needs them (False: an optional extra).
DEPENDENCIES = {
    "numpy": True,
    "scipy": True,
    "numba": True,
    "llvmlite": True,
    "Pillow": True,
    "matplotlib": True,
    "jinja2": True,
    "torch": False,
    "dask": False,
}

#: The engines behind each function's ``method=``.
ENGINES = {
    "correlate, convolve": ("auto", "direct", "separable", "fft", "reference"),
    "conv_nd": ("auto", "direct", "gemm", "reference"),
}


def _version(distribution: str) -> str | None:
    from importlib import metadata  # 90 ms of imports: not at ``import padlab``

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cache() -> dict[str, object]:
    """Where numba caches the kernels and whether they are all there (loads numba)."""
    try:
        from padlab.ops import warmup

        return {
            "directory": warmup.cache_dir(),
            "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR"),
            "all_kernels_compiled": warmup.cached(),
        }
    except Exception as err:  # numba missing or broken: say so, do not fail
        return {"directory": None, "error": f"{type(err).__name__}: {err}"}


def config(*, cache: bool = True) -> dict[str, object]:
    """padlab's configuration as a dictionary (what :func:`show_config` prints).

    ``cache=False`` skips the compiled-kernel section, which loads numba.

    Examples
    --------
    >>> info = config(cache=False)
    >>> sorted(info)
    ['dependencies', 'engines', 'padlab', 'python', 'threads']
    >>> info["threads"]["count"] >= 1
    True
    """
    from padlab import __version__
    from padlab._threads import THREAD_VARIABLES, WAIT_VARIABLES, thread_config

    threads = thread_config()
    out: dict[str, object] = {
        "padlab": {"version": __version__, "location": os.path.dirname(__file__)},
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "threads": {
            "count": threads.threads,
            "source": threads.source,
            "wait": f"{threads.wait} ({threads.wait_source})",
            "variables": {
                name: os.environ.get(name) for name in (*THREAD_VARIABLES, *WAIT_VARIABLES)
            },
            "pool": "padlab's own thread pool (numba kernels run with nogil; numba's "
            "threading layer is not used)",
        },
        "engines": {name: list(methods) for name, methods in ENGINES.items()},
        "dependencies": {
            name: {"version": _version(name), "required": required}
            for name, required in DEPENDENCIES.items()
        },
    }
    if cache:
        out["compiled_kernels"] = _cache()
    return out


def _text(info: dict[str, object]) -> str:
    lines = []
    for section, values in info.items():
        lines.append(f"{section}:")
        for key, value in values.items():  # type: ignore[attr-defined]
            if section == "dependencies":
                version = value["version"] or (
                    "not installed" + ("" if value["required"] else " (optional)")
                )
                lines.append(f"  {key}: {version}")
            elif isinstance(value, dict):
                shown = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
                lines.append(f"  {key}: {shown or 'none set'}")
            elif isinstance(value, list):
                lines.append(f"  {key}: {', '.join(value)}")
            else:
                lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def show_config(mode: str = "stdout") -> dict[str, object] | None:
    """Print padlab's configuration, like ``numpy.show_config()``.

    Parameters
    ----------
    mode : {'stdout', 'dicts', 'json'}, default 'stdout'
        'stdout' prints a readable listing; 'dicts' returns the dictionary instead; 'json'
        prints it as JSON.

    Returns
    -------
    dict or None
        The configuration with ``mode='dicts'``: the padlab version and location, Python,
        the worker threads and where that number came from (``PADLAB_NUM_THREADS``,
        ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, the cgroup CPU quota or the CPU affinity)
        and whether they wait for work actively (``PADLAB_WAIT_POLICY``, ``OMP_WAIT_POLICY``),
        the engines, numba's cache directory of the compiled kernels and whether all are
        compiled, and the versions of the dependencies (torch and dask are optional).

    Examples
    --------
    >>> import padlab
    >>> padlab.show_config()  # doctest: +ELLIPSIS
    padlab:
      version: ...
    threads:
      count: ...
      source: ...
    >>> padlab.show_config("dicts")["dependencies"]["numpy"]["required"]
    True
    """
    from padlab.errors import PadlabValueError

    if mode not in ("stdout", "dicts", "json"):
        raise PadlabValueError(f"show_config: mode={mode!r}; allowed: 'stdout', 'dicts', 'json'")
    info = config()
    if mode == "dicts":
        return info
    print(json.dumps(info, indent=2) if mode == "json" else _text(info))
    return None
