"""Folders the builder made, and may therefore replace or remove.

A command replaces or deletes a folder only when it made that folder: a build replaces its
output folder (site/, or --out), `verify` clears fresh artifacts out of its scratch project, and
a build removes the temporary folders of builds that died. Each such folder holds a stamp file,
STAMP, written the moment the folder is made: what it is, and the process (pid, host) that made
it. Anything else (a folder with other files and no stamp) is never deleted: the command stops
with one line instead.

A leftover (a build's temporary folder, an old site set aside by a swap) is removed only when it
is provably ours, by its name and its stamp, and the process named in its name is gone: a build
running beside this one keeps its folders.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

STAMP = ".builder-made"
SITE = "site"  # a built site (and a build's temporary folder, which becomes one)
SCRATCH = "verify-scratch"  # `python -m builder verify`'s scratch project

# The temporary folder of a build in progress, and an old site a swap has set aside: each
# beside the output folder, named with the pid of the build that made it.
BUILDING = re.compile(r"^\.site-build-(\d+)-[A-Za-z0-9_]+$")
SET_ASIDE = re.compile(r"^\.site-old-(\d+)-\d+$")
# What a build writes at the top of a site, to recognize one built before the stamp existed.
_SITE_ENTRIES = re.compile(r"^([^/]+\.html|assets|charts|figures|data)$")


def stamp(folder: Path, kind: str, process: bool = True) -> None:
    """Mark `folder` as made by the builder, as a `kind` folder; `process`: and by this process
    (its pid and host, which a finished site, published as it is, does without)."""
    mark = {"kind": kind, "note": "made by python -m builder, which may replace it; nothing else will be deleted"}
    if process:
        mark.update(pid=os.getpid(), host=socket.gethostname())
    (folder / STAMP).write_text(json.dumps(mark) + "\n", encoding="utf-8")


def stamp_of(folder: Path) -> dict | None:
    """The folder's stamp, or None when it has none (or one that cannot be read)."""
    try:
        data = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def legacy_site(folder: Path) -> bool:
    """A site built before builds wrote a stamp: nothing at its top but what a build writes
    there (pages, assets/, charts/, figures/, data/), and assets/glue.js among it."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return (bool(names) and all(_SITE_ENTRIES.match(n) for n in names)
            and any(n.endswith(".html") for n in names) and (folder / "assets" / "glue.js").is_file())


def legacy_scratch(folder: Path) -> bool:
    """What a verify scratch project made before the stamp holds: content/ with only
    experiments.toml and _freeze/ (verify trusts it only at its default place, .cache/verify/:
    elsewhere another project may look the same)."""
    try:
        return ([p.name for p in folder.iterdir()] == ["content"]
                and {p.name for p in (folder / "content").iterdir()} <= {"experiments.toml", "_freeze"})
    except OSError:
        return False


def ours(folder: Path, kind: str) -> bool:
    """Whether `folder` is a `kind` folder the builder made: its stamp, or for a site built
    before stamps, what it holds (legacy_site)."""
    found = stamp_of(folder)
    if found is not None:
        return found.get("kind") == kind
    return kind == SITE and legacy_site(folder)


def empty(folder: Path) -> bool:
    try:
        return not any(folder.iterdir())
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (0: this process's group, so
    True)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def dead_leftovers(parent: Path) -> list[Path]:
    """Folders in `parent` that a build made and left behind when it died: its temporary folder
    (`.site-build-PID-...`, stamped by that process) or an old site it had set aside
    (`.site-old-PID-...`, a site the builder made). Only those whose process is gone, on this
    host."""
    found = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return []
    host = socket.gethostname()
    for path in entries:
        m = BUILDING.match(path.name) or SET_ASIDE.match(path.name)
        if not m or path.is_symlink() or not path.is_dir():
            continue
        pid = int(m.group(1))
        mark = stamp_of(path)
        if mark is not None and mark.get("host") not in (None, host):
            continue  # made on another machine sharing this folder: its process is not ours to judge
        if BUILDING.match(path.name):
            if mark is None or mark.get("kind") != SITE or mark.get("pid") != pid:
                continue
        elif not ours(path, SITE):
            continue
        if pid != os.getpid() and not alive(pid):
            found.append(path)
    return found


def remove_dead_leftovers(parent: Path) -> list[Path]:
    """Remove dead_leftovers(parent); the folders removed."""
    gone = dead_leftovers(parent)
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return gone
