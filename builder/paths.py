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
