# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 50: live push. GET /planets/stream (Server-Sent Events over a chunked
body) and GET /ws (RFC 6455 WebSocket with a small JSON protocol): response
heads and the handshake, the first message at once then one per interval on
wall-clock seconds, positions equal to GET /planets for the same instant,
observers from the query, the session or Greenwich, parameter errors, the
"observe" message and its errors on a connection that stays usable, ping/pong,
the close handshake, every protocol violation with its close code, the message
size limit crossed by one byte, fragmented messages, the subscriber gauge of
/metrics, idle keep-alive comments and a graceful SIGTERM (final "bye" event,
terminated chunked body, close frame 1001).

Ticks are one second: checks that need several ticks share connections, and the
15 s keep-alive check reads a stream opened when this module starts.

Timing is checked so that a slow machine cannot fail it: every read has a generous
deadline (IO_TIMEOUT_S); "answered at once, not at the next tick" is told by the
answer's label (the second it is computed for) against the moment the client got
the server's reply to the same request (the response head, a pong), not by a
latency; arrival bounds are lower bounds (not before the second), the upper one
only for the fastest of several pushes."""

import datetime
import json
import math
import socket
import struct
import threading
import time

import pytest

from conftest import (BODIES, GREENWICH, IO_TIMEOUT_S, WS_BINARY, WS_CLOSE, WS_CONT, WS_PING,
                      WS_PONG, WS_TEXT, ConnClosed, Server, StreamEnded, WsClient, build_request,
                      query, wait_for, ws_accept, ws_close_payload, ws_frame, ws_handshake_headers)

FORM = "application/x-www-form-urlencoded"
PARIS = (48.93, 2.45)
NUMERIC = ("az", "alt", "ra", "dec", "distance_au")
GAUGE = "planettracker_live_subscribers"


def unix(iso):
    """Seconds since the epoch of the "time" member ("2024-03-20T22:00:00.000Z")."""
    dt = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def whole_second(iso):
    t = unix(iso)
    assert t == math.floor(t), f"a push is not on a whole second: {iso}"
    return int(t)


def mid_second():
    """Wait until the wall clock is well inside a second: a subscription made just
    after a second boundary meets the clock bug of test_ws_time_never_goes_back_*.
    A sleep that aligns the scenario to the clock, not a wait for the server: if a
    loaded machine runs late after it, the checks below still hold (they compare
    labels with times measured around the exchange), they only discriminate less."""
    frac = time.time() % 1
    if not 0.2 <= frac <= 0.8:
        time.sleep((1.2 - frac) % 1)


def assert_answered_at_once(label_s, t_sent, t_reply):
    """An answer labelled label_s (whole seconds) to a request sent at t_sent was
    computed at once, not at the next tick: for a second between the sending and
    the moment the client got the server's reply to that request (t_reply)."""
    assert math.floor(t_sent) <= label_s, (label_s, t_sent)
    assert label_s <= t_reply + 0.1, \
        f"the answer waited for a tick: labelled {label_s}, reply received at {t_reply:.3f}"


def assert_pushed_on_its_second(pushes):
    """pushes: (label_s, arrived) of tick pushes. None before its second; the
    fastest within half a second of it (one slow delivery proves nothing)."""
    for label, arrived in pushes:
        assert arrived - label >= -0.1, ("pushed before its second", label, arrived)
    assert min(arrived - label for label, arrived in pushes) < 0.5, pushes


def assert_same_as_rest(server, doc, lat, lon, elevation=0, names=None):
    """doc (a pushed sky) holds the bodies of GET /planets for its own instant."""
    want = server.get_json(query("/planets", lat=lat, lon=lon, elevation=elevation,
                                 time=doc["time"]))
    got_names = [b["name"] for b in doc["bodies"]]
    names = names or BODIES
    assert got_names == [n for n in BODIES if n in names], got_names
    ref = {b["name"]: b for b in want["bodies"]}
    for body in doc["bodies"]:
        for k in NUMERIC:
            assert abs(body[k] - ref[body["name"]][k]) <= 1e-7, \
                (doc["time"], body["name"], k, body[k], ref[body["name"]][k])
        assert body["above_horizon"] == ref[body["name"]]["above_horizon"]
        # The next events: the push keeps them (and their text) from the observer's first
        # tick, GET /planets searches from its own instant; both refine to 0.1 s.
        assert body["status"] == ref[body["name"]]["status"], (doc["time"], body["name"])
        for k in ("rise", "transit", "set"):
            a, b = body[k], ref[body["name"]][k]
            assert (a is None) == (b is None), (doc["time"], body["name"], k, a, b)
            if a is not None:
                assert abs(unix(a) - unix(b)) <= 0.1, (doc["time"], body["name"], k, a, b)


