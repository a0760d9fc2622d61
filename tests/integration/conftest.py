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
"""

import json
import os
import re
import signal
import socket
import subprocess
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

BODIES = ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto"]
GREENWICH = (51.4769, -0.0005)
# A fixed instant so that answers are reproducible byte for byte.
FIXED_TIME = "2024-03-20T22:00:00Z"


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
        if self.proc.returncode != 0:
            problems.append(f"exit status {self.proc.returncode}")
        text = self.log_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append(f"output contains {marker!r}")
        return problems

    # -- client side

    def connect(self, timeout=IO_TIMEOUT_S):
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
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
