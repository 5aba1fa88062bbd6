"""padlab.dask against dask-image and dask.array.pad: agreement where they are right, and a
record of where they are wrong (checked against scipy / numpy in memory)."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from dask_image import ndfilters

import padlab
import padlab.dask as pdd

pytestmark = pytest.mark.dask

CHUNKS = ((10, 20, 7, 27), (15, 15, 30))  # 64 x 60
# scipy.ndimage names -> padlab rules
SCIPY = {"reflect": "symmetric", "mirror": "reflect", "nearest": "replicate", "constant": "zeros"}


@pytest.fixture(autouse=True, scope="module")
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _image(seed=0):
    return np.random.default_rng(seed).standard_normal((64, 60))


@pytest.mark.parametrize("scipy_mode", list(SCIPY))
@pytest.mark.parametrize("ksize", [(3, 3), (5, 7), (9, 9)])
def test_agrees_with_dask_image_where_it_is_right(scipy_mode, ksize):
    x = _image()
    k = np.random.default_rng(1).standard_normal(ksize)
    chunked = da.from_array(x, chunks=CHUNKS)
    theirs = ndfilters.correlate(chunked, k, mode=scipy_mode).compute()
    ours = pdd.correlate(chunked, k, mode=SCIPY[scipy_mode], convention="scipy")
    assert ours.chunks == chunked.chunks  # 'same' at stride 1 keeps the input chunks
    np.testing.assert_allclose(ours.compute(), theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(theirs, ndi.correlate(x, k, mode=scipy_mode), rtol=0, atol=1e-12)


def test_dask_image_wrap_is_wrong_for_uniform_and_gaussian_padlab_is_right():
    x = _image(2)
    chunked = da.from_array(x, chunks=CHUNKS)
    # uniform 5x5 with wrap: dask-image wraps each edge chunk onto itself
    theirs = ndfilters.uniform_filter(chunked, 5, mode="wrap").compute()
    truth = ndi.uniform_filter(x, 5, mode="wrap")
    assert np.abs(theirs - truth).max() > 0.1
    ours = pdd.correlate(chunked, np.full((5, 5), 1 / 25), mode="circular", convention="scipy")
    np.testing.assert_allclose(ours.compute(), truth, rtol=0, atol=1e-12)
    # gaussian sigma=2 with wrap, same story; padlab gets scipy's kernel from a delta
    theirs = ndfilters.gaussian_filter(chunked, 2, mode="wrap").compute()
    truth = ndi.gaussian_filter(x, 2, mode="wrap")
    assert np.abs(theirs - truth).max() > 0.05
    delta = np.zeros(17)
    delta[8] = 1
    g1 = ndi.gaussian_filter1d(delta, 2, mode="constant")  # radius 8 = 4 sigma
    ours = pdd.correlate(chunked, np.outer(g1, g1), mode="circular")
    np.testing.assert_allclose(ours.compute(), truth, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("width", "mode", "kwargs"),
    [
        (7, "reflect", {}),
        (6, "symmetric", {}),
        (6, "wrap", {}),
        (2, "reflect", {"reflect_type": "odd"}),
        (2, "mean", {"stat_length": 7}),
    ],
)
def test_dask_array_pad_is_wrong_here_padlab_is_numpy(width, mode, kwargs):
    x = np.arange(1.0, 6.0)
    chunked = da.from_array(x, chunks=2)
    truth = np.pad(x, width, mode, **kwargs)
    theirs = da.pad(chunked, width, mode, **kwargs).compute()
    assert theirs.shape != truth.shape or not np.allclose(theirs, truth)
    rule = {"wrap": "circular"}.get(mode, mode)
    if kwargs.get("reflect_type") == "odd":
        rule, kwargs = "reflect_odd", {}
    ours = pdd.pad(chunked, width, rule, **kwargs).compute()
    np.testing.assert_array_equal(ours, padlab.pad(x, width, rule, **kwargs))
    np.testing.assert_allclose(ours, truth, rtol=0, atol=1e-12)


def test_dask_array_pad_refuses_median_padlab_pads_it():
    x = da.from_array(np.arange(1.0, 6.0), chunks=2)
    with pytest.raises(NotImplementedError):
        da.pad(x, 3, "median")
    np.testing.assert_array_equal(
        pdd.pad(x, 3, "median").compute(), np.pad(np.arange(1.0, 6.0), 3, "median")
    )


def test_map_overlap_merges_chunks_padlab_keeps_them():
    x = da.from_array(np.arange(8.0), chunks=(3, 3, 2))
    merged = x.map_overlap(lambda b: b, depth=4, boundary="reflect")
    assert merged.chunks != x.chunks  # dask merged the chunks to fit the halo
    ours = pdd.correlate(x, np.ones(9), mode="symmetric")
    assert ours.chunks == x.chunks
    np.testing.assert_array_equal(
        ours.compute(), padlab.correlate(np.arange(8.0), np.ones(9), mode="symmetric")
    )
