# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 10: the server starts, answers the basic routes, and its command line
behaves. Cheap checks that every later tier relies on; /healthz is fetched with
urllib as well, so the raw-socket parser of conftest.py is cross-checked by an
independent client."""

import email.utils
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BODIES, GREENWICH, Server


def test_healthz_with_urllib(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=15) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        doc = json.loads(r.read())
    # Degraded only by the age of the Earth-orientation data compiled in (test_55).
    assert doc["status"] == "ok" or doc["eop"]["warnings"], doc
    assert doc["ephemeris"] == "swisseph"
    assert doc["ephemeris_files"] is True
    assert "warning" not in doc


def test_healthz_raw(server):
    before = time.time()
    r = server.get("/healthz")
    after = time.time()
    assert r.status == 200
    assert r.version == "HTTP/1.1"
    assert r.reason == "OK"
    assert int(r.header("Content-Length")) == len(r.body)
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
                        r.header("Date")), r.header("Date")
    date = email.utils.parsedate_to_datetime(r.header("Date")).timestamp()
    # Stamped while the request was served, however long that took: whole seconds,
    # from a copy the server refreshes by a timer on each second (a second or so old).
    assert int(before) - 2 <= date <= after, (r.header("Date"), before, after)
    doc = r.json()
    assert doc["status"] == "ok" or doc["eop"]["warnings"], doc
    assert doc["ephemeris"] == "swisseph"
    assert doc["ephemeris_files"] is True


def test_planet_default_observer(server):
    doc = server.get_json("/planets/mars")
    assert doc["name"] == "mars"
    for key in ("az", "alt", "ra", "dec", "distance_au", "deltat_s"):
        assert isinstance(doc[key], (int, float)) and not isinstance(doc[key], bool), key
    assert doc["timescale"] == "utc"
    assert doc["ephemeris"] == "swisseph"
    obs = doc["observer"]
    assert obs["source"] == "default"
    assert (obs["lat"], obs["lon"], obs["elevation"]) == (GREENWICH[0], GREENWICH[1], 0)
    assert obs["pressure"] == 1010 and obs["temperature"] == 15


def test_all_planets(server):
    doc = server.get_json("/planets")
    assert [b["name"] for b in doc["bodies"]] == BODIES
    assert "time" in doc and "observer" in doc


def test_index_page(server):
    r = server.get("/")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/html")
    assert b"<html" in r.body.lower()


def test_unknown_path_is_json_404(server):
    r = server.get("/no/such/thing")
    assert r.status == 404
    doc = r.json()
    assert doc["error"] and doc["message"]


def test_help_exits_zero():
    out = subprocess.run([Server.binary(), "--help"], capture_output=True, timeout=30)
    assert out.returncode == 0
    assert b"usage: planettracker serve" in out.stdout


def test_bad_option_exits_two():
    out = subprocess.run([Server.binary(), "serve", "--no-such-option", "1"], capture_output=True,
                         timeout=30)
    assert out.returncode == 2
    assert b"usage" in out.stderr


def test_port_in_use_fails_cleanly(server, tmp_path):
    # DATA_DIR: the store opens before the listener, and must not land in ./var.
    out = subprocess.run([Server.binary(), "serve", "--host", "127.0.0.1", "--port",
                          str(server.port)], capture_output=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "EOP_URL": "none",
                              "DATA_DIR": str(tmp_path), "ASAN_OPTIONS": "detect_leaks=1"})
    assert out.returncode == 1, out
    err = out.stderr.decode("utf-8", "replace")
    assert "cannot listen" in err
    for marker in ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert marker not in err, err


# It idles in short sleeps (the TERM trap runs between two of them); nothing waits on them.
FAKE_SERVER = """#!/bin/sh
trap 'echo "{report}" >&2; exit {status}' TERM
echo "PlanetTracker 0.0.0 listening on http://127.0.0.1:9/" >&2
while :; do sleep 0.05; done
"""


@pytest.mark.parametrize("report,status,problem", [
    ("src/x.c:1:2: runtime error: signed integer overflow", 0, "runtime error:"),
    ("==1==ERROR: AddressSanitizer: heap-use-after-free", 0, "ERROR: AddressSanitizer"),
    ("==1==ERROR: LeakSanitizer: detected memory leaks", 0, "LeakSanitizer"),
    ("stopped", 3, "exit status 3"),
])
def test_harness_detects_a_dirty_exit(tmp_path, report, status, problem):
    """The teardown check itself can fail: a fake server that reports a sanitizer
    error or exits non-zero at SIGTERM is flagged."""
    fake = tmp_path / "fake-server"
    fake.write_text(FAKE_SERVER.format(report=report, status=status))
    fake.chmod(0o755)
    srv = Server("fake", binary=str(fake)).start()
    assert srv.port == 9
    problems = srv.stop()
    assert any(problem in p for p in problems), problems


def test_harness_clean_exit_has_no_problems(tmp_path):
    fake = tmp_path / "fake-server"
    fake.write_text(FAKE_SERVER.format(report="stopped", status=0))
    fake.chmod(0o755)
    srv = Server("fake", binary=str(fake)).start()
    assert srv.stop() == []
