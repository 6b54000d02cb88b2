"""The one training loop: full-batch AdamW (or SGD with momentum) over a batch of M models, with
metrics and checkpoints.

The model is any config with the methods init, encode, forward, loss, accuracy and snapshot
(builder.training.models has the modular and the sparse-parity one).

The M models' losses are *summed*, so each model's gradient is its own; the optimizer below is
elementwise, with a learning rate and weight decay per model, so one step over the stacked
parameters is exactly M independent steps.

Resumable: every `save_every_s` seconds the whole state -- parameters, optimizer
moments, RNG, the metrics and checkpoints logged so far, the step -- goes to `state_path`; the next
call with the same `state_key` continues from it and ends with the same arrays, bit for bit, as an
uninterrupted run. A kill loses at most the steps since the last save.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from builder.training import models
from builder.training.tasks import Dataset


def schedule(steps: int, count: int) -> np.ndarray:
    """`count` logging steps spread evenly from 0 to `steps`, both ends included (int64).

    The one logging schedule: the trainer's metrics and checkpoints, a sweep's curves
    (builder.training.sweep.curve_step) and the figures' checkpoint steps all use it."""
    return np.unique(np.round(np.linspace(0, steps, count)).astype(np.int64))


@dataclass(frozen=True)
class TrainConfig:
    steps: int
    seeds: tuple[int, ...]  # one model per seed; the per-model tuples below have the same length
    lr: tuple[float, ...]
    weight_decay: tuple[float, ...]  # decoupled (AdamW) weight decay, "l2"
    l1: tuple[float, ...]  # strength of an L1 penalty added to the loss, "l1"
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-8
    n_metrics: int = 500
    n_checkpoints: int = 101
    optimizer: str = "adamw"  # one of OPTIMIZERS, shared by the batch
    momentum: float = 0.0  # "sgd" only
    init_scale: tuple[float, ...] = ()  # per model: multiplies the initial weights; () is all 1
    perturb: int = 0  # every initial weight moved this many ulps up (`verify --perturb`); 0: none

    def schedule(self, count: int) -> np.ndarray:
        """`count` logging steps of this run (see `schedule`)."""
        return schedule(self.steps, count)


OPTIMIZERS = ("adamw", "sgd")
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc", "l1_norm", "l2_norm")


def per_model(values, like: torch.Tensor) -> torch.Tensor:
    """A (M, 1, 1) tensor that broadcasts a per-model value over (M, rows, cols) parameters."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, 1, 1)


def adamw_(params, grads, moments, step: int, lr: torch.Tensor, weight_decay: torch.Tensor,
           cfg: TrainConfig) -> None:
    """One AdamW step in place (torch.optim.AdamW's formula); lr and weight_decay are (M, 1, 1).

    p *= 1 - lr wd; m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
    p -= (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps), each product and quotient rounded in
    that order. The last two passes, u / denom and p - that, run as one `addcdiv_`
    (p + (-1 x u) / denom), which rounds exactly as they do: the product by -1 is exact and
    nothing is fused; so the same bits in one pass fewer over the parameters (the update is
    memory-bound, ~30% of a batched step of the opening model). (Folding `/ sqrt(bias2)` and
    `+ eps` into one addcdiv too is exact as well but slower: with two scalar operands the
    kernel is not vectorized.)"""
    beta1, beta2 = cfg.betas
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    shrink, step_size = 1 - lr * weight_decay, lr / bias1
    for name, p in params.items():
        m, v = moments[name]
        g = grads[name]
        p.mul_(shrink)
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(bias2)).add_(cfg.eps)
        p.addcdiv_(step_size * m, denom, value=-1)  # p - (step_size m) / denom


def sgd_(params, grads, moments, lr: torch.Tensor, weight_decay: torch.Tensor,
         cfg: TrainConfig) -> None:
    """One SGD step with heavy-ball momentum in place (torch.optim.SGD's formula: buf = momentum
    buf + g, the first buf being g; p -= lr buf), with the weight decay decoupled as in `adamw_`:
    p *= 1 - lr weight_decay before the step. lr and weight_decay are (M, 1, 1); the first of
    each parameter's two moment buffers is the momentum buffer (the second stays unused)."""
    shrink = 1 - lr * weight_decay
    for name, p in params.items():
        buf, _ = moments[name]
        p.mul_(shrink)
        buf.mul_(cfg.momentum).add_(grads[name])
        p.sub_(lr * buf)


def step_(params, grads, moments, step: int, lr: torch.Tensor, weight_decay: torch.Tensor,
          cfg: TrainConfig) -> None:
    """One update of cfg.optimizer (`step` counts from 1)."""
    if cfg.optimizer == "sgd":
        sgd_(params, grads, moments, lr, weight_decay, cfg)
    elif cfg.optimizer == "adamw":
        adamw_(params, grads, moments, step, lr, weight_decay, cfg)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r} (one of {', '.join(OPTIMIZERS)})")


