"""Where plugin traffic goes: listeners for servers and targets for clients, with or without TLS.

Every gRPC endpoint in goplugin (a plugin's main server, both sides' brokered servers, the
host's channel, brokered dials) goes through :func:`listen` or :func:`dial`, so TLS is decided
in one place. Without TLS, grpcio binds or dials the announced address itself. With AutoMTLS,
grpcio's own TLS is used when it can verify both certificates (two Python peers, P-256);
otherwise (a Go peer's P-521) grpcio stays plaintext on a private 0700 unix socket and an
OpenSSL relay terminates TLS in front of it (``tlsrelay.py``; measured in bench/).

net/rpc wraps the whole connection in TLS *under* yamux, so its ends are plain sockets:
:func:`listen_socket` and :func:`connect` put the same relays in front of them when TLS is on.

The TLS modules are imported only when TLS is on: a plaintext plugin never pays for them.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .sockets import (
    apply_socket_group,
    listen_unix,
    port_free,
    private_socket_dir,
    unique_socket_path,
)
from .sockets import connect as _connect_plain

if TYPE_CHECKING:
    import grpc

    from .grpcmux import GRPCMuxer
    from .mtls import Identity

__all__ = [
    "Endpoint",
    "Listener",
    "TLSPair",
    "connect",
    "dial",
    "listen",
    "listen_multiplexed",
    "listen_socket",
]


# Plain classes, not dataclasses: every plugin launch imports this module, and a dataclass
# costs about a millisecond to create.


class TLSPair:
    """Our certificate and key, and the one peer certificate we trust (AutoMTLS)."""

    __slots__ = ("identity", "peer_der")

    identity: Identity
    peer_der: bytes

    def __init__(self, identity: Identity, peer_der: bytes) -> None:
        object.__setattr__(self, "identity", identity)
        object.__setattr__(self, "peer_der", peer_der)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"TLSPair is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TLSPair):
            return NotImplemented
        return (self.identity, self.peer_der) == (other.identity, other.peer_der)

    def __hash__(self) -> int:
        return hash((self.identity, self.peer_der))

    def grpcio_can_handle(self) -> bool:
        from .mtls import grpcio_can_handle

        return grpcio_can_handle(self.identity.cert_der, self.peer_der)


class Listener:
    """An announced gRPC listener: ``network``/``address`` go into handshakes and ConnInfos."""

    __slots__ = ("_cleanup", "address", "network")

    def __init__(
        self, network: str, address: str, _cleanup: list[Callable[[], None]] | None = None
    ) -> None:
        self.network = network
        self.address = address
        self._cleanup: list[Callable[[], None]] = [] if _cleanup is None else _cleanup

    def close(self) -> None:
        while self._cleanup:
            self._cleanup.pop()()


class Endpoint:
    """How grpcio reaches a peer: ``secure_channel(target, credentials, options + ...)`` when
    ``credentials`` is set, else ``insecure_channel(target, ...)``; :meth:`close` after the
    channel."""

    __slots__ = ("_close", "credentials", "options", "target")

    def __init__(
        self,
        target: str,
        credentials: grpc.ChannelCredentials | None = None,
        options: list[tuple[str, Any]] | None = None,
        _close: Callable[[], None] | None = None,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.options: list[tuple[str, Any]] = [] if options is None else options
        self._close = _close

    @property
    def closes_something(self) -> bool:
        return self._close is not None

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def dial(network: str, address: str, tls: TLSPair | None, *, socket_dir: str | None) -> Endpoint:
    if tls is None:
        return Endpoint(("unix:" if network == "unix" else "") + address)
    from .tlsrelay import dial as tls_dial

    way = tls_dial(tls.identity, network, address, tls.peer_der, socket_dir=socket_dir)
    return Endpoint(way.target, way.credentials, way.options, way.close)


def listen(
    server: Any,
    *,
    network: str,
    socket_dir: str,
    tls: TLSPair | None = None,
    port_range: tuple[int, int] = (0, 0),
    group: str | None = None,
) -> Listener:
    """Put ``server`` (sync or aio grpc server, not started yet) behind an announced listener.

    Follows go-plugin's serverListener rules: a unix socket in ``socket_dir`` (joining
    ``group`` with mode 0660 if given), or TCP on 127.0.0.1 in ``port_range``.
    """
    from .._engines import PureServer

    if isinstance(server, PureServer):
        return _listen_pure(server, network, socket_dir, tls, port_range, group)
    if tls is None or tls.grpcio_can_handle():
        return _listen_grpcio(server, network, socket_dir, tls, port_range, group)
    return _listen_relayed(server, network, socket_dir, tls, port_range, group)


def _candidates(
    network: str, socket_dir: str, port_range: tuple[int, int]
) -> Iterator[tuple[str, str]]:
    """(grpc bind target, announced address) in the order go-plugin tries them."""
    if network == "unix":
        path = unique_socket_path(socket_dir)
        yield "unix:" + path, path
        return
    low, high = port_range
    if low == 0 and high == 0:
        yield "127.0.0.1:0", "127.0.0.1:0"
        return
    for port in range(low, high + 1):
        if port_free(port):
            yield f"127.0.0.1:{port}", f"127.0.0.1:{port}"


def _bind_error(network: str) -> OSError:
    return OSError(
        "couldn't bind plugin TCP listener" if network == "tcp" else "couldn't bind unix socket"
    )


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _unlinker(path: str) -> Callable[[], None]:
    def unlink() -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    return unlink


def _listen_grpcio(
    server: Any,
    network: str,
    socket_dir: str,
    tls: TLSPair | None,
    port_range: tuple[int, int],
    group: str | None,
) -> Listener:
    if tls is None:
        add = server.add_insecure_port
    else:
        from .mtls import grpc_server_credentials

        credentials = grpc_server_credentials(tls.identity, tls.peer_der)

        def add(target: str) -> int:
            return int(server.add_secure_port(target, credentials))

    for target, address in _candidates(network, socket_dir, port_range):
        try:
            port = add(target)
        except RuntimeError:
            continue
        if not port:
            continue
        if network == "tcp":
            return Listener(network, f"127.0.0.1:{port}")
        if group:
            apply_socket_group(address, group)
        return Listener(network, address, [_unlinker(address)])
    raise _bind_error(network)


def _bind_socket(
    network: str, socket_dir: str, port_range: tuple[int, int], group: str | None
) -> tuple[socket.socket, Listener]:
    """A listening Python socket at the address go-plugin's rules give (for relays and the
    multiplexing muxer, which accept connections themselves instead of grpcio)."""
    failure: OSError | None = None
    for _, address in _candidates(network, socket_dir, port_range):
        cleanup: list[Callable[[], None]] = []
        try:
            if network == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.bind(address)
                    sock.listen(128)
                except BaseException:
                    sock.close()
                    raise
                if group:
                    apply_socket_group(address, group)
                cleanup.append(_unlinker(address))
            else:
                host, _, port = address.rpartition(":")
                sock = socket.create_server((host, int(port)))
                address = f"127.0.0.1:{sock.getsockname()[1]}"
        except OSError as exc:
            failure = exc
            continue
        cleanup.append(sock.close)
        return sock, Listener(network, address, cleanup)
    raise _bind_error(network) from failure


def _listen_pure(
    server: Any,
    network: str,
    socket_dir: str,
    tls: TLSPair | None,
    port_range: tuple[int, int],
    group: str | None,
) -> Listener:
    """The pure engine accepts on a socket of ours and does TLS with OpenSSL itself: no relay."""
    sock, listener = _bind_socket(network, socket_dir, port_range, group)
    if tls is None:
        server.add_listening_socket(sock, None)
    else:
        from .mtls import mtls_server

        server.add_listening_socket(sock, mtls_server(tls.identity, tls.peer_der))
    return listener


def _listen_relayed(
    server: Any,
    network: str,
    socket_dir: str,
    tls: TLSPair,
    port_range: tuple[int, int],
    group: str | None,
) -> Listener:
    from .mtls import mtls_server
    from .tlsrelay import TLSServerRelay

    private = private_socket_dir("goplugin_tls")
    backend = os.path.join(private, "grpc.sock")
    try:
        server.add_insecure_port("unix:" + backend)
        sock, listener = _bind_socket(network, socket_dir, port_range, group)
    except BaseException:
        _rmtree(private)
        raise
    relay = TLSServerRelay(sock, mtls_server(tls.identity, tls.peer_der), backend)
    relay.start()
    # Undone in reverse: the relay, the socket, its path, then the private directory.
    listener._cleanup[:0] = [lambda: _rmtree(private)]
    listener._cleanup.append(relay.close)
    return listener


def listen_multiplexed(
    server: Any,
    *,
    network: str,
    socket_dir: str,
    tls: TLSPair | None = None,
    port_range: tuple[int, int] = (0, 0),
    group: str | None = None,
) -> tuple[Listener, GRPCMuxer]:
    """Plugin side of PLUGIN_MULTIPLEX_GRPC: announce a listener that accepts the host's one
    connection and runs the yamux server session on it; streams go to ``server`` (reached on a
    private socket, behind TLS when on) unless a knock claims them for a brokered server."""
    from .._yamux.session import Session
    from .grpcmux import MAIN, GRPCMuxer

    backend = listen(server, network="unix", socket_dir=socket_dir, tls=tls)
    try:
        sock, listener = _bind_socket(network, socket_dir, port_range, group)
    except OSError:
        backend.close()
        raise
    muxer = GRPCMuxer(server=True, socket_dir=socket_dir)
    muxer.serve(MAIN, backend.address)

    def accept_one() -> None:
        # go-plugin accepts exactly one connection in this mode.
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        finally:
            sock.close()
        muxer.attach(Session(conn, client=False))

    import threading

    threading.Thread(target=accept_one, name="goplugin-mux-listen", daemon=True).start()
    listener._cleanup[:0] = [backend.close]
    listener._cleanup.append(muxer.close)
    return listener, muxer


def listen_socket(
    *,
    network: str,
    socket_dir: str,
    tls: TLSPair | None = None,
    port_range: tuple[int, int] = (0, 0),
    group: str | None = None,
) -> tuple[Listener, socket.socket]:
    """An announced listener for a server that reads its own sockets (net/rpc), and the
    listening socket to accept on.

    Without TLS that is the announced socket itself. With TLS a :class:`TLSServerRelay` owns
    the announced socket and hands each verified connection, decrypted, to a private unix
    socket in a 0700 directory: the one returned. ``Listener.close`` undoes everything.
    """
    if tls is None:
        sock, listener = _bind_socket(network, socket_dir, port_range, group)
        return listener, sock
    from .mtls import mtls_server
    from .tlsrelay import TLSServerRelay

    private = private_socket_dir("goplugin_tls")
    backend = os.path.join(private, "rpc.sock")
    try:
        inner = listen_unix(backend)
        try:
            outer, listener = _bind_socket(network, socket_dir, port_range, group)
        except BaseException:
            inner.close()
            raise
    except BaseException:
        _rmtree(private)
        raise
    relay = TLSServerRelay(outer, mtls_server(tls.identity, tls.peer_der), backend)
    relay.start()
    # Undone in reverse: the relay, the announced socket and path, ours, the directory.
    listener._cleanup[:0] = [lambda: _rmtree(private), inner.close]
    listener._cleanup.append(relay.close)
    return listener, inner


def connect(
    network: str,
    address: str,
    tls: TLSPair | None,
    *,
    socket_dir: str | None,
    timeout: float = 10.0,
) -> tuple[socket.socket, Callable[[], None] | None]:
    """A connected plain socket to a peer that reads its own sockets (net/rpc), and what to
    call after closing it.

    With TLS the socket leads to a :class:`TLSClientRelay`, which speaks TLS (with OpenSSL,
    so Go's P-521 certificates work) to the peer and pins its certificate.
    """
    if tls is None:
        return _connect_plain(network, address, timeout), None
    from .mtls import mtls_client
    from .tlsrelay import TLSClientRelay

    relay = TLSClientRelay(
        network, address, mtls_client(tls.identity, tls.peer_der), socket_dir=socket_dir
    )
    relay.start()
    try:
        return _connect_plain("unix", relay.path, timeout), relay.close
    except BaseException:
        relay.close()
        raise
