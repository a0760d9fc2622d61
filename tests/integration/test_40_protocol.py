# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 40: the HTTP/1.1 engine at the edges of the protocol -- keep-alive,
pipelining, HEAD, HTTP/1.0, Connection: close, Expect: 100-continue, chunked
request bodies, strict rejection of malformed framing (400 and close), and
unsupported versions (505). Everything goes over raw sockets.

The short sleeps below only pace a client's bytes into separate segments (so the
server's parser resumes between them); nothing waits on them: if a loaded machine
merges the pieces, the request is still whole, and every read has its deadline."""

import socket
import time

import pytest

from conftest import FIXED_TIME, IO_TIMEOUT_S, ConnClosed, build_request, query

MARS = query("/planets/mars", lat="48.93", lon="2.45", time=FIXED_TIME)
VENUS = query("/planets/venus", lat="48.93", lon="2.45", time=FIXED_TIME)
GEO_FORM = b"lat=48.93&lon=2.45"


def chunked(*parts, trailer=b""):
    """A chunked body of the given parts, with an optional trailer section."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return out + b"0\r\n" + trailer + b"\r\n"


def test_keep_alive_several_requests(server):
    with server.connect() as c:
        for i in range(5):
            c.send(build_request("GET", "/healthz"))
            r = c.read_response()
            assert r.status == 200, (i, r)
            assert r.header("Connection") is None or r.header("Connection").lower() != "close"
        c.send(build_request("GET", MARS))
        assert c.read_response().json()["name"] == "mars"


def test_pipelining_three_in_one_send(server):
    data = (build_request("GET", MARS) + build_request("GET", VENUS) +
            build_request("GET", "/healthz"))
    with server.connect() as c:
        c.send(data)  # one sendall of all three requests
        answers = [c.read_response() for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[0].json()["name"] == "mars"
    assert answers[1].json()["name"] == "venus"
    assert answers[2].json()["status"] in ("ok", "degraded")


def test_pipelining_mixed_methods_and_bodies(server):
    """GET, POST with a body, HEAD, a 404 and a GET: five answers in order."""
    data = (build_request("GET", MARS) +
            build_request("POST", "/geo_location", {"Content-Type":
                          "application/x-www-form-urlencoded"}, GEO_FORM) +
            build_request("HEAD", MARS) +
            build_request("GET", "/planets/vulcan") +
            build_request("GET", VENUS))
    with server.connect() as c:
        c.send(data)
        a = [c.read_response(m) for m in ("GET", "POST", "HEAD", "GET", "GET")]
    assert [x.status for x in a] == [200, 200, 200, 404, 200]
    assert a[0].json()["name"] == "mars"
    assert a[1].json() == {"lon": "2.45", "lat": "48.93", "elevation": 0}
    assert a[2].body == b"" and int(a[2].header("Content-Length")) == len(a[0].body)
    assert a[3].json()["error"] == "unknown_body"
    assert a[4].json()["name"] == "venus"


def test_many_pipelined_requests(server):
    n = 300
    with server.connect() as c:
        c.send(b"".join(build_request("GET", f"/planets/{'mars' if i % 2 else 'venus'}"
                                      f"?time={1700000000 + i}") for i in range(n)))
        for i in range(n):
            doc = c.read_response().json()
            assert doc["name"] == ("mars" if i % 2 else "venus")
            assert doc["time"].startswith("2023-11-14T22:")


def _pipeline_then_half_close(server, target, n):
    """Send n pipelined GETs and a FIN (shutdown SHUT_WR); count the answers."""
    with server.connect(timeout=60) as c:
        c.send(build_request("GET", target) * n)
        c.sock.shutdown(socket.SHUT_WR)
        got = 0
        try:
            while got < n:
                assert c.read_response(timeout=60).status == 200
                got += 1
        except ConnClosed:
            pass
        return got


def test_pipeline_then_half_close_small(server):
    """A client that half-closes after its requests still gets every answer."""
    assert _pipeline_then_half_close(server, "/planets/mars", 50) == 50
    assert _pipeline_then_half_close(server, "/static/css/style.css", 20) == 20


def test_pipeline_then_half_close_large(server):
    """3000 pipelined 15 KB answers (45 MB), then a FIN: all 3000 must arrive."""
    for _ in range(3):
        assert _pipeline_then_half_close(server, "/static/css/style.css", 3000) == 3000


def test_request_sent_byte_by_byte(server):
    data = build_request("GET", "/planets/moon?lat=10&lon=20")
    with server.connect() as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)  # pacing (see the module docstring)
        r = c.read_response()
    assert r.status == 200 and r.json()["name"] == "moon"


