"""numpy's and scipy's own tests, run against padlab through thin shims.

numpy ships ``numpy/lib/tests/test_arraypad.py`` in its wheel. A subprocess replaces
``numpy.pad`` by :func:`numpy_pad_shim` (which only translates numpy's argument names to
padlab's) and runs that file. Every test must pass except the ones listed in
:data:`NOT_APPLICABLE`, each with the reason it does not apply; a listed test that starts to
pass fails this test too, so the list stays honest.

scipy's 2-D correlation tests (``scipy/signal/tests/test_signaltools.py``, classes
``TestConvolve2d`` and ``TestCorrelate2d``: 'full'/'same'/'valid' with fill, wrap and symmetric
boundaries) run the same way against ``padlab.correlate``/``padlab.convolve``
(:data:`SCIPY_NOT_APPLICABLE`). scipy.ndimage's correlate tests are not run: nearly all of
them pass ``output=`` arrays or ``origin=`` shifts, which padlab's geometry (``padding=``,
``convention=``) expresses differently, so a shim would be a reimplementation, not a shim.

The shims ignore ``match=`` in ``pytest.raises``: padlab's messages are worded differently
(they name the value and what is allowed), but the exception *class* must be the one the
library raises (a padlab error derives from ``ValueError`` or ``TypeError`` as theirs do),
except where padlab follows the rule "a wrong type is a TypeError" and they do not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy

import padlab

NUMPY_TESTS = Path(np.__file__).parent / "lib" / "tests" / "test_arraypad.py"
SCIPY_TESTS = Path(scipy.__file__).parent / "signal" / "tests" / "test_signaltools.py"

SCIPY_NOT_APPLICABLE = {
    "TestConvolve2d::test_valid_mode_complx[": "complex arrays: padlab filters real arrays",
    "TestConvolve2d::test_valid_mode2[": "complex arrays: padlab filters real arrays",
    # a list as fill value is a wrong type: PadlabTypeError, where scipy raises ValueError
    "TestConvolve2d::test_fillvalue_errors[": "fillvalue=[1, 2] is a TypeError in padlab",
    "TestConvolve2d::test_fillvalue_empty[": "fillvalue=[] is a TypeError in padlab",
    "TestConvolve2d::test_invalid_dims[": "padlab correlates 1-D and 3-D arrays too",
}

# test id (a prefix if it ends with "[" or "::") -> why it does not apply to padlab.pad
NOT_APPLICABLE = {
    # object arrays: padlab computes on numbers only (a PadlabTypeError, on purpose)
    "TestConstant::test_check_object_array": "object arrays are refused (numeric only)",
    "TestLinearRamp::test_object_array": "object arrays are refused (numeric only)",
    "test_object_input[": "object arrays are refused (numeric only)",
    # numpy's per-axis constant/end values: padlab's value is one scalar per call
    "TestConstant::test_check_constant_pad_2d": "per-axis constant_values; padlab's value is a scalar",
    "TestConstant::test_check_constant": "(before, after) constant_values; padlab's value is a scalar",
    "TestConstant::test_check_constant_float3": "(before, after) constant_values; padlab's value is a scalar",
    "TestConstant::test_check_constant_float": "value 1.1 on an int array: padlab refuses, numpy truncates silently",
    "TestStatistic::test_zero_stat_length_valid[": "stat_length=0 is refused (a statistic of nothing), not NaN",
    # a callable mode (numpy's legacy vector API)
    "test_legacy_vector_functionality": "a function as mode; padlab's rules are named",
    # padlab's options have defaults (value=0, end_values=0, stat_length=None): an option
    # passed at its default cannot be told from one left out, and reflect_type is a rule
    # of its own in padlab (reflect_odd, symmetric_odd)
    "test_kwargs[": "options at their default values are indistinguishable from omitted ones",
    # a mode that is not a string is a wrong *type*: PadlabTypeError, where numpy raises
    # ValueError (the rule: wrong type -> TypeError, wrong value -> ValueError)
    "test_unsupported_mode[1]": "a non-string mode is a TypeError in padlab",
    "test_unsupported_mode[mode2]": "a non-string mode is a TypeError in padlab",
    "test_unsupported_mode[None]": "a non-string mode is a TypeError in padlab",
    "test_unsupported_mode[True]": "a non-string mode is a TypeError in padlab",
    "test_unsupported_mode[False]": "a non-string mode is a TypeError in padlab",
    # padlab always returns a C-contiguous array
    "test_memory_layout_persistence[": "padlab returns C-contiguous arrays, also for F input",
}


def numpy_pad_shim(array, pad_width, mode="constant", **kwargs):
    """``numpy.pad``'s signature over :func:`padlab.pad`: names translated, nothing else.

    Examples
    --------
    >>> numpy_pad_shim(np.array([1, 2, 3]), 2, "edge")
    array([1, 1, 1, 2, 3, 3, 3])
    """
    options = {}
    if "constant_values" in kwargs:
        options["value"] = kwargs.pop("constant_values")
    for key in ("end_values", "stat_length"):
        if key in kwargs:
            options[key] = kwargs.pop(key)
    if mode == "empty":  # numpy leaves the padding undefined; zeros is one such padding
        mode = "zeros"
    elif isinstance(mode, str):
        odd = mode in ("reflect", "symmetric") and kwargs.get("reflect_type") == "odd"
        if mode in ("reflect", "symmetric"):
            kwargs.pop("reflect_type", None)
        mode = f"{mode}_odd" if odd else f"numpy:{mode}"
    return padlab.pad(array, pad_width, mode, **options, **kwargs)


# scipy.signal's boundary names -> padlab rules
_BOUNDARY = {"fill": "constant", "wrap": "circular", "symm": "symmetric"}


def scipy_2d_shim(function):
    """``scipy.signal.correlate2d``/``convolve2d``'s signature over a padlab function.

    Only conventions are translated: the boundary names, 'valid' with the inputs swapped when
    the second is the larger (scipy swaps them), and integer inputs giving integer outputs
    (padlab computes them in float; the shim checks the values are whole before casting).

    Examples
    --------
    >>> scipy_2d_shim(padlab.correlate)([[1, 2], [3, 4]], [[1, 1]], "same", "wrap")
    array([[3, 3],
           [7, 7]])
    """
    flip = function is padlab.correlate

    def shim(in1, in2, mode="full", boundary="fill", fillvalue=0):
        a, b = np.asarray(in1), np.asarray(in2)
        swap = (
            mode == "valid"
            and a.ndim == b.ndim
            and a.shape != b.shape
            and all(x <= y for x, y in zip(a.shape, b.shape, strict=True))
        )
        if swap:
            a, b = b, a
        rule = _BOUNDARY.get(boundary, boundary) if isinstance(boundary, str) else boundary
        out = function(a, b, mode=rule, padding=mode, value=fillvalue)
        if swap and flip:  # correlating the swapped pair reverses the result
            out = out[::-1, ::-1]
        kind = np.result_type(a, b)
        if kind.kind in "biu":
            assert np.array_equal(out, np.rint(out)), "an integer correlation that is not whole"
            out = out.astype(kind)
        return out

    return shim


class _ScipyPatch:
    """Replace the test module's correlate2d/convolve2d after collection (scipy's test
    decorators look the originals up while collecting)."""

    def pytest_runtest_setup(self, item) -> None:
        item.module.correlate2d = scipy_2d_shim(padlab.correlate)
        item.module.convolve2d = scipy_2d_shim(padlab.convolve)


def install() -> None:
    """In the subprocess only: numpy.pad becomes the shim; ``match=`` is not checked."""
    np.pad = numpy_pad_shim
    raises = pytest.raises

    def raises_same_class(expected, *args, match=None, **kwargs):
        return raises(expected, *args, **kwargs)

    pytest.raises = raises_same_class


class _Collect:
    def __init__(self) -> None:
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            key = report.nodeid.split("::", 1)[1]
            if self.outcomes.get(key) in (None, "passed"):
                self.outcomes[key] = "xfailed" if hasattr(report, "wasxfail") else report.outcome


def run_suite(test_file: str, result_file: str, *selection: str) -> int:
    """Run ``test_file`` with the shims installed; write every test's outcome as JSON."""
    install()
    collect = _Collect()
    ini = Path(result_file).with_suffix(".ini")
    ini.write_text("[pytest]\n")
    options = ["-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(ini.parent)]
    status = pytest.main(
        [test_file, *options, *selection],
        plugins=[collect, _ScipyPatch()],
    )
    Path(result_file).write_text(json.dumps(collect.outcomes))
    return int(status)


def _matches(test_id: str, key: str) -> bool:
    return test_id.startswith(key) if key.endswith(("[", "::")) else test_id == key


def _reason(test_id: str, table: dict[str, str]) -> str | None:
    return next((why for key, why in table.items() if _matches(test_id, key)), None)


def _run_and_check(tmp_path, test_file, table, minimum, *selection):
    assert Path(test_file).is_file(), f"the library's test file is missing: {test_file}"
    result = tmp_path / "outcomes.json"
    tests = Path(__file__).parent
    code = (
        f"import sys; sys.path.insert(0, {str(tests)!r}); import test_pad_suites as s; "
        f"sys.exit(s.run_suite({str(test_file)!r}, {str(result)!r}, *{list(selection)!r}))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    outcomes = json.loads(result.read_text())
    assert len(outcomes) >= minimum, proc.stdout[-2000:] + proc.stderr[-2000:]
    unexpected_failures = sorted(
        t for t, o in outcomes.items() if o == "failed" and _reason(t, table) is None
    )
    assert not unexpected_failures, proc.stdout[-4000:]
    stale = sorted(
        t for t, o in outcomes.items() if o == "passed" and _reason(t, table) is not None
    )
    assert not stale, f"these tests now pass, remove them from the table: {stale}"
    for prefix in table:
        assert any(_matches(t, prefix) for t in outcomes), f"no numpy test matches {prefix!r}"
    skipped = sorted(t for t, o in outcomes.items() if o == "skipped")
    assert not skipped


@pytest.mark.slow
def test_numpy_pad_suite_passes_against_padlab_pad(tmp_path):
    _run_and_check(tmp_path, NUMPY_TESTS, NOT_APPLICABLE, 500)


@pytest.mark.slow
def test_scipy_2d_correlation_suite_passes_against_padlab(tmp_path):
    _run_and_check(
        tmp_path, SCIPY_TESTS, SCIPY_NOT_APPLICABLE, 20, "-k", "Convolve2d or Correlate2d"
    )


def test_numpy_width_forms_and_zero_d_arrays_match_numpy():
    x = np.arange(6.0).reshape(2, 3)
    for width in (((1,), (2,)), [(1,), (2,)], ((1,),), (3,), np.array([[1], [2]])):
        np.testing.assert_array_equal(padlab.pad(x, width), np.pad(x, width))
    zero_d = np.array(5.0)
    out = padlab.pad(zero_d, 2)
    assert isinstance(out, np.ndarray) and out.shape == () and out[()] == 5.0
    assert out is not zero_d


@pytest.mark.parametrize(
    "width",
    [
        "3",
        3.4,
        None,
        complex(1, -1),
        ((-2.1, 3), (3, 2)),
        np.array(((2, 3, 4), (3, 2)), dtype=object),
        np.array([1.0, 2.0]),
    ],
)
def test_a_width_of_the_wrong_type_is_a_type_error_as_in_numpy(width):
    x = np.ones((6, 5))
    with pytest.raises(TypeError):
        np.pad(x, width)
    with pytest.raises(padlab.PadlabTypeError):
        padlab.pad(x, width)


@pytest.mark.parametrize(
    "width",
    [
        -2,
        (3, -1),
        ((1, 2), (3, 4), (5, 6)),
        (4, 5, 6, 7),
        ((1, 2, 3), (4, 5, 6)),
        np.ones((1, 1, 2), dtype=int),  # was a TypeError: a wrong structure, not a wrong type
        (((1, 2),),),  # was taken as (1, 2)
        [[[1, 2], [3, 4]]],
    ],
)
def test_a_width_of_the_wrong_value_is_a_value_error_as_in_numpy(width):
    x = np.ones((6, 5))
    with pytest.raises(ValueError):
        np.pad(x, width)
    with pytest.raises(padlab.PadlabValueError):
        padlab.pad(x, width)


@pytest.mark.parametrize("value", [[], "a", None, [1, 2], {}])
def test_a_fill_value_of_the_wrong_type_is_a_type_error(value):
    x = np.ones((4, 4))
    with pytest.raises(padlab.PadlabTypeError):
        padlab.pad(x, 1, "constant", value=value)
    with pytest.raises(padlab.PadlabTypeError):
        padlab.correlate(x, np.ones((3, 3)), mode="constant", value=value)
