# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 80: live push under attack and under load. 300 SSE and 50 WebSocket
subscribers on one tick (each gets it; one message per group is serialized and
shared, as /metrics proves); readers that stop reading (a WebSocket client that
floods the server with work it never reads is closed after the stall timeout,
event-stream clients that never read do not make the server's memory grow, a
healthy reader beside them misses no tick); seeded random and mutated frames;
a frame split at every byte; bytes sent up an event stream; SIGTERM with slow
readers. One server with a 1.5 s stall timeout serves the module; SIGTERM tests
start their own.

No check depends on the machine's speed: reads have generous deadlines
(IO_TIMEOUT_S), states are waited for (wait_for: the server has read what a client
sent, SIGTERM is in its log), and loops run until what they collect is complete,
not for a number of seconds."""

import calendar
import json
import os
import random
import socket
import threading
import time

import pytest

from conftest import (IO_TIMEOUT_S, WS_CLOSE, WS_PING, WS_PONG, WS_TEXT, ConnClosed, Server,
                      StreamEnded, build_request, start_server, wait_for, ws_close_payload,
                      ws_frame)

SEED = 20240321
STALL_MS = 1500
GAUGE = "planettracker_live_subscribers"
VALID_CLOSE = set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))


def asan_options(extra):
    return os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1") + ":" + extra


@pytest.fixture(scope="module")
def live_server(request):
    """Short stall timeout; a small ASan quarantine so that RSS follows live memory
    rather than the 256 MB of freed blocks ASan keeps by default. Every client here
    is 127.0.0.1, and these tests flood on purpose: the per-client caps are lifted
    (test_85_engine.py tests them)."""
    return start_server(request, "live-attacks",
                        ["--stall-timeout-ms", str(STALL_MS), "--idle-timeout-ms", "5000",
                         "--max-streams-per-client", "100000", "--max-conns-per-peer", "0",
                         "--ws-observe-rate", "100000"],
                        env={"ASAN_OPTIONS": asan_options("quarantine_size_mb=8")})


def secs(iso):
    """Whole seconds since the epoch of a "time" member."""
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))


def observe(lat, lon=0.0, **more):
    return ws_frame(WS_TEXT, json.dumps({"type": "observe", "lat": lat, "lon": lon, **more}))


# ---------------------------------------------------------------- many subscribers

def test_350_subscribers_each_get_every_tick_from_shared_messages(live_server):
    """250 identical event streams, 50 with their own observer and 50 WebSocket
    clients with their own: all of them get every tick; the 250 get the same bytes
    and the server serializes one message per group per tick."""
    srv = live_server
    assert srv.wait_metric(GAUGE, 0) == 0
    same, distinct, ws = [], [], []
    try:
        for _ in range(250):
            same.append(srv.open_sse("/planets/stream?bodies=sun,moon"))
        for i in range(50):
            distinct.append(srv.open_sse(f"/planets/stream?bodies=sun&lat={i}&lon=1"))
        for i in range(50):
            w = srv.open_ws()
            w.send(observe(-i - 0.5, 2, bodies=["mars"]))
            ws.append(w)
        assert srv.wait_metric(GAUGE, 350) == 350
        for i, w in enumerate(ws):
            w.recv_json("positions", where=lambda m, i=i: m["observer"]["lat"] == -i - 0.5)

        m1 = srv.metrics()
        target = int(time.time()) + 2  # a tick after every subscriber had its answer
        datas = []
        for i, s in enumerate(same + distinct):
            seen = []
            while not seen or seen[-1] < target:
                doc = s.next_event().json()
                seen.append(secs(doc["time"]))
            # After the first (immediate) event, one per second up to the target tick.
            assert seen[1:] == list(range(seen[1], target + 1)), (i, seen, target)
            if i < 250:
                datas.append(json.dumps(doc))
            else:
                assert doc["observer"]["lat"] == i - 250 and len(doc["bodies"]) == 1
        assert len(set(datas)) == 1, "subscribers of one group got different messages"
        for i, w in enumerate(ws):
            m = w.recv_json("positions", where=lambda m: secs(m["time"]) >= target)
            assert secs(m["time"]) == target and m["observer"]["lat"] == -i - 0.5, m
        m2 = srv.metrics()
    finally:
        for c in same + distinct + ws:
            c.close()
    ticks = m2["planettracker_live_ticks_total"] - m1["planettracker_live_ticks_total"]
    assert ticks >= 2
    # Every subscriber is due every second; one message per group of subscribers.
    assert m2["planettracker_live_deliveries_total"] - \
        m1["planettracker_live_deliveries_total"] == 350 * ticks
    assert m2["planettracker_live_messages_total"] - \
        m1["planettracker_live_messages_total"] == (1 + 50 + 50) * ticks
    assert srv.wait_metric(GAUGE, 0) == 0
    srv.assert_serving()


# ---------------------------------------------------------------- slow readers

def _flood(w, frame, count, out):
    """Send frame count times without reading; record how the server ended it."""
    sent = 0
    try:
        w.conn.sock.settimeout(10)
        batch = frame * 50
        while sent < count:
            w.send(batch)
            sent += 50
        out.append(("sent", sent))
    except (ConnectionResetError, BrokenPipeError) as e:
        out.append(("closed", sent, repr(e)))
    except socket.timeout:
        out.append(("blocked", sent))


def test_slow_readers(live_server):
    """For 10 s, 20 event-stream clients that never read, two WebSocket clients
    that send observes (2.4 KB answers each) and one that sends pings, none
    reading: every one of them is closed after the stall timeout (stream sockets
    have a small send buffer, so a write blocks within a few events), the
    server's RSS does not grow, and a healthy reader gets every tick."""
    srv = live_server
    assert srv.wait_metric(GAUGE, 0) == 0
    mark = srv.log_mark()
    m0 = srv.metrics()
    silent = [srv.open_sse("/planets/stream", rcvbuf=4096) for _ in range(20)]
    healthy = srv.open_sse("/planets/stream?bodies=moon")
    floods = [srv.open_ws(rcvbuf=4096) for _ in range(3)]
    results = [[] for _ in floods]
    threads = [threading.Thread(target=_flood, args=(floods[0], observe(1, 2), 6000, results[0])),
               threading.Thread(target=_flood, args=(floods[1], observe(3, 4), 6000, results[1])),
               threading.Thread(target=_flood, args=(floods[2], ws_frame(WS_PING, b"p" * 125),
                                                     60000, results[2]))]
    t_start = time.monotonic()
    rss = []
    times = []
    try:
        for t in threads:
            t.start()
        # 12 s of the healthy reader's ticks (by their labels, not by how fast this
        # loop runs), and until every stalled client was closed and the RSS sampled
        # 4 times since the floods were gone; a generous deadline otherwise.
        while not (times and secs(times[-1]) - secs(times[0]) >= 11 and len(rss) >= 4 and
                   srv.metrics()[GAUGE] <= 1):
            assert time.monotonic() < t_start + 60, \
                (f"after 60 s: {len(times)} ticks, {len(rss)} RSS samples, "
                 f"{srv.metrics()[GAUGE]} subscribers")
            times.append(healthy.next_event().json()["time"])
            # RSS once the floods are gone (ASan's quarantine holds what they freed).
            if srv.metrics()[GAUGE] <= 21:
                rss.append(srv.rss_kib())
        for t in threads:
            t.join(IO_TIMEOUT_S)
        m1 = srv.metrics()
    finally:
        for c in silent + floods + [healthy]:
            c.close()
    # (the log is read by a thread of this process: wait for it to catch up)
    wait_for(lambda: srv.log_since(mark).count("stream stalled for 1500 ms") >= 23,
             "the log to report the 23 stalled streams")
    log = srv.log_since(mark)
    assert log.count("stream stalled for 1500 ms") == 23, log[-3000:]
    assert m1[GAUGE] == 1, "a stalled stream was not closed, or the healthy one was"
    for r in results:
        assert r and r[0][0] in ("closed", "sent"), results
    # The healthy reader got consecutive seconds, none skipped.
    got = [secs(t) for t in times]
    assert all(b - a == 1 for a, b in zip(got, got[1:])), times
    assert len(got) >= 11, times
    assert m1["planettracker_live_dropped_total"] > m0["planettracker_live_dropped_total"]
    assert len(rss) >= 4, rss
    grown_mib = (max(rss) - rss[0]) / 1024
    assert grown_mib < 4, f"RSS grew by {grown_mib:.1f} MiB with stalled streams: {rss}"
    assert srv.wait_metric(GAUGE, 0) == 0
    srv.assert_serving()


