# SPDX-License-Identifier: AGPL-3.0-or-later
"""Black-box integration tests of PlanetTracker: shared fixtures and helpers.

The suite starts the real server binary ($PT_BINARY, default
build/san/planettracker, the ASan+UBSan build) on a free loopback port and talks
to it over raw sockets, so every byte on the wire is under the test's control.
Files are tiered by prefix, cheap to expensive (STYLE.md section 7): 10 basic,
40 protocol edges, 50 features, 80 limits and attacks.

Run from the repository root:

    make SANITIZE=address,undefined
    PT_BINARY=build/san/planettracker \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

Every server a fixture starts is stopped with SIGTERM at the end; the session
fails if it does not exit with status 0 within 10 s or if its output holds a
sanitizer report. Only the standard library and pytest are used.

Live push helpers: Server.open_sse() returns an SseReader (strict chunked
decoding, one SseEvent per blank-line block, with its arrival time);
Server.open_ws() does a checked handshake and returns a WsClient (masked client
frames from ws_frame(), a strict parser of server frames); Server.metrics(),
wait_metric() and rss_kib() read /metrics and the server's VmRSS.

No test may depend on the machine's speed (CI is a busy 2-core box, the server is
the slow ASan+UBSan build): a test waits for a condition -- wait_for(),
Server.wait_metric(), Server.wait_log(), Conn.wait_data(), a read with a deadline
-- with a generous deadline (WAIT_TIMEOUT_S, IO_TIMEOUT_S) after which it fails
saying what it waited for, never for a fixed time. A fixed sleep is only part of
a scenario (a client pacing its bytes, keeping quiet on purpose), and what follows
it does not assume the server did anything within that time.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LISTEN_RE = re.compile(r"PlanetTracker \S+ listening on http://(\S+):(\d+)/")
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "AddressSanitizer:DEADLYSIGNAL",
    "runtime error:",
    "LeakSanitizer",
    "WARNING: ThreadSanitizer",
)
SECRET_KEY = "test-secret"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 15.0
WAIT_TIMEOUT_S = 20.0  # the deadline of a wait for a condition (wait_for and friends)

BODIES = ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto"]
GREENWICH = (51.4769, -0.0005)
# A fixed instant so that answers are reproducible byte for byte.
FIXED_TIME = "2024-03-20T22:00:00Z"


# ---------------------------------------------------------------- waiting

def wait_for(predicate, what, timeout=WAIT_TIMEOUT_S, interval=0.05):
    """Call predicate() every `interval` s until it returns something true, and
    return that; after `timeout` s fail the test saying that it waited for `what`."""
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- responses

class Response:
    """One parsed HTTP response: status line, headers (in order) and body."""

    def __init__(self, version, status, reason, headers, body, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value), names as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        """First value of a header (case-insensitive name), or default."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        ctype = self.header("Content-Type", "")
        assert ctype.startswith("application/json"), \
            f"expected JSON, got Content-Type {ctype!r}: {self.body[:200]!r}"
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {len(self.body)} bytes: {self.body[:300]!r}>"


class ConnClosed(Exception):
    """The peer closed the connection before a complete response arrived."""


