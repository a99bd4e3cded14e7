"""Where plugin and broker sockets live, shared by host and plugin sides.

A plaintext gRPC socket is only as private as its directory: by default every socket goes in a
fresh 0700 directory (removed when its owner stops), so no other local user can connect.
"""

from __future__ import annotations

import os
import socket

__all__ = [
    "apply_socket_group",
    "connect",
    "listen_unix",
    "port_free",
    "private_socket_dir",
    "unique_socket_path",
]


def _temp_root() -> str:
    # tempfile.gettempdir()'s rules without importing tempfile (and shutil, random, hashlib):
    # a plugin pays for every import at each launch.
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value and os.path.isdir(value):
            return value
    return "/tmp"


def private_socket_dir(prefix: str = "plugin") -> str:
    """A new directory only this user can enter (mode 0700, like tempfile.mkdtemp)."""
    root = _temp_root()
    while True:
        path = os.path.join(root, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def unique_socket_path(directory: str) -> str:
    """A free socket name in ``directory``, named like Go's ``os.CreateTemp(dir, "plugin")``."""
    while True:
        path = os.path.join(directory, f"plugin{int.from_bytes(os.urandom(4), 'big')}")
        if not os.path.lexists(path):
            return path


def apply_socket_group(path: str, group: str) -> None:
    """PLUGIN_UNIX_SOCKET_GROUP: the socket joins that group with mode 0660 (server.go)."""
    import grp

    try:
        gid = int(group)
    except ValueError:
        gid = grp.getgrnam(group).gr_gid
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)


def port_free(port: int) -> bool:
    """Cheap pre-check before asking grpcio to bind 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listen_unix(path: str, backlog: int = 128) -> socket.socket:
    """A listening unix socket at ``path`` (its directory decides who may connect)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(network: str, address: str, timeout: float) -> socket.socket:
    """A connected, blocking stream socket to a unix path or a ``host:port``."""
    if network == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
    elif network == "tcp":
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        # Like Go's host (rpc_client.go): keep-alive, so a dead peer's connection ends.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    else:
        raise OSError(f"unknown address type: {network}:{address}")
    sock.settimeout(None)
    return sock
