#!/usr/bin/python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""score_horizons.py -- the API against JPL Horizons for the Moon (observer tables of
tests/data/horizons/, airless, 10-day steps at 81 W 29 N 10 m, UTC 1973-2019, where
both Horizons and this server use IERS UT1 and polar motion).

    bench/accuracy/score_horizons.py [BINARY]      # default build/planettracker

Prints the median / p95 / max of the apparent topocentric RA/Dec difference
(great circle, arcseconds; Horizons prints 5 decimals of a degree, 0.018" steps,
and its RA carries a constant offset of about +0.05" from its equinox, so the
median RA offset is removed and reported) and of the az/el difference (4 decimals)."""

import gzip
import http.client
import json
import math
import re
import statistics
import sys
from pathlib import Path

from scoring import great_circle_as, start_server

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "tests" / "data" / "horizons" / "airless_Moon.txt.gz"
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


def rows():
    with gzip.open(TABLE, "rt") as f:
        inside = False
        for line in f:
            if line.startswith("$$SOE"):
                inside = True
                continue
            if line.startswith("$$EOE"):
                break
            if not inside:
                continue
            m = re.match(r"\s*(\d{4})-(\w{3})-(\d{2}) (\d{2}):(\d{2})\s+[A-Za-z*]*\s+"
                         r"([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", line)
            if not m:
                continue
            y = int(m.group(1))
            if not 1973 <= y <= 2018:
                continue
            iso = f"{y:04d}-{MONTHS[m.group(2)]:02d}-{m.group(3)}T{m.group(4)}:{m.group(5)}:00Z"
            yield iso, *(float(m.group(i)) for i in range(8, 12))


def stats(v):
    s = sorted(v)
    return f"{statistics.median(s):.4f} / {s[int(0.95 * len(s))]:.4f} / {s[-1]:.4f}"


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build" / "planettracker")
    proc, port = start_server(binary)
    radec, azel, dra = [], [], []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        data = list(rows())
        answers = []
        for iso, ra, dec, az, el in data:
            conn.request("GET", f"/planets/moon?lat=29&lon=-81&elevation=10&pressure=0&time={iso}")
            r = conn.getresponse()
            doc = json.loads(r.read())
            assert r.status == 200, doc
            answers.append(doc)
        for (iso, ra, dec, az, el), doc in zip(data, answers):
            d = (doc["ra"] - ra + 180) % 360 - 180
            dra.append(d * 3600 * math.cos(math.radians(dec)))
        off = statistics.median(dra)  # arcsec on the sky
        for (iso, ra, dec, az, el), doc in zip(data, answers):
            ra_fixed = doc["ra"] - off / 3600 / math.cos(math.radians(dec))
            radec.append(great_circle_as(ra_fixed, doc["dec"], ra, dec))
            azel.append(great_circle_as(doc["az"], doc["alt_airless"], az, el))
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{binary}: Moon, {len(radec)} Horizons rows 1973-2018; median/p95/max, arcsec")
    print(f"  RA/Dec (RA offset {off:+.4f}\" removed): {stats(radec)}")
    print(f"  az/el: {stats(azel)}")


if __name__ == "__main__":
    main()
