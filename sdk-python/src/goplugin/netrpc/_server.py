"""Serving net/rpc on one stream (Go's ``rpc.Server.ServeConn``) and where served calls run.

The stream's reader (the thread calling :func:`serve_stream`) decodes requests in order and
hands each call to a :class:`Dispatcher`: sync methods run on worker threads, as Go runs each
call in its own goroutine, so a slow call never holds up the others on its stream; ``async``
methods run on the event loop of :func:`goplugin.aio.serve`. Replies go out in the order calls
finish, under one lock that keeps the gob stream in the order its encoder wrote it.

A dispatcher runs at most ``max_concurrent_calls`` calls at once (sync and async together);
past it the reader answers a call at once with an error (Go's net/rpc client returns it as
``rpc.ServerError``), never queues it behind calls that may run for ever. Inline handlers
(go-plugin's Control and Dispenser) run on the reader and are never counted.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import queue
import threading
from typing import TYPE_CHECKING, Any

from .._engines import DEFAULT_MAX_CONCURRENT_CALLS
from ..errors import ConnectionClosedError, GobEncodeError, ProtocolError
from ._gobtypes import INTERFACE
from ._rpc import Method, ServerCodec

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Mapping

    from .._yamux.stream import Stream
    from ._rpc import Call
    from ._service import Handler

__all__ = ["Dispatcher", "serve_stream"]

_log = logging.getLogger("goplugin.netrpc")

_READ_SIZE = 256 * 1024


class Dispatcher:
    """Runs served calls: sync handlers on worker threads, async ones on ``loop`` (if any),
    at most ``max_concurrent_calls`` at once.

    The workers are *daemon* threads (ThreadPoolExecutor's are joined at interpreter exit: a
    method still running when the host says Quit would keep the plugin alive, where a Go
    plugin's process just ends), started on demand, never fewer than the sync calls admitted
    and not finished: an admitted call finds an idle worker, it never waits in the queue.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS,
    ) -> None:
        self.loop = loop
        self._limit = max_concurrent_calls
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        # Guards the counts below: the readers of every stream admit calls, workers and the
        # event loop end them, close() stops the workers.
        self._lock = threading.Lock()
        self._running = 0  # admitted calls not finished, sync and async
        self._sync_calls = 0  # of which sync ones (queued or on a worker)
        self._workers = 0
        self._closed = False

    def check(self, handlers: Mapping[str, Handler]) -> None:
        """Refuse async methods where no event loop serves them (the sync ``serve()``)."""
        if self.loop is None:
            for name, handler in handlers.items():
                if handler.is_async:
                    raise ProtocolError(
                        f"net/rpc method {name} is async: serve it with goplugin.aio.serve"
                    )

    def run(
        self, handler: Handler, args: Any, done: Callable[[Any, BaseException | None], None]
    ) -> None:
        """Call ``handler(args)`` somewhere, then ``done(result, error)``; past the limit,
        ``done`` gets the refusal at once."""
        if handler.inline:
            _call(handler.fn, args, done)
            return
        is_async = handler.is_async
        with self._lock:
            if self._running >= self._limit:
                admitted = start_worker = False
            else:
                admitted = True
                self._running += 1
                start_worker = False
                if not is_async:
                    self._sync_calls += 1
                    if self._sync_calls > self._workers and not self._closed:
                        self._workers += 1
                        start_worker = True
        if not admitted:
            done(None, self._refusal())
        elif is_async:
            self._run_async(handler, args, done)
        else:
            self._queue.put((self._call_counted, (handler.fn, args, done)))
            if start_worker:
                threading.Thread(
                    target=self._work, name="goplugin-netrpc-worker", daemon=True
                ).start()

    def _refusal(self) -> Exception:
        return RuntimeError(
            f"resource exhausted: the plugin is already running {self._limit} calls "
            "(its max_concurrent_calls); retry when one has ended"
        )

    def _run_async(
        self, handler: Handler, args: Any, done: Callable[[Any, BaseException | None], None]
    ) -> None:
        assert self.loop is not None
        import asyncio

        future = asyncio.run_coroutine_threadsafe(handler.fn(args), self.loop)

        def finished(f: concurrent.futures.Future[Any]) -> None:
            with self._lock:
                self._running -= 1
            if f.cancelled():
                done(None, ConnectionClosedError("the call was cancelled"))
                return
            error = f.exception()
            done(None if error is not None else f.result(), error)

        future.add_done_callback(finished)

    def _call_counted(
        self,
        fn: Callable[[Any], Any],
        args: Any,
        done: Callable[[Any, BaseException | None], None],
    ) -> None:
        # The place is free before the reply leaves: a host that sends its next call as soon
        # as this one is answered must find it free.
        result: Any = None
        error: Exception | None = None
        try:
            result = fn(args)
        except Exception as exc:
            error = exc
        with self._lock:
            self._running -= 1
            self._sync_calls -= 1
        done(result, error)

    def _work(self) -> None:
        get = self._queue.get
        while (item := get()) is not None:
            fn, args = item
            try:
                fn(*args)
            except Exception:
                _log.exception("net/rpc worker failed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = self._workers
        for _ in range(workers):
            self._queue.put(None)


def _call(
    fn: Callable[[Any], Any], args: Any, done: Callable[[Any, BaseException | None], None]
) -> None:
    try:
        result = fn(args)
    except Exception as exc:
        done(None, exc)
    else:
        done(result, None)


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def serve_stream(
    stream: Stream,
    services: Mapping[str, Mapping[str, Method]],
    handlers: Mapping[str, Handler],
    dispatcher: Dispatcher,
    *,
    after_reply: Callable[[str], None] | None = None,
) -> None:
    """Serve net/rpc on ``stream`` until the peer closes it or the session ends (blocking).

    ``after_reply(service_method)`` runs once a reply is on its way (go-plugin's control
    stream stops the plugin after answering ``Control.Quit``, not before).
    """
    codec = ServerCodec(services)
    send_lock = threading.Lock()

    def reply(call: Call, value: Any, error: BaseException | None) -> None:
        with send_lock:
            if error is not None:
                _log.debug("net/rpc %s failed", call.service_method, exc_info=error)
                data = codec.respond(call, error=_error_text(error))
            else:
                if value is None and call.method is not None and call.method.reply_type is None:
                    # Nothing to infer a type from: a nil interface{}, as args=None is.
                    call = dataclasses.replace(call, method=Method(call.method.arg_type, INTERFACE))
                try:
                    data = codec.respond(call, value)
                except GobEncodeError as exc:
                    _log.error("net/rpc %s: cannot send the reply: %s", call.service_method, exc)
                    data = codec.respond(call, error=str(exc))
            try:
                stream.write(data)
            except ConnectionClosedError:
                return  # the caller is gone; the reader notices too
        if after_reply is not None:
            after_reply(call.service_method)

    try:
        while True:
            data = stream.read(_READ_SIZE)
            if not data:
                break
            codec.receive_data(data)
            while (call := codec.next_call()) is not None:
                if call.error:  # unknown method, undecodable args: Go's wording, from the codec
                    reply(call, None, None)
                    continue
                handler = handlers.get(call.service_method)
                if handler is None:
                    reply(call, None, LookupError("rpc: can't find method " + call.service_method))
                    continue
                dispatcher.run(handler, call.args, functools.partial(reply, call))
    except ConnectionClosedError:
        pass
    except ProtocolError as exc:  # a request header that does not decode: Go hangs up too
        _log.debug("net/rpc: closing a connection: %s", exc)
    finally:
        stream.close()
