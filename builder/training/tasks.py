"""Datasets. A task is a pure function of its settings: it returns a `Dataset` of tensors.

Modular addition: every model in a batch sees the same dataset of index pairs. Sparse parity:
every model draws its own strings from its seed, so its tensors carry a leading models axis.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Dataset:
    train_x: torch.Tensor  # (N_train, 2) int64 inputs (for modular addition: the pair a, b)
    train_y: torch.Tensor  # (N_train,) int64 labels
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    train_index: torch.Tensor | None = None  # (N_train,) positions of the training rows, if any


def modular_pairs(p: int) -> torch.Tensor:
    """All unordered pairs a <= b of 0..p-1, in lexicographic order: (p (p + 1) / 2, 2) int64."""
    a, b = torch.triu_indices(p, p)
    return torch.stack([a, b], dim=1)


def modular_train_size(p: int, train_fraction: float) -> int:
    """How many of the p (p + 1) / 2 unordered pairs `modular_addition` trains on."""
    return round(train_fraction * (p * (p + 1) // 2))


def modular_addition(p: int, train_fraction: float, split_seed: int) -> Dataset:
    """a + b mod p over the unordered pairs; a seeded permutation picks the training pairs."""
    pairs = modular_pairs(p)
    labels = (pairs[:, 0] + pairs[:, 1]) % p
    n_train = modular_train_size(p, train_fraction)
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(split_seed))
    train_index, _ = order[:n_train].sort()
    test_index, _ = order[n_train:].sort()
    return Dataset(
        train_x=pairs[train_index], train_y=labels[train_index],
        test_x=pairs[test_index], test_y=labels[test_index],
        n_classes=p, train_index=train_index,
    )


def parity_strings(n: int, n_bits: int, seed: int) -> torch.Tensor:
    """`n` uniform random bit strings from their own generator: (n, n_bits) float32 of 0 and 1."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, n_bits), generator=gen).float()


def with_bias(bits: torch.Tensor) -> torch.Tensor:
    """The bits with a constant 1 appended as the last input (the "Bias" column)."""
    return torch.cat([bits, torch.ones(*bits.shape[:-1], 1)], dim=-1)


def parity_labels(bits: torch.Tensor, k: int) -> torch.Tensor:
    """1.0 where the first k bits hold an odd number of ones, else 0.0."""
    return bits[..., :k].sum(dim=-1).remainder(2)


def sparse_parity(n_bits: int, k: int, train_size: int, test_size: int,
                  seeds: list[int]) -> Dataset:
    """One training batch and one test set per seed: x (M, N, n_bits + 1), y (M, N).

    Seed s draws its training strings from generator 2 s and its test strings from 2 s + 1, so
    no two streams coincide, and a larger training set starts with a smaller one's strings.
    """
    def draw(n: int, stream: int):
        bits = torch.stack([parity_strings(n, n_bits, 2 * s + stream) for s in seeds])
        return with_bias(bits), parity_labels(bits, k)

    train_x, train_y = draw(train_size, 0)
    test_x, test_y = draw(test_size, 1)
    return Dataset(train_x, train_y, test_x, test_y, n_classes=2)
