import math

import numpy as np
import pytest

from viz import softmax_lab as lab


@pytest.mark.parametrize("text, expected", [
    ("2, 1, 0.5", [2, 1, 0.5]),
    ("  3;-1  4e2 ", [3, -1, 400]),
    ("−2,1", [-2, 1]),  # a typographic minus pasted from notes
])
def test_parse_numbers_accepts_separators(text, expected):
    np.testing.assert_array_equal(lab.parse_numbers(text), expected)


@pytest.mark.parametrize("text, words", [
    ("", "at least one number"),
    (" , ;", "at least one number"),
    ("1, two, 3", "'two' is not a number"),
    ("1, nan", "NaN"),
    ("inf, 1", "infinite"),
    ("-inf", "infinite"),
    ("1e309", "too large for a 64-bit float"),
    (", ".join(["1"] * 65), "at most 64"),
])
def test_parse_numbers_refuses_with_a_sentence(text, words):
    with pytest.raises(lab.NumberListError, match=words):
        lab.parse_numbers(text)


def test_temperature_sharpens_and_flattens():
    logits = np.array([2.0, 1.0, 0.5, -1.0])
    cold = lab.softmax_with_temperature(logits, 0.05)
    hot = lab.softmax_with_temperature(logits, 10)
    assert cold.weights[0] > 0.999 and cold.entropy < 0.01
    assert hot.weights.max() - hot.weights.min() < 0.1
    assert hot.entropy == pytest.approx(math.log(4), abs=0.02) and hot.max_entropy == pytest.approx(math.log(4))
    sweep = lab.temperature_sweep(logits, np.array([0.1, 1, 10]))
    assert np.all(np.diff(sweep[:, 0]) < 0)  # the top logit's weight falls as T rises
    np.testing.assert_allclose(sweep.sum(1), 1)


def test_temperature_grid_is_log_spaced_from_005_to_10_with_1():
    t = np.array(lab.TEMPERATURES)
    assert t[0] == pytest.approx(0.05, rel=0.01) and t[-1] == 10 and 1.0 in lab.TEMPERATURES
    ratios = t[1:] / t[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=0.01)


@pytest.mark.parametrize("d_k", [1, 16, 64, 256, 1024])
def test_variance_of_qk_is_dk_unscaled_and_1_scaled(d_k):
    s = lab.scaling_sample(d_k, n_rows=2000, n_keys=16, seed=1)
    assert s.dots.var() == pytest.approx(d_k, rel=0.06)
    assert s.scaled.var() == pytest.approx(1.0, rel=0.06)


def test_unscaled_softmax_saturates_and_scaled_does_not():
    d_ks, raw, scaled = lab.saturation_curve((1, 16, 256, 1024), n_rows=300)
    assert raw[0] == pytest.approx(scaled[0])  # √1 = 1: identical at d_k = 1
    assert np.all(np.diff(raw) > 0) and raw[-1] > 0.9  # climbs towards one-hot
    assert np.ptp(scaled) < 0.05  # flat: the scale undoes d_k
    big = lab.scaling_sample(1024)
    assert big.entropy_raw.mean() < 0.3 < 1.5 < big.entropy_scaled.mean()


def test_masked_weights_are_exactly_zero_and_rows_sum_to_one():
    demo = lab.mask_demo(["the", "cat", "sat"], "causal + padding", 2, "right")
    assert demo.tokens == ("the", "cat", "sat", "<pad>", "<pad>")
    assert np.all(demo.weights[~demo.mask] == 0.0)
    np.testing.assert_allclose(demo.weights.sum(1), 1)
    assert demo.empty_rows == ()


def test_causal_with_left_padding_gives_a_fully_masked_row_of_zeros():
    demo = lab.mask_demo(["the", "cat"], "causal + padding", 2, "left")
    assert demo.empty_rows == (0, 1)  # the two pads see only themselves (and earlier pads)
    assert np.all(demo.weights[:2] == 0.0) and not np.isnan(demo.weights).any()
    np.testing.assert_allclose(demo.weights[2:].sum(1), 1)


def test_padding_only_masks_keys_and_causal_only_the_future():
    pad = lab.mask_demo(["a", "b"], "padding", 1, "right")
    assert pad.mask[:, 2].sum() == 0 and pad.mask[:, :2].all()
    causal = lab.mask_demo(["a", "b", "c"], "causal", 0)
    np.testing.assert_array_equal(causal.mask, np.tril(np.ones((3, 3), bool)))


def test_naive_exp_overflows_where_max_subtracted_does_not():
    x = np.array([10.0, 12.0, 90.0])
    f16, f32 = lab.overflow_demo(x, "float16"), lab.overflow_demo(x, "float32")
    assert np.isnan(f16.naive[1:]).all()  # exp(12) > 65504: inf / inf
    assert np.isnan(f32.naive[2]) and np.isfinite(f32.naive[:2]).all()  # exp(90) > 3.4e38
    for row in (f16, f32):
        assert np.isfinite(row.stable).all()
        assert float(row.stable.astype(np.float64).sum()) == pytest.approx(1, abs=1e-3)
    assert f16.overflow_at == pytest.approx(math.log(65504), abs=1e-3)
    assert f32.overflow_at == pytest.approx(88.72, abs=0.01)


def test_small_logits_agree_in_both_forms_and_unrepresentable_ones_are_reported():
    x = np.array([1.0, 2.0, 3.0])
    row = lab.overflow_demo(x, "float32")
    np.testing.assert_allclose(row.naive, row.stable, rtol=1e-6)
    huge = lab.overflow_demo(np.array([1e5, 1.0]), "float16")
    assert huge.notes and "does not fit in float16" in huge.notes[0]
    cols, notes = lab.overflow_table(np.array([10.0, 12.0, 90.0]))
    assert cols["naive softmax, float16"] == ["0", "nan", "nan"] and not notes
    assert cols["exp(x) in float32"][2] == "inf"
