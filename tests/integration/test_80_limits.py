# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 80: every limit crossed by exactly one byte (or one item), and the
timeouts. Request head 16384 bytes (431 beyond), request target 8192 bytes (414
beyond), 64 header lines, body 1048576 bytes (413 beyond, announced or chunked),
64 query or form parameters; after each refusal a new connection is served.
Timeouts run against a second server started with --head-timeout-ms 1500
--idle-timeout-ms 3000: a half-sent head gets 408, an idle keep-alive
connection is closed after about 3 s, a silent or trickling client after about
1.5 s, and a client that keeps talking is never cut.

Timeouts are timed from before the client connects (the server cannot start its
clock earlier), so "not before the timeout" holds however slow the machine is (the
small margins are for the server's loop clock, read once per loop iteration);
"soon after it" has a generous deadline that only catches a connection never cut
(or one cut by the wrong, much longer timer). A client that must stay under a
timeout measures how long it really stayed quiet, and an attempt that a stalled
machine made too slow proves nothing and is made again."""

import select
import time

import pytest

from conftest import IO_TIMEOUT_S, ConnClosed, build_request

HEAD_TIMEOUT_S = 1.5  # timeout_server's --head-timeout-ms
IDLE_TIMEOUT_S = 3.0  # and --idle-timeout-ms
CUT_DEADLINE_S = 12.0  # a timed-out connection is cut within this (generous: a loaded machine)


def attempts(check, what, tries=5):
    """Run check() until it returns True (it returns False when the machine was
    too slow for the attempt to prove anything); fail after `tries` such attempts."""
    for _ in range(tries):
        if check():
            return
    pytest.fail(f"{tries} attempts were all too slow to check {what}")

MAX_HEAD = 16384
MAX_TARGET = 8192
MAX_BODY = 1048576
MAX_HEADERS = 64
FORM = "application/x-www-form-urlencoded"


def head_of_size(total, target="/healthz"):
    """A GET head of exactly `total` bytes (request line, headers, final CRLF)."""
    fixed = f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n"
    pad = total - len(fixed)
    assert pad >= 0
    data = f"GET {target} HTTP/1.1\r\nHost: x\r\nX-Pad: {'p' * pad}\r\n\r\n".encode()
    assert len(data) == total
    return data


def target_of_size(n):
    prefix = "/healthz?pad="
    t = prefix + "t" * (n - len(prefix))
    assert len(t) == n
    return t


def form_of_size(n):
    prefix = b"lat=48.93&lon=2.45&pad="
    body = prefix + b"b" * (n - len(prefix))
    assert len(body) == n
    return body


def expect_refusal(conn, status):
    r = conn.read_response()
    assert r.status == status, r
    assert (r.header("Connection") or "").lower() == "close"
    doc = r.json()
    assert doc["error"] and doc["message"]
    closed, _ = conn.wait_closed(10)
    assert closed, f"connection left open after {status}"
    return doc


# ---------------------------------------------------------------- sizes

def test_head_at_limit_is_accepted(server):
    r = server.raw(head_of_size(MAX_HEAD))
    assert r.status == 200, r


def test_head_at_limit_with_a_pipelined_request(server):
    """The next request already in the buffer must not count toward this head."""
    with server.connect() as c:
        c.send(head_of_size(MAX_HEAD) + build_request("GET", "/planets/sun"))
        assert c.read_response().status == 200
        r = c.read_response()
        assert r.status == 200 and r.json()["name"] == "sun"


def test_head_at_limit_in_pieces(server):
    """Resumed parsing: the head arrives in pieces and ends exactly at the limit."""
    data = head_of_size(MAX_HEAD)
    with server.connect() as c:
        cuts = [0, 5000, 12000, MAX_HEAD - 3, MAX_HEAD - 1, MAX_HEAD]
        for a, b in zip(cuts, cuts[1:]):
            c.send(data[a:b])
            time.sleep(0.02)  # pacing into separate reads (merged pieces are the same head)
        assert c.read_response().status == 200


def test_post_head_at_limit_with_body(server):
    """The body does not count toward the head limit."""
    body = b"lat=48.93&lon=2.45"
    fixed = (f"POST /geo_location HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
             f"Content-Length: {len(body)}\r\nX-Pad: \r\n\r\n")
    head = fixed.replace("X-Pad: ", "X-Pad: " + "p" * (MAX_HEAD - len(fixed))).encode()
    assert len(head) == MAX_HEAD
    r = server.raw(head + body)
    assert r.status == 200, r


def test_head_one_byte_over_is_431(server):
    with server.connect() as c:
        c.send(head_of_size(MAX_HEAD + 1))
        doc = expect_refusal(c, 431)
    assert doc.get("limit", MAX_HEAD) == MAX_HEAD
    server.assert_serving()


def test_head_far_over_is_431(server):
    with server.connect() as c:
        c.send(head_of_size(MAX_HEAD * 4))
        expect_refusal(c, 431)
    server.assert_serving()


def test_head_over_limit_in_pieces_is_431(server):
    """The limit holds however the bytes are split across reads."""
    data = head_of_size(MAX_HEAD + 1)
    with server.connect() as c:
        for i in range(0, len(data), 4000):
            c.send(data[i:i + 4000])
            time.sleep(0.01)  # pacing, as above
        expect_refusal(c, 431)


def test_target_at_limit_is_not_414(server):
    r = server.get(target_of_size(MAX_TARGET))
    assert r.status == 200, r
    r = server.get("/" + "n" * (MAX_TARGET - 1))
    assert r.status == 404, r


def test_target_one_byte_over_is_414(server):
    with server.connect() as c:
        c.send(build_request("GET", target_of_size(MAX_TARGET + 1)))
        doc = expect_refusal(c, 414)
    assert doc.get("limit", MAX_TARGET) == MAX_TARGET
    server.assert_serving()


def test_headers_count_at_limit(server):
    headers = [("Host", "x")] + [(f"X-H{i}", "v") for i in range(MAX_HEADERS - 1)]
    r = server.raw(build_request("GET", "/healthz", headers))
    assert r.status == 200, r


def test_headers_count_one_over_is_431(server):
    headers = [("Host", "x")] + [(f"X-H{i}", "v") for i in range(MAX_HEADERS)]
    with server.connect() as c:
        c.send(build_request("GET", "/healthz", headers))
        expect_refusal(c, 431)
    server.assert_serving()


def test_body_at_limit_is_accepted(server):
    body = form_of_size(MAX_BODY)
    r = server.request("POST", "/geo_location", [("Content-Type", FORM)], body, timeout=60)
    assert r.status == 200, r
    assert r.json() == {"lon": "2.45", "lat": "48.93", "elevation": 0}


def test_body_one_byte_over_is_413(server):
    with server.connect() as c:
        # Announced: the server may answer before reading any of the body.
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", FORM), ("Content-Length", str(MAX_BODY + 1))]))
        doc = expect_refusal(c, 413)
    assert doc.get("limit", MAX_BODY) == MAX_BODY
    server.assert_serving()


def test_huge_content_length_is_413_or_400(server):
    for cl in ("99999999999", "9223372036854775807", "99999999999999999999999999"):
        with server.connect() as c:
            c.send(build_request("POST", "/geo_location", [("Content-Length", cl)]))
            r = c.read_response()
            assert r.status in (400, 413), (cl, r)
            assert c.wait_closed(10)[0]
    server.assert_serving()


def _chunked(body, size=65536):
    out = bytearray()
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def test_chunked_body_at_limit_is_accepted(server):
    head = build_request("POST", "/geo_location",
                         [("Content-Type", FORM), ("Transfer-Encoding", "chunked")])
    r = server.raw(head + _chunked(form_of_size(MAX_BODY)), timeout=60)
    assert r.status == 200, r


def test_chunked_body_one_byte_over_is_413(server):
    head = build_request("POST", "/geo_location",
                         [("Content-Type", FORM), ("Transfer-Encoding", "chunked")])
    with server.connect(timeout=60) as c:
        try:
            c.send(head + _chunked(form_of_size(MAX_BODY + 1)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before the last chunk arrives
        expect_refusal(c, 413)
    server.assert_serving()


def test_query_parameter_count_limit(server):
    ok = "&".join(f"k{i}=v" for i in range(64))
    assert server.get(f"/healthz?{ok}").status == 200
    assert server.get(f"/planets/sun?{ok}").status == 200
    r = server.get(f"/planets/sun?{ok}&k64=v")
    assert r.status == 400 and r.json()["error"]


def test_form_field_count_limit(server):
    base = "lat=48.93&lon=2.45&" + "&".join(f"f{i}=v" for i in range(62))  # 64 fields
    r = server.request("POST", "/geo_location", [("Content-Type", FORM)], base)
    assert r.status == 200, r
    r = server.request("POST", "/geo_location", [("Content-Type", FORM)], base + "&f62=v")
    assert r.status == 400, r


# ---------------------------------------------------------------- timeouts

def test_half_head_gets_408(timeout_server):
    t0 = time.monotonic()
    with timeout_server.connect() as c:
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        r = c.read_response(timeout=CUT_DEADLINE_S)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        closed, _ = c.wait_closed(IO_TIMEOUT_S)
        assert closed
    assert elapsed >= HEAD_TIMEOUT_S - 0.3, elapsed
    timeout_server.assert_serving()


def test_half_body_gets_408(timeout_server):
    t0 = time.monotonic()
    with timeout_server.connect() as c:
        c.send(build_request("POST", "/geo_location",
                             [("Content-Type", FORM), ("Content-Length", "100")]) + b"lat=48.93&")
        r = c.read_response(timeout=CUT_DEADLINE_S)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert c.wait_closed(IO_TIMEOUT_S)[0]
    assert elapsed >= HEAD_TIMEOUT_S - 0.3, elapsed


def test_idle_keep_alive_is_closed(timeout_server):
    with timeout_server.connect() as c:
        t0 = time.monotonic()  # the answer cannot have been sent before this
        c.send(build_request("GET", "/healthz"))
        assert c.read_response().status == 200
        closed, data = c.wait_closed(IDLE_TIMEOUT_S + CUT_DEADLINE_S)
        elapsed = time.monotonic() - t0
    assert closed and data == b"", data
    # Idle from the answer on: at least the idle timeout, not the head timeout.
    assert elapsed >= IDLE_TIMEOUT_S - 0.5, elapsed


def test_silent_connection_is_closed(timeout_server):
    """Slowloris: connect and send nothing."""
    t0 = time.monotonic()
    with timeout_server.connect() as c:
        closed, data = c.wait_closed(CUT_DEADLINE_S)
        elapsed = time.monotonic() - t0
    assert closed
    assert data == b"" or data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert elapsed >= HEAD_TIMEOUT_S - 0.3, elapsed


def test_trickling_head_is_cut(timeout_server):
    """One byte every 0.25 s never completes a head: cut after the head timeout,
    not reset by each byte."""
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 1000
    t0 = time.monotonic()
    with timeout_server.connect() as c:
        cut = None
        for i in range(len(data)):
            try:
                c.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                cut = time.monotonic() - t0
                break
            # The pace of the scenario, and the wait for the cut in one: select()
            # returns as soon as the server answers or closes.
            ready, _, _ = select.select([c.sock], [], [], 0.25)
            if ready:
                cut = time.monotonic() - t0
                break
            if time.monotonic() - t0 > CUT_DEADLINE_S:
                break
        # Cut long before the 1000 bytes are out (250 s): the bytes do not reset the timer.
        assert cut is not None, f"the trickling client was not cut off within {CUT_DEADLINE_S} s"
        assert cut >= HEAD_TIMEOUT_S - 0.3, cut
        got = c.read_until_close()
        assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got[:100]


def test_keep_alive_survives_past_head_timeout(timeout_server):
    """Idle for 2 s (over the 1.5 s head timeout, under the 3 s idle timeout)."""
    def attempt():
        with timeout_server.connect() as c:
            c.send(build_request("GET", "/healthz"))
            t_asked = time.monotonic()  # the server's idle time starts after this...
            assert c.read_response().status == 200
            time.sleep(2.0)  # ...and lasts at least this (the scenario)
            t_next = time.monotonic()
            try:
                c.send(build_request("GET", "/healthz"))
                r = c.read_response()
            except (ConnClosed, OSError):
                r = None
            if t_next - t_asked >= IDLE_TIMEOUT_S - 0.5:
                return False  # a stalled client may have stayed idle too long: again
            assert r is not None and r.status == 200, r
            return True
    attempts(attempt, "a keep-alive connection idle between the two timeouts")


def test_busy_connection_outlives_idle_timeout(timeout_server):
    """Requests every 0.8 s for 4.8 s: the idle timeout counts idle time only."""
    def attempt():
        with timeout_server.connect() as c:
            t_asked = time.monotonic()
            for i in range(7):
                try:
                    c.send(build_request("GET", "/planets/sun"))
                    r = c.read_response()
                except (ConnClosed, OSError):
                    r = None
                if i and time.monotonic() - t_asked >= IDLE_TIMEOUT_S - 0.5:
                    return False  # a stalled client was idle too long between two: again
                t_asked = time.monotonic()
                assert r is not None and r.status == 200, (i, r)
                time.sleep(0.8)  # the client's pace (the scenario)
            return True
    attempts(attempt, "a connection asking every 0.8 s")


def test_slow_but_steady_head_within_timeout(timeout_server):
    """A head sent in pieces over 1 s (under the 1.5 s limit) is served."""
    data = build_request("GET", "/planets/mars?lat=1&lon=2")
    step = len(data) // 5 + 1

    def attempt():
        with timeout_server.connect() as c:
            t_connected = time.monotonic()  # the head timer cannot start before this
            try:
                for i in range(0, len(data), step):
                    c.send(data[i:i + step])
                    t_done = time.monotonic()
                    time.sleep(0.2)  # the client's pace (the scenario)
                r = c.read_response()
            except (ConnClosed, OSError):
                t_done, r = time.monotonic(), None
            if t_done - t_connected >= HEAD_TIMEOUT_S - 0.3:
                return False  # a stalled client took too long over the head: again
            assert r is not None and r.status == 200, r
            return True
    attempts(attempt, "a head sent in pieces within the head timeout")


@pytest.mark.parametrize("n", [50])
def test_many_silent_connections_are_all_closed(timeout_server, n):
    t0 = time.monotonic()
    conns = [timeout_server.connect() for _ in range(n)]
    try:
        for c in conns:
            left = max(0.1, CUT_DEADLINE_S - (time.monotonic() - t0))
            assert c.wait_closed(left)[0], f"a silent connection open after {CUT_DEADLINE_S} s"
        assert time.monotonic() - t0 >= HEAD_TIMEOUT_S - 0.3
    finally:
        for c in conns:
            c.close()
    timeout_server.assert_serving()
