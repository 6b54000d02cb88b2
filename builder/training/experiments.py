"""Experiment kinds: the settings each kind accepts, its algorithm version, and how to run it.

A kind's `run(spec, ...)` turns a resolved spec (plain values from experiments.toml) into the
arrays the freeze store keeps, under the key `spec_key(spec)`. Bump a kind's `version` whenever
its training or its arrays change in a way a frozen artifact would not show: every artifact of
that kind is then retrained. To keep more without that, declare it per experiment instead: a
modular experiment's `snapshot = ["embed"]` makes its checkpoints also keep the embedding, and
only that experiment's key changes (left out, the setting is not in the spec at all).

Imports run one way, each module importing only those before it: settings; tasks, models,
trainer; experiments; config and sweep; then builder.freeze.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from builder.errors import did_you_mean
from builder.training import models, tasks, trainer
from builder.training.settings import OMITTED, Setting, check_value


def positive(value):
    return None if value > 0 else f"must be positive, not {value}"


def non_negative(value):
    return None if value >= 0 else f"must be zero or more, not {value}"


def fraction(value):
    return None if 0 < value < 1 else f"must be between 0 and 1 (exclusive), not {value}"


def beta(value):
    return None if 0 <= value < 1 else f"must be in [0, 1), not {value}"


# Upper bounds where a larger value is a slip, not an experiment: a billion steps is years of one
# CPU, and the logged steps and checkpoints are laid out (trainer.schedule) before any training.
MAX_STEPS, MAX_LOGGED, MAX_CHECKPOINTS = 10 ** 9, 100_000, 10_000


def at_most(limit: int, check=None):
    """A check: `check`'s, then at most `limit`."""
    def bounded(value):
        problem = check(value) if check else None
        if problem:
            return problem
        return None if value <= limit else f"must be at most {limit:,}, not {value:,}"
    return bounded


# Settings every kind trains with: the regularizer's strength and full-batch AdamW (or SGD).
# `optimizer`, `momentum`, `init_scale`, `batch_size` and `perturb` are left out of the resolved spec
# unless written (as `snapshot` is), so every experiment that does not write them keeps its key.
OPTIMIZER = {
    "weight_decay": Setting("float", None, non_negative,
                            doc="l2: decoupled AdamW decay; l1: strength of the L1 penalty"),
    "lr": Setting("float", None, positive),
    "beta1": Setting("float", 0.9, beta),
    "beta2": Setting("float", 0.98, beta),
    "eps": Setting("float", 1e-8, positive),
    "steps": Setting("int", None, at_most(MAX_STEPS, positive)),
    "metrics": Setting("int", 500, at_most(MAX_LOGGED, lambda v: None if v >= 2 else "must be at least 2")),
    "optimizer": Setting("str", OMITTED, choices=trainer.OPTIMIZERS,
                         doc='"adamw" (unwritten: the default) or "sgd": SGD with momentum '
                             "(`momentum` required), weight decay decoupled as in AdamW"),
    "momentum": Setting("float", OMITTED, beta, doc='heavy-ball momentum of optimizer = "sgd"'),
    "init_scale": Setting("float", OMITTED, positive,
                          doc="multiplies every initial weight (unwritten: 1, the plain init)"),
    "batch_size": Setting("int", OMITTED, positive,
                          doc="training examples per step, drawn afresh each step for each model "
                              "(unwritten: every training example, full batch)"),
    "perturb": Setting("int", OMITTED, lambda v: None if v >= 1 else "must be at least 1 (leave it out for none)",
                       doc="nudges every initial weight by this many units in the last place (ulps): "
                           "a stand-in for another CPU's rounding, written by `verify --perturb`"),
}