BACKLOG_BUG = (
    "server bug: a stream's output backlog is bounded at 256 KiB only every other write: "
    "http_stream_start() sets conn->out.limit = STREAM_BACKLOG_LIMIT, but flush_output() "
    "swaps conn->out and conn->out_flight, whose limit stays OUT_LIMIT (64 MiB), so a "
    "WebSocket client that sends pings and does not read makes the server queue up to "
    "64 MiB of pongs (http_stream_write) per connection, about half the time")


def _unread_by_server(port):
    """Bytes waiting in the receive queues of the server's established IPv4
    sockets on port (/proc/net/tcp), i.e. sent by clients and not yet read."""
    total = 0
    with open("/proc/net/tcp", encoding="ascii") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                total += int(fields[4].split(":")[1], 16)
    return total


def test_pong_backlog_of_a_non_reading_client_is_bounded(request):
    """4 clients each send 2 x (kernel send buffer + 1 MiB) of pings without
    reading; once the server has read them all, the clients read: a server that
    keeps at most its 256 KiB backlog beyond the kernel's buffers has dropped
    most pongs (RFC 6455 5.5.3 allows it); one that queued them all delivers
    every pong, having held them in memory meanwhile."""
    with open("/proc/sys/net/ipv4/tcp_wmem", encoding="ascii") as f:
        wmem_max = int(f.read().split()[2])
    bound = (wmem_max + (1 << 20)) // 127  # 127-byte pongs: kernel, backlogs and slack
    n = 2 * bound
    srv = start_server(request, "live-backlog", ["--stall-timeout-ms", "30000"],
                       env={"ASAN_OPTIONS": asan_options("quarantine_size_mb=1")})
    clients = [srv.open_ws(rcvbuf=4096) for _ in range(4)]
    try:
        rss0 = srv.rss_kib()
        ping = ws_frame(WS_PING, b"p" * 125)
        threads = [threading.Thread(target=_flood, args=(w, ping, n, [])) for w in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wait_for(lambda: _unread_by_server(srv.port) == 0, "the server to read every ping",
                 timeout=30)
        rss1 = srv.rss_kib()
        pongs = []
        for w in clients:
            w.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            received = len(w.conn.buf)
            # Read until 0.3 s pass without a byte: a "nothing more comes" window, which
            # a slow server can only make end early, with fewer pongs counted (the
            # check is an upper bound on them: it passes more easily, never fails).
            w.conn.sock.settimeout(0.3)
            try:
                while True:
                    data = w.conn.sock.recv(1 << 20)
                    if not data:
                        break
                    received += len(data)
            except socket.timeout:
                pass
            pongs.append(received // 127)  # and a few positions frames
    finally:
        for w in clients:
            w.close()
    assert all(p <= bound for p in pongs), \
        (f"about {pongs} pongs received for {n} pings each (at most {bound} fit the kernel and "
         f"a bounded backlog); the server's RSS grew by {(rss1 - rss0) / 1024:.0f} MiB")


# ---------------------------------------------------------------- garbage frames

def _random_frames(rng):
    """Bytes that look more or less like client frames: random bytes, sequences of
    frames (mostly valid, sometimes with a bad bit, opcode, mask or length form),
    the same with bits flipped, or cut short."""
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 5, 14, 100, 3000])))
    frames = b""
    for _ in range(rng.randint(1, 4)):
        opcode = rng.choice([1, 1, 1, 2, 9, 9, 10, 8, 0, 3, 11])
        payload = rng.choice([b"", b"{}", b'{"type":"observe","lat":1,"lon":2}',
                              b'"\xe2\x82\xac"', b'"\xe2\x82"',
                              bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))),
                              b" " * rng.choice([125, 126, 4096, 4097])])
        if opcode == 8 and rng.random() < 0.7:
            payload = ws_close_payload(rng.choice([1000, 1001, 1005, 1006, 3000, 4999, 5000, 0]),
                                       rng.choice(["", "bye"]))
        frames += ws_frame(opcode, payload, fin=rng.random() < 0.8, mask=rng.random() < 0.97,
                           rsv=rng.choice([0] * 9 + [4]),
                           length_form=rng.choice([None, None, 16, 64] if opcode < 8 else
                                                  [None] * 9 + [16]))
    data = bytearray(frames)
    if kind == 2:
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(data))
            data[k] ^= 1 << rng.randrange(8)
    elif kind == 3:
        data = data[:rng.randrange(len(data) + 1)]
    return bytes(data)


