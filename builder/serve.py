"""`make serve`: build, serve site/ on 127.0.0.1, rebuild on change and reload the browser.

A prose edit re-renders the pages only: compiled charts stay in memory. A change under
builder/figures/ or content/_freeze/ recompiles the charts. Only files inside site/ are served.
"""
from __future__ import annotations

import http.server
import importlib
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from builder import paths
from builder.build import Builder
from builder.errors import BuildError

RELOAD_JS = (
    "(function(){var s=new EventSource('/__reload');s.onmessage=function(e){"
    "if(e.data==='reload')location.reload();};})();"
)


class _State:
    def __init__(self):
        self.generation = 0
        self.changed = threading.Condition()

    def bump(self):
        with self.changed:
            self.generation += 1
            self.changed.notify_all()


def resolve(site: Path, url_path: str) -> Path | None:
    """The file a URL names, or None when it would leave site/."""
    rel = unquote(urlsplit(url_path).path).lstrip("/")
    target = (site / rel).resolve()
    site = site.resolve()
    if target != site and site not in target.parents:
        return None
    if target.is_dir():
        target = target / "index.html"
    return target


def make_handler(site: Path, state: _State):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: the build log is what matters
            pass

        def do_GET(self):
            if self.path.startswith("/__reload"):
                return self._events()
            target = resolve(site, self.path)
            if target is None:
                return self.send_error(403, "outside site/")
            if not target.is_file():
                return self.send_error(404)
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(target)))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _events(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            seen = state.generation
            try:
                while True:
                    with state.changed:
                        state.changed.wait(timeout=15)
                    msg = "reload" if state.generation != seen else "ping"
                    self.wfile.write(f"data: {msg}\n\n".encode())
                    self.wfile.flush()
                    if msg == "reload":
                        return
            except (BrokenPipeError, ConnectionResetError):
                return

    return Handler


def _rebuild(builder: Builder, changes: set, root: Path) -> None:
    figure_inputs = (root / "builder" / "figures", paths.freeze_dir(root),
                     paths.content_dir(root) / "experiments.toml")
    if any(any(Path(p).is_relative_to(d) for d in figure_inputs) for _, p in changes):
        for name in list(sys.modules):
            if name.startswith("builder.figures."):
                importlib.reload(sys.modules[name])
        builder.registry = None
        builder.forget_figures()
    t0 = time.perf_counter()
    report = builder.build(live_reload=RELOAD_JS)
    print(f"rebuilt in {1000 * (time.perf_counter() - t0):.0f} ms "
          f"({report.cache_misses} chart(s) compiled)", flush=True)


def serve(root: Path = paths.ROOT, port: int = 8000, watch: bool = True) -> int:
    import watchfiles

    builder = Builder(root)
    site = paths.site_dir(root)
    try:
        builder.build(live_reload=RELOAD_JS)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        if not site.exists():
            return 1
    state = _State()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), make_handler(site, state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"serving site/ on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        if not watch:
            threading.Event().wait()
        watched = [paths.content_dir(root), root / "builder"]
        for changes in watchfiles.watch(*watched, debounce=100):
            changes = {(c, p) for c, p in changes if not p.endswith((".pyc", ".tmp")) and "/.partial/" not in p}
            if not changes:
                continue
            try:
                _rebuild(builder, changes, root)
                state.bump()
            except BuildError as exc:
                print(exc, file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0