def check_optimizer(spec: dict, n_train: int, examples: str):
    """(key, message) when the optimizer settings contradict each other, else None; `n_train`
    is the run's number of training `examples` (a minibatch draws at most that many)."""
    if spec.get("batch_size", 0) > n_train:
        return "batch_size", (f"batch_size = {spec['batch_size']} is more than the {n_train:,} "
                              f"training {examples}")
    sgd = spec.get("optimizer") == "sgd"
    if sgd and "momentum" not in spec:
        return "optimizer", 'optimizer = "sgd" needs a momentum = ... (0 for plain SGD)'
    if not sgd and "momentum" in spec:
        return "momentum", 'momentum is for optimizer = "sgd" (AdamW uses beta1)'
    if spec["lr"] * spec["weight_decay"] >= 1 and spec.get("regularizer", "l2") == "l2":
        return "weight_decay", (f"lr x weight_decay = {spec['lr'] * spec['weight_decay']:g} "
                                "shrinks the weights by 1 or more each step (must be under 1)")
    return None


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
    **OPTIMIZER,
    "checkpoints": Setting("int", 101, at_most(MAX_CHECKPOINTS, lambda v: None if v == 0 or v >= 2
                                               else "must be 0 (no weights) or at least 2")),
    # Omitted from the resolved spec unless written, so an experiment that keeps the default
    # snapshot keeps its key, and one that asks for more gets a key (and artifact) of its own.
    "snapshot": Setting("names", OMITTED, choices=tuple(models.SNAPSHOT_EXTRAS),
                        doc="what each weight checkpoint keeps besides the collapsed matrices "
                            "E W_in and W_out E^T (builder.training.models.SNAPSHOT_EXTRAS)"),
}


# kind = "circle": the modular task with the embedding fixed on the unit circle (section 4).
CIRCLE = {key: setting for key, setting in MODULAR.items()
          if key not in ("embed", "tied_embedding", "tied_in_projection", "collapsed_input",
                         "collapsed_output", "snapshot")}


def check_modular(spec: dict):
    """(key, message) for settings that are wrong only in combination, else None."""
    try:
        model_config(spec).check()
    except ValueError as e:
        return "embed", str(e)
    pairs = spec["p"] * (spec["p"] + 1) // 2  # as tasks.modular_addition splits them
    n_train = tasks.modular_train_size(spec["p"], spec["train_fraction"])
    if not 0 < n_train < pairs:
        return "train_fraction", (f"train_fraction = {spec['train_fraction']} of the {pairs:,} pairs of p = {spec['p']} "
                                  f"leaves {'no training' if n_train == 0 else 'no test'} pair")
    problem = check_optimizer(spec, n_train, f"pairs (p = {spec['p']}, train_fraction = "
                                             f"{spec['train_fraction']})")
    if problem:
        return problem
    for key in ("metrics", "checkpoints"):
        if spec[key] > spec["steps"] + 1:
            return key, f"{key} = {spec[key]} is more than steps + 1 = {spec['steps'] + 1}"
    if spec.get("snapshot") and spec["checkpoints"] == 0:
        return "snapshot", "snapshot asks for weights at checkpoints, but checkpoints = 0 keeps none"
    return None


def model_config(spec: dict) -> models.ModelConfig:
    if spec["kind"] == "circle":
        return models.ModelConfig(n_in=spec["p"], n_out=spec["p"], embed=2, hidden=spec["hidden"],
                                  circle_embedding=True)
    return models.ModelConfig(
        n_in=spec["p"], n_out=spec["p"], embed=spec["embed"], hidden=spec["hidden"],
        tied_embedding=spec["tied_embedding"], tied_in_projection=spec["tied_in_projection"],
        collapsed_input=spec["collapsed_input"], collapsed_output=spec["collapsed_output"],
        snapshot_extra=tuple(spec.get("snapshot", ())))


def train_config(specs: list[dict]) -> trainer.TrainConfig:
    """One model per spec (each with a single seed); lr and weight decay may differ per model."""
    first = specs[0]
    l1 = first["regularizer"] == "l1"
    return trainer.TrainConfig(
        steps=first["steps"], seeds=tuple(s["seed"] for s in specs),
        lr=tuple(s["lr"] for s in specs),
        weight_decay=tuple(0.0 if l1 else s["weight_decay"] for s in specs),
        l1=tuple(s["weight_decay"] if l1 else 0.0 for s in specs),
        betas=(first["beta1"], first["beta2"]), eps=first["eps"],
        n_metrics=first["metrics"], n_checkpoints=first["checkpoints"],
        optimizer=first.get("optimizer", "adamw"), momentum=first.get("momentum", 0.0),
        init_scale=tuple(s.get("init_scale", 1.0) for s in specs),
        batch_size=first.get("batch_size", 0), perturb=first.get("perturb", 0))