def assert_observer(doc, lat, lon, elevation, source):
    obs = doc["observer"]
    assert (obs["lat"], obs["lon"], obs["elevation"], obs["source"]) == \
        (pytest.approx(lat), pytest.approx(lon), pytest.approx(elevation), source), obs


def session_cookie(server, lat, lon, elevation):
    r = server.request("POST", "/geo_location", [("Content-Type", FORM)],
                       f"lat={lat}&lon={lon}&elevation={elevation}")
    assert r.status == 200, r
    for sc in r.header_all("Set-Cookie"):
        first = sc.split(";")[0].strip()
        if first.startswith("pt_session="):
            return first
    raise AssertionError(f"no session cookie in {r.headers!r}")


class IdleStream:
    """An event stream read by a thread of its own from the start, so that each
    block's arrival time is when it came, however long the tests in between take
    (bytes left in the socket until the last test would all "arrive" then)."""

    def __init__(self, reader):
        self.reader = reader
        self.blocks = []   # SseEvent, in order
        self.error = None  # how the reading ended
        self.thread = threading.Thread(target=self._run, name="idle-stream", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while True:
                self.blocks.append(self.reader.next_block(timeout=3600))
        except Exception as e:  # noqa: BLE001 -- closed at the end of the module, or a failure
            self.error = e

    def block(self, i, timeout):
        """The i-th block (0-based), waited for until timeout."""
        def got():
            if len(self.blocks) > i:
                return self.blocks[i]
            if self.error is not None:
                raise AssertionError(f"the idle stream ended after {len(self.blocks)} blocks: "
                                     f"{self.error!r}")
            return None
        return wait_for(got, f"block {i} of the idle stream", timeout)

    def close(self):
        try:
            self.reader.conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        except OSError:
            pass
        self.thread.join(IO_TIMEOUT_S)
        self.reader.close()


@pytest.fixture(scope="module", autouse=True)
def idle_stream(server):
    """An interval=60 stream opened when the module starts, checked by the last
    test of the module: after 15 s of silence it must carry a keep-alive comment."""
    stream = IdleStream(server.open_sse(query("/planets/stream", interval=60, bodies="sun")))
    try:
        yield stream
    finally:
        stream.close()


# ---------------------------------------------------------------- SSE

def test_sse_head_first_event_and_ticks(server):
    lat, lon, elev = 35.5, -120.25, 120
    mid_second()
    t_sent = time.time()
    with server.open_sse(query("/planets/stream", lat=lat, lon=lon, elevation=elev, interval=1,
                               bodies="mars,venus")) as s:
        r = s.response
        assert r.version == "HTTP/1.1" and r.status == 200
        assert r.header("Content-Type").split(";")[0].strip() == "text/event-stream"
        # private: a stream depends on the session (an owner's streams carry their sites).
        assert r.header("Cache-Control") == "no-cache, private"
        assert r.header("X-Accel-Buffering") == "no"
        assert r.header("Transfer-Encoding").lower() == "chunked"
        assert r.header("Content-Length") is None

        t_head = s.last_recv  # the head was received by then
        first = s.next_block()
        assert first.retry == "2000" and first.event is None and first.data is None, first
        ev0 = s.next_block()
        assert ev0.event == "positions", ev0
        doc0 = ev0.json()
        t0 = whole_second(doc0["time"])
        assert_answered_at_once(t0, t_sent, t_head)
        assert_observer(doc0, lat, lon, elev, "query")
        assert_same_as_rest(server, doc0, lat, lon, elev, ["mars", "venus"])

        ticks = [s.next_block() for _ in range(2)]
    for k, ev in enumerate(ticks, 1):
        assert ev.event == "positions", ev
        doc = ev.json()
        t = whole_second(doc["time"])
        assert t == t0 + k, [e.json()["time"] for e in [ev0] + ticks]
    # Pushed on the wall-clock second it is labelled with.
    assert_pushed_on_its_second([(whole_second(e.json()["time"]), e.arrived) for e in ticks])
    assert_same_as_rest(server, ticks[-1].json(), lat, lon, elev, ["mars", "venus"])
    assert s.chunks >= 4 and not s.ended


def test_sse_interval_and_observer_sources(server):
    """Four streams at once: interval=2, Greenwich, the session's observer, and a
    query that wins over the session."""
    cookie = session_cookie(server, -33.86, 151.21, 58)
    mid_second()
    every2 = server.open_sse(query("/planets/stream", lat=PARIS[0], lon=PARIS[1], interval=2,
                                   bodies="moon"))
    default = server.open_sse("/planets/stream")
    session = server.open_sse("/planets/stream?bodies=sun,moon", [("Cookie", cookie)])
    override = server.open_sse(query("/planets/stream", lat=10, lon=20), [("Cookie", cookie)])
    try:
        d = default.next_event().json()
        assert_observer(d, GREENWICH[0], GREENWICH[1], 0, "default")
        assert [b["name"] for b in d["bodies"]] == BODIES
        d = session.next_event().json()
        assert_observer(d, -33.86, 151.21, 58, "session")
        assert_same_as_rest(server, d, -33.86, 151.21, 58, ["sun", "moon"])
        assert_observer(override.next_event().json(), 10, 20, 0, "query")

        times = [whole_second(every2.next_event().json()["time"]) for _ in range(2)]
        assert times[1] - times[0] == 2, times
    finally:
        for s in (every2, default, session, override):
            s.close()


@pytest.mark.parametrize("params, parameter", [
    ({"interval": "0"}, "interval"),
    ({"interval": "61"}, "interval"),
    ({"interval": "1.5"}, "interval"),
    ({"interval": "-1"}, "interval"),
    ({"interval": "abc"}, "interval"),
    ({"interval": ""}, "interval"),
    ({"lat": "91", "lon": "0"}, "lat"),
    ({"lat": "10", "lon": "181"}, "lon"),
    ({"lat": "10"}, "lon"),
    ({"lat": "10", "lon": "20", "elevation": "10001"}, "elevation"),
], ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else v)
def test_sse_bad_parameter_is_400(server, params, parameter):
    r = server.get(query("/planets/stream", **params))
    assert r.status == 400, r
    doc = r.json()
    assert doc["error"] == "invalid_parameter" and doc["parameter"] == parameter, doc
    assert parameter in doc["message"], doc


@pytest.mark.parametrize("bodies", ["pluto,xyz", "xyz", "", "mars,", "mars,,venus"])
def test_sse_bad_bodies_is_400(server, bodies):
    r = server.get(query("/planets/stream", bodies=bodies))
    assert r.status == 400, r
    doc = r.json()
    assert doc["error"] == "invalid_parameter" and "bodies" in doc["message"], doc


def test_sse_bad_bodies_names_the_parameter(server):
    doc = server.get("/planets/stream?bodies=pluto,xyz").json()
    assert doc.get("parameter") == "bodies", doc


def test_sse_interval_limits_are_accepted(server):
    for interval in (1, 60):
        with server.open_sse(query("/planets/stream", interval=interval, bodies="sun")) as s:
            assert s.next_event().json()["bodies"][0]["name"] == "sun"


def test_sse_http10_is_close_delimited(server):
    with server.open_sse("/planets/stream?bodies=jupiter", version="HTTP/1.0") as s:
        assert s.response.header("Transfer-Encoding") is None
        assert s.response.header("Content-Length") is None
        assert s.next_block().retry == "2000"
        doc = s.next_event().json()
        assert [b["name"] for b in doc["bodies"]] == ["jupiter"]


def test_sse_head_request_has_no_body(server):
    with server.connect() as c:
        c.send(build_request("HEAD", "/planets/stream") + build_request("GET", "/healthz"))
        head = c.read_response("HEAD", 5)
        assert head.status == 200
        try:
            nxt = c.read_response("GET")  # must be the answer to GET /healthz
        except (TimeoutError, AssertionError):
            pytest.fail(f"not a response after the HEAD head: {bytes(c.buf[:80])!r}")
        assert nxt.status == 200 and nxt.json()["status"] in ("ok", "degraded"), nxt


# ---------------------------------------------------------------- WebSocket

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_ws_accept_helper_matches_the_rfc_example():
    assert ws_accept(RFC_KEY) == RFC_ACCEPT


def test_ws_handshake_first_message_and_ticks(server):
    mid_second()
    t_sent = time.time()
    with server.open_ws(query("/ws", lat=PARIS[0], lon=PARIS[1]), key=RFC_KEY) as w:
        t_head = time.time()  # the 101 was received by then
        r = w.response
        assert r.header("Sec-WebSocket-Accept") == RFC_ACCEPT
        assert r.header("Sec-WebSocket-Protocol") is None
        assert r.header("Sec-WebSocket-Extensions") is None
        assert r.header("Content-Length") is None and r.header("Transfer-Encoding") is None
        f = w.recv_frame()
        assert f.opcode == WS_TEXT and f.fin
        doc = f.json()
        assert doc["type"] == "positions"
        t0 = whole_second(doc["time"])
        assert_answered_at_once(t0, t_sent, t_head)
        assert_observer(doc, PARIS[0], PARIS[1], 0, "query")
        assert_same_as_rest(server, doc, PARIS[0], PARIS[1])

        pushes = []
        for k in (1, 2):
            tick = w.recv_json("positions")
            pushes.append((whole_second(tick["time"]), time.time()))
            assert pushes[-1][0] == t0 + k, (doc["time"], tick["time"])
        assert_pushed_on_its_second(pushes)
        assert not w.skipped


def test_ws_defaults_to_the_session_then_greenwich(server):
    cookie = session_cookie(server, 64.15, -21.94, 30)
    with server.open_ws(headers=[("Cookie", cookie)]) as a, server.open_ws() as b:
        assert_observer(a.recv_json("positions"), 64.15, -21.94, 30, "session")
        assert_observer(b.recv_json("positions"), GREENWICH[0], GREENWICH[1], 0,
                        "default")


def _handshake(drop=(), replace=None, add=()):
    h = [(k, v) for k, v in ws_handshake_headers(RFC_KEY) if k not in drop]
    h = [(k, (replace or {}).get(k, v)) for k, v in h]
    return h + list(add)


@pytest.mark.parametrize("name, method, headers, version, status, words", [
    ("no-key", "GET", _handshake(drop=("Sec-WebSocket-Key",)), "HTTP/1.1", 400,
     "Sec-WebSocket-Key"),
    ("short-key", "GET", _handshake(replace={"Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="}),
     "HTTP/1.1", 400, "16 bytes"),
    ("key-17-bytes", "GET", _handshake(replace={"Sec-WebSocket-Key":
                                                "dGhlIHNhbXBsZSBub25jZSE="}),
     "HTTP/1.1", 400, "16 bytes"),
    ("key-not-base64", "GET", _handshake(replace={"Sec-WebSocket-Key":
                                                  "dGhlIHNhbXBsZSBub25jZ*=="}),
     "HTTP/1.1", 400, "16 bytes"),
    ("two-keys", "GET", _handshake(add=[("Sec-WebSocket-Key", RFC_KEY)]), "HTTP/1.1", 400,
     "repeated"),
    ("no-upgrade", "GET", _handshake(drop=("Upgrade",)), "HTTP/1.1", 400, "Upgrade"),
    ("upgrade-h2c", "GET", _handshake(replace={"Upgrade": "h2c"}), "HTTP/1.1", 400, "Upgrade"),
    ("no-connection", "GET", _handshake(drop=("Connection",)), "HTTP/1.1", 400, "Connection"),
    ("connection-keep-alive", "GET", _handshake(replace={"Connection": "keep-alive"}),
     "HTTP/1.1", 400, "Connection"),
    ("no-version", "GET", _handshake(drop=("Sec-WebSocket-Version",)), "HTTP/1.1", 400,
     "Version"),
    ("http10", "GET", _handshake(), "HTTP/1.0", 400, "HTTP/1.1"),
    ("with-body", "GET", _handshake(add=[("Content-Length", "2")]), "HTTP/1.1", 400, "body"),
])
def test_ws_bad_handshake_is_400(server, name, method, headers, version, status, words):
    body = b"{}" if name == "with-body" else None
    with server.connect() as c:
        c.send(build_request(method, "/ws", headers, body, version=version))
        r = c.read_response(method, 5)
        assert r.status == status, r
        assert r.header("Sec-WebSocket-Accept") is None
        doc = r.json()
        assert doc["error"] == "bad_handshake" and words in doc["message"], doc
        if version == "HTTP/1.1":
            # An ordinary answer: the connection serves the next request.
            c.send(build_request("GET", "/healthz"))
            assert c.read_response("GET").status == 200


@pytest.mark.parametrize("version", ["12", "8", "14", "13, 8"])
def test_ws_other_version_is_426(server, version):
    r = server.get("/ws", _handshake(replace={"Sec-WebSocket-Version": version}))
    assert r.status == 426, r
    assert r.header("Sec-WebSocket-Version") == "13"
    assert r.json()["error"] == "upgrade_required"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_ws_other_method_is_refused(server, method):
    r = server.request(method, "/ws", _handshake(), body=b"")
    assert r.status == 405, r
    assert r.header("Sec-WebSocket-Accept") is None
    assert "GET" in (r.header("Allow") or r.json()["message"])


def test_ws_handshake_tokens_are_case_insensitive_lists(server):
    headers = _handshake(replace={"Upgrade": "WebSocket", "Connection": "keep-alive, UPGRADE"})
    with server.connect() as c:
        c.send(build_request("GET", "/ws", headers))
        r = c.read_response("GET")
        assert r.status == 101 and r.header("Sec-WebSocket-Accept") == RFC_ACCEPT, r


def test_ws_observe_answers_at_once_then_at_its_interval(server):
    with server.open_ws() as w:
        w.recv_json("positions")
        mid_second()
        t_sent = time.time()
        # A ping in the same segment: its pong is the server's reply to this read.
        w.send(ws_frame(WS_TEXT, json.dumps({"type": "observe", "lat": "48:30:00", "lon": -3.25,
                                              "elevation": "250", "bodies": ["saturn", "sun"],
                                              "interval": 2})) +
               ws_frame(WS_PING, b"observed"))
        while True:
            f = w.recv_frame()
            if f.opcode == WS_PONG:
                break
            w.skipped.append(f)
        t_pong = time.time()
        assert f.payload == b"observed"
        answers = [m for m in (x.json() for x in w.skipped if x.opcode == WS_TEXT)
                   if m["type"] == "positions" and m["observer"]["lat"] == 48.5]
        now = answers[0] if answers else \
            w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 48.5)
        assert_answered_at_once(whole_second(now["time"]), t_sent, t_pong)
        assert_observer(now, 48.5, -3.25, 250, "query")
        assert_same_as_rest(server, now, 48.5, -3.25, 250, ["sun", "saturn"])
        # The next push is one interval after the answer, not at the next second.
        nxt = w.recv_json("positions")
        assert whole_second(nxt["time"]) - whole_second(now["time"]) == 2, (now["time"],
                                                                            nxt["time"])
        assert_observer(nxt, 48.5, -3.25, 250, "query")
        assert [b["name"] for b in nxt["bodies"]] == ["sun", "saturn"]
        # A string list of bodies is accepted too, and the interval can change again.
        mid_second()
        w.send_json({"type": "observe", "lat": -10, "lon": 100, "bodies": "moon,mars",
                     "interval": 1})
        m = w.recv_json("positions", where=lambda m: m["observer"]["lat"] == -10)
        assert [b["name"] for b in m["bodies"]] == ["moon", "mars"]
        b = w.recv_json("positions")
        assert whole_second(b["time"]) - whole_second(m["time"]) == 1
        assert b["observer"]["lat"] == -10


