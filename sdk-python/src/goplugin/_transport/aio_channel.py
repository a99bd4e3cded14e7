"""The asyncio twin of ``channel.py``: a grpc.aio channel whose calls fail with typed errors.

Apart from channel.py so that sync hosts, which never use it, never load grpc.aio.

Also what makes leaving a call early cancel it, as the sync flavour does: a call is a coroutine
(``asyncio.create_task()`` takes it), and a response stream left by ``break`` or by a cancelled
task is cancelled at once rather than when its reference cycles are collected.
"""

from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import Callable, Generator
from typing import Any

import grpc
import grpc.aio

from .channel import AsyncCallJudge, describe, expired, reraise

__all__ = ["AsyncGuardedChannel"]


class _AsyncCallable:
    """A grpc.aio multicallable; ``kind`` wraps each call (unary response or stream)."""

    __slots__ = ("_inner", "_kind", "_owner")

    def __init__(self, inner: Any, owner: AsyncGuardedChannel, kind: type[Any]) -> None:
        self._inner = inner
        self._owner = owner
        self._kind = kind

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            call = self._inner(*args, **kwargs)
        except grpc.aio.UsageError as exc:  # "Channel is closed."
            reraise(exc, self._owner._judge.channel_closed(exc))
        return self._kind(call, self._owner)


class _AsyncRequestStreamCallable(_AsyncCallable):
    """A grpc.aio multicallable whose calls send a request stream: see :func:`_peer_status`."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        guarded = super().__call__(*args, **kwargs)
        _note_first_status(guarded._call)
        return guarded


# -- the peer's status of a call grpc.aio reports as INTERNAL -----------------------------------
#
# When sending a request message fails because the peer already ended the call (a plugin at
# capacity refuses a stream before it reads a message), grpc.aio overwrites the call's status
# with INTERNAL "Internal error from Core": the caller would see INTERNAL where the peer said
# RESOURCE_EXHAUSTED. The peer's status is not lost: it either arrived just before (the first
# status the call reported: noted by a done callback) or arrives a moment after (grpc.aio then
# writes it over the INTERNAL one). Only calls that send a request stream can hit this.

#: grpc.aio's ``details`` of a status it made up itself after a failed send.
_SEND_FAILED = "Internal error from Core"
#: How long a call that failed so waits for the peer's status to arrive.
_PEER_STATUS_WAIT = 0.5
_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _note_first_status(call: Any) -> None:
    try:
        cython_call = call._cython_call
    except AttributeError:  # pragma: no cover - a grpc.aio without it: nothing to recover
        return

    def first_status(_: Any) -> None:
        if getattr(call, "_goplugin_first_status", None) is None:
            call._goplugin_first_status = cython_call._status

    try:
        call._goplugin_first_status = None
        call.add_done_callback(first_status)
    except AttributeError:  # pragma: no cover - grpc.aio's call types without a __dict__
        pass


async def _peer_status(call: Any, exc: grpc.RpcError) -> grpc.RpcError:
    """``exc``, or for grpc.aio's made-up INTERNAL after a failed send, the peer's status."""
    try:
        if exc.code() is not grpc.StatusCode.INTERNAL or exc.details() != _SEND_FAILED:
            return exc
        cython_call = call._cython_call
    except Exception:
        return exc
    status: Any = getattr(call, "_goplugin_first_status", None)
    if status is None or status.details() == _SEND_FAILED:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + _PEER_STATUS_WAIT
        pause = 0.001
        while (status := cython_call._status).details() == _SEND_FAILED:
            if loop.time() >= give_up:
                return exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
    code = _STATUS_CODES.get(status.code())
    if code is None:
        return exc
    initial = exc.initial_metadata() if isinstance(exc, grpc.aio.AioRpcError) else None
    return grpc.aio.AioRpcError(
        code,
        initial if initial is not None else grpc.aio.Metadata(),
        grpc.aio.Metadata.from_tuple(status.trailing_metadata()),
        details=status.details(),
        debug_error_string=status.debug_error_string(),
    )


def _call_cancelled(
    exc: asyncio.CancelledError, owner: AsyncGuardedChannel
) -> BaseException | None:
    """grpc.aio raises CancelledError from a call cancelled under its awaiting task, by
    ``call.cancel()`` or by the channel closing. When ``kill()`` closed the channel, the task
    gets ClientClosedError rather than a cancellation it never asked for; a task that is being
    cancelled itself gets its CancelledError (Python 3.10 cannot tell the two apart while the
    client is killing: there the call's failure wins)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    if cancelling is not None and cancelling():
        return None
    return owner._judge.channel_closed(exc)


class _AsyncGuardedCall:
    """A grpc.aio call with a single response, whose await raises typed errors.

    It is also a coroutine (``send``/``throw``/``close``), so that ``asyncio.create_task()``,
    ``gather()`` and ``wait_for()`` take it as they take grpc.aio's own calls' awaits.
    Cancelling the task cancels the RPC (grpc.aio does that when its await is cancelled).
    """

    __slots__ = ("_call", "_owner", "_runner")

    def __init__(self, call: Any, owner: AsyncGuardedChannel) -> None:
        self._call = call
        self._owner = owner
        self._runner: Generator[Any, None, Any] | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from self._call.__await__())
        except grpc.RpcError as failure:
            exc = yield from _peer_status(self._call, failure).__await__()
            judged = self._owner._judge.translate(exc, expired(self._call), self._owner)
            reraise(exc, (yield from judged.__await__()))
        except asyncio.CancelledError as exc:
            reraise(exc, _call_cancelled(exc, self._owner))

    def send(self, value: Any) -> Any:
        runner = self._runner
        if runner is None:
            runner = self._runner = self.__await__()
        return runner.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        runner = self._runner
        if runner is None:
            runner = self._runner = self.__await__()
        if val is None and tb is None:
            return runner.throw(typ)
        return runner.throw(typ, val, tb)  # pragma: no cover - the legacy signature

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


