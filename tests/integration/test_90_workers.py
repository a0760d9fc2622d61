# SPDX-License-Identifier: AGPL-3.0-or-later
"""`serve --workers N`: a master owning the socket and N workers on it. The load
is shared, a session made on one worker opens on every worker, a killed worker is
replaced while the others' connections go on, SIGHUP starts a new generation and
drains the old one with no failed request under load (five times in a row), and a
new binary that cannot start leaves the old generation serving."""
import http.client
import os
import shutil
import signal
import stat
import threading
import time

import pytest

from conftest import Server, WAIT_TIMEOUT_S, wait_for

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def health(srv):
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        import json
        return json.loads(r.read())
    finally:
        c.close()


def workers_seen(srv, want, tries=200):
    """The (pid, worker id) pairs answering /healthz on new connections, until `want`
    distinct pids were seen (or tries ran out)."""
    seen = {}
    for _ in range(tries):
        h = health(srv)
        seen[h["pid"]] = h["worker"]
        if len(seen) >= want:
            break
    return seen


def generation(worker_id):
    return int(worker_id.split(".")[0])


@pytest.fixture
def master(request, tmp_path):
    """A master with two workers, started from a copy of the binary (so that a test
    may replace it on disk, as an upgrade does)."""
    exe = tmp_path / "planettracker"
    shutil.copy2(Server.binary(), exe)
    srv = Server("workers", ["--workers", "2", "--worker-timeout", "30"], binary=str(exe))
    srv.exe = exe
    srv.start()

    def finish():
        problems = srv.stop()
        if problems:
            pytest.fail("workers: " + "; ".join(problems) + "\n" + srv.log_tail(120),
                        pytrace=False)
    request.addfinalizer(finish)
    wait_for(lambda: len(workers_seen(srv, 2)) == 2, "two workers answering")
    return srv


def test_two_workers_share_the_socket_and_the_session(master):
    seen = workers_seen(master, 2)
    assert len(seen) == 2 and all(generation(w) == 1 for w in seen.values()), seen
    c = http.client.HTTPConnection(master.host, master.port, timeout=10)
    c.request("POST", "/geo_location", body="lat=-33.87&lon=151.21", headers=FORM)
    r = c.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie").split(";", 1)[0]
    c.close()
    # On new connections, whichever worker answers opens the session (one key for all).
    for _ in range(20):
        c = http.client.HTTPConnection(master.host, master.port, timeout=10)
        c.request("GET", "/planets/mars", headers={"Cookie": cookie})
        r = c.getresponse()
        import json
        doc = json.loads(r.read())
        c.close()
        assert r.status == 200 and doc["observer"]["source"] == "session", doc["observer"]
        assert doc["observer"]["lat"] == -33.87


def test_a_killed_worker_is_replaced_and_the_other_goes_on(master):
    keep = http.client.HTTPConnection(master.host, master.port, timeout=10)
    keep.request("GET", "/healthz")
    import json
    mine = json.loads(keep.getresponse().read())["pid"]
    victim = next(p for p in workers_seen(master, 2) if p != mine)
    mark = master.log_mark()
    t0 = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    master.wait_log("ready", mark)
    took = time.monotonic() - t0
    seen = wait_for(lambda: (lambda s: s if len(s) == 2 and victim not in s else None)(
        workers_seen(master, 2)), "the replacement worker answering")
    assert mine in seen
    # The surviving worker's keep-alive connection was not disturbed.
    keep.request("GET", "/planets/moon")
    assert keep.getresponse().status == 200
    keep.close()
    print(f"worker replaced in {took:.3f} s")


