"""The PNG encoder, read back by Pillow and OpenCV (independent decoders)."""

from __future__ import annotations

import io
import os
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import padlab
from padlab.io.png import encode_png


def _pillow(data: bytes) -> np.ndarray:
    Image.open(io.BytesIO(data)).verify()  # checks every chunk's CRC
    return np.asarray(Image.open(io.BytesIO(data)))


def _opencv(data: bytes) -> np.ndarray:
    out = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if out.ndim == 3 and out.shape[2] == 3:
        return out[..., ::-1]  # BGR
    if out.ndim == 3 and out.shape[2] == 4:
        return out[..., [2, 1, 0, 3]]  # BGRA
    return out


@pytest.mark.parametrize("channels", [None, 3, 4])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (1100, 700)])  # the last is deflated in strips
def test_round_trip_uint8(shape, channels):
    full = shape if channels is None else (*shape, channels)
    x = np.random.default_rng(1).integers(0, 256, full, dtype=np.uint8)
    x[: shape[0] // 2] //= 16  # some compressible content too
    data = encode_png(x)
    np.testing.assert_array_equal(_pillow(data), x)
    np.testing.assert_array_equal(_opencv(data), x)


def test_round_trip_uint16_and_gray_alpha():
    x = np.random.default_rng(2).integers(0, 65536, (600, 1000), dtype=np.uint16)
    data = encode_png(x)
    np.testing.assert_array_equal(_opencv(data), x)  # 16 bits, big-endian in the file
    np.testing.assert_array_equal(_pillow(data).astype(np.uint16), x)
    la = np.random.default_rng(3).integers(0, 256, (5, 6, 2), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encode_png(la)))), la)


def test_strips_join_into_one_valid_zlib_stream():
    x = np.random.default_rng(4).integers(0, 4, (2000, 1000), dtype=np.uint8)
    data = encode_png(x)
    length = int.from_bytes(data[33:37], "big")
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41 : 41 + length])  # also checks the Adler-32 of the whole image
    rows = np.frombuffer(raw, np.uint8).reshape(2000, 1001)
    assert (rows[:, 0] == 0).all()
    np.testing.assert_array_equal(rows[:, 1:], x)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 40), w=st.integers(1, 40), c=st.sampled_from([0, 1, 2, 3, 4]),
    sixteen=st.booleans(), level=st.integers(1, 9),
)  # fmt: skip
def test_any_shape_and_level(h, w, c, sixteen, level):
    shape = (h, w) if c == 0 else (h, w, c)
    dtype = np.uint16 if sixteen else np.uint8
    x = np.random.default_rng(h * w).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    data = encode_png(x, level)
    if c == 2:  # OpenCV expands gray+alpha to BGRA
        bgra = _opencv(data)
        np.testing.assert_array_equal(bgra[..., 0], x[..., 0])
        np.testing.assert_array_equal(bgra[..., 3], x[..., 1])
    else:
        np.testing.assert_array_equal(_opencv(data).reshape(x.shape), x)


def test_bad_arrays_are_refused():
    with pytest.raises(TypeError, match="float32"):
        encode_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="at least one pixel"):
        encode_png(np.zeros((0, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(2, 2, 5\)"):
        encode_png(np.zeros((2, 2, 5), np.uint8))


def test_write_image_png_uses_it_and_reads_back(tmp_path):
    x = np.random.default_rng(5).integers(0, 256, (300, 200, 3), dtype=np.uint8)
    padlab.write_image(tmp_path / "a.png", x)
    np.testing.assert_array_equal(padlab.read_image(tmp_path / "a.png"), x)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~umask  # not private
    with pytest.raises(padlab.PadlabValueError, match="empty"):
        padlab.write_image(tmp_path / "b.png", np.zeros((0, 4), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_stream_split_over_several_idat_chunks(monkeypatch):
    import padlab.io.png as png

    monkeypatch.setattr(png, "_MAX_CHUNK", 1000)  # as a >2 GiB stream is split at 1 GiB
    x = np.random.default_rng(6).integers(0, 256, (1200, 700, 3), dtype=np.uint8)
    data = encode_png(x)
    assert data.count(b"IDAT") > 100
    np.testing.assert_array_equal(_pillow(data), x)
    np.testing.assert_array_equal(_opencv(data), x)


def test_big_endian_and_non_contiguous_input():
    x = np.random.default_rng(8).integers(0, 65536, (40, 30), dtype=np.uint16)
    np.testing.assert_array_equal(_opencv(encode_png(x.astype(">u2"))), x)
    np.testing.assert_array_equal(_opencv(encode_png(x.T)), x.T)


def test_write_image_big_endian(tmp_path):
    x = np.random.default_rng(9).integers(0, 65536, (20, 10), dtype=np.uint16)
    padlab.write_image(tmp_path / "a.png", x.astype(">u2"))
    np.testing.assert_array_equal(padlab.read_image(tmp_path / "a.png"), x)
