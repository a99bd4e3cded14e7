"""OpenSSL-terminated byte relays that put mutual TLS in front of a plaintext grpcio.

grpcio's BoringSSL cannot do TLS with go-plugin's P-521 certificates, the stdlib's OpenSSL
can. So grpcio talks plaintext over a unix socket in a private 0700 directory, and a relay
in the same process carries the bytes to and from the TLS peer:

* :class:`TLSClientRelay` (we dial, e.g. a host to its Go plugin): grpcio connects to
  :attr:`~TLSClientRelay.target`; each connection is relayed to a new TLS connection to the
  remote address.
* :class:`TLSServerRelay` (we accept, e.g. a plugin serving a Go host): TLS connections on a
  listener the caller bound are relayed to grpcio's private unix socket.
* :func:`dial` picks for a host: grpcio's own TLS when no P-521 is involved (two Python
  peers), else a started :class:`TLSClientRelay`.

Each relay has one accept thread; each connection two threads (``tlslink.Link``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import weakref
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import TLSError
from . import tlslink
from .mtls import (
    Identity,
    MTLSContext,
    grpc_channel_credentials,
    grpcio_can_handle,
    mtls_client,
)
from .sockets import listen_unix, private_socket_dir, unique_socket_path
from .tlslink import Link

if TYPE_CHECKING:
    import grpc

__all__ = ["TLSClientRelay", "TLSDial", "TLSServerRelay", "dial", "listen_unix"]

_log = logging.getLogger("goplugin.tls")
_R = TypeVar("_R", bound="_Relay")


def _connect(network: str, address: str, timeout: float) -> socket.socket:
    if network == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    if network != "tcp":
        raise TLSError(f"unknown network {network!r}")
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    _tune(sock)
    return sock


def _remove_socket(path: str, directory: str | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def _tune(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # Each relayed chunk is one or more whole TLS records: never wait to coalesce them.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Relay:
    """Accept loop, connection bookkeeping and shutdown shared by both relay roles."""

    def __init__(self, listener: socket.socket, mtls: MTLSContext, name: str) -> None:
        self.mtls = mtls
        self._stopping = threading.Event()
        #: The most recent failure of a connection (handshake refused, peer reset...), so a
        #: caller whose grpcio call failed with UNAVAILABLE can say why.
        self.last_error: BaseException | None = None
        self._listener = listener
        self._name = name
        # _links/_threads: added by the acceptor and connection threads, removed by each
        # connection thread as it ends, copied by close(); all under _guard.
        self._links: set[Link] = set()
        self._threads: set[threading.Thread] = set()
        self._guard = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, name=name, daemon=True)

    @property
    def closing(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        self._acceptor.start()

    def record_error(self, exc: BaseException) -> None:
        self.last_error = exc
        _log.debug("%s: connection failed: %s", self._name, exc)

    def close(self) -> None:
        """Stop accepting, cut every relayed connection and wait for the threads to end."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
        except OSError:
            pass
        if self._acceptor.ident is not None:
            self._acceptor.join(0.5)
            if self._acceptor.is_alive():
                self._wake_acceptor()
                self._acceptor.join(tlslink.HANDSHAKE_TIMEOUT)
        # The acceptor is done: no connection can start behind our back any more.
        with self._guard:
            links, threads = list(self._links), list(self._threads)
        for link in links:
            link.abort()
        for thread in threads:
            thread.join(tlslink.HANDSHAKE_TIMEOUT)
        self._listener.close()

    def _wake_acceptor(self) -> None:
        # Where shutdown() does not interrupt accept(), a connection does.
        try:
            address = self._listener.getsockname()
            with socket.socket(self._listener.family, socket.SOCK_STREAM) as poke:
                poke.settimeout(1.0)
                poke.connect(address)
        except OSError:
            pass

    def __enter__(self: _R) -> _R:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept_loop(self) -> None:
        stopping, stopping_wait = self._stopping.is_set, self._stopping.wait
        while not stopping():
            try:
                sock, _ = self._listener.accept()
            except OSError as exc:
                if stopping():
                    return
                # ECONNABORTED: that client is gone; EMFILE: wait for descriptors to free up
                # rather than spin. Either way keep serving.
                _log.debug("%s: accept failed: %s", self._name, exc)
                stopping_wait(0.05)
                continue
            if stopping():
                sock.close()
                return
            thread = threading.Thread(
                target=self._serve, args=(sock,), name=self._name + "-conn", daemon=True
            )
            with self._guard:
                self._threads.add(thread)
            thread.start()

    def _serve(self, accepted: socket.socket) -> None:
        link: Link | None = None
        try:
            try:
                link = self._link(accepted)
                with self._guard:
                    self._links.add(link)
                if self.closing:
                    link.abort()
                self._establish(link)
            except Exception as exc:
                if not self.closing:
                    self.refused(exc)
                accepted.close()
                if link is not None:
                    link.plain.close()
                    link.wire.close()
                return
            link.run()
        finally:
            with self._guard:
                self._threads.discard(threading.current_thread())
                if link is not None:
                    self._links.discard(link)

    def refused(self, exc: BaseException) -> None:
        """A connection failed before relaying began (connect, handshake, pinning)."""
        self.last_error = exc
        _log.debug("%s: connection refused: %s", self._name, exc)

    def _link(self, accepted: socket.socket) -> Link:
        raise NotImplementedError

    def _establish(self, link: Link) -> None:
        raise NotImplementedError


