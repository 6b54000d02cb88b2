"""Progress measures of the modular-addition model (Nanda et al. 2023), from its collapsed weights.

The model's logits for the pair (a, b) are relu(W[a] + W[b]) U^T, with W = E W_in and
U = (W_out E^T)^T the collapsed (p, hidden) matrices every checkpoint keeps. Over all p^2 pairs
the logits form a (p^2, p) matrix L. For a frequency k, the two pair-vectors cos(2 pi k (a+b)/p)
and sin(2 pi k (a+b)/p) span the part of L that depends on a + b at frequency k: the part the
generalizing algorithm uses.

- restricted loss: the training loss of L projected onto the constant pair-vector and the key
  frequencies' cos/sin vectors (everything else removed); also on the held-out pairs
  (restricted_loss_test), where Nanda et al.'s code takes it;
- excluded loss: the training loss of L with exactly the key frequencies' cos/sin parts removed;
- mode loss: for each frequency k alone, the restricted loss with only k kept (a chart of all 33
  shows which modes carry the answer);
- Fourier sparsity of W: the Gini coefficient of the norms of W's rows in the Fourier basis, one
  norm per frequency (its cos and sin rows over all neurons): 0 when every frequency carries the
  same weight, near 1 when a few carry it all.

The loss is the model's: cross-entropy averaged over the examples and the p classes, float64.
Measures need float32 weights: the float16 checkpoints of the frozen runs move memorizing logits
(up to ~300) by whole units, which swamps a training loss of ~1e-6.
"""
from __future__ import annotations

import numpy as np

from builder.analysis import fourier


def pairs(p: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) for every ordered pair, index a * p + b."""
    return np.divmod(np.arange(p * p), p)


def logits(w_in: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """(..., p*p, p) logits of every pair from collapsed (..., p, hidden) weights."""
    w_in, w_out = np.asarray(w_in, np.float64), np.asarray(w_out, np.float64)
    a, b = pairs(w_in.shape[-2])
    hidden = np.maximum(w_in[..., a, :] + w_in[..., b, :], 0.0)
    return hidden @ np.swapaxes(w_out, -1, -2)


def loss(logit: np.ndarray, mask: np.ndarray | None = None, rows: np.ndarray | None = None) -> np.ndarray:
    """The model's loss (mean cross-entropy / p) over the pairs in `mask` (all when None):
    (..., p*p, p) -> (...). `rows`: the logits are already those of the pairs in this mask."""
    p = logit.shape[-1]
    a, b = pairs(p)
    label = (a + b) % p
    if mask is not None:
        logit, label = logit[..., mask, :], label[mask]
    elif rows is not None:
        label = label[rows]
    top = logit.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logit - top).sum(axis=-1)) + top[..., 0]
    picked = np.take_along_axis(logit, np.broadcast_to(label[:, None], logit.shape[:-1] + (1,)), -1)[..., 0]
    return (lse - picked).mean(axis=-1) / p


def pair_basis(p: int, frequencies, constant: bool) -> np.ndarray:
    """(p*p, n) orthonormal columns: the constant (if asked), then cos and sin of 2 pi k (a+b)/p
    for each k in `frequencies` (over all p^2 pairs these are exactly orthogonal)."""
    a, b = pairs(p)
    s = (a + b) % p
    cols = [np.full(p * p, 1.0 / p)] if constant else []
    for k in frequencies:
        angle = 2 * np.pi * k * s / p
        cols += [np.cos(angle) * np.sqrt(2.0) / p, np.sin(angle) * np.sqrt(2.0) / p]
    return np.stack(cols, axis=1) if cols else np.zeros((p * p, 0))


def split_masks(p: int, train_index) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) masks over the p^2 ordered pairs for a split of the task's unordered pairs
    a <= b (builder.training.tasks.modular_pairs order): each unordered pair counted once, as
    (a, b) with a <= b (the model answers (b, a) the same)."""
    a, b = np.triu_indices(p)
    full = a * p + b
    train = np.zeros(p * p, bool)
    train[full[np.asarray(train_index)]] = True
    test = np.zeros(p * p, bool)
    test[full] = True
    test &= ~train
    return train, test


def measures(w_in: np.ndarray, w_out: np.ndarray, train_index, keys, modes: bool = True) -> dict[str, np.ndarray]:
    """Per checkpoint (leading axis of the collapsed weights): train and test loss, restricted
    and excluded loss (for the key frequencies `keys`), the loss of each single mode (rows
    k = 1 .. (p-1)//2; not with modes=False) and the Fourier sparsity of w_in. `train_index` indexes the task's
    unordered pairs (split_masks); the projections are taken over all p^2 ordered pairs, where
    the cos/sin pair-vectors are exactly orthogonal."""
    w_in, w_out = np.asarray(w_in, np.float64), np.asarray(w_out, np.float64)
    p = w_in.shape[-2]
    train, test = split_masks(p, train_index)
    n_freq = fourier.n_frequencies(p)
    basis = pair_basis(p, range(1, n_freq + 1), constant=True)  # (p*p, 1 + 2K): every mode
    key_cols = [0] + [c for k in keys for c in (2 * k - 1, 2 * k)]
    logit = logits(w_in, w_out)  # (checkpoints, p*p, p)
    # each class's logits in the pair basis, as one matrix product (a stacked product with a
    # transposed operand takes numpy's slow path: 20x the time)
    n = logit.shape[0]
    coef = (np.ascontiguousarray(basis.T) @ np.ascontiguousarray(logit.transpose(1, 0, 2)).reshape(p * p, n * p)
            ).reshape(-1, n, p).transpose(1, 0, 2)
    on_train = basis[train]
    # A logit restricted to functions of a + b is the same for every pair with the same residue
    # s = (a + b) mod p, so its training loss is a weighted loss over the p residues: counts[s]
    # training pairs, each labelled s. (p rows instead of ~900: what makes 33 modes cheap.)
    a, b = pairs(p)
    residue = (a + b) % p
    counts = np.bincount(residue[train], minlength=p).astype(np.float64)
    by_residue = basis[np.array([np.flatnonzero(residue == r)[0] for r in range(p)])]  # (p, 1 + 2K)
    held_out = np.bincount(residue[test], minlength=p).astype(np.float64)
    const = by_residue[:, :1] @ coef[:, :1]
    per_mode = [residue_loss(const + by_residue[:, 2 * k - 1:2 * k + 1] @ coef[:, 2 * k - 1:2 * k + 1], counts)
                for k in range(1, n_freq + 1)] if modes else []
    return {
        "train_loss": loss(logit, train), "test_loss": loss(logit, test),
        "restricted_loss": residue_loss(by_residue[:, key_cols] @ coef[:, key_cols], counts),
        "restricted_loss_test": residue_loss(by_residue[:, key_cols] @ coef[:, key_cols], held_out),
        "excluded_loss": loss(logit[:, train] - on_train[:, key_cols[1:]] @ coef[:, key_cols[1:]], rows=train),
        **({"mode_loss": np.stack(per_mode, axis=-1)} if modes else {}),
        "gini": gini(frequency_norms(w_in)),
    }