BAD_MESSAGES = [
    ("{", None),
    ("", None),
    ("[1, 2]", "type"),
    ('"observe"', None),
    ('{"lat": 1, "lon": 2}', "type"),
    ('{"type": 7}', "type"),
    ('{"type": "subscribe"}', "type"),
    ('{"type": "observe", "type": "observe", "lat": 1, "lon": 2}', None),
    ('{"type": "observe", "lon": 2}', "lat"),
    ('{"type": "observe", "lat": 2}', "lon"),
    ('{"type": "observe", "lat": 90.5, "lon": 2}', "lat"),
    ('{"type": "observe", "lat": "north", "lon": 2}', "lat"),
    ('{"type": "observe", "lat": null, "lon": 2}', "lat"),
    ('{"type": "observe", "lat": 1, "lon": -180.5}', "lon"),
    ('{"type": "observe", "lat": 1, "lon": 2, "elevation": 10001}', "elevation"),
    ('{"type": "observe", "lat": 1, "lon": 2, "elevation": "high"}', "elevation"),
    ('{"type": "observe", "lat": 1, "lon": 2, "bodies": ["pluto", "xyz"]}', "bodies"),
    ('{"type": "observe", "lat": 1, "lon": 2, "bodies": []}', "bodies"),
    ('{"type": "observe", "lat": 1, "lon": 2, "bodies": [3]}', "bodies"),
    ('{"type": "observe", "lat": 1, "lon": 2, "bodies": "mars,"}', "bodies"),
    ('{"type": "observe", "lat": 1, "lon": 2, "interval": 0}', "interval"),
    ('{"type": "observe", "lat": 1, "lon": 2, "interval": 61}', "interval"),
    ('{"type": "observe", "lat": 1, "lon": 2, "interval": 1.5}', "interval"),
    ('{"type": "observe", "lat": 1, "lon": 2, "interval": "x"}', "interval"),
]


