"""The freeze store: trained artifacts under content/_freeze/<name>/, keyed on their spec.

    content/_freeze/<name>/arrays.npz      the arrays the figures and tests read
    content/_freeze/<name>/manifest.json   key, spec, versions, timing, sha256 of arrays.npz
    content/_freeze/<name>/.partial/       resumable training state (git-ignored)

The key is a hash of the resolved spec plus its kind's algorithm version: change a
hyperparameter or bump the version and the artifact is stale. A missing, stale, truncated or
corrupted artifact (its sha256 no longer matches the manifest) is retrained. The "quick" profile
(tests, CI) lives in .cache/quick/<name>/ and never touches content/_freeze/.

Sweeps (kind "sweep", builder.training.sweep) are stored shard by shard, each written the moment
it finishes:

    content/_freeze/<name>/shards/<shard id>.npz   per-run summaries of one shard
    content/_freeze/<name>/manifest.json           spec, and per shard: key, sha256, timing
    content/_freeze/<name>/.partial/<shard id>.pt  the shard in flight (git-ignored)

A sweep can take hours, so only `python -m builder train NAME` (train_sweep) trains one; it
trains the shards that are missing or stale and nothing else. `ensure` and `load_sweep` only read
the finished shards: the site build never starts a sweep.

Every build calls `verify_store` first, whether or not its charts come from the cache: each
current artifact's files are checked against the manifest's sha256; a damaged single run is
retrained, a damaged finished shard stops the build in one line (BuildError) naming the command
that retrains it. A manifest's wall_time_s and steps/s cover every segment of a resumed run.
"""
from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import platform
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from builder.errors import BuildError
from builder.paths import ROOT, cache_dir, freeze_dir
from builder.training import config, sweep
from builder.training.experiments import KINDS, run, spec_key
from builder.training.trainer import one_thread


@dataclass(frozen=True)
class Frozen:
    name: str
    manifest: dict
    arrays: Mapping[str, np.ndarray]
    path: Path


def artifact_dir(name: str, root: Path = ROOT, profile: str = "full") -> Path:
    return freeze_dir(root) / name if profile == "full" else cache_dir(root) / profile / name


# sha256 by (path, size, mtime, ctime, inode), within this process: a build reads an artifact's
# checksum once however many figures use it, and `make serve` rehashes only files that changed.
# A file modified less than RACY_S ago is never remembered (as git's "racily clean" rule): file
# times are coarse, so a rewrite within the same tick could keep all five.
_HASHES: dict[tuple, str] = {}
RACY_S = 2.0


def sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes (OSError when it cannot be read)."""
    st = os.stat(path)
    ident = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    found = _HASHES.get(ident)
    if found is None:
        with open(path, "rb") as f:
            found = hashlib.file_digest(f, "sha256").hexdigest()
        if time.time() - max(st.st_mtime_ns, st.st_ctime_ns) / 1e9 > RACY_S:
            if len(_HASHES) > 100_000:  # a long `make serve` session retraining often
                _HASHES.clear()
            _HASHES[ident] = found
    return found


def read(name: str, folder: Path, key: str | None) -> Frozen | None:
    """The artifact in `folder` if it is complete, intact and (when key is given) current."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if key is not None and manifest.get("key") != key:
            return None
        if sha256(folder / "arrays.npz") != manifest.get("arrays_sha256"):
            return None
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    return Frozen(name, manifest, arrays, folder)


