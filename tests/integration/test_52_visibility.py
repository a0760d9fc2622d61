# SPDX-License-Identifier: AGPL-3.0-or-later
"""Visibility: every body of every answer says whether it can be seen now and with
what ({"verdict", "reason"}), judged by the server from the Sun's altitude, the
body's altitude above the site's horizon, its magnitude dimmed by the air and its
distance from the Sun. Scenarios at fixed instants, so the sky is known."""
import json

import pytest

from conftest import query

VERDICTS = {"naked_eye", "binoculars", "telescope", "too_low", "daylight", "glare",
            "below_horizon"}
SYDNEY = {"lat": "-33.8688", "lon": "151.2093"}
PARIS = {"lat": "48.85", "lon": "2.35"}


def sky(server, where, time):
    doc = server.get_json(query("/planets", time=time, **where))
    return {b["name"]: b for b in doc["bodies"]}


def verdicts(bodies):
    return {n: b["visibility"]["verdict"] for n, b in bodies.items()}


@pytest.mark.parametrize("time", ["2026-12-03T06:54:00Z", "2026-12-15T22:00:00Z",
                                  "2026-12-15T16:20:00Z", "2027-06-21T12:00:00Z"])
@pytest.mark.parametrize("where", [SYDNEY, PARIS])
def test_every_body_is_judged_consistently(server, where, time):
    for name, b in sky(server, where, time).items():
        v = b["visibility"]
        assert v["verdict"] in VERDICTS and v["reason"], b
        assert (v["verdict"] == "below_horizon") == (b["alt"] <= 0), b
        if name == "sun":
            assert v["verdict"] in ("daylight", "below_horizon"), b
        # The single-body answer judges the same (it computes the Sun on its own).
        one = server.get_json(query(f"/planets/{name}", time=time, **where))
        assert one["visibility"] == v, name


def test_sydney_before_sunset_shows_nothing_to_the_naked_eye(server):
    """17:54 in Sydney on 3 December: the Sun is 22 degrees up, the Moon down; Saturn,
    Mercury, Neptune and Pluto are up but not to be seen."""
    bodies = sky(server, SYDNEY, "2026-12-03T06:54:00Z")
    v = verdicts(bodies)
    assert "naked_eye" not in v.values(), v
    assert v["sun"] == "daylight" and v["moon"] == "below_horizon"
    assert v["saturn"] == "daylight" and "daylight" in bodies["saturn"]["visibility"]["reason"]


def test_a_december_night_in_paris(server):
    v = verdicts(sky(server, PARIS, "2026-12-15T22:00:00Z"))
    assert v["saturn"] == "naked_eye" and v["jupiter"] == "naked_eye"
    assert v["neptune"] == "binoculars"     # magnitude 7.7, 22 degrees up
    assert v["mars"] == "too_low"           # one degree up
    assert v["sun"] == "below_horizon" and v["pluto"] == "below_horizon"


def test_twilight_then_dark(server):
    dusk = sky(server, PARIS, "2026-12-15T16:20:00Z")   # the Sun 4 degrees down
    assert dusk["saturn"]["visibility"]["verdict"] == "daylight"
    assert "twilight" in dusk["saturn"]["visibility"]["reason"]
    assert dusk["moon"]["visibility"]["verdict"] == "naked_eye"
    later = sky(server, PARIS, "2026-12-15T17:00:00Z")  # 10 degrees down
    assert later["saturn"]["visibility"]["verdict"] == "naked_eye"
    assert later["pluto"]["visibility"]["verdict"] == "telescope"


def test_mercury_in_the_glare(server):
    b = sky(server, SYDNEY, "2026-12-17T06:54:00Z")["mercury"]
    assert b["alt"] > 5 and b["elongation"] < 12
    assert b["visibility"]["verdict"] == "glare" and "glare" in b["visibility"]["reason"]


def test_a_sites_horizon_hides_what_is_under_it(server):
    """The same sky from a site with trees up to 30 degrees: Jupiter (8 degrees up)
    is too low there, Saturn (27 degrees) too; Uranus (62 degrees) is not."""
    r = server.request("POST", "/api/sites", {"Content-Type": "application/json"},
                       body=json.dumps({"name": "Courtyard", "lat": 48.85, "lon": 2.35,
                                        "horizon_deg": 30}))
    assert r.status == 201, r
    site = r.json()
    cookie = {"Cookie": r.header("Set-Cookie").split(";", 1)[0]}
    doc = server.get_json(query("/planets", time="2026-12-15T22:00:00Z", site=site["id"]),
                          headers=cookie)
    assert doc["observer"]["horizon_deg"] == 30
    v = {b["name"]: b["visibility"] for b in doc["bodies"]}
    assert v["jupiter"]["verdict"] == "too_low" and "horizon of 30" in v["jupiter"]["reason"]
    assert v["saturn"]["verdict"] == "too_low"
    assert v["uranus"]["verdict"] == "binoculars"


def test_the_stream_carries_the_verdicts(server):
    with server.open_sse("/planets/stream?lat=48.85&lon=2.35") as s:
        doc = s.next_event("positions").json()
    for b in doc["bodies"]:
        assert b["visibility"]["verdict"] in VERDICTS, b
