# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fan-out across instances: two masters (two ports, two workers each) sharing a
real PostgreSQL (the run's throwaway cluster) and a real redis-server started
here, behind a real nginx configured from deploy/nginx.conf. A site saved through
one instance reaches a stream on the other; an announcement (`planettracker
announce`) reaches the streams of both and the streams opened after it; Redis
killed and restarted mid-way: fan-out resumes, and a change made while it was down
reaches the other instance's stream when the subscription comes back (state is
sent again).

Without redis-server the module fails, unless PT_TEST_NO_REDIS=1; the
PostgreSQL half follows test_60_sites (PT_TEST_DATABASE_URL)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import REPO, Server, WAIT_TIMEOUT_S, wait_for
from test_60_sites import pg_url


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Redis:
    def __init__(self, tmp):
        if shutil.which("redis-server") is None:
            if os.environ.get("PT_TEST_NO_REDIS") == "1":
                pytest.skip("PT_TEST_NO_REDIS=1: Redis deliberately not tested")
            pytest.fail("redis-server is missing (scripts/install-deps test installs it)")
        self.tmp, self.port, self.proc = tmp, free_port(), None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    return s.recv(16).startswith(b"+PONG")
            except OSError:
                return False
        wait_for(answers, "redis-server answering")
        return self

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis")).start()
    yield r
    if r.proc.poll() is None:
        r.kill()


def start_instance(request, name, redis):
    env = {"REDIS_URL": redis.url, "DATABASE_URL": pg_url()}
    srv = Server(name, ["--workers", "2", "--trust-proxy"], env=env).start()

    def finish():
        problems = srv.stop()
        if problems:
            pytest.fail(f"{name}: " + "; ".join(problems) + "\n" + srv.log_tail(80),
                        pytrace=False)
    request.addfinalizer(finish)
    wait_for(lambda: pubsub_up(srv), f"{name}: the Redis subscription live")
    return srv


def pubsub_up(srv, want=True):
    """Every worker that answers says its subscription is live (or not)."""
    seen = {}
    for _ in range(20):
        try:
            c = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
            c.request("GET", "/healthz")
            h = json.loads(c.getresponse().read())
            c.close()
        except OSError:
            return False
        seen[h["pid"]] = h.get("pubsub", {}).get("up")
        if len(seen) == 2:
            break
    return len(seen) == 2 and all(v is want for v in seen.values())


@pytest.fixture(scope="module")
def instances(request, redis):
    return start_instance(request, "fan-a", redis), start_instance(request, "fan-b", redis)


def call(srv, method, path, body=None, cookie=None, port=None):
    c = http.client.HTTPConnection(srv.host, port or srv.port, timeout=20)
    h = {"Content-Type": "application/json"}
    if cookie:
        h["Cookie"] = cookie
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    r.json = json.loads(data) if data else None
    return r


def owner_cookie(srv, name):
    r = call(srv, "POST", "/api/sites", {"name": name, "lat": 45, "lon": 5})
    assert r.status == 201, r.json
    return r.getheader("Set-Cookie").split(";", 1)[0]


def names(doc):
    return sorted(s["name"] for s in doc["sites"])


def test_a_site_saved_on_one_instance_reaches_a_stream_on_the_other(instances):
    a, b = instances
    cookie = owner_cookie(a, "Home")   # one SECRET_KEY everywhere: the session opens on both
    with b.open_sse("/planets/stream", headers={"Cookie": cookie}) as stream:
        assert names(stream.next_event("sites").json()) == ["Home"]
        t0 = time.monotonic()
        assert call(a, "POST", "/api/sites", {"name": "Dome", "lat": 1, "lon": 2},
                    cookie).status == 201
        # The fan-out of Home's own creation may reach B after its stream opened: B then
        # sends the same list again, before the one with Dome (never another list).
        seen = names(stream.next_event("sites").json())
        for _ in range(3):
            if seen != ["Home"]:
                break
            seen = names(stream.next_event("sites").json())
        assert seen == ["Dome", "Home"]
        print(f"A to B in {time.monotonic() - t0:.3f} s")