@pytest.mark.parametrize("data", [
    build_request("GET", "/planets/moon?lat=10&lon=20", [("Accept", "*/*"), ("X-A", "b")]),
    b"\r\n\r\n" + build_request("GET", "/planets/moon?lat=10&lon=20"),
    build_request("POST", "/geo_location", [("Content-Type", "application/x-www-form-urlencoded")],
                  b"lat=10&lon=20"),
], ids=["get", "leading-crlf", "post"])
def test_request_split_at_every_byte(server, data):
    """Two sends, split at each position in turn: the resumed parse must agree."""
    for i in range(1, len(data)):
        with server.connect() as c:
            c.send(data[:i])
            time.sleep(0.003)  # pacing: most of the time the server parses data[:i] alone
            c.send(data[i:])
            r = c.read_response()
            assert r.status == 200, (i, r)


@pytest.mark.parametrize("target", [MARS, "/", "/healthz", "/static/js/app.js", "/planets/vulcan"])
def test_head_matches_get(server, target):
    get = server.request("GET", target)
    with server.connect() as c:
        # HEAD then GET pipelined: a stray body after HEAD would corrupt the second answer.
        c.send(build_request("HEAD", target) + build_request("GET", "/planets/sun"))
        head = c.read_response("HEAD")
        after = c.read_response()
    assert head.status == get.status
    assert head.header("Content-Type") == get.header("Content-Type")
    # healthz carries uptime and connection count, the page the sky of the moment: their
    # lengths may vary between two answers.
    if target not in ("/healthz", "/"):
        assert head.header("Content-Length") == get.header("Content-Length")
    assert int(head.header("Content-Length")) > 0
    assert after.status == 200 and after.json()["name"] == "sun"


def test_http10_closes_by_default(server):
    with server.connect() as c:
        c.send(build_request("GET", "/healthz", version="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 200
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(IO_TIMEOUT_S)
    assert closed and extra == b""


def test_http10_keep_alive(server):
    with server.connect() as c:
        for _ in range(3):
            c.send(build_request("GET", "/healthz", {"Connection": "keep-alive"},
                                 version="HTTP/1.0"))
            r = c.read_response()
            assert r.status == 200
            assert (r.header("Connection") or "").lower() == "keep-alive"
        c.send(build_request("GET", "/healthz", version="HTTP/1.0"))
        assert c.read_response().status == 200
        closed, _ = c.wait_closed(IO_TIMEOUT_S)
        assert closed


def test_http10_without_host_is_fine(server):
    r = server.request("GET", "/healthz", version="HTTP/1.0", host=False)
    assert r.status == 200


@pytest.mark.parametrize("value", ["close", "Close", "keep-alive, close", "foo,  CLOSE ,bar"])
def test_connection_close_honoured(server, value):
    with server.connect() as c:
        # A pipelined request after the closing one must not be answered.
        c.send(build_request("GET", "/healthz", {"Connection": value}) +
               build_request("GET", "/planets/mars"))
        r = c.read_response()
        assert r.status == 200
        assert (r.header("Connection") or "").lower() == "close"
        closed, extra = c.wait_closed(IO_TIMEOUT_S)
    assert closed and extra == b""


def test_leading_empty_lines_are_ignored(server):
    r = server.raw(b"\r\n\r\n" + build_request("GET", "/healthz"))
    assert r.status == 200


def test_header_names_case_insensitive(server):
    r = server.raw(b"GET /healthz HTTP/1.1\r\nhOsT: x\r\ncOnNeCtIoN: CLOSE\r\n\r\n")
    assert r.status == 200 and r.header("Connection").lower() == "close"


def test_obs_text_in_header_value_is_accepted(server):
    r = server.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9 \x80\xff\r\n\r\n")
    assert r.status == 200


def test_duplicate_identical_content_length_is_accepted(server):
    r = server.raw(b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n"
                   b"Content-Length: 18\r\n\r\n" + GEO_FORM)
    assert r.status == 200, r


def test_body_on_get_is_skipped(server):
    """A GET with a Content-Length body: the body is consumed, not parsed as a request."""
    junk = b"GET /planets/vulcan HTTP/1.1\r\nHost: x\r\n\r\n"
    with server.connect() as c:
        c.send(build_request("GET", "/healthz", body=junk) + build_request("GET", "/planets/sun"))
        assert c.read_response().status == 200
        r = c.read_response()
        assert r.status == 200 and r.json()["name"] == "sun"


@pytest.mark.parametrize("te", ["chunked", "Chunked", "CHUNKED"])
def test_transfer_encoding_token_is_case_insensitive(server, te):
    r = server.raw(build_request("POST", "/geo_location",
                                 [("Content-Type", "application/x-www-form-urlencoded"),
                                  ("Transfer-Encoding", te)], chunked(GEO_FORM)))
    assert r.status == 200, r


def test_head_on_post_only_route_is_405_without_body(server):
    with server.connect() as c:
        c.send(build_request("HEAD", "/geo_location") + build_request("GET", "/healthz"))
        r = c.read_response("HEAD")
        assert r.status == 405 and r.body == b""
        assert "POST" in r.header("Allow")
        assert c.read_response().status == 200


# ---------------------------------------------------------------- Expect: 100-continue

def test_expect_100_continue(server):
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", "application/x-www-form-urlencoded"),
                              ("Content-Length", str(len(GEO_FORM))),
                              ("Expect", "100-continue")]))
        interim = c.read_response()  # before any body byte is sent
        assert interim.status == 100
        assert interim.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n")
        c.send(GEO_FORM)
        final = c.read_response("POST")
        assert final.status == 200
        assert final.json() == {"lon": "2.45", "lat": "48.93", "elevation": 0}
        # The connection stays usable, and the next request gets no stray 100.
        c.send(build_request("GET", "/healthz"))
        assert c.read_response().status == 200


