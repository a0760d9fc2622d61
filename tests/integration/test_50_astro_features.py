# SPDX-License-Identifier: AGPL-3.0-or-later
"""Issue #3 over real HTTP: every quantity of a body, GET /planets/{name}/events on
the executor (the loop keeps serving meanwhile), the Moshier fallback when the
ephemeris files are missing, and `planettracker now` on the same code path."""
import json
import math
import subprocess
import threading
import time

import pytest

from conftest import WAIT_TIMEOUT_S, Server, build_request, query, start_server

PARIS = {"lat": "48.8566", "lon": "2.3522", "elevation": "35"}
BODIES = ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto"]


def iso_seconds(s):
    """Seconds of an ISO 8601 UTC time string ("...T08:30:00.123Z")."""
    from datetime import datetime
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_every_body_carries_every_quantity(server):
    doc = server.get_json(query("/planets", time="2026-03-20T20:00:00Z", **PARIS))
    assert [b["name"] for b in doc["bodies"]] == BODIES
    for b in doc["bodies"]:
        assert isinstance(b["magnitude"], float), b
        assert 0.0 <= b["phase"] <= 1.0, b
        assert 0.0 <= b["elongation"] <= 180.0, b
        assert len(b["constellation"]) == 3 and b["constellation_name"], b
        assert b["status"] in ("rises_sets", "circumpolar", "never_rises"), b
        assert b["above_horizon"] == (b["alt"] > 0), b
        t0 = iso_seconds(doc["time"])
        for k in ("rise", "transit", "set"):
            if b[k] is not None:
                # The next event: after the instant, within ~1.1 day.
                assert 0 < iso_seconds(b[k]) - t0 < 1.1 * 86400, (k, b)
    sun = doc["bodies"][0]
    assert sun["elongation"] == pytest.approx(0, abs=1e-6) and sun["phase"] == 1.0
    assert sun["magnitude"] == pytest.approx(-26.8, abs=0.2)
    # 2026-03-20 is the March equinox: the Sun is in Pisces.
    assert sun["constellation"] == "Psc"
    # Provenance once per answer.
    assert doc["ephemeris"] == "swisseph" and doc["timescale"] == "utc"
    assert 60 < doc["deltat_s"] < 80


def test_single_body_matches_the_all_bodies_answer(server):
    t = "2026-03-20T20:00:00Z"
    all_ = {b["name"]: b for b in server.get_json(query("/planets", time=t, **PARIS))["bodies"]}
    for name in ("moon", "mars"):
        one = server.get_json(query(f"/planets/{name}", time=t, **PARIS))
        for k in ("az", "alt", "ra", "dec", "distance_au", "magnitude", "phase", "rise", "set",
                  "constellation"):
            assert one[k] == all_[name][k], (name, k)


def test_polar_sun_is_circumpolar_in_june(server):
    b = server.get_json(query("/planets/sun", lat="80", lon="0", time="2026-06-21T12:00:00Z"))
    assert b["status"] == "circumpolar" and b["rise"] is None and b["set"] is None
    b = server.get_json(query("/planets/sun", lat="80", lon="0", time="2026-12-21T12:00:00Z"))
    assert b["status"] == "never_rises" and b["rise"] is None and b["set"] is None


def test_events_for_each_day(server):
    doc = server.get_json(query("/planets/sun/events", days="3", time="2026-11-21T15:00:00Z",
                                **PARIS))
    assert doc["name"] == "sun" and doc["days"] == 3
    assert [e["date"] for e in doc["events"]] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    for e in doc["events"]:
        # Paris in late November: sunrise about 07:10 UTC, sunset about 16:00 UTC.
        assert e["rise"].startswith(e["date"] + "T07:"), e
        assert e["set"].startswith(e["date"] + "T15:") or e["set"].startswith(e["date"] + "T16:")
        assert e["status"] == "rises_sets"


@pytest.mark.parametrize("days", ["0", "367", "1.5", "x", "-1"])
def test_events_days_out_of_range(server, days):
    r = server.get(query("/planets/moon/events", days=days, **PARIS))
    assert r.status == 400
    assert r.json()["parameter"] == "days"


def test_events_unknown_body(server):
    assert server.get("/planets/vulcan/events").status == 404


