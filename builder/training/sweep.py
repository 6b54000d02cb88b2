"""Sweeps: a grid in experiments.toml expands to runs; runs that share every shape train together.

    [sweep-sparse-parity]
    kind = "sweep"
    of = "parity"                  # the kind of every run
    hidden = [16, 32, 64]          # a list is an axis of the grid; a single value is shared
    seed = [0, 1, 2]

`plan(spec)` expands the grid (experiments.expand: the product of the axes, first axis slowest)
into run specs of the `of` kind, groups the runs that differ only in settings the kind can vary
per model (seed, lr, weight decay: the same tensor shapes), and cuts each group into cache-sized
shards. A shard is the unit of work: it trains as one batch and its summaries are saved as soon
as it finishes (by the caller of `execute`, see builder.freeze), so a killed sweep loses at most
the shards in flight, and those resume from their partial state. Every shard has a key (the hash of its runs'
specs), so a finished shard is never trained twice and a changed grid retrains only what changed.

Per run we keep a summary: the minimum train and test loss over the logged steps, the largest
test/train loss ratio, the final accuracies and both loss curves down-sampled to `curve_points`
logged steps. Weights only when the runs ask for checkpoints (`checkpoints` > 0): then each run
also keeps the checkpointed weight matrices (KEPT, float16) and `checkpoint_step`.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from builder.owned import alive as _alive
from builder.training.experiments import KINDS, expand, spec_key
from builder.training.trainer import one_thread, progress_bar, schedule

# Bump when the summary arrays change: every shard is then retrained.
SUMMARY_VERSION = 1
# The train loss is floored here before dividing: a float32 loss can underflow to exactly 0.
RATIO_FLOOR = 1e-30
# Auto shard size: the most models (of SHARD_SIZES) whose hidden activations fit SHARD_BYTES;
# models ALONE_HIDDEN or more wide train alone (batching them was slower at every size tried).
# Measured on this machine (one thread, train size 1,250, model-steps/s): hidden 16: 15 models
# ~4,600-4,800, one at a time ~1,300; hidden 64: 15 models ~1,350-1,500, one ~600-900; hidden
# 128: 9 models ~830, one ~360; hidden 256: one ~420-470, 3 together ~380. 45 at once falls out
# of cache (builder/training/bench.py).
SHARD_BYTES = 6 << 20
ALONE_HIDDEN = 256
SHARD_SIZES = (1, 3, 5, 9, 15)
# With `accuracy = true`: the levels whose first crossing each run records, at the resolution
# of the logged metrics (first_train_acc_90 ... first_test_acc_99; -1 when never reached).
ACCURACY_LEVELS = (0.9, 0.99)
# Checkpointed arrays a run keeps (when its spec asks for checkpoints): the weight matrices.
KEPT = ("w_in", "w_out")


@dataclass(frozen=True)
class Shard:
    id: str  # readable: the shared axis values and a counter, e.g. "hidden16-train_size750-0"
    key: str  # sha256 of its runs' spec keys and the summary version
    runs: tuple[int, ...]  # indices into Plan.runs


@dataclass(frozen=True)
class Plan:
    of: str
    axes: dict  # axis name -> its values, in grid order
    runs: list  # one resolved spec of kind `of` per grid point, in grid order
    points: list  # per run, its value on each axis (the "case" axis: the index into `cases`)
    shards: list  # cheapest first
    curve_points: int
    steps: int
    accuracy: bool = False  # runs also keep accuracy curves and crossings (summarize)


def batch_cost(run: dict) -> int:
    """Bytes of one model's hidden activations on its training batch: what must stay in cache."""
    return 4 * run.get("train_size", 1) * run.get("hidden", 1)


def auto_shard_size(run: dict) -> int:
    if run.get("hidden", 0) >= ALONE_HIDDEN:
        return 1
    fits = [m for m in SHARD_SIZES if m * batch_cost(run) <= SHARD_BYTES]
    return fits[-1] if fits else 1


# plan() results by spec and versions: a build checks every sweep's shards (builder.freeze), and
# expanding sweep-sparse-parity's 1,125 runs takes ~40 ms. Treat a returned Plan as read-only.
_PLANS: dict[str, Plan] = {}


def plan(spec: dict) -> Plan:
    """The sweep's runs and shards. Pure: the same spec always gives the same plan."""
    key = json.dumps([spec, KINDS[spec["of"]].version, SUMMARY_VERSION], sort_keys=True)
    if key not in _PLANS:
        if len(_PLANS) > 32:
            _PLANS.clear()
        _PLANS[key] = _plan(spec)
    return _PLANS[key]


