"""`make serve`: serve site/ on 127.0.0.1 at once, build in a process of its own, rebuild on
change, reload the browser, and show a failed build's error in the page.

The server starts before the first build, so the address is printed within a second; until
site/ has an index.html, "/" is a page saying the site is being built. Builds run in a separate
build process (BuildProcess) that keeps its Builder between builds: a prose edit re-renders the
pages only (compiled charts stay in memory), a retrained artifact or a changed spec recompiles the
charts that read it. An edit to the Python code (builder/*.py, a figure module) restarts that
process, so the next build runs the new code. The build says what it is doing on stderr (phase
lines, the charts it compiles, what it trains and why).

Every HTML page served gets one script (render/preview/preview.js, never written into site/): it
listens on /__reload for "reload" after a good build, and for a failed build's one-line error,
which it shows over the page until the next good build.

The server only listens on 127.0.0.1, but any web page open in the browser (and any local
program) can still send it requests, so it answers as little as it can:

- GET and HEAD only, and only for regular files inside site/ once the path is decoded and `..`
  and symlinks are resolved; other methods get 405.
- A malformed path (NUL or another control byte, a backslash, bad percent-encoding, no leading
  slash, too long) gets 400; anything else that is not a file in site/ gets 404. Neither names
  the file, and neither ends in a traceback.
- The accept loop reads each request's head (request line and headers) itself, without
  blocking, from every connection at once; only a complete head goes to the fixed pool of worker
  threads. A head must arrive within HEAD_DEADLINE seconds in all (not per byte), so clients
  sending a byte at a time are cut off, and at most MAX_READING connections are read at once:
  a new one takes the place of the oldest, so a crowd of slow clients cannot lock new ones out.
  The workers answer from disk; each write has a time limit and each request a deadline.
- Live-reload streams (/__reload) wait in one list instead of holding a worker each.
- Ctrl-C stops the watch loop and the build process, closes the port and every connection, and
  returns.
"""
from __future__ import annotations

import http.server
import io
import json
import mimetypes
import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import unquote, urlsplit

from builder import paths
from builder.errors import BuildError

