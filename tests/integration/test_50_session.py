# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tier 50: POST /geo_location and the encrypted session cookie. The three body
encodings a client sends (form, browser FormData multipart, JSON), the echo of
the original app, the cookie's attributes, its use by later requests, and its
rejection when tampered with, made up, or sealed by a server with another
SECRET_KEY (ignored, never a 500). A server with the same SECRET_KEY accepts it,
so sessions survive a restart."""

import json
import uuid

import pytest

from conftest import FIXED_TIME, GREENWICH, build_request, query

FORM = "application/x-www-form-urlencoded"
ECHO = {"lon": "2.45", "lat": "48.93", "elevation": 0}


def post_geo(server, body, ctype=FORM, headers=None):
    h = [("Content-Type", ctype)] if ctype is not None else []
    h += list(headers or [])
    return server.request("POST", "/geo_location", h, body)


def multipart(fields, boundary=None):
    """What a browser's FormData sends: one part per field."""
    boundary = boundary or "----WebKitFormBoundary" + uuid.uuid4().hex[:16]
    out = b""
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                f"{v}\r\n").encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def session_cookie(resp):
    """(token, attributes) of the pt_session Set-Cookie of resp."""
    for sc in resp.header_all("Set-Cookie"):
        first, _, rest = sc.partition(";")
        name, _, value = first.strip().partition("=")
        if name == "pt_session":
            attrs = [a.strip() for a in rest.split(";") if a.strip()]
            return value, attrs
    raise AssertionError(f"no pt_session cookie in {resp.headers!r}")


def located(server, cookie, body="mars", **params):
    params.setdefault("time", FIXED_TIME)
    headers = [("Cookie", cookie)] if cookie is not None else None
    return server.get_json(query(f"/planets/{body}", **params), headers=headers)


def assert_echo(resp, expected=ECHO):
    assert resp.status == 200, resp
    doc = resp.json()
    assert doc == expected
    assert list(doc) == ["lon", "lat", "elevation"]  # the original app's order
    assert isinstance(doc["lat"], str) and isinstance(doc["lon"], str)
    assert isinstance(doc["elevation"], (int, float)) and not isinstance(doc["elevation"], bool)


@pytest.fixture(scope="module")
def paris_cookie(server):
    r = post_geo(server, "lat=48.93&lon=2.45")
    assert_echo(r)
    return "pt_session=" + session_cookie(r)[0]


# ---------------------------------------------------------------- the three encodings

def test_form_post_echo_and_cookie(server):
    r = post_geo(server, "lat=48.93&lon=2.45")
    assert_echo(r)
    token, attrs = session_cookie(r)
    assert token and all(c.isalnum() or c in "-_" for c in token), token
    lower = [a.lower() for a in attrs]
    assert "httponly" in lower
    assert "samesite=lax" in lower
    assert "path=/" in lower
    assert not any(a.startswith("domain=") for a in lower)


def test_multipart_post(server):
    body, ctype = multipart({"lat": "48.93", "lon": "2.45"})
    assert_echo(post_geo(server, body, ctype))


def test_multipart_post_with_elevation_and_quoted_boundary(server):
    body, _ = multipart({"lat": "48.93", "lon": "2.45", "elevation": "35"}, boundary="b0undary")
    r = post_geo(server, body, 'multipart/form-data; boundary="b0undary"')
    assert_echo(r, {"lon": "2.45", "lat": "48.93", "elevation": 35})


def test_json_post(server):
    assert_echo(post_geo(server, json.dumps({"lat": "48.93", "lon": "2.45"}), "application/json"))


def test_json_numbers_are_echoed_as_strings(server):
    r = post_geo(server, '{"lat": 48.93, "lon": 2.45, "elevation": 100}', "application/json")
    assert_echo(r, {"lon": "2.45", "lat": "48.93", "elevation": 100})


def test_json_content_type_with_charset(server):
    r = post_geo(server, '{"lat": "48.93", "lon": "2.45"}', "application/json; charset=utf-8")
    assert_echo(r)


def test_form_content_type_with_charset(server):
    assert_echo(post_geo(server, "lat=48.93&lon=2.45", FORM + "; charset=UTF-8"))


def test_form_without_content_type(server):
    assert_echo(post_geo(server, "lat=48.93&lon=2.45", ctype=None))


def test_form_with_elevation_and_order(server):
    r = post_geo(server, "elevation=120.5&lon=2.45&lat=48.93")
    assert_echo(r, {"lon": "2.45", "lat": "48.93", "elevation": 120.5})


def test_empty_elevation_means_zero(server):
    assert_echo(post_geo(server, "lat=48.93&lon=2.45&elevation="))