def objective(params, model, cfg: TrainConfig, inputs, y) -> torch.Tensor:
    """The sum over models of each model's loss plus its L1 penalty: one scalar to differentiate."""
    loss = model.loss(model.forward(params, inputs), y)
    if any(cfg.l1):
        l1, _ = models.weight_norms(params)
        loss = loss + per_model(cfg.l1, l1).view(-1) * l1
    return loss.sum()


def backward_(params, model, cfg: TrainConfig, inputs, y, loss_grad=None) -> None:
    """objective(...).backward(): the gradients of the summed losses into each parameter's .grad.

    `loss_grad` (a model's `loss_grad(y, n_models)`, only without an L1 term): logits -> the
    gradient autograd would pass back to them. The loss's own graph (gather, mean, sum) is then
    never built: its gradient is the same constant every step, and the log-softmax's backward
    runs on it as autograd would run it, so every parameter gets the same bits."""
    if loss_grad is None:
        objective(params, model, cfg, inputs, y).backward()
        return
    logits = model.forward(params, inputs)
    logits.backward(loss_grad(logits.detach()))


@torch.no_grad()
def measure(params, model, train, test) -> dict[str, torch.Tensor]:
    """The six logged metrics, each (M,)."""
    out = {}
    for split, (inputs, y) in (("train", train), ("test", test)):
        logits = model.forward(params, inputs)
        out[f"{split}_loss"] = model.loss(logits, y)
        out[f"{split}_acc"] = model.accuracy(logits, y)
    out["l1_norm"], out["l2_norm"] = models.weight_norms(params)
    return out


def fresh_state(model, cfg: TrainConfig) -> dict:
    params = model.init(list(cfg.seeds))
    if cfg.init_scale and any(scale != 1.0 for scale in cfg.init_scale):
        params = {k: p * per_model(cfg.init_scale, p) for k, p in params.items()}
    for _ in range(cfg.perturb):  # the size of rounding on another CPU: the trajectories part later
        params = {k: torch.nextafter(p, torch.full_like(p, float("inf"))) for k, p in params.items()}
    return {
        "step": 0,
        "params": params,
        "moments": {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in params.items()},
        "metrics": {k: [] for k in METRICS},
        "checkpoints": {},
        "rng": torch.get_rng_state(),
    }


def save_state(state: dict, path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "key": key}, tmp)
    os.replace(tmp, path)


def load_state(path: Path | None, key: str) -> dict | None:
    """The saved state when it exists and belongs to this run (same key), else None."""
    if path is None or not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=False)
    except Exception:  # a truncated or unreadable file: start over
        return None
    return state if state.get("key") == key else None


