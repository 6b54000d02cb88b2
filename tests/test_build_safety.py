"""What a build promises about the folders it writes (README, "What a build promises"): it
replaces only an output folder a build made (or an empty or missing one) and refuses the rest in
one line; an operating-system error (no permission, a full disk, a mount point) is one line with
the old site intact; what a build that died left behind is removed by the next one, and only
that; and chart cache keys hold no absolute path, so a copied checkout keeps its cached charts.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import altair as alt
import pytest

from conftest import DEMO_MD, FRONT, REPO, TINY_RUN_TOML, run_cli, tree_hashes, write_project

from builder import cli, freeze, owned, paths
from builder.build import Builder
from builder.errors import BuildError
from builder.figures import Figure, Registry

ONE_LINE = re.compile(r"^[^\n]+: [^\n]+ \(hint: [^\n]+\)$")


def everything(folder: Path) -> dict:
    """Every file under `folder` (hidden ones too) with its sha256, and every folder."""
    files = tree_hashes(folder)
    files.update({str(p.relative_to(folder)) + "/": "dir" for p in folder.rglob("*") if p.is_dir()})
    return files


# ---- the output folder --------------------------------------------------------------------------
@pytest.fixture
def project(make_project, tmp_path):
    """A demo project with a frozen file under content/ (what `--out content` used to wipe)."""
    root = make_project()
    (root / "content" / "experiments.toml").write_text(TINY_RUN_TOML)  # "kept" is not one of them: never read
    freeze_dir = root / "content" / "_freeze" / "kept"
    freeze_dir.mkdir(parents=True)
    (freeze_dir / "manifest.json").write_text('{"kept": true}\n')
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("an author's file\n")
    (tmp_path / "a-file").write_text("not a folder\n")
    return root


REFUSED = {
    "the project": (lambda root: root, "the output folder is the project folder or holds it"),
    "content": (lambda root: root / "content", "the output folder is inside content/"),
    "content/_freeze": (lambda root: root / "content" / "_freeze", "the output folder is inside content/"),
    "a new folder in content": (lambda root: root / "content" / "public", "the output folder is inside content/"),
    "the folder holding the project": (lambda root: root.parent, "the output folder is the project folder or holds it"),
    # (a stand-in for this checkout, so that a regression cannot delete the real one)
    "the builder's checkout": (lambda root: root.parent / "checkout", "the output folder holds the builder's own checkout"),
    "a folder of the author's": (lambda root: root.parent / "notes", "not empty and was not made by a build"),
    "a file": (lambda root: root.parent / "a-file", "the output folder is a file"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_build_refuses_an_output_folder_it_did_not_make_and_deletes_nothing(case, project, build, tmp_path,
                                                                             monkeypatch):
    out, expected = REFUSED[case]
    target = out(project)
    checkout = tmp_path / "checkout" / "repo"
    (checkout / "builder").mkdir(parents=True)
    (checkout / "builder" / "__init__.py").write_text("")
    monkeypatch.setattr(paths, "ROOT", checkout)
    before = everything(tmp_path)
    repo_before = sorted(p.name for p in REPO.iterdir())
    with pytest.raises(BuildError) as info:
        build(project, target)
    message = str(info.value)
    assert expected in message and ONE_LINE.match(message), message
    assert everything(tmp_path) == before  # nothing deleted, nothing left behind
    assert sorted(p.name for p in REPO.iterdir()) == repo_before


def test_python_m_builder_build_out_content_exits_1_and_keeps_content(tmp_path):
    """The reported case: `python -m builder build --out content` deleted all of content/,
    _freeze/ included, and exited 0."""
    root = write_project(tmp_path / "proj", FRONT + "Prose only.\n", bib=None)
    (root / "content" / "_freeze" / "kept").mkdir(parents=True)
    (root / "content" / "_freeze" / "kept" / "arrays.npz").write_bytes(b"frozen")
    result = run_cli(root, "--out", str(root / "content"))  # run_cli copies experiments.toml in
    before = everything(root)
    assert result.returncode == 1
    assert result.stderr.strip() == ("content: the output folder is inside content/, which a build only reads "
                                     "(hint: give --out a new or empty folder; the default is site/)")
    assert everything(root) == before and (root / "content" / "_freeze" / "kept" / "arrays.npz").is_file()


def test_a_build_replaces_what_a_build_made_and_fills_an_empty_folder(project, build, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    build(project, empty)
    assert (empty / "index.html").is_file()
    assert owned.stamp_of(empty)["kind"] == owned.SITE  # stamped: the next build may replace it
    (empty / "stale.html").write_text("old")
    build(project, empty)
    assert not (empty / "stale.html").exists() and (empty / "index.html").is_file()
    # a site built before builds wrote a stamp is recognized by what it holds
    (empty / owned.STAMP).unlink()
    build(project, empty)
    assert (empty / owned.STAMP).is_file()
    # but one with anything else at its top is not
    (empty / owned.STAMP).unlink()
    (empty / "thesis.pdf").write_text("%PDF")
    with pytest.raises(BuildError, match="not made by a build"):
        build(project, empty)
    assert (empty / "thesis.pdf").is_file()


def test_a_symlinked_output_folder_is_replaced_where_it_points(project, build, tmp_path):
    real = tmp_path / "real-site"
    link = tmp_path / "site-link"
    link.symlink_to(real, target_is_directory=True)
    build(project, link)
    build(project, link)
    assert link.is_symlink() and (real / "index.html").is_file()


# ---- operating-system errors ----------------------------------------------------------------------
@pytest.fixture
def built(make_project, build):
    root = make_project()
    build(root)
    return root, tree_hashes(root / "site")


def _no_leftovers(root: Path) -> None:
    assert not [p.name for p in root.iterdir() if p.name.startswith(".site")]


def test_a_read_only_parent_folder_is_one_line(make_project, build, tmp_path, monkeypatch):
    """(Tests run as root here, where permissions do not stop a write: the refusal is simulated.)"""
    import tempfile

    root = make_project()
    out = tmp_path / "read-only" / "site"

    def refused(*args, dir=None, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir))

    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    with pytest.raises(BuildError) as info:
        build(root, out)
    message = str(info.value)
    assert message.startswith(f"{out}: Permission denied: {out.parent} (hint: no permission to write there")
    assert message.endswith(f"nothing was written to {out})") and ONE_LINE.match(message)


def test_a_full_disk_is_one_line_and_keeps_the_old_site(built, build, monkeypatch):
    root, before = built
    write_text = Path.write_text

    def full(self, *args, **kwargs):
        if any(part.startswith(".site-build-") for part in self.parts) and self.suffix == ".js":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    (root / "content" / "index.md").write_text(DEMO_MD.replace("A test article", "Changed"))
    with pytest.raises(BuildError) as info:
        build(root)
    assert str(info.value) == ("site: No space left on device (hint: the disk is full: free some space and build "
                               "again; site is left as it was)")
    assert tree_hashes(root / "site") == before
    _no_leftovers(root)


def test_the_command_line_says_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    root = write_project(tmp_path / "proj", FRONT + "Prose only.\n", bib=None)
    shutil.copy(REPO / "content" / "experiments.toml", root / "content" / "experiments.toml")
    write_text = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "index.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    assert cli.main(["--root", str(root), "build", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    out = tmp_path / "out"
    assert re.fullmatch(rf"{re.escape(str(out))}: No space left on device: {re.escape(str(tmp_path))}/\.site-build-\d+-\w+/"
                        rf"index\.html \(hint: the disk is full: free some space and build again; nothing was written "
                        rf"to {re.escape(str(out))}\)\n", err), err
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]


@pytest.mark.parametrize("code", [errno.EBUSY, errno.EXDEV])
def test_a_mount_point_is_refused_in_one_line(built, build, monkeypatch, code):
    """`--out` on a mount point: refused before the build (os.path.ismount), and, where that
    does not tell, the rename that fails is one line with the old site put back."""
    root, before = built
    site = root / "site"
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == site)
    with pytest.raises(BuildError, match="the output folder is a mount point"):
        build(root)
    monkeypatch.undo()
    rename = Path.rename

    def busy(self, target):
        # EBUSY: setting the old site aside fails; EXDEV: moving the new one in fails (the old one is put back)
        if (code == errno.EBUSY and self == site
                or code == errno.EXDEV and Path(target) == site and self.name.startswith(".site-build-")):
            raise OSError(code, os.strerror(code), str(self), None, str(target))
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", busy)
    with pytest.raises(BuildError) as info:
        build(root)
    message = str(info.value)
    assert message.startswith(f"site: {os.strerror(code)}: ") and "a mount point" in message, message
    assert message.endswith("site is left as it was)") and ONE_LINE.match(message)
    assert tree_hashes(site) == before
    _no_leftovers(root)


# ---- what a dead build leaves behind ----------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def fake_stamp(folder: Path, kind: str, pid: int) -> None:
    """The stamp process `pid` of this host would have written."""
    (folder / owned.STAMP).write_text(json.dumps({"kind": kind, "pid": pid, "host": socket.gethostname()}))


def test_the_next_build_removes_what_dead_builds_left_and_nothing_else(make_project, build):
    root = make_project()
    build(root)
    dead, live = _dead_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folders = {name: root / name for name in (
            f".site-build-{dead}-abc", f".site-build-{live.pid}-def", f".site-build-{dead}-nostamp",
            f".site-build-{dead}-other", f".site-old-{dead}-123", f".site-old-{dead}-456", ".site-xyz")}
        for path in folders.values():
            path.mkdir()
            (path / "index.html").write_text("x")
        fake_stamp(folders[f".site-build-{dead}-abc"], owned.SITE, dead)
        fake_stamp(folders[f".site-build-{live.pid}-def"], owned.SITE, live.pid)  # a build running now
        fake_stamp(folders[f".site-build-{dead}-other"], owned.SCRATCH, dead)  # stamped, but not as a site
        shutil.copytree(root / "site", folders[f".site-old-{dead}-123"], dirs_exist_ok=True)  # an old site set aside
        build(root)
        left = {name for name, path in folders.items() if path.exists()}
        assert left == {f".site-build-{live.pid}-def", f".site-build-{dead}-nostamp", f".site-build-{dead}-other",
                        f".site-old-{dead}-456", ".site-xyz"}
    finally:
        live.kill()
        live.wait()


KILLED_BUILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
import demo_figures
from builder import build
def hang(folder):  # late in the build: every file is written, the links are being checked
    print("written", flush=True)
    time.sleep(600)
build.check_links = hang
build.Builder(Path(sys.argv[1]), registry=demo_figures.registry(), cache=Path(sys.argv[3])).build()
"""


