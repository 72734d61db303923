#!/usr/bin/env python3
"""Each joiner's first byte, counted from its own request (issue 13, point 5).

N clients ask one forward proxy for one fresh URL at once, from ONE thread with non-blocking sockets: each request is
sent the moment its connection is up, and its first response byte is stamped with the time the poll that reported it
returned. So the figure is the proxy's (and the kernel's), not the client's: ../shared/bench's collapse.py starts one
Python thread per client, and on a small machine its threads wait for the interpreter lock and the CPU for tens of
milliseconds, which it counts into every time to first byte.

Bodies are read to their end and thrown away (only their length is checked against Content-Length), in reads of at
most 256 KiB, heads before bodies, so that a client's first byte is not stamped late behind other clients' bodies.

Prints one line per client, then a summary:
  CLIENT i connect_ms request_to_first_byte_ms total_s status body_bytes error|-
  WORST request_to_first_byte_ms
"""
import argparse
import selectors
import socket
import time

READ = 256 * 1024


class Client:
    def __init__(self, i, port, request):
        self.i, self.request = i, request
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.opened = time.monotonic()
        self.sock.connect_ex(("127.0.0.1", port))
        self.connected = self.sent = self.first = self.done = None
        self.head = b""
        self.status, self.length, self.body, self.error = 0, None, 0, "-"

    def on_writable(self, now):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect")
        self.connected = now
        self.sock.sendall(self.request)  # a request of 150 bytes always fits an empty send buffer
        self.sent = time.monotonic()

    def on_readable(self, now):
        data = self.sock.recv(READ)
        if not data:
            raise EOFError("closed after %d body bytes" % self.body)
        if self.first is None:
            self.first = now
        if self.length is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = self.head[:end].decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    self.length = int(value)
            if self.length is None:
                raise ValueError("no Content-Length")
            data = self.head[end + 4:]
        self.body += len(data)
        return self.body >= self.length


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--deadline", type=float, default=120.0)
    a = ap.parse_args()
    host = a.url.split("/")[2]
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: bench-joiner-ttfb\r\nAccept: */*\r\n\r\n" % (a.url, host)).encode()
    deadline = time.monotonic() + a.deadline
    selector = selectors.DefaultSelector()
    clients = []
    for i in range(a.clients):
        c = Client(i, a.port, request)
        clients.append(c)
        selector.register(c.sock, selectors.EVENT_WRITE, c)
    open_count = len(clients)
    while open_count and time.monotonic() < deadline:
        events = selector.select(timeout=1.0)
        now = time.monotonic()
        # Heads first: a client waiting for its first byte is stamped before anyone's body is read.
        events.sort(key=lambda e: e[0].data.first is not None)
        for key, mask in events:
            c = key.data
            try:
                if mask & selectors.EVENT_WRITE:
                    c.on_writable(now)
                    selector.modify(c.sock, selectors.EVENT_READ, c)
                elif c.on_readable(now):
                    c.done = time.monotonic()
            except Exception as e:  # noqa: BLE001
                c.error = ("%s:%s" % (type(e).__name__, e)).replace(" ", "_")  # one field of the CLIENT line
                c.done = time.monotonic()
            if c.done is not None:
                selector.unregister(c.sock)
                c.sock.close()
                open_count -= 1
    worst = 0.0
    for c in clients:
        if c.done is None:
            c.error = "unfinished"
        ttfb = (c.first - c.sent) * 1000 if c.first is not None and c.sent is not None else float("nan")
        worst = max(worst, ttfb) if ttfb == ttfb else float("inf")
        connect = (c.connected - c.opened) * 1000 if c.connected is not None else float("nan")
        total = (c.done or time.monotonic()) - c.opened
        print("CLIENT %d %.2f %.2f %.3f %d %d %s" % (c.i, connect, ttfb, total, c.status, c.body, c.error))
    print("WORST %.2f" % worst)


if __name__ == "__main__":
    main()
