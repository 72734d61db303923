#!/usr/bin/env python3
"""A generated Debian repository served without validators (no Last-Modified, ETag or Cache-Control), as the
mirrors the issue measured serve theirs. Usage: apt_repo_origin.py DIR PORT PACKAGES
Generates DIR/debian (dists/stable/main/binary-amd64 with Packages, .gz, .xz and by-hash copies, an unsigned
Release with Acquire-By-Hash, a pool of PACKAGES .deb-named random files of 64 KiB-4 MiB) once, then serves DIR on
127.0.0.1:PORT and appends every request line to DIR/requests.log."""
import gzip, hashlib, http.server, lzma, os, random, sys

root, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repo = os.path.join(root, "debian")
dists = os.path.join(repo, "dists", "stable")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


if not os.path.exists(os.path.join(dists, "Release")):
    rng = random.Random(12)
    stanzas = []
    for i in range(count):
        name = f"pkg{i}"
        body = rng.randbytes(int(64 * 1024 * (64 ** rng.random())))
        filename = f"pool/main/p/{name}/{name}_1.0_all.deb"
        write(os.path.join(repo, filename), body)
        stanzas.append(f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: Bench <b@example.org>\n"
                       f"Installed-Size: 1\nFilename: {filename}\nSize: {len(body)}\n"
                       f"SHA256: {hashlib.sha256(body).hexdigest()}\nDescription: bench package {name}\n\n")
    plain = "".join(stanzas).encode()
    indexes = {"main/binary-amd64/Packages": plain,
               "main/binary-amd64/Packages.gz": gzip.compress(plain),
               "main/binary-amd64/Packages.xz": lzma.compress(plain)}
    release = ("Origin: Bench\nSuite: stable\nCodename: stable\nDate: Tue, 01 Dec 2026 00:00:00 UTC\n"
               "Architectures: amd64\nComponents: main\nAcquire-By-Hash: yes\nSHA256:\n")
    for path, data in indexes.items():
        digest = hashlib.sha256(data).hexdigest()
        write(os.path.join(dists, path), data)
        write(os.path.join(dists, os.path.dirname(path), "by-hash", "SHA256", digest), data)
        release += f" {digest} {len(data)} {path}\n"
    write(os.path.join(dists, "Release"), release.encode())

log = open(os.path.join(root, "requests.log"), "a", buffering=1)


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def send_header(self, keyword, value):
        if keyword.lower() not in ("last-modified", "etag", "cache-control"):
            super().send_header(keyword, value)

    def log_request(self, code="-", size="-"):
        log.write(self.requestline + "\n")  # once per response (log_message is also called for errors)

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # a client that hung up (apt-cacher-ng closes after what it needs)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