collections.abc.Coroutine.register(_AsyncGuardedCall)


class _AsyncGuardedStream:
    """A grpc.aio call with a response stream, whose iteration raises typed errors.

    Leaving it early cancels the RPC at once, as in the sync flavour: dropping it (``break``
    out of ``async for``) cancels it, and so does the task that iterates it ending cancelled or
    failed while it still runs (its frames, kept by the traceback, may hold the call for long).
    grpc.aio's own call would only be cancelled once collected with its reference cycles.
    """

    __slots__ = ("_call", "_consumer", "_messages", "_owner")

    def __init__(self, call: Any, owner: AsyncGuardedChannel) -> None:
        self._call = call
        self._owner = owner
        self._messages: Any = None
        self._consumer: tuple[asyncio.Task[Any], Callable[[asyncio.Task[Any]], None]] | None = None

    def __aiter__(self) -> _AsyncGuardedStream:
        return self

    async def __anext__(self) -> Any:
        messages = self._messages
        if messages is None:
            messages = self._messages = self._call.__aiter__()
            self._watch_consumer()
        try:
            return await messages.__anext__()
        except StopAsyncIteration:
            self._unwatch_consumer()
            raise
        except grpc.RpcError as failure:
            self._unwatch_consumer()
            exc = await _peer_status(self._call, failure)
            judged = await self._owner._judge.translate(exc, expired(self._call), self._owner)
            reraise(exc, judged)
        except asyncio.CancelledError as exc:
            reraise(exc, _call_cancelled(exc, self._owner))

    async def read(self) -> Any:
        if self._consumer is None:
            self._watch_consumer()
        try:
            return await self._call.read()
        except grpc.RpcError as failure:
            self._unwatch_consumer()
            exc = await _peer_status(self._call, failure)
            judged = await self._owner._judge.translate(exc, expired(self._call), self._owner)
            reraise(exc, judged)
        except asyncio.CancelledError as exc:
            reraise(exc, _call_cancelled(exc, self._owner))

    def _watch_consumer(self) -> None:
        task = asyncio.current_task()
        if task is None:
            return
        call = self._call

        def consumer_done(task: asyncio.Task[Any]) -> None:
            if (task.cancelled() or task.exception() is not None) and not call.done():
                call.cancel()

        task.add_done_callback(consumer_done)
        self._consumer = (task, consumer_done)

    def _unwatch_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer[0].remove_done_callback(consumer[1])

    def __del__(self) -> None:
        try:
            self._unwatch_consumer()
            call = self._call
            if not call.done():
                call.cancel()
        except Exception:  # at interpreter exit, or the loop is gone: nothing left to cancel
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class AsyncGuardedChannel(grpc.aio.Channel):
    """The ``grpc.aio.Channel`` twin of :class:`GuardedChannel`."""

    def __init__(self, channel: grpc.aio.Channel, judge: AsyncCallJudge) -> None:
        self.raw = channel
        self._judge = judge

    def deadline_exceeded(self, exc: grpc.RpcError) -> grpc.RpcError:
        """grpc.aio's own error type, as callers of a grpc.aio channel catch it."""
        return grpc.aio.AioRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            details="Deadline Exceeded",
            debug_error_string=f"the call's deadline passed; the transport said {describe(exc)}",
        )

    def connection_ready(self, try_to_connect: bool = False) -> bool | None:
        """Whether the channel has a working connection."""
        try:
            return self.raw.get_state(try_to_connect) is grpc.ChannelConnectivity.READY
        except Exception:  # the channel is closed
            return None

    async def __aenter__(self) -> AsyncGuardedChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        await self.raw.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.raw.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self.raw.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self.raw.channel_ready()

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _AsyncCallable(
            self.raw.unary_unary(method, *args, **kwargs), self, _AsyncGuardedCall
        )

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self.raw.unary_stream(method, *args, **kwargs)
        return _AsyncCallable(inner, self, _AsyncGuardedStream)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self.raw.stream_unary(method, *args, **kwargs)
        return _AsyncRequestStreamCallable(inner, self, _AsyncGuardedCall)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        inner = self.raw.stream_stream(method, *args, **kwargs)
        return _AsyncRequestStreamCallable(inner, self, _AsyncGuardedStream)
