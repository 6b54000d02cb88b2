"""The sweep's outcome classes, on hand-made summaries, every boundary included."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import outcomes
from builder.analysis.outcomes import LOSS_THRESHOLD as L, RATIO_THRESHOLD as R

HIGH_TRAIN, HIGH_TEST, TOGETHER, GROKKING = range(4)


@pytest.mark.parametrize("train, test, ratio, expected", [
    (0.3, 0.7, 2.0, HIGH_TRAIN),
    (L, 1e-9, 1e9, HIGH_TRAIN),  # exactly at the threshold is not under it
    (L * (1 - 1e-9), 0.7, 1e9, HIGH_TEST),  # just under: the train loss did go under
    (1e-8, L, 1e9, HIGH_TEST),  # test exactly at the threshold
    (1e-8, 0.5, 1.0, HIGH_TEST),  # memorized, whatever the ratio
    (1e-8, 1e-7, 10.0, TOGETHER),
    (1e-8, 1e-7, R * (1 - 1e-9), TOGETHER),  # just under the ratio threshold
    (1e-8, 1e-7, R, GROKKING),  # exactly at it is not under it
    (1e-8, 1e-7, 1e12, GROKKING),
])
def test_classes_and_boundaries(train, test, ratio, expected):
    assert outcomes.classify(train, test, ratio).item() == expected


def test_order_of_checks_wins():
    # a high train loss hides everything else; a high test loss hides the ratio
    assert outcomes.classify(1.0, 1.0, 1e9).item() == HIGH_TRAIN
    assert outcomes.classify(1e-9, 1.0, 1e9).item() == HIGH_TEST


def test_vectorized_with_custom_thresholds_and_unfinished_runs():
    train = np.array([1e-3, 1e-6, 1e-6, 1e-6, np.nan])
    test = np.array([1e-3, 1e-3, 1e-6, 1e-6, np.nan])
    ratio = np.array([1.0, 1.0, 10.0, 1e6, np.nan])
    codes = outcomes.classify(train, test, ratio)
    assert codes.tolist() == [0, 1, 2, 3, outcomes.UNFINISHED]
    assert outcomes.counts(codes) == dict(zip(outcomes.CLASSES, [1, 1, 1, 1]))
    # a looser loss threshold and a stricter ratio threshold move runs between classes
    assert outcomes.classify(train, test, ratio, 1e-2, 5.0).tolist() == [2, 2, 3, 3, -1]
    assert outcomes.classify(train[:1], test[:1], ratio[:1], 1e-2, 1.0).tolist() == [3]


def test_defaults_and_class_names():
    assert outcomes.LOSS_THRESHOLD == 1e-5 and outcomes.RATIO_THRESHOLD == 5e4
    assert outcomes.CLASSES == ("high train loss", "high test loss",
                                "train and test drop together", "grokking")
    arrays = {"min_train_loss": np.array([1.0]), "min_test_loss": np.array([1.0]),
              "max_ratio": np.array([1.0])}
    assert outcomes.classify_sweep(arrays).tolist() == [0]
