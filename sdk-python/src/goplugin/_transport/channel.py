"""Channels whose calls fail with goplugin's typed errors, in every way a call can fail.

A plugin that crashes mid-call shows up in grpcio as a bare ``UNAVAILABLE`` or ``CANCELLED``;
a call after ``kill()`` as grpcio's ValueError or UsageError; a deadline that a Go peer beats
with a stream reset as CANCELLED. The host hands out these wrappers instead of the raw channel,
so every stub built on them (our generated clients, a user's own ``*Stub``) raises what the
host's :class:`CallJudge` decides: a typed error carrying the exit status and the plugin's last
stderr lines, DEADLINE_EXCEEDED for a passed deadline, or the original error.

The success path costs one extra Python call per RPC (the wrapper's ``__call__``) and nothing
per streamed message beyond an iterator step; the judge is consulted only when a call fails.
Blocking sync calls note the time when they have a deadline (one C call); every other kind
reads its deadline from grpcio's call object afterwards. The grpc.aio twins live in
_transport/aio_channel.py, so that sync processes never load grpc.aio.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import grpc

__all__ = [
    "AsyncCallJudge",
    "CallJudge",
    "ConnectionProbe",
    "DeadlineExceeded",
    "GuardedChannel",
    "describe",
    "expired",
    "reraise",
]

_now = time.monotonic


class ConnectionProbe(Protocol):
    """A guarded channel, as its judge sees it."""

    def connection_ready(self, try_to_connect: bool = False) -> bool | None: ...

    def deadline_exceeded(self, exc: grpc.RpcError) -> grpc.RpcError:
        """DEADLINE_EXCEEDED of this flavour, for a call whose deadline passed though grpcio
        reported something else (``exc``)."""


class CallJudge(Protocol):
    """What a guarded channel asks when a call fails (the host client implements it)."""

    def translate(
        self, exc: grpc.RpcError, expired: bool, channel: ConnectionProbe
    ) -> BaseException | None:
        """The exception to raise instead of ``exc`` (None: raise ``exc``)."""

    def channel_closed(self, exc: BaseException) -> BaseException | None:
        """A call grpcio refused to start, or cancelled, because its channel was closed:
        what to raise instead (None: ``exc``)."""


class AsyncCallJudge(Protocol):
    """:class:`CallJudge` of the asyncio flavour: ``translate`` may wait, so it is awaited."""

    async def translate(
        self, exc: grpc.RpcError, expired: bool, channel: ConnectionProbe
    ) -> BaseException | None: ...

    def channel_closed(self, exc: BaseException) -> BaseException | None: ...


def reraise(exc: BaseException, translated: BaseException | None) -> NoReturn:
    """Raise what the guard made of a failed call: the typed error, caused by the original,
    or the original itself."""
    if translated is None:
        raise exc
    raise translated from exc


class DeadlineExceeded(grpc.RpcError, grpc.Call):
    """DEADLINE_EXCEEDED for a blocking call whose deadline passed while grpcio reported
    something else (the peer reset the stream first): the grpc.Call interface grpcio's own
    errors have, with the original error as ``__cause__``."""

    def __init__(self, cause: grpc.RpcError) -> None:
        super().__init__()
        self._debug = f"the call's deadline passed; the transport said {describe(cause)}"

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self) -> str:
        return "Deadline Exceeded"

    def debug_error_string(self) -> str:
        return self._debug

    def initial_metadata(self) -> tuple[Any, ...]:
        return ()

    def trailing_metadata(self) -> tuple[Any, ...]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float:
        return 0.0

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False

    def __str__(self) -> str:
        return f"<DeadlineExceeded: {self._debug}>"


def describe(exc: grpc.RpcError) -> str:
    """``CODE: details`` of a failed call, for messages."""
    try:
        code = exc.code()
        return f"{code.name if code is not None else 'no status'}: {exc.details()}"
    except Exception:  # an RpcError without status (grpcio raises some)
        return repr(exc)


def expired(call: Any) -> bool:
    """Whether the deadline of a grpcio call object has passed (False if it had none)."""
    try:
        remaining = call.time_remaining()
    except Exception:
        return False
    return remaining is not None and remaining <= 0


# -- sync --------------------------------------------------------------------------------------


class _Unary:
    """unary_unary and stream_unary multicallables."""

    __slots__ = ("_inner", "_owner")

    def __init__(self, inner: Any, owner: GuardedChannel) -> None:
        self._inner = inner
        self._owner = owner

    def __call__(
        self, request: Any, timeout: float | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        deadline = None if timeout is None else _now() + timeout
        try:
            return self._inner(request, timeout, *args, **kwargs)
        except grpc.RpcError as exc:
            reraise(exc, self._owner._failed(exc, deadline))
        except ValueError as exc:  # "Cannot invoke RPC on closed channel!"
            reraise(exc, self._owner._judge.channel_closed(exc))

    def with_call(
        self, request: Any, timeout: float | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        deadline = None if timeout is None else _now() + timeout
        try:
            return self._inner.with_call(request, timeout, *args, **kwargs)
        except grpc.RpcError as exc:
            reraise(exc, self._owner._failed(exc, deadline))
        except ValueError as exc:
            reraise(exc, self._owner._judge.channel_closed(exc))

    def future(self, request: Any, *args: Any, **kwargs: Any) -> _GuardedFuture:
        try:
            return _GuardedFuture(self._inner.future(request, *args, **kwargs), self._owner)
        except ValueError as exc:
            reraise(exc, self._owner._judge.channel_closed(exc))


if TYPE_CHECKING:
    _Future = grpc.Future[Any]
else:
    _Future = grpc.Future


class _GuardedFuture(_Future):
    """The future of a ``.future()`` call: ``result()``, ``exception()`` and the callbacks see
    the typed error. The rest (``cancel()``, ``code()``, metadata...) is grpcio's call."""

    def __init__(self, call: Any, owner: GuardedChannel) -> None:
        self._call = call
        self._owner = owner
        self._lock = threading.Lock()
        self._judged: tuple[Exception | None] | None = None

    def _error(self) -> Exception | None:
        """The typed error of a failed call, judged once (threads may ask at the same time)."""
        with self._lock:
            if self._judged is None:
                exc = self._call.exception(timeout=0)
                if isinstance(exc, grpc.RpcError):
                    translated = self._owner._judge.translate(exc, expired(self._call), self._owner)
                    if not isinstance(translated, Exception):
                        translated = None  # a BaseException is the caller's, not the call's
                    else:
                        translated.__cause__ = exc
                    self._judged = (translated or exc,)
                else:
                    self._judged = (exc,)
            return self._judged[0]

    def result(self, timeout: float | None = None) -> Any:
        try:
            return self._call.result(timeout)
        except grpc.RpcError as exc:
            error = self._error()
            if error is exc or error is None:
                raise
            raise error from exc

    def exception(self, timeout: float | None = None) -> Exception | None:
        if self._call.exception(timeout) is None:
            return None
        return self._error()

    def traceback(self, timeout: float | None = None) -> Any:
        error = self.exception(timeout)
        return None if error is None else error.__traceback__

    def add_done_callback(self, fn: Any) -> None:
        self._call.add_done_callback(lambda _: fn(self))

    def cancel(self) -> bool:
        return bool(self._call.cancel())

    def cancelled(self) -> bool:
        return bool(self._call.cancelled())

    def running(self) -> bool:
        return bool(self._call.running())

    def done(self) -> bool:
        return bool(self._call.done())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _Streaming:
    """unary_stream and stream_stream multicallables: errors surface while iterating."""

    __slots__ = ("_inner", "_owner")

    def __init__(self, inner: Any, owner: GuardedChannel) -> None:
        self._inner = inner
        self._owner = owner

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> _GuardedStream:
        try:
            return _GuardedStream(self._inner(request, *args, **kwargs), self._owner)
        except ValueError as exc:
            reraise(exc, self._owner._judge.channel_closed(exc))


