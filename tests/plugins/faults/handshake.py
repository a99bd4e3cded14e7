"""Handshake lines a host must refuse (twins of testprogs/faultplugin/handshake_faults.go).

Each is written instead of serving; the plugin then blocks until it is killed (or exits,
where the name says so). A line that announces an address announces one nobody listens at.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from . import start

_LINES = {
    "garbage-line": "this is not a handshake line",
    "core-version-2": "2|1|unix|/nonexistent/plugin.sock|grpc|",
    "app-version-99": "1|99|unix|/nonexistent/plugin.sock|grpc|",
    "protocol-http": "1|1|unix|/nonexistent/plugin.sock|http|",
    "network-bogus": "1|1|carrier-pigeon|nowhere|grpc|",
    "address-garbage": "1|1|tcp|not an address|grpc|",
    "short-line": "1|1|unix",
    "version-not-a-number": "one|1|unix|/nonexistent/plugin.sock|grpc|",
}


def block_forever() -> None:
    while True:
        time.sleep(3600)


def _writes(name: str, line: str) -> None:
    @start(name)
    def write_line() -> None:
        sys.stderr.write(f"fault_plugin: writing {name} handshake line\n")
        sys.stderr.flush()
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        block_forever()


for _name, _line in _LINES.items():
    _writes(_name, _line)


@start("stdout-closed")
def stdout_closed() -> None:
    sys.stderr.write("fault_plugin: closing stdout\n")
    sys.stderr.flush()
    os.close(1)
    block_forever()


def socket_path(name: str) -> str:
    """Where serve() would put a socket: the host's private directory, else TMPDIR."""
    directory = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(directory, name)


@start("exit-after-handshake")
def exit_after_handshake() -> None:
    """A valid line for a socket it listens on, then an exit before the host connects."""
    path = socket_path("exits-after-handshake")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    sys.stdout.write(f"1|1|unix|{path}|grpc|\n")
    sys.stdout.flush()
    sys.stderr.write("fault_plugin: exiting right after the handshake\n")
    sys.stderr.flush()
    os._exit(5)
