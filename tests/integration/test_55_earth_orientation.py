# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 55: the real sky for a request in UTC -- IERS UT1, leap seconds and polar
motion (issue 9). The reference is tests/data/truth-cases-now-public.csv: 1000
UTC instants 2024-01 .. 2027-06 whose positions were computed by libswe with UT1
and polar motion interpolated from IERS finals2000A (its columns dut1_s, xp_as,
yp_as), independently of this server. Also: the provenance of every answer,
observed / predicted / model, leap seconds, /healthz and `planettracker now`."""

import csv
import gzip
import json
import math
import re
import statistics
import subprocess
from pathlib import Path

import pytest

from conftest import IO_TIMEOUT_S, SseReader, Server, build_request, query

NOW_TRUTH = Path(__file__).resolve().parents[1] / "data" / "truth-cases-now-public.csv"
HORIZONS_MOON = Path(__file__).resolve().parents[1] / "data" / "horizons" / "airless_Moon.txt.gz"
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
ARCSEC = 1 / 3600.0


def great_circle_as(az1, alt1, az2, alt2):
    """Angle between two (az, alt) directions, arcseconds (haversine: exact for tiny angles)."""
    a1, b1, a2, b2 = (math.radians(v) for v in (az1, alt1, az2, alt2))
    h = math.sin((b2 - b1) / 2) ** 2 + math.cos(b1) * math.cos(b2) * math.sin((a2 - a1) / 2) ** 2
    return math.degrees(2 * math.asin(math.sqrt(h))) * 3600


def now_rows():
    with NOW_TRUTH.open() as f:
        return list(csv.DictReader(f))


def test_the_sky_for_utc_requests_matches_the_iers_based_reference(server):
    """Every one of the 1000 cases, airless az/alt: within 0.01" of the reference
    (the Moon 0.16": see below), and the time data stated equal to the reference's. The old
    Delta T model was 1.6-7.9" off here (bench/RESULTS.md)."""
    worst = {}
    with server.connect() as c:
        for r in now_rows():
            c.send(build_request("GET", query(
                f"/planets/{r['body']}", lat=r["lat_deg"], lon=r["lon_deg"],
                elevation=r["elev_m"], time=r["iso_utc"], pressure=0)))
            resp = c.read_response()
            assert resp.status == 200, resp
            doc = resp.json()
            err = great_circle_as(doc["az"], doc["alt_airless"], float(r["az_deg"]),
                                  float(r["alt_airless_deg"]))
            # The reference is libswe's, which places the observer without nutation;
            # we place it about the true pole, as the Earth and JPL Horizons do, which
            # moves the Moon by up to 0.154" from it (the reference's error:
            # test_the_moon_matches_jpl_horizons below).
            tol = 0.16 if r["body"] == "moon" else 0.01
            assert err <= tol, (r["id"], r["body"], r["iso_utc"], f'{err:.4f}"')
            assert abs(doc["ut1_utc_s"] - float(r["dut1_s"])) < 1e-6, (doc["ut1_utc_s"], r)
            assert abs(doc["polar_motion_as"][0] - float(r["xp_as"])) < 1e-5, r
            assert abs(doc["polar_motion_as"][1] - float(r["yp_as"])) < 1e-5, r
            assert abs(doc["deltat_s"] - float(r["deltat_s"])) < 1e-6, r
            assert doc["eop"]["source"] in ("observed", "predicted"), doc["eop"]
            worst[r["body"]] = max(worst.get(r["body"], 0), err)
    assert len(worst) == 10, worst


def horizons_moon_rows():
    """JPL Horizons (DE431, April 2019), the Moon seen from 81 W 29 N 10 m, airless,
    every 10 days: (UTC ISO, apparent RA, Dec) for 1973-2018, where Horizons used
    IERS UT1 and polar motion as we do."""
    out, inside = [], False
    with gzip.open(HORIZONS_MOON, "rt") as f:
        for line in f:
            inside = (inside or line.startswith("$$SOE")) and not line.startswith("$$EOE")
            m = re.match(r"\s*(\d{4})-(\w{3})-(\d{2}) (\d{2}):(\d{2})\s+[A-Za-z*]*\s+[-\d.]+\s+"
                         r"[-\d.]+\s+([-\d.]+)\s+([-\d.]+)", line)
            if inside and m and 1973 <= int(m.group(1)) <= 2018:
                iso = (f"{m.group(1)}-{MONTHS[m.group(2)]:02d}-{m.group(3)}T"
                       f"{m.group(4)}:{m.group(5)}:00Z")
                out.append((iso, float(m.group(6)), float(m.group(7))))
    return out


def test_the_moon_matches_jpl_horizons(server):
    """The observer placed about the true pole (nutation included), not about the mean
    pole as libswe does: the Moon's apparent topocentric RA/Dec against JPL Horizons,
    1680 instants 1973-2018, within 0.02" median and 0.04" max once Horizons' constant
    RA offset (about +0.05", its equinox) is removed. libswe's placement gives 0.088"
    median and 0.19" max here (bench/RESULTS.md). Horizons prints 5 decimals of a
    degree (0.018" steps)."""
    rows = horizons_moon_rows()
    assert len(rows) > 1600, len(rows)
    docs = []
    with server.connect() as c:
        for iso, _, _ in rows:
            c.send(build_request("GET", query("/planets/moon", lat=29, lon=-81, elevation=10,
                                              pressure=0, time=iso)))
            resp = c.read_response()
            assert resp.status == 200, resp
            docs.append(resp.json())
    dra = [((d["ra"] - ra + 180) % 360 - 180) * 3600 * math.cos(math.radians(dec))
           for (_, ra, dec), d in zip(rows, docs)]
    offset = statistics.median(dra)
    assert 0.03 < offset < 0.07, offset
    errs = []
    for (iso, ra, dec), d in zip(rows, docs):
        ra_fixed = d["ra"] - offset / 3600 / math.cos(math.radians(dec))
        errs.append(great_circle_as(ra_fixed, d["dec"], ra, dec))
    errs.sort()
    median, worst = statistics.median(errs), errs[-1]
    assert median <= 0.02 and worst <= 0.04, (f'median {median:.4f}"', f'max {worst:.4f}"')


def provenance_ok(doc):
    assert isinstance(doc["ut1_utc_s"], (int, float)), doc
    assert isinstance(doc["deltat_s"], (int, float)), doc
    pm = doc["polar_motion_as"]
    assert isinstance(pm, list) and len(pm) == 2, doc
    assert doc["eop"]["source"] in ("observed", "predicted", "model"), doc
    assert doc["eop"]["file_date"] is None or len(doc["eop"]["file_date"]) == 10, doc


def test_provenance_is_in_every_answer(server):
    provenance_ok(server.get_json("/planets/mars?lat=1&lon=2"))
    provenance_ok(server.get_json("/planets?lat=1&lon=2"))
    provenance_ok(server.get_json("/planets/moon/events?lat=1&lon=2&days=1&time=2025-01-01"))
    with server.open_sse("/planets/stream?lat=1&lon=2&bodies=mars") as s:
        provenance_ok(s.next_event().json())
    with server.open_ws("/ws?lat=1&lon=2") as w:
        provenance_ok(w.recv_json("positions"))


@pytest.mark.parametrize("when,source", [
    ("2020-06-01T00:00:00Z", "observed"),
    ("2026-12-02T12:00:00Z", "predicted"),
    ("1960-01-01T00:00:00Z", "model"),
    ("2030-01-01T00:00:00Z", "model"),
])
def test_observed_predicted_and_model(server, when, source):
    doc = server.get_json(query("/planets/sun", lat=10, lon=20, time=when))
    assert doc["eop"]["source"] == source, doc["eop"]
    if source == "model":
        assert doc["polar_motion_as"] == [0, 0]
        assert doc["ut1_utc_s"] == 0          # UTC taken as UT1 outside the data
    else:
        assert 0.0 < math.hypot(*doc["polar_motion_as"]) < 1.0
        assert abs(doc["ut1_utc_s"]) < 0.9
        # TT - UTC = TAI - UTC + 32.184 s = 69.184 s since 2017.
        assert abs(doc["deltat_s"] + doc["ut1_utc_s"] - 69.184) < 1e-6, doc


def test_the_same_instant_in_every_scale_gives_the_same_sky(server):
    utc = server.get_json(query("/planets/moon", lat=45, lon=7, time="2025-03-01T10:00:00Z"))
    jd_ut1 = utc["jd_ut1"]
    ut1 = server.get_json(query("/planets/moon", lat=45, lon=7, timescale="ut1",
                                time=repr((jd_ut1 - 2440587.5) * 86400)))
    tt = server.get_json(query("/planets/moon", lat=45, lon=7, timescale="tt",
                               time=repr((jd_ut1 - 2440587.5) * 86400 + utc["deltat_s"])))
    for doc in (ut1, tt):
        assert abs(doc["jd_ut1"] - jd_ut1) < 1e-9, doc
        assert abs(doc["ut1_utc_s"] - utc["ut1_utc_s"]) < 1e-6
        assert doc["polar_motion_as"] == pytest.approx(utc["polar_motion_as"], abs=1e-9)
        assert abs(doc["alt"] - utc["alt"]) * 3600 < 0.001


def test_leap_seconds_come_from_the_iers_table(server):
    # 2016 ended with a leap second: 23:59:60 exists, and TT runs on across it.
    a = server.get_json(query("/planets/sun", lat=0, lon=0, time="2016-12-31T23:59:59Z"))
    b = server.get_json(query("/planets/sun", lat=0, lon=0, time="2016-12-31T23:59:60Z"))
    c = server.get_json(query("/planets/sun", lat=0, lon=0, time="2017-01-01T00:00:00Z"))
    tt = [d["jd_ut1"] * 86400 + d["deltat_s"] for d in (a, b, c)]
    assert tt[1] - tt[0] == pytest.approx(1.0, abs=1e-3)
    assert tt[2] - tt[1] == pytest.approx(1.0, abs=1e-3)
    assert c["deltat_s"] + c["ut1_utc_s"] == pytest.approx(69.184, abs=1e-6)   # TAI-UTC 37
    assert a["deltat_s"] + a["ut1_utc_s"] == pytest.approx(68.184, abs=1e-6)   # TAI-UTC 36
    # 2015 had none: second 60 is refused.
    r = server.get(query("/planets/sun", lat=0, lon=0, time="2015-12-31T23:59:60Z"))
    assert r.status == 400 and r.json()["parameter"] == "time", r


def test_healthz_tells_the_data_age_and_expiry(server):
    doc = server.get_json("/healthz")
    e = doc["eop"]
    for k in ("file_date", "last_observed", "predictions_end", "leap_seconds_expire"):
        assert len(e[k]) == 10 and e[k][4] == "-", (k, e)
    assert e["tai_utc_s"] == 37
    assert e["prediction_age_days"] >= 0
    # The data compiled in was observed to August 2026: today's values are older
    # predictions than 30 days, which must show.
    if e["prediction_age_days"] > 30:
        assert doc["status"] == "degraded", doc
        assert any("predictions made" in w for w in e["warnings"]), e
    else:
        assert doc["status"] == "ok", doc


def test_now_prints_the_time_data():
    out = subprocess.run([Server.binary(), "now", "moon", "--lat", "48.85", "--lon", "2.35",
                          "--time", "2026-12-02T12:00:00Z"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "time data: predicted, UT1-UTC -0.0658 s" in out, out
    doc = json.loads(subprocess.run(
        [Server.binary(), "now", "moon", "--lat", "48.85", "--lon", "2.35", "--time",
         "2020-06-01T00:00:00Z", "--json"], capture_output=True, text=True, timeout=120,
        check=True).stdout)
    assert doc["eop"]["source"] == "observed" and doc["polar_motion_as"] != [0, 0], doc
