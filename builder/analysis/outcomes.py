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

from typing import Mapping

import numpy as np

# The rule as data, checked in order (the first that applies wins): (class, summary, comparison,
# threshold). `classify` evaluates it with numpy, `vega_expression` writes it for the page.
RULES = (
    ("high train loss", "min_train_loss", ">=", "loss"),
    ("high test loss", "min_test_loss", ">=", "loss"),
    ("train and test drop together", "max_ratio", "<", "ratio"),
)
OTHERWISE = "grokking"
CLASSES = tuple(rule[0] for rule in RULES) + (OTHERWISE,)
LOSS_THRESHOLD = 1e-5
RATIO_THRESHOLD = 5e4
UNFINISHED = -1
COMPARISONS = {">=": np.greater_equal, "<": np.less}


def classify(min_train_loss, min_test_loss, max_ratio, loss_threshold: float = LOSS_THRESHOLD,
             ratio_threshold: float = RATIO_THRESHOLD) -> np.ndarray:
    """Class codes (indices into CLASSES, -1 for NaN), same shape as the inputs, int8."""
    summaries = {"min_train_loss": np.asarray(min_train_loss, dtype=np.float64),
                 "min_test_loss": np.asarray(min_test_loss, dtype=np.float64),
                 "max_ratio": np.asarray(max_ratio, dtype=np.float64)}
    thresholds = {"loss": loss_threshold, "ratio": ratio_threshold}
    shape = np.broadcast_shapes(*(v.shape for v in summaries.values()))
    codes = np.full(shape, len(RULES), dtype=np.int8)
    for code in reversed(range(len(RULES))):  # the last rule first: earlier rules overwrite it
        _, summary, comparison, threshold = RULES[code]
        codes = np.where(COMPARISONS[comparison](summaries[summary], thresholds[threshold]),
                         code, codes).astype(np.int8)
    codes[np.isnan(summaries["min_train_loss"]) | np.isnan(summaries["min_test_loss"])
          | np.isnan(summaries["max_ratio"])] = UNFINISHED
    return codes


def vega_expression(summaries: Mapping[str, str], thresholds: Mapping[str, str]) -> str:
    """The rule as a Vega expression whose value is the class name, e.g. with summaries
    {"min_train_loss": "datum.mtr", ...} and thresholds {"loss": "loss_thr", "ratio": "ratio_thr"}:
    "datum.mtr >= loss_thr ? 'high train loss' : ... : 'grokking'". (Unfinished runs are not
    on the page, so there is no NaN case.)"""
    expression = f"'{OTHERWISE}'"
    for name, summary, comparison, threshold in reversed(RULES):
        expression = f"{summaries[summary]} {comparison} {thresholds[threshold]} ? '{name}' : {expression}"
    return expression


def counts(codes) -> dict[str, int]:
    """Runs per class, in CLASSES order (unfinished runs are not counted)."""
    codes = np.asarray(codes)
    return {name: int((codes == i).sum()) for i, name in enumerate(CLASSES)}


def classify_sweep(arrays, loss_threshold: float = LOSS_THRESHOLD,
                   ratio_threshold: float = RATIO_THRESHOLD) -> np.ndarray:
    """Class codes for the arrays of builder.freeze.load_sweep (-1 where a run is not done)."""
    return classify(arrays["min_train_loss"], arrays["min_test_loss"], arrays["max_ratio"],
                    loss_threshold, ratio_threshold)


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% for z = 1.96) of a rate of k successes in n trials, as
    (low, high) fractions: the interval the prose gives a rate measured on a few runs."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"a rate needs 0 <= k <= n and n > 0, got {k} of {n}")
    share = k / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))
