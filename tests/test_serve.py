"""`make serve`: path safety, bounded connections, Ctrl-C, live reload, and prose edits that reuse
compiled charts."""
from __future__ import annotations

import http.client
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from builder.build import Builder
from builder.serve import RELOAD_JS, PreviewServer, _rebuild, _State, resolve
from conftest import REPO, with_experiments


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
    port, _, _ = start(workers=4, backlog=8, timeout=60)  # no worker frees itself during the test
    threads = threading.active_count()
    half_open = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET / HTT")
        half_open.append(sock)
    # Connections are taken in order, so once this one is answered all 300 were: 4 are with the
    # workers, 8 wait for one, and the rest (this one too) are told at once that the server is busy.
    status, _, body = _raw(port, b"GET / HTTP/1.0\r\n\r\n")
    assert (status, body) == (503, b"server busy\n")
    assert threading.active_count() <= threads
    for sock in half_open:
        sock.close()
    for _ in range(100):  # the workers see the clients leave and take new requests again
        if _get(port, "/")[0] == 200:
            break
        time.sleep(0.1)
    assert _get(port, "/") == (200, b"<p>hello</p>")
    assert threading.active_count() <= threads


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


def test_ctrl_c_stops_serve_at_once_and_frees_the_port(tmp_path):
    # A project whose content has an error: serve reports it and goes on serving the last good site/
    # (after loading the project's figures, as a real session does).
    root = tmp_path / "proj"
    (root / "builder").mkdir(parents=True)
    (root / "content").mkdir()
    (root / "content" / "index.md").write_text("---\ntitle: T\n---\nSee [@nosuchkey].\n")
    with_experiments(root)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<p>last good</p>")
    # Ctrl-C at a terminal reaches a process whose SIGINT is at its default; a test run started in
    # the background may have passed it on ignored, so the child puts it back.
    boot = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "runpy.run_module('builder', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", boot, "--root", str(root), "serve", "--port", "0"],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        seen = ""
        while not (match := re.search(r"serving site/ on http://127\.0\.0\.1:(\d+)/", seen)):
            seen += lines.get(timeout=120)
        port = int(match.group(1))
        assert _get(port, "/") == (200, b"<p>last good</p>")
        half_open = socket.create_connection(("127.0.0.1", port))
        half_open.sendall(b"GET / HTT")
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", "/__reload")
        stream.getresponse()
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert took < 0.5, f"serve took {took:.2f} s to stop after Ctrl-C"
    assert proc.returncode == 0
    with socket.socket() as sock:  # a new `make serve` can take the port (bound as HTTPServer does)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_prose_edit_rebuild_reuses_compiled_charts(make_project, registry, chart_cache):
    root = make_project()
    builder = Builder(root, registry=registry, cache=chart_cache)
    builder.build(live_reload=RELOAD_JS)
    index = root / "content" / "index.md"
    index.write_text(index.read_text() + "\nA new closing sentence.\n")
    figures_before = dict(builder.compiled)
    misses_before = builder.charts.misses
    _rebuild(builder, {(1, str(index))}, root)
    html = (root / "site" / "index.html").read_text()
    assert "A new closing sentence." in html
    assert "EventSource('/__reload')" in html
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
        _rebuild(builder, {(1, str(index))}, root)
    assert (root / "site" / "index.html").read_text() == good


def test_a_code_edit_is_not_reloaded_but_said(make_project, registry, chart_cache, capsys):
    """serve never reloads modules (figure data come through each build's context); an edit to
    builder/*.py is named with a hint to restart, and the charts stay the ones this code made."""
    root = make_project()
    builder = Builder(root, registry=registry, cache=chart_cache)
    builder.build(live_reload=RELOAD_JS)
    figures_before = dict(builder.compiled)
    capsys.readouterr()
    _rebuild(builder, {(2, str(root / "builder" / "figures" / "mod_top.py"))}, root)
    err = capsys.readouterr().err
    assert err == ("builder/figures/mod_top.py changed: restart `make serve` to run the new code "
                   "(this preview keeps the code it started with)\n")
    assert all(builder.compiled[k] is v for k, v in figures_before.items())