class Load:
    """Clients hammering the server while it reloads: half on keep-alive (retrying
    an idempotent GET once when an idle connection was closed under them, as HTTP
    clients do), half on new connections."""

    def __init__(self, srv, clients=8):
        self.srv, self.stop, self.lock = srv, threading.Event(), threading.Lock()
        self.ok = self.failed = self.retried = 0
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0,), daemon=True)
                        for i in range(clients)]

    def one(self, conn):
        conn.request("GET", "/planets/mars?lat=48.85&lon=2.35")
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise AssertionError(f"status {r.status}")
        return r.getheader("Connection", "") == "close"

    def run(self, keepalive):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=20)
                try:
                    closing = self.one(conn)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if not keepalive:
                        raise
                    with self.lock:
                        self.retried += 1
                    conn.close()
                    conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=20)
                    closing = self.one(conn)
                with self.lock:
                    self.ok += 1
                if closing or not keepalive:
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                with self.lock:
                    self.failed += 1
                    self.errors.append(repr(e))
                if conn is not None:
                    conn.close()
                conn = None

    def subscribe(self, kind):
        """A live subscriber that follows the generations: a graceful goodbye (SSE
        `bye` and the end of the stream, WebSocket close 1001) is answered by
        reconnecting; a reset or an abrupt close is a failure."""
        from conftest import ConnClosed, StreamEnded, WS_CLOSE
        while not self.stop.is_set():
            try:
                if kind == "sse":
                    with self.srv.open_sse("/planets/stream?lat=1&lon=2") as s:
                        while not self.stop.is_set():
                            ev = s.next_block(timeout=10)
                            if ev.event == "positions":
                                with self.lock:
                                    self.pushes += 1
                            elif ev.event == "bye":
                                with pytest.raises(StreamEnded):
                                    s.next_block(timeout=10)
                                break
                else:
                    with self.srv.open_ws("/ws?lat=1&lon=2") as ws:
                        while not self.stop.is_set():
                            f = ws.recv_frame(timeout=10)
                            if f.opcode == WS_CLOSE:
                                assert f.close_code == 1001, f.close_code
                                break
                            with self.lock:
                                self.pushes += 1
                with self.lock:
                    self.goodbyes += 1
            except (ConnClosed, ConnectionResetError, OSError, AssertionError) as e:
                if self.stop.is_set():
                    return
                with self.lock:
                    self.failed += 1
                    self.errors.append(f"{kind}: {e!r}")

    def __enter__(self):
        self.pushes = self.goodbyes = 0
        self.threads += [threading.Thread(target=self.subscribe, args=(k,), daemon=True)
                         for k in ("sse", "ws")]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def test_five_reloads_under_load_fail_nothing(master):
    master_pid = master.proc.pid
    with Load(master) as load:
        wait_for(lambda: load.ok > 50, "the load to run")
        for g in range(2, 7):
            mark = master.log_mark()
            os.kill(master_pid, signal.SIGHUP)
            master.wait_log(f"generation {g} serves", mark, timeout=90)
            seen = wait_for(lambda: (lambda s: s if len(s) == 2 and all(
                generation(w) == g for w in s.values()) else None)(workers_seen(master, 2)),
                f"generation {g} answering")
            assert len(seen) == 2
        before, pushed = load.ok, load.pushes
        wait_for(lambda: load.ok > before + 50 and load.pushes > pushed + 2,
                 "requests and live pushes to go on after the reloads")
        # Each drained generation says goodbye to the SSE and the WebSocket subscriber.
        wait_for(lambda: load.goodbyes >= 2 * 5, "both subscribers through five goodbyes")
    assert load.failed == 0, load.errors[:10]
    print(f"{load.ok} requests, {load.retried} idempotent retries on closed idle connections, "
          f"{load.pushes} live pushes, {load.goodbyes} goodbyes answered by reconnecting")


def test_a_broken_new_binary_leaves_the_old_generation_serving(master):
    good = master.exe.read_bytes()
    master.exe.unlink()
    master.exe.write_text("#!/bin/sh\necho broken build >&2\nexit 3\n")
    master.exe.chmod(stat.S_IRWXU)
    mark = master.log_mark()
    os.kill(master.proc.pid, signal.SIGHUP)
    master.wait_log("keeps serving", mark, timeout=90)
    seen = workers_seen(master, 2)
    assert len(seen) == 2 and all(generation(w) == 1 for w in seen.values()), seen
    # Fixed on disk: the next SIGHUP upgrades.
    master.exe.unlink()
    master.exe.write_bytes(good)
    master.exe.chmod(stat.S_IRWXU)
    mark = master.log_mark()
    os.kill(master.proc.pid, signal.SIGHUP)
    master.wait_log("serves", mark, timeout=90)
    seen = wait_for(lambda: (lambda s: s if len(s) == 2 and all(
        generation(w) == 2 for w in s.values()) else None)(workers_seen(master, 2)),
        "the fixed generation answering")
    assert seen


