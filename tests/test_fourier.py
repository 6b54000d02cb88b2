"""The Fourier basis and the per-neuron frequency analysis."""
from __future__ import annotations

import numpy as np
import pytest

from builder.analysis import fourier


def wave(p, k, phase, amplitude=1.0):
    return amplitude * np.cos(2 * np.pi * k * np.arange(p) / p - phase)


@pytest.mark.parametrize("p", [2, 5, 10, 67, 97])
def test_basis_is_orthonormal(p):
    b = fourier.fourier_basis(p)
    assert b.shape == (p, p)
    np.testing.assert_allclose(b @ b.T, np.eye(p), atol=1e-12)
    assert len(fourier.basis_labels(p)) == p


def test_basis_rows_for_67():
    b = fourier.fourier_basis(67)
    assert np.allclose(b[0], 1 / np.sqrt(67))
    np.testing.assert_allclose(b[1], np.sqrt(2 / 67) * wave(67, 1, 0))  # cos 1
    np.testing.assert_allclose(b[2], np.sqrt(2 / 67) * np.sin(2 * np.pi * np.arange(67) / 67))
    np.testing.assert_allclose(b[66], np.sqrt(2 / 67) * np.sin(2 * np.pi * 33 * np.arange(67) / 67))
    assert fourier.basis_labels(67)[:3] == ["const", "cos 1", "sin 1"]
    assert fourier.basis_labels(67)[-1] == "sin 33"


def test_planted_frequency_and_phase_are_recovered():
    rng = np.random.default_rng(0)
    planted = [(5, 1.0), (5, -2.0), (17, 0.3), (33, 3.0), (1, -0.5)]
    w = np.stack([wave(67, k, ph, 2.0) for k, ph in planted], axis=1)
    w += rng.normal(0, 0.1, w.shape) + 0.7  # noise and a constant offset
    frequency, phase, magnitude = fourier.dominant(w)
    assert frequency.tolist() == [k for k, _ in planted]
    np.testing.assert_allclose(phase, [ph for _, ph in planted], atol=0.05)
    np.testing.assert_allclose(magnitude, 2.0 * np.sqrt(67 / 2), rtol=0.05)
    assert fourier.neuron_order(w).tolist() == [4, 1, 0, 2, 3]  # by frequency, then phase


def test_projection_inverts():
    w = np.random.default_rng(1).normal(size=(3, 67, 24))  # leading axes pass through
    c = fourier.project(w)
    np.testing.assert_allclose(fourier.fourier_basis(67).T @ c, w, atol=1e-12)
    assert fourier.magnitudes(w).shape == (3, 33, 24)


def test_key_frequencies_use_the_threshold():
    w = np.stack([wave(67, 4, 0, 2.0), wave(67, 4, 1, 2.0), wave(67, 9, 0, 2.0),
                  wave(67, 20, 0, 0.3)], axis=1)  # the last one is too weak to count
    assert fourier.key_frequencies(w) == {4: [0, 1], 9: [2]}
    assert fourier.key_frequencies(w, threshold=0.5) == {4: [0, 1], 9: [2], 20: [3]}


def test_energy_in_top_frequencies():
    rng = np.random.default_rng(2)
    pure = wave(67, 7, 0.4)[:, None]
    two = (wave(67, 7, 0.4) + wave(67, 12, 2.0))[:, None]
    noise = rng.normal(size=(67, 200))
    assert fourier.energy_in_top(pure, 1)[0] == pytest.approx(1.0)
    assert fourier.energy_in_top(two, 1)[0] == pytest.approx(0.5)
    assert fourier.energy_in_top(two, 2)[0] == pytest.approx(1.0)
    assert fourier.energy_in_top(noise, 1).mean() < 0.2
