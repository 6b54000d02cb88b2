"""The numbers the sparse-parity section of content/index.md quotes, checked on the frozen runs."""
from __future__ import annotations

import numpy as np
import pytest

from builder.figures import sparse_parity
from builder.paths import frozen_root
from builder.figures.context import BuildContext

ARTIFACTS = frozen_root()  # see builder.claims
CTX = BuildContext(ARTIFACTS)  # the figure modules read it through a build context


@pytest.fixture(scope="module")
def l1():
    return sparse_parity.run(CTX, sparse_parity.EXPERIMENT)


@pytest.fixture(scope="module")
def l2():
    return sparse_parity.run(CTX, sparse_parity.L2_EXPERIMENT)


def at(r, key, step):
    return float(r[key][int(np.flatnonzero(r["metric_step"] == step)[0])])


def first(r, key, level):
    return int(r["metric_step"][np.argmax(r[key] >= level)])


@pytest.mark.frozen("sparse-parity")
def test_memorizes_then_generalizes(l1):
    assert first(l1, "train_acc", 0.99) == 730  # "By step 730 ... 99% of its training strings"
    assert 0.5 <= at(l1, "test_acc", 730) <= 0.6  # "about 55% right"
    assert first(l1, "test_acc", 0.99) == 1970  # "passes 99% at step 1,970"


@pytest.mark.frozen("sparse-parity")
def test_training_loss_rises_as_test_loss_plunges(l1):
    steps, loss = l1["metric_step"], l1["train_loss"]
    early = steps <= 2000
    low = int(np.argmin(np.where(early, loss, np.inf)))
    assert 1300 <= steps[low] <= 1500 and 4e-5 <= loss[low] <= 6e-5  # "around step 1,400 ... 5e-5"
    later = (steps > steps[low]) & early
    high = int(np.argmax(np.where(later, loss, -np.inf)))
    assert 1700 <= steps[high] <= 1900 and loss[high] / loss[low] >= 1.7  # "almost doubling by 1,800"
    assert l1["test_loss"][high] < 0.5 * l1["test_loss"].max()  # "just as the test loss plunges"


@pytest.mark.frozen("sparse-parity")
def test_distractors_end_at_zero_in_the_l1_run(l1):
    final = np.abs(l1["w_in"][-1])
    assert final[3:30].max() < 0.005  # "the largest of their weights is 0.002"
    assert (final[:3].max(axis=0) > 0.1).sum() == 18  # "18 with L1"


@pytest.mark.frozen("sparse-parity-l2")
def test_l2_contrast(l2):
    final = np.abs(l2["w_in"][-1])
    assert (final[:3].max(axis=0) > 0.1).sum() == 117  # "117 of its 128 neurons"
    assert final[3:30].sum() / final[:30].sum() == pytest.approx(0.63, abs=0.01)  # "63%"
    assert 6500 <= first(l2, "test_acc", 0.99) <= 6900  # "later, at step 6,700"


@pytest.mark.frozen("sparse-parity")
def test_animations_bracket_the_phases(l1):
    mem_end, gen_end = sparse_parity.MEMORIZE[1], sparse_parity.GENERALIZE[1]
    assert sparse_parity.GENERALIZE[0] == mem_end
    assert at(l1, "train_acc", mem_end) >= 0.99 and at(l1, "test_acc", mem_end) <= 0.6
    assert at(l1, "test_acc", gen_end) >= 0.99