def test_a_site_saved_on_one_worker_reaches_a_stream_on_the_other(master):
    """The stream is opened while the second worker is stopped (SIGSTOP: only the
    first can accept), the site is saved while the first is stopped: the change
    crosses workers through the master."""
    import json
    p1, p2 = list(workers_seen(master, 2))
    c = http.client.HTTPConnection(master.host, master.port, timeout=20)
    c.request("POST", "/api/sites", body=json.dumps({"name": "Home", "lat": 1, "lon": 2}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    assert r.status == 201
    cookie = r.getheader("Set-Cookie").split(";", 1)[0]
    c.close()
    os.kill(p2, signal.SIGSTOP)
    try:
        stream = master.open_sse("/planets/stream", headers={"Cookie": cookie})
    finally:
        os.kill(p2, signal.SIGCONT)
    with stream:
        first = stream.next_event("sites").json()
        assert [s["name"] for s in first["sites"]] == ["Home"]
        os.kill(p1, signal.SIGSTOP)
        try:
            c = http.client.HTTPConnection(master.host, master.port, timeout=20)
            c.request("GET", "/healthz")
            assert json.loads(c.getresponse().read())["pid"] == p2
            c.request("POST", "/api/sites", body=json.dumps({"name": "Dark", "lat": 3, "lon": 4}),
                      headers={"Content-Type": "application/json", "Cookie": cookie})
            r = c.getresponse()
            r.read()
            assert r.status == 201, r.status
            c.close()
        finally:
            os.kill(p1, signal.SIGCONT)
        pushed = stream.next_event("sites").json()
        assert sorted(s["name"] for s in pushed["sites"]) == ["Dark", "Home"]


def metric_lines(srv):
    c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    return text.splitlines()


def test_metrics_count_every_worker(master):
    """Any worker's /metrics adds up the answers of all of them (shared memory)."""
    for _ in range(40):
        c = http.client.HTTPConnection(master.host, master.port, timeout=10)
        c.request("GET", "/planets/venus")
        assert c.getresponse().status == 200
        c.close()

    def summed():
        lines = metric_lines(master)
        total = next(float(l.split()[-1]) for l in lines
                     if l.startswith('planettracker_workers_responses_total{class="2xx"}'))
        per = [float(l.split()[-1]) for l in lines
               if l.startswith("planettracker_worker_responses_total{") and 'class="2xx"' in l]
        up = next(float(l.split()[-1]) for l in lines if l.startswith("planettracker_workers_up "))
        # Both workers answered some of the 40 (one accept per wake-up spreads them).
        if up == 2 and len(per) == 2 and all(p > 0 for p in per) and total >= 40 \
                and total == sum(per):
            return total
        return None
    assert wait_for(summed, "every worker's answers in one /metrics") >= 40


def test_max_requests_retires_workers_gracefully(request, tmp_path):
    srv = Server("retire", ["--workers", "1", "--max-requests", "50"])
    srv.start()
    request.addfinalizer(lambda: srv.stop())
    pids, failures, served = set(), [], 0
    deadline = time.monotonic() + WAIT_TIMEOUT_S * 3
    while len(pids) < 3 and time.monotonic() < deadline:
        try:
            pids.add(health(srv)["pid"])
            c = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
            c.request("GET", "/planets/jupiter")
            r = c.getresponse()
            r.read()
            c.close()
            served += 1
            if r.status != 200:
                failures.append(r.status)
        except OSError as e:
            failures.append(repr(e))
    assert len(pids) >= 3, (pids, served, srv.log_tail(30))
    assert failures == [], failures
    assert "retires after --max-requests" in srv.log_text()


def test_reload_on_a_new_binary(request, tmp_path):
    """--reload: writing a new binary over the old one starts a new generation."""
    exe = tmp_path / "planettracker"
    shutil.copy2(Server.binary(), exe)
    srv = Server("reload", ["--reload"], binary=str(exe))
    srv.start()
    request.addfinalizer(lambda: srv.stop())
    srv.wait_log("--reload: watching")
    wait_for(lambda: generation(health(srv)["worker"]) == 1, "generation 1 serving")
    mark = srv.log_mark()
    shutil.copy2(Server.binary(), tmp_path / "next")
    os.replace(tmp_path / "next", exe)   # what an install does: a new file, renamed over
    srv.wait_log("generation 2 serves", mark, timeout=90)
    wait_for(lambda: generation(health(srv)["worker"]) == 2, "generation 2 serving")


def test_a_worker_failing_at_boot_twice_is_given_up_and_health_says_so(master):
    """The binary on disk is broken, then a worker dies: its replacement fails at boot
    twice, the master stops restarting it, and the surviving worker's /healthz is
    degraded."""
    good = master.exe.read_bytes()
    master.exe.unlink()
    master.exe.write_text("#!/bin/sh\nexit 3\n")
    master.exe.chmod(stat.S_IRWXU)
    try:
        victim, survivor = list(workers_seen(master, 2))
        mark = master.log_mark()
        os.kill(victim, signal.SIGKILL)
        master.wait_log("failed at boot twice in a row", mark)
        h = wait_for(lambda: (lambda d: d if d["status"] == "degraded" and
                              d["supervisor"].startswith("degraded") else None)(health(master)),
                     "the surviving worker to report the supervisor degraded")
        assert h["pid"] == survivor
    finally:
        master.exe.unlink()
        master.exe.write_bytes(good)
        master.exe.chmod(stat.S_IRWXU)
    # Fixed and reloaded: a new generation, healthy supervision.
    mark = master.log_mark()
    os.kill(master.proc.pid, signal.SIGHUP)
    master.wait_log("serves", mark, timeout=90)
    wait_for(lambda: health(master).get("supervisor") == "ok", "supervision ok again")


def test_a_change_on_one_worker_is_seen_by_the_others_cached_site(master):
    """The site is read (and cached) by the first worker while the second is stopped,
    changed through the second while the first is stopped, then read again from the
    first: the master's relay made it forget its copy."""
    import json
    p1, p2 = list(workers_seen(master, 2))
    c = http.client.HTTPConnection(master.host, master.port, timeout=20)
    c.request("POST", "/api/sites", body=json.dumps({"name": "Roof", "lat": 11, "lon": 22}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    site = json.loads(r.read())
    assert r.status == 201, (r.status, site)
    cookie = r.getheader("Set-Cookie").split(";", 1)[0]
    c.close()

    def read_on(pid):
        conn = http.client.HTTPConnection(master.host, master.port, timeout=20)
        conn.request("GET", "/healthz")
        assert json.loads(conn.getresponse().read())["pid"] == pid
        conn.request("GET", f"/planets/moon?site={site['id']}", headers={"Cookie": cookie})
        doc = json.loads(conn.getresponse().read())
        conn.close()
        return doc["observer"]["lat"]

    os.kill(p2, signal.SIGSTOP)
    try:
        assert read_on(p1) == 11 and read_on(p1) == 11   # the second read is the cache's
    finally:
        os.kill(p2, signal.SIGCONT)
    os.kill(p1, signal.SIGSTOP)
    try:
        conn = http.client.HTTPConnection(master.host, master.port, timeout=20)
        conn.request("PATCH", f"/api/sites/{site['id']}", body=json.dumps({"lat": 33}),
                     headers={"Content-Type": "application/json", "Cookie": cookie})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        os.kill(p1, signal.SIGCONT)
    os.kill(p2, signal.SIGSTOP)
    try:
        # The relay reaches the first worker when it runs again: wait for it to apply.
        wait_for(lambda: read_on(p1) == 33, "the first worker to forget its cached site")
    finally:
        os.kill(p2, signal.SIGCONT)
