#!/usr/bin/env python3
"""soak.py PROXY_PORT ORIGIN_URL_BASE SECONDS: hammer a running proxy on 127.0.0.1 with a random mix of
connections that talk, idle out, reset, cancel and trickle their heads, and check that every request that should be
answered is answered, whole, for SECONDS. Loopback only; bounded in time; exits 1 on any unanswered request."""
import random
import socket
import struct
import sys
import threading
import time

PORT = int(sys.argv[1])
BASE = sys.argv[2].rstrip('/')
SECONDS = float(sys.argv[3])
FILES = {f"/f{i}": None for i in range(8)}
IDLE_TIMEOUT = 1.0  # the proxy runs with --timeout 1
HEAD_TIMEOUT = 2.0  # and --head-timeout 2

lock = threading.Lock()
counts = {"talk": 0, "idle": 0, "reset": 0, "cancel": 0, "slow-head": 0}
failures = []


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=15)
    return s


def read_response(s):
    """Reads one response with Content-Length; returns (status, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError(f"closed before the head ({len(data)} bytes)")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError(f"closed after {len(rest)} of {length} body bytes")
        rest += chunk
    return status, rest[:length]


def request(path):
    return f"GET {BASE}{path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def expected(path):
    return FILES[path]


def talk(rng):
    with connect() as s:
        for _ in range(rng.randint(1, 5)):
            path = rng.choice(list(FILES))
            s.sendall(request(path))
            status, body = read_response(s)
            if status != 200 or body != expected(path):
                raise IOError(f"{path}: status {status}, {len(body)} bytes")


def idle(rng):
    with connect() as s:
        s.settimeout(IDLE_TIMEOUT + 10)
        if s.recv(1) != b"":
            raise IOError("an idle connection got bytes")


def reset(rng):
    s = connect()
    if rng.random() < 0.5:
        s.sendall(request("/f0")[: rng.randint(1, 20)])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def cancel(rng):
    s = connect()
    s.sendall(request(rng.choice(list(FILES))))
    if rng.random() < 0.5:
        s.recv(rng.randint(1, 100))
    s.close()


def slow_head(rng):
    with connect() as s:
        s.sendall(f"GET {BASE}/f1 HTTP/1.1\r\n".encode())
        s.settimeout(HEAD_TIMEOUT + 10)
        data = s.recv(4096)
        if not data.startswith(b"HTTP/1.1 408"):
            raise IOError(f"a trickled head got {data[:40]!r}")


ACTIONS = [(talk, 6), (idle, 1), (reset, 2), (cancel, 2), (slow_head, 1)]


def worker(seed, deadline):
    rng = random.Random(seed)
    choices = [a for a, w in ACTIONS for _ in range(w)]
    while time.monotonic() < deadline:
        action = rng.choice(choices)
        try:
            action(rng)
            with lock:
                counts[action.__name__.replace("_", "-")] += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            with lock:
                failures.append(f"{action.__name__}: {e}")


def main():
    import urllib.request
    for path in FILES:
        FILES[path] = urllib.request.urlopen(f"{BASE}{path}", timeout=10).read()  # straight from the origin
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(seed, deadline)) for seed in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    total = sum(counts.values())
    print(f"soak: {total} connections in {SECONDS:.0f} s: " + ", ".join(f"{k} {v}" for k, v in counts.items())
          + f"; failures {len(failures)}")
    for failure in failures[:20]:
        print("  " + failure)
    sys.exit(1 if failures else 0)


main()
