"""Fourier analysis of the modular-addition weights: which frequency each neuron uses.

The basis has p rows, orthonormal: row 0 is constant, then cos k and sin k for k = 1 .. (p-1)//2
(for an even p a last row cos(pi x) completes it). A neuron's p input weights w are re-expressed
as coefficients c = B w; its magnitude at frequency k is sqrt(c_cos_k^2 + c_sin_k^2), and its
weights are then close to  sqrt(2/p) * magnitude * cos(2 pi k x / p - phase).

Weights come as (p, neurons) matrices, like the collapsed w_in = E W_in (67 x 24), or with any
leading axes (checkpoints, models): every function works on the last two axes.
"""
from __future__ import annotations

import numpy as np

# A neuron counts toward a frequency (key_frequencies) when its largest magnitude at that frequency
# is above this. In the orthonormal basis a pure wave of amplitude A has magnitude A sqrt(p / 2)
# (5.8 A for p = 67). In the 8 of 16 scanned opening-model seeds that generalized, every neuron
# of w_in ended with its largest magnitude between 10 and 30 and all its other magnitudes below
# 4.5; at init all magnitudes are below 0.6. 7 sits between the two groups. (The reference used
# 10 on its own, unnormalized scale.) Runs that only memorized have large magnitudes everywhere,
# so their "key frequencies" mean nothing: check energy_in_top as well.
KEY_FREQUENCY_THRESHOLD = 7.0


def n_frequencies(p: int) -> int:
    """Number of nonzero frequencies with a cos and a sin row: (p - 1) // 2."""
    return (p - 1) // 2


def fourier_basis(p: int) -> np.ndarray:
    """(p, p) orthonormal rows: constant, cos 1, sin 1, cos 2, sin 2, ... (, cos p/2)."""
    x = np.arange(p)
    rows = [np.full(p, 1 / np.sqrt(p))]
    for k in range(1, n_frequencies(p) + 1):
        angle = 2 * np.pi * k * x / p
        rows += [np.cos(angle) * np.sqrt(2 / p), np.sin(angle) * np.sqrt(2 / p)]
    if p % 2 == 0:
        rows.append(np.cos(np.pi * x) / np.sqrt(p))
    return np.stack(rows)


def basis_labels(p: int) -> list[str]:
    """Row names for charts: "const", "cos 1", "sin 1", ..."""
    labels = ["const"]
    for k in range(1, n_frequencies(p) + 1):
        labels += [f"cos {k}", f"sin {k}"]
    if p % 2 == 0:
        labels.append(f"cos {p // 2}")
    return labels


def project(w: np.ndarray) -> np.ndarray:
    """Fourier coefficients of each column: (..., p, n) -> (..., p, n), rows as fourier_basis."""
    w = np.asarray(w, dtype=np.float64)
    return fourier_basis(w.shape[-2]) @ w


def cos_sin(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cos and sin coefficients, (..., K, n) each, for frequencies k = 1 .. K."""
    c = project(w)
    k = n_frequencies(w.shape[-2])
    return c[..., 1:2 * k + 1:2, :], c[..., 2:2 * k + 2:2, :]


def magnitudes(w: np.ndarray) -> np.ndarray:
    """(..., K, n): each neuron's magnitude at frequency k = 1 .. K (row k - 1)."""
    cos, sin = cos_sin(w)
    return np.hypot(cos, sin)


def dominant(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each neuron's (frequency, phase, magnitude) at its largest nonconstant frequency.

    frequency is in 1 .. K; phase in (-pi, pi] such that the wave is cos(2 pi k x / p - phase).
    """
    cos, sin = cos_sin(w)
    mag = np.hypot(cos, sin)
    index = mag.argmax(axis=-2)[..., None, :]
    pick = lambda a: np.take_along_axis(a, index, axis=-2)[..., 0, :]  # noqa: E731
    return index[..., 0, :] + 1, np.arctan2(pick(sin), pick(cos)), pick(mag)


def neuron_order(w: np.ndarray) -> np.ndarray:
    """Neuron indices sorted by (dominant frequency, phase): the order of the wave charts."""
    frequency, phase, _ = dominant(w)
    return np.lexsort((phase, frequency))


def key_frequencies(w: np.ndarray, threshold: float = KEY_FREQUENCY_THRESHOLD) -> dict[int, list[int]]:
    """Frequency -> its neurons, for neurons whose largest magnitude passes `threshold`.

    w is one (p, n) matrix (say w_in at the end of training); frequencies in increasing order.
    """
    frequency, _, magnitude = dominant(w)
    groups: dict[int, list[int]] = {}
    for neuron in np.argsort(frequency, kind="stable"):
        if magnitude[neuron] > threshold:
            groups.setdefault(int(frequency[neuron]), []).append(int(neuron))
    return dict(sorted(groups.items()))


def energy_in_top(w: np.ndarray, top: int = 1) -> np.ndarray:
    """(..., n): share of each neuron's squared weights carried by its `top` largest frequencies.

    The denominator includes the constant row; a pure wave gives 1, white noise about top / K.
    """
    coefficients = project(w)
    total = np.square(coefficients).sum(axis=-2)
    energy = np.sort(np.square(magnitudes(w)), axis=-2)[..., ::-1, :][..., :top, :].sum(axis=-2)
    return energy / np.maximum(total, np.finfo(float).tiny)
