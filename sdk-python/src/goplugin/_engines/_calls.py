"""One gRPC call on the pure engine: its state, and the code that runs its handler the way
grpcio would (same status codes and messages for the same failures).

``async def`` handlers run as tasks on the connection's loop (eagerly where Python has eager
tasks: a handler that never waits answers within the read that brought its request). Plain
functions run on the engine's thread pool, like grpcio's sync server runs them; their
answers come back to the loop in one hand-off per call (streams: per batch of messages).

Thread safety: everything on :class:`Call` is the loop's, except what the ``sync_*`` methods
and the sync request iterator touch, which is guarded by ``Call.cond``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._context import AbortError, AsyncServicerContext, ServicerContext
from ._h2 import CREDIT_BATCH
from ._hpack import encode_literals, status_block

if TYPE_CHECKING:
    from ._h2 import H2Stream
    from ._server import Connection, Method

__all__ = ["Call", "prepare_sync", "run_async", "run_sync"]

_log = logging.getLogger("goplugin.engine")

OK, CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL = 0, 1, 2, 4, 13
_MISSING = object()
# A sync streaming handler waits when this much of its output is not on the wire yet.
_BACKLOG = 1 << 20
#: Request bytes a handler took are reported to the connection (which gives the peer its
#: window back) in batches of CREDIT_BATCH, and before the handler waits for more once they
#: pass this much (fewer with a big call capacity: Engine.idle_credit). A batch is one
#: loop hop for a sync handler, some arithmetic for an async one; per message it would be
#: what a small-message stream spends most on.
IDLE_CREDIT = 16 << 10


def _metadata_block(metadata: Sequence[tuple[str, str | bytes]]) -> bytes:
    import base64

    fields = []
    for key, value in metadata:
        k = key.lower().encode()
        if isinstance(value, bytes):
            v = base64.b64encode(value).rstrip(b"=") if key.endswith("-bin") else value
        else:
            v = value.encode()
        fields.append((k, v))
    return encode_literals(fields)


class Call:
    __slots__ = (
        "aborted",
        "backlog",
        "callbacks",
        "cancelled",
        "code",
        "cond",
        "conn",
        "deadline",
        "details",
        "finished",
        "flush_scheduled",
        "half_closed",
        "inbox",
        "initial",
        "method",
        "outbox",
        "peer",
        "request",
        "st",
        "task",
        "timer",
        "trailing",
        "unreported",
        "waiter",
    )

    def __init__(self, conn: Connection, st: H2Stream, method: Method) -> None:
        self.conn = conn
        self.st = st
        self.method = method
        self.peer = conn.peer
        self.deadline: float | None = None
        self.code = OK
        self.details: str | None = None
        self.trailing: tuple[tuple[str, str | bytes], ...] = ()
        self.initial = b""
        self.aborted = False
        self.finished = False
        self.cancelled = False
        self.half_closed = False
        self.callbacks: list[Callable[[], None]] | None = None
        self.request: Any = _MISSING
        self.inbox: collections.deque[bytes] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.task: Any = None
        self.timer: asyncio.TimerHandle | None = None
        self.cond: threading.Condition | None = None
        self.outbox: list[bytes] = []
        self.backlog = 0
        self.flush_scheduled = False
        self.unreported = 0  # request bytes the handler took, not yet told to the connection

    def metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        out: list[tuple[str, str | bytes]] = []
        for key, value in self.st.headers:
            if key[0] == ":" or key in _RESERVED:
                continue
            if key.endswith("-bin"):
                import base64

                out.append((key, base64.b64decode(value + "=" * (-len(value) % 4))))
            else:
                out.append((key, value))
        return tuple(out)

    def add_callback(self, callback: Callable[[], None]) -> bool:
        if self.finished:
            return False
        if self.callbacks is None:
            self.callbacks = []
        self.callbacks.append(callback)
        return True

    def send_initial_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self.initial = _metadata_block(metadata)

    # -- loop side ---------------------------------------------------------------------------

    def message(self, data: bytes) -> None:
        """A request message arrived (loop)."""
        if not self.method.request_streaming:
            if self.request is not _MISSING:
                self.end(INTERNAL, "more than one request message for a unary call")
                return
            self.request = data
            return
        cond = self.cond
        if cond is None:
            self.inbox.append(data)
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        else:
            with cond:
                self.inbox.append(data)
                cond.notify()

    def half_close(self) -> None:
        """The client sent everything (loop): unary calls start now."""
        self.half_closed = True
        if not self.method.request_streaming:
            if self.request is _MISSING:
                self.end(INTERNAL, "no request message for a unary call")
            else:
                self.conn.start(self)
        else:
            self._wake()

    def _wake(self) -> None:
        cond = self.cond
        if cond is None:
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        else:
            with cond:
                cond.notify_all()

    def cancel(self, code: int = CANCELLED, details: str | None = None) -> None:
        """The client reset the stream, went away, or the deadline passed (loop)."""
        if self.finished:
            return
        self.cancelled = True
        if code != CANCELLED and self.st.id in self.conn.h2.streams:
            self.conn.h2.send_trailers(self.st, status_block(code, details))
            self.conn.h2.reset(self.st)
            self.conn.flush()
        self._done()
        if self.task is not None:
            self.task.cancel()
        self._wake()

    def end(self, code: int, details: str | None) -> None:
        """Finish with a status (loop)."""
        if self.finished:
            return
        trailing = _metadata_block(self.trailing) if self.trailing else b""
        block = status_block(code, details, trailing)
        self.conn.h2.send_trailers(self.st, block)
        self._done()
        self.conn.flush()

    def respond(self, data: bytes) -> None:
        """A response message (loop)."""
        if self.finished:
            return
        h2 = self.conn.h2
        if not self.st.headers_sent:
            h2.send_headers(self.st, self.initial)
        h2.send_message(self.st, data)

    def _done(self) -> None:
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
        conn = self.conn
        conn.calls.discard(self)
        conn.engine.active -= 1
        idle = conn.engine.idle
        if idle is not None and not any(c.calls for c in conn.engine.connections):
            idle.set()
        callbacks, self.callbacks = self.callbacks, None
        for callback in callbacks or ():
            try:
                callback()
            except Exception:
                _log.exception("RPC termination callback failed")

    # -- asyncio handlers --------------------------------------------------------------------

    async def read(self) -> Any:
        while True:
            if self.inbox:
                raw = self.inbox.popleft()
                self.unreported += len(raw) + 5
                if self.unreported >= CREDIT_BATCH:
                    self.report_consumed()
                return self.method.deserialize(raw)
            if self.half_closed or self.finished:
                return _eof()
            if self.unreported > self.conn.engine.idle_credit:
                self.report_consumed()
            self.waiter = self.conn.loop.create_future()
            await self.waiter
            self.waiter = None

    def report_consumed(self) -> None:
        """(loop) What an async handler took goes back to the peer as window."""
        unreported, self.unreported = self.unreported, 0
        self.conn.consumed(self.st, unreported)

    async def write(self, message: Any) -> None:
        if self.finished:
            raise asyncio.CancelledError
        self.respond(self.method.serialize(message))
        await self.conn.written(self)

    # -- sync handlers (worker threads) ------------------------------------------------------

    def sync_send(self, data: bytes, *, last: bool) -> None:
        """Queue a response message for the loop; waits while too much is queued."""
        assert self.cond is not None
        with self.cond:
            while self.backlog > _BACKLOG and not self.finished:
                self.cond.wait()
            if self.finished:
                return
            self.outbox.append(data)
            self.backlog += len(data)
            if self.flush_scheduled or last:
                return
            self.flush_scheduled = True
        self.conn.loop.call_soon_threadsafe(self._drain_outbox)

    def sync_wait_written(self, timeout: float) -> bool:
        """Until every response message queued so far is written to the connection, or the
        call ended (worker thread); False if ``timeout`` passed first."""
        cond = self.cond
        if cond is None:  # an asyncio handler: its write() already waited
            return True
        with cond:
            return cond.wait_for(lambda: self.backlog == 0 or self.finished, timeout)

    def _drain_outbox(self) -> None:
        assert self.cond is not None
        with self.cond:
            outbox, self.outbox = self.outbox, []
            self.flush_scheduled = False
        for data in outbox:
            self.respond(data)
        self.conn.flush()
        self._update_backlog()

    def _update_backlog(self) -> None:
        assert self.cond is not None
        with self.cond:
            self.backlog = sum(map(len, self.outbox)) + self.st.pending_bytes
            self.cond.notify_all()

    def sync_end(self, code: int, details: str | None) -> None:
        """The handler returned (worker thread): one hop to the loop sends everything."""
        self.conn.loop.call_soon_threadsafe(self._sync_finish, code, details)

    def _sync_finish(self, code: int, details: str | None) -> None:
        if self.outbox:
            self._drain_outbox()
        self.end(code, details)


_RESERVED = frozenset(
    ("te", "content-type", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding")
)


def _eof() -> Any:
    import sys

    aio = sys.modules.get("grpc.aio")
    return getattr(aio, "EOF", None)


class _BadRequest(Exception):
    pass


def _deserialize(call: Call, raw: bytes) -> Any:
    try:
        return call.method.deserialize(raw)
    except Exception:
        raise _BadRequest from None


def _failure(call: Call, exc: BaseException) -> tuple[int, str | None]:
    if isinstance(exc, AbortError) or call.aborted:
        return call.code or UNKNOWN, call.details
    if isinstance(exc, _BadRequest):
        return INTERNAL, "Exception deserializing request!"
    if isinstance(exc, _BadResponse):
        return INTERNAL, "Failed to serialize response!"
    _log.error("Exception calling application", exc_info=exc)
    return UNKNOWN, f"Exception calling application: {exc}"


class _BadResponse(Exception):
    pass


def _serialize(call: Call, message: Any) -> bytes:
    try:
        return call.method.serialize(message)
    except Exception:
        raise _BadResponse from None


class _AsyncRequests:
    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    def __aiter__(self) -> _AsyncRequests:
        return self

    async def __anext__(self) -> Any:
        call = self.call
        while True:
            if call.inbox:
                raw = call.inbox.popleft()
                call.unreported += len(raw) + 5
                if call.unreported >= CREDIT_BATCH:
                    call.report_consumed()
                return _deserialize(call, raw)
            if call.half_closed or call.finished:
                raise StopAsyncIteration
            if call.unreported > call.conn.engine.idle_credit:
                call.report_consumed()
            call.waiter = call.conn.loop.create_future()
            await call.waiter
            call.waiter = None


async def run_async(call: Call) -> None:
    """Run an ``async def`` handler (a task on the connection's loop)."""
    method = call.method
    context = AsyncServicerContext(call)
    try:
        if method.request_streaming:
            request: Any = _AsyncRequests(call)
        else:
            request = _deserialize(call, call.request)
        result = method.fn(request, context)
        if method.response_streaming:
            if hasattr(result, "__aiter__"):
                async for response in result:
                    if call.finished:
                        break
                    call.respond(_serialize(call, response))
                    await call.conn.written(call)
            else:
                await result  # writes with context.write()
        else:
            response = await result
            if call.code == OK and response is not None:
                call.respond(_serialize(call, response))
        call.end(call.code, call.details)
    except asyncio.CancelledError:
        if not call.finished:
            call.end(CANCELLED, "handler cancelled")
            raise
    except Exception as exc:
        call.end(*_failure(call, exc))


class _SyncRequests:
    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    def __iter__(self) -> _SyncRequests:
        return self

    def __next__(self) -> Any:
        call = self.call
        cond = call.cond
        assert cond is not None
        with cond:
            while not call.inbox:
                if call.half_closed or call.finished:
                    raise StopIteration
                if call.unreported > call.conn.engine.idle_credit:
                    # About to wait: what it took goes back now, not at the next batch.
                    # Waiting streams that each kept most of a batch unreported could
                    # together hold the connection's window (_frames.HOLD_CAP) for ever.
                    unreported, call.unreported = call.unreported, 0
                    call.conn.loop.call_soon_threadsafe(call.conn.consumed, call.st, unreported)
                cond.wait()
            raw = call.inbox.popleft()
            # The peer's window comes back in batches (IDLE_CREDIT says why).
            call.unreported += len(raw) + 5
            report = call.unreported >= CREDIT_BATCH
            if report:
                unreported, call.unreported = call.unreported, 0
        if report:
            call.conn.loop.call_soon_threadsafe(call.conn.consumed, call.st, unreported)
        return _deserialize(call, raw)


def prepare_sync(call: Call) -> None:
    """Before a plain-function handler is handed to a thread: its side of the hand-offs."""
    call.cond = threading.Condition()


def run_sync(call: Call) -> None:
    """Run a plain-function handler (on a worker thread)."""
    method = call.method
    context = ServicerContext(call)
    try:
        if method.request_streaming:
            request: Any = _SyncRequests(call)
        else:
            request = _deserialize(call, call.request)
        result = method.fn(request, context)
        if method.response_streaming:
            for response in result:
                if call.finished:
                    break
                call.sync_send(_serialize(call, response), last=False)
        elif call.code == OK and result is not None:
            call.sync_send(_serialize(call, result), last=True)
        code, details = call.code, call.details
    except Exception as exc:
        code, details = _failure(call, exc)
    call.sync_end(code, details)
