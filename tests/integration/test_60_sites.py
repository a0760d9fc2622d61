# SPDX-License-Identifier: AGPL-3.0-or-later
"""Saved sites and API tokens (/api/sites, /api/tokens, site= on /planets), the
same black-box suite against both engines: SQLite in the server's data
directory, and PostgreSQL in the throwaway cluster scripts/run-tests starts
(PT_TEST_DATABASE_URL; PT_TEST_PG_CLUSTER names it for pg_ctlcluster).

Without PT_TEST_DATABASE_URL the PostgreSQL half fails, it is not skipped, unless
PT_TEST_NO_POSTGRES=1 says so on purpose.
"""

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import FIXED_TIME, Server, start_server, wait_for, WAIT_TIMEOUT_S

ENGINES = ["sqlite", "postgresql"]
MAX_SITES = 6
MAX_TOKENS = 3


def pg_url():
    url = os.environ.get("PT_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("PT_TEST_NO_POSTGRES") == "1":
            pytest.skip("PT_TEST_NO_POSTGRES=1: PostgreSQL deliberately not tested")
        pytest.fail("PT_TEST_DATABASE_URL is not set (scripts/run-tests starts a cluster)")
    return url


def engine_env(engine):
    return {"DATABASE_URL": pg_url()} if engine == "postgresql" else {}


@pytest.fixture(scope="module", params=ENGINES)
def sites_server(request):
    env = engine_env(request.param)
    srv = start_server(request, f"sites-{request.param}",
                       ["--max-sites-per-owner", str(MAX_SITES),
                        "--max-tokens-per-owner", str(MAX_TOKENS)], env=env)
    srv.engine = request.param
    return srv


class Client:
    """An HTTP/1.1 keep-alive client with its own session cookie (one visitor)."""

    def __init__(self, srv, token=None):
        self.srv, self.token, self.cookie = srv, token, None
        self.conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)

    def call(self, method, path, body=None, headers=None, content_type="application/json"):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = f"pt_session={self.cookie}"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if content_type:
                h["Content-Type"] = content_type
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.srv.host, self.srv.port, timeout=30)
        raw = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("pt_session="):
                self.cookie = v.split(";", 1)[0].split("=", 1)[1]
        r.body = raw
        r.json = (lambda: json.loads(raw)) if raw else (lambda: None)
        return r

    def close(self):
        self.conn.close()


def new_site(c, name, lat=48.85, lon=2.35, **more):
    r = c.call("POST", "/api/sites", dict(name=name, lat=lat, lon=lon, **more))
    assert r.status == 201, (r.status, r.body)
    return r


# ---------------------------------------------------------------- CRUD

def test_create_read_update_delete(sites_server):
    c = Client(sites_server)
    r = new_site(c, "Home", lat="48:51:00", lon=2.35, elevation=35, timezone="Europe/Paris",
                 notes="balcony, north side")
    site = r.json()
    assert r.getheader("Location") == f"/api/sites/{site['id']}"
    assert r.getheader("ETag") == '"v1"'
    assert site["lat"] == 48.85 and site["elevation"] == 35 and site["version"] == 1
    assert site["timezone"] == "Europe/Paris" and site["pressure"] is None
    assert 0 < site["id"] < 2**53
    url = r.getheader("Location")

    g = c.call("GET", url)
    assert g.status == 200 and g.json() == site
    assert g.getheader("ETag") == '"v1"'
    assert "private" in g.getheader("Cache-Control")
    assert c.call("GET", url, headers={"If-None-Match": '"v1"'}).status == 304

    p = c.call("PUT", url, dict(name="Home", lat=48.86, lon=2.35, pressure=990),
               headers={"If-Match": '"v1"'})
    assert p.status == 200, p.body
    assert p.json()["version"] == 2 and p.json()["pressure"] == 990
    # PUT replaces: what was not sent is back to its default.
    assert p.json()["timezone"] is None and p.json()["notes"] == ""
    assert c.call("GET", url, headers={"If-None-Match": '"v1"'}).status == 200

    m = c.call("PATCH", url, {"notes": "new roof", "horizon_deg": 12.5})
    assert m.status == 200, m.body
    assert m.json()["notes"] == "new roof" and m.json()["lat"] == 48.86
    assert m.json()["version"] == 3 and m.getheader("ETag") == '"v3"'

    lst = c.call("GET", "/api/sites").json()
    assert [s["id"] for s in lst["sites"]] == [site["id"]] and lst["limit"] == MAX_SITES

    assert c.call("DELETE", url, headers={"If-Match": '"v3"'}).status == 204
    assert c.call("GET", url).status == 404
    assert c.call("DELETE", url).status == 404
    c.close()