def test_random_frames_never_hang_or_crash(live_server):
    """Whatever a client sends after the handshake, the server answers with
    well-formed frames, a close frame (if any) last and with a code that may be
    sent, and closes when the client half-closes."""
    srv = live_server
    rng = random.Random(SEED)
    codes = {}
    for i in range(400):
        payload = _random_frames(rng)
        with srv.open_ws() as w:
            try:
                w.send(payload)
                w.conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may close before everything is sent
            frames = []
            while True:
                try:
                    frames.append(w.recv_frame())
                except ConnClosed:
                    break
                except TimeoutError:
                    pytest.fail(f"#{i}: the server hung on {payload[:80]!r}")
        closes = [k for k, f in enumerate(frames) if f.opcode == WS_CLOSE]
        assert closes in ([], [len(frames) - 1]), (i, payload[:80], frames[-3:])
        if closes:
            assert frames[-1].close_code in VALID_CLOSE, (i, frames[-1])
        code = frames[-1].close_code if closes else None
        codes[code] = codes.get(code, 0) + 1
        assert all(f.opcode in (WS_TEXT, WS_PONG, WS_CLOSE) for f in frames), (i, frames)
        assert srv.is_running(), f"server died on #{i}: {payload[:80]!r}"
    # The generator reaches the decoder's main outcomes (a check on the test itself).
    assert codes.get(1002, 0) > 10 and codes.get(None, 0) > 5 and codes.get(1009, 0) > 0, codes
    assert codes.get(1007, 0) > 0 and set(codes) & {1000, 1001, 3000, 4999}, codes
    srv.assert_serving()


