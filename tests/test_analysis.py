"""Measurements of what padding did: exact values on constructed inputs, properties, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import padlab
from padlab.analysis import band_width, border_distance, even_sizes
from padlab.cli.main import main

COPYING = ["reflect", "symmetric", "replicate", "circular"]
SOBEL_X = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


# --- the exact checks of DESIGN.md -------------------------------------------------------------


# The responses themselves (4c / 3c under zeros, 0 under copying rules, 6c and 27c/4 under
# partial) are pinned for every engine and dtype in test_correlate_oracles.py; here, what the
# false-edge measurement makes of them.


@pytest.mark.parametrize("c", [0.5, 3.0])
def test_false_edge_energy_of_sobel_on_a_constant_zero_padded_image(c):
    edges = padlab.false_edge_energy(np.full((20, 20), c), SOBEL_X, "zeros")
    # band 1 px wide on a 20x20 image: 76 pixels, of which the left and right columns respond
    # 4c (18 each) and 3c (the 4 corners)
    assert edges.band_mean_abs == pytest.approx(2 * (18 * 4 * c + 2 * 3 * c) / 76)
    assert edges.interior_mean_abs == 0 and edges.ratio == np.inf


@pytest.mark.parametrize("mode", COPYING)
def test_false_edge_energy_of_sobel_on_a_constant_image_is_none_for_copying_rules(mode):
    edges = padlab.false_edge_energy(np.full((20, 20), 0.7), SOBEL_X, mode)
    assert edges.band_mean_abs == 0 and edges.ratio == 1.0


def _periodic(period: int, repeats: int, margin: int) -> np.ndarray:
    """An image whose inner window (cut with ``margin``) is a whole number of periods.

    Small integers, so every sum is exact and "zero error" means exactly zero, whatever the
    order in which the engine adds the products.
    """
    n = period * repeats + 2 * margin
    i = np.arange(n) - margin
    rng = np.random.default_rng(period)
    tile = rng.integers(0, 16, size=(period, period)).astype(np.float64)
    return tile[np.ix_(i % period, i % period)]


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("k", [3, 5])
def test_circular_padding_of_a_periodic_image_has_zero_context_error(depth, k):
    margin = depth * (k // 2)
    image = _periodic(6, 4, margin)
    kernel = np.random.default_rng(k).integers(-3, 4, size=(k, k)).astype(np.float64)
    result = padlab.context_error(image, kernel, "circular", depth=depth)
    assert result.rmse == 0 and result.max_abs == 0
    assert padlab.context_error(image, kernel, "zeros", depth=depth).rmse > 0


# --- coverage -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "k", "expected"),
    [
        ("zeros", 3, [2, 3, 3, 3]),
        ("reflect", 3, [2, 4, 3, 3]),
        ("symmetric", 3, [3, 3, 3, 3]),
        ("circular", 3, [3, 3, 3, 3]),
        ("replicate", 3, [3, 3, 3, 3]),
        ("zeros", 5, [3, 4, 5, 5]),
        ("reflect", 5, [3, 6, 6, 5]),
        ("symmetric", 5, [5, 5, 5, 5]),
        ("circular", 5, [5, 5, 5, 5]),
        ("replicate", 5, [6, 4, 5, 5]),
    ],
)
def test_coverage_counts_of_mind_the_pad(mode, k, expected):
    got = padlab.coverage(12, k, mode=mode)
    np.testing.assert_array_equal(got[:4], expected)
    np.testing.assert_array_equal(got, got[::-1])  # symmetric in the two borders


def test_coverage_of_valid_full_and_2d():
    np.testing.assert_array_equal(padlab.coverage(8, 3, padding="valid")[:4], [1, 2, 3, 3])
    np.testing.assert_array_equal(padlab.coverage(8, 3, padding="full")[:4], [3, 3, 3, 3])
    zeros = padlab.coverage((6, 7), 3)
    assert zeros[0, 0] == 4 and zeros[3, 3] == 9 and zeros[0, 3] == 6


@pytest.mark.parametrize(
    ("k", "expected"), [(3, [2.5, 3.5, 3.0, 3.0]), (5, [47 / 12, 59 / 12, 71 / 12, 5.25])]
)
def test_partial_weight_sums(k, expected):
    got = padlab.coverage(12, k, mode="partial", weights=np.ones(k))
    np.testing.assert_allclose(got[:4], expected)


def test_weighted_coverage_with_strides():
    w = np.array([1.0, 2.0, 3.0])
    got = padlab.coverage(6, 3, mode="zeros", stride=2, weights=w)
    # TensorFlow 'same' at stride 2 pads (0, 1) here: windows read (0, 1, 2), (2, 3, 4), (4, 5, pad)
    np.testing.assert_array_equal(got, [1, 2, 3 + 1, 2, 3 + 1, 2])


def test_coverage_refuses_mixing_rules():
    with pytest.raises(padlab.PadlabValueError, match="'mean'"):
        padlab.coverage(8, 3, mode="mean")


# --- uneven padding ------------------------------------------------------------------------

RESNET = [(7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 2, 1)]


def test_resnet_pads_unevenly_at_224_and_evenly_at_225():
    at224 = padlab.uneven_padding(224, RESNET)
    assert at224.uneven == 5
    assert [layer.unused for layer in at224.layers] == [1, 1, 1, 1, 1]
    assert [layer.output for layer in at224.layers] == [112, 56, 28, 14, 7]
    at225 = padlab.uneven_padding(225, RESNET)
    assert at225.uneven == 0
    assert [layer.output for layer in at225.layers] == [113, 57, 29, 15, 8]
    assert "5 of 5 layers pad unevenly" in at224.table()


@given(st.integers(33, 1000))
def test_resnet_is_even_exactly_when_n_is_1_mod_32(n):
    assert (padlab.uneven_padding(n, RESNET).uneven == 0) == (n % 32 == 1)


def test_even_sizes_near_224():
    assert even_sizes(RESNET, 224) == [161, 193, 225, 257]


@pytest.mark.parametrize(
    ("layers", "match"),
    [([(3, 2)], "each layer is"), ([(3, 0, 1)], "stride must be"), ([(9, 1, 0)], "larger than")],
)
def test_uneven_padding_errors(layers, match):
    with pytest.raises(padlab.PadlabValueError, match=match):
        padlab.uneven_padding(5, layers)


# --- distribution shift, profiles, equivariance --------------------------------------------


def test_spike_at_zero_after_zero_padding():
    shift = padlab.distribution_shift(np.full((10, 10), 0.5), np.ones((3, 3)) / 9, "zeros")
    assert shift.mass_at_value_padded == pytest.approx(44 / 144)
    assert shift.mass_at_value_original == 0
    assert shift.ks_padded_vs_original == pytest.approx(44 / 144)
    constant = padlab.distribution_shift(
        np.full((10, 10), 0.5), np.ones((3, 3)) / 9, "constant", value=0.25
    )
    assert constant.padding_value == 0.25
    assert constant.mass_at_value_padded == pytest.approx(44 / 144)


@pytest.mark.parametrize("mode", COPYING)
def test_copying_rules_leave_a_flat_image_flat(mode):
    shift = padlab.distribution_shift(np.full((12, 12), 0.5), np.ones((3, 3)) / 9, mode)
    assert shift.ks_border_vs_interior == 0 and shift.w1_border_vs_interior == 0
    assert shift.ks_padded_vs_original == 0


def test_border_profile_of_a_zero_padded_blur():
    response = padlab.correlate(np.ones((20, 20)), np.ones((3, 3)) / 9)
    profile = padlab.border_profile(response, max_distance=3)
    assert profile.distance.tolist() == [0, 1, 2]
    # edge pixels see 6 of 9 ones (corners 4 of 9): mean over the 76 edge pixels
    assert profile.mean[0] == pytest.approx((72 * 6 / 9 + 4 * 4 / 9) / 76)
    assert profile.mean[1] == pytest.approx(1.0) and profile.std[1] == pytest.approx(0.0)


def test_equivariance_error_is_smaller_for_reflect_than_zeros():
    image = padlab.to_float(padlab.sample_image(gray=True)[100:200, 100:200])
    kernel = padlab.get_kernel("outline")
    errors = {m: padlab.equivariance_error(image, kernel, m) for m in ["zeros", "reflect"]}
    assert 0 < errors["reflect"] < errors["zeros"]


def test_circular_is_exactly_equivariant_for_circular_shifts_of_periodic_images():
    """The crop-shift definition is not circular, so we check the roll directly."""
    image = _periodic(8, 4, 0)
    kernel = np.random.default_rng(1).normal(size=(3, 3))
    shifted = np.roll(image, (3, 5), axis=(0, 1))
    np.testing.assert_allclose(
        padlab.correlate(shifted, kernel, mode="circular"),
        np.roll(padlab.correlate(image, kernel, mode="circular"), (3, 5), axis=(0, 1)),
        atol=1e-12,
    )


# --- properties ------------------------------------------------------------------------------


@given(
    seed=st.integers(0, 2**31),
    k=st.sampled_from([(3, 3), (2, 4), (5, 3), (1, 3)]),
    mode=st.sampled_from(["zeros", "constant", *COPYING, "partial", "reflect_odd", "mean"]),
    depth=st.integers(1, 2),
    colour=st.booleans(),
)
def test_context_error_is_zero_in_the_interior_for_every_rule(seed, k, mode, depth, colour):
    rng = np.random.default_rng(seed)
    image = rng.random((26, 23, 3) if colour else (26, 23))
    kernel = rng.normal(size=k)
    result = padlab.context_error(image, kernel, mode, depth=depth, value=0.3)
    assert result.interior_max_abs == 0.0
    assert result.band == depth * band_width(k)
    assert len(result.by_distance) == result.band


def test_context_error_band_grows_with_depth():
    image = padlab.to_float(padlab.sample_image(gray=True)[:200, :200])
    kernel = padlab.get_kernel("blur")
    one = padlab.context_error(image, kernel, "zeros", depth=1)
    three = padlab.context_error(image, kernel, "zeros", depth=3)
    assert (one.band, three.band) == (1, 3)
    assert three.by_distance[2] > 0


def test_context_error_needs_room():
    with pytest.raises(padlab.PadlabValueError, match="too small"):
        padlab.context_error(np.ones((8, 8)), np.ones((3, 3)), depth=2)


def test_border_distance():
    assert border_distance((4,)).tolist() == [0, 1, 1, 0]
    assert band_width((3, 3)) == 1 and band_width((2, 2)) == 1 and band_width((7, 1)) == 3


# --- compare and its CLI ---------------------------------------------------------------------


def test_compare_ranks_rules_by_context_error():
    photo = padlab.sample_image()[200:330, 150:300]
    result = padlab.compare(photo, padlab.get_kernel("outline"))
    errors = [r.context_error_rmse for r in result.records]
    assert errors == sorted(errors)
    ranks = [r.rank for r in result.records]
    assert ranks[0] == 1 and ranks == sorted(ranks)
    # symmetric and replicate invent the same one-pixel border for a 3x3 kernel: a shared rank
    tied = {r.mode: r.rank for r in result.records}
    assert tied["symmetric"] == tied["replicate"]
    assert {r.mode for r in result.records} == set(padlab.analysis.DEFAULT_MODES)
    zeros = next(r for r in result.records if r.mode == "zeros")
    assert zeros.mass_at_value_padded > zeros.mass_at_value_original
    assert zeros.coverage_corner_over_interior == pytest.approx(4 / 9)
    data = result.to_dict()
    assert set(data) >= {"image", "kernel", "modes", "records"}
    json.dumps(data)  # JSON-ready


@pytest.mark.slow
def test_cli_compare_json_on_the_sample_photo(capsys):
    assert main(["compare", "-k", "sobel-x", "-m", "zeros,reflect,partial", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["image"]["shape"] == [600, 512]  # measured as luma, as padlab report does
    assert data["measured_as"] == "grayscale (BT.601 luma)"
    assert data["recommendation"]["mode"] == data["records"][0]["mode"]
    assert data["kernel"]["name"] == "sobel-x"
    assert data["modes"] == ["zeros", "reflect", "partial"]
    for record in data["records"]:
        for key in (
            "mode",
            "context_error_rmse",
            "false_edge_ratio",
            "ks_border_vs_interior",
            "w1_border_vs_interior",
            "equivariance_error",
        ):
            assert key in record


def test_cli_compare_table(capsys):
    assert main(["compare", "-k", "blur", "-m", "zeros,replicate", "--depth", "2", "--gray"]) == 0
    out = capsys.readouterr().out
    assert "depth 2" in out and "context RMSE" in out and "rel. error" in out
    assert "Use replicate" in out


def test_cli_compare_bad_rule(capsys):
    assert main(["compare", "-m", "zeros,mirror"]) == 2
    assert "'scipy:mirror'" in capsys.readouterr().err


@given(
    a=st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    b=st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    scale=st.sampled_from([1.0, 0.1, 1e3]),
)
def test_ks_w1_equal_scipy_with_ties(a, b, scale):
    from scipy import stats

    from padlab.analysis.metrics import ks_w1

    x, y = np.array(a) * scale, np.array(b) * scale
    ks, w1 = ks_w1(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):  # scipy's p-value of 1-sample inputs
        expected = stats.ks_2samp(x, y, method="asymp").statistic
    assert ks == pytest.approx(expected, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-9, abs=1e-12)


def test_ks_w1_large_samples_and_errors():
    from scipy import stats

    from padlab.analysis.metrics import ks_w1

    rng = np.random.default_rng(7)
    x, y = rng.normal(size=50_000), rng.normal(0.3, 2.0, size=20_000)
    x[:10_000] = 0.0  # a spike, as zero padding makes
    ks, w1 = ks_w1(x, y)
    assert ks == pytest.approx(stats.ks_2samp(x, y, method="asymp").statistic, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-9)
    assert ks_w1(x, x) == (0.0, 0.0)
    z = np.concatenate([np.zeros(200_000), rng.normal(size=1000)])  # a run longer than a block
    ks, w1 = ks_w1(z, y)
    assert ks == pytest.approx(stats.ks_2samp(z, y, method="asymp").statistic, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(z, y), rel=1e-9)
    assert np.isnan(ks_w1(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))).all()
    assert np.isnan(ks_w1(np.array([1.0, 2.0]), np.array([0.5, np.nan]))).all()
    with pytest.raises(padlab.PadlabValueError, match="sizes 0 and 3"):
        ks_w1(np.array([]), np.ones(3))


def test_ks_w1_needs_about_three_copies_of_the_pooled_sample():
    """The pooled sample is walked a block at a time: the memory is the sorted samples, not
    the ten temporaries of the pooled size the merge took before (62 bytes per sample; the
    report's peak memory)."""
    import tracemalloc

    from padlab.analysis.metrics import ks_w1

    rng = np.random.default_rng(3)
    x, y = rng.random(300_000), rng.random(30_000)
    ks_w1(x[:10], y[:10])  # imports and first-call allocations outside the measurement
    tracemalloc.start()
    try:
        ks_w1(x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * (x.size + y.size), f"{peak / (x.size + y.size):.1f} bytes per sample"


def test_ks_w1_with_infinities_agrees_with_scipy():
    from scipy import stats

    from padlab.analysis.metrics import ks_w1

    for a, b in [([0, 1, np.inf], [0, 2]), ([0, 1, np.inf], [0, np.inf]), ([-np.inf, 1], [1, 2])]:
        x, y = np.array(a, float), np.array(b, float)
        with np.errstate(invalid="ignore"):
            ks, w1 = ks_w1(x, y)
            expected = stats.wasserstein_distance(x, y)
        assert ks == pytest.approx(stats.ks_2samp(x, y, method="asymp").statistic, abs=1e-12)
        assert w1 == expected or (np.isnan(w1) and np.isnan(expected))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular", "partial"])
def test_padded_vs_original_shift_equals_scipy_on_the_whole_padded_image(mode):
    from scipy import stats

    from padlab.analysis.metrics import distribution_shift

    x = np.random.default_rng(3).random((30, 40, 3))
    shift = distribution_shift(x, np.ones((5, 5)) / 25, mode, pad_width=4)
    padded = padlab.pad(x, 4, "zeros" if mode == "partial" else mode, axes=(0, 1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        ks = stats.ks_2samp(padded, x.ravel(), method="asymp").statistic
    assert shift.ks_padded_vs_original == pytest.approx(ks, abs=1e-12)
    w1 = stats.wasserstein_distance(padded, x.ravel())
    assert shift.w1_padded_vs_original == pytest.approx(w1, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("name", ["identity-1", "box-1", "2"])
def test_one_pixel_kernels_are_measured_not_crashed(name):
    photo = padlab.sample_image(gray=True)[:60, :70]
    result = padlab.compare(photo, padlab.parse_kernel(name)[1], ["zeros", "reflect", "partial"])
    assert {r.rank for r in result.records} == {1}  # nothing is read beyond the edge
    assert all(r.context_error_rmse == 0 and r.false_edge_ratio == 1 for r in result.records)
    assert main(["compare", "-k", name, "--depth", "2"]) == 0


def test_border_profile_equals_grouping_by_distance():
    from padlab.analysis.metrics import border_distance, border_profile

    values = np.random.default_rng(5).normal(size=(23, 31, 2))
    profile = border_profile(values, max_distance=6, channel_axis=-1)
    distance = np.minimum(border_distance((23, 31)), 5)[..., None].repeat(2, axis=-1)
    for d in range(6):
        group = values[distance == d]
        assert profile.count[d] == group.size
        assert profile.mean[d] == pytest.approx(group.mean(), rel=1e-12, abs=1e-15)
        assert profile.std[d] == pytest.approx(group.std(), rel=1e-9, abs=1e-15)
    assert border_distance((3, 4)).dtype == np.int64