def test_names_are_unique_per_owner(sites_server):
    a, b = Client(sites_server), Client(sites_server)
    new_site(a, "Club")
    r = a.call("POST", "/api/sites", dict(name="Club", lat=1, lon=1))
    assert r.status == 409 and r.json()["error"] == "name_taken"
    new_site(b, "Club")  # another owner may
    other = new_site(a, "Dome").json()
    r = a.call("PATCH", other["url"], {"name": "Club"})
    assert r.status == 409 and r.json()["error"] == "name_taken"


def test_stale_if_match_is_refused(sites_server):
    c = Client(sites_server)
    url = new_site(c, "Two tabs").getheader("Location")
    assert c.call("PATCH", url, {"notes": "tab one"}, headers={"If-Match": '"v1"'}).status == 200
    r = c.call("PATCH", url, {"notes": "tab two"}, headers={"If-Match": '"v1"'})
    assert r.status == 412 and r.getheader("ETag") == '"v2"', r.body
    r = c.call("PUT", url, dict(name="x", lat=0, lon=0), headers={"If-Match": '"v1"'})
    assert r.status == 412
    assert c.call("DELETE", url, headers={"If-Match": '"v1"'}).status == 412
    assert c.call("DELETE", url, headers={"If-Match": "garbage"}).status == 412
    assert c.call("GET", url).json()["notes"] == "tab one"


# ---------------------------------------------------------------- validation

def test_every_bad_field_is_named(sites_server):
    c = Client(sites_server)
    r = c.call("POST", "/api/sites", {"name": "", "lat": 91, "lon": "east", "elevation": 1e6,
                                      "horizon_deg": 45, "timezone": "Mars/Olympus_Mons",
                                      "notes": "x" * 1001, "colour": "red"})
    assert r.status == 422, r.body
    body = r.json()
    assert body["error"] == "invalid_body"
    named = {f["field"] for f in body["fields"]}
    assert named == {"name", "lat", "lon", "elevation", "horizon_deg", "timezone", "notes",
                     "colour"}
    lat = next(f for f in body["fields"] if f["field"] == "lat")
    assert lat["allowed"] == {"min": -90, "max": 90, "unit": "degrees"}
    r = c.call("POST", "/api/sites", {"name": "no place"})
    assert r.status == 422 and {f["field"] for f in r.json()["fields"]} == {"lat", "lon"}
    # Nothing was created, and no owner was made for it.
    assert c.call("GET", "/api/sites").json()["sites"] == []


@pytest.mark.parametrize("body,ctype,status", [
    ('{"name": "a", "lat": 1, "lon": 2}', "text/plain", 415),
    ('name=a&lat=1&lon=2', "application/x-www-form-urlencoded", 415),
    ('{"name": "a", "lat": 1,', "application/json", 400),
    ('[1, 2]', "application/json", 400),
    ('{"name": "a", "lat": 1, "lon": 2, "name": "b"}', "application/json", 400),
    ('{"name": {"x": [[[[1]]]]}, "lat": 1, "lon": 2}', "application/json", 400),
    ('[' * 5000 + ']' * 5000, "application/json", 400),
    ('{"name": "' + "n" * 20000 + '", "lat": 1, "lon": 2}', "application/json", 413),
    ('{"name": "a\\u0000b", "lat": 1, "lon": 2}', "application/json", 400),
    ('{"name": 5, "lat": true, "lon": null}', "application/json", 422),
])
def test_malformed_bodies(sites_server, body, ctype, status):
    c = Client(sites_server)
    r = c.call("POST", "/api/sites", body, content_type=ctype)
    assert r.status == status, r.body
    assert "error" in r.json()
    sites_server.assert_serving()