class Conn:
    """A raw client connection with a receive buffer and a response parser."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Receive more bytes into buf. Returns False at EOF (or reset)."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"no data within the time limit; buffered: {bytes(self.buf[:300])!r}")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError(
                f"no data within the time limit; buffered: {bytes(self.buf[:300])!r}") from None
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n):
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnClosed(f"closed after {len(self.buf)} of {n} body bytes")
        return self._take(n)

    def _read_line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                return self._take(i + 2)[:-2]
            if not self._fill(deadline):
                raise ConnClosed(f"closed inside a line: {bytes(self.buf[:300])!r}")

    def read_response(self, method="GET", timeout=IO_TIMEOUT_S):
        """Read one response (a 1xx counts as one). method HEAD means no body."""
        deadline = time.monotonic() + timeout
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            if not self._fill(deadline):
                raise ConnClosed(f"closed before a complete head: {bytes(self.buf[:300])!r}")
        raw_head = self._take(i + 4)
        lines = raw_head[:-4].split(b"\r\n")
        m = re.fullmatch(rb"(HTTP/\d\.\d) (\d{3}) ?(.*)", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        version, status, reason = m.group(1).decode(), int(m.group(2)), m.group(3).decode("latin-1")
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep and name and name == name.strip(), f"bad header line {line!r}"
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
        resp = Response(version, status, reason, headers, b"", raw_head)
        if method == "HEAD" or status < 200 or status in (204, 304):
            return resp
        cl = resp.header_all("Content-Length")
        te = resp.header("Transfer-Encoding")
        if cl:
            assert len(set(cl)) == 1 and cl[0].isdigit(), f"bad Content-Length {cl!r}"
            resp.body = self._read_exact(int(cl[0]), deadline)
        elif te is not None and te.lower() == "chunked":
            resp.body = self._read_chunked(deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body = self._take(len(self.buf))
        return resp

    def _read_chunked(self, deadline):
        out = bytearray()
        while True:
            size = int(self._read_line(deadline).split(b";")[0], 16)
            if size == 0:
                while self._read_line(deadline):
                    pass
                return bytes(out)
            out += self._read_exact(size, deadline)
            assert self._read_exact(2, deadline) == b"\r\n"

    def read_until_close(self, timeout=IO_TIMEOUT_S):
        """Everything until the peer closes. Raises TimeoutError if it does not."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        return self._take(len(self.buf))

    def wait_data(self, timeout=IO_TIMEOUT_S):
        """Wait until the peer has sent something, without reading it (MSG_PEEK: a
        client that does not read stays one). Fails if the peer closes first or
        nothing comes within timeout."""
        if self.buf:
            return
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            raise AssertionError(f"nothing arrived within {timeout:.0f} s") from None
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            raise AssertionError("the peer closed without sending anything")

    def wait_closed(self, timeout):
        """(closed, data): whether the peer closed within timeout, and what came first."""
        try:
            data = self.read_until_close(timeout)
            return True, data
        except TimeoutError:
            return False, self._take(len(self.buf))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method, target, headers=None, body=None, version="HTTP/1.1", host=True):
    """Bytes of a request. headers: list of (name, value) or a dict. A Host header
    is added for HTTP/1.1 unless host is False or one is given; Content-Length is
    added when body is given and no framing header is."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in items}
    if host and version == "HTTP/1.1" and "host" not in names:
        items.insert(0, ("Host", "127.0.0.1"))
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        items.append(("Content-Length", str(len(body))))
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n"
    return head.encode("latin-1") + (body or b"")


def query(path, **params):
    """path?params, keeping ':' readable (D:M:S angles)."""
    if not params:
        return path
    return path + "?" + urllib.parse.urlencode(params, safe=":")


# ---------------------------------------------------------------- the server

class Server:
    """A running planettracker process and its combined stdout/stderr log."""

    def __init__(self, name, extra_args=(), env=None, binary=None):
        self.name = name
        self.binary_path = binary
        self.extra_args = list(extra_args)
        self.env_overrides = dict(env or {})
        self.data_dir = None  # made by _env, removed by stop
        self.proc = None
        self.host = None
        self.port = None
        self.lines = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.reader = None

    @staticmethod
    def binary():
        path = os.environ.get("PT_BINARY") or str(REPO / "build/san/planettracker")
        if not os.access(path, os.X_OK):
            pytest.exit(f"server binary {path!r} not found: build it with "
                        f"`make SANITIZE=address,undefined` or set PT_BINARY", returncode=2)
        return path

    def _env(self):
        env = dict(os.environ)
        for k in ("HOST", "PORT", "STATIC_DIR", "ACCESS_LOG", "LOG_LEVEL", "WORKERS",
                  "DATABASE_URL", "REDIS_URL"):
            env.pop(k, None)
        env["SECRET_KEY"] = SECRET_KEY
        # No download from the IERS during tests, and no data left by `make run` in ./var:
        # each server reads and writes an empty directory of its own.
        env["EOP_URL"] = "none"
        env.pop("EOP_LEAP_URL", None)
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix=f"pt-data-{self.name}-")
        env["DATA_DIR"] = self.data_dir
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        env.update(self.env_overrides)
        return env

    def _read_output(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.lock:
                self.lines.append(line)
            m = LISTEN_RE.search(line)
            if m and not self.ready.is_set():
                self.host, self.port = m.group(1), int(m.group(2))
                self.ready.set()
        self.ready.set()  # EOF: unblock start()

    def start(self):
        args = [self.binary_path or self.binary(), "serve", "--host", "127.0.0.1", "--port",
                "0"] + self.extra_args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=self._env())
        self.reader = threading.Thread(target=self._read_output, name=f"log-{self.name}",
                                       daemon=True)
        self.reader.start()
        if not self.ready.wait(START_TIMEOUT_S) or self.port is None:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"server {self.name} did not start ({args}); log:\n{self.log_text()}")
        return self

    def log_text(self):
        with self.lock:
            return "\n".join(self.lines)

    def log_tail(self, n=40):
        with self.lock:
            return "\n".join(self.lines[-n:])

    def log_mark(self):
        with self.lock:
            return len(self.lines)

    def log_since(self, mark):
        with self.lock:
            return "\n".join(self.lines[mark:])

    def wait_log(self, text, mark=0, timeout=WAIT_TIMEOUT_S):
        """Wait until a line of the log from `mark` on (a log_mark()) holds text;
        returns that line."""
        def find():
            with self.lock:
                return next((line for line in self.lines[mark:] if text in line), None)
        return wait_for(find, f"{text!r} in the log of server {self.name}", timeout)

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait; returns a list of problems (empty when it exited clean)."""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                problems.append(f"did not exit within {STOP_TIMEOUT_S:.0f} s of SIGTERM")
                self.proc.kill()
                self.proc.wait()
        else:
            problems.append("had already exited before the end of the session")
        self.reader.join(10)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        if self.proc.returncode != 0:
            problems.append(f"exit status {self.proc.returncode}")
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append(f"output contains {marker!r}")
        return problems

    # -- client side

    def connect(self, timeout=IO_TIMEOUT_S, rcvbuf=None):
        """A raw connection. rcvbuf: a small SO_RCVBUF, set before connecting so that
        the advertised window stays small (a client that stops reading stalls soon)."""
        if rcvbuf is None:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect((self.host, self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Conn(sock)

    def request(self, method, target, headers=None, body=None, version="HTTP/1.1", host=True,
                timeout=IO_TIMEOUT_S):
        """One request on a fresh connection; returns its Response."""
        with self.connect(timeout) as c:
            c.send(build_request(method, target, headers, body, version, host))
            return c.read_response(method, timeout)

    def get(self, target, headers=None, **kw):
        return self.request("GET", target, headers, **kw)

    def get_json(self, target, status=200, headers=None):
        r = self.get(target, headers)
        assert r.status == status, f"GET {target}: {r!r}"
        return r.json()

    def planet(self, name, headers=None, **params):
        return self.get(query(f"/planets/{name}", **params), headers)

    def raw(self, data, timeout=IO_TIMEOUT_S):
        """Send raw bytes on a fresh connection; read one response."""
        with self.connect(timeout) as c:
            c.send(data)
            return c.read_response("GET", timeout)

    def assert_serving(self):
        """A new connection still gets an answer (after an attack or a limit)."""
        assert self.is_running(), f"server {self.name} died; log:\n{self.log_tail(60)}"
        r = self.get("/healthz")
        assert r.status == 200, r

    # -- live push and process state

    def open_sse(self, target="/planets/stream", headers=None, version="HTTP/1.1",
                 timeout=IO_TIMEOUT_S, rcvbuf=None):
        """GET target as an event stream; returns an SseReader after a 200 head
        (its .response). Any other status fails the test with the answer."""
        c = self.connect(timeout, rcvbuf)
        try:
            c.send(build_request("GET", target, headers, version=version))
            r = c.read_response("HEAD", timeout)  # the head only: the body is the stream
        except BaseException:
            c.close()
            raise
        if r.status != 200:
            if r.header("Content-Length", "").isdigit():
                r.body = c._read_exact(int(r.header("Content-Length")),
                                       time.monotonic() + timeout)
            c.close()
            pytest.fail(f"GET {target}: expected an event stream, got {r!r}")
        te = (r.header("Transfer-Encoding") or "").lower()
        return SseReader(c, r, chunked=te == "chunked")

    def open_ws(self, target="/ws", headers=None, key=None, timeout=IO_TIMEOUT_S, rcvbuf=None):
        """A WebSocket handshake on target; returns a WsClient after a checked 101
        (status, Upgrade, Connection and Sec-WebSocket-Accept)."""
        c = self.connect(timeout, rcvbuf)
        try:
            key = key or ws_new_key()
            c.send(build_request("GET", target, ws_handshake_headers(key, headers)))
            r = c.read_response("GET", timeout)
            assert r.status == 101, f"GET {target}: expected 101, got {r!r}"
            assert (r.header("Upgrade") or "").lower() == "websocket", r.raw_head
            assert "upgrade" in (r.header("Connection") or "").lower(), r.raw_head
            assert r.header("Sec-WebSocket-Accept") == ws_accept(key), r.raw_head
        except BaseException:
            c.close()
            raise
        return WsClient(c, r)

    def rss_kib(self):
        """The server process's resident set size (VmRSS, KiB), from /proc."""
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def metrics(self):
        """GET /metrics parsed: {"name{labels}": float} (samples only)."""
        r = self.get("/metrics")
        assert r.status == 200, r
        out = {}
        for line in r.body.decode("utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
        return out

    def wait_metric(self, name, want, timeout=WAIT_TIMEOUT_S):
        """Poll /metrics until name == want (the server notices closes a moment
        later than the client); returns the last value seen (callers assert it)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.metrics().get(name)
            if got == want or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


# ---------------------------------------------------------------- live push clients

class StreamEnded(Exception):
    """The chunked event stream was terminated (the zero-length last chunk)."""


class SseEvent:
    """One block of an event stream, up to its blank line: fields and comments."""

    def __init__(self, raw, arrived):
        self.raw = raw            # the block's text, blank line excluded
        self.arrived = arrived    # time.time() when its last byte was received
        self.event = None
        self.data = None
        self.id = None
        self.retry = None
        self.comments = []
        for line in raw.split("\n"):
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, sep, value = line.partition(":")
            if sep and value.startswith(" "):
                value = value[1:]
            if name == "data":
                self.data = value if self.data is None else self.data + "\n" + value
            elif name in ("event", "id", "retry"):
                setattr(self, name, value)

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return f"<SseEvent {self.raw[:200]!r}>"


class SseReader:
    """Reads an event stream from a Conn whose response head was read, decoding
    chunked framing strictly (chunks need not align with events)."""

    def __init__(self, conn, response, chunked=True):
        self.conn = conn
        self.response = response
        self.chunked = chunked
        self.text = bytearray()   # decoded body not yet split into blocks
        self.state = "size"       # size, data, crlf, trailer, done
        self.chunk_left = 0
        self.chunks = 0           # body chunks seen (the last, empty one excluded)
        self.last_recv = time.time()

    @property
    def ended(self):
        """True once the zero-length chunk and the trailer were received."""
        return self.state == "done"

    def _decode(self):
        buf = self.conn.buf
        if not self.chunked:
            self.text += buf
            del buf[:]
            return
        while self.state != "done":
            if self.state in ("size", "trailer"):
                i = buf.find(b"\r\n")
                if i < 0:
                    return
                line = bytes(buf[:i])
                del buf[:i + 2]
                if self.state == "trailer":
                    if not line:
                        self.state = "done"
                    continue
                assert re.fullmatch(rb"[0-9a-fA-F]+", line), f"bad chunk size line {line!r}"
                self.chunk_left = int(line, 16)
                self.state = "data" if self.chunk_left else "trailer"
                self.chunks += bool(self.chunk_left)
            elif self.state == "data":
                n = min(self.chunk_left, len(buf))
                if n == 0:
                    return
                self.text += buf[:n]
                del buf[:n]
                self.chunk_left -= n
                if self.chunk_left == 0:
                    self.state = "crlf"
            else:
                if len(buf) < 2:
                    return
                assert bytes(buf[:2]) == b"\r\n", f"chunk not followed by CRLF: {bytes(buf[:20])!r}"
                del buf[:2]
                self.state = "size"

    def _split(self):
        i = self.text.find(b"\n\n")
        if i < 0:
            return None
        raw = bytes(self.text[:i]).decode("utf-8")
        del self.text[:i + 2]
        return SseEvent(raw, self.last_recv)

    def next_block(self, timeout=IO_TIMEOUT_S):
        """The next block (event, retry or comment). Raises StreamEnded after the
        last chunk, ConnClosed if the connection closes without it, TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode()
            ev = self._split()
            if ev is not None:
                return ev
            if self.ended:
                assert not self.text, f"stream ended inside an event: {bytes(self.text)!r}"
                raise StreamEnded()
            if not self.conn._fill(deadline):
                self._decode()
                ev = self._split()
                if ev is not None:
                    return ev
                raise ConnClosed(f"stream closed; undecoded {bytes(self.text[:200])!r}, "
                                 f"raw {bytes(self.conn.buf[:200])!r}")
            self.last_recv = time.time()

    def next_event(self, name="positions", timeout=IO_TIMEOUT_S):
        """The next block whose event type is name (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next_block(max(0.0, deadline - time.monotonic()))
            if ev.event == name:
                return ev

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_TEXT, WS_BINARY, WS_CONT, WS_CLOSE, WS_PING, WS_PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def ws_new_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


def ws_accept(key):
    """The Sec-WebSocket-Accept value for key (RFC 6455 section 4.2.2)."""
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def ws_handshake_headers(key, extra=None):
    items = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key),
             ("Sec-WebSocket-Version", "13")]
    extra = list(extra.items()) if isinstance(extra, dict) else list(extra or [])
    return items + extra


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, mask_key=None, length_form=None):
    """A client frame. rsv: the 3 reserved bits (0-7); length_form: None for the
    shortest, or 7, 16, 64 to force one; mask_key: 4 bytes (random by default)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    head = bytearray([(0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)])
    n = len(payload)
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    mbit = 0x80 if mask else 0
    if form == 7:
        head.append(mbit | n)
    elif form == 16:
        head.append(mbit | 126)
        head += struct.pack(">H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack(">Q", n)
    if not mask:
        return bytes(head) + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    body = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return bytes(head) + key + body


def ws_close_payload(code=None, reason=""):
    if code is None:
        return b""
    return struct.pack(">H", code) + reason.encode("utf-8")


class WsFrame:
    """One server frame."""

    def __init__(self, fin, rsv, opcode, payload):
        self.fin, self.rsv, self.opcode, self.payload = fin, rsv, opcode, payload

    @property
    def text(self):
        return self.payload.decode("utf-8")

    def json(self):
        return json.loads(self.text)

    @property
    def close_code(self):
        return struct.unpack(">H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self):
        return self.payload[2:].decode("utf-8")

    def __repr__(self):
        return f"<WsFrame op={self.opcode:#x} fin={self.fin} {self.payload[:200]!r}>"


class WsClient:
    """A WebSocket client over a Conn after a 101: strict server frame parser
    (unmasked, reserved bits 0, known opcodes, final control frames)."""

    def __init__(self, conn, response):
        self.conn = conn
        self.response = response
        self.skipped = []  # frames passed over by recv_json / expect_close

    def send(self, data):
        self.conn.send(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.conn.send(ws_frame(opcode, payload, **kw))

    def send_json(self, obj):
        self.send_frame(WS_TEXT, json.dumps(obj))

    def send_close(self, code=None, reason=""):
        self.send_frame(WS_CLOSE, ws_close_payload(code, reason))

    def recv_frame(self, timeout=IO_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        c = self.conn
        while len(c.buf) < 2:
            if not c._fill(deadline):
                raise ConnClosed(f"closed between frames; buffered {bytes(c.buf)!r}")
        b0, b1 = c.buf[0], c.buf[1]
        assert not b1 & 0x80, "a server frame is masked"
        n, hlen = b1 & 0x7F, 2
        if n == 126:
            hlen = 4
        elif n == 127:
            hlen = 10
        while len(c.buf) < hlen:
            if not c._fill(deadline):
                raise ConnClosed("closed inside a frame header")
        if n == 126:
            n = struct.unpack(">H", bytes(c.buf[2:4]))[0]
            assert n > 125, "a 16-bit length form for a short payload"
        elif n == 127:
            n = struct.unpack(">Q", bytes(c.buf[2:10]))[0]
            assert 0xFFFF < n < 1 << 63, "a 64-bit length form for a short payload"
        c._take(hlen)
        payload = c._read_exact(n, deadline)
        frame = WsFrame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload)
        assert frame.rsv == 0, f"reserved bits set in {frame!r}"
        assert frame.opcode in (0, 1, 2, 8, 9, 10), f"unknown opcode in {frame!r}"
        if frame.opcode & 8:
            assert frame.fin and n <= 125, f"bad control frame {frame!r}"
        return frame

    def recv_json(self, type=None, timeout=IO_TIMEOUT_S, where=None):
        """The next text message (as JSON) of that "type" that satisfies where
        (a predicate), skipping others. Fails on a close frame."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            assert f.opcode != WS_CLOSE, f"closed by the server: {f.close_code} {f.payload!r}"
            if f.opcode == WS_TEXT:
                assert f.fin, "the server fragments its messages"
                msg = f.json()
                if (type is None or msg.get("type") == type) and (where is None or where(msg)):
                    return msg
            self.skipped.append(f)

    def recv_opcode(self, opcode, timeout=IO_TIMEOUT_S):
        """The next frame with that opcode, skipping others (a close fails)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == opcode:
                return f
            assert f.opcode != WS_CLOSE, f"closed by the server: {f.close_code} {f.payload!r}"
            self.skipped.append(f)

    def expect_close(self, timeout=IO_TIMEOUT_S):
        """Skip to the server's close frame, then require the TCP close; returns
        the close frame."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == WS_CLOSE:
                break
            self.skipped.append(f)
        rest = self.conn.read_until_close(max(0.1, deadline - time.monotonic()))
        assert rest == b"", f"bytes after the close frame: {rest[:200]!r}"
        return f

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_server(request, name, extra_args=(), env=None):
    """Start a server and register its stop-and-check at the fixture's teardown."""
    srv = Server(name, extra_args, env).start()

    def finish():
        problems = srv.stop()
        if problems:
            pytest.fail(f"server {name}: " + "; ".join(problems) +
                        "\n---- log (last 200 lines) ----\n" +
                        "\n".join(srv.log_text().splitlines()[-200:]), pytrace=False)

    request.addfinalizer(finish)
    return srv


@pytest.fixture(scope="session")
def server(request):
    """The main server, default limits, SECRET_KEY=test-secret."""
    return start_server(request, "main")


@pytest.fixture(scope="session")
def timeout_server(request):
    """A server with short timeouts: 1.5 s for a head, 3 s idle keep-alive."""
    return start_server(request, "timeouts",
                        ["--head-timeout-ms", "1500", "--idle-timeout-ms", "3000"])


@pytest.fixture(scope="session")
def other_key_server(request):
    """A server with another SECRET_KEY: its cookies must mean nothing to `server`."""
    return start_server(request, "other-key", env={"SECRET_KEY": "another-secret"})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of each server's log to a failed test's report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Server):
            rep.sections.append((f"server {value.name} log (last 40 lines)", value.log_tail(40)))
