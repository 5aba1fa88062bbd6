"""Images in and out: every format and mode, made here with Pillow; EXIF; float conversion."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import padlab
from padlab.io.images import FORMATS


def _gradient(h: int = 6, w: int = 8, channels: int = 0, dtype=np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max
    base = (np.arange(h * w).reshape(h, w) * (top // (h * w))).astype(dtype)
    if not channels:
        return base
    return np.stack([np.roll(base, c, axis=1) for c in range(channels)], axis=-1)


LOSSLESS = [".png", ".tif", ".bmp", ".webp"]


@pytest.mark.parametrize("ext", LOSSLESS)
@pytest.mark.parametrize("channels", [0, 3])
def test_lossless_round_trip_uint8(tmp_path, ext, channels):
    image = _gradient(channels=channels)
    path = tmp_path / f"a{ext}"
    options = {"lossless": True} if ext == ".webp" else {}
    Image.fromarray(image).save(path, **options)  # written by Pillow, read by padlab
    got = padlab.read_image(path)
    if ext == ".webp" and channels == 0:
        got = padlab.to_gray(got)  # WebP stores grayscale as RGB
    np.testing.assert_array_equal(got, image)
    padlab.write_image(tmp_path / f"b{ext}", image)  # written by padlab, read by Pillow
    if ext != ".webp":
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"b{ext}")), image)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg"])
@pytest.mark.parametrize("channels", [0, 3])
def test_jpeg_round_trip_is_close(tmp_path, ext, channels):
    image = np.full((16, 16) if not channels else (16, 16, 3), 120, dtype=np.uint8)
    padlab.write_image(tmp_path / f"a{ext}", image)
    got = padlab.read_image(tmp_path / f"a{ext}")
    assert got.shape == image.shape and got.dtype == np.uint8
    assert np.abs(got.astype(int) - 120).max() <= 2


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_sixteen_bit_grayscale_round_trip(tmp_path, ext):
    image = _gradient(dtype=np.uint16)
    padlab.write_image(tmp_path / f"a{ext}", image)
    got = padlab.read_image(tmp_path / f"a{ext}")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, image)
    # and a 16-bit file written by Pillow itself
    Image.fromarray(image).save(tmp_path / f"b{ext}")
    np.testing.assert_array_equal(padlab.read_image(tmp_path / f"b{ext}"), image)


@pytest.mark.parametrize("ext", [".png", ".webp"])
def test_rgba_keeps_or_drops_alpha(tmp_path, ext):
    image = _gradient(channels=4)
    image[..., 3] = 200
    Image.fromarray(image, mode="RGBA").save(tmp_path / f"a{ext}", lossless=True)
    kept = padlab.read_image(tmp_path / f"a{ext}")
    assert kept.shape == (6, 8, 4)
    assert (kept[..., 3] == 200).all()
    assert padlab.read_image(tmp_path / f"a{ext}", alpha="drop").shape == (6, 8, 3)


@pytest.mark.parametrize(
    ("mode", "expected_shape"),
    [("P", (6, 8, 3)), ("LA", (6, 8, 4)), ("1", (6, 8)), ("CMYK", (6, 8, 3)), ("I", (6, 8))],
)
def test_other_modes_become_standard_arrays(tmp_path, mode, expected_shape):
    source = Image.fromarray(_gradient(channels=3)).convert(mode)
    ext = ".tif" if mode in ("CMYK", "I") else ".png"
    source.save(tmp_path / f"a{ext}")
    got = padlab.read_image(tmp_path / f"a{ext}")
    assert got.shape == expected_shape
    assert got.dtype in (np.uint8, np.uint16)


def test_exif_orientation_is_honoured(tmp_path):
    image = np.zeros((4, 10, 3), dtype=np.uint8)
    image[0, :] = 255  # a white top row
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(image).save(tmp_path / "rot.jpg", exif=exif, quality=100)
    got = padlab.read_image(tmp_path / "rot.jpg")
    assert got.shape == (10, 4, 3)  # displayed upright: tall
    assert got[:, -1].mean() > 200  # the white row is now the right column


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not an image"),
        (b"this is not a picture", "not an image"),
    ],
)
def test_non_images_are_named(tmp_path, content, match):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(padlab.PadlabFileError, match=f"bad.png: {match}"):
        padlab.read_image(path)


def test_truncated_image_is_named(tmp_path):
    Image.fromarray(_gradient(64, 64, 3)).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(padlab.PadlabFileError, match=r"cut.png: cannot read the image"):
        padlab.read_image(tmp_path / "cut.png")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(padlab.PadlabFileError, match=r"nope.png: no such file"):
        padlab.read_image(tmp_path / "nope.png")
    with pytest.raises(padlab.PadlabFileError, match=r"is a directory"):
        padlab.read_image(tmp_path)


@pytest.mark.parametrize(
    ("name", "array", "error", "match"),
    [
        ("a.gif", np.zeros((2, 2), np.uint8), padlab.PadlabValueError, r"unknown image extension"),
        ("a.png", np.zeros((2, 2), np.float32), padlab.PadlabTypeError, r"padlab.display"),
        ("a.jpg", np.zeros((2, 2), np.uint16), padlab.PadlabValueError, r"16-bit images"),
        ("a.tif", np.zeros((2, 2, 3), np.uint16), padlab.PadlabValueError, r"16-bit images"),
        ("a.jpg", np.zeros((2, 2, 4), np.uint8), padlab.PadlabValueError, r"cannot store an alpha"),
        ("a.png", np.zeros((2, 2, 2), np.uint8), padlab.PadlabValueError, r"is not \(H, W\)"),
    ],
)
def test_write_refuses_what_the_format_cannot_hold(tmp_path, name, array, error, match):
    with pytest.raises(error, match=match):
        padlab.write_image(tmp_path / name, array)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(padlab.PadlabFileError, match=r"does not exist"):
        padlab.write_image(tmp_path / "no" / "a.png", np.zeros((2, 2), np.uint8))


@pytest.mark.parametrize(
    ("name", "failing"),
    [("a.bmp", "pillow save"), ("a.png", "rename"), ("a.png", "write")],
)
def test_write_is_atomic_when_saving_fails(tmp_path, monkeypatch, name, failing):
    import padlab._files

    padlab.write_image(tmp_path / name, np.zeros((2, 2), np.uint8))
    before = (tmp_path / name).read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    if failing == "pillow save":
        monkeypatch.setattr(Image.Image, "save", boom)
    elif failing == "rename":
        monkeypatch.setattr(padlab._files.os, "replace", boom)
    else:
        real_fdopen = padlab._files.os.fdopen

        class Full:
            def __init__(self, fd, mode):
                self.handle = real_fdopen(fd, mode)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def write(self, data):
                self.handle.write(data[: len(data) // 2])
                raise OSError("disk full")

        monkeypatch.setattr(padlab._files.os, "fdopen", Full)
    with pytest.raises(padlab.PadlabFileError, match="disk full"):
        padlab.write_image(tmp_path / name, np.full((2, 2), 255, np.uint8))
    assert (tmp_path / name).read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_every_listed_extension_is_writable(tmp_path):
    for ext in FORMATS:
        padlab.write_image(tmp_path / f"x{ext}", np.zeros((3, 3, 3), np.uint8))
        assert padlab.read_image(tmp_path / f"x{ext}").shape[:2] == (3, 3)


def test_float_conversion():
    np.testing.assert_allclose(padlab.to_float(np.array([0, 255], np.uint8)), [0, 1])
    np.testing.assert_allclose(padlab.to_float(np.array([0, 65535], np.uint16)), [0, 1])
    assert padlab.to_float(np.array([0.5], np.float16)).dtype == np.float32
    np.testing.assert_array_equal(padlab.from_float(np.array([0, 0.5, 1.0])), [0, 128, 255])
    np.testing.assert_array_equal(
        padlab.from_float(np.array([0, 1.0]), np.uint16), np.array([0, 65535], np.uint16)
    )
    with pytest.raises(padlab.PadlabValueError, match=r"outside \[0, 1\]"):
        padlab.from_float(np.array([-0.1, 0.5]))
    with pytest.raises(padlab.PadlabValueError, match="non-finite"):
        padlab.from_float(np.array([np.nan]))
    with pytest.raises(padlab.PadlabTypeError, match="white level"):
        padlab.to_float(np.array([1, 2], np.int32))


def test_gray_and_resize():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    np.testing.assert_array_equal(padlab.to_gray(rgb), np.full((2, 2), 150, np.uint8))
    assert padlab.resize(_gradient(20, 30, 3), (10, 15)).shape == (10, 15, 3)
    assert padlab.resize(_gradient(dtype=np.uint16), (3, 4)).dtype == np.uint16
    with pytest.raises(padlab.PadlabValueError, match="positive"):
        padlab.resize(_gradient(), (0, 4))


def test_sample_photo():
    photo = padlab.sample_image()
    assert photo.shape == (600, 512, 3) and photo.dtype == np.uint8
    gray = padlab.sample_image(gray=True)
    assert gray.shape == (600, 512)
    assert 50 < gray.mean() < 200  # a photo, not a blank frame


# --- display mappings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ("clip", [0.0, 0.0, 0.25, 1.0]),
        ("abs", [0.5, 0.0, 0.25, 1.0]),
        ("symmetric", [0.5 - 0.5 / 3, 0.5, 0.5 + 0.25 / 3, 1.0]),
        ("minmax", [0.0, 0.25, 0.375, 1.0]),
    ],
)
def test_display_mappings(mapping, expected):
    mapped = padlab.display(np.array([-0.5, 0.0, 0.25, 1.5]), mapping)
    np.testing.assert_allclose(mapped.pixels, expected, rtol=1e-6)
    assert mapped.summary.startswith(f"{mapping}: ")


def test_display_reports_what_it_did():
    assert (
        "25.0% of values below 0" in padlab.display(np.array([-1.0, 0, 0.5, 0.7]), "clip").summary
    )
    assert "non-finite" in padlab.display(np.array([np.nan, 0.5]), "abs").summary
    assert "255" in padlab.display(np.array([-3.0, 300.0]), "clip", white=255).summary


def test_from_float_rounds_float32_like_float64_also_near_ties():
    k = np.arange(256)
    ties = ((k + 0.5) / 255).astype(np.float32)
    x = np.clip(np.concatenate([np.nextafter(ties, 0), ties, np.nextafter(ties, 1)]), 0, 1)
    x = np.concatenate([x, np.random.default_rng(0).random(200_000, dtype=np.float32)])
    expected = np.rint(x.astype(np.float64) * 255).astype(np.uint8)
    np.testing.assert_array_equal(padlab.from_float(x), expected)
    np.testing.assert_array_equal(padlab.from_float(x.reshape(-1, 2)[:, ::-1]),
                                  expected.reshape(-1, 2)[:, ::-1])  # fmt: skip
    with pytest.raises(padlab.PadlabTypeError, match="complex"):
        padlab.from_float(np.array([0.5j]))


def test_display_errors():
    with pytest.raises(padlab.PadlabValueError, match="unknown mapping 'wrap'"):
        padlab.display(np.zeros(3), "wrap")
    with pytest.raises(padlab.PadlabValueError, match="empty"):
        padlab.display(np.zeros(0), "clip")
    with pytest.raises(padlab.PadlabTypeError, match="complex"):
        padlab.display(np.array([1j]), "abs")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16])
@pytest.mark.parametrize("mapping", ["clip", "abs", "symmetric", "minmax"])
def test_display_matches_float64_arithmetic(dtype, mapping):
    rng = np.random.default_rng(3)
    values = (rng.normal(size=(17, 9)) * 100).astype(dtype)
    got = padlab.display(values, mapping, white=80).pixels
    x = values.astype(np.float64)
    expected = {
        "clip": np.clip(x, 0, 80) / 80,
        "abs": np.minimum(np.abs(x), 80) / 80,
        "symmetric": 0.5 + x / (2 * np.abs(x).max()),
        "minmax": (x - x.min()) / (x.max() - x.min()),
    }[mapping]
    assert got.dtype == np.float32 and got.min() >= 0 and got.max() <= 1
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mapping", ["clip", "abs", "symmetric", "minmax"])
@pytest.mark.parametrize("white", [1.0, 0.5])
def test_display_leaves_the_response_unchanged(dtype, mapping, white):
    values = np.array([[-2.0, 0.25, np.nan], [0.75, 3.0, -0.5]], dtype)
    before = values.copy()
    padlab.display(values, mapping, white=white)
    np.testing.assert_array_equal(values, before)


def test_display_counts_each_side_that_is_out_of_range():
    above_only = padlab.display(np.array([0.5, 2.0, 3.0, 0.25], np.float32), "clip").summary
    assert "0.0% of values below 0 set to 0, 50.0% above 1 set to 1" in above_only
    below_only = padlab.display(np.array([-0.5, 0.5], np.float32), "clip").summary
    assert "50.0% of values below 0 set to 0, 0.0% above 1 set to 1" in below_only
    assert "25.0% above 1" in padlab.display(np.array([-2.0, 0.5, 0.1, 0.2]), "abs").summary
    assert "0.0% above 1" in padlab.display(np.array([-0.5, 0.5]), "abs").summary
    with_nan = padlab.display(np.array([np.nan, -1.0, 2.0, 0.5], np.float32), "clip").summary
    assert "25.0% of values below 0" in with_nan and "25.0% above 1" in with_nan
    assert "25.0% non-finite" in with_nan


def test_flat_responses_do_not_divide_by_zero():
    np.testing.assert_array_equal(padlab.display(np.zeros((2, 2)), "symmetric").pixels, 0.5)
    np.testing.assert_array_equal(padlab.display(np.ones((2, 2)), "minmax").pixels, 0.0)


@pytest.mark.parametrize(
    ("values", "mapping", "white", "expected"),
    [
        (np.array([-3e38, 0, 3e38], np.float32), "minmax", 1.0, [0, 0.5, 1]),
        (np.array([-3e38, 0, 3e38], np.float32), "symmetric", 1.0, [0, 0.5, 1]),
        (np.array([-3e38, np.inf, 3e38], np.float32), "minmax", 1.0, [0, 0.5, 1]),
        (np.array([0.5, 2.0], np.float32), "clip", 1e-46, [1, 1]),
        (np.array([16777216, 16777217], np.int32), "minmax", 1.0, [0, 1]),
    ],
)
def test_display_extremes_keep_float64_precision(values, mapping, white, expected):
    np.testing.assert_array_equal(padlab.display(values, mapping, white=white).pixels, expected)