def test_frame_split_at_every_byte(live_server):
    """A frame (64-bit length form, so the header has 14 bytes) cut at each
    offset in two segments is still one message."""
    with live_server.open_ws() as w:
        w.recv_json("positions")
        k = 1
        while True:
            lat = 10 + k / 1000  # one observer per cut, so each answer is told apart
            text = json.dumps({"type": "observe", "lat": lat, "lon": 1, "bodies": ["sun"]})
            frame = ws_frame(WS_TEXT, text, length_form=64)
            if k >= len(frame):
                break
            w.send(frame[:k])
            time.sleep(0.002)  # pacing into two segments (if merged, still one frame)
            w.send(frame[k:])
            w.recv_json("positions", where=lambda m, lat=lat: m["observer"]["lat"] == lat)
            k += 1
        assert k > 60


def test_bytes_sent_up_an_event_stream_are_ignored(live_server):
    with live_server.open_sse("/planets/stream?bodies=sun") as s:
        s.next_event()
        rng = random.Random(SEED + 1)
        junk = bytes(rng.randrange(256) for _ in range(65536))
        for _ in range(16):  # 1 MiB, and a request that must not be answered
            s.conn.send(junk)
        s.conn.send(build_request("GET", "/healthz"))
        a = s.next_event().json()["time"]
        b = s.next_event().json()["time"]
        assert a < b
        assert b"HTTP/1.1" not in bytes(s.text) + bytes(s.conn.buf)
    live_server.assert_serving()