def test_limit_per_owner(sites_server):
    c = Client(sites_server)
    for i in range(MAX_SITES):
        new_site(c, f"site {i}")
    r = c.call("POST", "/api/sites", dict(name="one too many", lat=0, lon=0))
    assert r.status == 409 and r.json()["error"] == "limit_reached", r.body
    assert len(c.call("GET", "/api/sites").json()["sites"]) == MAX_SITES


# ---------------------------------------------------------------- ownership

def test_owners_cannot_see_or_touch_each_other(sites_server):
    a, b, nobody = Client(sites_server), Client(sites_server), Client(sites_server)
    site = new_site(a, "Private").json()
    url = site["url"]
    new_site(b, "B's own")
    for c in (b, nobody):
        assert c.call("GET", url).status == 404
        assert c.call("PUT", url, dict(name="mine", lat=0, lon=0)).status == 404
        assert c.call("PATCH", url, {"name": "mine"}).status == 404
        assert c.call("DELETE", url).status == 404
        assert all(s["id"] != site["id"] for s in c.call("GET", "/api/sites").json()["sites"])
        r = c.call("GET", f"/planets/mars?site={site['id']}")
        assert r.status == 404, r.body
    # A forged session is no session.
    forged = Client(sites_server)
    forged.cookie = a.cookie[:-4] + ("AAAA" if not a.cookie.endswith("AAAA") else "BBBB")
    assert forged.call("GET", url).status == 404
    assert a.call("GET", url).json()["name"] == "Private"


def test_tokens_act_for_their_owner_until_revoked(sites_server):
    a = Client(sites_server)
    site = new_site(a, "Observatory").json()
    r = a.call("POST", "/api/tokens", {"name": "telescope"})
    assert r.status == 201, r.body
    tok = r.json()
    assert tok["token"].startswith("pt_") and tok["name"] == "telescope"
    assert r.getheader("Cache-Control") == "no-store"

    script = Client(sites_server, token=tok["token"])
    assert [s["id"] for s in script.call("GET", "/api/sites").json()["sites"]] == [site["id"]]
    made = script.call("POST", "/api/sites", dict(name="From script", lat=-33.9, lon=151.2))
    assert made.status == 201 and made.getheader("Set-Cookie") is None
    assert script.call("GET", f"/planets/moon?site={site['id']}").status == 200
    # A token does not mint tokens; the list does not show secrets.
    assert script.call("POST", "/api/tokens", {}).status == 403
    listed = a.call("GET", "/api/tokens").json()["tokens"]
    assert [t["id"] for t in listed] == [tok["id"]] and "token" not in listed[0]
    # Another owner cannot revoke it.
    assert Client(sites_server).call("DELETE", f"/api/tokens/{tok['id']}").status == 404
    assert a.call("DELETE", f"/api/tokens/{tok['id']}").status == 204
    r = script.call("GET", "/api/sites")
    assert r.status == 401 and "Bearer" in r.getheader("WWW-Authenticate")
    assert script.call("POST", "/api/sites", dict(name="after", lat=0, lon=0)).status == 401
    for bad in ("pt_123", "Basic abc", "pt_" + "g" * 64, "pt_" + "0" * 64):
        c = Client(sites_server)
        r = c.call("GET", "/api/sites", headers={"Authorization": bad if " " in bad
                                                 else f"Bearer {bad}"})
        assert r.status == 401, (bad, r.body)


def test_token_limit(sites_server):
    a = Client(sites_server)
    for _ in range(MAX_TOKENS):
        assert a.call("POST", "/api/tokens").status == 201
    r = a.call("POST", "/api/tokens")
    assert r.status == 409 and r.json()["error"] == "limit_reached"


# ---------------------------------------------------------------- site=

