"""Static assets: the Vega runtime from vl-convert's bundle, our CSS and JS glue."""
from __future__ import annotations

import re
from pathlib import Path

import vl_convert as vlc

STATIC = Path(__file__).parent / "static"
# Specs are compiled to Vega at build time; the page parses and runs them with the Vega API
# itself, one step per main-thread task (glue.js). vl-convert 1.9's bundle sets `window.vega` to
# null (Vega has no default export); the module namespace is there, as the object vega-embed
# builds its views from, and the bundle's last line makes it the global again.
NAMESPACE = re.compile(r"new\(\w+\.viewClass\|\|([A-Za-z_$][\w$]*)\.View\)")


def expose_vega(bundle: str) -> str:
    """The bundle, ending with `window.vega = <Vega's namespace>`."""
    m = NAMESPACE.search(bundle)
    if not m:
        raise RuntimeError("cannot find Vega's namespace in vl-convert's JavaScript bundle "
                           "(hint: vl-convert changed; check builder/render/assets.py against its bundle)")
    return bundle + f"\n;window.vega = {m.group(1)};\n"


def vega_bundle(cache_dir: Path | None) -> str:
    """The Vega runtime as one classic script (works from file://). Cached per version."""
    name = f"vega-{vlc.get_vega_version()}-embed-{vlc.get_vega_embed_version()}-ns.js"
    cached = cache_dir / name if cache_dir else None
    if cached and cached.exists():
        return cached.read_text(encoding="utf-8")
    text = expose_vega(vlc.javascript_bundle())
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
