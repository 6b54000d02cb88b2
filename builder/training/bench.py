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
  (the opening model, 15 runs with their own learning rate, decay or init scale; AdamW and SGD),
  and where a step of sweep-grok-phase's shard spends its time, batched and alone.

Rates are wall-clock model-steps/s; each ratio is also given in this thread's CPU time, which
other processes sharing the core do not inflate (on a quiet machine the two agree).

Why batching gains little (sweep-grok-phase's shard: 15 opening models, p 67, embed 500, hidden
24, 911 training pairs; CPU ms per model-step, batched / alone, as `make bench` printed it here):
- forward, 0.16 / 0.30, and backward, 0.31 / 0.45 (the products, the ReLU, the embedding's two
  gradients summed): the 15 models' products run at 50-90 GFLOP/s, about what one model's
  already reach (its matrices are not tiny), so they cost nearly 15x one model's;
- the log-softmax over the 67 classes of every pair and its gradient, 0.18 / 0.24: 61,037
  values per model, elementwise, the same per model however many train together;
- the AdamW update, 0.27 / 0.33: memory-bound elementwise passes over 57,500 parameters per
  model and their two moments, linear in the models;
so only the per-operation overhead is shared: 0.91 against 1.32 ms, 1.45x, and 0.2-0.35 of the
square matmul's rate (the rest is elementwise work that no batching removes).