def test_site_is_an_observer(sites_server):
    c = Client(sites_server)
    site = new_site(c, "Pic du Midi", lat=42.9364, lon=0.1419, elevation=2877, pressure=730,
                    temperature=-5).json()
    by_site = c.call("GET", f"/planets?site={site['id']}&time={FIXED_TIME}")
    assert by_site.status == 200, by_site.body
    by_query = c.call("GET", f"/planets?lat=42.9364&lon=0.1419&elevation=2877&pressure=730"
                             f"&temperature=-5&time={FIXED_TIME}")
    a, b = by_site.json(), by_query.json()
    assert a["bodies"] == b["bodies"]
    assert a["observer"]["source"] == "site"
    assert c.call("GET", f"/planets?site={site['id']}&lat=1&lon=2").status == 400
    r = c.call("GET", "/planets?site=abc")
    assert r.status == 400 and r.json()["parameter"] == "site"
    assert c.call("GET", "/planets?site=123456789").status == 404
    with sites_server.open_sse(f"/planets/stream?site={site['id']}",
                               headers={"Cookie": f"pt_session={c.cookie}"}) as s:
        ev = s.next_event("positions")
        assert ev.json()["observer"]["lat"] == 42.9364


# ---------------------------------------------------------------- live push

def names(doc):
    return sorted(s["name"] for s in doc["sites"])


def cookie_of(c):
    return {"Cookie": f"pt_session={c.cookie}"}


def test_changes_are_pushed_to_the_owners_streams(sites_server):
    a, b = Client(sites_server), Client(sites_server)
    first = new_site(a, "Home").json()
    new_site(b, "Elsewhere")
    with sites_server.open_sse("/planets/stream", headers=cookie_of(a)) as sse, \
            sites_server.open_ws("/ws", headers=cookie_of(a)) as ws, \
            sites_server.open_sse("/planets/stream", headers=cookie_of(b)) as other:
        # Every stream of an owner starts with the owner's list, as GET /api/sites has it.
        listed = a.call("GET", "/api/sites").json()
        assert sse.next_event("sites").json() == listed
        msg = ws.recv_json("sites")
        assert msg.pop("type") == "sites" and msg == listed
        assert names(other.next_event("sites").json()) == ["Elsewhere"]

        # A create, an update and a delete, each pushed as the new whole list.
        new_site(a, "Dark site")
        assert names(sse.next_event("sites").json()) == ["Dark site", "Home"]
        assert names(ws.recv_json("sites")) == ["Dark site", "Home"]
        r = a.call("PATCH", f"/api/sites/{first['id']}", {"name": "Balcony"})
        assert r.status == 200, r.body
        pushed = sse.next_event("sites").json()
        assert names(pushed) == ["Balcony", "Dark site"]
        assert [s["version"] for s in pushed["sites"] if s["id"] == first["id"]] == [2]
        assert names(ws.recv_json("sites")) == ["Balcony", "Dark site"]
        assert a.call("DELETE", f"/api/sites/{first['id']}").status == 204
        assert names(sse.next_event("sites").json()) == ["Dark site"]
        assert names(ws.recv_json("sites")) == ["Dark site"]

        # The other owner's stream saw none of it: its next list is its own change.
        new_site(b, "Second")
        assert names(other.next_event("sites").json()) == ["Elsewhere", "Second"]
        # Refused writes push nothing: the next list a's stream gets is a real change.
        assert a.call("POST", "/api/sites", dict(name="Dark site", lat=0, lon=0)).status == 409
        new_site(a, "After")
        assert names(sse.next_event("sites").json()) == ["After", "Dark site"]


def test_a_burst_of_writes_ends_on_the_final_list(sites_server):
    c = Client(sites_server)
    new_site(c, "s0")
    with sites_server.open_sse("/planets/stream", headers=cookie_of(c)) as sse:
        assert names(sse.next_event("sites").json()) == ["s0"]
        ids = [new_site(c, f"s{i}").json()["id"] for i in range(1, MAX_SITES)]
        want = sorted(f"s{i}" for i in range(MAX_SITES))
        # Changes may be coalesced, never lost or reordered: the lists grow to the last.
        seen = []
        while not seen or names(seen[-1]) != want:
            seen.append(sse.next_event("sites").json())
        sizes = [len(d["sites"]) for d in seen]
        assert sizes == sorted(sizes), sizes
        for i in ids:
            assert c.call("DELETE", f"/api/sites/{i}").status == 204
        while names(sse.next_event("sites").json()) != ["s0"]:
            pass