def residue_loss(logit: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The model's loss over pairs whose logits depend on a + b alone: (..., p residues, p) logits,
    row s answering every pair with (a + b) mod p = s, of which there are counts[s]."""
    p = logit.shape[-1]
    top = logit.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logit - top).sum(axis=-1)) + top[..., 0]
    nll = lse - logit[..., np.arange(p), np.arange(p)]
    return (nll * counts).sum(axis=-1) / counts.sum() / p


def frequency_norms(w: np.ndarray) -> np.ndarray:
    """(..., K): the norm of a (..., p, n) matrix's Fourier rows at each frequency k = 1 .. K
    (its cos and sin rows, all columns)."""
    cos, sin = fourier.cos_sin(w)
    return np.sqrt(np.square(cos).sum(-1) + np.square(sin).sum(-1))


def gini(x: np.ndarray) -> np.ndarray:
    """Gini coefficient of nonnegative values along the last axis: 0 all equal, (n-1)/n one."""
    x = np.sort(np.asarray(x, np.float64), axis=-1)
    n = x.shape[-1]
    rank = np.arange(1, n + 1)
    total = x.sum(-1)
    return ((2 * rank - n - 1) * x).sum(-1) / (n * np.where(total > 0, total, 1.0))


PHASES = ("memorization", "circuit formation", "cleanup")
DROP = 10.0  # "has fallen": to a tenth of its value when memorization ends


def test_peak(metric_step, test_curve) -> int:
    """The logged step where the test loss peaks: the end of memorization (fitting the training
    pairs by rote makes the held-out loss climb until it is done). One definition for the
    phases, the leads and the prose."""
    return int(np.asarray(metric_step)[int(np.argmax(test_curve))])


def at_or_after(step, at: int) -> int:
    """The index of the first checkpoint at or after step `at` (the last one if none)."""
    return min(int(np.searchsorted(np.asarray(step), at)), len(step) - 1)


def phases(step, excluded_loss, metric_step, test_curve, reached: float = 1e-3) -> list[tuple]:
    """The three phases of a run as (name, first step, last step), by a rule read off its
    logged test-loss curve and its measures at the checkpoints `step`:

    - memorization: from step 0 to the logged step where the test loss peaks (test_peak);
    - circuit formation: from there to the checkpoint (from the first one at or after the peak
      on) where the excluded loss peaks: until then what the model memorized leans more and
      more on the key frequencies;
    - cleanup: from there to the first logged step with test loss below `reached`.

    A run that never gets its test loss below `reached` has no cleanup (and no circuit formation
    when its excluded loss peaks at the first checkpoint after its test loss does)."""
    step = np.asarray(step)
    peak = test_peak(metric_step, test_curve)
    start = at_or_after(step, peak)
    formed = start + int(np.argmax(np.asarray(excluded_loss)[start:]))
    out = [(PHASES[0], int(step[0]), peak)]
    below = np.asarray(test_curve) < reached
    if not below.any():
        if formed > start:
            out.append((PHASES[1], peak, int(step[formed])))
        return out
    done = int(np.asarray(metric_step)[np.argmax(below)])
    out.append((PHASES[1], peak, int(step[formed])))
    out.append((PHASES[2], int(step[formed]), max(done, int(step[formed]))))
    return out


def first_fall(step, values, start: int, factor: float = DROP) -> int | None:
    """The first checkpoint step from index `start` on where `values` is below its value at
    `start` divided by `factor` (None if it never gets there)."""
    values = np.asarray(values)
    hit = np.flatnonzero(values[start:] < values[start] / factor)
    return int(np.asarray(step)[start + hit[0]]) if len(hit) else None


def lead(step, test_loss, restricted_loss, peak: int, factor: float = DROP) -> dict:
    """How far the restricted loss runs ahead of the test loss: the checkpoint steps at which
    each has fallen to 1/`factor` of its value at the end of memorization (the first checkpoint
    at or after the logged test-loss peak, step `peak`)."""
    memorized = at_or_after(step, peak)
    restricted = first_fall(step, restricted_loss, memorized, factor)
    test = first_fall(step, test_loss, memorized, factor)
    return {"memorized": int(np.asarray(step)[memorized]), "restricted": restricted, "test": test,
            "lead": None if restricted is None or test is None else test - restricted}