def announce(redis, text, *more):
    out = subprocess.run([Server.binary(), "announce", text, "--redis-url", redis.url, *more],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out


def test_an_announcement_reaches_every_stream_of_both(instances, redis):
    a, b = instances
    with a.open_sse("/planets/stream") as on_a, b.open_sse("/planets/stream") as on_b, \
            b.open_ws("/ws") as ws_b:
        announce(redis, "Clouds clearing after 22:00, club dome open", "--ttl", "600")
        for s in (on_a, on_b):
            ev = s.next_event("announcement").json()
            assert ev["text"] == "Clouds clearing after 22:00, club dome open"
            assert ev["expires"].endswith("Z")
        assert ws_b.recv_json("announcement")["text"].startswith("Clouds clearing")
    # A page that opens later still sees it until it expires.
    with a.open_sse("/planets/stream") as late:
        assert late.next_event("announcement").json()["text"].startswith("Clouds")


def test_announce_refuses_bad_input(redis):
    for args in (["announce"], ["announce", "x\x01y"], ["announce", "a" * 281],
                 ["announce", "hi", "--ttl", "0"]):
        out = subprocess.run([Server.binary(), *args, "--redis-url", redis.url],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 64, (args, out.stderr)
    out = subprocess.run([Server.binary(), "announce", "hi", "--redis-url",
                          f"redis://127.0.0.1:{free_port()}"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "Redis" in out.stderr


def test_fan_out_resumes_after_redis_restarts(instances, redis):
    a, b = instances
    cookie = owner_cookie(a, "Base")
    with b.open_sse("/planets/stream", headers={"Cookie": cookie}) as stream:
        assert names(stream.next_event("sites").json()) == ["Base"]
        redis.kill()
        wait_for(lambda: pubsub_up(a, False) and pubsub_up(b, False),
                 "both instances to notice Redis is gone")
        # The rest of the API answers meanwhile; the change is committed, its fan-out lost.
        assert call(b, "GET", "/planets/mars").status == 200
        assert call(a, "POST", "/api/sites", {"name": "While down", "lat": 3, "lon": 4},
                    cookie).status == 201
        redis.start()
        wait_for(lambda: pubsub_up(a) and pubsub_up(b), "both subscriptions live again")
        # The other instance's stream gets the state again, the change included.
        while names(stream.next_event("sites").json()) != ["Base", "While down"]:
            pass
        assert call(a, "POST", "/api/sites", {"name": "After", "lat": 5, "lon": 6},
                    cookie).status == 201
        while names(stream.next_event("sites").json()) != ["After", "Base", "While down"]:
            pass


def nginx_conf(tmp, listen, upstreams):
    """deploy/nginx.conf with its upstream servers and listen port for this test,
    inside a minimal nginx main configuration."""
    site = (REPO / "deploy/nginx.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams)
    site = re.sub(r"    server 127\.0\.0\.1:8000;\n", servers, site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    assert f"127.0.0.1:{listen}" in site and servers in site
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
{site}
}}
""")
    return conf


def test_behind_nginx_every_change_reaches_a_stream(instances, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is missing (scripts/install-deps test installs nginx-light)")
    a, b = instances
    port = free_port()
    conf = nginx_conf(tmp_path, port, [a.port, b.port])
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            try:
                return call(a, "GET", "/healthz", port=port).status == 200
            except OSError:
                return False
        wait_for(up, "nginx answering")
        cookie = owner_cookie(a, "Proxied")
        front = Server("nginx-front")
        front.host, front.port = "127.0.0.1", port
        with front.open_sse("/planets/stream", headers={"Cookie": cookie}) as stream:
            assert names(stream.next_event("sites").json()) == ["Proxied"]
            # Writes through nginx land on either instance (round robin): each arrives.
            want = ["Proxied"]
            for i in range(4):
                r = call(a, "POST", "/api/sites", {"name": f"via nginx {i}", "lat": i, "lon": i},
                         cookie, port=port)
                assert r.status == 201, r.json
                want = sorted(want + [f"via nginx {i}"])
                while names(stream.next_event("sites").json()) != want:
                    pass
    finally:
        proc.send_signal(signal.SIGQUIT)
        proc.wait(WAIT_TIMEOUT_S)