def test_ws_bad_messages_get_errors_and_the_connection_stays_usable(server):
    with server.open_ws(query("/ws", lat=PARIS[0], lon=PARIS[1])) as w:
        w.recv_json("positions")
        for text, parameter in BAD_MESSAGES:
            w.send_frame(WS_TEXT, text)
            err = w.recv_json("error")
            assert isinstance(err["message"], str) and err["message"], (text, err)
            assert err.get("parameter") == parameter, (text, err)
        w.send_frame(WS_BINARY, b"\x00\x01\x02")
        err = w.recv_json("error")
        assert "binary" in err["message"], err
        # Nothing above changed the observer: the ticks are still for Paris...
        tick = w.recv_json("positions")
        assert_observer(tick, PARIS[0], PARIS[1], 0, "query")
        assert all(m.json()["observer"]["lat"] == PARIS[0] for m in w.skipped
                   if m.opcode == WS_TEXT)
        # ...and a valid message is still obeyed.
        w.send_json({"type": "observe", "lat": 1.25, "lon": 2.5})
        m = w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 1.25)
        assert_observer(m, 1.25, 2.5, 0, "query")


@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125))],
                         ids=["empty", "text", "125-bytes"])
def test_ws_ping_gets_a_pong_with_the_same_payload(server, payload):
    with server.open_ws() as w:
        w.send_frame(WS_PING, payload)
        assert w.recv_opcode(WS_PONG).payload == payload
        w.send_frame(WS_PONG, b"unsolicited")  # ignored
        w.send_frame(WS_PING, b"again")
        assert w.recv_opcode(WS_PONG).payload == b"again"


