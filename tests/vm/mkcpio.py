#!/usr/bin/python3
"""Write a "newc" cpio archive (the initramfs format) from a listing.

Usage: mkcpio.py LISTING OUT.cpio

The listing has one entry per line (blank lines and '#' comments ignored):

    dir   PATH MODE
    file  PATH MODE SOURCE      (contents copied from SOURCE on the host)
    slink PATH TARGET
    nod   PATH MODE c|b MAJOR MINOR

MODE is octal.  Every entry is owned by 0:0 with mtime 0, so the archive
is a pure function of the listing and the source files' contents, and
device nodes need no root privilege (nothing is created on the host).
"""
import os
import stat
import sys


def _header(ino, mode, nlink, size, rmaj, rmin, name):
    fields = [
        ino, mode, 0, 0, nlink, 0, size,  # ino mode uid gid nlink mtime filesize
        0, 0, rmaj, rmin,                  # devmajor devminor rdevmajor rdevminor
        len(name) + 1, 0,                  # namesize check
    ]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def _pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def entry(ino, mode, name, data=b"", rmaj=0, rmin=0, nlink=1):
    bname = name.encode()
    hdr = _header(ino, mode, nlink, len(data), rmaj, rmin, bname)
    out = hdr + bname + b"\0"
    out += _pad(len(out))
    out += data + _pad(len(data))
    return out


def build(lines):
    chunks = []
    ino = 1
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split()
        kind, path = f[0], f[1].lstrip("/")
        if kind == "dir":
            chunks.append(entry(ino, stat.S_IFDIR | int(f[2], 8), path, nlink=2))
        elif kind == "file":
            with open(f[3], "rb") as src:
                data = src.read()
            chunks.append(entry(ino, stat.S_IFREG | int(f[2], 8), path, data))
        elif kind == "slink":
            chunks.append(entry(ino, stat.S_IFLNK | 0o777, path, f[2].encode()))
        elif kind == "nod":
            typ = stat.S_IFCHR if f[3] == "c" else stat.S_IFBLK
            chunks.append(entry(ino, typ | int(f[2], 8), path,
                                rmaj=int(f[4]), rmin=int(f[5])))
        else:
            raise SystemExit("listing line %d: unknown kind %r" % (lineno, kind))
        ino += 1
    chunks.append(entry(0, 0, "TRAILER!!!"))
    return b"".join(chunks)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[1]) as fh:
        data = build(fh.readlines())
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
