"""`make serve`: path safety, bounded connections, Ctrl-C, live reload, and prose edits that reuse
compiled charts."""
from __future__ import annotations

import http.client
import os
import queue
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from builder import owned

from builder.build import Builder
from builder.serve import PREVIEW_TAG, PreviewServer, _State, resolve
from conftest import DEMO_BIB, FRONT, REPO, with_experiments, write_project


def test_resolve_stays_inside_site(tmp_path):
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "index.html").write_text("x")
    (tmp_path / "secret.txt").write_text("no")
    assert resolve(site, "/") == (site / "index.html").resolve()
    assert resolve(site, "/assets/../index.html") == (site / "index.html").resolve()
    assert resolve(site, "/../secret.txt") is None
    assert resolve(site, "/%2e%2e/secret.txt") is None
    assert resolve(site, "/assets/../../secret.txt") is None


def _start(tmp_path, **options):
    """site/ with index.html, secret.txt beside it, served on a free port; -> (port, state, server)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "index.html").write_text("<p>hello</p>")
    (tmp_path / "secret.txt").write_text("private")
    state = _State()
    httpd = PreviewServer(("127.0.0.1", 0), site, state, **options)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd.server_address[1], state, httpd


@pytest.fixture
def server(tmp_path):
    port, state, httpd = _start(tmp_path)
    yield port, state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def start(tmp_path):
    """start(workers=..., timeout=..., ...) -> (port, state, server), stopped after the test."""
    started = []

    def run(**options):
        started.append(_start(tmp_path, **options))
        return started[-1]
    yield run
    for _, _, httpd in started:
        httpd.shutdown()
        httpd.server_close()


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_server_serves_site_and_refuses_the_rest(server):
    port, _ = server
    assert _get(port, "/") == (200, b"<p>hello</p>")
    assert _get(port, "/index.html")[0] == 200
    assert _get(port, "/missing.html")[0] == 404
    status, body = _get(port, "/../secret.txt")
    assert status in (403, 404) and b"private" not in body
    status, body = _get(port, "/%2e%2e/secret.txt")
    assert status == 404 and b"private" not in body


def test_reload_event_after_a_rebuild(server):
    port, state = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/__reload")
    resp = conn.getresponse()
    assert resp.getheader("Content-Type") == "text/event-stream"
    threading.Timer(0.3, state.bump).start()
    assert resp.readline() == b"data: reload\n"


def _raw(port, data: bytes):
    """Send raw bytes, read to end-of-file: (status, or None when no response came; head; body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    head, _, body = reply.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", head)
    return (int(match.group(1)) if match else None), head, body


def test_every_method_answers_only_for_files_in_site(server, tmp_path, monkeypatch):
    port, _ = server
    monkeypatch.chdir(tmp_path)  # the old HEAD answered from the current directory: secret.txt is here
    status, head, body = _raw(port, b"HEAD /index.html HTTP/1.0\r\n\r\n")
    assert status == 200 and b"Content-Length: 12\r\n" in head and body == b""
    for path in ("/secret.txt", "/site/index.html", "/../secret.txt", "/%2e%2e/secret.txt"):
        assert _raw(port, f"HEAD {path} HTTP/1.0\r\n\r\n".encode())[0] == 404, path
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"):
        for path in ("/index.html", "/secret.txt", "/../secret.txt"):
            status, head, body = _raw(port, f"{method} {path} HTTP/1.0\r\nContent-Length: 0\r\n\r\n".encode())
            assert status == 405 and b"Allow: GET, HEAD\r\n" in head and b"private" not in body, (method, path)


def test_symlinks_inside_site_are_served(server, tmp_path):
    port, _ = server
    site = tmp_path / "site"
    (site / "alias.html").symlink_to(site / "index.html")
    (site / "linked").symlink_to(site)
    assert _get(port, "/alias.html") == (200, b"<p>hello</p>")
    assert _get(port, "/linked/index.html") == (200, b"<p>hello</p>")


BAD_PATHS = {  # id: (request target, expected status); {tmp} is the folder holding site/
    "nul": ("/%00", 400),
    "nul-in-name": ("/index.html%00.txt", 400),
    "control-byte": ("/%01index.html", 400),
    "delete-byte": ("/%7f", 400),
    "not-utf8": ("/%ff", 400),
    "backslash": ("/..\\secret.txt", 400),
    "encoded-backslash": ("/%5c..%5csecret.txt", 400),
    "no-leading-slash": ("secret.txt", 400),
    "asterisk": ("*", 400),
    "long-target": ("/" + "a" * 5000, 400),
    "long-segment": ("/" + "a" * 300, 400),
    "deep": ("/" + "a/" * 3000, 400),
    "dotdot": ("/../secret.txt", 404),
    "encoded-dotdot": ("/%2e%2e/secret.txt", 404),
    "encoded-slash": ("/..%2fsecret.txt", 404),
    "double-encoded": ("/%252e%252e/secret.txt", 404),
    "absolute": ("/{tmp}/secret.txt", 404),
    "encoded-absolute": ("/%2f{tmp}/secret.txt", 404),
    "absolute-form": ("http://127.0.0.1/../secret.txt", 404),
    "symlink-to-file": ("/out-file", 404),
    "symlink-to-folder": ("/out-dir/secret.txt", 404),
    "symlinked-index": ("/sub/", 404),
    "symlink-loop": ("/loop/x", 404),
}


@pytest.mark.parametrize("target, expected", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_bad_paths_answer_400_or_404_without_a_traceback(server, tmp_path, capsys, target, expected):
    port, _ = server
    site = tmp_path / "site"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("private")
    (site / "out-file").symlink_to(tmp_path / "secret.txt")
    (site / "out-dir").symlink_to(tmp_path / "outside")
    (site / "sub").mkdir()
    (site / "sub" / "index.html").symlink_to(tmp_path / "secret.txt")
    (site / "loop").symlink_to(site / "loop")
    status, head, body = _raw(port, f"GET {target.format(tmp=tmp_path)} HTTP/1.0\r\n\r\n".encode())
    assert status == expected
    assert b"private" not in body and b"secret" not in head + body and str(tmp_path).encode() not in head + body
    assert "Traceback" not in capsys.readouterr().err
    assert _get(port, "/")[0] == 200  # and the server goes on


def _closed_by_server(sock) -> bool:
    """True once the server has closed the connection (after whatever reply it sent)."""
    if not select.select([sock], [], [], 0)[0]:
        return False
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    return True


def test_silent_and_trickling_connections_are_closed(start):
    port, _, _ = start(timeout=0.5, deadline=2)
    silent = socket.create_connection(("127.0.0.1", port), timeout=10)
    silent.sendall(b"GET / HTT")  # half a request line, then nothing
    trickle = socket.create_connection(("127.0.0.1", port), timeout=10)
    trickle.sendall(b"GET / HTTP/1.0\r\nX-Slow: ")  # then a byte now and then, each within the read timeout
    closed = set()
    give_up = time.monotonic() + 30  # only so that a failure ends; the limits are 0.5 s and 2 s
    while len(closed) < 2 and time.monotonic() < give_up:
        try:
            trickle.send(b"a")
        except OSError:
            closed.add("trickle")
        for name, sock in (("silent", silent), ("trickle", trickle)):
            if _closed_by_server(sock):
                closed.add(name)
        time.sleep(0.2)
    assert closed == {"silent", "trickle"}


def test_connections_are_answered_by_a_bounded_pool(start):
    port, _, _ = start(workers=4, backlog=8, timeout=60, head_deadline=60, max_reading=100)
    threads = threading.active_count()
    half_open = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET / HTT")
        half_open.append(sock)
    # Half-open requests hold no worker (the accept loop reads heads), and past max_reading the
    # oldest is dropped to make room: a new request is answered at once, by no extra thread.
    # (Before, the 4 workers and the queue of 8 were taken, and every later request got 503.)
    assert _get(port, "/") == (200, b"<p>hello</p>")
    assert threading.active_count() <= threads
    closed = sum(_closed_by_server(sock) for sock in half_open[:150])
    assert closed >= 150 - 100  # the oldest made room for the newer ones
    for sock in half_open:
        sock.close()
    assert _get(port, "/") == (200, b"<p>hello</p>")
    assert threading.active_count() <= threads


def test_a_crowd_of_slow_clients_does_not_starve_a_normal_request(start):
    """40 clients sending their request a byte every few seconds (each byte well within any
    per-read timeout), with the server's default limits: a normal request is still answered.
    Before, they held the 8 workers and filled the queue, and it got 503 for 30 s."""
    port, _, _ = start()
    slow = []
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    stop = threading.Event()

    def trickle():
        while not stop.wait(1.0):
            for sock in slow:
                try:
                    sock.send(b"X")
                except OSError:
                    pass
    threading.Thread(target=trickle, daemon=True).start()
    try:
        time.sleep(0.5)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/index.html")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"<p>hello</p>")
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def test_reload_streams_do_not_hold_workers(start):
    port, state, _ = start(workers=2)
    streams = []
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/__reload")
        streams.append(conn.getresponse())
    assert _get(port, "/") == (200, b"<p>hello</p>")  # 5 open streams, 2 workers, still answered
    state.bump()
    assert [r.readline() for r in streams] == [b"data: reload\n"] * 5


class ServeProcess:
    """`python -m builder --root ROOT serve --port 0` in a child process, its output collected."""

    def __init__(self, root: Path, code: Path = REPO):
        # Ctrl-C at a terminal reaches a process whose SIGINT is at its default; a test run started in
        # the background may have passed it on ignored, so the child puts it back.
        boot = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "runpy.run_module('builder', run_name='__main__', alter_sys=True)")
        self.proc = subprocess.Popen([sys.executable, "-c", boot, "--root", str(root), "serve", "--port", "0"],
                                     cwd=code, env={**os.environ, "PYTHONPATH": str(code)},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self._lines.put(line) for line in self.proc.stdout], daemon=True).start()
        self.port = int(self.wait_for(r"serving site/ on http://127\.0\.0\.1:(\d+)/").group(1))

    def wait_for(self, pattern: str, timeout: float = 300):
        """The match of `pattern` in the output since the last wait_for, once it is printed."""
        give_up = time.monotonic() + timeout  # only so that a failure ends
        seen = ""
        while not (match := re.search(pattern, seen)):
            seen += self._lines.get(timeout=max(0.1, give_up - time.monotonic()))
        self.output += seen
        return match

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_ctrl_c_stops_serve_at_once_and_frees_the_port(tmp_path):
    # A project whose content has an error: serve reports it, in the terminal and to the page's
    # live-reload stream, and goes on serving the last good site/ (after loading the project's
    # figures, as a real session does).
    root = tmp_path / "proj"
    (root / "content").mkdir(parents=True)
    (root / "content" / "index.md").write_text("---\ntitle: T\n---\nSee [@nosuchkey].\n")
    with_experiments(root)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<p>last good</p>")
    owned.stamp(root / "site", owned.SITE, process=False)  # a site a build made (a build replaces no other)
    serve = ServeProcess(root)
    proc, port = serve.proc, serve.port
    try:
        assert _get(port, "/") == (200, b"<p>last good</p>" + PREVIEW_TAG)  # at once, before any build
        serve.wait_for(r'content/index.md:4: unknown citation key "nosuchkey"')
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", "/__reload")
        events = stream.getresponse()
        assert events.readline() == b"event: build-error\n"
        assert events.readline().startswith(b'data: "content/index.md:4: unknown citation key \\"nosuchkey\\"')
        assert _get(port, "/") == (200, b"<p>last good</p>" + PREVIEW_TAG)
        half_open = socket.create_connection(("127.0.0.1", port))
        half_open.sendall(b"GET / HTT")
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        serve.stop()
    assert took < 0.5, f"serve took {took:.2f} s to stop after Ctrl-C"
    assert proc.returncode == 0
    with socket.socket() as sock:  # a new `make serve` can take the port (bound as HTTPServer does)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


