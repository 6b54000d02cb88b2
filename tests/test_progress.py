"""Progress measures (builder.analysis.progress) and the 101-weight toy (builder.analysis.toy)."""
from __future__ import annotations

import numpy as np
import pytest

from builder import freeze
from builder.analysis import fourier, progress, toy
from builder.paths import frozen_root

ARTIFACTS = frozen_root()


def test_pair_basis_is_orthonormal_over_all_pairs():
    b = progress.pair_basis(13, range(1, 7), constant=True)
    assert b.shape == (169, 13)
    np.testing.assert_allclose(b.T @ b, np.eye(13), atol=1e-12)


def test_gini_ends():
    assert progress.gini(np.ones(8)) == pytest.approx(0.0)
    assert progress.gini(np.eye(8)[0]) == pytest.approx(7 / 8)
    assert 0 < progress.gini(np.arange(1.0, 9.0)) < 7 / 8


def test_split_masks_cover_each_unordered_pair_once():
    train, test = progress.split_masks(5, [0, 3, 7])
    assert train.sum() == 3 and test.sum() == 15 - 3 and not (train & test).any()
    a, b = progress.pairs(5)
    assert (a[train | test] <= b[train | test]).all()


def test_nothing_excluded_is_the_train_loss():
    rng = np.random.default_rng(0)
    w_in, w_out = rng.normal(size=(2, 11, 6)), rng.normal(size=(2, 11, 6))
    m = progress.measures(w_in, w_out, np.arange(0, 66, 3), keys=[], modes=False)
    np.testing.assert_allclose(m["excluded_loss"], m["train_loss"], rtol=1e-12)
    assert set(m) == {"train_loss", "test_loss", "restricted_loss", "restricted_loss_test", "excluded_loss", "gini"}


@pytest.mark.frozen("mod-top")
def test_losses_from_the_checkpoints_are_the_logged_ones():
    """The float16 checkpoints of the frozen opening run give back the train and test loss the
    trainer logged in float32 at the same steps (so restricted and excluded loss can be read
    from them too)."""
    a = freeze.ensure("mod-top", root=ARTIFACTS).arrays
    pick = [0, 10, 40, 100]  # steps 0, 5,000, 20,000, 50,000
    w_in, w_out = (np.asarray(a[k][pick], np.float64) for k in ("w_in", "w_out"))
    m = progress.measures(w_in, w_out, a["train_index"], list(fourier.key_frequencies(w_in[-1])), modes=False)
    # the metrics are logged at other steps (500 of them): compare with the nearest, at most
    # 50 steps away, where the losses move by well under 1%
    near = np.abs(a["metric_step"][None, :] - a["checkpoint_step"][pick][:, None]).argmin(axis=1)
    assert np.abs(a["metric_step"][near] - a["checkpoint_step"][pick]).max() <= 50
    # (float32 rounds the largest probabilities to 1, so at the very end the logged loss is smaller)
    np.testing.assert_allclose(m["test_loss"][:3], a["test_loss"][near][:3], rtol=1e-2)
    np.testing.assert_allclose(m["train_loss"][:3], a["train_loss"][near][:3], rtol=1e-2)
    assert m["train_loss"][1] < 1e-5 < m["test_loss"][1]  # memorized by then


def test_the_toy_under_the_three_optimizers():
    steps = 100_000
    lr, wd = [1e-3, 1e-2], [0.0, 0.01]
    g_min, m_min = toy.min_norm_fit()
    sgd = toy.simulate("sgd", lr, wd, steps, points=40)
    adam = toy.simulate("adamw", lr, wd, steps, points=40)
    mini = toy.simulate("adamw-minibatch", lr, wd, steps, points=40)
    assert sgd["g"].shape == (4, len(sgd["step"])) and sgd["m"].shape == (4, len(sgd["step"]), toy.KEPT)
    # SGD: straight to the minimum-norm fit, mostly on the generalizer
    assert np.abs(sgd["g"][:, -1] - g_min).max() < 0.01 and np.abs(sgd["m_mean"][:, -1] - m_min).max() < 0.01
    # full-batch AdamW: every weight moves at the same speed, the fit is half memorizers, and
    # decay does not move it
    assert np.abs(adam["g"][:, -1] - 0.5).max() < 0.01 and np.abs(adam["m_mean"][:, -1] - 0.5).max() < 0.01
    # minibatch AdamW: less on the memorizers from the start, but far from the minimum-norm fit
    early = np.searchsorted(mini["step"], 1000)
    assert (mini["g"][:, early] > 2 * mini["m_mean"][:, early]).all()
    assert (mini["g"][:, -1] < 0.95).all() and (mini["loss"][:, -1] < 1e-3).all()
    again = toy.simulate("adamw-minibatch", lr, wd, steps, points=40)
    assert np.array_equal(again["g"], mini["g"])  # seeded


def test_the_toy_refuses_an_unknown_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'adam'"):
        toy.simulate("adam", [1e-3], [0.0], 10)