def test_dms_strings_echoed_as_given(server):
    r = post_geo(server, "lat=48%3A55%3A48&lon=2%3A27%3A00")
    assert_echo(r, {"lon": "2:27:00", "lat": "48:55:48", "elevation": 0})
    cookie = "pt_session=" + session_cookie(r)[0]
    doc = located(server, cookie)
    assert doc["observer"]["source"] == "session"
    assert doc["observer"]["lat"] == pytest.approx(48.93, abs=1e-12)
    assert doc["observer"]["lon"] == pytest.approx(2.45, abs=1e-12)


# ---------------------------------------------------------------- using the session

def test_session_location_is_used(server, paris_cookie):
    doc = located(server, paris_cookie)
    obs = doc["observer"]
    assert obs["source"] == "session"
    assert (obs["lat"], obs["lon"], obs["elevation"]) == (48.93, 2.45, 0)
    explicit = located(server, None, lat="48.93", lon="2.45")
    assert (doc["az"], doc["alt"], doc["ra"], doc["dec"]) == \
        (explicit["az"], explicit["alt"], explicit["ra"], explicit["dec"])


def test_session_used_by_all_planets(server, paris_cookie):
    doc = server.get_json(query("/planets", time=FIXED_TIME),
                          headers=[("Cookie", paris_cookie)])
    assert doc["observer"]["source"] == "session"
    assert doc["observer"]["lat"] == 48.93


def test_session_elevation_is_used(server):
    r = post_geo(server, "lat=-33.87&lon=151.21&elevation=58")
    cookie = "pt_session=" + session_cookie(r)[0]
    doc = located(server, cookie, body="moon")
    assert doc["observer"]["elevation"] == 58
    explicit = located(server, None, body="moon", lat="-33.87", lon="151.21", elevation="58")
    assert (doc["az"], doc["alt"]) == (explicit["az"], explicit["alt"])


def test_query_overrides_session(server, paris_cookie):
    doc = located(server, paris_cookie, lat="10", lon="20")
    assert doc["observer"]["source"] == "query"
    assert (doc["observer"]["lat"], doc["observer"]["lon"]) == (10, 20)


def test_query_elevation_with_session_location(server, paris_cookie):
    doc = located(server, paris_cookie, elevation="300")
    assert doc["observer"]["source"] == "session"
    assert doc["observer"]["elevation"] == 300


def test_cookie_among_others(server, paris_cookie):
    token = paris_cookie.split("=", 1)[1]
    for header in (f"a=1; pt_session={token}; b=2", f"theme=dark;pt_session={token}",
                   f'pt_session="{token}"', f"  pt_session = {token} "):
        doc = located(server, header)
        assert doc["observer"]["source"] == "session", header


def test_second_post_replaces_location(server, paris_cookie):
    r = post_geo(server, "lat=64.1&lon=-21.9", headers=[("Cookie", paris_cookie)])
    assert r.status == 200
    cookie = "pt_session=" + session_cookie(r)[0]
    assert located(server, cookie)["observer"]["lat"] == 64.1


def test_same_secret_key_accepts_cookie_after_restart(timeout_server, paris_cookie):
    """timeout_server is another process with the same SECRET_KEY."""
    doc = located(timeout_server, paris_cookie)
    assert doc["observer"]["source"] == "session"
    assert doc["observer"]["lat"] == 48.93


# ---------------------------------------------------------------- bad cookies are ignored

def _flip(token, i):
    c = token[i]
    return token[:i] + ("B" if c == "A" else "A") + token[i + 1:]