PROBE = """import altair as alt

from builder.figures import Figure


def chart(title):
    return lambda ctx: alt.Chart(alt.Data(values=[{"x": 1, "y": 2}])).mark_bar().encode(
        x="x:Q", y="y:Q").properties(title=title)


def figures(ctx):
    return [FIGURES]
"""


def probe(*figures) -> str:
    made = [f'Figure("{i}", "zz-probe", "Probe.", "A bar.", chart("{t}"), columns=(("x", "x"), ("y", "y")))'
            for i, t in figures]
    return PROBE.replace("FIGURES", ", ".join(made))


def test_a_code_edit_restarts_the_build_process(tmp_path):
    """A copy of the project's code and a page placing a figure of a module of its own, served.
    The module is edited (a new title, a new figure), then the page places the new figure: both
    show without a restart and without an error. Before, serve said to restart and then
    reported `unknown chart id "zz-probe-b"` for the id the new code registers."""
    root = tmp_path / "proj"
    shutil.copytree(REPO / "builder", root / "builder", ignore=shutil.ignore_patterns("__pycache__"))
    module = root / "builder" / "figures" / "zz_probe.py"
    module.write_text(probe(("zz-probe-a", "first title")))
    write_project(root, FRONT + "Intro.\n\n{{< chart zz-probe-a >}}\n", DEMO_BIB)
    with_experiments(root)
    serve = ServeProcess(root, code=root)
    try:
        serve.wait_for(r"built in \d+ ms \(1 chart\(s\), 1 compiled\)")
        assert b"first title" in _get(serve.port, "/charts/zz-probe-a.js")[1]
        module.write_text(probe(("zz-probe-a", "second title"), ("zz-probe-b", "new figure")))
        serve.wait_for(r"builder/figures/zz_probe\.py changed: restarting the build process")
        serve.wait_for(r"rebuilt in \d+ ms")
        assert b"second title" in _get(serve.port, "/charts/zz-probe-a.js")[1]
        index = root / "content" / "index.md"
        index.write_text(index.read_text() + "\n{{< chart zz-probe-b >}}\n")
        serve.wait_for(r"content/index\.md changed: rebuilding")
        serve.wait_for(r"rebuilt in \d+ ms \(2 chart\(s\)")
        status, body = _get(serve.port, "/charts/zz-probe-b.js")
        assert status == 200 and b"new figure" in body
        assert "unknown chart id" not in serve.output and "restart `make serve`" not in serve.output
    finally:
        serve.stop()


