#!/usr/bin/python3
"""TCP transfer check: `server IP PORT` echoes a SHA-256 of what it receives;
`client IP PORT BYTES` sends pseudo-random bytes and checks the digest.
Exits non-zero on any mismatch or error."""
import hashlib
import os
import socket
import sys


def server(ip, port):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    s.listen(4)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        h = hashlib.sha256()
        n = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big")
        got = 0
        while got < n:
            d = c.recv(min(1 << 20, n - got))
            if not d:
                break
            h.update(d)
            got += len(d)
        c.sendall(h.digest())
        c.close()


def client(ip, port, nbytes):
    data = os.urandom(nbytes)
    s = socket.create_connection((ip, port), timeout=30)
    s.sendall(nbytes.to_bytes(8, "big"))
    s.sendall(data)
    digest = s.recv(32, socket.MSG_WAITALL)
    if digest != hashlib.sha256(data).digest():
        print("digest mismatch", file=sys.stderr)
        sys.exit(1)
    print(f"ok {nbytes}")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