def test_expect_100_continue_body_already_sent(server):
    """With the body in the same packet, the final answer must still come (a 100 may precede it)."""
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", "application/x-www-form-urlencoded"),
                              ("Expect", "100-continue")], GEO_FORM))
        r = c.read_response("POST")
        if r.status == 100:
            r = c.read_response("POST")
        assert r.status == 200


def test_expect_100_continue_chunked(server):
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", "application/x-www-form-urlencoded"),
                              ("Transfer-Encoding", "chunked"), ("Expect", "100-continue")]))
        assert c.read_response().status == 100
        c.send(chunked(b"lat=48.93", b"&lon=2.45"))
        r = c.read_response("POST")
        assert r.status == 200 and r.json()["lat"] == "48.93"


def test_expect_100_continue_in_http10_is_ignored(server):
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", "application/x-www-form-urlencoded"),
                              ("Content-Length", str(len(GEO_FORM))), ("Expect", "100-continue")],
                             version="HTTP/1.0"))
        # The client waits a moment before its body, as one expecting a 100 would. A
        # wrong 100 is the first response read whenever it comes, before or after the
        # body: the sleep only gives it the chance to come first, nothing waits on it.
        time.sleep(0.3)
        c.send(GEO_FORM)
        r = c.read_response("POST")
        assert r.status == 200, r  # no interim answer to an HTTP/1.0 client


def test_expect_100_continue_too_large_gets_413_not_100(server):
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Length", str(2 * 1024 * 1024)),
                              ("Expect", "100-continue")]))
        r = c.read_response("POST")
        assert r.status == 413


# ---------------------------------------------------------------- chunked request bodies

@pytest.mark.parametrize("body", [
    chunked(GEO_FORM),
    chunked(b"lat=48", b".93&lo", b"n=2.45"),
    chunked(b"lat=48.93", b"&lon=2.45", trailer=b"X-Trailer: yes\r\n"),
    b"4;ext=1\r\nlat=\r\n0E ; name=\"v\"\r\n48.93&lon=2.45\r\n0\r\n\r\n",
    b"0000004\r\nlat=\r\nE\r\n48.93&lon=2.45\r\n0\r\n\r\n",
], ids=["one-chunk", "three-chunks", "trailer", "extensions", "leading-zeros"])
def test_chunked_body_is_decoded(server, body):
    head = build_request("POST", "/geo_location",
                         [("Content-Type", "application/x-www-form-urlencoded"),
                          ("Transfer-Encoding", "chunked")])
    with server.connect() as c:
        c.send(head + body + build_request("GET", "/healthz"))
        r = c.read_response("POST")
        assert r.status == 200, r
        assert r.json() == {"lon": "2.45", "lat": "48.93", "elevation": 0}
        assert c.read_response().status == 200  # framing ended exactly where it should


