"""The pure engine's IO: an asyncio protocol per connection around the sans-IO core (_h2),
method lookup, and the listeners' lifecycle on one event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ._calls import DEADLINE_EXCEEDED, IDLE_CREDIT, Call, prepare_sync, run_async, run_sync
from ._frames import HOLD_CAP
from ._h2 import H2Error, H2Server, H2Stream
from ._hpack import status_block
from ._tls import TLSLayer

if TYPE_CHECKING:
    import concurrent.futures

    from .._transport.mtls import MTLSContext

__all__ = ["Connection", "Engine", "Method", "Router"]

_log = logging.getLogger("goplugin.engine")

RESOURCE_EXHAUSTED, UNIMPLEMENTED = 8, 12
_DEADLINE_GRACE = 0.1
_PENDING_LIMIT = 1 << 20  # ... and it waits while this much is held back by flow control
_EXTRA_STREAMS = 256
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def _identity(data: Any) -> Any:
    return data


_ASYNC_FLAGS = 0x80 | 0x200  # CO_COROUTINE | CO_ASYNC_GENERATOR


def _is_async(fn: Any) -> bool:
    """``async def`` (coroutine or async generator), as inspect says, without importing
    inspect at start-up: functions, bound methods and functools.partial of them."""
    while True:
        inner = getattr(fn, "__func__", None) or getattr(fn, "func", None)
        if inner is None:
            break
        fn = inner
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its __call__ decides
        code = getattr(type(fn).__dict__.get("__call__"), "__code__", None)
    return code is not None and bool(code.co_flags & _ASYNC_FLAGS)


class Method:
    """A grpcio ``RpcMethodHandler`` (or anything with its attributes), digested once."""

    __slots__ = (
        "deserialize",
        "fn",
        "is_async",
        "request_streaming",
        "response_streaming",
        "serialize",
    )

    def __init__(self, handler: Any) -> None:
        self.request_streaming = bool(handler.request_streaming)
        self.response_streaming = bool(handler.response_streaming)
        if self.request_streaming:
            fn = handler.stream_stream if self.response_streaming else handler.stream_unary
        else:
            fn = handler.unary_stream if self.response_streaming else handler.unary_unary
        self.fn: Callable[..., Any] = fn
        self.deserialize: Callable[[bytes], Any] = handler.request_deserializer or _identity
        self.serialize: Callable[[Any], bytes] = handler.response_serializer or _identity
        self.is_async = _is_async(fn)


class _CallDetails(NamedTuple):
    """grpc.HandlerCallDetails' fields, for generic handlers' ``service()``."""

    method: str
    invocation_metadata: tuple[tuple[str, Any], ...]


class Router:
    """Registered methods by path, then generic handlers in registration order (as grpcio).

    Filled before the server starts, then read-only: safe to share with the loop thread.
    """

    def __init__(self, registered: dict[str, Any], generic: Sequence[Any]) -> None:
        self._methods = {path: Method(handler) for path, handler in registered.items()}
        self._generic = list(generic)

    def find(self, path: str, call_metadata: Callable[[], tuple[tuple[str, Any], ...]]) -> Any:
        method = self._methods.get(path)
        if method is not None or not self._generic:
            return method
        details = _CallDetails(path, call_metadata())
        for generic in self._generic:
            handler = generic.service(details)
            if handler is not None:
                return Method(handler)
        return None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def parse_timeout(value: str) -> float | None:
    try:
        return int(value[:-1]) * _TIMEOUT_UNITS[value[-1]]
    except (KeyError, ValueError, IndexError):
        return None


class Connection(asyncio.Protocol):
    """One client connection (the host's, or a brokered peer's)."""

    def __init__(self, engine: Engine, tls: MTLSContext | None) -> None:
        self.engine = engine
        self.loop = engine.loop
        self.tls = tls
        self.calls: set[Call] = set()
        # Streams past the call capacity are refused by the calls' rules (RESOURCE_EXHAUSTED,
        # which grpc-go clients report), far past it by HTTP/2's (REFUSED_STREAM).
        self.h2 = h2 = H2Server(max_streams=engine.capacity + _EXTRA_STREAMS)
        h2.on_request = self._request
        h2.on_message = _message
        h2.on_end = _end
        h2.on_reset = _reset
        h2.on_drained = self._drained
        self.peer = ""
        self.transport: Any = None
        self._receiving = False
        self._flush_handle: asyncio.Handle | None = None
        self._paused: asyncio.Future[None] | None = None
        self._drain_waiters: dict[int, asyncio.Future[None]] = {}
        self._early: list[bytes] = []

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.tls is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            presented = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
            if presented != self.tls.peer_der:
                _log.warning("closing a TLS connection with a certificate other than the host's")
                transport.abort()
                return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.peer = f"ipv4:{peer[0]}:{peer[1]}"
        else:
            self.peer = "unix:" + str(transport.get_extra_info("sockname") or "")
        self.engine.connections.add(self)
        transport.write(self.h2.take_output())
        early, self._early = self._early, []
        for data in early:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:  # TLS: what followed the handshake before we were told
            self._early.append(data)
            return
        self._receiving = True
        try:
            self.h2.receive(data)
        except H2Error as exc:
            _log.debug("closing a connection that broke HTTP/2: %s", exc)
            self.h2.go_away(exc.code)
            self.transport.write(self.h2.take_output())
            self.transport.close()
            return
        finally:
            self._receiving = False
        if self.h2.has_output:
            self._write()

    def connection_lost(self, exc: Exception | None) -> None:
        self.engine.connections.discard(self)
        for call in list(self.calls):
            call.cancel()
        for waiter in self._drain_waiters.values():
            if not waiter.done():
                waiter.set_result(None)
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def pause_writing(self) -> None:
        """The socket does not drain: hold DATA back (handlers that write then wait) and stop
        reading, so that nothing the peer sends (PINGs, SETTINGS, new calls) can make us queue
        answers without bound."""
        self.h2.hold_data = True
        self.transport.pause_reading()
        if self._paused is None or self._paused.done():
            self._paused = self.loop.create_future()

    def resume_writing(self) -> None:
        self.transport.resume_reading()
        self.h2.release_data()
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self.flush()

    # -- output ------------------------------------------------------------------------------

    def flush(self) -> None:
        if self._receiving or self.transport is None:
            return  # data_received writes everything at its end
        if self.h2.has_output and not self.transport.is_closing():
            self._write()

    def _write(self) -> None:
        # One join and one write. Not writelines(): on Python 3.12/3.13 its sendmsg path
        # spins forever on a partial send of many buffers (seen with 16 MiB messages).
        self.transport.write(self.h2.take_output())

    def _scheduled_flush(self) -> None:
        self._flush_handle = None
        self.flush()

    async def written(self, call: Call) -> None:
        """After a streaming response message: write in batches, wait under backpressure."""
        st = call.st
        if st.pending_bytes > _PENDING_LIMIT:
            self.flush()
            waiter = self._drain_waiters[st.id] = self.loop.create_future()
            await waiter
        elif self._paused is not None and not self._paused.done():
            self.flush()
            await self._paused
        elif len(self.h2._out) > 64:
            if self._receiving:
                # An eager handler (Python 3.12+) runs inside data_received, where flush()
                # writes nothing: without yielding it would queue every answer it makes in
                # memory before the transport ever sees one, let alone says it is full.
                await asyncio.sleep(0)
            else:
                self.flush()
        elif self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._scheduled_flush)

    def consumed(self, st: H2Stream, n: int) -> None:
        """A handler took request bytes: window goes back to the peer (loop)."""
        h2 = self.h2
        h2.consumed(st, n)
        if h2.has_output and self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._scheduled_flush)

    def _drained(self, st: H2Stream) -> None:
        waiter = self._drain_waiters.pop(st.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        call = st.call
        if call is not None and getattr(call, "cond", None) is not None:
            call._update_backlog()

    # -- calls -------------------------------------------------------------------------------

    def _request(self, st: H2Stream) -> None:
        headers = st.headers
        path = _header(headers, ":path") or ""
        call_metadata = None
        method = self.engine.router.find(path, lambda: _metadata_of(st))
        if method is None:
            self.h2.send_trailers(st, status_block(UNIMPLEMENTED, "Method not found!"))
            return
        engine = self.engine
        if engine.active >= engine.capacity:  # as grpcio: after the lookup, before a worker
            st.call = _Refusal(self, st)
            return
        engine.active += 1
        call = Call(self, st, method)
        st.call = call
        if method.request_streaming:
            st.autoack = False  # its window comes back as the handler reads
        self.calls.add(call)
        timeout = _header(headers, "grpc-timeout")
        if timeout is not None:
            seconds = parse_timeout(timeout)
            if seconds is not None:
                call.deadline = self.loop.time() + seconds
                # A moment after the deadline: the caller's own timer ends the call first
                # (it reports DEADLINE_EXCEEDED itself; our reset would race it as CANCELLED).
                call.timer = self.loop.call_at(
                    call.deadline + _DEADLINE_GRACE,
                    call.cancel,
                    DEADLINE_EXCEEDED,
                    "Deadline Exceeded",
                )
        del call_metadata
        if method.request_streaming:
            self.start(call)

    def start(self, call: Call) -> None:
        if call.method.is_async:
            call.task = self.engine.create_task(run_async(call))
        else:
            prepare_sync(call)
            call.task = self.engine.executor().submit(run_sync, call)

    def go_away(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.h2.go_away()
            self.flush()


class _Refusal:
    """A call over the limit: RESOURCE_EXHAUSTED once the client's first message (or its
    half-close) is in. Answering on the HEADERS alone races grpc.aio's client, which then
    reports the write of that first message failing ("Internal error from Core", INTERNAL)
    instead of the status it was sent."""

    __slots__ = ("conn", "st")

    def __init__(self, conn: Connection, st: H2Stream) -> None:
        self.conn = conn
        self.st = st

    def message(self, data: bytes) -> None:
        self.half_close()

    def half_close(self) -> None:
        if self.st.id in self.conn.h2.streams:
            block = status_block(RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!")
            self.conn.h2.send_trailers(self.st, block)
            self.conn.flush()

    def cancel(self) -> None:
        pass


def _metadata_of(st: H2Stream) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in st.headers if k[0] != ":")


def _message(st: H2Stream, data: bytes) -> None:
    st.call.message(data)


def _end(st: H2Stream) -> None:
    st.call.half_close()


def _reset(st: H2Stream) -> None:
    st.call.cancel()


class Engine:
    """The listeners of one server on one loop, and their connections."""

    def __init__(self, router: Router, loop: asyncio.AbstractEventLoop, capacity: int) -> None:
        self.router = router
        self.loop = loop
        self.connections: set[Connection] = set()
        #: Set by stop(): calls that end set it once none are left.
        self.idle: asyncio.Event | None = None
        self._servers: list[asyncio.AbstractServer] = []
        # Calls admitted and not finished, on every connection; the loop's alone.
        self.active = 0
        self.capacity = capacity
        #: What a handler about to wait for a request message may have taken and not yet
        #: reported (_calls): all calls waiting at once keep at most half of HOLD_CAP.
        self.idle_credit = min(IDLE_CREDIT, HOLD_CAP // (2 * capacity))
        self._executor: concurrent.futures.Executor | None = None
        eager = getattr(asyncio, "eager_task_factory", None)
        if eager is not None:
            self.create_task: Callable[[Any], Any] = lambda coro: eager(loop, coro)
        else:
            self.create_task = loop.create_task

    def executor(self) -> concurrent.futures.Executor:
        # Daemon workers: a handler that never returns must not keep the plugin's process
        # alive once serve() has returned (ThreadPoolExecutor's are joined at exit).
        if self._executor is None:
            from ._workers import DaemonWorkers

            self._executor = DaemonWorkers(
                max_workers=self.capacity, thread_name_prefix="goplugin-rpc"
            )
        return self._executor

    async def start(self, sockets: Sequence[tuple[socket.socket, MTLSContext | None]]) -> None:
        for sock, tls in sockets:

            def factory(tls: MTLSContext | None = tls) -> asyncio.Protocol:
                if tls is None:
                    return Connection(self, None)
                return TLSLayer(self.loop, tls, lambda: Connection(self, tls))

            if sock.family == socket.AF_UNIX:
                server = await self.loop.create_unix_server(factory, sock=sock)
            else:
                server = await self.loop.create_server(factory, sock=sock)
            self._servers.append(server)

    async def stop(self, grace: float | None) -> None:
        """Stop accepting, let calls in flight finish for ``grace`` seconds, then cancel them."""
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.go_away()
        if grace and any(conn.calls for conn in self.connections):
            self.idle = asyncio.Event()
            try:
                await asyncio.wait_for(self.idle.wait(), grace)
            except asyncio.TimeoutError:
                pass
        for conn in list(self.connections):
            for call in list(conn.calls):
                call.cancel()
            if conn.transport is not None:
                conn.flush()
                conn.transport.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