def _plan(spec: dict) -> Plan:
    kind = KINDS[spec["of"]]
    axes, runs, points = expand(spec)
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(runs):
        shared = {k: v for k, v in run.items() if k not in kind.per_model}
        groups.setdefault(json.dumps(shared, sort_keys=True), []).append(i)
    shards = []
    for members in sorted(groups.values(), key=lambda m: (batch_cost(runs[m[0]]), m[0])):
        first = runs[members[0]]
        size = spec["shard_size"] or auto_shard_size(first)
        label = "-".join(f"{k}{points[members[0]][k]}" for k in axes if k not in kind.per_model) or "all"
        for j in range(0, len(members), size):
            chunk = tuple(members[j:j + size])
            payload = {"runs": [spec_key(runs[i]) for i in chunk],
                       "curve_points": spec["curve_points"], "summary_version": SUMMARY_VERSION}
            if spec.get("accuracy"):  # only when asked for: older shards keep their keys
                payload["accuracy"] = True
            key = hashlib.sha256(json.dumps(payload).encode()).hexdigest()
            shards.append(Shard(f"{label}-{j // size}", key, chunk))
    return Plan(spec["of"], axes, runs, points, shards, spec["curve_points"], spec["steps"],
                bool(spec.get("accuracy")))


def curve_picks(n_logged: int, curve_points: int) -> np.ndarray:
    """Which of `n_logged` logged steps a down-sampled curve keeps: evenly spaced, ends included."""
    return np.unique(np.round(np.linspace(0, n_logged - 1, curve_points)).astype(np.int64))


def curve_step(spec: dict) -> np.ndarray:
    """The training steps of a sweep's down-sampled curves."""
    logged = schedule(spec["steps"], spec["metrics"])
    return logged[curve_picks(len(logged), spec["curve_points"])]


