"""Addresses where a host gets no answer (twins of the Go fault plugin's address faults).

For each protocol (``grpc``, ``netrpc``), a handshake line is written instead of serving:

- ``dead-address-<protocol>``: nothing listens at the announced socket;
- ``never-accept-<protocol>``: something listens there but never accepts (connections wait
  in the kernel's backlog);
- ``accept-silent-<protocol>``: connections are accepted, then neither read nor written.

The plugin then blocks until it is killed.
"""

from __future__ import annotations

import socket
import sys
import threading

from . import start
from .handshake import block_forever, socket_path


def _announce(path: str, protocol: str, what: str) -> None:
    sys.stderr.write(f"fault_plugin: announcing {protocol} at {path} ({what})\n")
    sys.stderr.flush()
    sys.stdout.write(f"1|1|unix|{path}|{protocol}|\n")
    sys.stdout.flush()


def _listener(path: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    return listener


def _register(protocol: str) -> None:
    @start(f"dead-address-{protocol}")
    def dead_address() -> None:
        _announce(socket_path("nobody-listens-here"), protocol, "nothing listens")
        block_forever()

    @start(f"never-accept-{protocol}")
    def never_accept() -> None:
        path = socket_path("never-accepts")
        listener = _listener(path)
        _announce(path, protocol, "never accepting")
        block_forever()
        listener.close()  # never reached: the listener must stay open

    @start(f"accept-silent-{protocol}")
    def accept_silent() -> None:
        path = socket_path("accepts-silently")
        listener = _listener(path)
        _announce(path, protocol, "accepting, answering nothing")
        held: list[socket.socket] = []  # kept: a collected socket would be closed

        def accept() -> None:
            while True:
                conn, _ = listener.accept()
                held.append(conn)

        threading.Thread(target=accept, daemon=True).start()
        block_forever()


for _protocol in ("grpc", "netrpc"):
    _register(_protocol)