@pytest.mark.parametrize("code, reason, echoed", [
    (None, "", 1000),
    (1000, "", 1000),
    (1000, "bye now", 1000),
    (1001, "", 1001),
    (4001, "app code", 4001),
    (3000, "caf\u00e9", 3000),
], ids=["no-code", "1000", "1000-reason", "1001", "4001", "3000-utf8"])
def test_ws_close_is_echoed_then_tcp_closes(server, code, reason, echoed):
    with server.open_ws() as w:
        w.recv_json("positions")
        w.send_close(code, reason)
        f = w.expect_close()
        assert f.close_code == echoed, f


# (frames to send after the handshake, close code the server must answer with)
VIOLATIONS = {
    "unmasked": (ws_frame(WS_TEXT, b"{}", mask=False), 1002),
    "rsv1": (ws_frame(WS_TEXT, b"{}", rsv=4), 1002),
    "rsv2": (ws_frame(WS_TEXT, b"{}", rsv=2), 1002),
    "rsv3": (ws_frame(WS_PING, b"", rsv=1), 1002),
    "opcode-3": (ws_frame(0x3, b""), 1002),
    "opcode-b": (ws_frame(0xB, b""), 1002),
    "lone-continuation": (ws_frame(WS_CONT, b"x"), 1002),
    "text-inside-fragmented-text": (ws_frame(WS_TEXT, b"{", fin=False) + ws_frame(WS_TEXT, b"}"),
                                    1002),
    "fragmented-ping": (ws_frame(WS_PING, b"x", fin=False), 1002),
    "ping-126-bytes": (ws_frame(WS_PING, b"x" * 126), 1002),
    "ping-16-bit-length": (ws_frame(WS_PING, b"x", length_form=16), 1002),
    "close-1-byte": (ws_frame(WS_CLOSE, b"\x03"), 1002),
    "close-code-1005": (ws_frame(WS_CLOSE, ws_close_payload(1005)), 1002),
    "close-code-1006": (ws_frame(WS_CLOSE, ws_close_payload(1006)), 1002),
    "close-code-999": (ws_frame(WS_CLOSE, ws_close_payload(999)), 1002),
    "close-code-2000": (ws_frame(WS_CLOSE, ws_close_payload(2000)), 1002),
    "close-code-5000": (ws_frame(WS_CLOSE, ws_close_payload(5000)), 1002),
    "close-reason-bad-utf8": (ws_frame(WS_CLOSE, struct.pack(">H", 1000) + b"\xff"), 1007),
    "length-msb-set": (bytes([0x81, 0xFF]) + struct.pack(">Q", 1 << 63) + b"mask", 1002),
    "text-4097-bytes": (ws_frame(WS_TEXT, b" " * 4097), 1009),
    "binary-4097-bytes": (ws_frame(WS_BINARY, b"\0" * 4097), 1009),
    "fragments-4097-bytes": (ws_frame(WS_TEXT, b" " * 4000, fin=False) +
                             ws_frame(WS_CONT, b" " * 97), 1009),
    # Refused at the header: the payload is never sent, the server does not wait.
    "header-claims-2-gib": (bytes([0x81, 0xFF]) + struct.pack(">Q", 1 << 31) + b"mask", 1009),
    "header-claims-65535": (bytes([0x81, 0xFE, 0xFF, 0xFF]) + b"mask", 1009),
    "bad-utf8": (ws_frame(WS_TEXT, b'{"type": "observe\xc3\x28"}'), 1007),
    "utf8-surrogate": (ws_frame(WS_TEXT, b'"\xed\xa0\x80"'), 1007),
    "utf8-overlong": (ws_frame(WS_TEXT, b'"\xc0\xaf"'), 1007),
    "utf8-above-10ffff": (ws_frame(WS_TEXT, b'"\xf4\x90\x80\x80"'), 1007),
    "utf8-truncated-at-end": (ws_frame(WS_TEXT, b'"\xe2\x82'), 1007),
    "utf8-split-across-fragments-bad": (ws_frame(WS_TEXT, b'"\xe2', fin=False) +
                                        ws_frame(WS_CONT, b'\x28"'), 1007),
}