def same_shapes(specs: list[dict], per_model: tuple[str, ...]) -> None:
    """Runs of one batch may differ only in `per_model` settings."""
    first = specs[0]
    for spec in specs:
        different = [k for k in first if k not in per_model and spec[k] != first[k]]
        if different:
            raise ValueError(f"runs of one batch differ in {', '.join(different)}")


def per_seed(spec: dict) -> list[dict]:
    """A spec whose `seed` may be a list, as one spec per seed."""
    seeds = spec["seed"] if isinstance(spec["seed"], list) else [spec["seed"]]
    return [{**spec, "seed": s} for s in seeds]


# Stored precision: losses keep float32 (they fall to ~1e-7, below float16's resolution);
# weight checkpoints become float16 (3 significant digits, far finer than a heatmap's colours).
FLOAT16 = ("w_in", "w_in_a", "w_in_b", "w_out", "embed", "embed_in", "embed_out")


def finish(out: dict[str, np.ndarray], single: bool) -> dict[str, np.ndarray]:
    """The trainer's arrays as stored: checkpoints float16, the models axis dropped if `single`."""
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


# Settings that may differ between the models of one batch (the same tensor shapes): a sweep
# trains runs together when everything else is the same (the optimizer and its momentum are
# shared by a batch: runs of two optimizers train in separate shards).
PER_MODEL = ("seed", "weight_decay", "lr", "init_scale")


def run_modular_batch(specs: list[dict], **train_options) -> dict[str, np.ndarray] | None:
    """Train modular runs that differ only in PER_MODEL settings as one batch (one split).

    Each spec has a single seed. Arrays keep the models axis first, in the order of `specs`.
    """
    same_shapes(specs, PER_MODEL)
    first = specs[0]
    data = tasks.modular_addition(first["p"], first["train_fraction"], first["split_seed"])
    out = trainer.train(data, model_config(first), train_config(specs), **train_options)
    return None if out is None else finish(out, single=False)


def run_modular(spec: dict, **train_options) -> dict[str, np.ndarray] | None:
    """Train a modular-addition experiment; None when stopped early (see trainer.train).

    With a single `seed` the models axis is dropped: metrics are (n_metrics,), checkpoints
    (n_checkpoints, p, hidden); with a list of seeds every array keeps it first.
    """
    out = run_modular_batch(per_seed(spec), **train_options)
    return None if out is None else finish(out, single=not isinstance(spec["seed"], list))


PARITY = {
    "n_bits": Setting("int", 30, positive, doc="random bits per string"),
    "parity_bits": Setting("int", 3, positive, doc="the label is the parity of the first k bits"),
    "train_size": Setting("int", None, positive, doc="the fixed training batch"),
    "test_size": Setting("int", None, positive, doc="fresh test strings"),
    "seed": Setting("seed", None, doc="init and data seed; a list trains one model per seed"),
    "hidden": Setting("int", None, positive),
    "regularizer": Setting("str", None, choices=("l1", "l2")),
    **OPTIMIZER,
    "checkpoints": Setting("int", 101, at_most(MAX_CHECKPOINTS, non_negative)),
}

def check_parity(spec: dict):
    if spec["parity_bits"] > spec["n_bits"]:
        return "parity_bits", f"parity_bits = {spec['parity_bits']} is more than n_bits"
    problem = check_optimizer(spec, spec["train_size"], "strings (train_size)")
    if problem:
        return problem
    for key in ("metrics", "checkpoints"):
        if spec[key] > spec["steps"] + 1:
            return key, f"{key} = {spec[key]} is more than steps + 1 = {spec['steps'] + 1}"
    return None


