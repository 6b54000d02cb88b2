"""Experiment kinds: the settings each kind accepts, its algorithm version, and how to run it.

A kind's `run(spec, ...)` turns a resolved spec (plain values from experiments.toml) into the
arrays the freeze store keeps. Bump a kind's `version` whenever its training or its arrays change
in a way a frozen artifact would not show: every artifact of that kind is then retrained.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from builder.training import models, tasks, trainer
from builder.training.config import Setting


def positive(value):
    return None if value > 0 else f"must be positive, not {value}"


def non_negative(value):
    return None if value >= 0 else f"must be zero or more, not {value}"


def fraction(value):
    return None if 0 < value < 1 else f"must be between 0 and 1 (exclusive), not {value}"


def beta(value):
    return None if 0 <= value < 1 else f"must be in [0, 1), not {value}"


MODULAR = {
    "p": Setting("int", None, lambda v: None if v >= 2 else f"must be at least 2, not {v}",
                 doc="modulus; inputs are unordered pairs a <= b"),
    "train_fraction": Setting("float", None, fraction, doc="share of pairs used for training"),
    "split_seed": Setting("int", 0, non_negative, doc="seed of the train/test permutation"),
    "seed": Setting("seed", None, doc="init seed; a list trains one model per seed"),
    "embed": Setting("int", None, positive),
    "hidden": Setting("int", None, positive),
    "tied_embedding": Setting("bool", True),
    "tied_in_projection": Setting("bool", True),
    "collapsed_input": Setting("bool", False),
    "collapsed_output": Setting("bool", False),
    "regularizer": Setting("str", "l2", choices=("l2", "l1")),
    "weight_decay": Setting("float", None, non_negative,
                            doc="l2: decoupled AdamW decay; l1: strength of the L1 penalty"),
    "lr": Setting("float", None, positive),
    "beta1": Setting("float", 0.9, beta),
    "beta2": Setting("float", 0.98, beta),
    "eps": Setting("float", 1e-8, positive),
    "steps": Setting("int", None, positive),
    "metrics": Setting("int", 500, lambda v: None if v >= 2 else "must be at least 2"),
    "checkpoints": Setting("int", 101, lambda v: None if v >= 2 else "must be at least 2"),
}


def check_modular(spec: dict):
    """(key, message) for settings that are wrong only in combination, else None."""
    try:
        model_config(spec).check()
    except ValueError as e:
        return "embed", str(e)
    for key in ("metrics", "checkpoints"):
        if spec[key] > spec["steps"] + 1:
            return key, f"{key} = {spec[key]} is more than steps + 1 = {spec['steps'] + 1}"
    return None


def model_config(spec: dict) -> models.ModelConfig:
    return models.ModelConfig(
        n_in=spec["p"], n_out=spec["p"], embed=spec["embed"], hidden=spec["hidden"],
        tied_embedding=spec["tied_embedding"], tied_in_projection=spec["tied_in_projection"],
        collapsed_input=spec["collapsed_input"], collapsed_output=spec["collapsed_output"])


def train_config(spec: dict) -> trainer.TrainConfig:
    seeds = spec["seed"] if isinstance(spec["seed"], list) else [spec["seed"]]
    n = len(seeds)
    decay = spec["weight_decay"]
    return trainer.TrainConfig(
        steps=spec["steps"], seeds=tuple(seeds), lr=(spec["lr"],) * n,
        weight_decay=(decay if spec["regularizer"] == "l2" else 0.0,) * n,
        l1=(decay if spec["regularizer"] == "l1" else 0.0,) * n,
        betas=(spec["beta1"], spec["beta2"]), eps=spec["eps"],
        n_metrics=spec["metrics"], n_checkpoints=spec["checkpoints"])


# Stored precision: losses keep float32 (they fall to ~1e-7, below float16's resolution);
# weight checkpoints become float16 (3 significant digits, far finer than a heatmap's colours).
FLOAT16 = ("w_in", "w_in_a", "w_in_b", "w_out")


def run_modular(spec: dict, **train_options) -> dict[str, np.ndarray] | None:
    """Train a modular-addition experiment; None when stopped early (see trainer.train).

    With a single `seed` the models axis is dropped: metrics are (n_metrics,), checkpoints
    (n_checkpoints, p, hidden); with a list of seeds every array keeps it first.
    """
    data = tasks.modular_addition(spec["p"], spec["train_fraction"], spec["split_seed"])
    out = trainer.train(data, model_config(spec), train_config(spec), **train_options)
    if out is None:
        return None
    single = not isinstance(spec["seed"], list)
    arrays = {}
    for key, value in out.items():
        if single and key not in ("metric_step", "checkpoint_step", "train_index", "seed"):
            value = value[0]
        if key in FLOAT16:
            value = value.astype(np.float16)
        elif value.dtype == np.float64:
            value = value.astype(np.float32)
        arrays[key] = value
    return arrays


@dataclass(frozen=True)
class Kind:
    schema: dict[str, Setting]
    version: int
    check: Callable[[dict], tuple[str, str] | None]
    run: Callable[..., dict[str, np.ndarray] | None]


KINDS: dict[str, Kind] = {
    # version 1: full-batch AdamW, loss / p, collapsed-matrix forward, denormals flushed.
    "modular": Kind(MODULAR, 1, check_modular, run_modular),
}


def run(spec: dict, *, state_path: Path | None = None, state_key: str = "",
        max_steps: int | None = None, progress: bool = True, desc: str = "train"):
    """Run a resolved spec with its kind's runner."""
    return KINDS[spec["kind"]].run(spec, state_path=state_path, state_key=state_key,
                                   max_steps=max_steps, progress=progress, desc=desc)
