# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 80: hostile and broken clients. Seeded random garbage and mutated
requests (each on a fresh connection: a 4xx or a close, never a hang or a 5xx),
request smuggling shapes, connection resets at every stage, clients that stop
reading, many connections at once, deep JSON, and a graceful SIGTERM with all of
that going on. The sanitized server must survive everything and exit clean (the
fixtures check its exit status and its output for sanitizer reports)."""

import random
import socket
import struct
import threading
import time

import pytest

from conftest import (IO_TIMEOUT_S, SANITIZER_MARKERS, Server, build_request, start_server,
                      wait_for)

CONNECTIONS = "planettracker_connections"  # the /metrics gauge, counting the asking one

SEED = 20240320
FORM = "application/x-www-form-urlencoded"


def exchange(server, payload, timeout=IO_TIMEOUT_S):
    """Send payload on a fresh connection, half-close, read until the server closes."""
    with server.connect(timeout) as c:
        try:
            c.send(payload)
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before everything is sent
        try:
            return c.read_until_close(timeout)
        except TimeoutError:
            pytest.fail(f"server hung on payload {payload[:120]!r}")


def first_status(data):
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data[9:12])


def garbage_payloads(rng, n):
    alphabets = [bytes(range(256)), b"GETPOSTHEAD /?=&%:\r\n HTTP/1.1", b"\r\n", b" \t:\r\n",
                 b"abcdefghijklmnopqrstuvwxyz0123456789-"]
    for i in range(n):
        alpha = alphabets[i % len(alphabets)]
        size = rng.choice([1, 2, 7, 64, 300, 2000, 20000])
        yield bytes(rng.choice(alpha) for _ in range(size))


def test_random_garbage(server):
    rng = random.Random(SEED)
    for i, payload in enumerate(garbage_payloads(rng, 200)):
        data = exchange(server, payload)
        status = first_status(data)
        assert data == b"" or (status is not None and 400 <= status < 500) or status == 505, \
            (i, payload[:80], data[:200])
        assert server.is_running(), f"server died on garbage #{i}: {payload[:80]!r}"
    server.assert_serving()


SEEDS = [
    build_request("GET", "/planets/mars?lat=48.93&lon=2.45&time=2024-03-20T22:00:00Z"),
    build_request("POST", "/geo_location", [("Content-Type", FORM)], b"lat=48.93&lon=2.45"),
    build_request("POST", "/geo_location", [("Content-Type", "application/json")],
                  b'{"lat": "48.93", "lon": "2.45", "elevation": 10}'),
    build_request("POST", "/geo_location", [("Content-Type", FORM), ("Transfer-Encoding",
                  "chunked")], b"5\r\nlat=1\r\n6\r\n&lon=2\r\n0\r\n\r\n"),
    build_request("GET", "/static/js/app.js", [("If-None-Match", '"abc"'), ("Connection",
                  "keep-alive")]),
    build_request("GET", "/planets", [("Cookie", "pt_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAA")]),
]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2 and data:
            del data[pos:pos + rng.randint(1, 8)]
        elif op == 3:
            data[pos:pos] = rng.choice([b"\r\n", b"\r", b"\n", b":", b" ", b"%", b"\x00",
                                        b"%zz", b"\r\n\r\n", b"chunked", b"Content-Length: 9\r\n"])
        elif op == 4 and data:
            k = rng.randrange(len(data))
            data[k] = data[k] ^ (1 << rng.randrange(8))
    return bytes(data)


def test_mutated_requests(server):
    """Near-valid requests: any answer but a 5xx (505 aside) or a hang."""
    rng = random.Random(SEED + 1)
    for i in range(300):
        payload = mutate(rng, rng.choice(SEEDS))
        data = exchange(server, payload)
        status = first_status(data)
        if data:
            assert status is not None, (i, payload[:120], data[:120])
            assert status < 500 or status == 505, (i, payload, data[:300])
    server.assert_serving()


@pytest.mark.parametrize("data", [
    # CL.TE and TE.CL smuggling shapes.
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4"
    b"\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n"
    b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\n0123456789",
    b"POST /geo_location HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
], ids=["cl-te", "te-cl", "te-space-colon", "te-xchunked", "te-two", "cl-two", "cl-negative",
        "cl-space", "te-folded"])
def test_smuggling_shapes_are_refused(server, data):
    got = exchange(server, data)
    assert first_status(got) == 400, got[:200]
    assert got.count(b"HTTP/1.1 ") == 1, f"a smuggled request was answered: {got!r}"


def test_body_boundary_is_respected(server):
    """A body that looks like a request is a body, and the request after it is served."""
    body = b"lat=1&lon=2&x=GET /planets/vulcan HTTP/1.1\r\nHost: x\r\n\r\n"
    data = (build_request("POST", "/geo_location", [("Content-Type", FORM)], body) +
            build_request("GET", "/planets/sun"))
    with server.connect() as c:
        c.send(data)
        a = c.read_response("POST")
        b = c.read_response()
    assert a.status == 200 and b.status == 200 and b.json()["name"] == "sun"


def _rst_close(conn):
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.mark.parametrize("stage", ["nothing", "half-head", "half-body", "full-request",
                                   "pipelined-unread"])
def test_connection_reset_at_every_stage(server, stage):
    big = build_request("GET", "/static/css/style.css")
    payload = {
        "nothing": b"",
        "half-head": b"GET /healthz HTTP/1.1\r\nHo",
        "half-body": build_request("POST", "/geo_location", [("Content-Length", "50")]) + b"lat=",
        "full-request": build_request("GET", "/planets"),
        "pipelined-unread": big * 200,
    }[stage]
    base = server.metrics()[CONNECTIONS]
    for _ in range(5):
        c = server.connect()
        if payload:
            c.send(payload)
        if stage in ("full-request", "pipelined-unread"):
            c.wait_data()  # the server read the request and is answering: reset now
        _rst_close(c)
    # The server has seen the resets (and is still there to count them).
    wait_for(lambda: server.metrics()[CONNECTIONS] <= base,
             "the server to drop the reset connections")
    server.assert_serving()


def test_client_that_stops_reading_then_reads(server):
    """Back-pressure: 400 pipelined 15 KB answers to a client that waits before
    reading arrive complete and in order."""
    n = 400
    names = ["css/style.css", "js/app.js", "index.html", "favicon.svg"]
    with server.connect(timeout=60) as c:
        c.send(b"".join(build_request("GET", f"/static/{names[i % 4]}") for i in range(n)))
        # The client keeps quiet for a while (the scenario; the reads below wait for
        # every answer with their own deadline, whatever the server did meanwhile).
        time.sleep(1.0)
        sizes = {}
        for i in range(n):
            r = c.read_response(timeout=60)
            assert r.status == 200, (i, r)
            sizes.setdefault(names[i % 4], len(r.body))
            assert len(r.body) == sizes[names[i % 4]], i
    server.assert_serving()


def test_client_that_never_reads_then_leaves(server):
    base = server.metrics()[CONNECTIONS]
    with server.connect() as c:
        c.send(build_request("GET", "/static/css/style.css") * 500)
        c.wait_data()  # the server is answering
        time.sleep(0.5)  # and the client does not read (the scenario)
    # The server noticed the client left, with its answers unsent.
    wait_for(lambda: server.metrics()[CONNECTIONS] <= base, "the server to drop the connection")
    server.assert_serving()


def test_many_concurrent_connections(server):
    n = 200
    conns = [server.connect() for _ in range(n)]
    try:
        for i, c in enumerate(conns):
            c.send(build_request("GET", f"/planets/moon?time={1700000000 + i}"))
        for i, c in enumerate(conns):
            r = c.read_response()
            assert r.status == 200 and r.json()["name"] == "moon", i
    finally:
        for c in conns:
            c.close()
    server.assert_serving()


def test_parallel_clients(server):
    errors = []

    def worker(k):
        try:
            with server.connect() as c:
                for j in range(30):
                    c.send(build_request("GET", f"/planets/mars?lat={k}&lon={j}"))
                    r = c.read_response()
                    if r.status != 200 or r.json()["observer"]["lat"] != k:
                        errors.append((k, j, r))
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


@pytest.mark.parametrize("depth", [100, 3000, 200000])
def test_deeply_nested_json(server, depth):
    body = b'{"lat": ' + b"[" * depth + b"]" * depth + b', "lon": "2"}'
    r = server.request("POST", "/geo_location", [("Content-Type", "application/json")], body,
                       timeout=30)
    assert r.status == 400, r


def test_huge_cookie_header(server):
    cookie = "; ".join(f"c{i}={'v' * 100}" for i in range(120))  # about 13 KB
    r = server.get("/planets/mars", [("Cookie", cookie + "; pt_session=" + "A" * 500)])
    assert r.status == 200
    assert r.json()["observer"]["source"] == "default"


def test_many_repeated_query_keys(server):
    r = server.get("/planets/mars?" + "&".join(["lat=1"] * 64))
    assert r.status == 400  # lat without lon


def test_long_body_name(server):
    r = server.get("/planets/" + "x" * 8000)
    assert r.status == 404
    assert len(r.body) < 4096  # the name is not echoed in full


def test_null_bytes_everywhere(server):
    for target in ("/planets/mars%00", "/planets/%00", "/planets/mars?lat=1%00&lon=2",
                   "/%00", "/static/%00"):
        r = server.get(target)
        assert r.status in (400, 404), (target, r)


def test_sigterm_with_connections_open():
    """A fresh server: idle, half-head, silent and just-served connections at
    SIGTERM; it must exit 0 within 10 s with nothing from the sanitizers."""
    srv = Server("sigterm", ["--idle-timeout-ms", "3000", "--head-timeout-ms", "1500"]).start()
    conns = []
    try:
        idle = srv.connect()
        idle.send(build_request("GET", "/healthz"))
        assert idle.read_response().status == 200
        half = srv.connect()
        half.send(b"GET /healthz HTTP/1.1\r\nHost")
        silent = srv.connect()
        served = srv.connect()
        served.send(build_request("GET", "/static/css/style.css") * 50)
        for _ in range(50):
            assert served.read_response().status == 200
        conns = [idle, half, silent, served]
        # All four were accepted before `served` was answered. A request sent after
        # the half head was read with it or later: once answered, the server holds
        # that half head too.
        assert srv.get("/healthz").status == 200
        t0 = time.monotonic()
        problems = srv.stop()
        elapsed = time.monotonic() - t0
    finally:
        for c in conns:
            c.close()
        if srv.is_running():
            srv.proc.kill()
            srv.proc.wait()
    assert not problems, problems + [srv.log_tail(80)]
    assert elapsed < 10
    for marker in SANITIZER_MARKERS:
        assert marker not in srv.log_text()


STALLED_READER_BUG = (
    "server bug: after a head timeout on a connection whose client has stopped reading "
    "(pipelined answers over the 1 MiB high-water mark), conn.c fail() sets a new deadline "
    "but never re-arms the timer (on_timer cleared timer_due_ms), so the connection stays in "
    "HTTP_CONN_CLOSING forever: it is never closed, and a graceful SIGTERM never finishes")


def _stall(srv):
    """A client that pipelines 300 answers of 15 KB (4.5 MB) and reads none."""
    c = srv.connect()
    c.send(build_request("GET", "/static/css/style.css") * 300)
    return c


def _connections(srv):
    return srv.get_json("/healthz")["connections"] - 1  # not counting our own


def test_stalled_reader_is_closed_after_timeouts():
    srv = Server("stalled", ["--idle-timeout-ms", "3000", "--head-timeout-ms", "1500"]).start()
    c = _stall(srv)
    try:
        c.wait_data()  # served, then stalled: the server holds the connection
        # Head timeout (1.5 s) then at most the idle timeout (3 s) to flush: 4.5 s;
        # the deadline is generous, a connection that is never closed stays forever.
        wait_for(lambda: _connections(srv) == 0, "the server to close the stalled connection",
                 timeout=30, interval=0.2)
    finally:
        c.close()
        srv.stop()


def test_sigterm_with_a_stalled_reader():
    srv = Server("sigterm-stalled",
                 ["--idle-timeout-ms", "3000", "--head-timeout-ms", "1500"]).start()
    c = _stall(srv)
    try:
        c.wait_data()  # served, then stalled: SIGTERM finds the answers backed up
        problems = srv.stop()  # SIGTERM, then up to 10 s
    finally:
        c.close()
        if srv.is_running():
            srv.proc.kill()
            srv.proc.wait()
    assert not problems, problems


@pytest.mark.parametrize("target,headers", [
    ("/static/0123456789ab/js/app.js", None),
    ("/static/0123456789ab/" + "x" * 3000, None),
    ("/static/abcdefabcdef/js/app.js", [("Accept-Encoding", "gzip;q=0.000")]),
    ("/static/js/app.js", [("Accept-Encoding", "gzip;q=" + "0" * 2000)]),
    ("/static/js/app.js", [("Accept-Encoding", "br, gzip ; q = 0")]),
])
def test_static_names_and_encodings_are_read_within_the_request(request, target, headers):
    """Versioned names and Accept-Encoding weights are slices of the input buffer, not C
    strings. A strspn on them read past the buffer; ASan caught it in the browser suite
    (the page's own /static/<build id>/ URLs), not here: these requests did not make the
    old code fault (the bytes after them held a NUL). They check the same paths answer."""
    srv = start_server(request, "static-slices")
    with srv.connect() as c:
        c.send(build_request("GET", target, (headers or []) + [("X-Pad", "a" * 700)]))
        r = c.read_response()
    assert r.status in (200, 404), r
    srv.assert_serving()