def run_parity_batch(specs: list[dict], **train_options) -> dict[str, np.ndarray] | None:
    """Train sparse-parity runs that differ only in PER_MODEL settings as one batch.

    Each spec has a single seed (its own strings). Arrays keep the models axis first, in the
    order of `specs`.
    """
    same_shapes(specs, PER_MODEL)
    first = specs[0]
    data = tasks.sparse_parity(first["n_bits"], first["parity_bits"], first["train_size"],
                               first["test_size"], [spec["seed"] for spec in specs])
    model = models.ParityConfig(n_in=first["n_bits"] + 1, hidden=first["hidden"])
    out = trainer.train(data, model, train_config(specs), **train_options)
    return None if out is None else finish(out, single=False)


def run_parity(spec: dict, **train_options) -> dict[str, np.ndarray] | None:
    """Train a sparse-parity experiment; as run_modular, a single seed drops the models axis.

    Arrays: train/test loss and acc, l1/l2 norm (n_metrics,); w_in (n_checkpoints, 31, hidden)
    float16, inputs x neurons with "Bias" last; w_out (n_checkpoints, hidden) float16;
    final_w_in (31, hidden), final_w_out (hidden, 1) float32.
    """
    out = run_parity_batch(per_seed(spec), **train_options)
    return None if out is None else finish(out, single=not isinstance(spec["seed"], list))


def grid(setting: Setting) -> Setting:
    """A run setting as a sweep setting: a single value, or a list of values (a grid axis)."""
    kind = "int" if setting.type == "seed" else setting.type
    return Setting(f"grid {kind}", setting.default, setting.check, setting.choices, setting.doc)


# Settings of the sweep itself; every other setting belongs to the runs.
SWEEP_SETTINGS = ("of", "shard_size", "curve_points", "kind", "cases", "accuracy")
# Run settings a sweep does not take: its shards keep sweep.KEPT of each run's checkpoints.
NOT_SWEPT = ("snapshot",)


# kind = "sweep": three settings of its own, `of` (the kind of its runs), and that kind's run
# settings, each a single value or a list (an axis of the grid). The schema depends on `of`.
SWEEP_OWN = {
    "of": Setting("str", "parity", choices=("parity", "modular"), doc="the kind of every run"),
    "shard_size": Setting("int", 0, non_negative,
                          doc="runs trained together; 0 picks a cache-sized batch per shape"),
    "curve_points": Setting("int", 101, at_most(MAX_LOGGED, lambda v: None if v >= 2 else "must be at least 2"),
                            doc="logged steps kept of each run's loss curves"),
    # Omitted unless written (as a run's `snapshot`): the sweeps frozen before it keep their keys.
    "accuracy": Setting("bool", OMITTED,
                        doc="true: each run also keeps its accuracy curves and the first logged "
                            "steps its train and test accuracy reach 0.9 and 0.99 "
                            "(builder.training.sweep.ACCURACY_LEVELS)"),
}


def check_cases(cases: list, runs: dict[str, Setting], values: dict):
    """Why a sweep's `cases` are wrong, or None: each case sets run settings to single values,
    and no setting that is an axis of the grid."""
    for number, case in enumerate(cases, start=1):
        for key, value in case.items():
            if key not in runs:
                return f'case {number}: unknown setting "{key}"' + did_you_mean(key, runs)
            if isinstance(values.get(key), list):
                return f'case {number} sets "{key}", which is an axis of the grid'
            problem = check_value(runs[key], value)
            if problem:
                return f"case {number}: {key} {problem}"
    return None


def sweep_schema(values: dict) -> dict[str, Setting]:
    """The settings a sweep table accepts, given its values (`of` picks the run schema)."""
    of = values.get("of", SWEEP_OWN["of"].default)
    # an unknown `of` accepts every run kind's settings, so the error is about `of` itself
    kinds = [of] if of in SWEEP_OWN["of"].choices else SWEEP_OWN["of"].choices
    runs = {key: setting for k in kinds for key, setting in KINDS[k].schema.items()
            if key not in NOT_SWEPT}
    cases = Setting("tables", OMITTED, lambda v: check_cases(v, runs, values),
                    doc="the first axis: each table sets several run settings at once")
    return {**SWEEP_OWN, "cases": cases, **{key: grid(setting) for key, setting in runs.items()}}


