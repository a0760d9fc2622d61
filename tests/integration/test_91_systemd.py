# SPDX-License-Identifier: AGPL-3.0-or-later
"""The master under systemd: Type=notify (READY=1 once every worker serves,
RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM) over a real
$NOTIFY_SOCKET datagram socket, and socket activation (LISTEN_FDS/LISTEN_PID:
the master serves the socket it is given, on a port it did not choose)."""
import http.client
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import Server, WAIT_TIMEOUT_S, wait_for


def base_env(tmp_path):
    env = dict(os.environ)
    for k in ("HOST", "PORT", "WORKERS", "DATABASE_URL", "REDIS_URL", "LISTEN_FDS", "LISTEN_PID"):
        env.pop(k, None)
    env.update({"EOP_URL": "none", "DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "k"})
    (tmp_path / "data").mkdir()
    return env


def test_notify_ready_reloading_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    sd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sd.bind(path)
    sd.settimeout(WAIT_TIMEOUT_S)
    env = base_env(tmp_path)
    env["NOTIFY_SOCKET"] = path
    proc = subprocess.Popen([Server.binary(), "serve", "--port", "0", "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got = [sd.recv(256).decode()]
        assert got == ["READY=1"]
        proc.send_signal(signal.SIGHUP)
        got += [sd.recv(256).decode(), sd.recv(256).decode()]
        assert got[1:] == ["RELOADING=1", "READY=1"]
        proc.send_signal(signal.SIGTERM)
        assert sd.recv(256).decode() == "STOPPING=1"
        assert proc.wait(WAIT_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sd.close()


def test_socket_activation(tmp_path):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    port = lsock.getsockname()[1]
    env = base_env(tmp_path)
    env["LISTEN_FDS"] = "1"
    # systemd passes the socket as descriptor 3 and names the pid it is meant for.
    # sh names its own pid, which exec hands on; the socket is put at 3 before that.
    cmd = 'LISTEN_PID=$$ exec "$0" serve --port 1 --workers 2'
    fd = lsock.fileno()
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen(["sh", "-c", cmd, Server.binary()], env=env, pass_fds=(3,),
                            preexec_fn=lambda: os.dup2(fd, 3), stdout=log,
                            stderr=subprocess.STDOUT)
    lsock.close()
    try:
        def answer():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                doc = json.loads(c.getresponse().read())
                c.close()
                return doc
            except OSError:
                return None
        doc = wait_for(answer, "the workers serving the passed socket")
        assert doc["worker"].startswith("1.")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(WAIT_TIMEOUT_S)
        log.close()
        assert rc == 0, (tmp_path / "log").read_text()[-3000:]