def test_a_token_stream_follows_its_owner(sites_server):
    a = Client(sites_server)
    new_site(a, "Club dome")
    tok = a.call("POST", "/api/tokens", {"name": "dashboard"}).json()
    bearer = {"Authorization": f"Bearer {tok['token']}"}
    script = Client(sites_server, token=tok["token"])
    with sites_server.open_sse("/planets/stream", headers=bearer) as by_token, \
            sites_server.open_sse("/planets/stream", headers=cookie_of(a)) as page:
        assert names(by_token.next_event("sites").json()) == ["Club dome"]
        assert names(page.next_event("sites").json()) == ["Club dome"]
        # A script's write reaches the owner's page, and the page's the script's stream.
        r = script.call("POST", "/api/sites", dict(name="Scripted", lat=10, lon=20))
        assert r.status == 201, r.body
        assert names(page.next_event("sites").json()) == ["Club dome", "Scripted"]
        assert names(by_token.next_event("sites").json()) == ["Club dome", "Scripted"]
    assert a.call("DELETE", f"/api/tokens/{tok['id']}").status == 204
    # A revoked token's stream still gets positions, and an error instead of sites.
    with sites_server.open_sse("/planets/stream", headers=bearer) as revoked:
        err = revoked.next_event("sites_error").json()
        assert err["error"] == "unauthorized" and err["parameter"] == "Authorization"
        revoked.next_event("positions")
    with sites_server.open_ws("/ws", headers=bearer) as ws:
        assert ws.recv_json("error")["parameter"] == "Authorization"
    r = sites_server.get("/planets/stream", headers={"Authorization": "Bearer nope"})
    assert r.status == 401 and r.json()["error"] == "unauthorized"


def test_streams_of_an_owner_come_and_go(sites_server):
    """Many streams of one owner opened and dropped (some without reading): the
    index forgets them and a change reaches exactly the ones still open."""
    c = Client(sites_server)
    new_site(c, "Many")
    for _ in range(3):
        conns = [sites_server.open_sse("/planets/stream", headers=cookie_of(c))
                 for _ in range(5)]
        for s in conns[1:]:
            s.close()
        assert names(conns[0].next_event("sites").json()) == ["Many"]
        conns[0].close()
    with sites_server.open_sse("/planets/stream", headers=cookie_of(c)) as keep:
        assert names(keep.next_event("sites").json()) == ["Many"]
        new_site(c, "More")
        assert names(keep.next_event("sites").json()) == ["Many", "More"]
    wait_for(lambda: live_owners(sites_server) == 0, "the owner index to forget closed streams")
    assert metric(sites_server, "planettracker_live_sites_pushes_total") > 0


def test_a_stream_on_a_site_follows_its_changes(sites_server):
    c = Client(sites_server)
    site = new_site(c, "Moving", lat=10, lon=20).json()
    url = f"/planets/stream?site={site['id']}"
    with sites_server.open_sse(url, headers=cookie_of(c)) as sse, \
            sites_server.open_ws(f"/ws?site={site['id']}", headers=cookie_of(c)) as ws:
        first = sse.next_event("positions").json()["observer"]
        assert (first["lat"], first["lon"], first["source"]) == (10, 20, "site")
        assert ws.recv_json("positions")["observer"]["lat"] == 10
        r = c.call("PATCH", f"/api/sites/{site['id']}", {"lat": -33.5, "pressure": 990})
        assert r.status == 200, r.body
        # The next positions for the new place come at once, not at a reconnect.
        while sse.next_event("positions").json()["observer"]["lat"] != -33.5:
            pass
        moved = ws.recv_json("positions", where=lambda m: m["observer"]["lat"] == -33.5)
        assert moved["observer"]["pressure"] == 990 and moved["observer"]["lon"] == 20
        # Deleted: the stream keeps its last place.
        assert c.call("DELETE", f"/api/sites/{site['id']}").status == 204
        assert names(sse.next_event("sites").json()) == []
        assert sse.next_event("positions").json()["observer"]["lat"] == -33.5