def to_device(inputs, device: str):
    """A tensor, or a tuple of tensors, on `device`."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    return tuple(t.to(device) for t in inputs)


def flushing_denormals() -> bool:
    """Whether this thread flushes subnormal floats to zero now (torch.set_flush_denormal)."""
    return bool(torch.tensor([1e-39], dtype=torch.float32).mul(1.0).item() == 0.0)


@contextlib.contextmanager
def one_thread():
    """Run the block on one torch thread, then give the caller's thread count back.

    The trainer flushes subnormal floats to zero (see `train`), which only reaches the calling
    thread: with worker threads the late, tiny-gradient phase runs ~20x slower. Every frozen
    artifact is trained inside this."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def keeps_denormal_mode(fn):
    """Decorator: whatever `fn` does with torch.set_flush_denormal, the caller's mode comes back.

    The flag is process-wide for the thread; left on, it changes every later float computation
    (hypothesis, for one, refuses to run once subnormals vanish)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = flushing_denormals()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_flush_denormal(before)
    return wrapper


@keeps_denormal_mode
def train(data: Dataset, model, cfg: TrainConfig, *,
          state_path: Path | None = None, state_key: str = "", max_steps: int | None = None,
          save_every_s: float = 30.0, progress: bool = True, desc: str = "train",
          device: str = "cpu", bar: tqdm | None = None, flush_denormal: bool = True,
          probe=None, timing: dict | None = None) -> dict[str, np.ndarray] | None:
    """Train the M models of `cfg`; return their metrics, checkpoints and final parameters.

    `max_steps` stops early (saving the state) and returns None: how tests simulate an interrupt.
    `bar`: an open progress bar to advance by model-steps instead of opening one (a sweep's).
    `flush_denormal`: False keeps subnormal floats (slower; builder.training.investigate).
    `probe(step, params, grads, moments)`: called after every update (`step` updates done) with
    the updated parameters, the gradients that update used and the moments; it must not change
    them. For diagnostics (builder.training.investigate); None in every frozen run.
    `timing`: a dict to fill with what a resumed run needs to report its whole training time:
    `prior_s` (seconds the earlier segments took to reach the saved step; 0 for a fresh run),
    `segments` (this call's number, 1 for a fresh run) and `resumed_from_step`. The saved state
    carries both across segments; time spent after a segment's last save is lost with its steps.
    """
    # Once the training loss is tiny, softmax gradients are subnormal floats, which make CPU
    # arithmetic up to 30x slower; flushing them to zero changes nothing visible. (It only reaches
    # the calling thread: run training inside `one_thread()`, as builder.freeze does.)
    torch.set_flush_denormal(flush_denormal)
    state = load_state(state_path, state_key) or fresh_state(model, cfg)
    started = time.perf_counter()
    prior_s, segment = state.get("elapsed_s", 0.0), state.get("segments", 0) + 1
    if timing is not None:
        timing.update(prior_s=prior_s, segments=segment, resumed_from_step=state["step"])
    torch.set_rng_state(state["rng"])
    params = {k: p.to(device).requires_grad_(True) for k, p in state["params"].items()}
    moments = {k: (m.to(device), v.to(device)) for k, (m, v) in state["moments"].items()}
    train_set = (to_device(model.encode(data.train_x), device), data.train_y.to(device))
    test_set = (to_device(model.encode(data.test_x), device), data.test_y.to(device))
    any_param = next(iter(params.values()))
    lr, weight_decay = per_model(cfg.lr, any_param), per_model(cfg.weight_decay, any_param)
    # the fast backward_ when the model offers it and no L1 term joins the loss
    loss_grad = (model.loss_grad(train_set[1], len(cfg.seeds))
                 if hasattr(model, "loss_grad") and not any(cfg.l1) else None)
    metric_steps = set(cfg.schedule(cfg.n_metrics).tolist())
    checkpoint_steps = set(cfg.schedule(cfg.n_checkpoints).tolist())

    def current() -> dict:
        return {**state, "params": {k: p.detach().cpu() for k, p in params.items()},
                "moments": {k: (m.cpu(), v.cpu()) for k, (m, v) in moments.items()},
                "rng": torch.get_rng_state(), "segments": segment,
                "elapsed_s": prior_s + time.perf_counter() - started}

    # counts model-steps (steps x models), so the rate shown is model-steps/s; ETA as usual
    n_models = len(cfg.seeds)
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=cfg.steps * n_models, initial=state["step"] * n_models, desc=desc,
                   unit="step" if n_models == 1 else "model-step", unit_scale=n_models > 1,
                   disable=not progress, dynamic_ncols=True, mininterval=1.0)
    else:
        bar.update(state["step"] * n_models)
    last_save = time.monotonic()
    step = state["step"]
    try:
        while True:
            state["step"] = step
            if state_path is not None and (step == max_steps
                                           or time.monotonic() - last_save > save_every_s):
                save_state(current(), state_path, state_key)
                last_save = time.monotonic()
            if step == max_steps:
                return None
            if step in metric_steps:
                for k, value in measure(params, model, train_set, test_set).items():
                    # as Python floats (exact for float32): small tensors kept between the
                    # big, freed activations pin glibc's heap, which then grows every step
                    state["metrics"][k].append(value.cpu().tolist())
                if own_bar:
                    bar.set_postfix(train_acc=f"{np.mean(state['metrics']['train_acc'][-1]):.3f}",
                                    test_acc=f"{np.mean(state['metrics']['test_acc'][-1]):.3f}",
                                    refresh=False)
            if step in checkpoint_steps:
                with torch.no_grad():
                    snap = model.snapshot(params)
                for k, value in snap.items():
                    state["checkpoints"].setdefault(k, []).append(value.cpu().clone())
            if step == cfg.steps:
                break
            backward_(params, model, cfg, *train_set, loss_grad=loss_grad)
            with torch.no_grad():
                grads = {k: p.grad for k, p in params.items()}
                step_(params, grads, moments, step + 1, lr, weight_decay, cfg)
            for p in params.values():
                p.grad = None
            step += 1
            if probe is not None:
                probe(step, params, grads, moments)
            bar.update(n_models)
    finally:
        if own_bar:
            bar.close()
    return collect(current(), cfg, data)


def collect(state: dict, cfg: TrainConfig, data: Dataset) -> dict[str, np.ndarray]:
    """The finished run as numpy arrays; the models axis comes first: (M, ...)."""
    out = {
        "metric_step": cfg.schedule(cfg.n_metrics),
        "checkpoint_step": cfg.schedule(cfg.n_checkpoints),
    }
    if data.train_index is not None:
        out["train_index"] = data.train_index.numpy()
    out["seed"] = np.array(cfg.seeds, dtype=np.int64)
    for k, values in state["metrics"].items():
        # (M, n_metrics) float32; lists of floats (or, in older saved states, tensors)
        out[k] = torch.stack([torch.as_tensor(v, dtype=torch.float32) for v in values],
                             dim=1).numpy()
    for k, values in state["checkpoints"].items():
        out[k] = torch.stack(values, dim=1).numpy()  # (M, n_checkpoints, p, hidden)
    for k, p in state["params"].items():
        out[f"final_{k}"] = p.numpy()  # (M, rows, cols)
    return out