def test_prose_edit_rebuild_reuses_compiled_charts(make_project, registry, chart_cache):
    """The build process keeps one Builder: a prose edit re-renders the page without making or
    compiling any chart again. The page it writes holds no preview code (the server adds it)."""
    root = make_project()
    builder = Builder(root, registry=registry, cache=chart_cache)
    builder.build()
    index = root / "content" / "index.md"
    index.write_text(index.read_text() + "\nA new closing sentence.\n")
    figures_before = dict(builder.compiled)
    misses_before = builder.charts.misses
    builder.build()
    html = (root / "site" / "index.html").read_text()
    assert "A new closing sentence." in html
    assert "__preview" not in html and "EventSource" not in html
    assert all(builder.compiled[k] is v for k, v in figures_before.items())  # no figure was rebuilt
    assert builder.charts.misses == misses_before  # and no chart was recompiled


def test_a_bad_edit_keeps_the_last_good_site(make_project, registry, chart_cache):
    from builder.errors import BuildError

    root = make_project()
    builder = Builder(root, registry=registry, cache=chart_cache)
    builder.build()
    good = (root / "site" / "index.html").read_text()
    index = root / "content" / "index.md"
    index.write_text(index.read_text() + "\nSee [@nosuchkey].\n")
    with pytest.raises(BuildError, match=r'unknown citation key "nosuchkey"'):
        builder.build()
    assert (root / "site" / "index.html").read_text() == good


