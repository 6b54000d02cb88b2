"""`python -m builder verify`: retrain into a scratch project, compare array by array with the
committed artifacts, run the claim tests (marked `frozen`) against the fresh ones."""
from __future__ import annotations

import json

import numpy as np
import pytest

from builder import freeze, verify
from builder.errors import BuildError

from conftest import TINY_RUN_TOML, TINY_SWEEP_TOML, tree_hashes

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TOML = "\n".join((TINY_RUN_TOML, TINY_SWEEP_TOML,
                  TINY_RUN_TOML.replace("[tiny]", "[never-trained]").replace("seed = 3", "seed = 4")))

CLAIMS = '''
import os
from pathlib import Path

import pytest

from builder import freeze
from builder.paths import frozen_root

ARTIFACTS = frozen_root()
claim = pytest.mark.frozen


@claim("tiny")
def test_the_run_memorizes():
    assert ARTIFACTS == Path(os.environ["EXPECTED_ROOT"]).resolve()  # the fresh artifacts
    a = freeze.read("tiny", freeze.artifact_dir("tiny", ARTIFACTS), None).arrays
    assert a["train_acc"].shape == (4,) and a["train_acc"][-1] {claim}


@claim("tiny-sweep")
def test_the_sweep_is_whole():
    assert freeze.load_sweep("tiny-sweep", root=ARTIFACTS).manifest["runs_done"] == 2


@claim("never-trained")
def test_a_claim_on_an_experiment_not_retrained_is_not_collected():
    raise AssertionError("collected")


def test_a_test_without_the_marker_is_not_collected():
    raise AssertionError("collected")
'''


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / "content").mkdir(parents=True)
    (root / "content" / "experiments.toml").write_text(TOML)
    freeze.ensure("tiny", root=root, progress=False)
    freeze.train_sweep("tiny-sweep", root=root, progress=False)
    return root


def claims(tmp_path, claim: str = ">= 0"):
    file = tmp_path / "claims" / "test_tiny_claims.py"
    file.parent.mkdir(exist_ok=True)
    file.write_text(CLAIMS.replace("{claim}", claim))
    return [file]


def test_verify_retrains_into_scratch_compares_and_runs_the_claims(project, tmp_path, capfd, monkeypatch):
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("EXPECTED_ROOT", str(scratch))
    committed = tree_hashes(project / "content" / "_freeze")
    status = verify.verify_command([], project, scratch=scratch, tests=claims(tmp_path), progress=False)
    out = capfd.readouterr().out
    assert status == 0, out
    assert tree_hashes(project / "content" / "_freeze") == committed  # never written
    assert (scratch / "content" / "_freeze" / "tiny" / "arrays.npz").exists()
    # the default: every experiment with a recorded training time under a few minutes
    assert "left out: never-trained: no committed artifact records its training time" in out
    assert "tiny: retrained from scratch in" in out and "tiny-sweep: retrained from scratch in" in out
    n = len(freeze.read("tiny", project / "content" / "_freeze" / "tiny", None).arrays)
    assert f"tiny: {n} of {n} arrays bit for bit the same as the committed ones" in out  # same machine
    assert "train_loss" in out and "max |diff| 0 (bit for bit)" in out
    assert "2 passed, 2 deselected" in out
    assert "the claim tests pass on the fresh artifacts of tiny, tiny-sweep" in out
    # again for one experiment, into the same scratch: the sweep left there from the first run
    # was not retrained now, so its claim test is not run
    assert verify.verify_command(["tiny"], project, scratch=scratch, tests=claims(tmp_path), progress=False) == 0
    out = capfd.readouterr().out
    assert "1 passed, 3 deselected" in out and "tiny-sweep: retrained" not in out


def test_verify_prints_each_arrays_difference_and_fails_when_a_claim_fails(project, tmp_path, capfd, monkeypatch):
    folder = project / "content" / "_freeze" / "tiny"
    frozen = freeze.read("tiny", folder, None)
    arrays = {**frozen.arrays, "train_loss": frozen.arrays["train_loss"] + np.float32(0.5)}
    manifest = {k: v for k, v in frozen.manifest.items() if k not in ("arrays_sha256", "arrays_bytes", "arrays")}
    freeze.write(folder, arrays, manifest)  # as if trained elsewhere: one array differs
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("EXPECTED_ROOT", str(scratch))
    status = verify.verify_command(["tiny"], project, scratch=scratch, tests=claims(tmp_path, "> 2"), progress=False)
    out = capfd.readouterr().out
    assert status == 1
    line = next(line for line in out.splitlines() if line.strip().startswith("train_loss "))
    assert "float32[4]" in line and "max |diff| 0.5" in line
    n = len(arrays)
    assert f"tiny: {n - 1} of {n} arrays bit for bit the same" in out
    assert "1 failed" in out and "the claim tests FAIL on the fresh artifacts of tiny" in out
    assert "tiny-sweep: retrained" not in out  # only the named experiment


def test_verify_never_writes_into_the_project_and_checks_names_first(project):
    with pytest.raises(BuildError, match="cannot be the project itself"):
        verify.verify_command(["tiny"], project, scratch=project, progress=False)
    with pytest.raises(BuildError, match='unknown experiment "tinny"'):
        verify.verify_command(["tinny"], project, scratch=project.parent / "s", progress=False)


