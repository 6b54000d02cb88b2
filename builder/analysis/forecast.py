"""Can a measure taken early in training tell which runs will grok? (the sister runs' forecast)

For each checkpoint step t and each measure, every number here is computed from what exists at
step t alone: the run's collapsed weights at t and its logged test loss up to t. Nothing reads a
later checkpoint (tests/test_forecast.py hides them and gets the same answer).

Scoring is honest about the one free choice a forecaster makes, the direction of the measure
(is a lower restricted loss a sign of grokking, or a higher one?): the runs are split into
folds, the direction is chosen on the other folds, and each held-out run is scored with it
(cross-validation over runs); the AUC is that of the pooled held-out scores, with a bootstrap
95% interval over runs. Controls: the same pipeline with the outcomes shuffled, and the
restricted loss with frequencies drawn at random instead of the largest ones.
"""
from __future__ import annotations

import numpy as np

from builder.analysis import progress

KEYS = 3  # frequencies a run "uses" at step t: its largest Fourier norms of W_in then (most runs end with 3-4)


def auc(scores, labels) -> float:
    """Probability that a random positive scores above a random negative (ties count half):
    the area under the ROC curve, by ranks (Mann-Whitney)."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    pos, neg = labels.sum(), (~labels).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = average_ranks(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def folds_of(labels, k: int, seed: int) -> np.ndarray:
    """A fold number per run, stratified: each fold holds its share of both outcomes."""
    labels = np.asarray(labels, bool)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), int)
    for value in (True, False):
        idx = np.flatnonzero(labels == value)
        rng.shuffle(idx)
        out[idx] = np.arange(len(idx)) % k
    return out


def held_out_scores(scores, labels, k: int = 5, seed: int = 0) -> np.ndarray:
    """Each run's score signed by the direction chosen on the folds it is not in."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    folds = folds_of(labels, k, seed)
    out = np.empty(len(scores))
    for f in range(k):
        train = folds != f
        sign = 1.0 if auc(scores[train], labels[train]) >= 0.5 else -1.0
        out[~train] = sign * scores[~train]
    return out