@pytest.mark.parametrize("name", list(VIOLATIONS))
def test_ws_protocol_violation_closes_with_its_code(server, name):
    data, code = VIOLATIONS[name]
    with server.open_ws() as w:
        w.send(data)
        f = w.expect_close()
        assert f.close_code == code, (name, f)
        assert f.close_reason, "the close frame names the violation"
        assert all(s.opcode in (WS_TEXT, WS_PONG) for s in w.skipped), w.skipped


def test_ws_message_at_the_size_limit_is_accepted(server):
    msg = json.dumps({"type": "observe", "lat": 12.5, "lon": 34.5})
    msg += " " * (4096 - len(msg))
    assert len(msg.encode()) == 4096
    with server.open_ws() as w:
        w.send_frame(WS_TEXT, msg, length_form=64)  # a longer length form than needed is fine
        m = w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 12.5)
        assert_observer(m, 12.5, 34.5, 0, "query")
        # Split into fragments at the limit too.
        msg2 = msg.replace("12.5", "22.5")
        w.send(ws_frame(WS_TEXT, msg2[:1000], fin=False) + ws_frame(WS_CONT, msg2[1000:3000],
                                                                      fin=False) +
               ws_frame(WS_CONT, msg2[3000:]))
        w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 22.5)


def test_ws_fragmented_message_with_a_ping_between(server):
    msg = json.dumps({"type": "observe", "lat": -34.5, "lon": 151.25})
    utf8 = ("{\"type\": \"observe\", \"lat\": -33.5, \"lon\": 151.25, \"bodies\": [\"moon\"], "
            "\"note\": \"\u00e9t\u00e9 \u2609\"}").encode()
    cut1 = utf8.index(b"\xc3") + 1  # inside a two-byte sequence
    cut2 = utf8.index(b"\xe2") + 2  # inside a three-byte sequence
    with server.open_ws() as w:
        w.recv_json("positions")
        w.send(ws_frame(WS_TEXT, utf8[:cut1], fin=False) + ws_frame(WS_PING, b"between") +
               ws_frame(WS_CONT, utf8[cut1:cut2], fin=False) + ws_frame(WS_CONT, utf8[cut2:]))
        assert w.recv_opcode(WS_PONG).payload == b"between"
        m = w.recv_json("positions", where=lambda m: m["observer"]["lat"] == -33.5)
        assert [b["name"] for b in m["bodies"]] == ["moon"]
        # Fragments in separate TCP segments, an empty final fragment.
        # (pacing only: merged segments are the same message; nothing waits on it)
        w.send(ws_frame(WS_TEXT, msg[:5], fin=False))
        time.sleep(0.05)
        w.send(ws_frame(WS_CONT, msg[5:], fin=False))
        time.sleep(0.05)
        w.send(ws_frame(WS_CONT, b""))
        w.recv_json("positions", where=lambda m: m["observer"]["lat"] == -34.5)


