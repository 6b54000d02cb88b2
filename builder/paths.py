"""Where things live. Every function takes the project root so tests can use a temporary one."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def content_dir(root: Path = ROOT) -> Path:
    return root / "content"


def site_dir(root: Path = ROOT) -> Path:
    return root / "site"


def freeze_dir(root: Path = ROOT) -> Path:
    return root / "content" / "_freeze"


def cache_dir(root: Path = ROOT) -> Path:
    return root / ".cache"


FREEZE_ROOT_VARIABLE = "BUILDER_FREEZE_ROOT"


def frozen_root() -> Path:
    """The project root whose content/_freeze/ the claim tests read: $BUILDER_FREEZE_ROOT when
    set (`python -m builder verify` points it at the fresh artifacts in its scratch folder),
    else this checkout."""
    import os

    value = os.environ.get(FREEZE_ROOT_VARIABLE)
    return Path(value).resolve() if value else ROOT