def test_a_build_killed_late_leaves_a_folder_the_next_build_removes(make_project, build, chart_cache):
    root = make_project()
    build(root)
    before = tree_hashes(root / "site")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(root), str(REPO / "tests" / "fixtures"),
                             str(chart_cache)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
        left = [p for p in root.iterdir() if p.name.startswith(".site-build-")]
        assert len(left) == 1 and (left[0] / "index.html").is_file()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert left[0].exists() and tree_hashes(root / "site") == before  # the kill left it; the site is intact
    build(root)
    assert not left[0].exists()
    _no_leftovers(root)


# ---- portable chart keys ------------------------------------------------------------------------
FIGURE_MODULE = '''"""A figure module of the project copied below."""
'''


def _tiny_chart(ctx):
    a = ctx.artifact("tiny").arrays
    rows = [{"step": int(s), "acc": float(v)} for s, v in zip(a["metric_step"], a["train_acc"])]
    return alt.Chart(alt.Data(values=rows)).mark_line().encode(x="step:Q", y="acc:Q")


def _registry(root: Path) -> Registry:
    class Module:  # a figure module that lives in the project, as builder/figures does in this checkout
        __file__ = str(root / "figures.py")

        @staticmethod
        def figures(ctx):
            return [Figure("tiny-acc", "tiny", "Accuracy.", "A line.", _tiny_chart, sources=("tiny",))]

    reg = Registry()
    reg.add(Module, None)
    return reg


@pytest.mark.usefixtures("torch_one_thread")
def test_a_copied_project_keeps_its_chart_keys_and_its_cache(tmp_path):
    first = write_project(tmp_path / "one" / "proj", FRONT + "Intro.\n\n{{< chart tiny-acc >}}\n")
    (first / "content" / "experiments.toml").write_text(TINY_RUN_TOML)
    (first / "figures.py").write_text(FIGURE_MODULE)
    freeze.ensure("tiny", root=first, progress=False)
    builder = Builder(first, registry=_registry(first))
    assert builder.build().cache_misses == 1
    second = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(first, second, symlinks=True)  # .cache/ included, as a copied checkout
    other = Builder(second, registry=_registry(second))
    report = other.build()
    fig = builder.registry.figures["tiny-acc"]
    assert other._chart_key(other.registry.figures["tiny-acc"], None) == builder._chart_key(fig, None)
    assert (report.cache_misses, report.cache_hits) == (0, 1)  # nothing compiled again