The sparse-parity sweep's hidden 64 (1,250 strings, 15 runs) shows the limit: half of its step is
elementwise work on the (1,250 x 64) hidden layer of each model (the ReLU, its gradient, and
the K = 1 product that spreads the logit's gradient over the hidden units), which batching cannot
share; and the 15 models' activations (4.8 MB per tensor, several live) leave the 2 MB L2 cache
that one model's 320 KB fit in, so each pass streams from L3 and memory -- shared with whatever
the other core runs. Measured with a training job on the other core it came out at 1.0x (772
model-steps/s batched against 997 alone); on a quieter machine 1.6-1.9x. The optimizer is the one
part that batching shrinks there (0.17 -> 0.03 ms per model-step: 2,048 parameters per model are
all overhead), which is why narrower layers gain more (hidden 16: ~3x).

What was made faster without changing a bit of any result (every frozen artifact stays valid;
see trainer.backward_ and trainer.adamw_): the loss's own graph (gather, mean, and the scatter
into a zeroed (M, N, p) tensor every step) is replaced by its constant gradient fed to the
log-softmax's backward, and AdamW's last two passes run as one addcdiv. Measured against the
code before, interleaved in one process: +4-7% model-steps/s for the modular shards batched,
+4-10% for one run alone (a 50,000-step shard of sweep-grok-fraction came out bit for bit the
same). Tried and dropped: reusing work buffers in the optimizer (no gain: the allocator hands
back memory still in cache), cutting the update into cache-sized chunks (slower: more
dispatch), folding more of AdamW into addcdiv (exact but not vectorized with two scalars).
What would go further -- a fused log-softmax or AdamW kernel, other product shapes, a gather
instead of the one-hot product, regrouping the models -- changes how results round (or how a
diverged run's inf and NaN propagate), so it needs a new algorithm version and every artifact
retrained: left undone.
"""
from __future__ import annotations

import statistics
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


def batched_and_looped(run_batch, runs: list[dict], cpu: bool = False) -> tuple[float, float]:
    """(model-steps/s of `runs` trained as one batch by `run_batch`, and one at a time).

    cpu: (wall-clock rates, the same in this thread's CPU time), each a (batched, alone) pair."""
    def rate(batch):
        start, start_cpu = time.perf_counter(), time.thread_time()
        run_batch(batch, progress=False)
        model_steps = len(batch) * batch[0]["steps"]
        return (model_steps / (time.perf_counter() - start),
                model_steps / (time.thread_time() - start_cpu))

    batched = rate(runs)
    alone = [rate([r]) for r in runs]
    wall = batched[0], len(runs) / sum(1 / a[0] for a in alone)
    if not cpu:
        return wall
    return wall, (batched[1], len(runs) / sum(1 / a[1] for a in alone))


GROK_SWEEPS = ("sweep-grok-phase", "sweep-grok-sgd")


def first_shard(name: str, steps: int) -> list[dict]:
    """The runs of the first shard of the modular sweep `name`, shortened to `steps`."""
    plan = sweep.plan(config.get(name, ROOT).resolve())
    return [{**plan.runs[i], "steps": steps, "metrics": 2} for i in plan.shards[0].runs]


def modular_shard_rates(name: str, steps: int):
    """(runs, (batched, one at a time) model-steps/s, the same in CPU time, matmul FLOPs of one
    model-step) for the first shard of the modular sweep `name`, its runs shortened to `steps`."""
    runs = first_shard(name, steps)
    wall, cpu = batched_and_looped(experiments.run_modular_batch, runs, cpu=True)
    first = runs[0]
    n_train = len(tasks.modular_addition(first["p"], first["train_fraction"],
                                         first["split_seed"]).train_x)
    flops = matmul_flops_per_step(experiments.model_config(first), n_train)
    return len(runs), wall, cpu, flops


STEP_PARTS = ("forward (products, ReLU)", "log-softmax and its gradient",
              "backward (products, ReLU)", "optimizer update")


@trainer.keeps_denormal_mode
def step_parts(runs: list[dict], steps: int) -> dict[str, float]:
    """CPU ms per model-step in each part of a training step of `runs` trained as one batch
    (the trainer's own step, timed piece by piece; median over `steps` steps)."""
    first = runs[0]
    data = tasks.modular_addition(first["p"], first["train_fraction"], first["split_seed"])
    model, cfg = experiments.model_config(first), experiments.train_config(runs)
    state = trainer.fresh_state(model, cfg)
    params = {k: p.requires_grad_(True) for k, p in state["params"].items()}
    moments = state["moments"]
    lr, decay = (trainer.per_model(v, params["embed"]) for v in (cfg.lr, cfg.weight_decay))
    inputs, y = model.encode(data.train_x), data.train_y
    loss_grad = model.loss_grad(y, len(runs))
    times = {part: [] for part in STEP_PARTS}
    torch.set_flush_denormal(True)  # as the trainer
    for step in range(steps + 3):  # 3 to warm up
        t0 = time.thread_time()
        logits = model.forward(params, inputs)
        t1 = time.thread_time()
        grad = loss_grad(logits.detach())
        t2 = time.thread_time()
        logits.backward(grad)
        t3 = time.thread_time()
        with torch.no_grad():
            grads = {k: p.grad for k, p in params.items()}
            trainer.step_(params, grads, moments, step + 1, lr, decay, cfg)
        for p in params.values():
            p.grad = None
        t4 = time.thread_time()
        if step >= 3:
            for part, seconds in zip(STEP_PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                times[part].append(seconds)
    return {part: 1000 * statistics.median(t) / len(runs) for part, t in times.items()}


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
        n_models, (batched, looped), (batched_cpu, looped_cpu), flops = modular_shard_rates(
            name, 30 if quick else 300)
        row(f"{name} shard: {n_models} runs batched", batched, "model-steps/s")
        row(f"{name} shard: one run at a time", looped, "model-steps/s")
        row(f"{name} shard: batched / one at a time", batched / looped, "x")
        row(f"{name} shard: batched / one at a time, in CPU time", batched_cpu / looped_cpu, "x")
        row(f"{name} shard: batched / square matmul", batched * flops / 1e9 / peak, "fraction")
        row(f"{name} shard: batched / square matmul, in CPU time",
            batched_cpu * flops / 1e9 / peak, "fraction")

    # where a step of the first such shard spends its time, batched and with one run alone
    runs = first_shard(GROK_SWEEPS[0], 0)
    for label, batch in ((f"{len(runs)} batched", runs), ("one alone", runs[:1])):
        parts = step_parts(batch, 20 if quick else 100)
        for part, ms in parts.items():
            row(f"{GROK_SWEEPS[0]} step, {label}: {part}", ms, "CPU ms/model-step")
        row(f"{GROK_SWEEPS[0]} step, {label}: whole step", sum(parts.values()),
            "CPU ms/model-step")
    return rows
