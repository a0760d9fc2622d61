#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""waiting_heads.py -- what a connection waiting for the rest of its head costs the
server: N connections from 200 loopback addresses each send the start of a head and
stop; the server's RSS (/proc/PID/status) before and 2 s after.

    build/planettracker serve --port 18120 & python3 bench/reliability/waiting_heads.py 18120 $! 5000
"""
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def main():
    port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    time.sleep(0.3)
    before = rss_kib(pid)
    socks = []
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 200}", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /planets/mars HTTP/1.1\r\nHo")
        socks.append(s)
    time.sleep(2)
    during = rss_kib(pid)
    for s in socks:
        s.close()
    print(f"{n} partial heads: RSS {before} -> {during} KiB = {(during - before) / n:.2f} KiB each")


if __name__ == "__main__":
    main()
