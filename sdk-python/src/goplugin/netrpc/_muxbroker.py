"""MuxBroker: more net/rpc connections on the plugin's yamux session (go-plugin's mux_broker.go).

Either side may ``accept`` a connection under an id and tell the other side the id in an RPC;
the other side ``dial``s it: it opens a yamux stream and knocks with the id as four
little-endian bytes, the acceptor answers with the same four bytes, and the stream is theirs.
Ids are per side (``next_id``: 1, 2, 3, ...); go-plugin's ``Dispenser.Dispense`` is exactly this.

The acceptor reads knocks from every stream the peer opens (after the plugin's first three:
control, stdout, stderr), parks each stream under its id for five seconds, and hands it to the
``accept`` waiting for that id. Its thread starts with the first ``accept``: a side that never
accepts (most hosts) never runs one.

:class:`MuxBroker` blocks (the sync flavour, and every flavour's internals); under
:mod:`goplugin.aio` hosts and plugins get :class:`AsyncMuxBroker`, the same broker awaited:
a dial or accept waits for the peer, and that wait must not stall the event loop.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

from ..errors import ConnectionClosedError, PluginError, ProtocolError, RPCTimeoutError

if TYPE_CHECKING:
    from .._yamux.session import Session
    from .._yamux.stream import Stream
    from ._server import Dispatcher

__all__ = ["ACCEPT_TIMEOUT", "AsyncMuxBroker", "MuxBroker"]

_log = logging.getLogger("goplugin.netrpc")

#: How long ``accept`` waits for the peer's knock, and how long a knock waits for ``accept``.
ACCEPT_TIMEOUT = 5.0
_ID = struct.Struct("<I")


class MuxBroker:
    """go-plugin's ``MuxBroker`` for one yamux session (blocking; any thread)."""

    def __init__(self, session: Session, dispatcher: Dispatcher | None = None) -> None:
        self._session = session
        self._dispatcher = dispatcher
        self._own_dispatcher: Dispatcher | None = None
        self._next_id = 0
        # _cond guards _next_id, _parked, _runner, _closed and the dispatcher we may create:
        # any thread may next_id/accept/dial/close, the acceptor thread parks streams.
        self._cond = threading.Condition()
        #: id -> (stream, deadline): knocked streams waiting for their accept.
        self._parked: dict[int, tuple[Stream, float]] = {}
        self._runner: threading.Thread | None = None
        self._closed = False

    def next_id(self) -> int:
        """A new id for :meth:`accept` on this side."""
        with self._cond:
            self._next_id = (self._next_id + 1) & 0xFFFF_FFFF
            return self._next_id

    def dial(self, service_id: int) -> Stream:
        """A stream to what the other side accepts under ``service_id``."""
        stream = self._session.open_stream()
        try:
            stream.write(_ID.pack(service_id))
            (ack,) = _ID.unpack(stream.read_exact(4))
        except BaseException:
            stream.reset()
            raise
        if ack != service_id:
            stream.reset()
            raise ProtocolError(f"bad ack: {ack} (expected {service_id})")
        return stream

    def accept(self, service_id: int, timeout: float = ACCEPT_TIMEOUT) -> Stream:
        """The stream the other side dials under ``service_id``, acknowledged."""
        self._start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while (parked := self._parked.pop(service_id, None)) is None:
                remaining = deadline - time.monotonic()
                if self._closed:
                    raise ConnectionClosedError("the broker is closed")
                if remaining <= 0:
                    raise RPCTimeoutError(f"timeout waiting for accept (broker id {service_id})")
                self._cond.wait(remaining)
        stream = parked[0]
        try:
            stream.write(_ID.pack(service_id))
        except BaseException:
            stream.reset()
            raise
        return stream

    def accept_and_serve(self, service_id: int, impl: object) -> None:
        """Serve ``impl``'s ``@netrpc.method`` methods as ``Plugin`` on stream ``service_id``.

        Returns at once; the stream is accepted and served on a thread of its own.
        """
        from ._server import Dispatcher
        from ._service import compile_service

        methods, handlers = compile_service(impl)
        with self._cond:  # callers in several threads must share one dispatcher
            if self._dispatcher is None:
                self._dispatcher = self._own_dispatcher = Dispatcher()
            dispatcher = self._dispatcher
        dispatcher.check(handlers)
        threading.Thread(
            target=self._serve,
            args=(service_id, {"Plugin": methods}, handlers, dispatcher),
            name=f"goplugin-netrpc-serve-{service_id}",
            daemon=True,
        ).start()

    def _serve(self, service_id: int, services: Any, handlers: Any, dispatcher: Any) -> None:
        from ._server import serve_stream

        try:
            stream = self.accept(service_id)
        except PluginError as exc:
            if not self._closed:
                _log.error("plugin acceptAndServe error: %s", exc)
            return
        serve_stream(stream, services, handlers, dispatcher)

    def close(self) -> None:
        """Close the session and with it every stream (as Go's ``MuxBroker.Close`` does)."""
        with self._cond:
            self._closed = True
            parked = [stream for stream, _ in self._parked.values()]
            self._parked.clear()
            self._cond.notify_all()
            own, runner = self._own_dispatcher, self._runner
        for stream in parked:
            stream.reset()
        self._session.close()
        if own is not None:
            own.close()
        if runner is not None and runner is not threading.current_thread():
            runner.join()

    # -- the acceptor ------------------------------------------------------------------------

    def _start(self) -> None:
        # Started under the lock: close() reads _runner under it too, so the thread it joins
        # has always started (joining one that has not raises RuntimeError). start() returns
        # as soon as the thread exists, before _run first takes the lock: no deadlock.
        with self._cond:
            if self._runner is not None or self._closed:
                return
            self._runner = threading.Thread(
                target=self._run, name="goplugin-muxbroker", daemon=True
            )
            self._runner.start()

    def _run(self) -> None:
        session = self._session
        while True:
            try:
                stream = session.accept_stream(timeout=self._expire())
            except ConnectionClosedError:
                break
            if stream is None:
                continue  # time to expire parked streams
            try:
                (service_id,) = _ID.unpack(stream.read_exact(4))
            except ConnectionClosedError:
                stream.reset()
                continue
            with self._cond:
                if self._closed or service_id in self._parked:
                    extra: Stream | None = stream  # one slot per id, as in Go
                else:
                    extra = None
                    self._parked[service_id] = (stream, time.monotonic() + ACCEPT_TIMEOUT)
                    self._cond.notify_all()
            if extra is not None:
                extra.reset()
        self._expire(everything=True)

    def _expire(self, *, everything: bool = False) -> float | None:
        """Close knocked streams nobody accepted in time; seconds until the next expiry."""
        now = time.monotonic()
        with self._cond:
            stale = [i for i, (_, due) in self._parked.items() if everything or due <= now]
            streams = [self._parked.pop(i)[0] for i in stale]
            nearest = min((due for _, due in self._parked.values()), default=None)
        for stream in streams:
            stream.reset()
        return None if nearest is None else max(nearest - now, 0.0)


