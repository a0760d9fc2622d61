# SPDX-License-Identifier: AGPL-3.0-or-later
"""GET /openapi.json describes the API that is really served: its paths answer, and the
body schema lists exactly the members a body has."""
from conftest import query

PARIS = {"lat": "48.8566", "lon": "2.3522"}


def test_openapi_is_served_and_parses(server):
    r = server.get("/openapi.json")
    assert r.status == 200 and r.header("Content-Type") == "application/json"
    doc = r.json()
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "PlanetTracker"
    for path in ("/planets/{name}", "/planets", "/planets/{name}/events", "/planets/stream",
                 "/ws", "/geo_location", "/healthz", "/metrics"):
        assert path in doc["paths"], path


def test_body_schema_matches_the_answers(server):
    doc = server.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    body_keys = set(schemas["Body"]["properties"])
    context_keys = set(schemas["Context"]["properties"])
    one = server.get_json(query("/planets/mars", **PARIS))
    assert set(one) == body_keys | context_keys
    sky = server.get_json(query("/planets", **PARIS))
    assert set(sky) == context_keys | {"bodies"}
    for b in sky["bodies"]:
        assert set(b) == body_keys, b["name"]
    names = doc["components"]["parameters"]["name"]["schema"]["enum"]
    assert names == [b["name"] for b in sky["bodies"]]


def test_documented_get_paths_answer(server):
    doc = server.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        if "get" not in ops or path in ("/ws", "/planets/stream") or "{id}" in path:
            continue
        target = path.replace("{name}", "mars")
        r = server.get(query(target, **PARIS) if target.startswith("/planets") else target)
        assert r.status == 200, (path, r)


def test_openapi_is_gzipped_for_who_accepts_it(server):
    import gzip
    plain = server.get("/openapi.json")
    packed = server.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert plain.header("Content-Encoding") is None and packed.header("Content-Encoding") == "gzip"
    assert packed.header("Vary") == "Accept-Encoding"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body) / 3