def cv_auc(scores, labels, k: int = 5, seed: int = 0, boot: int = 2000) -> tuple[float, float, float]:
    """(AUC of the held-out scores, 95% bootstrap interval low, high), resampling runs."""
    labels = np.asarray(labels, bool)
    signed = held_out_scores(scores, labels, k, seed)
    value = auc(signed, labels)
    rng = np.random.default_rng(seed + 1)
    draws = []
    for _ in range(boot):
        pick = rng.integers(0, len(labels), len(labels))
        if labels[pick].all() or not labels[pick].any():
            continue
        draws.append(auc(signed[pick], labels[pick]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return value, float(low), float(high)


def average_ranks(values) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their ranks."""
    values = np.asarray(values, np.float64)
    ordered = np.sort(values)
    return (np.searchsorted(ordered, values, "left") + np.searchsorted(ordered, values, "right") + 1) / 2


def spearman(x, y) -> float:
    """Rank correlation (ties averaged)."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    scale = np.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    return float((rx * ry).sum() / scale) if scale > 0 else float("nan")


def measures(w_in, w_out, train_index, n_keys: int = KEYS, random_keys: np.random.Generator | None = None) -> dict:
    """The measures of collapsed weights (..., p, hidden), each from that checkpoint alone:

    - restricted / excluded: the training loss of the logits kept to / cleared of the key
      frequencies, the keys being the `n_keys` largest Fourier norms of w_in at that checkpoint
      (with `random_keys`, frequencies drawn at random instead: the control);
    - gini: the Gini coefficient of w_in's frequency norms;
    - norm: the sum of squares of the collapsed weights (the parameters E, W_in, W_out are not
      kept for these runs, so this stands in for the parameter norm).
    Returns arrays shaped like the leading axes."""
    w_in, w_out = np.asarray(w_in, np.float64), np.asarray(w_out, np.float64)
    lead = w_in.shape[:-2]
    p = w_in.shape[-2]
    w_in, w_out = w_in.reshape(-1, p, w_in.shape[-1]), w_out.reshape(-1, p, w_out.shape[-1])
    n = w_in.shape[0]
    train, _ = progress.split_masks(p, train_index)
    k_all = (p - 1) // 2
    basis = progress.pair_basis(p, range(1, k_all + 1), constant=True)  # (p*p, 1 + 2K)
    a, b = progress.pairs(p)
    residue = (a + b) % p
    counts = np.bincount(residue[train], minlength=p).astype(np.float64)
    by_residue = basis[np.array([np.flatnonzero(residue == r)[0] for r in range(p)])]
    on_train = basis[train]
    norms = progress.frequency_norms(w_in)  # (n, K)
    out = {name: np.empty(n) for name in ("restricted", "excluded", "gini", "norm")}
    out["gini"][:] = progress.gini(norms)
    out["norm"][:] = np.square(w_in).sum((-1, -2)) + np.square(w_out).sum((-1, -2))
    for r in range(n):
        logit = progress.logits(w_in[r], w_out[r])  # (p*p, p)
        if random_keys is None:
            keys = np.argsort(-norms[r], kind="mergesort")[:n_keys] + 1
        else:
            keys = random_keys.choice(np.arange(1, k_all + 1), n_keys, replace=False)
        cols = [0] + [c for k in keys for c in (2 * int(k) - 1, 2 * int(k))]
        coef = basis[:, cols].T @ logit  # (1 + 2 n_keys, p): only the columns kept
        out["restricted"][r] = progress.residue_loss(by_residue[:, cols] @ coef, counts)
        out["excluded"][r] = progress.loss(logit[train] - on_train[:, cols[1:]] @ coef[1:], rows=train)
    return {name: v.reshape(lead) for name, v in out.items()}


MEASURES = ("test", "restricted", "excluded", "gini", "norm")
PERMUTATIONS = 200  # shuffles of the outcomes for the null distribution of the AUC
REACHED = 1e-3  # a run has generalized once its logged test loss is under this (as mod_bot.REACHED)


def known_at(arrays: dict, t: int) -> dict:
    """What exists at step t for every run: the collapsed weights of the last checkpoint at or
    before t, and the logged test loss up to t. Everything the forecast computes goes through
    this (tests/test_forecast.py hides what comes after t and checks that nothing changes)."""
    ck, cs = np.asarray(arrays["checkpoint_step"]), np.asarray(arrays["curve_step"])
    i, j = int(np.flatnonzero(ck <= t)[-1]), int(np.flatnonzero(cs <= t)[-1])
    curve = np.asarray(arrays["test_curve"], np.float64)[:, :j + 1]
    return {"w_in": np.asarray(arrays["w_in"][:, i], np.float32), "w_out": np.asarray(arrays["w_out"][:, i], np.float32),
            "test_curve": curve, "test": curve[:, -1], "generalized": (curve < REACHED).any(axis=1)}


def outcomes(arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    """(grokked: the logged test loss went under REACHED within the budget, the first logged
    step it did or NaN): what the forecast is scored against, read from the whole run. The
    stars section counts the sister runs that generalized the same way."""
    curve, cs = np.asarray(arrays["test_curve"], np.float64), np.asarray(arrays["curve_step"])
    below = curve < REACHED
    grokked = below.any(axis=1)
    step = np.where(grokked, cs[np.argmax(below, axis=1)], np.nan)
    return grokked, step


def measures_known_at(arrays: dict, t: int, train_index, seed: int = 0) -> dict:
    """Every measure of every run at step t (from known_at alone), the random-frequency
    control included, and which runs are still open (not yet generalized by t)."""
    now = known_at(arrays, t)
    m = measures(now["w_in"], now["w_out"], train_index)
    control = measures(now["w_in"], now["w_out"], train_index, random_keys=np.random.default_rng(seed + t))
    return {"test": now["test"], **m, "random keys": control["restricted"], "open": ~now["generalized"]}


def forecast(arrays: dict, train_index, steps, seed: int = 0, boot: int = 1000, ends: tuple | None = None,
             known: dict | None = None) -> list[dict]:
    """Rows (step, measure, auc, low, high, runs, grok, rho): for each step, among the runs not
    yet generalized then, how well each measure separates the runs that go on to generalize from the
    rest (cross-validated AUC with its bootstrap interval), and its rank correlation with the
    step at which the eventual grokkers generalize. Controls: "shuffled" (the mean AUC of the
    restricted loss against outcomes permuted at random, and the 2.5-97.5% range of those
    permutations) and "random keys". `ends`: the outcomes (default: read from `arrays` by
    `outcomes`; the one thing taken from after the step: what is being forecast). `known`: step
    -> measures_known_at, when the caller has them already."""
    grokked, grok_step = outcomes(arrays) if ends is None else ends
    done = np.asarray(arrays["done"], bool)
    rows = []
    for t in steps:
        known_t = known[t] if known is not None else measures_known_at(arrays, int(t), train_index, seed)
        open_ = known_t["open"] & done
        labels = grokked[open_]
        for name in MEASURES + ("random keys",):
            values = known_t[name][open_]
            value, low, high = cv_auc(values, labels, seed=seed, boot=boot)
            late = labels & np.isfinite(grok_step[open_])
            signed = held_out_scores(values, labels, seed=seed)
            rho = spearman(signed[late], grok_step[open_][late]) if late.sum() >= 5 else float("nan")
            rows.append({"step": int(t), "measure": name, "auc": value, "low": low, "high": high,
                         "runs": int(open_.sum()), "grok": int(labels.sum()), "rho": rho})
        # the null: the whole pipeline (direction chosen on other folds included) run on the
        # restricted loss against outcomes permuted at random, PERMUTATIONS times
        rng = np.random.default_rng(seed + int(t))
        null = [auc(held_out_scores(known_t["restricted"][open_], perm, seed=seed), perm)
                for perm in (rng.permutation(labels) for _ in range(PERMUTATIONS))]
        low, high = np.percentile(null, [2.5, 97.5])
        rows.append({"step": int(t), "measure": "shuffled", "auc": float(np.mean(null)), "low": float(low),
                     "high": float(high), "runs": int(open_.sum()), "grok": int(labels.sum()), "rho": float("nan")})
    return rows
