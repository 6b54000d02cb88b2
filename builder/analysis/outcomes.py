"""Outcome classes of a sweep's runs (ARTICLE.md section 3), vectorized over runs.

Checked in this order, the first that applies wins:

    0 "high train loss"               the train loss never went under the loss threshold
    1 "high test loss"                the test loss never did (the run memorized)
    2 "train and test drop together"  the largest test/train loss ratio stayed under the ratio
                                      threshold
    3 "grokking"                      otherwise: at some step the test loss was far above a
                                      train loss that was already low

"Under" is strict: a minimum exactly at the loss threshold never went under it, and a ratio
exactly at the ratio threshold is not under it. Unfinished runs (NaN summaries) get -1.
"""
from __future__ import annotations

import numpy as np

CLASSES = ("high train loss", "high test loss", "train and test drop together", "grokking")
LOSS_THRESHOLD = 1e-5
RATIO_THRESHOLD = 5e4
UNFINISHED = -1


def classify(min_train_loss, min_test_loss, max_ratio, loss_threshold: float = LOSS_THRESHOLD,
             ratio_threshold: float = RATIO_THRESHOLD) -> np.ndarray:
    """Class codes (indices into CLASSES, -1 for NaN), same shape as the inputs, int8."""
    train = np.asarray(min_train_loss, dtype=np.float64)
    test = np.asarray(min_test_loss, dtype=np.float64)
    ratio = np.asarray(max_ratio, dtype=np.float64)
    codes = np.where(train >= loss_threshold, 0,
                     np.where(test >= loss_threshold, 1,
                              np.where(ratio < ratio_threshold, 2, 3))).astype(np.int8)
    codes[np.isnan(train) | np.isnan(test) | np.isnan(ratio)] = UNFINISHED
    return codes


def counts(codes) -> dict[str, int]:
    """Runs per class, in CLASSES order (unfinished runs are not counted)."""
    codes = np.asarray(codes)
    return {name: int((codes == i).sum()) for i, name in enumerate(CLASSES)}


def classify_sweep(arrays, loss_threshold: float = LOSS_THRESHOLD,
                   ratio_threshold: float = RATIO_THRESHOLD) -> np.ndarray:
    """Class codes for the arrays of builder.freeze.load_sweep (-1 where a run is not done)."""
    return classify(arrays["min_train_loss"], arrays["min_test_loss"], arrays["max_ratio"],
                    loss_threshold, ratio_threshold)
