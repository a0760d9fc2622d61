#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""score_now.py -- how far the API's airless az/alt is from the IERS-based reference
for requests in UTC (tests/data/truth-cases-now-public.csv: 1000 instants 2024-01 ..
2027-06, truth computed with IERS UT1-UTC and polar motion), per body and per year.

    bench/accuracy/score_now.py [BINARY]        # default build/planettracker

Starts BINARY on a free loopback port (offline: EOP_URL=none, an empty DATA_DIR),
asks every case on one keep-alive connection, prints Markdown tables of the
great-circle error in arcseconds (median, 95th percentile, max). Works with
builds from before the Earth-orientation work too (they ignore EOP_URL)."""

import csv
import http.client
import json
import statistics
import sys
from pathlib import Path

from scoring import great_circle_as, start_server

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "data" / "truth-cases-now-public.csv"


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build" / "planettracker")
    proc, port = start_server(binary)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        by_body, by_year = {}, {}
        with CASES.open() as f:
            for r in csv.DictReader(f):
                q = (f"/planets/{r['body']}?lat={r['lat_deg']}&lon={r['lon_deg']}"
                     f"&elevation={r['elev_m']}&time={r['iso_utc']}&pressure=0")
                conn.request("GET", q)
                resp = conn.getresponse()
                doc = json.loads(resp.read())
                assert resp.status == 200, (q, doc)
                err = great_circle_as(doc["az"], doc["alt_airless"], float(r["az_deg"]),
                                      float(r["alt_airless_deg"]))
                by_body.setdefault(r["body"], []).append(err)
                if r["body"] != "moon":
                    by_year.setdefault(r["iso_utc"][:4], []).append(err)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{binary}: {sum(len(v) for v in by_body.values())} cases\n")
    print("| body | n | median | p95 | max |\n|---|---|---|---|---|")
    for body in sorted(by_body):
        v = by_body[body]
        print(f"| {body} | {len(v)} | {statistics.median(v):.4f}\" | {pct(v, 0.95):.4f}\" "
              f"| {max(v):.4f}\" |")
    print("\n| year (all but the Moon) | n | median | max |\n|---|---|---|---|")
    for y in sorted(by_year):
        v = by_year[y]
        print(f"| {y} | {len(v)} | {statistics.median(v):.4f}\" | {max(v):.4f}\" |")


if __name__ == "__main__":
    main()
