"""Where plugin and broker sockets live, shared by host and plugin sides.

A plaintext gRPC socket is only as private as its directory: by default every socket goes in a
fresh 0700 directory (removed when its owner stops), so no other local user can connect.
"""

from __future__ import annotations

import os
import secrets
import socket
import tempfile

__all__ = ["apply_socket_group", "port_free", "private_socket_dir", "unique_socket_path"]


def private_socket_dir(prefix: str = "plugin") -> str:
    """A new directory only this user can enter (mkdtemp uses mode 0700)."""
    return tempfile.mkdtemp(prefix=prefix)


def unique_socket_path(directory: str) -> str:
    """A free socket name in ``directory``, named like Go's ``os.CreateTemp(dir, "plugin")``."""
    while True:
        path = os.path.join(directory, f"plugin{secrets.randbelow(10**10)}")
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
