"""AutoMTLS for the pure engine: OpenSSL through memory BIOs, between the socket and HTTP/2.

asyncio's own TLS (``ssl=`` or ``start_tls``) works, but runs a general-purpose state machine
per read and write (flow control, shutdown bookkeeping) and drops failed handshakes silently.
A gRPC connection needs less: feed what arrives to OpenSSL, hand the plaintext to the
connection, send whatever OpenSSL produced. That keeps AutoMTLS close to plaintext per call,
and a refused peer (plaintext, a certificate other than the host's) is logged the way the
grpcio engine's relay logs it. Each connection shakes hands on its own, with a deadline: one
that never finishes holds nothing but itself.

The layer is the connection's transport (``write``, ``is_closing``, ``close``, ``abort``,
``get_extra_info``); everything runs on the engine's loop.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._transport.mtls import MTLSContext

__all__ = ["TLSLayer"]

_log = logging.getLogger("goplugin.engine")

HANDSHAKE_TIMEOUT = 10.0
_READ = 256 * 1024


class TLSLayer(asyncio.Protocol):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        tls: MTLSContext,
        make_connection: Callable[[], asyncio.Protocol],
    ) -> None:
        self._loop = loop
        self._make_connection = make_connection
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = tls.ssl_context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._raw: Any = None
        self._conn: asyncio.Protocol | None = None
        self._deadline: asyncio.TimerHandle | None = None

    # -- the socket side ---------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self._raw = transport
        self._deadline = self._loop.call_later(HANDSHAKE_TIMEOUT, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        self._incoming.write(data)
        if self._conn is None and not self._handshake():
            return
        chunks = []
        while True:
            try:
                chunk = self._ssl.read(_READ)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the peer's close_notify
                self._raw.close()
                break
            except ssl.SSLError as exc:
                _log.debug("TLS connection broke: %s", exc)
                self._raw.abort()
                return
            if not chunk:
                break
            chunks.append(chunk)
        self._flush()
        if chunks and self._conn is not None:
            self._conn.data_received(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _handshake(self) -> bool:
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return False
        except (ssl.SSLError, OSError) as exc:
            _log.warning("refused a TLS connection: %s", exc)
            self._flush()  # the alert, so the peer knows why
            self._raw.abort()
            return False
        if self._deadline is not None:
            self._deadline.cancel()
        self._flush()
        self._conn = self._make_connection()
        self._conn.connection_made(self)  # type: ignore[arg-type]  # the transport it needs
        return True

    def _handshake_timed_out(self) -> None:
        if self._conn is None:
            _log.warning("refused a TLS connection: no handshake within %.0f s", HANDSHAKE_TIMEOUT)
            self._raw.abort()

    def _flush(self) -> None:
        if self._outgoing.pending and not self._raw.is_closing():
            self._raw.write(self._outgoing.read())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if self._conn is not None:
            self._conn.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._conn is not None:
            self._conn.pause_writing()

    def resume_writing(self) -> None:
        if self._conn is not None:
            self._conn.resume_writing()

    # -- the transport the connection sees ---------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._raw.is_closing():
            return
        try:
            self._ssl.write(data)
        except ssl.SSLError as exc:
            _log.debug("TLS write failed: %s", exc)
            self._raw.abort()
            return
        self._flush()

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_closing(self) -> bool:
        return bool(self._raw.is_closing())

    def close(self) -> None:
        if not self._raw.is_closing():
            try:
                self._ssl.unwrap()  # our close_notify
            except ssl.SSLError:
                pass
            self._flush()
            self._raw.close()

    def abort(self) -> None:
        self._raw.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._ssl
        return self._raw.get_extra_info(name, default)
