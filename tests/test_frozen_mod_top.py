"""What the article claims about the frozen opening run (content/_freeze/mod-top/).

These read the committed artifact (or the one under $BUILDER_FREEZE_ROOT: `python -m builder
verify` retrains into a scratch folder and runs them there, see builder.claims); they fail (not
skip) when it is missing or stale: retrain with `python -m builder train mod-top`.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from builder import freeze
from builder.analysis import fourier
from builder.paths import freeze_dir, frozen_root
from builder.training import config, tasks

# The article's claim is that the run memorizes "long before" it generalizes: 20,000 steps.
MIN_GAP_STEPS = 20_000
ARTIFACTS = frozen_root()
pytestmark = pytest.mark.frozen("mod-top")


@pytest.fixture(scope="module")
def run():
    spec = config.get("mod-top", frozen_root()).resolve()
    frozen = freeze.read("mod-top", freeze_dir(ARTIFACTS) / "mod-top", freeze.spec_key(spec))
    assert frozen is not None, \
        "content/_freeze/mod-top is missing or stale: run `python -m builder train mod-top`"
    return spec, frozen.arrays


def first_step(a, condition):
    hits = np.flatnonzero(condition)
    assert len(hits), "never happens"
    return int(a["metric_step"][hits[0]])


def test_shapes_and_size(run):
    spec, a = run
    assert a["metric_step"].shape == (500,) and a["metric_step"][[0, -1]].tolist() == [0, 50_000]
    for name in ("train_loss", "test_loss", "train_acc", "test_acc", "l1_norm", "l2_norm"):
        assert a[name].shape == (500,), name
    assert a["checkpoint_step"].tolist() == list(range(0, 50_001, 500))  # 101 checkpoints
    assert a["w_in"].shape == a["w_out"].shape == (101, 67, 24)
    assert a["w_in"][0].size + a["w_out"][0].size == 3_216  # "the 3,216 parameter model"
    size = sum(f.stat().st_size for f in (freeze_dir(ARTIFACTS) / "mod-top").glob("*"))
    assert size < 3_000_000


def test_split_is_the_seeded_one(run):
    spec, a = run
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    assert len(a["train_index"]) == 911
    assert np.array_equal(a["train_index"], data.train_index.numpy())


def test_loss_scale(run):
    _, a = run
    assert a["train_loss"][0] == pytest.approx(math.log(67) / 67, rel=0.1)  # ~0.063


def test_memorizes_long_before_it_generalizes(run):
    _, a = run
    memorized = first_step(a, a["train_acc"] == 1.0)
    generalized = first_step(a, a["test_acc"] > 0.99)
    assert memorized <= 2_000
    assert generalized - memorized >= MIN_GAP_STEPS
    at_memorized = int(np.flatnonzero(a["metric_step"] == memorized)[0])
    assert a["test_acc"][at_memorized] < 0.1  # near chance while the training set is fit


def test_generalizes_and_stays(run):
    _, a = run
    assert a["test_acc"][-1] > 0.99 and a["train_acc"][-1] == 1.0
    generalized = int(np.flatnonzero(a["test_acc"] > 0.99)[0])
    assert a["test_acc"][generalized:].min() > 0.95


def test_weights_shrink(run):
    _, a = run
    assert a["l2_norm"][-1] < 0.6 * a["l2_norm"].max()  # frozen run: 27.1 vs a peak of 53.8


def test_neurons_concentrate_on_few_frequencies(run):
    _, a = run
    w_in = a["w_in"].astype(np.float64)
    start, end = fourier.energy_in_top(w_in[0], 1), fourier.energy_in_top(w_in[-1], 1)
    assert np.median(start) < 0.2  # random init: energy spread over 33 frequencies
    assert np.mean(end > 0.9) >= 0.9  # by the end nearly every neuron is one wave (all: > 0.96)
    keys = fourier.key_frequencies(w_in[-1])
    assert 2 <= len(keys) <= 5
    assert sum(len(n) for n in keys.values()) >= 20


def test_each_neuron_reads_and_writes_one_frequency(run):
    _, a = run
    f_in, _, _ = fourier.dominant(a["w_in"][-1].astype(np.float64))
    f_out, _, _ = fourier.dominant(a["w_out"][-1].astype(np.float64))
    assert np.mean(f_in == f_out) >= 0.9


def test_final_params_match_last_checkpoint(run):
    _, a = run
    np.testing.assert_allclose(a["w_in"][-1], a["final_embed"] @ a["final_w_in"], atol=2e-2)
    np.testing.assert_allclose(a["w_out"][-1], a["final_embed"] @ a["final_w_out"].T, atol=2e-2)


# The numbers the prose quotes for this run are facts, and its sentences about it claims
# (builder/figures/mod_top.py; evaluated by tests/test_claims.py and on every build).


def test_test_loss_falls_before_accuracy_moves(run):
    """Footnote: the held-out loss peaks around step 1,000, then falls while accuracy is flat."""
    _, a = run
    steps, loss = a["metric_step"], a["test_loss"]
    assert 500 <= steps[int(np.argmax(loss))] <= 2_000
    at_20k = int(np.argmin(abs(steps - 20_000)))
    assert loss[at_20k] < 0.5 * loss.max() and a["test_acc"][at_20k] < 0.05