class _GuardedStream:
    """The call object of a streaming RPC, with iteration guarded; everything else delegated.

    Dropping it (``break`` out of ``for``) drops grpcio's call, which cancels the RPC.
    """

    __slots__ = ("_call", "_owner")

    def __init__(self, call: Any, owner: GuardedChannel) -> None:
        self._call = call
        self._owner = owner

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._call)
        except grpc.RpcError as exc:
            reraise(exc, self._owner._judge.translate(exc, expired(self._call), self._owner))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class GuardedChannel(grpc.Channel):
    """A ``grpc.Channel`` whose calls raise typed errors when the plugin process is gone."""

    def __init__(self, channel: grpc.Channel, judge: CallJudge) -> None:
        self.raw = channel
        self._judge = judge

    def _failed(self, exc: grpc.RpcError, deadline: float | None) -> BaseException | None:
        expired = deadline is not None and _now() >= deadline
        return self._judge.translate(exc, expired, self)

    def deadline_exceeded(self, exc: grpc.RpcError) -> grpc.RpcError:
        return DeadlineExceeded(exc)

    def connection_ready(self, try_to_connect: bool = False) -> bool | None:
        """Whether the channel has a working connection (None: grpcio does not say)."""
        try:  # the sync API reports connectivity only to subscribers; ask grpc core directly
            state = self.raw._channel.check_connectivity_state(try_to_connect)  # type: ignore[attr-defined]
        except Exception:
            return None
        return bool(state == grpc.ChannelConnectivity.READY.value[0])

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self.raw.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self.raw.unsubscribe(callback)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Unary(self.raw.unary_unary(method, *args, **kwargs), self)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Streaming(self.raw.unary_stream(method, *args, **kwargs), self)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Unary(self.raw.stream_unary(method, *args, **kwargs), self)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _Streaming(self.raw.stream_stream(method, *args, **kwargs), self)

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> GuardedChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