def test_ws_frames_pipelined_with_the_handshake(server):
    """Frames in the same segment as the upgrade request are not lost."""
    frames = (ws_frame(WS_PING, b"early") +
              ws_frame(WS_TEXT, json.dumps({"type": "observe", "lat": 5.5, "lon": 6.5})))
    with server.connect() as c:
        c.send(build_request("GET", "/ws", ws_handshake_headers(RFC_KEY)) + frames)
        r = c.read_response("GET")
        assert r.status == 101
        w = WsClient(c, r)
        assert w.recv_opcode(WS_PONG).payload == b"early"
        w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 5.5)


def test_ws_time_never_goes_back_after_an_observe(server):
    with server.open_ws() as w:
        w.recv_json("positions")
        for i in range(6):  # reproduced on most ticks: 6 make a miss unlikely
            tick = w.recv_json("positions")
            w.send_json({"type": "observe", "lat": 10 + i, "lon": 20})
            m = w.recv_json("positions",
                            where=lambda m, lat=10 + i: m["observer"]["lat"] == lat)
            assert unix(m["time"]) >= unix(tick["time"]), (tick["time"], m["time"])


# ---------------------------------------------------------------- /metrics

def test_metrics_count_live_subscribers(server):
    base = server.metrics()[GAUGE]
    assert base >= 1  # the module's idle stream
    sse = [server.open_sse("/planets/stream?bodies=sun") for _ in range(3)]
    ws = [server.open_ws() for _ in range(2)]
    try:
        assert server.wait_metric(GAUGE, base + 5) == base + 5
        sse[0].close()
        sse[1].conn.sock.shutdown(2)  # SHUT_RDWR: an abrupt client
        ws[0].send_close(1000)
        ws[0].expect_close()
        assert server.wait_metric(GAUGE, base + 2) == base + 2
    finally:
        for c in sse + ws:
            c.close()
    assert server.wait_metric(GAUGE, base) == base
    m = server.metrics()
    for name in ("planettracker_live_ticks_total", "planettracker_live_messages_total",
                 "planettracker_live_deliveries_total"):
        assert m[name] > 0, name


