"""Compiled waits for padlab's thread pool: a thread that waits here holds no GIL and makes no
system call, so it sees new work within a microsecond.

A thread that sleeps on a lock or a condition needs the system to wake it, and on a virtual
machine that took 60 to 100 us per hand-off (2 cores, KVM): more than a 256x256 3x3 filter
takes. :mod:`padlab._threads` lets its helper threads wait here for a while (about half a
millisecond) after each job before they sleep, and the calling thread waits here for its
helpers, as OpenMP runtimes do. Registered with the pool when this module is imported (by the
engines, which import numba anyway): ``import padlab`` alone never loads it.
"""

from __future__ import annotations

import platform
import time
from typing import Any

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from padlab._compiled import stamp_kernels
from padlab._threads import set_spinner

__all__ = ["wait_change", "wait_idle", "warm_up"]


#: the CPU's spin-wait hint, where there is one as an LLVM intrinsic (x86 ``pause``)
_PAUSE = "llvm.x86.sse2.pause" if platform.machine().lower() in ("x86_64", "amd64") else None


def _relax_typed(typingctx: Any) -> Any:  # pragma: no cover - compiled
    """The CPU's spin-wait hint (x86 ``pause``; nothing elsewhere)."""
    sig = types.void()

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        if _PAUSE is not None:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), _PAUSE
            )
            builder.call(fn, [])
        return context.get_dummy_value()

    return sig, codegen


def _item(context: Any, builder: Any, signature: Any, args: Any) -> Any:
    """The address of ``flags[index]`` (the compiled code of ``_read`` and ``_clear``)."""
    array_type, index_type = signature.args
    array = context.make_array(array_type)(context, builder, args[0])
    where = context.cast(builder, args[1], index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, array, [where])


def _read_typed(typingctx: Any, flags: Any, index: Any) -> Any:  # pragma: no cover
    """``flags[index]`` read from memory every time (an atomic load with acquire order: never
    hoisted out of a loop, and what the other thread wrote before it is seen after it)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.load_atomic(_item(context, builder, signature, args), "acquire", 8)

    return types.int64(flags, index), codegen


def _clear_typed(typingctx: Any, flags: Any, index: Any) -> Any:  # pragma: no cover
    """``flags[index] = 0`` (an atomic store with release order: what this thread wrote before
    it is seen by a thread that reads the 0)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        zero = ir.Constant(ir.IntType(64), 0)
        builder.store_atomic(zero, _item(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return types.void(flags, index), codegen


# numba's compiled-code builders, called from the compiled functions below (typed Any: what
# they are called with is checked by numba, not by a type checker)
_relax: Any = intrinsic(_relax_typed)
_read: Any = intrinsic(_read_typed)
_clear: Any = intrinsic(_clear_typed)


@nb.njit(cache=True, nogil=True)
def wait_change(flags, index, old, rounds, settle, done):  # pragma: no cover - compiled
    """Set ``flags[done] = 0``, then wait until ``flags[index] != old``, at most ``rounds``
    spin rounds; True if it changed.

    A helper thread marks the end of its part of a job here (``done``: its slot), once it has
    let go of the GIL: the thread waiting for it then never finds the GIL held by it (a thread
    that finds the GIL held sleeps, and waking it costs what the spin saved).

    Once it has changed, ``settle`` more rounds pass before returning (the thread that changed
    it is then, most likely, in its own compiled code and not holding the GIL that the waiter
    takes next)."""
    _clear(flags, done)
    for _ in range(rounds):
        if _read(flags, index) != old:
            for _ in range(settle):
                _relax()
            return True
        _relax()
    return _read(flags, index) != old


@nb.njit(cache=True, nogil=True)
def wait_idle(flags, first, rounds):  # pragma: no cover - compiled
    """Wait until ``flags[first:]`` are all 0, at most ``rounds`` spin rounds; True if so."""
    n = flags.shape[0]
    for _ in range(rounds):
        busy = False
        for i in range(first, n):
            if _read(flags, i) != 0:
                busy = True
                break
        if not busy:
            return True
        _relax()
    for i in range(first, n):
        if _read(flags, i) != 0:
            return False
    return True


def warm_up() -> None:
    """Compile (or load) both waits, as the first job of the pool would."""
    flags = np.zeros(2, np.int64)
    wait_change(flags, 0, 0, 1, 0, 1)
    wait_idle(flags, 1, 1)


def _rounds_per_second() -> float:
    """Spin rounds per second on this machine (a pause's length varies from CPU to CPU by 10x)."""
    flags = np.zeros(2, np.int64)
    warm_up()  # loaded (or compiled) first
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        wait_change(flags, 0, 0, 20_000, 0, 1)
        best = min(best, time.perf_counter() - start)
    return 20_000 / max(best, 1e-6)


stamp_kernels(globals())  # cached by all of padlab's compiled sources (see padlab._compiled)

# measured on first use, not here: calling a compiled function loads numba's registries
if not getattr(nb.config, "DISABLE_JIT", False):  # the intrinsics run in compiled code only
    set_spinner(wait_change, wait_idle, _rounds_per_second)
