"""Datasets. A task is a pure function of its settings: it returns a `Dataset` of index tensors.

Every model in a batch sees the same dataset, so the trainer needs nothing but these tensors.
A new task (sparse parity, say) only has to return a `Dataset` of its own.
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
    train_index: torch.Tensor  # (N_train,) positions of the training rows in the full input list


def modular_pairs(p: int) -> torch.Tensor:
    """All unordered pairs a <= b of 0..p-1, in lexicographic order: (p (p + 1) / 2, 2) int64."""
    a, b = torch.triu_indices(p, p)
    return torch.stack([a, b], dim=1)


def modular_addition(p: int, train_fraction: float, split_seed: int) -> Dataset:
    """a + b mod p over the unordered pairs; a seeded permutation picks the training pairs."""
    pairs = modular_pairs(p)
    labels = (pairs[:, 0] + pairs[:, 1]) % p
    n_train = round(train_fraction * len(pairs))
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(split_seed))
    train_index, _ = order[:n_train].sort()
    test_index, _ = order[n_train:].sort()
    return Dataset(
        train_x=pairs[train_index], train_y=labels[train_index],
        test_x=pairs[test_index], test_y=labels[test_index],
        n_classes=p, train_index=train_index,
    )