def test_events_run_off_the_loop(server):
    """While long event searches run on the executor, the loop answers at once.

    Told by the order of events, not by durations: 8 keep-alive connections are
    each served once (so the server is reading them), then all 8 send a year-long
    search at once; probes of /healthz made after that, on new connections, must
    be answered before any search is. A server that ran the searches on its loop
    would read them before the next probe (their bytes wait on connections it is
    already reading) and answer no probe until it had answered them."""
    n = 8
    results = {}
    errors = []
    ready = [threading.Event() for _ in range(n)]
    sent = [threading.Event() for _ in range(n)]
    go = threading.Event()

    def long_request(i):
        try:
            with server.connect(timeout=120) as c:
                c.send(build_request("GET", "/healthz"))
                assert c.read_response().status == 200
                ready[i].set()
                go.wait(WAIT_TIMEOUT_S)
                c.send(build_request("GET", query(f"/planets/{BODIES[i % 10]}/events",
                                                  days="366", time="1950-01-01T00:00:00Z",
                                                  **PARIS)))
                sent[i].set()
                r = c.read_response(timeout=120)
                results[i] = (r.status, time.monotonic())
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(repr(e))
            results.setdefault(i, (None, time.monotonic()))

    threads = [threading.Thread(target=long_request, args=(i,)) for i in range(n)]
    probes = []
    try:
        for th in threads:
            th.start()
        for e in ready:
            assert e.wait(WAIT_TIMEOUT_S), f"a connection was not served: {errors}"
        go.set()
        for e in sent:
            assert e.wait(WAIT_TIMEOUT_S), f"a search was not sent: {errors}"
        while not results:
            assert server.get("/healthz").status == 200
            probes.append(time.monotonic())
        first_answer = min(t for _, t in results.values())
    finally:
        go.set()
        for th in threads:
            th.join(120)
    assert not errors, errors
    assert len(results) == n and all(status == 200 for status, _ in results.values()), results
    # A probe takes a few connection round trips, a search a hundred times more
    # work: the margin is a ratio of work, not a time.
    answered = [t for t in probes if t < first_answer]
    assert len(answered) >= 3, \
        f"{len(answered)} probes answered while the {n} searches ran ({len(probes)} made)"


@pytest.fixture(scope="module")
def moshier_server(request, tmp_path_factory):
    empty = tmp_path_factory.mktemp("no-ephemeris")
    return start_server(request, "moshier", ["--ephe-path", str(empty)])


def test_missing_files_fall_back_to_moshier_and_say_so(moshier_server, server):
    h = moshier_server.get_json("/healthz")
    assert h["ephemeris"] == "moshier" and h["ephemeris_files"] is False
    assert "Moshier" in h["warning"]
    t = "2026-03-20T20:00:00Z"
    m = moshier_server.get_json(query("/planets/mars", time=t, **PARIS))
    s = server.get_json(query("/planets/mars", time=t, **PARIS))
    assert m["ephemeris"] == "moshier" and s["ephemeris"] == "swisseph"
    # The analytic theory agrees with the files to a few arcseconds.
    assert abs(m["alt"] - s["alt"]) * 3600 < 5 and abs(m["az"] - s["az"]) * 3600 < 5


def test_cli_now_matches_the_api(server):
    t = "2026-03-20T20:00:00Z"
    out = subprocess.run([Server.binary(), "now", "mars", "moon", "--lat", PARIS["lat"],
                          "--lon", PARIS["lon"], "--elevation", PARIS["elevation"], "--time", t,
                          "--json"], capture_output=True, text=True, timeout=60, check=True)
    cli = {b["name"]: b for b in json.loads(out.stdout)["bodies"]}
    assert sorted(cli) == ["mars", "moon"]
    for name in cli:
        api = server.get_json(query(f"/planets/{name}", time=t, **PARIS))
        for k in ("az", "alt", "ra", "dec", "magnitude", "rise", "set"):
            assert cli[name][k] == api[k], (name, k)
    table = subprocess.run([Server.binary(), "now", "--lat", "48.85", "--lon", "2.35",
                            "--time", t], capture_output=True, text=True, timeout=60, check=True)
    lines = table.stdout.splitlines()
    # A header, the time data, the column names, ten bodies.
    assert len(lines) == 13 and all(any(line.startswith(b) for line in lines) for b in BODIES)
    assert lines[1].startswith("time data: observed, UT1-UTC "), lines[1]
    bad = subprocess.run([Server.binary(), "now", "--lat", "95", "--lon", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--lat" in bad.stderr
    assert not math.isnan(cli["mars"]["alt"])