def test_ws_observe_by_site(sites_server):
    a, b = Client(sites_server), Client(sites_server)
    mine = new_site(a, "Pic", lat=42.9364, lon=0.1419, elevation=2877, temperature=-5).json()
    theirs = new_site(b, "Theirs", lat=1, lon=1).json()
    with sites_server.open_ws("/ws", headers=cookie_of(a)) as ws:
        ws.send_json({"type": "observe", "site": mine["id"], "bodies": ["mars"]})
        got = ws.recv_json("positions", where=lambda m: m["observer"]["source"] == "site")
        assert got["observer"]["lat"] == 42.9364 and got["observer"]["elevation"] == 2877
        assert got["observer"]["temperature"] == -5
        assert [x["name"] for x in got["bodies"]] == ["mars"]
        # Someone else's site is not found; the connection stays usable.
        ws.send_json({"type": "observe", "site": theirs["id"]})
        err = ws.recv_json("error")
        assert err["parameter"] == "site" and "no such site" in err["message"]
        for bad in ({"site": mine["id"], "lat": 1, "lon": 2}, {"site": "x1"}, {"site": 0},
                    {"site": 2 ** 53}):
            ws.send_json({"type": "observe", **bad})
            assert ws.recv_json("error")["parameter"] == "site", bad
        # Back to coordinates: the site is no longer followed.
        ws.send_json({"type": "observe", "lat": 5, "lon": 6})
        ws.recv_json("positions", where=lambda m: m["observer"]["source"] == "query")
    with sites_server.open_ws("/ws") as anonymous:
        anonymous.send_json({"type": "observe", "site": mine["id"]})
        assert anonymous.recv_json("error")["parameter"] == "site"


def test_site_lookups_are_cached_and_forgotten_on_change(sites_server):
    c = Client(sites_server)
    site = new_site(c, "Cached", lat=10, lon=20).json()
    tok = c.call("POST", "/api/tokens", {"name": "cache"}).json()
    script = Client(sites_server, token=tok["token"])
    url = f"/planets/moon?site={site['id']}"
    hits = metric(sites_server, 'planettracker_site_cache_total{result="hit"}')
    for who in (c, c, script, script):
        r = who.call("GET", url)
        assert r.status == 200 and r.json()["observer"]["lat"] == 10
    assert metric(sites_server, 'planettracker_site_cache_total{result="hit"}') >= hits + 2
    # A change is seen at once, by the session and by the token.
    assert c.call("PATCH", f"/api/sites/{site['id']}", {"lat": -5}).status == 200
    assert c.call("GET", url).json()["observer"]["lat"] == -5
    assert script.call("GET", url).json()["observer"]["lat"] == -5
    # A revoked token reads nothing more, cached or not.
    assert c.call("DELETE", f"/api/tokens/{tok['id']}").status == 204
    assert script.call("GET", url).status == 401
    # Nor does a deleted site.
    assert c.call("DELETE", f"/api/sites/{site['id']}").status == 204
    assert c.call("GET", url).status == 404


def metric(srv, name):
    for line in srv.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def live_owners(srv):
    return metric(srv, "planettracker_live_owners")


def test_saving_a_location_keeps_the_owner(sites_server):
    c = Client(sites_server)
    site = new_site(c, "Kept").json()
    r = c.call("POST", "/geo_location", {"lat": "10", "lon": "20"})
    assert r.status == 200, r.body
    assert r.json() == {"lon": "20", "lat": "10", "elevation": 0.0}
    assert [s["id"] for s in c.call("GET", "/api/sites").json()["sites"]] == [site["id"]]
    assert c.call("GET", "/planets/mars").json()["observer"]["lat"] == 10


def test_health_names_the_store(sites_server):
    h = Client(sites_server).call("GET", "/healthz").json()
    assert h["store"]["engine"] == sites_server.engine and h["store"]["available"] is True


# ---------------------------------------------------------------- durability

