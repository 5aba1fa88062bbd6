"""Helper processes: padlab's one way of starting a second Python process of its own.

The warm-up compiles float64 in a helper while this process compiles float32
(:mod:`padlab.ops.warmup`), and the report draws figures in a helper while this process measures
(:mod:`padlab.report.drawing`). Both run one of padlab's modules with ``python -m``: a fresh
interpreter (safe whatever threads this process runs, unlike ``fork``) that never imports the
caller's ``__main__`` again (unlike :mod:`multiprocessing`'s ``spawn``, which would run a
script's unguarded top-level code a second time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["python_helper"]


def python_helper(
    module: str, *args: str, env: Mapping[str, str] | None = None, **popen: Any
) -> subprocess.Popen | None:
    """Start ``python -m module args...`` with this padlab importable; None if it cannot start.

    It cannot where ``sys.executable`` does not run modules (an embedded interpreter: uwsgi, a
    frozen application) or the system refuses a process. ``env`` adds to this process's
    environment; the other keywords go to :class:`subprocess.Popen` (stdin defaults to
    ``DEVNULL``). The helper runs in a session of its own, so signals from the terminal reach
    only the caller: the caller stops its helper when it stops.

    Examples
    --------
    >>> import subprocess
    >>> helper = python_helper("padlab._version", stdout=subprocess.DEVNULL)
    >>> helper is None or helper.wait() == 0
    True
    """
    if not Path(sys.executable or "").name.lower().startswith(("python", "pypy")):
        return None
    root = str(Path(__file__).resolve().parents[1])  # the directory holding padlab
    environ = dict(os.environ)
    environ.update(env or {})
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, environ.get("PYTHONPATH")) if p)
    popen.setdefault("stdin", subprocess.DEVNULL)
    # -P: the working directory is not put on the path (a padlab.py there would run instead);
    # a new session: a Ctrl-C at the terminal reaches the caller only, which stops its helper
    command = [sys.executable, "-P", "-m", module, *args]
    try:
        return subprocess.Popen(command, env=environ, start_new_session=True, **popen)
    except OSError:
        return None
