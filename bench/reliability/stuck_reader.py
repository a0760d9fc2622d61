#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""stuck_reader.py BINARY -- SIGTERM with one SSE reader that never reads: how long until exit.
Starts BINARY on port 18140, subscribes with a 2 KiB window, waits until the server
has dropped a message for it (its writes are blocked), sends SIGTERM, times the exit."""
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
binary=sys.argv[1]
p=subprocess.Popen([binary,"serve","--port","18140","--log-level","warn"],stdout=subprocess.DEVNULL,stderr=subprocess.STDOUT)
time.sleep(0.7)
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048); s.connect(("127.0.0.1",18140))
s.sendall(b"GET /planets/stream?lat=10&lon=20 HTTP/1.1\r\nHost: x\r\n\r\n")
while True:
    m=urllib.request.urlopen("http://127.0.0.1:18140/metrics").read().decode()
    if float(re.search(r"\nplanettracker_live_dropped_total (\S+)",m).group(1))>=1: break
    time.sleep(0.5)
t0=time.time(); p.send_signal(signal.SIGTERM); rc=p.wait(); print(f"{binary}: SIGTERM -> exit {rc} in {time.time()-t0:.2f} s")