def writer(srv, acked, stop):
    """POST sites as fast as possible on one keep-alive connection; record the
    ids answered 201 until the connection dies."""
    c = Client(srv)
    i = 0
    try:
        while not stop.is_set():
            r = c.call("POST", "/api/sites", dict(name=f"w{i}-{random.random()}", lat=1, lon=2))
            if r.status == 201:
                acked.append((c.cookie, r.json()["id"]))
            elif r.status == 409:  # the limit: start a new owner
                c.close()
                c = Client(srv)
            i += 1
    except (OSError, http.client.HTTPException):
        pass
    finally:
        c.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_answered_writes_survive_kill_9(request, engine, tmp_path):
    env = dict(engine_env(engine), DATA_DIR=str(tmp_path))
    rounds = int(os.environ.get("PT_DURABILITY_ROUNDS", "20"))
    acked = []
    for rnd in range(rounds):
        srv = Server(f"durable-{engine}-{rnd}", ["--max-sites-per-owner", "100"], env).start()
        stop = threading.Event()
        before = len(acked)
        threads = [threading.Thread(target=writer, args=(srv, acked, stop)) for _ in range(3)]
        for t in threads:
            t.start()
        want = before + random.randint(1, 40)
        wait_for(lambda: len(acked) >= want, f"{want - before} answered writes in round {rnd}")
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    # Every write answered 201, in any round, is there, whole.
    srv = start_server(request, f"durable-{engine}-check", [], env=env)
    owners = {}
    for cookie, sid in acked:
        owners.setdefault(cookie, set()).add(sid)
    for cookie, ids in owners.items():
        c = Client(srv)
        c.cookie = cookie
        got = c.call("GET", "/api/sites").json()["sites"]
        have = {s["id"] for s in got}
        assert ids <= have, f"lost {len(ids - have)} answered writes"
        assert all(s["lat"] == 1 and s["lon"] == 2 and s["name"].startswith("w") for s in got)
        c.close()
    assert len(acked) >= rounds


# ---------------------------------------------------------------- outage

def pg_ctl(action):
    cluster = os.environ.get("PT_TEST_PG_CLUSTER")
    assert cluster, "PT_TEST_PG_CLUSTER is not set (scripts/run-tests sets it)"
    ver, name = cluster.split()
    args = ["pg_ctlcluster", ver, name, action] + (["-m", "fast"] if action == "stop" else [])
    subprocess.run(args, check=True, timeout=120)


def test_postgresql_outage_and_recovery(request):
    srv = start_server(request, "pg-outage", [], env=engine_env("postgresql"))
    c = Client(srv)
    site = new_site(c, "Before the outage").json()
    pg_ctl("stop")
    try:
        def refused():
            r = c.call("GET", "/api/sites")
            return r if r.status == 503 else None
        r = wait_for(refused, "store routes to answer 503 while PostgreSQL is down")
        assert r.getheader("Retry-After") and r.json()["error"] == "store_unavailable"
        assert c.call("GET", "/planets/mars?lat=1&lon=2").status == 200
        health = c.call("GET", "/healthz").json()
        assert health["status"] == "degraded" and health["store"]["available"] is False
        assert c.call("POST", "/api/sites", dict(name="x", lat=0, lon=0)).status == 503
    finally:
        pg_ctl("start")
    wait_for(lambda: c.call("GET", site["url"]).status == 200,
             "the store to recover by itself after PostgreSQL came back",
             timeout=WAIT_TIMEOUT_S * 3)
    wait_for(lambda: c.call("GET", "/healthz").json()["store"]["available"],
             "/healthz to say the store is available again after the recovery")
    new_site(c, "After the outage")


def test_openapi_describes_the_sites_from_the_same_schema(sites_server):
    c = Client(sites_server)
    doc = c.call("GET", "/openapi.json").json()
    for path in ("/api/sites", "/api/sites/{id}", "/api/tokens", "/api/tokens/{id}"):
        assert path in doc["paths"], path
    assert set(doc["paths"]["/api/sites/{id}"]) == {"get", "put", "patch", "delete"}
    schema = doc["components"]["schemas"]["SiteInput"]
    assert schema["required"] == ["name", "lat", "lon"]
    assert schema["additionalProperties"] is False
    site = new_site(c, "Described").json()
    assert set(schema["properties"]) == set(site) - {"id", "created", "updated", "version", "url"}
    assert set(doc["components"]["schemas"]["Site"]["properties"]) == set(site)
    # The documented ranges are the enforced ones.
    for name, prop in schema["properties"].items():
        if "maximum" in prop:
            over = prop["maximum"] + 1
            r = c.call("PATCH", site["url"], {name: over})
            assert r.status == 422 and r.json()["fields"][0]["field"] == name, (name, r.body)
            ok = c.call("PATCH", site["url"], {name: prop["maximum"]})
            assert ok.status == 200, (name, ok.body)
