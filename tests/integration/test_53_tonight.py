# SPDX-License-Identifier: AGPL-3.0-or-later
"""GET /planets/tonight: the night of an observer (sunset to sunrise, the
twilights, darkness with and without the Moon, the Moon's phase, each body's
hours up and well placed and its best moment), polar night, midnight sun and
white nights named, the same night for 23:00 and 03:00, cached answers equal to
computed ones, and the twilight instants checked against /planets (the Sun's
airless altitude there is the twilight's)."""
import datetime

import pytest

from conftest import query

PARIS = {"lat": "48.85", "lon": "2.35"}
TROMSO = {"lat": "69.65", "lon": "18.96"}
PETERSBURG = {"lat": "59.93", "lon": "30.33"}
BODIES = ["sun", "moon", "mercury", "venus", "mars", "jupiter", "saturn", "uranus",
          "neptune", "pluto"]
VERDICTS = {"naked_eye", "binoculars", "telescope", "too_low", "daylight", "glare",
            "below_horizon"}


def ts(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def tonight(server, where, time, **more):
    return server.get_json(query("/planets/tonight", time=time, **where, **more))


def test_a_december_night_in_paris(server):
    doc = tonight(server, PARIS, "2026-12-15T22:00:00Z")
    n = doc["night"]
    assert n["status"] == "normal" and n["date"] == "2026-12-15"
    order = [n["sunset"], n["dusk"]["civil"], n["dusk"]["nautical"], n["dusk"]["astronomical"],
             n["dawn"]["astronomical"], n["dawn"]["nautical"], n["dawn"]["civil"], n["sunrise"]]
    assert all(order), order
    times = [ts(x) for x in order]
    assert times == sorted(times), order
    # Sunset 16:54 and sunrise 08:38 in Paris (CET) that day.
    assert order[0].startswith("2026-12-15T15:5") and order[-1].startswith("2026-12-16T07:3")
    assert ts(n["window_start"]) <= ts(doc["time"]) < ts(n["window_end"])
    # The dark hours without the Moon lie inside the astronomical night.
    assert len(n["dark"]) == 1
    for span in n["dark_without_moon"]:
        assert ts(n["dark"][0]["start"]) - 1 <= ts(span["start"]) < ts(span["end"]) \
            <= ts(n["dark"][0]["end"]) + 1
    assert 0 < n["dark_without_moon_hours"] <= (times[4] - times[3]) / 3600
    assert doc["moon"]["phase_name"] in ("waxing crescent", "first quarter")
    assert 0 < doc["moon"]["phase"] < 0.6
    assert [b["name"] for b in doc["bodies"]] == BODIES
    bodies = {b["name"]: b for b in doc["bodies"]}
    for b in doc["bodies"]:
        for span in b["up"] + b["well_placed"]:
            assert ts(n["window_start"]) - 1 <= ts(span["start"]) <= ts(span["end"]) \
                <= ts(n["window_end"]) + 1, (b["name"], span)
        if b["best"] is not None:
            assert b["best"]["verdict"] in VERDICTS and b["best"]["reason"]
    # Well placed: in nautical darkness at least, 15 degrees up.
    sat = bodies["saturn"]
    assert sat["well_placed"] and sat["best"]["verdict"] == "naked_eye"
    assert ts(sat["well_placed"][0]["start"]) >= ts(n["dusk"]["nautical"]) - 1
    assert bodies["sun"]["well_placed"] == [] and bodies["sun"]["best"] is None


@pytest.mark.parametrize("kind,k", [("dusk", "civil"), ("dusk", "nautical"),
                                    ("dusk", "astronomical"), ("dawn", "astronomical"),
                                    ("dawn", "civil")])
def test_twilight_is_where_the_sun_is_at_its_altitude(server, kind, k):
    want = {"civil": -6, "nautical": -12, "astronomical": -18}[k]
    at = tonight(server, PARIS, "2026-12-15T22:00:00Z")["night"][kind][k]
    sun = server.get_json(query("/planets/sun", time=at, **PARIS))
    assert abs(sun["alt_airless"] - want) < 0.02, (at, sun["alt_airless"])


def test_the_same_night_at_23_and_at_3(server):
    evening = tonight(server, PARIS, "2026-12-15T22:00:00Z")
    morning = tonight(server, PARIS, "2026-12-16T02:00:00Z")
    assert evening["night"] == morning["night"]
    assert evening["bodies"] == morning["bodies"]
    # The next day's night is another.
    assert tonight(server, PARIS, "2026-12-16T13:00:00Z")["night"]["date"] == "2026-12-16"


def test_a_cached_night_is_the_computed_one(server):
    args = {"lat": "12.5", "lon": "-45.25", "elevation": "300"}
    first = tonight(server, args, "2027-03-01T20:00:00Z")
    again = tonight(server, args, "2027-03-01T23:30:00Z")
    assert first["night"] == again["night"] and first["bodies"] == again["bodies"]
    assert again["time"] == "2027-03-01T23:30:00.000Z"


def test_polar_night_in_tromso(server):
    doc = tonight(server, TROMSO, "2026-12-15T12:00:00Z")
    n = doc["night"]
    assert n["status"] == "polar_night"
    assert n["sunset"] is None and n["sunrise"] is None
    # The Sun comes within 3 degrees of the horizon at noon: civil twilight, then night.
    assert n["dusk"]["civil"] and n["dawn"]["civil"] and n["dark"]
    assert {b["name"]: b for b in doc["bodies"]}["sun"]["up"] == []


def test_midnight_sun_and_white_nights(server):
    n = tonight(server, TROMSO, "2026-06-21T12:00:00Z")["night"]
    assert n["status"] == "midnight_sun" and n["dark"] == [] and n["sunset"] is None
    n = tonight(server, PETERSBURG, "2026-06-21T12:00:00Z")["night"]
    assert n["status"] == "no_astronomical_darkness"
    assert n["sunset"] and n["sunrise"] and n["dusk"]["civil"]
    assert n["dusk"]["astronomical"] is None and n["dark"] == []


def test_bad_parameters(server):
    r = server.get(query("/planets/tonight", lat="91", lon="0"))
    assert r.status == 400 and r.json()["parameter"] == "lat"
    r = server.get(query("/planets/tonight", lat="1", lon="2", time="yesterday"))
    assert r.status == 400 and r.json()["parameter"] == "time"


def test_a_night_is_gzipped_for_who_accepts_it(server):
    import gzip
    import json
    params = dict(PARIS, time="2026-12-15T20:00:00Z")
    plain = server.get(query("/planets/tonight", **params))
    packed = server.get(query("/planets/tonight", **params), headers={"Accept-Encoding": "gzip"})
    refused = server.get(query("/planets/tonight", **params),
                         headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert plain.status == packed.status == refused.status == 200
    assert plain.header("Content-Encoding") is None
    assert refused.header("Content-Encoding") is None
    assert packed.header("Content-Encoding") == "gzip"
    assert "Accept-Encoding" in (packed.header("Vary") or "")
    assert len(packed.body) < len(plain.body) / 3
    # The same night (the answers differ only in their request's own time members).
    a, b = json.loads(gzip.decompress(packed.body)), plain.json()
    for doc in (a, b):
        for k in ("time", "jd_ut1", "deltat_s", "ut1_utc_s", "polar_motion_as", "eop"):
            doc.pop(k, None)
    assert a == b
