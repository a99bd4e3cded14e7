"""The plugin side of go-plugin's net/rpc protocol (rpc_server.go), for both serve() flavours.

Per host connection: a yamux server session; the host's first three streams are control,
stdout and stderr; control serves ``Control.Ping``/``Control.Quit`` and
``Dispenser.Dispense``, which serves the named plugin as ``Plugin`` on a brokered stream.
What the plugin prints (``sys.stdout``/``sys.stderr``, captured by ``_services/stdio.py``)
goes to the host on streams 3 and 5. Everything here is threads; the flavours differ only in the
:class:`~goplugin.netrpc._server.Dispatcher` (where ``async`` methods run).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import TYPE_CHECKING, Any

from .._services.stdio import STDERR, STDOUT
from .._yamux.session import Session
from ..errors import ConnectionClosedError
from ._muxbroker import AsyncMuxBroker, MuxBroker
from ._rpc import CONTROL_SERVICES
from ._server import serve_stream
from ._service import Handler

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .._services.stdio import StdioBuffer
    from .._yamux.stream import Stream
    from ._server import Dispatcher

__all__ = ["RPCServer"]

_log = logging.getLogger("goplugin.server")


class RPCServer:
    """Serves a plugin set to every host connection accepted on a listening socket."""

    def __init__(
        self,
        plugins: Mapping[str, Any],
        stdio: StdioBuffer,
        dispatcher: Dispatcher,
        *,
        on_quit: Callable[[], None],
    ) -> None:
        self._plugins = plugins
        self._stdio = stdio
        self._dispatcher = dispatcher
        self._on_quit = on_quit
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        # Under _lock: the acceptor adds, each connection removes itself as it ends, close()
        # copies (and sets _closing first, so nothing is added behind its back).
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def serve(self, listener: socket.socket) -> None:
        """Accept connections on ``listener`` (bound, listening) until :meth:`close`."""
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept_loop, args=(listener,), name="goplugin-netrpc-accept", daemon=True
        )
        self._acceptor.start()

    def close(self) -> None:
        """Stop accepting, end every connection's session and wait for their threads."""
        with self._lock:
            self._closing.set()
            conns = list(self._conns)
        listener, acceptor = self._listener, self._acceptor
        if listener is not None and acceptor is not None:
            _stop_accepting(listener, acceptor)
        for conn in conns:
            conn.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        closing = self._closing.is_set
        while not closing():
            try:
                sock, _ = listener.accept()
            except OSError as exc:
                if closing():
                    return
                # ECONNABORTED: that host is gone; EMFILE: wait for descriptors rather than spin.
                _log.debug("net/rpc accept failed: %s", exc)
                self._closing.wait(0.05)
                continue
            conn = _Conn(self, sock)
            with self._lock:
                if closing():
                    sock.close()
                    return
                self._conns.add(conn)
            conn.start()

    def _forget(self, conn: _Conn) -> None:
        with self._lock:
            self._conns.discard(conn)

    # -- control services ------------------------------------------------------------------

    def control_handlers(self, broker: MuxBroker) -> dict[str, Handler]:
        # Plugins under goplugin.aio.serve get the broker awaited, as hosts under aio do.
        view = broker if self._dispatcher.loop is None else AsyncMuxBroker(broker)

        def ping(args: Any) -> dict[str, Any]:
            return {}

        def dispense(name: Any) -> int:
            plugin = self._plugins.get(name)
            if plugin is None:
                raise LookupError(f"unknown plugin type: {name}")
            impl = plugin.netrpc_server(view)
            service_id = broker.next_id()
            broker.accept_and_serve(service_id, impl)
            return service_id

        return {
            "Control.Ping": Handler(ping, is_async=False, inline=True),
            "Control.Quit": Handler(ping, is_async=False, inline=True),
            "Dispenser.Dispense": Handler(dispense, is_async=False, inline=True),
        }

    def after_reply(self, service_method: str) -> None:
        if service_method == "Control.Quit":
            self._on_quit()


class _Conn:
    """One host connection: its session, broker, and the threads that serve it."""

    def __init__(self, server: RPCServer, sock: socket.socket) -> None:
        self._server = server
        self._session = Session(sock, client=False)
        self._broker = MuxBroker(self._session, server._dispatcher)
        self._closed = threading.Event()
        self._close_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="goplugin-netrpc-conn", daemon=True)
        self._forwarder: threading.Thread | None = None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        server = self._server
        try:
            control = self._session.accept_stream()
            stdout = self._session.accept_stream()
            stderr = self._session.accept_stream()
        except ConnectionClosedError:
            self.close()
            return
        assert control is not None and stdout is not None and stderr is not None
        self._forwarder = threading.Thread(
            target=self._forward_stdio,
            args=({STDOUT: stdout, STDERR: stderr},),
            name="goplugin-netrpc-stdio",
            daemon=True,
        )
        self._forwarder.start()
        serve_stream(
            control,
            CONTROL_SERVICES,
            server.control_handlers(self._broker),
            server._dispatcher,
            after_reply=server.after_reply,
        )
        # The host closed the control stream: it is done with us (Go ends ServeConn here).
        self.close()

    def _forward_stdio(self, streams: dict[int, Stream]) -> None:
        stdio, wake = self._server._stdio, self._wake
        stdio.add_waker(wake.set)
        token = stdio.consumer_started()
        try:
            while not self._closed.is_set():
                wake.clear()
                for channel, data in stdio.pop_all():
                    streams[channel].write(data)
                stdio.sent()
                wake.wait()
        except ConnectionClosedError:
            pass
        finally:
            stdio.consumer_stopped(token)
            stdio.remove_waker(wake.set)

    def close(self) -> None:
        with self._close_lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._wake.set()
        self._broker.close()  # closes the session: every stream and thread of it ends
        me = threading.current_thread()
        for thread in (self._forwarder, self._thread):
            if thread is not None and thread is not me and thread.ident is not None:
                thread.join()
        self._server._forget(self)


def _stop_accepting(listener: socket.socket, acceptor: threading.Thread) -> None:
    try:
        listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
    except OSError:
        pass
    acceptor.join(0.5)
    if acceptor.is_alive():  # where shutdown() does not interrupt accept(), a connection does
        try:
            with socket.socket(listener.family, socket.SOCK_STREAM) as poke:
                poke.settimeout(1.0)
                poke.connect(listener.getsockname())
        except OSError:
            pass
        acceptor.join(5.0)
    listener.close()
