"""What makes a model grok: the phases of Liu et al. (2022) and the embedding's ring.

Phases. Liu et al. sort a run by when its train and test accuracy first reach a level (0.9),
within a fixed budget of steps:

    "confusion"       train accuracy never reaches the level
    "memorization"    train accuracy does, test accuracy never does
    "grokking"        test accuracy reaches it more than GAP steps after train accuracy did
    "comprehension"   otherwise: test follows train within GAP steps (or comes first)

A run's crossings are the first logged steps at the level (builder.training.sweep
accuracy_arrays, -1: never), so they are as fine as the metrics' schedule (about every 100
steps in the sweeps of this section). As for builder.analysis.outcomes, the rule is data:
`classify` evaluates it with numpy and `vega_expression` writes it for the page's slider.

Ring. Liu et al. found that a model that generalizes on modular addition has an embedding whose
first two principal components place the p numbers on a circle, each at an angle proportional to
k x a mod p for one frequency k. `ring_score` measures that: the length of the mean of
exp(i (angle_a -/+ 2 pi k a / p)) over the numbers a, for the best k and direction: 1 for
points on a perfectly ordered ring (any radius), about 0.3 for points in random directions
(the best of 66 choices of k and direction, with p = 67).
"""
from __future__ import annotations

import numpy as np

PHASES = ("comprehension", "grokking", "memorization", "confusion")
LEVEL = 0.9  # accuracy that counts as "reached" (Liu et al.)
GAP = 1000  # steps between train and test reaching LEVEL that separate grokking from comprehension


def classify(first_train, first_test, gap: float = GAP) -> np.ndarray:
    """Indices into PHASES of runs with these first steps at LEVEL (-1: never reached)."""
    train, test = np.asarray(first_train), np.asarray(first_test)
    return np.select([train < 0, test < 0, test - train > gap], [3, 2, 1], 0).astype(np.int8)


def vega_expression(train: str, test: str, gap: str) -> str:
    """The same rule as a Vega expression whose value is the phase's name."""
    return (f"{train} < 0 ? '{PHASES[3]}' : {test} < 0 ? '{PHASES[2]}' : "
            f"{test} - {train} > {gap} ? '{PHASES[1]}' : '{PHASES[0]}'")


def diagonal(lr: float, weight_decay: float) -> float:
    """The product lr x weight_decay (the share of every weight that decoupled weight decay
    removes at each step) rounded to the nearest half decade, 1 or 3 x 10^e: the cells of a
    grid whose rates and decays step by about sqrt(10) that share it lie on one diagonal
    (3e-4 x 3 = 9e-4 and 1e-3 x 1 fall together at 1e-3). 0 without decay."""
    product = float(lr) * float(weight_decay)
    if product <= 0:
        return 0.0
    d = int(round(2 * np.log10(product)))
    return round((1 if d % 2 == 0 else 3) * 10.0 ** (d // 2), 12)


def counts(codes) -> dict[str, int]:
    codes = np.asarray(codes)
    return {name: int((codes == i).sum()) for i, name in enumerate(PHASES)}


# -- the embedding's principal components ------------------------------------------------------
def components(x: np.ndarray, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The first n principal directions (n, d) of the rows of x (p, d), and every component's
    share of the variance."""
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:n], s ** 2 / np.sum(s ** 2)


def planes(embeds: np.ndarray) -> dict[str, np.ndarray]:
    """The embedding (checkpoints, p, d) in two planes at every checkpoint:

    own:   its own first two principal components, each component's sign chosen to agree with
           the previous checkpoint's (a principal direction has no sign of its own; without this
           the picture would flip as the reader scrubs);
    final: projected on the last checkpoint's first two principal components.

    Also `explained`: the share of variance of the own plane's two components."""
    x = np.asarray(embeds, np.float64)
    final, _ = components(x[-1])
    own, projected, explained = [], [], []
    previous = None
    for e in x:
        centred = e - e.mean(axis=0)
        v, share = components(e)
        if previous is not None:
            v = v * np.where(np.sum(v * previous, axis=1) < 0, -1.0, 1.0)[:, None]
        previous = v
        own.append(centred @ v.T)
        projected.append(centred @ final.T)
        explained.append(share[:2].sum())
    return {"own": np.array(own), "final": np.array(projected), "explained": np.array(explained)}


def ring_score(xy: np.ndarray) -> tuple[float, int, int]:
    """(score, k, direction) for p points xy (p, 2) indexed by their number a: how closely the
    angles follow direction x 2 pi k a / p around a circle, for the best k in 1..p//2 and
    direction +1 / -1 (see the module's docstring)."""
    p = len(xy)
    angle = np.arctan2(xy[:, 1], xy[:, 0])
    a = np.arange(p)
    best = (0.0, 1, 1)
    for k in range(1, p // 2 + 1):
        for direction in (1, -1):
            score = float(np.abs(np.mean(np.exp(1j * (angle - direction * 2 * np.pi * k * a / p)))))
            if score > best[0]:
                best = (score, k, direction)
    return best


def ring_order(k: int, p: int) -> np.ndarray:
    """The numbers in the order a ring of frequency k visits them: the j-th is j / k mod p
    (its angle 2 pi j / p), so consecutive ones are neighbours on the ring."""
    return (np.arange(p) * pow(int(k), -1, p)) % p


def random_plane_scores(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """ring_score of the rows of x (p, d), centred, projected on n random 2-D planes: what a
    plane that knows nothing of the numbers scores (the null against which the final plane's
    score on the untrained embedding is judged)."""
    rng = np.random.default_rng(seed)
    centred = x - x.mean(axis=0)
    scores = []
    for _ in range(n):
        q, _ = np.linalg.qr(rng.normal(size=(x.shape[1], 2)))
        scores.append(ring_score(centred @ q)[0])
    return np.array(scores)
