"""The 101-weight linear toy of memorizing against generalizing (issue 17, after Nanda's review).

There are N = 100 training examples, all with target 1. The model has one "memorizer" weight per
example and one "generalizer" weight shared by all of them: its answer on example i is
m_i + g. Two ways fit the data exactly: all memorizers at 1 (g = 0), or the generalizer at 1
(m = 0), and every mix m_i = 1 - g in between. The loss on a batch B is the mean squared error
(1/|B|) sum_{i in B} (m_i + g - 1)^2; every weight starts at 0.

Three optimizers, each over a grid of learning rates x weight decays at once (one row a setting):
- "sgd": full-batch gradient descent with decoupled weight decay, w <- w (1 - lr wd) - lr grad;
- "adamw": full-batch AdamW (torch's order: decay first, bias-corrected moments, eps outside
  the square root);
- "adamw-minibatch": AdamW on BATCH examples drawn afresh (without replacement) every step.

The minimum-norm exact fit puts g = N / (N + 1) and every m_i = 1 / (N + 1): almost all on the
generalizer. Everything is float64 numpy, deterministic given the seed.
"""
from __future__ import annotations

import numpy as np

N = 100  # examples, and memorizer weights
BATCH = 10  # examples per step of the minibatch optimizer
BETAS = (0.9, 0.98)  # the article's AdamW settings
EPS = 1e-8
OPTIMIZERS = ("sgd", "adamw", "adamw-minibatch")
KEPT = 3  # memorizer weights recorded individually (the first ones)
CHUNK = 4096  # minibatches drawn at a time
ONES = np.ones(N)


def log_steps(steps: int, points: int) -> np.ndarray:
    """About `points` steps from 0 to `steps`, evenly spaced on a log scale (0 and 1 included)."""
    grid = np.unique(np.round(np.geomspace(1, steps, points - 1)).astype(np.int64))
    return np.concatenate([[0], grid])


def simulate(optimizer: str, lrs, wds, steps: int, points: int = 120, seed: int = 0) -> dict:
    """Train the toy from zero under every (lr, wd) pair of the two lists (a grid, lr-major).

    Returns arrays over (setting, recorded step): "g", "m" (the first KEPT memorizers, as a last
    axis), "m_mean" (mean of all memorizers), "loss" (full-data loss), and "step", "lr", "wd".
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r} (one of {', '.join(OPTIMIZERS)})")
    lr_grid, wd_grid = np.meshgrid(np.asarray(lrs, float), np.asarray(wds, float), indexing="ij")
    lr, wd = lr_grid.ravel()[:, None], wd_grid.ravel()[:, None]
    settings = lr.shape[0]
    w = np.zeros((settings, N + 1))  # columns 0..N-1 memorizers, column N the generalizer
    m1, m2 = np.zeros_like(w), np.zeros_like(w)
    record = log_steps(steps, points)
    out = {k: [] for k in ("g", "m", "m_mean", "loss")}
    rng = np.random.default_rng(seed)
    at = 0
    for t in range(steps + 1):
        if t == record[at]:
            residual = w[:, :N] + w[:, N:] - 1.0
            out["g"].append(w[:, N].copy())
            out["m"].append(w[:, :KEPT].copy())
            out["m_mean"].append(w[:, :N].mean(axis=1))
            out["loss"].append(np.square(residual).mean(axis=1))
            at += 1
            if at == len(record):
                break
        if optimizer == "adamw-minibatch":
            if t % CHUNK == 0:  # the batches of the next CHUNK steps, BATCH distinct examples each
                picks = rng.random((CHUNK, N)).argpartition(BATCH, axis=1)[:, :BATCH]
                masks = np.zeros((CHUNK, N))
                np.put_along_axis(masks, picks, 1.0, axis=1)
            mask = masks[t % CHUNK]
        else:
            mask = ONES
        residual = (w[:, :N] + w[:, N:] - 1.0) * mask
        grad = np.empty_like(w)
        grad[:, :N] = 2.0 * residual / mask.sum()
        grad[:, N] = grad[:, :N].sum(axis=1)
        w *= 1.0 - lr * wd
        if optimizer == "sgd":
            w -= lr * grad
        else:
            m1 = BETAS[0] * m1 + (1 - BETAS[0]) * grad
            m2 = BETAS[1] * m2 + (1 - BETAS[1]) * grad * grad
            m_hat = m1 / (1 - BETAS[0] ** (t + 1))
            v_hat = m2 / (1 - BETAS[1] ** (t + 1))
            w -= lr * m_hat / (np.sqrt(v_hat) + EPS)
    result = {k: np.stack(v, axis=1) for k, v in out.items()}
    return {**result, "step": record, "lr": lr[:, 0], "wd": wd[:, 0]}


def min_norm_fit() -> tuple[float, float]:
    """(g, each m_i) of the exact fit with the smallest sum of squared weights."""
    return N / (N + 1), 1 / (N + 1)
