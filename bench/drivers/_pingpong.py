"""The physical floor in Python: round trips over a unix socketpair, no framing, no RPC.

``python -m bench.drivers._pingpong FD SIZE`` is the echoing child.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

from ._protocol import timer

__all__ = ["pingpong"]


def _recv_exactly(sock: socket.socket, buf: bytearray) -> bool:
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = sock.recv_into(view[got:])
        if n == 0:
            return False
        got += n
    return True


def pingpong(n: int, size: int) -> dict[str, Any]:
    mine, theirs = socket.socketpair()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.drivers._pingpong", str(theirs.fileno()), str(size)],
        pass_fds=[theirs.fileno()],
    )
    theirs.close()
    buf, lat = bytearray(size), []
    try:
        for _ in range(n):
            start = timer()
            mine.sendall(buf)
            if not _recv_exactly(mine, buf):
                raise RuntimeError("pingpong child hung up")
            lat.append(timer() - start)
    finally:
        mine.close()
        child.wait()
    return {"lat_ns": lat}


def _serve(fd: int, size: int) -> None:
    sock = socket.socket(fileno=fd)
    buf = bytearray(size)
    while _recv_exactly(sock, buf):
        sock.sendall(buf)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