def write(folder: Path, arrays: dict[str, np.ndarray], manifest: dict) -> None:
    """Arrays first, manifest last, each by rename: a crash leaves a stale or detectably bad pair."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "arrays.npz.tmp"
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    manifest = {**manifest, "arrays_sha256": sha256(tmp), "arrays_bytes": tmp.stat().st_size,
                "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                           for k, v in arrays.items()}}
    os.replace(tmp, folder / "arrays.npz")
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / "manifest.json")


def train(name: str, spec: dict, key: str, folder: Path, *, progress: bool = True,
          max_steps: int | None = None, device: str = "cpu") -> Frozen | None:
    """Train (resuming any partial state), then write the artifact. None if stopped early."""
    partial = folder / ".partial" / "state.pt"
    start = time.perf_counter()
    timing: dict = {}
    with one_thread():  # the trainer's denormal flush reaches only the calling thread
        arrays = run(spec, state_path=partial, state_key=key, max_steps=max_steps,
                     progress=progress, desc=name, device=device, timing=timing)
    segment = time.perf_counter() - start
    if arrays is None:
        return None
    # a resumed run: the time its earlier segments took to reach the saved step, plus this one
    wall = timing.get("prior_s", 0.0) + segment
    seeds = spec["seed"] if isinstance(spec["seed"], list) else [spec["seed"]]
    manifest = {
        "name": name, "key": key, "kind": spec["kind"],
        "algorithm_version": KINDS[spec["kind"]].version, "spec": spec, "seed": spec["seed"],
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": f"cpu ({platform.machine()})" if device == "cpu" else device,
        "threads": 1, "wall_time_s": round(wall, 2), "segments": timing.get("segments", 1),
        "steps_per_s": round(spec["steps"] / wall, 1) if wall > 0 else None,
        "model_steps_per_s": round(spec["steps"] * len(seeds) / wall, 1) if wall > 0 else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write(folder, arrays, manifest)
    shutil.rmtree(folder / ".partial", ignore_errors=True)
    return read(name, folder, key)


def ensure(name: str, *, root: Path = ROOT, force: bool = False, profile: str = "full",
           progress: bool = True, device: str = "cpu") -> Frozen:
    """The artifact of experiment `name`: loaded when current and intact, else (re)trained.

    A sweep is never trained here: its finished runs are returned as load_sweep does.
    """
    spec = config.get(name, root).resolve(profile)
    if spec["kind"] == "sweep":
        return load_sweep(name, root=root, profile=profile)
    key = spec_key(spec)
    folder = artifact_dir(name, root, profile)
    if not force:
        frozen = read(name, folder, key)
        if frozen is not None:
            return frozen
        print(f"training {name}: {why_stale(folder, spec, root)}", file=sys.stderr, flush=True)
    frozen = train(name, spec, key, folder, progress=progress, device=device)
    assert frozen is not None, f"{folder}: artifact unreadable right after writing it"
    _say_commit(folder, root, profile)
    return frozen


def why_stale(folder: Path, spec: dict, root: Path = ROOT) -> str:
    """Why the artifact in `folder` is not the one `spec` asks for: none there, which settings
    changed since it was trained (the stored spec against this one), a new algorithm version,
    or damaged files."""
    shown = _shown(folder, root)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no artifact yet in {shown}/"
    except (OSError, ValueError):
        return f"{shown}/manifest.json cannot be read"
    old = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    if manifest.get("key") == spec_key(spec):
        return f"{shown}/arrays.npz is missing or does not match its manifest"
    changed = [f"{k} {_value(old.get(k, _UNSET))} -> {_value(spec.get(k, _UNSET))}"
               for k in sorted(set(old) | set(spec)) if old.get(k, _UNSET) != spec.get(k, _UNSET)]
    if changed:
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        return f"content/experiments.toml changed since it was trained: {', '.join(changed[:4])}{more}"
    version = KINDS[spec["kind"]].version
    if manifest.get("algorithm_version") != version:
        return (f"the {spec['kind']} training code changed (algorithm version "
                f"{manifest.get('algorithm_version')} -> {version})")
    return "its spec key changed (the key's recipe in builder/training/experiments.py)"


_UNSET = object()


def _value(value) -> str:
    """A setting's value as experiments.toml writes it ("(unset)" for none)."""
    return "(unset)" if value is _UNSET else value if isinstance(value, str) else json.dumps(value, default=str)


