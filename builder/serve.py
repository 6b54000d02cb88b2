"""`make serve`: build, serve site/ on 127.0.0.1, rebuild on change and reload the browser.

Every rebuild makes a new BuildContext, so it reads the experiments and frozen artifacts as they
are now: a retrained artifact or a changed spec recompiles the charts that declare it, and a
prose edit re-renders the pages only (compiled charts stay in memory). Python code is not
reloaded: after an edit to builder/*.py the preview says to restart it.

The server only listens on 127.0.0.1, but any web page open in the browser (and any local
program) can still send it requests, so it answers as little as it can:

- GET and HEAD only, and only for regular files inside site/ once the path is decoded and `..`
  and symlinks are resolved; other methods get 405.
- A malformed path (NUL or another control byte, a backslash, bad percent-encoding, no leading
  slash, too long) gets 400; anything else that is not a file in site/ gets 404. Neither names
  the file, and neither ends in a traceback.
- A fixed pool of worker threads answers connections. Each read has a time limit and each
  connection a deadline, so silent or trickling clients cannot hold the pool, and when the queue
  in front of the pool is full a new connection is told 503 at once.
- Live-reload streams (/__reload) wait in one list instead of holding a worker each.
- Ctrl-C stops the watch loop, closes the port and every connection, and returns.
"""
from __future__ import annotations

import http.server
import mimetypes
import queue
import socket
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

WORKERS = 8            # threads answering requests: a page loads its files over a few connections
BACKLOG = 32           # accepted connections waiting for a worker; past that they get 503
READ_TIMEOUT = 5.0     # seconds a client may stay silent while sending its request or taking the reply
DEADLINE = 30.0        # seconds one connection may take in all (a client sending a byte at a time)
POLL = 0.1             # seconds between the accept loop's housekeeping; bounds how long stopping takes
MAX_TARGET = 2048      # characters in a request target; the site's own paths are under 100
MAX_LISTENERS = 16     # open live-reload streams; past that the oldest is dropped
PING_EVERY = 15.0      # seconds between keep-alive messages on the live-reload streams


class BadPath(ValueError):
    """A request target that no page of the site would ask for; answered with 400."""


def _relative(target: str) -> str:
    """The path inside site/ that a request target names: '/charts/a.js?v=2' -> 'charts/a.js'."""
    if len(target) > MAX_TARGET:
        raise BadPath("path too long")
    if target.startswith("/"):
        path = target.partition("?")[0].partition("#")[0]
    elif target[:8].lower().startswith(("http://", "https://")):
        path = urlsplit(target).path or "/"  # the absolute form HTTP allows (what proxies are sent)
    else:
        raise BadPath("path must start with /")
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise BadPath("path is not UTF-8") from None
    # A control byte (NUL makes the OS calls raise) or a backslash is never part of a site/ name.
    if any(ord(c) < 0x20 or c in "\x7f\\" for c in path):
        raise BadPath("control character or backslash in path")
    if any(len(part.encode()) > 255 for part in path.split("/")):
        raise BadPath("path segment too long")  # longer than any file name the OS allows
    return path.lstrip("/")  # '//etc/passwd' and '/%2Fetc' stay inside site/


def resolve(site: Path, url_path: str) -> Path | None:
    """The regular file inside site/ that a URL names (a folder's index.html), or None when there is
    none: missing, or reachable only by leaving site/ through `..` or a symlink. Raises BadPath for a
    malformed path."""
    rel = _relative(url_path)
    try:
        root = site.resolve(strict=True)
        target = (root / rel).resolve()
        if target.is_dir():
            target = (target / "index.html").resolve()  # index.html may itself be a symlink out
        return target if root in target.parents and target.is_file() else None
    except (OSError, RuntimeError):  # a name the OS refuses, a symlink loop, site/ mid-rebuild
        return None


def _send(sock: socket.socket, data: bytes) -> bool:
    """Write `data` without waiting; False when the browser is gone or not reading."""
    try:
        return sock.send(data) == len(data)
    except OSError:  # BlockingIOError included: its buffer is full, so it stopped reading
        return False


def _alive(sock: socket.socket) -> bool:
    """False once the browser has closed its end (the socket reads as end-of-file)."""
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read: still open
    except OSError:
        return False


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _State:
    """The site's generation, and the browsers waiting (on /__reload) to hear that it changed."""

    def __init__(self, max_listeners: int = MAX_LISTENERS):
        self.generation = 0
        self.max_listeners = max_listeners
        self._lock = threading.Lock()  # sends happen under it, so no socket is closed mid-send
        self._listeners: list[socket.socket] = []
        self._last_ping = time.monotonic()

    def listen(self, sock: socket.socket, send_headers) -> None:
        """Send the event-stream headers, then keep `sock` until the next rebuild. Both under the
        lock, so a rebuild comes either before the headers or after the stream is listed."""
        with self._lock:
            send_headers()
            sock.setblocking(False)  # one browser that stopped reading must not stall the others
            self._listeners.append(sock)
            while len(self._listeners) > self.max_listeners:
                _close(self._listeners.pop(0))  # the oldest is most likely a tab already gone

    def bump(self) -> None:
        """The site was rebuilt: tell every listener to reload, then let it go."""
        with self._lock:
            self.generation += 1
            for sock in self._listeners:
                _send(sock, b"data: reload\n\n")
                _close(sock)
            self._listeners.clear()

    def tick(self) -> None:
        """Drop streams whose browser went away; ping the rest now and then, which also finds the
        ones that vanished without closing."""
        ping = time.monotonic() - self._last_ping >= PING_EVERY
        if ping:
            self._last_ping = time.monotonic()
        with self._lock:
            keep = []
            for sock in self._listeners:
                if _alive(sock) and (not ping or _send(sock, b"data: ping\n\n")):
                    keep.append(sock)
                else:
                    _close(sock)
            self._listeners = keep

    def close(self) -> None:
        with self._lock:
            for sock in self._listeners:
                _close(sock)
            self._listeners.clear()