class AsyncMuxBroker:
    """:class:`MuxBroker` for :mod:`goplugin.aio`: the waits run on a worker thread.

    The broker's IO is threads in both flavours (yamux readers), so an awaited dial or accept
    is the blocking one handed to a thread: the loop keeps running while the peer answers.
    A cancelled ``accept`` leaves its thread waiting out its ``timeout`` (a stream that then
    arrives is dropped); a cancelled ``dial`` resets the stream it opened once it returns.
    """

    __slots__ = ("sync",)

    def __init__(self, broker: MuxBroker) -> None:
        #: The blocking broker underneath, for code that runs on threads of its own.
        self.sync = broker

    def next_id(self) -> int:
        """A new id for :meth:`accept` on this side."""
        return self.sync.next_id()

    async def dial(self, service_id: int) -> Stream:
        """A stream to what the other side accepts under ``service_id``."""
        import asyncio

        task = asyncio.ensure_future(asyncio.to_thread(self.sync.dial, service_id))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_reset_unclaimed)
            raise

    async def accept(self, service_id: int, timeout: float = ACCEPT_TIMEOUT) -> Stream:
        """The stream the other side dials under ``service_id``, acknowledged."""
        import asyncio

        task = asyncio.ensure_future(asyncio.to_thread(self.sync.accept, service_id, timeout))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_reset_unclaimed)
            raise

    async def accept_and_serve(self, service_id: int, impl: object) -> None:
        """Serve ``impl``'s ``@netrpc.method`` methods as ``Plugin`` on stream ``service_id``.

        Returns at once (awaitable, as :meth:`goplugin.aio.GRPCBroker.accept_and_serve` is);
        ``async def`` methods run on this loop when the broker serves one.
        """
        self.sync.accept_and_serve(service_id, impl)

    async def close(self) -> None:
        """Close the session and with it every stream; waits for the acceptor thread."""
        import asyncio

        await asyncio.to_thread(self.sync.close)


def _reset_unclaimed(task: Any) -> None:
    """A stream the cancelled caller will never use: hang it up so the peer is not left waiting."""
    if not task.cancelled() and task.exception() is None:
        task.result().reset()