def _say_commit(folder: Path, root: Path, profile: str) -> None:
    """After training into the freeze store of a git checkout: the new files are part of the
    article's sources, and another checkout without them would train again."""
    if profile == "full" and (root / ".git").exists() and folder.is_relative_to(root):
        print(f"{_shown(folder, root)}/ was written: commit it (git add {_shown(folder, root)}) "
              "so that other checkouts and CI use it instead of training again", file=sys.stderr, flush=True)


def stale(root: Path = ROOT) -> list[str]:
    """Names of experiments whose frozen artifact is missing, out of date or corrupt (for a
    sweep: not every run finished)."""
    names = []
    for name, experiment in config.load(root).items():
        spec = experiment.resolve()
        if spec["kind"] == "sweep":
            m = load_sweep(name, root=root).manifest
            if m["runs_done"] < m["runs_total"]:
                names.append(name)
        elif read(name, artifact_dir(name, root), spec_key(spec)) is None:
            names.append(name)
    return names


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def damage(file: Path, recorded: str | None, size: int | None = None) -> str | None:
    """What is wrong with a frozen file whose manifest records sha256 `recorded` and `size`
    bytes, or None when it is intact."""
    if not recorded:
        return "its manifest records no sha256 for it"
    try:
        actual = file.stat().st_size
        if sha256(file) == recorded:
            return None
    except FileNotFoundError:
        return "missing (its manifest lists it)"
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if size is not None and actual != size:
        return f"truncated or altered: {actual:,} bytes where its manifest records {size:,}"
    return "altered: its sha256 does not match its manifest"


def verify_store(root: Path = ROOT, *, progress: bool = True, train: bool = True) -> dict[str, str]:
    """Check every frozen file of `root` that a build can read against its manifest's sha256,
    whether or not the figures that read it are made again; {path: sha256} of those files.

    A current single run (its manifest's key matches the spec) whose arrays are missing,
    truncated or altered, or whose manifest cannot be read, is retrained with a line on stderr
    saying why (with `train=False`, as `check` runs, it stops the build instead). A sweep whose
    manifest cannot be read, disagrees with its shards (sweep_check) or lists a finished shard
    that is missing, truncated or altered stops the build with a one-line BuildError naming the
    file and the command that fixes it: a sweep is never trained by the build. Stale artifacts
    are left alone here: `ensure` retrains them when a figure reads them (a changed spec or
    algorithm changes the chart cache's key).
    """
    store = freeze_dir(root)
    if not store.is_dir():
        return {}
    experiments = config.load(root)
    sums: dict[str, str] = {}
    problems: list[tuple[str, str, str]] = []  # (file, what is wrong, sweep)
    for folder in sorted(p for p in store.iterdir() if p.is_dir()):
        name = folder.name
        if name not in experiments:
            continue  # not an experiment any more: no figure can read it
        spec = experiments[name].resolve()
        if spec["kind"] == "sweep":
            done, wrong = sweep_check(name, spec, folder, root)
            problems += [(file, what, name) for file, what in wrong]
            for shard_id, entry in done.items():
                sums[_shown(folder / "shards" / f"{shard_id}.npz", root)] = entry["sha256"]
            continue
        if not (folder / "manifest.json").exists():
            continue  # never finished: ensure trains it when it is read
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            file, wrong = _shown(folder / "manifest.json", root), f"unreadable ({getattr(exc, 'strerror', None) or exc})"
        else:
            if manifest.get("key") != spec_key(spec):
                continue  # stale: ensure retrains it when it is read
            file = _shown(folder / "arrays.npz", root)
            wrong = damage(folder / "arrays.npz", manifest.get("arrays_sha256"), manifest.get("arrays_bytes"))
        if wrong:
            if not train:
                raise BuildError(file, None, f"{wrong}, and this build does not train "
                                             f"(hint: make train NAME={name} retrains it)")
            print(f"{file}: {wrong}; retraining {name}", file=sys.stderr, flush=True)
            manifest = ensure(name, root=root, force=True, progress=progress).manifest
        sums[_shown(folder / "arrays.npz", root)] = manifest["arrays_sha256"]
    if problems:
        shown, wrong, name = problems[0]
        more = f"; {len(problems) - 1} more problem(s) in the store too" if len(problems) > 1 else ""
        raise BuildError(shown, None, f"{wrong}{more} (hint: {_fix(name, shown, root)})")
    return sums