def make_handler(site: Path, state: _State, read_timeout: float = READ_TIMEOUT):
    class Handler(http.server.BaseHTTPRequestHandler):
        # BaseHTTPRequestHandler, not SimpleHTTPRequestHandler: the latter answers HEAD (and would
        # answer anything added later) from the current directory, i.e. the whole checkout.
        server_version = "builder-serve"
        sys_version = ""
        timeout = read_timeout  # socketserver applies it to every read and write of the connection
        error_content_type = "text/plain; charset=utf-8"
        error_message_format = "%(code)d %(message)s: %(explain)s\n"
        kept = False  # True once the connection belongs to the live-reload listeners

        def log_message(self, fmt, *args):  # quiet: the build log is what matters
            pass

        def parse_request(self):
            # Refuse every method but GET and HEAD here, before any of them looks at a path.
            if not super().parse_request():
                return False
            if self.command in ("GET", "HEAD"):
                return True
            body = b"405 Method Not Allowed: only GET and HEAD\n"
            self.close_connection = True
            self.send_response(405)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            return False

        def do_GET(self):
            if self.path.partition("?")[0] == "/__reload":
                return self._listen()
            self._send_file(with_body=True)

        def do_HEAD(self):
            self._send_file(with_body=False)

        def _send_file(self, with_body: bool):
            try:
                target = resolve(site, self.path)
            except BadPath as exc:
                return self.send_error(400, explain=str(exc))
            try:
                data = target.read_bytes() if target else None
            except OSError:  # removed by a rebuild since resolve() saw it
                data = None
            if data is None:
                return self.send_error(404, explain="no such file in site/")
            self.send_response(200)
            self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if with_body:
                self.wfile.write(data)

        def _listen(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.kept = True
            state.listen(self.connection, self.end_headers)

    return Handler


class PreviewServer(http.server.HTTPServer):
    """An HTTPServer that answers on a fixed pool of threads instead of a new thread per connection.

    The accept loop (serve_forever) queues each connection for the workers and, every POLL seconds,
    cuts connections past their deadline and tends the live-reload streams."""

    request_queue_size = 128  # the kernel's queue of connections not yet accepted (not threads)

    def __init__(self, address, site: Path, state: _State, workers: int = WORKERS, backlog: int = BACKLOG,
                 timeout: float = READ_TIMEOUT, deadline: float = DEADLINE):
        super().__init__(address, make_handler(site, state, timeout))
        self.state = state
        self.deadline = deadline
        self._queue: queue.Queue = queue.Queue(backlog)
        self._busy: dict[socket.socket, float] = {}  # connection -> when it must be done
        self._busy_lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True)
                         for i in range(workers)]
        for worker in self._workers:
            worker.start()

    def serve_forever(self, poll_interval: float = POLL):
        super().serve_forever(poll_interval)

    def process_request(self, request, client_address):
        try:
            self._queue.put_nowait((request, client_address))
        except queue.Full:
            # Say so at once rather than leave the browser waiting on a silent socket.
            request.setblocking(False)
            _send(request, b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                           b"Content-Length: 12\r\nRetry-After: 1\r\nConnection: close\r\n\r\nserver busy\n")
            self.shutdown_request(request)

    def _work(self):
        while (job := self._queue.get()) is not None:
            request, client_address = job
            with self._busy_lock:
                self._busy[request] = time.monotonic() + self.deadline
            kept = False
            try:
                kept = self.RequestHandlerClass(request, client_address, self).kept
            except Exception:
                self.handle_error(request, client_address)
            finally:
                with self._busy_lock:
                    del self._busy[request]
                if not kept:
                    self.shutdown_request(request)

    def service_actions(self):
        now = time.monotonic()
        with self._busy_lock:
            late = [sock for sock, end in self._busy.items() if end < now]
        for sock in late:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the worker's read or write fails and it moves on
            except OSError:
                pass
        self.state.tick()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return  # the browser left or stalled: nothing to report
        print(f"serve: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    def server_close(self):
        """Free the port, drop every connection and stop the workers (call shutdown() first)."""
        super().server_close()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self.shutdown_request(job[0])
        with self._busy_lock:
            for sock in self._busy:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for _ in self._workers:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # only if the accept loop still runs; the workers are daemons anyway
                break
        for worker in self._workers:
            worker.join(timeout=1)
        self.state.close()


def _rebuild(builder: Builder, changes: set, root: Path) -> None:
    code = sorted(p for _, p in changes if p.endswith(".py") and Path(p).is_relative_to(root / "builder"))
    if code:
        shown = Path(code[0]).relative_to(root)
        print(f"{shown} changed: restart `make serve` to run the new code (this preview keeps the code it started with)",
              file=sys.stderr, flush=True)
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
    try:
        server = PreviewServer(("127.0.0.1", port), site, state)
    except OSError as exc:
        print(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    threading.Thread(target=server.serve_forever, name="serve-accept", daemon=True).start()
    print(f"serving site/ on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        if not watch:
            threading.Event().wait()
        watched = [paths.content_dir(root), root / "builder"]
        # watchfiles checks for Ctrl-C every `step` ms and then raises KeyboardInterrupt here.
        for changes in watchfiles.watch(*watched, debounce=100, step=50):
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
        server.shutdown()  # the accept loop notices within POLL seconds
        server.server_close()
    return 0
