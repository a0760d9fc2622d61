# SPDX-License-Identifier: AGPL-3.0-or-later
"""scoring.py -- what the accuracy scorers of bench/accuracy share: the angle between
two directions, and a planettracker started offline on a free loopback port."""

import math
import os
import re
import subprocess
import sys
import tempfile
import threading


def great_circle_as(lon1, lat1, lon2, lat2):
    """Angle between two directions given in degrees (az/alt or RA/Dec), arcseconds
    (haversine: exact for tiny angles, wrap-safe in longitude)."""
    a1, b1, a2, b2 = (math.radians(v) for v in (lon1, lat1, lon2, lat2))
    h = math.sin((b2 - b1) / 2) ** 2 + math.cos(b1) * math.cos(b2) * math.sin((a2 - a1) / 2) ** 2
    return math.degrees(2 * math.asin(math.sqrt(h))) * 3600


def start_server(binary):
    """BINARY serve on 127.0.0.1, port 0, offline (EOP_URL=none) on an empty DATA_DIR:
    returns (process, port); exits the script if it does not come up in 60 s."""
    env = dict(os.environ, EOP_URL="none", DATA_DIR=tempfile.mkdtemp(prefix="pt-score-"),
               SECRET_KEY="score")
    p = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    found, ready = {}, threading.Event()

    def read():
        for raw in p.stdout:
            m = re.search(rb"listening on http://[\d.]+:(\d+)/", raw)
            if m and not ready.is_set():
                found["port"] = int(m.group(1))
                ready.set()
        ready.set()
    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60) or "port" not in found:
        p.kill()
        sys.exit(f"{binary} did not start")
    return p, found["port"]
