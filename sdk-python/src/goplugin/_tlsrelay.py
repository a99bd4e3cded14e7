"""OpenSSL-terminated byte relays that put mutual TLS in front of a plaintext grpcio.

grpcio's BoringSSL cannot do TLS with go-plugin's P-521 certificates, the stdlib's OpenSSL
can. So grpcio talks plaintext over a unix socket in a private 0700 directory, and a relay
in the same process carries the bytes to and from the TLS peer:

* :class:`TLSClientRelay` (we dial, e.g. a host to its Go plugin): grpcio connects to
  :attr:`~TLSClientRelay.target`; each connection is relayed to a new TLS connection to the
  remote address.
* :class:`TLSServerRelay` (we accept, e.g. a plugin serving a Go host): TLS connections on a
  listener the caller bound are relayed to grpcio's private unix socket.

Per connection, two threads each block in a plain ``recv`` (the GIL is released there) and
take turns on one ``SSLObject`` over memory BIOs under a lock that is never held across
blocking IO. OpenSSL forbids using one SSL object from two threads at once, and a single
thread multiplexing both directions would pay a ``poll`` per wake-up; this way a relayed
message costs one wake-up, one ``recv``, one encryption or decryption and one ``send``.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from types import TracebackType

from ._mtls import TLS_SERVER_NAME, MTLSContext
from .errors import TLSError

__all__ = ["HANDSHAKE_TIMEOUT", "TLSClientRelay", "TLSServerRelay", "listen_unix"]

_log = logging.getLogger("goplugin.tls")

#: Seconds a TLS handshake (and, client side, the TCP/unix connect) may take.
HANDSHAKE_TIMEOUT = 10.0
# One recv is at most this much; a decrypted batch never exceeds what was received plus one
# partial TLS record (< 17 KiB) left over from before.
_CHUNK = 256 * 1024
_PLAIN_ROOM = _CHUNK + 32 * 1024


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


def _tune(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        # Each relayed chunk is one or more whole TLS records: never wait to coalesce them.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Link:
    """One relayed connection: ``plain`` (grpcio's side) and ``wire`` (the TLS peer's side)."""

    __slots__ = (
        "_lock",
        "_send_lock",
        "_tls",
        "incoming",
        "outgoing",
        "plain",
        "relay",
        "wire",
    )

    def __init__(self, relay: _Relay, plain: socket.socket, wire: socket.socket) -> None:
        self.relay = relay
        self.plain = plain
        self.wire = wire
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        mtls = relay.mtls
        self._tls = mtls.ssl_context.wrap_bio(
            self.incoming,
            self.outgoing,
            server_side=mtls.server_side,
            server_hostname=None if mtls.server_side else TLS_SERVER_NAME,
        )
        # _lock guards the SSLObject and its BIOs (never held across blocking IO);
        # _send_lock keeps the wire's bytes in the order the SSLObject produced them.
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()

    def handshake(self) -> None:
        """Complete the TLS handshake over the blocking wire, then pin the peer."""
        tls, wire = self._tls, self.wire
        wire.settimeout(HANDSHAKE_TIMEOUT)
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            pending = self.outgoing.read()
            if pending:
                wire.sendall(pending)
            if done:
                break
            data = wire.recv(_CHUNK)
            if not data:
                raise TLSError("the peer closed the connection during the TLS handshake")
            self.incoming.write(data)
        wire.settimeout(None)
        self.relay.mtls.check_peer(tls.getpeercert(binary_form=True))

    def run(self) -> None:
        """Relay both directions until both end; closes both sockets."""
        reader = threading.Thread(target=self._wire_to_plain, name="goplugin-tls-in", daemon=True)
        reader.start()
        try:
            self._plain_to_wire()
        finally:
            reader.join()
            self.plain.close()
            self.wire.close()

    def abort(self) -> None:
        """Wake both pumps (from another thread): they see EOF or an error and end."""
        for sock in (self.plain, self.wire):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _fail(self, exc: BaseException) -> None:
        # A TLS-level failure after the handshake (a TLS 1.3 server refusing our certificate
        # says so only now) explains a failed call; resets and broken pipes are how
        # connections end, and grpcio already reports those.
        if isinstance(exc, ssl.SSLError) and not self.relay.closing:
            self.relay.record_error(exc)
        else:
            _log.debug("relayed connection ended: %s", exc)
        self.abort()

    # The two pumps are the hot path: locals only, no allocation but the ciphertext bytes.

    def _plain_to_wire(self) -> None:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        recv_into, sendall = self.plain.recv_into, self.wire.sendall
        tls, outgoing, lock, send_lock = self._tls, self.outgoing, self._lock, self._send_lock
        try:
            while True:
                n = recv_into(buf)
                if not n:
                    break
                with lock:
                    tls.write(view[:n])
                    data = outgoing.read()
                    send_lock.acquire()
                try:
                    sendall(data)
                finally:
                    send_lock.release()
            # grpcio closed its side: say so in TLS (close_notify), then half-close.
            with lock:
                try:
                    tls.unwrap()
                except ssl.SSLError:
                    pass  # want-read: the peer's close_notify has not come yet
                data = outgoing.read()
                send_lock.acquire()
            try:
                sendall(data)
            finally:
                send_lock.release()
            self.wire.shutdown(socket.SHUT_WR)
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def _wire_to_plain(self) -> None:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        room = bytearray(_PLAIN_ROOM)
        out = memoryview(room)
        capacity = len(room)
        recv_into, sendall = self.wire.recv_into, self.plain.sendall
        incoming, outgoing = self.incoming, self.outgoing
        # With a buffer, SSLObject.read decrypts into it and returns a count (typeshed
        # only knows the bytes-returning form).
        read_into: Callable[[int, memoryview], int] = self._tls.read  # type: ignore[assignment]
        pending = self._tls.pending
        lock, send_lock = self._lock, self._send_lock
        want_read = ssl.SSLWantReadError
        try:
            eof = False
            while not eof:
                n = recv_into(buf)
                fed = False
                while True:  # usually once; again only if ``room`` filled up
                    reply = b""
                    with lock:
                        if not fed:
                            if n:
                                incoming.write(view[:n])
                            else:
                                incoming.write_eof()
                            fed = True
                        total = 0
                        try:
                            while total < capacity:
                                got = read_into(capacity - total, out[total:])
                                if not got:
                                    eof = True  # close_notify
                                    break
                                total += got
                                # Stop when nothing is left rather than asking once more:
                                # SSLWantReadError costs more than decrypting a small record.
                                if not incoming.pending and not pending():
                                    break
                        except want_read:
                            pass  # a partial record: the rest comes with the next recv
                        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                            eof = True
                        if outgoing.pending:
                            # Rare: post-handshake messages that need an answer (KeyUpdate).
                            reply = outgoing.read()
                            send_lock.acquire()
                    if reply:
                        try:
                            self.wire.sendall(reply)
                        finally:
                            send_lock.release()
                    if total:
                        sendall(out[:total])
                    if eof or total < capacity:
                        break
            self.plain.shutdown(socket.SHUT_WR)
        except (OSError, ValueError) as exc:
            self._fail(exc)


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
        self._links: set[_Link] = set()
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
        if self._acceptor.is_alive():
            self._wake_acceptor()
        with self._guard:
            links, threads = list(self._links), list(self._threads)
        for link in links:
            link.abort()
        if self._acceptor.ident is not None:
            self._acceptor.join(HANDSHAKE_TIMEOUT)
        for thread in threads:
            thread.join(HANDSHAKE_TIMEOUT)
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

    def __enter__(self) -> _Relay:
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
        stopping = self._stopping.is_set
        while not stopping():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                if stopping():
                    return
                continue  # e.g. ECONNABORTED: that client is gone, keep serving
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
        link: _Link | None = None
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

    def _link(self, accepted: socket.socket) -> _Link:
        raise NotImplementedError

    def _establish(self, link: _Link) -> None:
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
        self._own_dir = socket_dir is None
        self._dir = tempfile.mkdtemp(prefix="goplugin-tls") if socket_dir is None else socket_dir
        self.path = os.path.join(self._dir, f"relay{os.getpid()}-{id(self):x}.sock")
        super().__init__(listen_unix(self.path), mtls, "goplugin-tls-client")

    @property
    def target(self) -> str:
        """What to give ``grpc.insecure_channel``."""
        return "unix:" + self.path

    def close(self) -> None:
        super().close()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        else:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def _link(self, accepted: socket.socket) -> _Link:
        return _Link(self, accepted, _connect(*self._remote, HANDSHAKE_TIMEOUT))

    def _establish(self, link: _Link) -> None:
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

    def _link(self, accepted: socket.socket) -> _Link:
        _tune(accepted)
        return _Link(self, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), accepted)

    def _establish(self, link: _Link) -> None:
        link.handshake()
        link.plain.connect(self.backend)
