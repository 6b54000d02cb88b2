"""Static assets: the Vega runtime from vl-convert's bundle, our CSS and JS glue."""
from __future__ import annotations

from pathlib import Path

import vl_convert as vlc

STATIC = Path(__file__).parent / "static"
# Specs are compiled to Vega at build time; the page embeds them with vega-embed in "vega" mode.
# (vl-convert 1.9's bundle exposes a working `vegaEmbed` global but sets `window.vega` to null,
# so the page goes through vegaEmbed rather than the Vega API directly.)


def vega_bundle(cache_dir: Path | None) -> str:
    """The Vega runtime as one classic script (works from file://). Cached per version."""
    name = f"vega-{vlc.get_vega_version()}-embed-{vlc.get_vega_embed_version()}.js"
    cached = cache_dir / name if cache_dir else None
    if cached and cached.exists():
        return cached.read_text(encoding="utf-8")
    text = vlc.javascript_bundle()
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(cached)
    return text


def write_assets(out: Path, cache_dir: Path | None) -> None:
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "vega.js").write_text(vega_bundle(cache_dir), encoding="utf-8")
    for src in STATIC.iterdir():
        if src.suffix in (".css", ".js", ".woff2", ".txt"):
            (assets / src.name).write_bytes(src.read_bytes())