def _contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours (opaque)."""
    def luminance(css):
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.browser
def test_a_build_error_shows_over_the_page_until_it_is_fixed(tmp_path, chromium):
    """The open page shows a failed build's error as an alert (readable in dark mode, dismissable),
    and loses it when a fixed build reloads the page. Before, the page silently stayed stale."""
    root = with_experiments(write_project(tmp_path / "proj", FRONT + "Intro.\n\nSee [@power2022].\n", DEMO_BIB))
    index = root / "content" / "index.md"
    serve = ServeProcess(root)
    context = chromium.new_context(color_scheme="dark")
    try:
        serve.wait_for(r"built in \d+ ms")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{serve.port}/")
        page.wait_for_function("document.readyState === 'complete'")
        index.write_text(index.read_text().replace("@power2022", "@power2021"))
        alert = page.get_by_role("alert")
        alert.wait_for(timeout=120_000)
        message = 'content/index.md:6: unknown citation key "power2021" (did you mean "power2022"?)'
        assert message in alert.inner_text()
        colours = page.evaluate("""() => {
            const box = document.getElementById('builder-preview-error').shadowRoot.querySelector('[role=alert]');
            const pre = box.querySelector('pre'), style = getComputedStyle(box);
            return [getComputedStyle(pre).color, style.backgroundColor, style.position];
        }""")
        assert colours[2] == "fixed" and _contrast(colours[0], colours[1]) >= 4.5, colours
        page.get_by_role("button", name="Dismiss the build error").click()
        alert.wait_for(state="detached")
        index.write_text(index.read_text().replace("@power2021", "@power2020"))  # another error: shown again
        page.get_by_text('unknown citation key "power2020"').wait_for(timeout=120_000)
        page.keyboard.press("Escape")
        alert.wait_for(state="detached")
        index.write_text(index.read_text().replace("@power2020", "@power2022").replace("Intro.", "Fixed."))
        page.get_by_text("Fixed.").wait_for(timeout=120_000)  # the good build reloaded the page
        index.write_text(index.read_text().replace("@power2022", "@power2021"))
        alert.wait_for(timeout=120_000)
        index.write_text(index.read_text().replace("@power2021", "@power2022").replace("Fixed.", "Fixed again."))
        page.get_by_text("Fixed again.").wait_for(timeout=120_000)
        assert page.get_by_role("alert").count() == 0  # the fix took the error away
    finally:
        context.close()
        serve.stop()
