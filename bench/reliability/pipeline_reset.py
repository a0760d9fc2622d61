#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""pipeline_reset.py -- the remote crash of issue 8, repeated: one connection sends
two pipelined requests (an answer, then an /events search for the thread pool) in
one write and resets at once (SO_LINGER {1, 0}). The server must stay up and, if
it is a sanitized build, say nothing.

    python3 bench/reliability/pipeline_reset.py PORT [ROUNDS=1000] [--days N]

Exit status 0 when every round ran and /healthz answers 200 at the end.
"""
import socket
import struct
import sys
import time


def main():
    port = int(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 1000
    days = int(sys.argv[sys.argv.index("--days") + 1]) if "--days" in sys.argv else 1
    t0 = time.time()
    for i in range(rounds):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /planets/mars HTTP/1.1\r\nHost: x\r\n\r\n"
                  + f"GET /planets/mars/events?days={days}&time={1600000000 + i} HTTP/1.1\r\n"
                    f"Host: x\r\n\r\n".encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = s.recv(100)
    ok = answer.startswith(b"HTTP/1.1 200")
    print(f"{rounds} rounds (days={days}) in {time.time() - t0:.1f} s; server "
          f"{'up' if ok else 'DOWN'}: {answer[:40]!r}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
