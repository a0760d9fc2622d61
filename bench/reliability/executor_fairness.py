#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""executor_fairness.py PORT HOGS -- HOGS connections from 127.0.0.2 each pipeline 40
366-day event searches; another client (127.0.0.3) times 20 one-day searches."""
import socket
import sys
import threading
import time
port=int(sys.argv[1]); hogs=int(sys.argv[2])
def hog(i):
    s=socket.socket(); s.bind(("127.0.0.2",0)); s.connect(("127.0.0.1",port))
    s.sendall(b"".join(f"GET /planets/sun/events?days=366&time={1500000000+i*1000+k} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for k in range(40)))
    try:
        while s.recv(1<<20): pass
    except OSError: pass
ths=[threading.Thread(target=hog,args=(i,),daemon=True) for i in range(hogs)]
for t in ths: t.start()
time.sleep(1)
lat=[]
for j in range(20):
    s=socket.socket(); s.bind(("127.0.0.3",0)); s.connect(("127.0.0.1",port))
    t0=time.perf_counter()
    s.sendall(f"GET /planets/mars/events?days=1&time={1600000000+j} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    b=b""
    while True:
        c=s.recv(65536)
        if not c: break
        b+=c
    assert b.startswith(b"HTTP/1.1 200"), b[:80]
    lat.append((time.perf_counter()-t0)*1000); s.close(); time.sleep(0.25)
lat.sort()
print(f"hogs={hogs}: victim /events?days=1 p50={lat[10]:.1f} ms max={lat[-1]:.1f} ms")