def expand(spec: dict) -> tuple[dict, list[dict], list[dict]]:
    """(axes, runs, points) of a resolved sweep spec: the grid's axes, one run spec per grid
    point (first axis slowest) and each run's axis values.

    `cases` (a list of tables, each setting several run settings at once) is the first axis,
    "case", valued by its index: e.g. one case per architecture, as the switches that make it.
    """
    shared = {k: v for k, v in spec.items() if k not in SWEEP_SETTINGS}
    axes = {"case": list(range(len(spec["cases"])))} if spec.get("cases") else {}
    axes.update({k: v for k, v in shared.items() if isinstance(v, list)})
    runs, points = [], []
    for values in itertools.product(*axes.values()):
        point = dict(zip(axes, values))
        case = spec["cases"][point["case"]] if "case" in point else {}
        run = {**shared, **{k: v for k, v in point.items() if k != "case"}, **case, "kind": spec["of"]}
        runs.append(dict(sorted(run.items())))
        points.append(point)
    return axes, runs, points


def check_sweep(spec: dict):
    """The first run setting that is wrong in combination, as check_parity sees it."""
    for key in ("steps", "metrics"):
        if isinstance(spec[key], list):
            return key, f"{key} cannot be an axis: every run of a sweep logs the same steps"
    _, runs, _ = expand(spec)
    for run_spec in runs:
        problem = KINDS[spec["of"]].check(run_spec)
        if problem:
            return problem
    if spec["curve_points"] > spec["metrics"]:
        return "curve_points", (f"curve_points = {spec['curve_points']} is more than "
                                f"metrics = {spec['metrics']}")
    return None


def run_sweep(spec: dict, **train_options):
    raise ValueError("a sweep trains shard by shard: use builder.freeze.train_sweep")


@dataclass(frozen=True)
class Kind:
    schema: dict[str, Setting]
    version: int
    check: Callable[[dict], tuple[str, str] | None]
    run: Callable[..., dict[str, np.ndarray] | None]
    # for sweeps: settings that may differ within a batch, and the runner of such a batch
    per_model: tuple[str, ...] = ()
    run_batch: Callable[..., dict[str, np.ndarray] | None] | None = None
    # a schema that depends on the table's values (a sweep's on its `of`); else `schema`
    schema_for: Callable[[dict], dict[str, Setting]] | None = None

    def settings(self, values: dict) -> dict[str, Setting]:
        return self.schema if self.schema_for is None else self.schema_for(values)


KINDS: dict[str, Kind] = {
    # version 1: full-batch AdamW, loss / p, collapsed-matrix forward, denormals flushed.
    "modular": Kind(MODULAR, 1, check_modular, run_modular, PER_MODEL, run_modular_batch),
    # version 1: a training batch and a test set per seed (streams 2s, 2s+1), bias as input 31,
    # one logit, binary cross-entropy, full-batch AdamW, L1 in the loss or decoupled L2.
    "parity": Kind(PARITY, 1, check_parity, run_parity, PER_MODEL, run_parity_batch),
    # version 1: see builder.training.sweep (its shards also carry sweep.SUMMARY_VERSION).
    "sweep": Kind({}, 1, check_sweep, run_sweep, schema_for=sweep_schema),
    # version 1: as modular version 1, with E fixed on the unit circle; checkpoints also keep
    # proj_in (2 x hidden) and proj_out (hidden x 2) in float32.
    "circle": Kind(CIRCLE, 1, check_modular, run_modular),
}


def spec_key(spec: dict) -> str:
    """sha256 of a resolved spec and its kind's algorithm version: the key of a frozen artifact
    (builder.freeze) and of each run of a sweep's shards (builder.training.sweep)."""
    payload = {"spec": spec, "algorithm_version": KINDS[spec["kind"]].version}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run(spec: dict, *, state_path: Path | None = None, state_key: str = "",
        max_steps: int | None = None, progress: bool = True, desc: str = "train",
        device: str = "cpu", timing: dict | None = None):
    """Run a resolved spec with its kind's runner (`timing`: see trainer.train)."""
    return KINDS[spec["kind"]].run(spec, state_path=state_path, state_key=state_key,
                                   max_steps=max_steps, progress=progress, desc=desc,
                                   device=device, timing=timing)
