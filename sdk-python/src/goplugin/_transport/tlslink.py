"""One relayed connection: the TLS handshake and the two pumps, the relays' hot path.

Two threads per connection each block in a plain ``recv`` (the GIL is released there) and
take turns on one ``SSLObject`` over memory BIOs under a lock that is never held across
blocking IO. OpenSSL forbids using one SSL object from two threads at once, and a single
thread multiplexing both directions would pay a ``poll`` per wake-up; this way a relayed
message costs one wake-up, one ``recv``, one encryption or decryption and one ``send``.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Protocol

from ..errors import TLSError
from .mtls import TLS_SERVER_NAME, MTLSContext

__all__ = ["HANDSHAKE_TIMEOUT", "Link", "LinkOwner"]

_log = logging.getLogger("goplugin.tls")

#: Seconds a TLS handshake (and, client side, the TCP/unix connect) may take.
HANDSHAKE_TIMEOUT = 10.0
# One recv is at most this much; a decrypted batch never exceeds what was received plus one
# partial TLS record (< 17 KiB) left over from before.
_CHUNK = 256 * 1024
_PLAIN_ROOM = _CHUNK + 32 * 1024


class LinkOwner(Protocol):
    """What a link needs from its relay."""

    @property
    def mtls(self) -> MTLSContext: ...

    @property
    def closing(self) -> bool: ...

    def record_error(self, exc: BaseException) -> None: ...


class Link:
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

    def __init__(self, relay: LinkOwner, plain: socket.socket, wire: socket.socket) -> None:
        self.relay = relay
        self.plain = plain
        self.wire = wire
        # Blocking for good, whatever socket.setdefaulttimeout() says: the pumps wait for as
        # long as the connection lives.
        plain.settimeout(None)
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
        if (
            isinstance(exc, ssl.SSLError)
            # After an alert the other pump finds the SSL object shut: that is no news.
            and not isinstance(exc, (ssl.SSLZeroReturnError, ssl.SSLEOFError))
            and not self.relay.closing
        ):
            self.relay.record_error(exc)
        else:
            _log.debug("relayed connection ended: %s", exc)
        self.abort()

    # The two pumps are the hot path: locals only, no allocation but the ciphertext bytes.

    def _plain_to_wire(self) -> None:
        buf = bytearray(_CHUNK)
        view = memoryview(buf)
        recv_into = self.plain.recv_into
        tls, outgoing, lock = self._tls, self.outgoing, self._lock
        try:
            while True:
                n = recv_into(buf)
                if not n:
                    break
                with lock:
                    tls.write(view[:n])
                    data = outgoing.read()
                    self._send_lock.acquire()
                if not self._send_wire(data):
                    return
            # grpcio closed its side: say so in TLS (close_notify), then half-close.
            with lock:
                try:
                    tls.unwrap()
                except ssl.SSLError:
                    pass  # want-read: the peer's close_notify has not come yet
                data = outgoing.read()
                self._send_lock.acquire()
            if self._send_wire(data):
                self.wire.shutdown(socket.SHUT_WR)
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def _send_wire(self, data: bytes) -> bool:
        """Send (holding ``_send_lock``, which this releases); False if the peer is gone.

        A peer that refuses us closes right after its alert: our write may fail before the
        other pump has read that alert. Stopping here without cutting the connection lets
        it read the alert, and the reason, instead of a bare broken pipe.
        """
        try:
            self.wire.sendall(data)
        except OSError as exc:
            _log.debug("relayed connection: the peer stopped reading: %s", exc)
            return False
        finally:
            self._send_lock.release()
        return True

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
        # Records that came in with the peer's last handshake message are in the BIO
        # already: decrypt them before waiting for more, or they would wait with us.
        try:
            n = -1 if incoming.pending else recv_into(buf)
            eof = False
            while True:
                while True:  # usually once; again only if ``room`` filled up
                    reply = b""
                    with lock:
                        if n > 0:
                            incoming.write(view[:n])
                        elif n == 0:
                            incoming.write_eof()
                            eof = True  # whatever decrypts now is the last of it
                        n = -1
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
                if eof:
                    break
                n = recv_into(buf)
            self.plain.shutdown(socket.SHUT_WR)
        except (OSError, ValueError) as exc:
            self._fail(exc)