@pytest.mark.parametrize("where", ["another project", "a folder of the author's", "inside content"])
def test_verify_deletes_nothing_it_did_not_make(project, tmp_path, where):
    """verify clears what it trained before out of its scratch project: given another project
    (or any folder with files in it) as --scratch, it used to delete that project's frozen
    artifacts and overwrite its experiments.toml."""
    other = tmp_path / "other"
    if where == "another project":
        (other / "content" / "_freeze" / "tiny").mkdir(parents=True)
        (other / "content" / "_freeze" / "tiny" / "arrays.npz").write_bytes(b"someone else's")
        (other / "content" / "experiments.toml").write_text("# theirs\n")
        scratch = other
    elif where == "a folder of the author's":
        other.mkdir()
        (other / "notes.txt").write_text("mine")
        scratch = other
    else:
        scratch = project / "content" / "scratch"
    before = tree_hashes(tmp_path)
    with pytest.raises(BuildError) as info:
        verify.verify_command(["tiny"], project, scratch=scratch, progress=False)
    assert "scratch folder" in str(info.value) and "\n" not in str(info.value)
    assert tree_hashes(tmp_path) == before


def test_verify_reuses_its_own_scratch_folder(project, tmp_path):
    scratch = verify.scratch_project(project, tmp_path / "scratch")
    (scratch / "content" / "_freeze" / "tiny").mkdir(parents=True)
    assert verify.scratch_project(project, tmp_path / "scratch") == scratch  # stamped: its own
    # one made before the stamp (content/ with experiments.toml and _freeze/) is its own only at
    # the default place: elsewhere it may be another project
    for legacy in (project / ".cache" / "verify", tmp_path / "legacy"):
        (legacy / "content" / "_freeze").mkdir(parents=True)
        (legacy / "content" / "experiments.toml").write_text(TOML)
    assert verify.scratch_project(project, project / ".cache" / "verify") == (project / ".cache" / "verify").resolve()
    with pytest.raises(BuildError, match="verify did not write"):
        verify.scratch_project(project, tmp_path / "legacy")


def test_differences_per_array():
    committed = {"a": np.array([1.0, np.nan, 3.0], np.float32), "b": np.arange(3), "c": np.zeros(2),
                 "d": np.ones(2, np.float16)}
    fresh = {"a": np.array([1.0, np.nan, 3.25], np.float32), "b": np.arange(3), "c": np.zeros(3),
             "e": np.ones(1)}
    rows = {r["name"]: r for r in verify.differences(committed, fresh)}
    assert rows["a"]["max_abs"] == 0.25 and not rows["a"]["exact"]  # NaN on both sides is equal
    assert rows["a"]["relative"] == pytest.approx(0.25 / 3)
    assert rows["b"]["exact"] and rows["b"]["max_abs"] == 0
    assert rows["c"]["note"] == "float64[2] committed, float64[3] fresh"
    assert rows["d"]["note"] == "only in the committed artifact" and rows["e"]["note"] == "only in the fresh artifact"
    one_nan = verify.differences({"x": np.array([1.0])}, {"x": np.array([np.nan])})[0]
    assert one_nan["max_abs"] == np.inf


def test_the_default_set_is_what_trains_in_a_few_minutes():
    """The repository's committed manifests: the quick experiments, no sweep, no seed batch."""
    names, left = verify.default_names(verify.ROOT)
    assert "five-neuron" in names and "mod-top" in names
    assert not any(n.startswith(("sweep-", "seeds-")) for n in names)
    assert all(verify.recorded_seconds(n, verify.ROOT) <= verify.DEFAULT_MAX_S for n in names)
    assert any(line.startswith("sweep-sparse-parity: ") for line in left)
    assert "mod-top-embed" not in names and any(line.startswith("mod-top-embed: trained on another CPU") for line in left)
    manifest = json.loads((verify.ROOT / "content" / "_freeze" / "five-neuron" / "manifest.json").read_text())
    assert verify.recorded_seconds("five-neuron", verify.ROOT) == manifest["wall_time_s"]


def test_perturb_nudges_the_initial_weights_by_one_ulp_under_a_key_of_their_own(project, tmp_path):
    import torch

    from builder.training import config, trainer
    from builder.training.experiments import spec_key, train_config

    scratch = verify.scratch_project(project, tmp_path / "scratch")
    verify.perturbed(scratch, ["tiny"], 1)
    plain, nudged = config.load(project)["tiny"].resolve(), config.load(scratch)["tiny"].resolve()
    assert "perturb" not in plain and nudged["perturb"] == 1
    assert spec_key(plain) != spec_key(nudged)
    assert config.load(scratch)["tiny-sweep"].resolve() == config.load(project)["tiny-sweep"].resolve()
    from builder.training.experiments import model_config
    model = model_config(plain)
    cfg_plain, cfg_nudged = train_config([plain]), train_config([nudged])
    assert cfg_plain.perturb == 0 and cfg_nudged.perturb == 1
    a, b = trainer.fresh_state(model, cfg_plain)["params"], trainer.fresh_state(model, cfg_nudged)["params"]
    for k in a:
        assert not torch.equal(a[k], b[k])
        assert torch.equal(torch.nextafter(a[k], torch.full_like(a[k], float("inf"))), b[k])


def test_verify_perturb_retrains_from_nudged_weights(project, tmp_path, capfd, monkeypatch):
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("EXPECTED_ROOT", str(scratch))
    status = verify.verify_command(["tiny"], project, scratch=scratch, tests=claims(tmp_path), progress=False,
                                   perturb=1)
    out = capfd.readouterr().out
    assert status == 0, out
    assert "perturbed: every initial weight of tiny nudged by 1 ulp(s)" in out
    n = len(freeze.read("tiny", project / "content" / "_freeze" / "tiny", None).arrays)
    assert f"tiny: {n} of {n} arrays bit for bit" not in out  # the trajectory moved
    assert "perturb = 1" in (scratch / "content" / "experiments.toml").read_text()
