"""The freeze store: trained artifacts under content/_freeze/<name>/, keyed on their spec.

    content/_freeze/<name>/arrays.npz      the arrays the figures and tests read
    content/_freeze/<name>/manifest.json   key, spec, versions, timing, sha256 of arrays.npz
    content/_freeze/<name>/.partial/       resumable training state (git-ignored)

The key is a hash of the resolved spec plus its kind's algorithm version: change a
hyperparameter or bump the version and the artifact is stale. A missing, stale, truncated or
corrupted artifact (its sha256 no longer matches the manifest) is retrained. The "quick" profile
(tests, CI) lives in .cache/quick/<name>/ and never touches content/_freeze/.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from builder.paths import ROOT, cache_dir, freeze_dir
from builder.training import config
from builder.training.experiments import KINDS, run


@dataclass(frozen=True)
class Frozen:
    name: str
    manifest: dict
    arrays: Mapping[str, np.ndarray]
    path: Path


def spec_key(spec: dict) -> str:
    """sha256 of the resolved spec and its kind's algorithm version."""
    payload = {"spec": spec, "algorithm_version": KINDS[spec["kind"]].version}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def artifact_dir(name: str, root: Path = ROOT, profile: str = "full") -> Path:
    return freeze_dir(root) / name if profile == "full" else cache_dir(root) / profile / name


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
          max_steps: int | None = None) -> Frozen | None:
    """Train (resuming any partial state), then write the artifact. None if stopped early."""
    partial = folder / ".partial" / "state.pt"
    threads = torch.get_num_threads()
    # One thread: the trainer flushes subnormal floats to zero, which only reaches the calling
    # thread; with worker threads the late, tiny-gradient phase runs ~20x slower.
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        arrays = run(spec, state_path=partial, state_key=key, max_steps=max_steps,
                     progress=progress, desc=name)
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    if arrays is None:
        return None
    seeds = spec["seed"] if isinstance(spec["seed"], list) else [spec["seed"]]
    manifest = {
        "name": name, "key": key, "kind": spec["kind"],
        "algorithm_version": KINDS[spec["kind"]].version, "spec": spec, "seed": spec["seed"],
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "python_version": platform.python_version(), "device": f"cpu ({platform.machine()})",
        "threads": 1, "wall_time_s": round(wall, 2),
        "steps_per_s": round(spec["steps"] / wall, 1) if wall > 0 else None,
        "model_steps_per_s": round(spec["steps"] * len(seeds) / wall, 1) if wall > 0 else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write(folder, arrays, manifest)
    shutil.rmtree(folder / ".partial", ignore_errors=True)
    return read(name, folder, key)


def ensure(name: str, *, root: Path = ROOT, force: bool = False, profile: str = "full",
           progress: bool = True) -> Frozen:
    """The artifact of experiment `name`: loaded when current and intact, else (re)trained."""
    spec = config.get(name, root).resolve(profile)
    key = spec_key(spec)
    folder = artifact_dir(name, root, profile)
    if not force:
        frozen = read(name, folder, key)
        if frozen is not None:
            return frozen
    frozen = train(name, spec, key, folder, progress=progress)
    assert frozen is not None, f"{folder}: artifact unreadable right after writing it"
    return frozen


def stale(root: Path = ROOT) -> list[str]:
    """Names of experiments whose frozen artifact is missing, out of date or corrupt."""
    return [name for name, experiment in config.load(root).items()
            if read(name, artifact_dir(name, root), spec_key(experiment.resolve())) is None]


def train_command(names: list[str], root: Path = ROOT) -> int:
    """`python -m builder train [NAME ...]`: retrain the named experiments (all when empty)."""
    experiments = config.load(root)
    for name in names:
        config.get(name, root)  # an unknown name stops here, before any training
    for name in names or list(experiments):
        frozen = ensure(name, root=root, force=True)
        m = frozen.manifest
        print(f"{name}: {m['wall_time_s']} s, {m['steps_per_s']} steps/s -> {frozen.path}")
    return 0
