"""Where plugin and broker sockets live, shared by host and plugin sides.

A plaintext gRPC socket is only as private as its directory: by default every socket goes in a
fresh 0700 directory (removed when its owner stops), so no other local user can connect.

A unix socket path holds at most :data:`SUN_PATH_MAX` bytes. Go's plugins put their socket at
``$TMPDIR/plugin<up to 10 digits>`` (measured with go-plugin v1.8.0's examples: a TMPDIR of 90
characters always works, 91 only when the random name is short), so a private directory under
TMPDIR leaves less room than Go has. Wherever TMPDIR has no room for one, the private
directory goes under XDG_RUNTIME_DIR (the per-user 0700 directory meant for sockets), else
under /tmp: we work wherever Go does, and with longer TMPDIRs too. Only when nothing fits is
it an error (:class:`~goplugin.errors.SocketPathTooLongError`), raised before anything is
bound. Linux abstract sockets would need no path, but anyone on the machine may connect to
one: they would give up the 0700 directory that keeps plaintext gRPC private, so they are
not used.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from ..errors import SocketPathTooLongError

__all__ = [
    "SOCKET_NAME_ROOM",
    "SUN_PATH_MAX",
    "apply_socket_group",
    "check_socket_path",
    "connect",
    "listen_unix",
    "port_free",
    "private_socket_dir",
    "unique_socket_path",
]

_log = logging.getLogger("goplugin.sockets")

#: The longest unix socket path in bytes: ``sun_path`` less its terminating NUL (108 bytes on
#: Linux, 104 on macOS and the BSDs). Go's net package and grpcio refuse anything longer.
SUN_PATH_MAX = 107 if sys.platform.startswith("linux") else 103
#: What a socket directory must leave room for: "/" and the longest name anyone puts there,
#: Go's ``plugin`` and a random uint32 in decimal (``os.CreateTemp(dir, "plugin")``). Every
#: name goplugin itself makes is no longer.
SOCKET_NAME_ROOM = len("/plugin4294967295")
#: Where private directories go when neither TMPDIR nor XDG_RUNTIME_DIR has room.
LAST_RESORT_TMPDIR = "/tmp"
# Random hex digits in a private directory's name: mkdir is exclusive, so this only makes
# collisions rare, and a short name leaves TMPDIR more room.
_DIR_HEX = 8


def _temp_root() -> str:
    # tempfile.gettempdir()'s rules without importing tempfile (and shutil, random, hashlib):
    # a plugin pays for every import at each launch.
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value and os.path.isdir(value):
            return value
    return LAST_RESORT_TMPDIR


def _size(path: str) -> int:
    return len(os.fsencode(path))


def check_socket_path(path: str) -> str:
    """``path``, if a unix socket can be bound there; else SocketPathTooLongError."""
    if os.name != "nt" and _size(path) > SUN_PATH_MAX:
        raise SocketPathTooLongError(path, SUN_PATH_MAX)
    return path


def private_socket_dir(prefix: str = "plugin") -> str:
    """A new directory only this user can enter (mode 0700, like tempfile.mkdtemp), with room
    for any socket name: under TMPDIR, else XDG_RUNTIME_DIR, else /tmp (see above)."""
    wanted = _temp_root()
    roots = [wanted]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        roots.append(runtime)
    if os.path.isdir(LAST_RESORT_TMPDIR):
        roots.append(LAST_RESORT_TMPDIR)
    for root in roots:
        sample = os.path.join(root, prefix + "0" * _DIR_HEX)
        if os.name != "nt" and _size(sample) + SOCKET_NAME_ROOM > SUN_PATH_MAX:
            continue
        if root != wanted:
            _log.debug("no room for unix sockets under the temp dir %s; using %s", wanted, root)
        return _make_private_dir(root, prefix)
    # Name the socket path it would have been under TMPDIR: that is what to shorten.
    longest = os.path.join(wanted, prefix + "0" * _DIR_HEX) + "/plugin4294967295"
    raise SocketPathTooLongError(longest, SUN_PATH_MAX)


def _make_private_dir(root: str, prefix: str) -> str:
    while True:
        path = os.path.join(root, prefix + os.urandom(_DIR_HEX // 2).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def unique_socket_path(directory: str, prefix: str = "plugin") -> str:
    """A free socket name in ``directory``, named like Go's ``os.CreateTemp(dir, "plugin")``.

    The random number has fewer digits where the directory leaves no room for ten, so a
    directory a Go plugin could use only by luck always works; SocketPathTooLongError where
    not even a four-digit name fits.
    """
    base = os.path.join(directory, prefix)
    digits = 10 if os.name == "nt" else min(10, SUN_PATH_MAX - _size(base))
    if digits < 4:
        raise SocketPathTooLongError(base + "4294967295", SUN_PATH_MAX)
    bound = min(1 << 32, 10**digits)
    while True:
        path = f"{base}{int.from_bytes(os.urandom(4), 'big') % bound}"
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
    check_socket_path(path)
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