def test_many_small_messages_in_one_segment(live_server):
    """2000 pings and 200 observes in one write: every ping gets its pong, in order."""
    with live_server.open_ws() as w:
        data = b"".join(ws_frame(WS_PING, str(i).encode()) for i in range(2000))
        data += b"".join(observe(i / 10, 1) for i in range(200))
        w.send(data)
        for i in range(2000):
            assert w.recv_opcode(WS_PONG).payload == str(i).encode()
        w.recv_json("positions", where=lambda m: m["observer"]["lat"] == 19.9)


# ---------------------------------------------------------------- shutdown with slow readers

def _server_queues(port, client_port):
    """(unsent, unread) bytes of the server's socket on port for the client's
    connection from client_port (/proc/net/tcp), or None when there is none."""
    with open("/proc/net/tcp", encoding="ascii") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if (int(fields[1].split(":")[1], 16) == port and fields[3] == "01" and
                    int(fields[2].split(":")[1], 16) == client_port):
                tx, rx = fields[4].split(":")
                return int(tx, 16), int(rx, 16)
    return None


def _stalled_ws(srv):
    """A WebSocket client whose kernel buffers are full and that has a newer
    message waiting in the server (an observe answer sent while it is blocked)."""
    w = srv.open_ws(rcvbuf=4096)
    w.conn.sock.settimeout(10)
    w.send(observe(1, 2) * 3000)
    # The server has read every observe and its answers are backed up.
    client_port = w.conn.sock.getsockname()[1]
    wait_for(lambda: (q := _server_queues(srv.port, client_port)) and q[1] == 0 and q[0] > 0,
             "the server to read the 3000 observes and back up its answers")
    return w


def _stop_in_background(srv):
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("problems", srv.stop()))
    t.start()
    return t, result


def test_sigterm_with_slow_readers():
    """SIGTERM while a WebSocket client is backed up and event-stream clients are
    not reading: the backed-up client still gets its close frame 1001 once it
    reads, and the server exits 0 within its 10 s."""
    srv = Server("live-sigterm-slow", ["--idle-timeout-ms", "5000"],
                 env={"ASAN_OPTIONS": asan_options("quarantine_size_mb=8")}).start()
    stopper, result = None, {}
    try:
        silent = [srv.open_sse("/planets/stream", rcvbuf=4096) for _ in range(5)]
        w = _stalled_ws(srv)
        mark = srv.log_mark()
        stopper, result = _stop_in_background(srv)
        srv.wait_log("signal 15: ", mark)  # SIGTERM found the client backed up
        frames = []
        while True:
            try:
                frames.append(w.recv_frame())
            except ConnClosed:
                break
        closes = [f for f in frames if f.opcode == WS_CLOSE]
        assert len(closes) == 1 and closes[0].close_code == 1001, frames[-3:]
        for s in silent:
            blocks = []
            try:
                while True:
                    blocks.append(s.next_block())
            except StreamEnded:
                pass
            assert blocks[-1].event == "bye", blocks[-2:]
    finally:
        if stopper is not None:
            stopper.join(15)
        if srv.is_running():
            srv.proc.kill()
            srv.proc.wait()
    assert result.get("problems") == [], (result, srv.log_tail(60))


def test_sigterm_close_frame_is_the_last_frame():
    srv = Server("live-sigterm-order", ["--idle-timeout-ms", "5000"],
                 env={"ASAN_OPTIONS": asan_options("quarantine_size_mb=8")}).start()
    stopper, result = None, {}
    try:
        w = _stalled_ws(srv)
        mark = srv.log_mark()
        stopper, result = _stop_in_background(srv)
        srv.wait_log("signal 15: ", mark)  # SIGTERM found the client backed up
        frames = []
        while True:
            try:
                frames.append(w.recv_frame())
            except ConnClosed:
                break
    finally:
        if stopper is not None:
            stopper.join(15)
        if srv.is_running():
            srv.proc.kill()
            srv.proc.wait()
    assert result.get("problems") == [], result
    ops = [f.opcode for f in frames]
    assert WS_CLOSE in ops and ops.index(WS_CLOSE) == len(ops) - 1, \
        f"frames after the close frame: {frames[ops.index(WS_CLOSE) + 1:][:2]!r}"
