"""Channels that turn "the plugin died under this call" into :class:`PluginExitedError`.

A plugin that crashes mid-call shows up in grpcio as a bare ``UNAVAILABLE`` or ``CANCELLED``.
The host hands out these wrappers instead of the raw channel, so every stub built on them (our
generated clients, a user's own ``*Stub``) raises a typed error that carries the exit status and
the plugin's last stderr lines. The success path costs one extra Python call per RPC and
nothing per streamed message beyond an iterator step; only the failure path does any work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, NoReturn

import grpc
import grpc.aio

__all__ = ["AsyncGuardedChannel", "ErrorTranslator", "GuardedChannel", "reraise"]

#: Given a failed call's error, the exception to raise instead, or None to re-raise as is.
ErrorTranslator = Callable[[grpc.RpcError], "BaseException | None"]
AsyncErrorTranslator = Callable[[grpc.RpcError], Awaitable["BaseException | None"]]


def reraise(exc: BaseException, translated: BaseException | None) -> NoReturn:
    """Raise what the guard made of a failed call: the typed error, caused by the original,
    or the original itself."""
    if translated is None:
        raise exc
    raise translated from exc


class _Unary:
    """unary_unary and stream_unary multicallables."""

    __slots__ = ("_guard", "_inner")

    def __init__(self, inner: Any, guard: ErrorTranslator) -> None:
        self._inner = inner
        self._guard = guard

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner(request, *args, **kwargs)
        except grpc.RpcError as exc:
            reraise(exc, self._guard(exc))

    def with_call(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._inner.with_call(request, *args, **kwargs)
        except grpc.RpcError as exc:
            reraise(exc, self._guard(exc))

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self._inner.future(request, *args, **kwargs)


class _Streaming:
    """unary_stream and stream_stream multicallables: errors surface while iterating."""

    __slots__ = ("_guard", "_inner")

    def __init__(self, inner: Any, guard: ErrorTranslator) -> None:
        self._inner = inner
        self._guard = guard

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> _GuardedStream:
        return _GuardedStream(self._inner(request, *args, **kwargs), self._guard)


class _GuardedStream:
    """The call object of a streaming RPC, with iteration guarded; everything else delegated."""

    __slots__ = ("_call", "_guard")

    def __init__(self, call: Any, guard: ErrorTranslator) -> None:
        self._call = call
        self._guard = guard

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            reraise(exc, self._guard(exc))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class GuardedChannel(grpc.Channel):
    """A ``grpc.Channel`` whose calls raise typed errors when the plugin process is gone."""

    def __init__(self, channel: grpc.Channel, guard: ErrorTranslator) -> None:
        self.raw = channel
        self._guard = guard

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self.raw.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self.raw.unsubscribe(callback)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Unary(self.raw.unary_unary(method, *args, **kwargs), self._guard)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Streaming(self.raw.unary_stream(method, *args, **kwargs), self._guard)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Unary(self.raw.stream_unary(method, *args, **kwargs), self._guard)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Streaming(self.raw.stream_stream(method, *args, **kwargs), self._guard)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> GuardedChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- asyncio -------------------------------------------------------------------------------


class _AsyncCallable:
    __slots__ = ("_guard", "_inner")

    def __init__(self, inner: Any, guard: AsyncErrorTranslator) -> None:
        self._inner = inner
        self._guard = guard

    def __call__(self, *args: Any, **kwargs: Any) -> _AsyncGuardedCall:
        return _AsyncGuardedCall(self._inner(*args, **kwargs), self._guard)


class _AsyncGuardedCall:
    """A grpc.aio call object whose await and iteration raise typed errors."""

    __slots__ = ("_call", "_guard")

    def __init__(self, call: Any, guard: AsyncErrorTranslator) -> None:
        self._call = call
        self._guard = guard

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from self._call.__await__())
        except grpc.RpcError as exc:
            reraise(exc, (yield from self._guard(exc).__await__()))

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        iterator = self._call.__aiter__()
        while True:
            try:
                message = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except grpc.RpcError as exc:
                reraise(exc, await self._guard(exc))
            yield message

    async def read(self) -> Any:
        try:
            return await self._call.read()
        except grpc.RpcError as exc:
            reraise(exc, await self._guard(exc))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class AsyncGuardedChannel(grpc.aio.Channel):
    """The ``grpc.aio.Channel`` twin of :class:`GuardedChannel`."""

    def __init__(self, channel: grpc.aio.Channel, guard: AsyncErrorTranslator) -> None:
        self.raw = channel
        self._guard = guard

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
        return _AsyncCallable(self.raw.unary_unary(method, *args, **kwargs), self._guard)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _AsyncCallable(self.raw.unary_stream(method, *args, **kwargs), self._guard)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _AsyncCallable(self.raw.stream_unary(method, *args, **kwargs), self._guard)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _AsyncCallable(self.raw.stream_stream(method, *args, **kwargs), self._guard)
