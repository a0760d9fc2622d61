# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 56: the Earth-orientation updater (issue 9). A local HTTP server started
here plays the IERS: it serves, in turn, a 404, a corrupt file, a truncated one,
one that stalls half-way, one older than the data in use, and then a good one
(the built-in snapshot with UT1-UTC raised by exactly 10 ms and ten more days
observed). The running planettracker, told to check every second or so, must
keep its data through every bad download (and say why in /healthz and count it
in /metrics), keep answering meanwhile, pick up the good one without a restart
(answers move by the 10 ms), save it in --data-dir (read back after a restart),
and be told "not modified" by its ETag on the next check."""

import http.server
import threading
import time
from pathlib import Path

import pytest

from conftest import WAIT_TIMEOUT_S, Server, wait_for

REPO = Path(__file__).resolve().parents[2]
FINALS = (REPO / "data" / "iers" / "finals2000A.all").read_bytes()
LEAP = (REPO / "data" / "iers" / "Leap_Second.dat").read_bytes()
SHIFT_S = 0.0100
# An instant in the predictions of both tables (the request a user makes "now").
WHEN = "2026-12-02T12:00:00Z"
PLACE = "lat=48.85&lon=2.35&elevation=0&pressure=0"


def rows(text):
    return text.decode("ascii").splitlines(keepends=True)


def with_values(line):
    return len(line.rstrip("\n")) >= 68 and line[58:68].strip() != ""


def shifted_and_extended(shift_s, more_observed):
    """The snapshot with UT1-UTC + shift_s on every row and more_observed predicted
    rows flagged observed (I): a newer Bulletin A, as the IERS would publish it."""
    out, flipped = [], 0
    for line in rows(FINALS):
        if with_values(line):
            dut1 = float(line[58:68]) + shift_s
            line = line[:58] + f"{dut1:10.7f}" + line[68:]
            if line[57] == "P" and flipped < more_observed:
                line = line[:16] + "I" + line[17:57] + "I" + line[58:]
                flipped += 1
        out.append(line)
    return "".join(out).encode("ascii")


def older(days):
    """The snapshot with its last `days` observed rows flagged as predictions."""
    lines = rows(FINALS)
    observed = [i for i, l in enumerate(lines) if with_values(l) and l[57] == "I"]
    for i in observed[-days:]:
        l = lines[i]
        lines[i] = l[:16] + "P" + l[17:57] + "P" + l[58:]
    return "".join(lines).encode("ascii")


def corrupt():
    lines = rows(FINALS)
    i = len(lines) // 2
    lines[i] = lines[i][:58] + "  garbage " + lines[i][68:]
    return "".join(lines).encode("ascii")


class Iers:
    """What the fake IERS serves at /finals and /leap, switchable by the test."""

    def __init__(self):
        self.mode = "404"
        self.good = shifted_and_extended(SHIFT_S, 10)
        self.hits = {}
        self.lock = threading.Lock()
        self.release = threading.Event()  # ends stalled answers at teardown

    def count(self, what):
        with self.lock:
            self.hits[what] = self.hits.get(what, 0) + 1


def make_handler(iers):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_body(self, body, etag=None):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/leap":
                iers.count("leap")
                return self.send_body(LEAP)
            if self.path != "/finals":
                self.send_error(404)
                return
            mode = iers.mode
            iers.count(mode)
            if mode == "404":
                self.send_error(404)
            elif mode == "corrupt":
                self.send_body(corrupt())
            elif mode == "truncated":
                self.send_body(iers.good[: len(iers.good) // 2 + 37])
            elif mode == "older":
                self.send_body(older(20))
            elif mode == "stall":
                self.send_response(200)
                self.send_header("Content-Length", str(len(iers.good)))
                self.end_headers()
                self.wfile.write(iers.good[:100000])
                self.wfile.flush()
                iers.release.wait(WAIT_TIMEOUT_S)
                self.close_connection = True
            elif mode == "good":
                if self.headers.get("If-None-Match") == '"good-1"':
                    iers.count("not-modified")
                    self.send_response(304)
                    self.send_header("ETag", '"good-1"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_body(iers.good, etag='"good-1"')

    return Handler


@pytest.fixture
def iers():
    state = Iers()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


def start(name, args):
    return Server(name, args).start()


def stop_clean(srv):
    problems = srv.stop()
    assert not problems, (problems, srv.log_tail(60))


def answer(srv):
    return srv.get_json(f"/planets/sun?{PLACE}&time={WHEN}")


def health_eop(srv):
    r = srv.get("/healthz")
    assert r.status in (200, 503), r
    return r.json()["eop"]


def wait_failure(srv, after, words):
    """Wait for a failed update after the first `after` ones whose reason contains one
    of words (a check already under way when the mode changed may fail the old way)."""
    def seen():
        e = health_eop(srv)
        ok = e["updates_failed"] > after and any(w in e.get("last_error", "") for w in words)
        return e if ok else None
    return wait_for(seen, f"a failed update saying {words}")


def test_updater_keeps_data_through_bad_downloads_and_takes_a_good_one(iers, tmp_path):
    data_dir = tmp_path / "data"
    srv = start("eop-updater", [
        "--eop-url", f"{iers.base}/finals", "--eop-leap-url", f"{iers.base}/leap",
        "--eop-refresh-hours", "0.0003", "--eop-timeout-ms", "3000",
        "--data-dir", str(data_dir)])
    try:
        base = answer(srv)
        assert health_eop(srv)["updater"] == f"{iers.base}/finals"
        for mode, words in [("404", ["HTTP 404"]),
                            ("corrupt", ["bad UT1-UTC"]),
                            ("truncated", ["newline", "cut short"]),
                            ("stall", ["TIMEOUT", "imeout"]),
                            ("older", ["older than the data in use"])]:
            iers.mode = mode
            wait_failure(srv, health_eop(srv)["updates_failed"], words)
            # The data in use has not moved, and the server answers meanwhile.
            doc = answer(srv)
            assert doc["ut1_utc_s"] == base["ut1_utc_s"], (mode, doc["ut1_utc_s"])
            assert doc["az"] == base["az"] and doc["eop"] == base["eop"], mode
            assert not (data_dir / "finals2000A.all").exists(), mode
        assert iers.hits.get("stall", 0) >= 1

        iers.mode = "good"
        wait_for(lambda: health_eop(srv)["updates_ok"] >= 1, "the good update")
        doc = answer(srv)
        assert abs(doc["ut1_utc_s"] - (base["ut1_utc_s"] + SHIFT_S)) < 1e-6, doc["ut1_utc_s"]
        assert doc["eop"]["file_date"] > base["eop"]["file_date"], doc["eop"]
        # 10 ms of Earth rotation: about 0.15" of hour angle, 0.1" on the sky in Paris.
        assert doc["az"] != base["az"]
        e = health_eop(srv)
        assert e["origin"] == f"{iers.base}/finals" and e["last_update"] is not None, e
        assert (data_dir / "finals2000A.all").read_bytes() == iers.good
        assert (data_dir / "Leap_Second.dat").read_bytes() == LEAP
        assert not list(data_dir.glob("*.tmp.*"))

        # The next check sends the ETag: not modified, nothing downloaded or changed.
        wait_for(lambda: health_eop(srv)["updates_unchanged"] >= 1, "a not-modified check")
        assert iers.hits.get("not-modified", 0) >= 1
        # A bad download after a good one keeps the good one.
        failures = health_eop(srv)["updates_failed"]
        iers.mode = "corrupt"
        wait_failure(srv, failures, ["bad UT1-UTC"])
        assert answer(srv)["ut1_utc_s"] == doc["ut1_utc_s"]
        m = srv.metrics()
        assert m['planettracker_eop_updates_total{result="ok"}'] == 1, m
        assert m['planettracker_eop_updates_total{result="failed"}'] >= failures + 1, m
        assert m['planettracker_eop_updates_total{result="unchanged"}'] >= 1, m
        assert m["planettracker_eop_last_update_timestamp_seconds"] > 0, m
    finally:
        iers.release.set()
        stop_clean(srv)

    # A restart, offline, uses what was saved.
    srv = start("eop-saved", ["--eop-url", "none", "--data-dir", str(data_dir)])
    try:
        doc = answer(srv)
        assert abs(doc["ut1_utc_s"] - (base["ut1_utc_s"] + SHIFT_S)) < 1e-6, doc["ut1_utc_s"]
        e = health_eop(srv)
        assert e["origin"] == f"{data_dir}/finals2000A.all" and e["updater"] == "off", e
    finally:
        stop_clean(srv)


def test_a_leap_file_that_cannot_be_had_keeps_the_one_in_use(iers, tmp_path):
    iers.mode = "good"
    srv = start("eop-noleap", [
        "--eop-url", f"{iers.base}/finals", "--eop-leap-url", f"{iers.base}/missing-leap",
        "--eop-refresh-hours", "1", "--data-dir", str(tmp_path)])
    try:
        wait_for(lambda: health_eop(srv)["updates_ok"] >= 1, "the update")
        assert "keeping the leap-second table in use" in srv.log_text()
        assert (tmp_path / "Leap_Second.dat").read_bytes() == LEAP  # the built-in one
    finally:
        stop_clean(srv)


def test_an_update_that_cannot_be_saved_is_still_served(iers, tmp_path):
    """--data-dir that cannot be created (a regular file is in the way): the new data
    is in use anyway, and /healthz says it could not be kept."""
    iers.mode = "good"
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    srv = start("eop-nosave", [
        "--eop-url", f"{iers.base}/finals", "--eop-leap-url", "none",
        "--eop-refresh-hours", "1", "--data-dir", str(blocker / "data")])
    try:
        e = wait_for(lambda: (lambda h: h if h["updates_ok"] >= 1 else None)(health_eop(srv)),
                     "the update")
        assert "cannot write into" in e["last_error"], e
        doc = answer(srv)
        assert doc["eop"]["file_date"] > "2026-08-14", doc["eop"]  # the built-in's date
    finally:
        stop_clean(srv)


def test_shutdown_is_not_held_by_a_stalled_download(iers, tmp_path):
    iers.mode = "stall"
    srv = start("eop-stall-stop", [
        "--eop-url", f"{iers.base}/finals", "--eop-leap-url", "none",
        "--eop-timeout-ms", "600000", "--data-dir", str(tmp_path)])
    try:
        wait_for(lambda: iers.hits.get("stall", 0) >= 1, "the download to start")
        t0 = time.monotonic()
    finally:
        stop_clean(srv)
    # The download was abandoned at once, not waited for (its deadline is 10 minutes).
    assert time.monotonic() - t0 < WAIT_TIMEOUT_S


@pytest.mark.parametrize("url", ["ftp://example.org/finals", "file:///etc/passwd", "http://"])
def test_eop_url_must_be_http(url):
    import subprocess
    p = subprocess.run([Server.binary(), "serve", "--eop-url", url], capture_output=True,
                       timeout=30)
    assert p.returncode == 2 and b"http:// or https://" in p.stderr, p