def accuracy_arrays(out: dict[str, np.ndarray], picks: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy curves at the curve's steps and, per level of ACCURACY_LEVELS, the first logged
    step each run's train / test accuracy reaches it (-1: never), e.g. first_test_acc_99."""
    arrays = {}
    for split in ("train", "test"):
        acc = out[f"{split}_acc"]
        arrays[f"{split}_acc_curve"] = acc[:, picks].astype(np.float32)
        for level in ACCURACY_LEVELS:
            reached = acc >= level
            first = out["metric_step"][reached.argmax(axis=1)]
            arrays[f"first_{split}_acc_{round(level * 100)}"] = np.where(
                reached.any(axis=1), first, -1).astype(np.int64)
    return arrays


def summarize(out: dict[str, np.ndarray], curve_points: int,
              accuracy: bool = False) -> dict[str, np.ndarray]:
    """Per-run summaries of a batch's metrics (models axis first); `accuracy` adds
    accuracy_arrays."""
    train = out["train_loss"].astype(np.float64)
    test = out["test_loss"].astype(np.float64)
    picks = curve_picks(train.shape[1], curve_points)
    kept = {key: out[key] for key in KEPT if key in out}
    if kept:
        kept["checkpoint_step"] = out["checkpoint_step"]
    return {
        **kept,
        "min_train_loss": train.min(axis=1).astype(np.float32),
        "min_test_loss": test.min(axis=1).astype(np.float32),
        "max_ratio": (test / np.maximum(train, RATIO_FLOOR)).max(axis=1).astype(np.float32),
        "final_train_acc": out["train_acc"][:, -1].astype(np.float32),
        "final_test_acc": out["test_acc"][:, -1].astype(np.float32),
        "curve_step": out["metric_step"][picks],
        "train_curve": train[:, picks].astype(np.float32),
        "test_curve": test[:, picks].astype(np.float32),
        **(accuracy_arrays(out, picks) if accuracy else {}),
    }


def run_shard(plan: Plan, shard: Shard, *, state_path: Path | None = None,
              max_steps: int | None = None, device: str = "cpu", bar=None,
              timing: dict | None = None):
    """Train one shard's runs as one batch: its summaries plus `run` (grid indices), or None
    when stopped at `max_steps` (the state is then in `state_path`). `timing`: see
    trainer.train (a resumed shard's earlier segments)."""
    specs = [plan.runs[i] for i in shard.runs]
    out = KINDS[plan.of].run_batch(specs, state_path=state_path, state_key=shard.key,
                                   max_steps=max_steps, progress=False, device=device, bar=bar,
                                   timing=timing)
    if out is None:
        return None
    return {"run": np.array(shard.runs, dtype=np.int64), **summarize(out, plan.curve_points, plan.accuracy)}


def _ray_shard(plan: Plan, shard: Shard, device: str):
    """A Ray task: one thread, as the local executor (the trainer's flush reaches one thread)."""
    with one_thread():
        start = time.perf_counter()
        return run_shard(plan, shard, device=device), time.perf_counter() - start


def claim(state_dir: Path, shard: Shard) -> Path | None:
    """Claim `shard` for this process: state_dir/<id>.lock holds our pid. None when another live
    process holds it; a lock left by a dead process is taken over (its state file resumes).

    The lock appears with the pid already in it (written to a file of our own, then linked to
    the lock's name, which fails if the name exists): a lock another process has just made is
    never seen empty, and so never mistaken for a dead one's."""
    lock = state_dir / f"{shard.id}.lock"
    mine = state_dir / f"{shard.id}.{os.getpid()}.claim"
    for _ in range(3):
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            mine.write_text(str(os.getpid()))
            os.link(mine, lock)
        except FileNotFoundError:  # another process finished the sweep and removed the empty folder
            continue
        except FileExistsError:
            try:
                holder = int(lock.read_text() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                return None
            lock.unlink(missing_ok=True)
            continue
        finally:
            mine.unlink(missing_ok=True)
        return lock
    return None


def tidy_state(state_dir: Path, finished: set[str]) -> None:
    """Remove what the sweep's state folder holds that nobody will read again (the state file of
    a finished shard, the lock of a dead process), then the folder if that left it empty. Never
    a whole-folder delete: a process that claims a shard meanwhile keeps its lock, and its
    folder (`claim` makes the folder again if it went away before the lock was made)."""
    if not state_dir.exists():
        return
    for path in state_dir.iterdir():
        if path.suffix == ".pt" and path.stem in finished:
            path.unlink(missing_ok=True)
        elif path.suffix == ".lock":
            try:
                holder = int(path.read_text() or 0)
            except (OSError, ValueError):
                continue
            if not _alive(holder):
                path.unlink(missing_ok=True)
    try:
        state_dir.rmdir()
    except OSError:  # not empty: a shard in flight elsewhere, or another process's state
        pass


def claimed_elsewhere(state_dir: Path) -> list[str]:
    """Ids of shards that live processes other than this one are training."""
    held = []
    for lock in state_dir.glob("*.lock") if state_dir.exists() else ():
        try:
            holder = int(lock.read_text() or 0)
        except (OSError, ValueError):
            continue
        if holder != os.getpid() and _alive(holder):
            held.append(lock.stem)
    return held


def execute(plan: Plan, shards: list[Shard], on_done, *, executor: str = "local",
            device: str = "cpu", state_dir: Path | None = None, max_steps: int | None = None,
            progress: bool = True, desc: str = "sweep", runs_done: int = 0,
            finished_elsewhere=None) -> bool:
    """Train `shards`, calling on_done(shard, arrays, info) as each one finishes.

    Returns False when stopped early by `max_steps` (local executor only: the shard in flight
    keeps its state in state_dir/<id>.pt and resumes from it next time), else True.

    With the local executor and a state_dir, several processes can share one sweep: each claims
    a shard (a lock file) before training it and skips shards another live process holds or
    that `finished_elsewhere(shard)` reports done; True then means this process has nothing
    left to claim (others may still be training).
    """
    total = len(plan.runs)
    bar = progress_bar(total=total * plan.steps, initial=runs_done * plan.steps, unit="model-step",
               unit_scale=True, disable=not progress, dynamic_ncols=True, mininterval=1.0,
               desc=f"{desc}: runs {runs_done}/{total}")
    done = runs_done

    def finished(shard, arrays, wall, segments=1):
        nonlocal done
        done += len(shard.runs)
        rate = len(shard.runs) * plan.steps / wall if wall > 0 else None
        on_done(shard, arrays, {"wall_time_s": round(wall, 2), "device": device,
                                "model_steps_per_s": None if rate is None else round(rate, 1),
                                "segments": segments})
        bar.set_description(f"{desc}: runs {done}/{total}", refresh=True)

    try:
        if executor == "local":
            for shard in shards:
                lock = None if state_dir is None else claim(state_dir, shard)
                if state_dir is not None and lock is None:
                    continue  # another process is training it
                try:
                    if finished_elsewhere is not None and finished_elsewhere(shard):
                        done += len(shard.runs)
                        bar.update(len(shard.runs) * plan.steps)
                        continue
                    start = time.perf_counter()
                    state = None if state_dir is None else state_dir / f"{shard.id}.pt"
                    timing: dict = {}
                    arrays = run_shard(plan, shard, state_path=state, max_steps=max_steps,
                                       device=device, bar=bar, timing=timing)
                    if arrays is None:
                        return False
                    # a resumed shard: its earlier segments' time to the saved step, plus this one
                    finished(shard, arrays, timing.get("prior_s", 0.0) + time.perf_counter() - start,
                             timing.get("segments", 1))
                    if state is not None:
                        state.unlink(missing_ok=True)
                finally:
                    if lock is not None:
                        lock.unlink(missing_ok=True)
            return True
        if executor == "ray":
            import ray  # the optional extra: pip install -e '.[ray]'
            if not ray.is_initialized():
                ray.init()  # joins the cluster in RAY_ADDRESS, else starts a local one
            task = ray.remote(num_cpus=1, num_gpus=1 if device.startswith("cuda") else 0)(
                _ray_shard)
            pending = {task.remote(plan, shard, device): shard for shard in shards}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                shard = pending.pop(ready[0])
                arrays, wall = ray.get(ready[0])
                bar.update(len(shard.runs) * plan.steps)
                finished(shard, arrays, wall)
            return True
        raise ValueError(f'unknown executor "{executor}" (local or ray)')
    finally:
        bar.close()