# ---------------------------------------------------------------- shutdown

def test_sigterm_ends_every_stream_cleanly():
    """SIGTERM: a "bye" event and the last chunk on SSE (close on HTTP/1.0), a
    close frame 1001 on WebSocket, then TCP close; exit 0 with clean sanitizers."""
    srv = Server("live-sigterm", ["--idle-timeout-ms", "5000"]).start()
    result = {}
    stopper = None
    try:
        sse = srv.open_sse("/planets/stream?bodies=venus")
        sse10 = srv.open_sse("/planets/stream?bodies=venus", version="HTTP/1.0")
        ws = [srv.open_ws() for _ in range(2)]
        ws[1].send_json({"type": "observe", "lat": 1, "lon": 2})
        for s in (sse, sse10):
            s.next_event()
        for w in ws:
            w.recv_json("positions")
        assert srv.wait_metric(GAUGE, 4) == 4
        stopper = threading.Thread(target=lambda: result.setdefault("problems", srv.stop()))
        stopper.start()

        for s in (sse, sse10):
            blocks = []
            try:
                while True:
                    blocks.append(s.next_block())
            except StreamEnded:
                assert s.chunked, "an HTTP/1.0 stream has no last chunk"
                assert s.conn.read_until_close() == b""
            except ConnClosed:
                assert not s.chunked, "the chunked stream closed without its last chunk"
            assert blocks and blocks[-1].event == "bye", blocks[-3:]
            assert blocks[-1].json() == {"reason": "server shutting down"}
            assert all(b.event == "positions" for b in blocks[:-1]), blocks
        for w in ws:
            f = w.expect_close()
            assert f.close_code == 1001 and f.close_reason == "server shutting down", f
            assert all(s.opcode == WS_TEXT for s in w.skipped)
    finally:
        if stopper is not None:
            stopper.join(15)
        if srv.is_running():
            srv.proc.kill()
            srv.proc.wait()
    assert result.get("problems") == [], (result, srv.log_tail(60))


# ---------------------------------------------------------------- last: 15 s of silence

def test_sse_keep_alive_comment_when_idle(idle_stream):
    """The module's interval=60 stream: retry, one event, then ": keep-alive"
    15 s after it, before any other event."""
    assert idle_stream.block(0, IO_TIMEOUT_S).retry == "2000"
    first = idle_stream.block(1, IO_TIMEOUT_S)
    assert first.event == "positions", first
    t0 = whole_second(first.json()["time"])
    # Not before 15 s of silence (the behaviour; a slow machine only delays it), and
    # within a generous deadline, still long before the next event (60 s).
    blk = idle_stream.block(2, max(t0 + 15 + IO_TIMEOUT_S - time.time(), 0.1))
    assert blk.event is None and blk.data is None and blk.comments == ["keep-alive"], blk
    assert blk.arrived - t0 >= 14.5, blk.arrived - t0