def _bad_cookies(token):
    n = len(token)
    return {
        "flip-version": _flip(token, 0),
        "flip-nonce": _flip(token, 5),
        "flip-middle": _flip(token, n // 2),
        "flip-tag": _flip(token, n - 6),
        "truncated": token[:-4],
        "truncated-half": token[: n // 2],
        "extended": token + "AAAA",
        "swapped": token[n // 2:] + token[: n // 2],
        "padding": token + "==",
        "bad-chars": token[:10] + "+/" + token[12:],
        "empty": "",
        "garbage": "definitely-not-a-session",
        "huge": "A" * 6000,
        "nul": token[:10] + "%00" + token[10:],
        "json": '{"lat":"48.93","lon":"2.45"}',
    }


@pytest.mark.parametrize("kind", list(_bad_cookies("x" * 64)))
def test_bad_cookie_falls_back_to_greenwich(server, paris_cookie, kind):
    bad = _bad_cookies(paris_cookie.split("=", 1)[1])[kind]
    r = server.get(query("/planets/mars", time=FIXED_TIME),
                   headers=[("Cookie", f"pt_session={bad}")])
    assert r.status == 200, r
    obs = r.json()["observer"]
    assert obs["source"] == "default"
    assert (obs["lat"], obs["lon"]) == GREENWICH


def test_cookie_from_other_key_is_ignored(server, other_key_server):
    r = post_geo(other_key_server, "lat=48.93&lon=2.45")
    assert_echo(r)
    foreign = "pt_session=" + session_cookie(r)[0]
    assert located(other_key_server, foreign)["observer"]["source"] == "session"  # valid there
    doc = located(server, foreign)
    assert doc["observer"]["source"] == "default"
    assert (doc["observer"]["lat"], doc["observer"]["lon"]) == GREENWICH


def test_tokens_differ_per_post(server):
    """A fresh nonce each time: the same location never gives the same token."""
    a = session_cookie(post_geo(server, "lat=48.93&lon=2.45"))[0]
    b = session_cookie(post_geo(server, "lat=48.93&lon=2.45"))[0]
    assert a != b


# ---------------------------------------------------------------- rejected posts

@pytest.mark.parametrize("body,param", [
    ("lon=2.45", "lat"), ("lat=48.93", "lon"), ("", "lat"), ("lat=&lon=2", "lat"),
    ("lat=95&lon=2.45", "lat"), ("lat=-90.5&lon=2.45", "lat"), ("lat=48&lon=181", "lon"),
    ("lat=48&lon=abc", "lon"), ("lat=abc&lon=2", "lat"),
    ("lat=48&lon=2&elevation=20000", "elevation"),
    ("lat=48&lon=2&elevation=-501", "elevation"), ("lat=48&lon=2&elevation=x", "elevation"),
    ("lat=48:61:00&lon=2", "lat"),
])
def test_invalid_form_is_400_naming_parameter(server, body, param):
    r = post_geo(server, body)
    assert r.status == 400, r
    doc = r.json()
    assert doc["parameter"] == param
    assert r.header("Set-Cookie") is None


def test_invalid_json_values_are_400(server):
    r = post_geo(server, '{"lat": 95, "lon": 2}', "application/json")
    assert r.status == 400 and r.json()["parameter"] == "lat"
    r = post_geo(server, '{"lat": true, "lon": 2}', "application/json")
    assert r.status == 400 and r.json()["parameter"] == "lat"
    r = post_geo(server, '{"lat": null, "lon": 2}', "application/json")
    assert r.status == 400


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "image/png",
                                   "application/jsonx", "multipart/mixed; boundary=x",
                                   "text/html; charset=utf-8"])
def test_other_content_types_are_415(server, ctype):
    r = post_geo(server, "lat=48.93&lon=2.45", ctype)
    assert r.status == 415, r
    assert r.json()["error"]


@pytest.mark.parametrize("body", [
    "{", '{"lat": "48.93", "lon": "2.45"', "[1, 2]", '"lat"', "42", "null", "",
    '{"lat": "48.93", "lon": {"deg": 2}}', '{"lat": "48.93", "lon": [2]}',
    '{"lat": "1", "lat": "2", "lon": "3"}', "{'lat': 1}", '{"lat": "48.93", "lon": "2.45"} x',
    '{"lat": "48.93", "lon": "2.45",}', b'{"lat": "\xff\xfe", "lon": "2"}',
])
def test_malformed_json_is_400(server, body):
    r = post_geo(server, body, "application/json")
    assert r.status == 400, r
    assert r.json()["error"]


@pytest.mark.parametrize("body,ctype", [
    (b"lat=48.93&lon=2.45", "multipart/form-data"),                       # no boundary
    (b"lat=48.93&lon=2.45", "multipart/form-data; boundary=xyz"),        # no delimiter
    (b"--xyz\r\nContent-Disposition: form-data; name=\"lat\"\r\n\r\n48.93", 
     "multipart/form-data; boundary=xyz"),                               # unterminated
    (b"--xyz\r\nContent-Disposition: form-data; name=\"lat\"\r\n48.93\r\n--xyz--\r\n",
     "multipart/form-data; boundary=xyz"),                               # no blank line
    (b"", "multipart/form-data; boundary=" + "b" * 71),                  # boundary too long
])
def test_malformed_multipart_is_400(server, body, ctype):
    r = post_geo(server, body, ctype)
    assert r.status == 400, r
    assert r.json()["error"]


def test_bad_percent_escape_in_form_is_400(server):
    r = post_geo(server, "lat=%zz&lon=2")
    assert r.status == 400


def test_get_geo_location_is_405(server):
    r = server.get("/geo_location")
    assert r.status == 405
    assert "POST" in r.header("Allow")


def test_oversized_location_text_is_rejected_cleanly(server):
    """A valid number written with 5000 digits: a 400, never a 500 or a crash."""
    lat = "48." + "9" * 5000
    r = post_geo(server, f"lat={lat}&lon=2.45")
    assert r.status in (200, 400), r
    if r.status == 200:
        assert r.json()["lat"] == lat


def test_build_request_roundtrip_sanity(server):
    """The request builder itself: one POST, exactly framed, leaves the socket usable."""
    with server.connect() as c:
        c.send(build_request("POST", "/geo_location", [("Content-Type", FORM)],
                             "lat=1&lon=2") + build_request("GET", "/healthz"))
        assert c.read_response("POST").status == 200
        assert c.read_response().status == 200