def test_chunked_body_sent_in_pieces(server):
    head = build_request("POST", "/geo_location",
                         [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    body = chunked(b'{"lat": "48.93",', b' "lon": "2.45"}')
    with server.connect() as c:
        c.send(head)
        for i in range(0, len(body), 3):
            c.send(body[i:i + 3])
            time.sleep(0.005)  # pacing (see the module docstring)
        r = c.read_response("POST")
    assert r.status == 200
    assert r.json() == {"lon": "2.45", "lat": "48.93", "elevation": 0}


@pytest.mark.parametrize("body", [
    b"zz\r\nlat=1\r\n0\r\n\r\n",              # not hex
    b"3\r\nlat=48.93\r\n0\r\n\r\n",           # data longer than the size
    b"\r\nlat\r\n0\r\n\r\n",                  # empty size
    b"-1\r\nx\r\n0\r\n\r\n",                  # sign
    b"1 2\r\nx\r\n0\r\n\r\n",                 # space inside the size
    b"fffffffffffffffffffff\r\n",             # overflow
    b"3\nlat\n0\n\n",                         # bare LF
    b"3;" + b"e" * 5000 + b"\r\nlat\r\n0\r\n\r\n",  # size line over 4096 bytes
    b"0\r\nX-T: " + b"t" * 17000 + b"\r\n\r\n",  # trailer section over 16384 bytes
    b"0\r\n X-T: folded\r\n\r\n",              # obs-fold in the trailer
    b"3\r\nlat\r\n0\r\nX-T\r\n\r\n",          # trailer line without a colon
], ids=["not-hex", "size-mismatch", "empty-size", "sign", "space", "overflow", "bare-lf",
        "long-size-line", "long-trailer", "trailer-fold", "trailer-no-colon"])
def test_bad_chunked_body_is_400_and_close(server, body):
    data = build_request("POST", "/geo_location", [("Transfer-Encoding", "chunked")]) + body
    with server.connect() as c:
        c.send(data)
        r = c.read_response("POST")
        assert r.status == 400, r
        closed, _ = c.wait_closed(IO_TIMEOUT_S)
        assert closed
    server.assert_serving()


# ---------------------------------------------------------------- malformed heads

MALFORMED = {
    "cl-and-te": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" + GEO_FORM,
    "te-and-cl": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                 b"Content-Length: 18\r\n\r\n" + GEO_FORM,
    "two-content-lengths": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n"
                           b"Content-Length: 17\r\n\r\n" + GEO_FORM,
    "content-length-list": b"POST /geo_location HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 18, 18\r\n\r\n" + GEO_FORM,
    "content-length-sign": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: +18\r\n"
                           b"\r\n" + GEO_FORM,
    "content-length-hex": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 0x12\r\n"
                          b"\r\n" + GEO_FORM,
    "content-length-empty": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
    "te-gzip": b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "te-chunked-twice": b"POST /geo_location HTTP/1.1\r\nHost: x\r\n"
                        b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te-in-http10": b"POST /geo_location HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "obs-fold": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n",
    "obs-fold-tab": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n",
    "bare-cr-in-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "bare-cr-line-end": b"GET /healthz HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n",
    "bare-lf-line-end": b"GET /healthz HTTP/1.1\nHost: x\n\n",
    "space-before-colon": b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
    "tab-before-colon": b"GET /healthz HTTP/1.1\r\nHost\t: x\r\n\r\n",
    "no-colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nJustAName\r\n\r\n",
    "empty-header-name": b"GET /healthz HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n",
    "bad-char-in-method": b"GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-char-in-method-2": b"G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-char-in-header-name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX(Y): 1\r\n\r\n",
    "bad-char-in-header-name-2": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX\"Y: 1\r\n\r\n",
    "nul-in-header-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "del-in-header-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
    "missing-host": b"GET /healthz HTTP/1.1\r\nAccept: */*\r\n\r\n",
    "two-hosts": b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "no-version": b"GET /healthz\r\nHost: x\r\n\r\n",
    "lowercase-version": b"GET /healthz http/1.1\r\nHost: x\r\n\r\n",
    "two-spaces": b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "space-in-target": b"GET /health z HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-form-userinfo": b"GET http://u@x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute-form-ftp": b"GET ftp://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "host-not-an-authority": b"GET /healthz HTTP/1.1\r\nHost: bad host\r\n\r\n",
    "asterisk-with-get": b"GET * HTTP/1.1\r\nHost: x\r\n\r\n",
    "control-in-target": b"GET /heal\x01thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "high-byte-in-target": b"GET /heal\xffthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "trailing-space-version": b"GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_request_is_400_and_closed(server, data):
    with server.connect() as c:
        c.send(data + build_request("GET", "/healthz"))  # must never be answered
        r = c.read_response()
        assert r.status == 400, r
        assert (r.header("Connection") or "").lower() == "close"
        assert r.json()["error"]
        closed, extra = c.wait_closed(IO_TIMEOUT_S)
    assert closed, "the connection stays open after a malformed request"
    assert extra == b"", f"something was answered after the 400: {extra[:200]!r}"
    server.assert_serving()


# HTTP/1.2 and later 1.x are served as 1.1 (RFC 9110 §2.5): test_85_engine.py.
@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"])
def test_unsupported_version_is_505(server, version):
    with server.connect() as c:
        c.send(f"GET /healthz {version}\r\nHost: x\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 505, r
        closed, _ = c.wait_closed(IO_TIMEOUT_S)
        assert closed


def test_http2_preface_is_rejected(server):
    with server.connect() as c:
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        data = c.read_until_close(10)
    assert data == b"" or data.startswith((b"HTTP/1.1 4", b"HTTP/1.1 505")), data[:200]


def test_options_asterisk(server):
    """OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7): 204 with Allow."""
    r = server.raw(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 204, r
    assert {m.strip() for m in r.header("Allow").split(",")} >= {"GET", "HEAD", "OPTIONS"}, r
