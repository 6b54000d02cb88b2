"""Training benchmarks: `run()` returns rows {name, value, unit}; the caller prints the table.

Measured in one process, one thread (as the freeze store trains):
- the opening model's steps/s;
- a batch of small models trained together vs the same models one at a time, and the ratio;
- the matrix-product FLOP rate the batched trainer reaches, next to this machine's float32
  rate on a square matmul measured here too;
- the sparse-parity sweep's throughput: one shard of its runs (same width and training size,
  different seeds and weight decays, each with its own strings) trained as one batch vs one run
  at a time, in model-steps/s, and the GFLOP/s that is;
- the same for the first shard of each of the modular sweeps of "What makes a model grok?"
  (the opening model, 15 runs with their own learning rate, decay or init scale; AdamW and SGD).
"""
from __future__ import annotations

import time

import torch

from builder.paths import ROOT
from builder.training import config, experiments, models, sweep, tasks, trainer


def train_steps_per_s(data, model: models.ModelConfig, seeds: list[int], steps: int) -> float:
    """Optimizer steps per second of one trainer call (metrics and checkpoints at both ends)."""
    n = len(seeds)
    cfg = trainer.TrainConfig(steps=steps, seeds=tuple(seeds), lr=(1e-3,) * n,
                              weight_decay=(1.0,) * n, l1=(0.0,) * n,
                              n_metrics=2, n_checkpoints=2)
    start = time.perf_counter()
    trainer.train(data, model, cfg, progress=False)
    return steps / (time.perf_counter() - start)


def matmul_flops_per_step(model: models.ModelConfig, n_examples: int) -> float:
    """Matrix-product FLOPs of one training step of one model (backward counted as 2x forward).

    Forward: the collapsed matrices (E W_in, E W_out^T: 2 p d h each), the one-hot gather
    (2 N p h) and the logits (2 N h p).
    """
    p, d, h = model.n_in, model.embed, model.hidden
    forward = 2 * (2 * p * d * h) + 2 * n_examples * p * h + 2 * n_examples * h * p
    return 3.0 * forward


def parity_flops_per_step(n_examples: int, n_in: int, hidden: int) -> float:
    """Matrix-product FLOPs of one sparse-parity training step of one model.

    Forward: x W_in (2 N n_in h) and the logit (2 N h). Backward: the W_in gradient (2 N n_in h),
    the w_out gradient and the hidden layer's gradient (2 N h each); no gradient for the inputs.
    """
    return 4.0 * n_examples * n_in * hidden + 6.0 * n_examples * hidden


def sweep_shard_rates(hidden: int, n_models: int, steps: int) -> tuple[float, float]:
    """(batched, one at a time) model-steps/s for runs of the sparse-parity sweep at `hidden`."""
    plan = sweep.plan(config.get("sweep-sparse-parity", ROOT).resolve())
    runs = [r for r in plan.runs if r["hidden"] == hidden and r["train_size"] == 1250][:n_models]
    return batched_and_looped(experiments.run_parity_batch,
                              [{**r, "steps": steps, "metrics": 2} for r in runs])


def batched_and_looped(run_batch, runs: list[dict]) -> tuple[float, float]:
    """(model-steps/s of `runs` trained as one batch by `run_batch`, and one at a time)."""
    def rate(batch):
        start = time.perf_counter()
        run_batch(batch, progress=False)
        return len(batch) * batch[0]["steps"] / (time.perf_counter() - start)

    return rate(runs), len(runs) / sum(1 / rate([r]) for r in runs)


GROK_SWEEPS = ("sweep-grok-phase", "sweep-grok-sgd")


def modular_shard_rates(name: str, steps: int) -> tuple[int, float, float, float]:
    """(runs, batched model-steps/s, one at a time, matmul FLOPs of one model-step) for the
    first shard of the modular sweep `name`, its runs shortened to `steps`."""
    plan = sweep.plan(config.get(name, ROOT).resolve())
    runs = [{**plan.runs[i], "steps": steps, "metrics": 2} for i in plan.shards[0].runs]
    batched, looped = batched_and_looped(experiments.run_modular_batch, runs)
    first = runs[0]
    n_train = len(tasks.modular_addition(first["p"], first["train_fraction"],
                                         first["split_seed"]).train_x)
    flops = matmul_flops_per_step(experiments.model_config(first), n_train)
    return len(runs), batched, looped, flops


def matmul_gflops(n: int, repeats: int) -> float:
    """This machine's float32 rate on an n x n matmul, best of `repeats`."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def run(quick: bool = False) -> list[dict]:
    with trainer.one_thread():
        return measure(quick)


def measure(quick: bool) -> list[dict]:
    rows = []
    row = lambda name, value, unit: rows.append(  # noqa: E731
        {"name": name, "value": round(value, 3), "unit": unit})
    data = tasks.modular_addition(67, 0.4, 0)

    opening = models.ModelConfig(67, 67, embed=500, hidden=24)
    steps = 200 if quick else 2000
    rate = train_steps_per_s(data, opening, [0], steps)
    row("opening model (p 67, embed 500, hidden 24)", rate, "steps/s")
    row("opening model, 50,000 steps", 50_000 / rate, "s")

    n_models, steps = (8, 100) if quick else (32, 500)
    small = models.ModelConfig(67, 67, embed=32, hidden=24)
    batched = train_steps_per_s(data, small, list(range(n_models)), steps) * n_models
    looped = n_models / sum(1 / train_steps_per_s(data, small, [seed], steps)
                            for seed in range(n_models))
    row(f"{n_models} small models (embed 32) batched", batched, "model-steps/s")
    row(f"{n_models} small models one at a time", looped, "model-steps/s")
    row("batched / one at a time", batched / looped, "x")

    peak = matmul_gflops(512 if quick else 1024, 3 if quick else 10)
    achieved = batched * matmul_flops_per_step(small, len(data.train_x)) / 1e9
    row("float32 matmul, square, 1 thread", peak, "GFLOP/s")
    row(f"batched trainer matmul FLOPs ({n_models} small models)", achieved, "GFLOP/s")
    row("batched trainer / square matmul", achieved / peak, "fraction")

    # the sparse-parity sweep (train size 1,250): a cache-sized shard vs one run at a time
    steps = 50 if quick else 300
    for hidden in ((64,) if quick else (16, 64, 256)):
        n_models = sweep.auto_shard_size({"train_size": 1250, "hidden": hidden})
        batched, looped = sweep_shard_rates(hidden, n_models, steps)
        flops = parity_flops_per_step(1250, 31, hidden)
        row(f"sweep shard, hidden {hidden}: {n_models} runs batched", batched, "model-steps/s")
        row(f"sweep shard, hidden {hidden}: one run at a time", looped, "model-steps/s")
        row(f"sweep shard, hidden {hidden}: batched / one at a time", batched / looped, "x")
        row(f"sweep shard, hidden {hidden}: batched matmul FLOPs", batched * flops / 1e9,
            "GFLOP/s")
        row(f"sweep shard, hidden {hidden}: batched / square matmul",
            batched * flops / 1e9 / peak, "fraction")

    # the modular sweeps of "What makes a model grok?": the opening model, a shard of 15
    for name in GROK_SWEEPS:
        n_models, batched, looped, flops = modular_shard_rates(name, 30 if quick else 300)
        row(f"{name} shard: {n_models} runs batched", batched, "model-steps/s")
        row(f"{name} shard: one run at a time", looped, "model-steps/s")
        row(f"{name} shard: batched / one at a time", batched / looped, "x")
        row(f"{name} shard: batched / square matmul", batched * flops / 1e9 / peak, "fraction")
    return rows
