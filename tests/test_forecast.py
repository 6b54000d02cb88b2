"""The forecast of which sister runs grok (builder.analysis.forecast, builder/figures/forecast.py):
scores that mean what they say, and a forecast that reads nothing after its step."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from builder.analysis import forecast as fc
from builder.analysis.outcomes import wilson


def brute_auc(scores, labels) -> float:
    pos = [s for s, l in zip(scores, labels) if l]
    neg = [s for s, l in zip(scores, labels) if not l]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)) / (len(pos) * len(neg))


def test_auc_is_the_pairwise_probability_ties_counting_half():
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = rng.integers(0, 6, 40).astype(float)  # many ties
        labels = rng.random(40) < 0.4
        assert fc.auc(scores, labels) == pytest.approx(brute_auc(scores, labels))
    assert np.isnan(fc.auc([1, 2], [True, True]))


def test_the_direction_is_learned_on_other_folds():
    labels = np.arange(60) % 2 == 0
    lower_is_better = np.where(labels, 1.0, 2.0) + np.linspace(0, 0.1, 60)
    assert fc.cv_auc(lower_is_better, labels, boot=50)[0] == 1.0  # learned: lower means grokking
    noise = np.random.default_rng(0).random(60)
    value, low, high = fc.cv_auc(noise, labels, boot=200)
    assert low < 0.5 < high


def test_spearman_and_wilson():
    assert fc.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert fc.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    low, high = wilson(64, 128)
    assert (round(low, 3), round(high, 3)) == (0.415, 0.585)  # p = 1/2, n = 128, z = 1.96
    assert wilson(0, 6)[0] == 0.0 and wilson(6, 6)[1] == 1.0


def fake_runs(n: int = 24, p: int = 11, hidden: int = 6, seed: int = 0) -> dict:
    """Sister-run arrays of a tiny modulus: weights and test curves with a planted signal."""
    rng = np.random.default_rng(seed)
    grok = np.arange(n) % 2 == 0
    ck, cs = np.arange(0, 10_001, 2_000), np.arange(0, 10_001, 500)
    scale = np.where(grok, 0.5, 1.0)[:, None, None, None]
    w_in = (rng.standard_normal((n, len(ck), p, hidden)) * scale).astype(np.float16)
    w_out = rng.standard_normal((n, len(ck), p, hidden)).astype(np.float16)
    curve = np.exp(-np.outer(np.where(grok, 4.0, 0.5), cs / 5_000)) * 0.1 + rng.random((n, len(cs))) * 1e-4
    return {"checkpoint_step": ck, "curve_step": cs, "w_in": w_in, "w_out": w_out, "test_curve": curve.astype(np.float32),
            "final_test_acc": np.where(grok, 1.0, 0.01), "done": np.ones(n, bool)}


def same(rows) -> list:
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in rows]


def test_the_forecast_reads_nothing_after_its_step():
    """Only the outcomes (what is forecast) come from the end of training; with them fixed,
    hiding every later checkpoint and logged loss changes nothing."""
    a = fake_runs()
    train_index = np.arange(0, 66, 2)  # half of the 66 unordered pairs of p = 11
    ends = fc.outcomes(a)
    honest = same(fc.forecast(a, train_index, [2000, 4000], boot=50, ends=ends))
    hidden = dict(a)
    later_ck, later_cs = a["checkpoint_step"] > 4000, a["curve_step"] > 4000
    hidden["w_in"] = a["w_in"].copy()
    hidden["w_in"][:, later_ck] = np.float16(np.nan)
    hidden["w_out"] = a["w_out"].copy()
    hidden["w_out"][:, later_ck] = np.float16(1e4)
    hidden["test_curve"] = a["test_curve"].copy()
    hidden["test_curve"][:, later_cs] = -1.0
    assert same(fc.forecast(hidden, train_index, [2000, 4000], boot=50, ends=ends)) == honest
    # and a change before the step does change it (the test can fail)
    touched = dict(a, test_curve=a["test_curve"][np.random.default_rng(1).permutation(len(a["test_curve"]))])
    assert same(fc.forecast(touched, train_index, [2000, 4000], boot=50, ends=ends)) != honest


def test_the_planted_signal_is_found_and_the_null_is_not():
    a = fake_runs(n=40)
    rows = {(r["step"], r["measure"]): r for r in fc.forecast(a, np.arange(0, 66, 2), [4000], boot=100)}
    assert rows[(4000, "test")]["auc"] > 0.9
    assert 0.4 < rows[(4000, "shuffled")]["auc"] < 0.6


@pytest.mark.frozen("seeds-mod-top", "mod-top")
def test_the_real_forecast_hides_later_checkpoints_too():
    """On the sister runs themselves: the measures at step 4,000 equal those computed from
    arrays cut at step 4,000."""
    from builder import freeze
    from builder.paths import frozen_root

    a = freeze.load_sweep("seeds-mod-top", root=frozen_root()).arrays
    cut = dict(a)
    keep_ck, keep_cs = a["checkpoint_step"] <= 4000, a["curve_step"] <= 4000
    cut.update(checkpoint_step=a["checkpoint_step"][keep_ck], w_in=a["w_in"][:16, keep_ck], w_out=a["w_out"][:16, keep_ck],
               curve_step=a["curve_step"][keep_cs], test_curve=a["test_curve"][:16, keep_cs])
    full = dict(a, w_in=a["w_in"][:16], w_out=a["w_out"][:16], test_curve=a["test_curve"][:16])
    train_index = np.arange(911)  # any split: the same for both
    x, y = fc.measures_known_at(full, 4000, train_index), fc.measures_known_at(cut, 4000, train_index)
    for key in x:
        np.testing.assert_array_equal(x[key], y[key])
