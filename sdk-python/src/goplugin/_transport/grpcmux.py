"""gRPC broker multiplexing (go-plugin's internal/grpcmux, PLUGIN_MULTIPLEX_GRPC).

When a host asks for it and the plugin agrees (the handshake's 7th field), the host makes one
connection to the plugin and every gRPC connection between them, the main one and each
brokered one, becomes a yamux stream inside it. grpcio cannot run over a yamux stream, so each
end bridges: a local unix socket grpcio connects to, whose connections are pumped into new
streams (:meth:`GRPCMuxer.bridge`), and streams from the peer pumped into the local gRPC
server they are meant for (the accept loop). Which server a stream is meant for is decided by
knocks on the broker stream (``_async/broker.py``): the plugin routes a stream to brokered
server N when a knock for N came first, else to its main server; the host only accepts streams
it was knocked for. TLS, when on, runs inside each stream, as in Go.

Thread-based like the yamux session it sits on; both flavours use it as is (it is off the per-
call path: a stream is opened per gRPC connection, not per call).
"""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ..errors import ConnectionClosedError, PluginError
from .sockets import connect, unique_socket_path

if TYPE_CHECKING:
    from .._yamux.session import Session
    from .._yamux.stream import Stream

__all__ = ["MAIN", "GRPCMuxer"]

_log = logging.getLogger("goplugin.mux")

#: Plugin side: streams not claimed by a knock belong to the plugin's main gRPC server.
MAIN = 0
# go-plugin waits this long for the host's single connection whenever it needs the session.
_SESSION_TIMEOUT = 5.0
_CHUNK = 256 * 1024


class GRPCMuxer:
    """One side of a multiplexed plugin connection."""

    def __init__(self, *, server: bool, socket_dir: str) -> None:
        self._server = server
        self._socket_dir = socket_dir
        self._session: Future[Session] = Future()
        # _knocked, _backends, _listeners, _closed: under _lock (the broker's receive loop
        # adds knocks and backends, the accept loop takes knocks, bridge() and close() listeners).
        self._lock = threading.Lock()
        self._knocked: deque[int] = deque()
        self._backends: dict[int, str] = {}
        self._listeners: list[socket.socket] = []
        self._closed = False

    # -- the session ---------------------------------------------------------------------------

    def attach(self, session: Session) -> None:
        """The yamux session is up (host: dialled; plugin: the host's one connection)."""
        self._session.set_result(session)
        threading.Thread(target=self._accept_loop, name="goplugin-mux-accept", daemon=True).start()

    def session(self) -> Session:
        try:
            return self._session.result(_SESSION_TIMEOUT)
        except concurrent.futures.TimeoutError:  # not the builtin one before Python 3.11
            raise PluginError("timed out waiting for the multiplexed connection") from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            listeners, self._listeners = self._listeners, []
        for listener in listeners:
            _close_quietly(listener)
        if self._session.done():
            self._session.result().close()

    # -- streams the peer opens ----------------------------------------------------------------

    def serve(self, service_id: int, address: str) -> None:
        """Streams routed to ``service_id`` go to the gRPC server at unix ``address``."""
        with self._lock:
            self._backends[service_id] = address

    def accept_knock(self, service_id: int) -> str:
        """The peer will open a stream for ``service_id`` next; "" or why that cannot be."""
        with self._lock:
            if service_id not in self._backends:
                return f"no listener for id {service_id}"
            self._knocked.append(service_id)
        return ""

    def _accept_loop(self) -> None:
        session = self._session.result()
        while True:
            try:
                stream = session.accept_stream()
            except ConnectionClosedError:
                return
            if stream is None:
                continue
            with self._lock:
                if self._knocked:
                    target: int | None = self._knocked.popleft()
                else:
                    target = MAIN if self._server else None
                backend = None if target is None else self._backends.get(target)
            if backend is None:
                _log.debug("refusing a stream nobody knocked for")
                stream.reset()
                continue
            try:
                sock = connect("unix", backend, timeout=5.0)
            except OSError as exc:
                _log.debug("local gRPC server %s unreachable: %s", backend, exc)
                stream.reset()
                continue
            pump(sock, stream)

    # -- streams we open -----------------------------------------------------------------------

    def bridge(self, knock: Callable[[], None] | None = None) -> str:
        """A unix socket for grpcio: every connection to it becomes a new stream to the peer,
        after ``knock`` (which raises if the peer refuses). Returns the socket's path."""
        from .tlsrelay import listen_unix

        path = unique_socket_path(self._socket_dir)
        listener = listen_unix(path)
        with self._lock:
            if self._closed:
                listener.close()
                raise PluginError("the multiplexed connection is closed")
            self._listeners.append(listener)
        threading.Thread(
            target=self._bridge_loop,
            args=(listener, knock),
            name="goplugin-mux-bridge",
            daemon=True,
        ).start()
        return path

    def _bridge_loop(self, listener: socket.socket, knock: Callable[[], None] | None) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                if knock is not None:
                    knock()
                stream = self.session().open_stream()
            except (PluginError, OSError) as exc:
                _log.debug("multiplexed dial failed: %s", exc)
                _close_quietly(conn)
                continue
            pump(conn, stream)


def pump(sock: socket.socket, stream: Stream) -> None:
    """Copy bytes both ways between a socket and a yamux stream, half-closes included; the
    socket is closed once both directions are done."""
    remaining = [2]
    lock = threading.Lock()

    def finished() -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            _close_quietly(sock)

    def up() -> None:
        try:
            while chunk := sock.recv(_CHUNK):
                stream.write(chunk)
            stream.close()
        except (OSError, ConnectionClosedError):
            stream.reset()
            _shutdown_quietly(sock)
        finished()

    def down() -> None:
        try:
            while chunk := stream.read(_CHUNK):
                sock.sendall(chunk)
            sock.shutdown(socket.SHUT_WR)
        except (OSError, ConnectionClosedError):
            stream.reset()
            _shutdown_quietly(sock)
        finished()

    threading.Thread(target=up, name="goplugin-mux-up", daemon=True).start()
    threading.Thread(target=down, name="goplugin-mux-down", daemon=True).start()


def _shutdown_quietly(sock: socket.socket) -> None:
    # Wake the other direction's blocked recv without closing the fd under it.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
