# SPDX-License-Identifier: AGPL-3.0-or-later
"""`planettracker sites list|add|rm` (src/app/cli_sites.c), the terminal client
of /api/sites, run as a subprocess (the same $PT_BINARY as the server) against a
real server. SQLite only: the engines are covered by test_60_sites.py, this file
tests the client.

Every run of the client is checked for sanitizer reports and for the token
appearing in its output (it must never be printed).
"""

import http.client
import json
import os
import socket
import subprocess

import pytest

from conftest import IO_TIMEOUT_S, SANITIZER_MARKERS, Server, start_server

# The client's own deadline is 30 s; this one only stops a hung test.
CLI_TIMEOUT_S = 90
QUOTED_NAME = 'Pic "du" Midi \u2013 \u014cbservatoire \u263e'


@pytest.fixture(scope="module")
def cli_server(request):
    return start_server(request, "sites-cli")


def api(srv, method, path, body=None, token=None, cookie=None):
    """One call to the server: (status, json or None, Set-Cookie session or None)."""
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=IO_TIMEOUT_S)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers["Cookie"] = f"pt_session={cookie}"
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        set_cookie = r.getheader("Set-Cookie") or ""
    finally:
        conn.close()
    new_cookie = None
    if set_cookie.startswith("pt_session="):
        new_cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
    return r.status, (json.loads(raw) if raw else None), new_cookie


class Owner:
    """A browser session (its cookie) and an API token issued to it."""

    def __init__(self, srv):
        status, tok, cookie = api(srv, "POST", "/api/tokens", {"name": "cli"})
        assert status == 201 and cookie, (status, tok)
        self.srv, self.cookie, self.token, self.token_id = srv, cookie, tok["token"], tok["id"]

    def sites(self):
        status, doc, _ = api(self.srv, "GET", "/api/sites", token=self.token)
        assert status == 200, doc
        return doc

    def revoke(self):
        status, body, _ = api(self.srv, "DELETE", f"/api/tokens/{self.token_id}",
                              cookie=self.cookie)
        assert status == 204, body


@pytest.fixture
def owner(cli_server):
    return Owner(cli_server)


