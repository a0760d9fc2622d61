# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 50: the page and its assets -- GET / and /static/<path> serve exactly the
files under web/ with the right MIME type, ETag and Cache-Control; conditional
GETs answer 304; unknown names are JSON 404s; path traversal never reaches a
file outside the asset set; wrong methods get 405 with an Allow header."""

import re
from pathlib import Path

import pytest

from conftest import REPO, build_request

WEB = REPO / "web"
ASSETS = sorted(p.relative_to(WEB).as_posix() for p in WEB.rglob("*") if p.is_file())
MIME = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript",
        ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json",
        ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain",
        ".webmanifest": "application/manifest+json"}


def test_assets_exist():
    assert "index.html" in ASSETS and len(ASSETS) >= 3


def build_id(server):
    m = re.search(r'"static/([0-9a-f]{12})/', server.get("/").body.decode())
    assert m, "the page does not name its assets under static/<build id>/"
    return m.group(1)


FIRST = re.compile(rb'<script type="application/json" id="pt-first-snapshot">(.*?)</script>\n  ',
                   re.S)


def test_index_is_the_page(server):
    r = server.get("/")
    assert r.status == 200
    assert r.header("Content-Type").split(";")[0].strip() == "text/html"
    # web/index.html, its assets named under the build's id (immutable URLs), with the
    # first sky inlined before its first script.
    page = (WEB / "index.html").read_bytes().replace(b'"static/',
                                                     f'"static/{build_id(server)}/'.encode())
    assert FIRST.sub(b"", r.body, count=1) == page
    assert r.header("Cache-Control") == "no-cache"


def test_index_inlines_the_first_sky(server):
    import json
    r = server.get("/?lat=-33.87&lon=151.21&time=2026-12-15T12:00:00Z")
    m = FIRST.search(r.body)
    assert m, "no first snapshot in the page"
    assert b"<" not in m.group(1)
    first = json.loads(m.group(1))
    api = server.get_json("/planets?lat=-33.87&lon=151.21&time=2026-12-15T12:00:00Z")
    assert first == api
    # A parameter the API refuses: the plain page (which says what is wrong itself).
    bad = server.get("/?lat=91&lon=0")
    assert bad.status == 200 and not FIRST.search(bad.body)
    packed = server.get("/", headers={"Accept-Encoding": "gzip"})
    import gzip
    assert packed.header("Content-Encoding") == "gzip" and FIRST.search(gzip.decompress(packed.body))


def test_versioned_assets_are_immutable_and_old_ids_still_served(server):
    bid = build_id(server)
    r = server.get(f"/static/{bid}/js/app.js")
    assert r.status == 200 and r.body == (WEB / "js/app.js").read_bytes()
    assert r.header("Cache-Control") == "public, max-age=31536000, immutable"
    # A page of an older build asks under its own id: today's file, not cached for long.
    old = server.get("/static/0123456789ab/js/app.js")
    assert old.status == 200 and old.body == r.body
    assert "immutable" not in old.header("Cache-Control")
    assert server.get(f"/static/{bid}/js/nope.js").status == 404
    assert server.get(f"/static/{bid}/../index.html").status in (400, 404)


@pytest.mark.parametrize("accept,gz", [("gzip", True), ("gzip, deflate, br", True),
                                       ("br;q=1.0, gzip;q=0.8", True), ("*", True),
                                       ("gzip;q=0", False), ("identity", False), (None, False),
                                       ("deflate", False), ("GZIP;Q=0.000", False)])
def test_text_assets_are_sent_gzipped_to_who_accepts_it(server, accept, gz):
    import gzip as gzipmod
    headers = {"Accept-Encoding": accept} if accept else None
    for name in ("js/app.js", "css/style.css", "index.html"):
        r = server.get(f"/static/{name}", headers=headers)
        assert r.status == 200
        assert r.header("Vary") == "Accept-Encoding"
        if gz:
            assert r.header("Content-Encoding") == "gzip", (name, accept)
            body = gzipmod.decompress(r.body)
            assert len(r.body) < 0.9 * len(body)
            assert r.header("ETag").endswith('-gz"')
        else:
            assert r.header("Content-Encoding") is None
            body = r.body
        want = (WEB / name).read_bytes()
        if name == "index.html":
            want = want.replace(b'"static/', f'"static/{build_id(server)}/'.encode())
        assert body == want


@pytest.mark.parametrize("name", ASSETS)
def test_static_file_served_exactly(server, name):
    r = server.get(f"/static/{name}")
    assert r.status == 200, r
    want = (WEB / name).read_bytes()
    if name == "index.html":  # its assets are named under the build's id (no inline sky here)
        want = want.replace(b'"static/', f'"static/{build_id(server)}/'.encode())
    assert r.body == want, "embedded copy differs from web/ (rebuild?)"
    ctype = r.header("Content-Type")
    want = MIME.get(Path(name).suffix, "application/octet-stream")
    assert ctype.split(";")[0].strip() == want, ctype
    if want.startswith("text/"):
        assert "charset=utf-8" in ctype.lower()
    etag = r.header("ETag")
    assert etag and re.fullmatch(r'(W/)?"[^"]+"', etag), etag
    assert r.header("Cache-Control")
    assert int(r.header("Content-Length")) == len(r.body)


def test_page_references_resolve(server):
    """Every local src/href of the page resolves (relative to /) to a 200."""
    page = server.get("/").body.decode()
    refs = set(re.findall(r'(?:src|href)="([^"#:]+)"', page))
    assert refs, "the page references no asset"
    for ref in refs:
        path = ref if ref.startswith("/") else "/" + ref.lstrip("./")
        r = server.get(path)
        assert r.status == 200, (ref, r)


@pytest.mark.parametrize("name", ["js/app.js", "css/style.css", "index.html"])
def test_conditional_get(server, name):
    first = server.get(f"/static/{name}")
    etag = first.header("ETag")
    for inm in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        r = server.get(f"/static/{name}", [("If-None-Match", inm)])
        assert r.status == 304, (inm, r)
        assert r.body == b""
        assert r.header("ETag") == etag
        assert r.header("Cache-Control") == first.header("Cache-Control")
    r = server.get(f"/static/{name}", [("If-None-Match", '"0000000000000000"')])
    assert r.status == 200 and r.body == first.body


def test_304_has_no_misleading_content_length(server):
    first = server.get("/static/js/app.js")
    r = server.get("/static/js/app.js", [("If-None-Match", first.header("ETag"))])
    assert r.status == 304
    assert r.header("Content-Length") in (None, first.header("Content-Length")), r.raw_head


def test_304_keeps_connection_usable(server):
    etag = server.get("/static/js/app.js").header("ETag")
    with server.connect() as c:
        c.send(build_request("GET", "/static/js/app.js", [("If-None-Match", etag)]) +
               build_request("GET", "/healthz"))
        assert c.read_response().status == 304
        assert c.read_response().status == 200


def test_etags_differ_between_files(server):
    tags = {server.get(f"/static/{n}").header("ETag") for n in ASSETS}
    assert len(tags) == len(ASSETS)


def test_head_static(server):
    get = server.get("/static/css/style.css")
    head = server.request("HEAD", "/static/css/style.css")
    assert head.status == 200 and head.body == b""
    assert head.header("Content-Length") == get.header("Content-Length")
    assert head.header("ETag") == get.header("ETag")


@pytest.mark.parametrize("path", ["/static/nope.js", "/static/", "/static/js/", "/static/js",
                                  "/static/JS/APP.JS", "/static/js/app.js.bak",
                                  "/static/js/app.js/", "/static/index.html/."])
def test_unknown_static_is_json_404(server, path):
    r = server.get(path)
    assert r.status == 404, r
    assert r.json()["error"]


def test_static_query_is_not_part_of_the_name(server):
    r = server.get("/static/js/app.js?v=123")
    assert r.status == 200 and r.body == (WEB / "js/app.js").read_bytes()


TRAVERSALS = [
    "/static/../src/app/main.c",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/src/app/main.c",
    "/static/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
    "/static/%2e%2e%2fsrc%2fapp%2fmain.c",
    "/static/..%2fsrc%2fapp%2fmain.c",
    "/static/..%5csrc%5capp%5cmain.c",
    "/static/..\\src\\app\\main.c",
    "/static//etc/passwd",
    "/static///etc/passwd",
    "/static/js/../../src/app/main.c",
    "/static/js/../../../etc/passwd",
    "/static/./js/app.js/../../../src/app/main.c",
    "/static/%252e%252e/src/app/main.c",
    "/static/.%2e/src/app/main.c",
    "/static/%c0%ae%c0%ae/src/app/main.c",
    "/static/%00../src/app/main.c",
    "/static/index.html%00.js",
    "/static/~/.bashrc",
    "/static/../Makefile",
    "/static/../.git/config",
    "/../src/app/main.c",
    "/%2e%2e/src/app/main.c",
    "/src/app/main.c",
    "/web/index.html",
    "/static/../web/index.html",
    "/static/%2fetc%2fpasswd",
]
SECRETS = [b"SPDX-License-Identifier: AGPL", b"root:x:0:0", b"[core]", b"#include",
           b"CFLAGS", b"<!DOCTYPE html>"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_is_refused(server, path):
    r = server.get(path)
    assert r.status in (400, 404), r
    assert r.json()["error"]
    for s in SECRETS:
        assert s not in r.body, (path, s)


def test_traversal_with_raw_socket_dot_segments(server):
    """Dot segments sent raw (clients normally collapse them before sending)."""
    for target in (b"/static/js/./app.js", b"/static/./../static/js/app.js"):
        r = server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status in (200, 400, 404)
        if r.status == 200:  # only ever the asset itself
            assert r.body == (WEB / "js/app.js").read_bytes()


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/planets/mars", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/planets/mars", {"GET", "HEAD", "OPTIONS"}),
    ("PUT", "/planets", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ("PUT", "/geo_location", {"POST", "OPTIONS"}),
    ("POST", "/static/js/app.js", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/static/nope", {"GET", "HEAD", "OPTIONS"}),
    ("PATCH", "/planets/vulcan", {"GET", "HEAD", "OPTIONS"}),
])
def test_method_not_allowed_has_allow(server, method, path, allow):
    r = server.request(method, path, body=b"" if method in ("POST", "PUT", "PATCH") else None)
    assert r.status == 405, r
    got = {m.strip() for m in r.header("Allow", "").split(",") if m.strip()}
    assert got == allow, r.header("Allow")
    assert r.json()["error"]


def test_unknown_method_on_unknown_path_is_404(server):
    r = server.request("BREW", "/coffee")
    assert r.status in (404, 405, 501)