# ---- sweeps ----

def _fix(name: str, shown: str, root: Path) -> str:
    """The hint for a damaged sweep file."""
    if shown.endswith("manifest.json"):
        return (f"git checkout -- {shown} restores the committed one; make train NAME={name} trains the shards "
                "it does not list")
    return f"make train NAME={name} retrains it"


def read_sweep_manifest(folder: Path, root: Path = ROOT) -> dict | None:
    """A sweep's manifest.json, or None when there is none (the sweep was never started). One
    that cannot be read, is not valid JSON or is not shaped as train_sweep writes it is a
    BuildError naming the file: its shards would otherwise count as never trained, and the
    runs in them would vanish from every figure without a word."""
    file = folder / "manifest.json"
    shown = _shown(file, root)
    name = folder.name
    hint = f"(hint: {_fix(name, shown, root)})"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(shown, None, f"cannot read the sweep's manifest: {getattr(exc, 'strerror', None) or exc} {hint}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BuildError(shown, exc.lineno, f"the sweep's manifest is not valid JSON: {exc.msg} {hint}") from None
    if not isinstance(data, dict) or not isinstance(data.get("shards", {}), dict):
        raise BuildError(shown, None, f"the sweep's manifest is not an object with a \"shards\" object {hint}")
    for shard_id, entry in data.get("shards", {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise BuildError(shown, None, f'the sweep\'s manifest entry of shard "{shard_id}" has no key {hint}')
    return data


def _sweep_manifest(folder: Path, root: Path) -> dict:
    """While training: the manifest as read_sweep_manifest reads it, {} when there is none or it
    cannot be read (then said on stderr: its shards are trained again)."""
    try:
        return read_sweep_manifest(folder, root) or {}
    except BuildError as exc:
        print(f"{exc}; its shards are trained again", file=sys.stderr, flush=True)
        return {}


def sweep_check(name: str, spec: dict, folder: Path, root: Path = ROOT) -> tuple[dict, list[tuple[str, str]]]:
    """(finished, problems) of a sweep's frozen files: shard id -> manifest entry for each
    shard of the current plan whose entry's key matches and whose file is intact, and (file,
    what is wrong) for everything that does not add up. A manifest written for the current
    settings (its key is the spec's) must list only shards of the plan, each under the key the
    plan gives it, and shards/ may hold no file the plan does not have; a manifest written for
    other settings is stale, and its entries that no longer match are simply not finished.
    Shard files of the plan that the manifest does not list yet are a shard in flight (another
    process writes its file, then its entry): not finished, not a problem."""
    manifest = read_sweep_manifest(folder, root)
    plan = sweep.plan(spec)
    shards_dir = folder / "shards"
    files = sorted(shards_dir.glob("*.npz")) if shards_dir.is_dir() else []
    problems: list[tuple[str, str]] = []
    if manifest is None:
        if files:
            problems.append((_shown(folder / "manifest.json", root),
                             f"missing, while {_shown(shards_dir, root)}/ holds {len(files)} shard file(s) it would list"))
        return {}, problems
    entries = manifest.get("shards", {})
    by_id = {shard.id: shard for shard in plan.shards}
    if manifest.get("key") == spec_key(spec):
        shown = _shown(folder / "manifest.json", root)
        for shard_id, entry in entries.items():
            if shard_id not in by_id:
                problems.append((shown, f'lists shard "{shard_id}", which the sweep\'s settings do not have'))
            elif entry["key"] != by_id[shard_id].key:
                problems.append((shown, f'the key of shard "{shard_id}" is not the one the sweep\'s settings give it'))
        for file in files:
            if file.stem not in by_id:
                problems.append((_shown(file, root), "a shard file the sweep's settings do not have"))
    done = {}
    for shard in plan.shards:
        entry = entries.get(shard.id)
        if entry is None or entry["key"] != shard.key:
            continue  # not trained for these settings
        file = shards_dir / f"{shard.id}.npz"
        wrong = damage(file, entry.get("sha256"), entry.get("bytes"))
        if wrong:
            problems.append((_shown(file, root), wrong))
        else:
            done[shard.id] = entry
    return done, problems


@dataclass(frozen=True)
class SweepStatus:
    """How much of a sweep is trained for its current settings."""
    runs_done: int
    runs_total: int
    shards_done: int
    shards_total: int
    stale: int  # manifest entries trained for other settings (or other grids)
    stale_wall_s: float  # the CPU seconds those took, as the manifest records

    @property
    def complete(self) -> bool:
        return self.runs_done == self.runs_total


def _status(plan, done: dict, manifest: dict | None) -> SweepStatus:
    entries = (manifest or {}).get("shards", {})
    keys = {shard.id: shard.key for shard in plan.shards}
    stale = [e for i, e in entries.items() if keys.get(i) != e.get("key")]
    return SweepStatus(sum(len(s.runs) for s in plan.shards if s.id in done), len(plan.runs), len(done),
                       len(plan.shards), len(stale), sum(float(e.get("wall_time_s") or 0) for e in stale))


def sweep_status(name: str, *, root: Path = ROOT, profile: str = "full") -> SweepStatus:
    """The sweep's SweepStatus, reading no arrays; a BuildError where sweep_check finds a
    problem."""
    spec = config.get(name, root).resolve(profile)
    folder = artifact_dir(name, root, profile)
    done, problems = sweep_check(name, spec, folder, root)
    if problems:
        shown, wrong = problems[0]
        raise BuildError(shown, None, f"{wrong} (hint: {_fix(name, shown, root)})")
    return _status(sweep.plan(spec), done, read_sweep_manifest(folder, root))


def unfinished_sweep(name: str, root: Path, status: SweepStatus, figure: str | None = None) -> BuildError:
    """The one-line error of a sweep drawn before it is trained for its current settings, at
    its table in experiments.toml."""
    experiment = config.get(name, root)
    line = config.locate(experiment.text, name)
    who = f'figure "{figure}" draws sweep "{name}", but' if figure else f'sweep "{name}":'
    if status.runs_done == 0:
        what = f"none of its {status.runs_total:,} runs is trained for its current settings"
    else:
        what = f"only {status.runs_done:,} of its {status.runs_total:,} runs are trained for its current settings"
    if status.stale:
        took = f", which took {status.stale_wall_s / 60:,.0f} min of CPU" if status.stale_wall_s >= 60 else ""
        what += f" (its {status.stale} frozen shard(s) were trained with other settings{took})"
    hint = f"make train NAME={name} trains {'them' if status.runs_done == 0 else 'the rest'}; a build never trains a sweep"
    if figure and status.runs_done:
        hint += "; or give the figure partial=True to draw the trained runs"
    return BuildError(experiment.path, line, f"{who} {what} (hint: {hint})")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def finished_shards(plan, folder: Path, root: Path = ROOT) -> dict:
    """While training: shard id -> manifest entry, for the plan's shards whose file is current
    and intact (anything else is trained again)."""
    entries = _sweep_manifest(folder, root).get("shards", {})
    done = {}
    for shard in plan.shards:
        entry = entries.get(shard.id)
        if entry is None or entry.get("key") != shard.key:
            continue
        file = folder / "shards" / f"{shard.id}.npz"
        try:
            if sha256(file) == entry.get("sha256"):
                done[shard.id] = entry
        except OSError:
            continue
    return done


def load_sweep(name: str, *, root: Path = ROOT, profile: str = "full") -> Frozen:
    """A sweep's finished runs, without training anything.

    Arrays cover the whole grid, one row per run in grid order (the product of the axes, first
    axis slowest): `done` (R,) bool; one (R,) array per axis (e.g. hidden, seed, train_size,
    weight_decay); min_train_loss, min_test_loss, max_ratio, final_train_acc, final_test_acc (R,)
    float32; train_curve, test_curve (R, curve_points) float32; curve_step (curve_points,).
    Runs with checkpoints also give their weights (sweep.KEPT: e.g. w_in (R, checkpoints, ...)
    float16) and checkpoint_step. A sweep with `accuracy = true` also gives train_acc_curve,
    test_acc_curve (R, curve_points) and first_{train,test}_acc_{90,99} (R,) int64: the first
    logged step at that accuracy, -1 never, -2 not trained yet. Unfinished runs hold NaN. manifest["runs_done"] /
    ["runs_total"] count them.

    A manifest that cannot be read or disagrees with the shards, or a listed shard that is
    damaged, is a BuildError naming the file (sweep_check), never runs silently missing.
    """
    spec = config.get(name, root).resolve(profile)
    plan = sweep.plan(spec)
    folder = artifact_dir(name, root, profile)
    done, problems = sweep_check(name, spec, folder, root)
    if problems:
        shown, wrong = problems[0]
        raise BuildError(shown, None, f"{wrong} (hint: {_fix(name, shown, root)})")
    on_disk = read_sweep_manifest(folder, root)
    n, c = len(plan.runs), plan.curve_points
    arrays: dict[str, np.ndarray] = {"done": np.zeros(n, dtype=bool)}
    for axis in plan.axes:
        arrays[axis] = np.array([point[axis] for point in plan.points])
    for key in ("min_train_loss", "min_test_loss", "max_ratio", "final_train_acc",
                "final_test_acc"):
        arrays[key] = np.full(n, np.nan, dtype=np.float32)
    arrays["train_curve"] = np.full((n, c), np.nan, dtype=np.float32)
    arrays["test_curve"] = np.full((n, c), np.nan, dtype=np.float32)
    arrays["curve_step"] = sweep.curve_step(spec)
    if plan.accuracy:
        arrays["train_acc_curve"] = np.full((n, c), np.nan, dtype=np.float32)
        arrays["test_acc_curve"] = np.full((n, c), np.nan, dtype=np.float32)
        for split in ("train", "test"):
            for level in sweep.ACCURACY_LEVELS:
                arrays[f"first_{split}_acc_{round(level * 100)}"] = np.full(n, -2, dtype=np.int64)
    for shard_id in done:
        file = folder / "shards" / f"{shard_id}.npz"
        try:
            with np.load(file, allow_pickle=False) as npz:
                rows = npz["run"]
                if len(rows) and (rows.min() < 0 or rows.max() >= n):  # a shard of another grid of this sweep
                    experiment = config.get(name, root)
                    raise BuildError(experiment.path, config.locate(experiment.text, name),
                                     f'sweep "{name}": its shard {shard_id} was trained for another grid of runs '
                                     f"(run {int(rows.max())} of {n}) (hint: make train NAME={name} retrains it; "
                                     "a build never trains a sweep)")
                arrays["done"][rows] = True
                for key in sweep.KEPT:  # weights: shaped by the first shard that has them
                    if key in npz.files and key not in arrays:
                        arrays[key] = np.full((n, *npz[key].shape[1:]), np.nan, npz[key].dtype)
                        arrays["checkpoint_step"] = npz["checkpoint_step"]
                for key in arrays:
                    if key in npz.files and key not in ("curve_step", "checkpoint_step", "run"):
                        arrays[key][rows] = npz[key]
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as exc:  # its sha256 matched
            raise BuildError(_shown(file, root), None, f"cannot be read as a shard of this sweep: {type(exc).__name__}: "
                             f"{exc} (hint: make train NAME={name} retrains it)") from None
    manifest = {**(on_disk or {}), "name": name, "kind": "sweep", "key": spec_key(spec),
                "spec": spec, "runs_total": n, "runs_done": int(arrays["done"].sum()),
                "shards_total": len(plan.shards), "shards_done": len(done)}
    return Frozen(name, manifest, arrays, folder)


def train_sweep(name: str, *, root: Path = ROOT, profile: str = "full", executor: str = "local",
                device: str = "cpu", progress: bool = True,
                max_steps: int | None = None) -> Frozen | None:
    """Train the sweep's missing shards, writing each as it finishes; None if stopped early.

    Shards of an older grid (keys no longer in the plan) are deleted first.
    """
    spec = config.get(name, root).resolve(profile)
    plan = sweep.plan(spec)
    folder = artifact_dir(name, root, profile)
    (folder / "shards").mkdir(parents=True, exist_ok=True)
    done = finished_shards(plan, folder, root)
    current = {shard.id for shard in plan.shards}
    for file in (folder / "shards").glob("*.npz"):
        if file.stem not in current:
            file.unlink()
    manifest = {"name": name, "kind": "sweep", "key": spec_key(spec), "spec": spec,
                "algorithm_version": KINDS[spec["of"]].version,
                "summary_version": sweep.SUMMARY_VERSION, "runs_total": len(plan.runs),
                "shards": done}
    _write_json(folder / "manifest.json", manifest)

    def on_done(shard, arrays, info):
        file = folder / "shards" / f"{shard.id}.npz"
        tmp = file.with_suffix(".npz.tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
        entry = {"key": shard.key, "runs": len(shard.runs), "sha256": sha256(file),
                 "bytes": file.stat().st_size, **info, "torch_version": torch.__version__,
                 "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        # merge into the manifest on disk under a lock: other processes may share this sweep
        with open(folder / ".manifest.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            on_disk = _sweep_manifest(folder, root).get("shards", {})
            manifest["shards"] = {**on_disk, **manifest["shards"], shard.id: entry}
            _write_json(folder / "manifest.json", manifest)

    def finished_elsewhere(shard) -> bool:  # by another process sharing this sweep
        entry = _sweep_manifest(folder, root).get("shards", {}).get(shard.id)
        if entry is None or entry.get("key") != shard.key:
            return False
        manifest["shards"][shard.id] = entry
        return True

    pending = [shard for shard in plan.shards if shard.id not in done]
    with one_thread():  # as train()
        complete = sweep.execute(
            plan, pending, on_done, executor=executor, device=device,
            state_dir=folder / ".partial", max_steps=max_steps, progress=progress, desc=name,
            runs_done=sum(len(s.runs) for s in plan.shards if s.id in done),
            finished_elsewhere=finished_elsewhere)
    if not complete:
        return None
    others = sweep.claimed_elsewhere(folder / ".partial")
    if others:
        print(f"{name}: nothing left to claim; {len(others)} shard(s) still training in other "
              f"processes ({', '.join(sorted(others))})", file=sys.stderr)
    else:
        sweep.tidy_state(folder / ".partial", finished=set(finished_shards(plan, folder, root)))
    if pending:
        _say_commit(folder, root, profile)
    return load_sweep(name, root=root, profile=profile)


def train_command(names: list[str], root: Path = ROOT, *, executor: str = "local",
                  device: str = "cpu") -> int:
    """`python -m builder train [NAME ...]`: retrain the named experiments (all when empty).

    A sweep trains only its missing shards (a finished sweep trains nothing); --executor and
    --device apply to sweeps (device also to single runs).
    """
    experiments = config.load(root)
    for name in names:
        # an unknown name stops here, before any training, reported where it was written
        config.get(name, root, at=("command line", None))
    for name in names or list(experiments):
        if experiments[name].kind == "sweep":
            frozen = train_sweep(name, root=root, executor=executor, device=device)
            m = frozen.manifest
            print(f"{name}: {m['runs_done']}/{m['runs_total']} runs -> {frozen.path}")
            continue
        frozen = ensure(name, root=root, force=True, device=device)
        m = frozen.manifest
        print(f"{name}: {m['wall_time_s']} s, {m['steps_per_s']} steps/s -> {frozen.path}")
    return 0