PREVIEW_JS = Path(__file__).parent / "render" / "preview" / "preview.js"
PREVIEW_PATH = "/__preview.js"
PREVIEW_TAG = f'<script src="{PREVIEW_PATH}"></script>'.encode()
BUILDING_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>Building the site</title></head>
<body style="font: 1.1rem/1.6 system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
<main><h1>Building the site&hellip;</h1>
<p>This is the first build of this checkout: it trains the experiments that are not frozen yet and
compiles the charts, which can take minutes. The terminal running <code>make serve</code> shows what
it is doing. This page reloads when the site is ready.</p></main>
</body></html>
"""

WORKERS = 8            # threads answering requests: a page loads its files over a few connections
BACKLOG = 32           # complete requests waiting for a worker; past that they get 503
READ_TIMEOUT = 5.0     # seconds a worker waits on one write to a client not taking the reply
HEAD_DEADLINE = 5.0    # seconds from connecting to the end of the request's head, in all
MAX_READING = 256      # connections whose head is still arriving; past that the oldest is dropped
MAX_HEAD = 16384       # bytes of request line and headers; a browser sends under 2 KB
DEADLINE = 30.0        # seconds a worker may spend on one request (a client reading very slowly)
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
    """The site's generation, the error of the latest build if it failed, and the browsers waiting
    (on /__reload) to hear of either."""

    def __init__(self, max_listeners: int = MAX_LISTENERS):
        self.generation = 0
        self.error: str | None = None
        self.max_listeners = max_listeners
        self._lock = threading.Lock()  # sends happen under it, so no socket is closed mid-send
        self._listeners: list[socket.socket] = []
        self._last_ping = time.monotonic()

    def listen(self, sock: socket.socket, send_headers) -> None:
        """Send the event-stream headers (and the current error, if the latest build failed), then
        keep `sock` until the next rebuild. All under the lock, so a rebuild comes either before the
        headers or after the stream is listed."""
        with self._lock:
            send_headers()
            sock.setblocking(False)  # one browser that stopped reading must not stall the others
            if self.error is not None:
                _send(sock, self._error_event())
            self._listeners.append(sock)
            while len(self._listeners) > self.max_listeners:
                _close(self._listeners.pop(0))  # the oldest is most likely a tab already gone

    def _error_event(self) -> bytes:
        return f"event: build-error\ndata: {json.dumps(self.error)}\n\n".encode()

    def bump(self) -> None:
        """The site was rebuilt: tell every listener to reload, then let it go."""
        with self._lock:
            self.generation += 1
            self.error = None
            for sock in self._listeners:
                _send(sock, b"data: reload\n\n")
                _close(sock)
            self._listeners.clear()

    def fail(self, message: str) -> None:
        """A build failed: show its error in every open page (which keeps its stream)."""
        with self._lock:
            self.error = message
            keep = []
            for sock in self._listeners:
                if _send(sock, self._error_event()):
                    keep.append(sock)
                else:
                    _close(sock)
            self._listeners = keep

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


def _with_preview(html: bytes) -> bytes:
    """An HTML page with the preview script added before its last </body> (or at its end)."""
    at = html.lower().rfind(b"</body>")
    return html + PREVIEW_TAG if at < 0 else html[:at] + PREVIEW_TAG + html[at:]


def make_handler(site: Path, state: _State, read_timeout: float = READ_TIMEOUT, preview: bool = False):
    """`preview`: add the preview script to HTML pages, answer PREVIEW_PATH, and answer "/" with
    BUILDING_HTML while site/ has no index.html (what serve() runs; the tests of the file
    serving leave it off)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        # BaseHTTPRequestHandler, not SimpleHTTPRequestHandler: the latter answers HEAD (and would
        # answer anything added later) from the current directory, i.e. the whole checkout.
        server_version = "builder-serve"
        sys_version = ""
        timeout = read_timeout  # socketserver applies it to every write of the connection
        error_content_type = "text/plain; charset=utf-8"
        error_message_format = "%(code)d %(message)s: %(explain)s\n"
        kept = False  # True once the connection belongs to the live-reload listeners

        def setup(self):
            super().setup()
            # the request's head, which the accept loop has read already (PreviewServer._read)
            self.rfile = io.BytesIO(self.server.take_head(self.connection))

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
                rel = _relative(self.path)
            except BadPath as exc:
                return self.send_error(400, explain=str(exc))
            name = target.name if target else None
            try:
                data = target.read_bytes() if target else None
            except OSError:  # removed by a rebuild since resolve() saw it
                data = None
            if data is None and preview:
                if "/" + rel == PREVIEW_PATH:
                    data, name = PREVIEW_JS.read_bytes(), PREVIEW_JS.name
                elif rel in ("", "index.html") and not (site / "index.html").exists():
                    data, name = BUILDING_HTML, "index.html"
            if data is None:
                return self.send_error(404, explain="no such file in site/")
            kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if preview and kind == "text/html":
                data = _with_preview(data)
            self.send_response(200)
            self.send_header("Content-Type", kind)
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
    """An HTTPServer whose accept loop reads the requests' heads itself and answers complete
    requests on a fixed pool of threads, instead of a new thread per connection.

    The accept loop (serve_forever) accepts connections, reads what each has sent without
    blocking, and queues a connection for the workers once its head is complete; every POLL
    seconds it drops connections past HEAD_DEADLINE, cuts requests past their deadline and tends
    the live-reload streams."""

    request_queue_size = 128  # the kernel's queue of connections not yet accepted (not threads)

    def __init__(self, address, site: Path, state: _State, workers: int = WORKERS, backlog: int = BACKLOG,
                 timeout: float = READ_TIMEOUT, deadline: float = DEADLINE, head_deadline: float = HEAD_DEADLINE,
                 max_reading: int = MAX_READING, preview: bool = False):
        super().__init__(address, make_handler(site, state, timeout, preview))
        self.socket.setblocking(False)
        self.state = state
        self.deadline = deadline
        self.head_deadline = head_deadline
        self.max_reading = max_reading
        self._reading: dict[socket.socket, list] = {}  # connection -> [head so far, when it must be complete]
        self._heads: dict[socket.socket, bytes] = {}  # complete heads, until a worker takes them
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._queue: queue.Queue = queue.Queue(backlog)
        self._busy: dict[socket.socket, float] = {}  # connection -> when it must be done
        self._busy_lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"serve-worker-{i}", daemon=True)
                         for i in range(workers)]
        for worker in self._workers:
            worker.start()

    # -- the accept loop ----------------------------------------------------------------------
    def serve_forever(self, poll_interval: float = POLL):
        self._stopped.clear()
        self._selector.register(self.socket, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(poll_interval):
                    if key.fileobj is self.socket:
                        self._accept()
                    else:
                        self._read(key.fileobj)
                self.service_actions()
        finally:
            for sock in list(self._reading):
                self._drop(sock)
            self._selector.close()
            self._stopped.set()

    def shutdown(self):
        """Stop serve_forever (within POLL seconds) and wait for it to return."""
        self._stop.set()
        self._stopped.wait()

    def _accept(self) -> None:
        for _ in range(64):  # what arrived since the last look, a bounded number at a time
            try:
                sock, address = self.socket.accept()
            except OSError:  # BlockingIOError: none left
                return
            sock.setblocking(False)
            while len(self._reading) >= self.max_reading:
                self._drop(next(iter(self._reading)))  # the oldest: make room for the new one
            self._reading[sock] = [b"", time.monotonic() + self.head_deadline, address]
            self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client left before finishing its request
            return self._drop(sock)
        entry = self._reading[sock]
        entry[0] += data
        head = entry[0]
        if b"\r\n\r\n" in head or b"\n\n" in head or len(head) > MAX_HEAD:
            self._selector.unregister(sock)
            del self._reading[sock]
            if len(head) > MAX_HEAD and b"\r\n\r\n" not in head[:MAX_HEAD] and b"\n\n" not in head[:MAX_HEAD]:
                return self._refuse(sock, b"431 Request Header Fields Too Large", b"request head too large\n")
            self._heads[sock] = head
            try:
                self._queue.put_nowait((sock, entry[2]))
            except queue.Full:
                # Say so at once rather than leave the browser waiting on a silent socket.
                del self._heads[sock]
                self._refuse(sock, b"503 Service Unavailable", b"server busy\n")

    def _refuse(self, sock: socket.socket, status: bytes, body: bytes) -> None:
        _send(sock, b"HTTP/1.0 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
              + str(len(body)).encode() + b"\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + body)
        self.shutdown_request(sock)

    def _drop(self, sock: socket.socket) -> None:
        """Stop reading a connection whose head is incomplete, and close it."""
        self._reading.pop(sock, None)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        _close(sock)

    def take_head(self, sock: socket.socket) -> bytes:
        return self._heads.pop(sock, b"")

    def service_actions(self):
        now = time.monotonic()
        for sock in [s for s, entry in self._reading.items() if entry[1] < now]:
            self._refuse_late(sock)
        with self._busy_lock:
            late = [sock for sock, end in self._busy.items() if end < now]
        for sock in late:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the worker's read or write fails and it moves on
            except OSError:
                pass
        self.state.tick()

    def _refuse_late(self, sock: socket.socket) -> None:
        """A head still incomplete at its deadline: 408, then closed."""
        self._reading.pop(sock, None)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        self._refuse(sock, b"408 Request Timeout", b"request head not received in time\n")

    # -- the workers ----------------------------------------------------------------------------
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


# -- the build process ----------------------------------------------------------------------------
class BuildProcess:
    """Builds in a child process (`python -m builder.serve ROOT`) that keeps its Builder between
    builds; restart() starts a fresh one, which imports the code as it is now. Its stderr is
    ours (phase lines, training progress); its stdout answers each build with one JSON line."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)  # this code, whatever the cwd
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.proc = subprocess.Popen([sys.executable, "-m", "builder.serve", str(self.root)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def build(self) -> dict:
        """{"ok": True, "ms", "charts", "compiled"} or {"ok": False, "error": one line}."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write("build\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, ValueError):
            line = ""
        if not line:
            code = self.proc.wait()
            self.proc = None
            return {"ok": False, "error": f"the build process stopped (exit status {code}; its last lines "
                                          "are above in the terminal)"}
        return json.loads(line)

    def stop(self, wait: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # it cleans up (a build's temporary folder) and exits
            if wait:
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self._start()


def _code_error(exc: BaseException) -> str:
    """A one-line error for an exception the build did not expect (a bug, or code that does not
    import), at the innermost line of this project's code."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_shown(Path(exc.filename))}:{exc.lineno}: {type(exc).__name__}: {exc.msg} (hint: fix the code and save)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).is_relative_to(paths.ROOT)]
    where = f"{_shown(Path(frames[-1].filename))}:{frames[-1].lineno}: " if frames else ""
    return f"{where}{type(exc).__name__}: {exc} (hint: the traceback is in the terminal)"


def _shown(path: Path) -> str:
    return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)


def worker_main(root: Path) -> None:
    """The build process: one build per line "build" on stdin, one JSON line back for each."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the build prints goes to the terminal, not into the replies
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle: it stops us
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SystemExit: a build cleans up first

    def phase(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    try:
        from builder.build import Builder
        builder, broken = Builder(root, phase=phase), None
    except Exception as exc:  # an edit that does not import
        traceback.print_exc()
        builder, broken = None, _code_error(exc)
    for _ in sys.stdin:
        if broken:
            reply.write(json.dumps({"ok": False, "error": broken}) + "\n")
            continue
        try:
            report = builder.build()
            result = {"ok": True, "ms": round(report.seconds * 1000), "charts": report.charts,
                      "compiled": report.cache_misses}
        except BuildError as exc:
            result = {"ok": False, "error": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            result = {"ok": False, "error": _code_error(exc)}
        reply.write(json.dumps(result) + "\n")


def _code_changes(changes: set, package: Path) -> list[str]:
    """The Python files among the changes that belong to the running builder package."""
    return sorted(p for _, p in changes if p.endswith(".py") and Path(p).is_relative_to(package))


def _report(result: dict, state: _State, first: bool) -> None:
    if result["ok"]:
        print(f"{'built' if first else 'rebuilt'} in {result['ms']} ms ({result['charts']} chart(s), "
              f"{result['compiled']} compiled)", flush=True)
        state.bump()
    else:
        print(result["error"], file=sys.stderr, flush=True)
        state.fail(result["error"])


def serve(root: Path = paths.ROOT, port: int = 8000, watch: bool = True) -> int:
    import watchfiles

    root = Path(root)
    site = paths.site_dir(root)
    state = _State()
    try:
        server = PreviewServer(("127.0.0.1", port), site, state, preview=True)
    except OSError as exc:
        print(f"cannot serve on 127.0.0.1:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    threading.Thread(target=server.serve_forever, name="serve-accept", daemon=True).start()
    print(f"serving site/ on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    waiting = "a page saying so" if not (site / "index.html").exists() else "the site/ of the last build"
    print(f"building (until it is done the address serves {waiting}):", flush=True)
    package = Path(__file__).resolve().parent
    builds = BuildProcess(root)
    try:
        _report(builds.build(), state, first=True)
        if not watch:
            threading.Event().wait()
        # watchfiles checks for Ctrl-C every `step` ms and then raises KeyboardInterrupt here.
        for changes in watchfiles.watch(paths.content_dir(root), package, debounce=100, step=50):
            changes = {(c, p) for c, p in changes
                       if not p.endswith((".pyc", ".tmp")) and "/.partial/" not in p and "__pycache__" not in p}
            if not changes:
                continue
            code = _code_changes(changes, package)
            changed = Path(min(p for _, p in changes))
            shown = changed.relative_to(root) if changed.is_relative_to(root) else _shown(changed)
            print(f"{shown} changed: rebuilding", flush=True)
            if code:
                print(f"{_shown(Path(code[0]))} changed: restarting the build process to run the new code",
                      file=sys.stderr, flush=True)
                builds.restart()
            _report(builds.build(), state, first=False)
    except KeyboardInterrupt:
        pass
    finally:
        builds.stop(wait=False)
        server.shutdown()  # the accept loop notices within POLL seconds
        server.server_close()
    return 0


if __name__ == "__main__":  # the build process (BuildProcess)
    worker_main(Path(sys.argv[1]))
