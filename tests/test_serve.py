"""`make serve`: path safety, live reload, and prose edits that reuse compiled charts."""
from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest

from builder.build import Builder
from builder.serve import RELOAD_JS, _rebuild, _State, make_handler, resolve
import http.server


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


@pytest.fixture
def server(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>hello</p>")
    (tmp_path / "secret.txt").write_text("private")
    state = _State()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(site, state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], state
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
    assert status == 403 and b"private" not in body


def test_reload_event_after_a_rebuild(server):
    port, state = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/__reload")
    resp = conn.getresponse()
    assert resp.getheader("Content-Type") == "text/event-stream"
    threading.Timer(0.3, state.bump).start()
    assert resp.readline() == b"data: reload\n"


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