class TLSClientRelay(_Relay):
    """grpcio → plaintext unix socket → here → TLS to ``network``/``address``.

    Every connection grpcio opens to :attr:`target` gets its own TLS connection to the peer,
    so channel reconnects work. A peer that refuses our certificate (or presents one other
    than the pinned one) makes grpcio see the connection close; :attr:`last_error` says why.
    """

    def __init__(
        self,
        network: str,
        address: str,
        mtls: MTLSContext,
        *,
        socket_dir: str | None = None,
    ) -> None:
        if mtls.server_side:
            raise ValueError("TLSClientRelay needs a client-side MTLSContext (mtls_client)")
        if network not in ("unix", "tcp"):
            raise ValueError(f"unknown network {network!r}")
        self._remote = (network, address)
        directory = private_socket_dir("goplugin_tls") if socket_dir is None else socket_dir
        # Named like every other socket: the directory may be a host's socket directory
        # that a plugin shares, and Go's names are the longest it must have room for.
        try:
            self.path = unique_socket_path(directory, "relay")
        except BaseException:
            if socket_dir is None:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        # Remove the socket (and our directory) on close(), or at the latest when the relay
        # is collected or the interpreter exits: a forgotten relay leaves nothing in /tmp.
        self._remove = weakref.finalize(
            self, _remove_socket, self.path, directory if socket_dir is None else None
        )
        try:
            listener = listen_unix(self.path)
        except BaseException:
            self._remove()
            raise
        super().__init__(listener, mtls, "goplugin-tls-client")

    @property
    def target(self) -> str:
        """What to give ``grpc.insecure_channel``."""
        return "unix:" + self.path

    def close(self) -> None:
        super().close()
        self._remove()

    def _link(self, accepted: socket.socket) -> Link:
        return Link(self, accepted, _connect(*self._remote, tlslink.HANDSHAKE_TIMEOUT))

    def _establish(self, link: Link) -> None:
        link.handshake()


class TLSServerRelay(_Relay):
    """TLS clients on ``listener`` → here → plaintext to grpcio's unix socket ``backend``.

    ``listener`` is bound and listening already (the caller decides the announced address,
    as go-plugin's rules say); it is closed by :meth:`close`. Clients without the pinned
    certificate, and plaintext clients, are refused during the handshake and never reach
    grpcio.
    """

    def __init__(self, listener: socket.socket, mtls: MTLSContext, backend: str) -> None:
        if not mtls.server_side:
            raise ValueError("TLSServerRelay needs a server-side MTLSContext (mtls_server)")
        self.backend = backend.removeprefix("unix:")
        super().__init__(listener, mtls, "goplugin-tls-server")

    def refused(self, exc: BaseException) -> None:
        self.last_error = exc
        # Someone knocked without the host's certificate: worth a line in the host's log.
        _log.warning("refused a TLS connection: %s", exc)

    def _link(self, accepted: socket.socket) -> Link:
        _tune(accepted)
        return Link(self, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), accepted)

    def _establish(self, link: Link) -> None:
        link.handshake()
        link.plain.connect(self.backend)


@dataclass
class TLSDial:
    """How to reach a peer under AutoMTLS with grpcio: use ``secure_channel(target,
    credentials, options)`` when ``credentials`` is set, else ``insecure_channel(target,
    options)``; :meth:`close` after the channel."""

    target: str
    credentials: grpc.ChannelCredentials | None = None
    options: list[tuple[str, Any]] = field(default_factory=list)
    relay: TLSClientRelay | None = None

    def close(self) -> None:
        if self.relay is not None:
            self.relay.close()


def dial(
    identity: Identity,
    network: str,
    address: str,
    peer_der: bytes,
    *,
    socket_dir: str | None = None,
) -> TLSDial:
    """The cheapest way to a pinned peer: grpcio's own TLS when neither certificate is P-521
    (a Python peer), else a started :class:`TLSClientRelay` (a Go peer)."""
    if grpcio_can_handle(identity.cert_der, peer_der):
        credentials, options = grpc_channel_credentials(identity, peer_der)
        target = "unix:" + address if network == "unix" else address
        return TLSDial(target, credentials, options)
    relay = TLSClientRelay(network, address, mtls_client(identity, peer_der), socket_dir=socket_dir)
    relay.start()
    return TLSDial(relay.target, relay=relay)
