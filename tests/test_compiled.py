"""numba's disk cache is keyed by all of padlab's compiled sources (padlab._compiled).

numba itself keys a cached function by the one file that defines it: a kernel that inlines a
loop from another file would keep running the old loop from the cache after that file changed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import padlab
from padlab import _compiled

PACKAGE = Path(padlab.__file__).resolve().parent


def test_sources_are_every_module_that_defines_numba_functions():
    defining = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if re.search(
            r"^@(nb\.|numba\.)?(njit|jit|cfunc|vectorize|guvectorize|intrinsic|overload\w*)\b",
            path.read_text(),
            re.MULTILINE,
        )
    }
    assert defining == set(_compiled.SOURCES)


def test_every_cached_kernel_is_keyed_by_all_compiled_sources():
    import importlib

    from numba.core.registry import CPUDispatcher

    digest = _compiled.source_stamp()
    assert digest is not None
    keyed = 0
    for source in _compiled.SOURCES:
        module = importlib.import_module("padlab." + source.removesuffix(".py").replace("/", "."))
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module.__name__:
                cache_file = value._cache._cache_file
                assert cache_file._source_stamp == digest, f"{module.__name__}.{name}"
                keyed += 1
    assert keyed >= 20  # the engines' kernels and loops, the pool's waits, the PNG decoder


def test_source_stamp_reads_names_and_contents(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    first = _compiled.source_stamp((str(a), str(b)))
    a.write_text("x = 3\n")
    assert _compiled.source_stamp((str(a), str(b))) != first
    assert _compiled.source_stamp((str(a), str(tmp_path / "missing.py"))) is None


def test_a_change_in_an_inlined_helper_file_compiles_the_kernel_again(tmp_path):
    """The kernel in root.py inlines helper.py's function. numba alone would load the kernel
    of the first run from its cache after helper.py changed; keyed by both files, it
    compiles again and returns the new helper's value."""
    (tmp_path / "helper.py").write_text(
        textwrap.dedent(
            """
            import numba as nb

            @nb.njit(cache=True, inline="always")
            def value():
                return 1
            """
        )
    )
    (tmp_path / "root.py").write_text(
        textwrap.dedent(
            """
            import os
            import numba as nb
            from padlab._compiled import stamp_kernels
            from helper import value

            @nb.njit(cache=True)
            def kernel():
                return value()

            here = os.path.dirname(os.path.abspath(__file__))
            stamp_kernels(globals(), (os.path.join(here, "helper.py"), os.path.join(here, "root.py")))
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(PACKAGE.parent)])

    def run() -> str:
        code = "import root; print(root.kernel(), root.kernel.stats.cache_hits.total())"
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run() == ["1", "0"]  # compiled, saved
    assert run() == ["1", "1"]  # loaded from the cache
    helper = tmp_path / "helper.py"
    helper.write_text(helper.read_text().replace("return 1", "return 2"))
    assert run() == ["2", "0"]  # compiled again: helper.py is part of the key