def run_cli(*args, url=None, token=None, secret=None):
    """Run `planettracker sites ARGS`; url and token go in the environment
    (PLANETTRACKER_URL, PLANETTRACKER_TOKEN) when given. secret: a token that must
    not appear in the output (default: token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANETTRACKER_")}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if url is not None:
        env["PLANETTRACKER_URL"] = url
    if token is not None:
        env["PLANETTRACKER_TOKEN"] = token
    p = subprocess.run([Server.binary(), "sites", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, env=env, timeout=CLI_TIMEOUT_S)
    out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    for marker in SANITIZER_MARKERS:
        assert marker not in err, f"sites {args}: {marker!r} in\n{err}"
    secret = secret or token
    if secret:
        assert secret not in out and secret not in err, "the token was printed"
    return p.returncode, out, err


def url_of(srv):
    return f"http://{srv.host}:{srv.port}"


def cli(owner, *args):
    return run_cli(*args, url=url_of(owner.srv), token=owner.token)


def add(owner, name, *options):
    rc, out, err = cli(owner, "add", name, *options)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].isdigit(), out
    assert name in lines[1] and lines[1].startswith(lines[0] + " "), out
    return int(lines[0])


# ---------------------------------------------------------------- the commands

def test_add_list_and_remove(owner):
    home = add(owner, "Home", "--lat", "48:51:00", "--lon", "2.35", "--elevation", "35",
               "--timezone", "Europe/Paris")
    pic = add(owner, QUOTED_NAME, "--lat", "42.9364", "--lon", "0.1419", "--elevation", "2877",
              "--horizon", "5", "--pressure", "730", "--temperature", "-5",
              "--notes", 'dome "B", north side')
    doc = owner.sites()
    by_id = {s["id"]: s for s in doc["sites"]}
    assert set(by_id) == {home, pic}
    assert by_id[home]["lat"] == 48.85 and by_id[home]["timezone"] == "Europe/Paris"
    p = by_id[pic]
    assert p["name"] == QUOTED_NAME and p["notes"] == 'dome "B", north side'
    assert (p["elevation"], p["horizon_deg"], p["pressure"], p["temperature"]) == \
        (2877, 5, 730, -5)

    # --json is the server's answer as it is.
    rc, out, err = cli(owner, "list", "--json")
    assert rc == 0, err
    assert json.loads(out) == doc

    rc, out, err = cli(owner, "list")
    assert rc == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["id", "name", "lat", "lon", "elevation", "timezone"]
    assert len(rows) == 2
    row = {int(r.split()[0]): r for r in rows}
    assert row[home].split()[1:] == ["Home", "48.8500", "2.3500", "35", "m", "Europe/Paris"]
    assert QUOTED_NAME in row[pic] and row[pic].split()[-5:] == \
        ["42.9364", "0.1419", "2877", "m", "-"]
    # Columns line up although the name has non-ASCII letters (padded by characters).
    lat_end = header.index("lat") + len("lat")
    assert row[home].index("48.8500") + 7 == row[pic].index("42.9364") + 7 == lat_end, out

    # A stale version is a 412, told readably; nothing is removed.
    rc, out, err = cli(owner, "rm", str(pic), "--if-match", "v2")
    assert rc == 1 and out == ""
    assert "precondition_failed" in err and "412" in err and "has changed" in err, err
    assert {s["id"] for s in owner.sites()["sites"]} == {home, pic}

    rc, out, err = cli(owner, "rm", str(pic), "--if-match", "1")
    assert rc == 0, err
    assert out == f"removed site {pic}\n"
    assert [s["id"] for s in owner.sites()["sites"]] == [home]

    rc, out, err = cli(owner, "rm", str(home))
    assert rc == 0, err
    rc, out, err = cli(owner, "list")
    assert rc == 0 and "(no saved sites)" in out, (out, err)
    rc, out, err = cli(owner, "rm", str(home))
    assert rc == 1 and "not_found" in err, err


def test_add_json_is_the_new_site(owner):
    rc, out, err = cli(owner, "add", "Dome", "--lat", "-33.9", "--lon", "151.2", "--json")
    assert rc == 0, err
    site = json.loads(out)
    status, stored, _ = api(owner.srv, "GET", site["url"], token=owner.token)
    assert status == 200 and stored == site and site["name"] == "Dome"


def test_bad_members_are_named(owner):
    rc, out, err = cli(owner, "add", "Nowhere", "--lat", "95", "--lon", "2")
    assert rc == 1 and out == "", out
    assert "invalid_body" in err and "\n  lat: " in err, err
    assert "lon:" not in err
    # Every bad member is named, the server's sentences unchanged.
    rc, out, err = cli(owner, "add", "Nowhere", "--lat", "north", "--lon", "2",
                       "--elevation", "high", "--timezone", "Mars/Olympus")
    assert rc == 1, err
    for field in ("lat", "elevation", "timezone"):
        assert f"\n  {field}: {field} " in err, err
    assert owner.sites()["sites"] == []


def test_name_taken_is_refused(owner):
    add(owner, "Club", "--lat", "1", "--lon", "1")
    rc, out, err = cli(owner, "add", "Club", "--lat", "2", "--lon", "2")
    assert rc == 1 and "name_taken" in err and "409" in err, err


# ---------------------------------------------------------------- usage and failures

def test_a_token_is_required(cli_server):
    rc, out, err = run_cli("list", url=url_of(cli_server))
    assert rc == 64 and out == ""
    assert "no API token" in err and "PLANETTRACKER_TOKEN" in err and "usage:" in err, err


@pytest.mark.parametrize("args", [
    (),
    ("frob",),
    ("list", "extra"),
    ("add", "Home", "--lat", "1"),
    ("rm",),
    ("rm", "abc"),
    ("rm", "12", "--if-match", "latest"),
    ("list", "--lat", "1"),
    ("list", "--url", "ftp://example.org"),
    ("list", "--token"),
    ("list", "--bogus"),
])
def test_usage_errors(args):
    rc, out, err = run_cli(*args, token="pt_" + "0" * 64)
    assert rc == 64 and out == "", (args, out)
    assert "usage: planettracker sites" in err, err


def test_help():
    rc, out, err = run_cli("--help")
    assert rc == 0 and "usage: planettracker sites" in out and err == ""


def test_token_from_the_option(owner):
    add(owner, "Flag", "--lat", "10", "--lon", "10")
    rc, out, err = run_cli("list", "--url", url_of(owner.srv) + "/", "--token", owner.token,
                           secret=owner.token)
    assert rc == 0 and "Flag" in out, err


def test_a_revoked_token_is_unauthorized(owner):
    add(owner, "Before", "--lat", "1", "--lon", "1")
    owner.revoke()
    rc, out, err = cli(owner, "list")
    assert rc == 1 and out == ""
    assert "unauthorized" in err and "401" in err and "revoked" in err, err
    rc, out, err = cli(owner, "add", "After", "--lat", "1", "--lon", "1")
    assert rc == 1 and "unauthorized" in err, err


def test_a_server_not_listening_is_exit_2(owner):
    # A bound socket that does not listen: the port is ours and connects are refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
        for args in (("list",), ("add", "X", "--lat", "1", "--lon", "1"), ("rm", "5")):
            rc, out, err = run_cli(*args, url=url, token=owner.token)
            assert rc == 2 and out == "", (args, out, err)
            assert url in err and "cannot reach" in err, err
