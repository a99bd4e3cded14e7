"""What handlers see as ``context`` on the pure engine: the part of grpcio's ServicerContext
that plugin handlers use, with the same names and behaviour.

Supported: ``abort``, ``set_code``/``set_details``/``code``/``details``,
``invocation_metadata``, ``time_remaining``, ``is_active``/``cancelled``/``done``,
``add_callback``, ``peer``, ``send_initial_metadata``, ``set_trailing_metadata``/
``trailing_metadata``, and in the asyncio flavour ``read``/``write``. Anything else of
grpcio's (compression, auth_context, abort_with_status, ...) raises
:class:`~goplugin.errors.PluginError` naming the engine that has it, instead of failing
somewhere less obvious.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import PluginError

if TYPE_CHECKING:
    from ._calls import Call

__all__ = ["AbortError", "AsyncServicerContext", "ServicerContext", "status_int"]


class AbortError(Exception):
    """Raised by ``context.abort()``: ends the handler; the call ends with the given status.

    Like grpcio's, it derives from Exception: a handler's ``except Exception`` that swallows
    it still cannot change the status that abort() set.
    """


def status_int(code: Any) -> int:
    """A status as an int: grpc.StatusCode (value ``(int, str)``), an int, or an IntEnum."""
    value = getattr(code, "value", code)
    if isinstance(value, tuple):
        value = value[0]
    return int(value)


class ServicerContext:
    """The sync flavour's context (``grpc.ServicerContext``'s supported subset)."""

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    # -- the request -----------------------------------------------------------------------------

    def invocation_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._call.metadata()

    def peer(self) -> str:
        return self._call.peer

    def time_remaining(self) -> float | None:
        deadline = self._call.deadline
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def is_active(self) -> bool:
        return not self._call.finished

    def cancelled(self) -> bool:
        return self._call.cancelled

    def done(self) -> bool:
        return self._call.finished

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return self._call.add_callback(callback)

    def wait_written(self, timeout: float) -> bool:
        """goplugin's own, not grpcio's: a sync response stream's messages are queued for the
        event loop, and ``serve()``'s GRPCStdio stream must know when they left (a line
        printed right before the process dies belongs in the host's error message)."""
        return self._call.sync_wait_written(timeout)

    # -- the response ----------------------------------------------------------------------------

    def set_code(self, code: Any) -> None:
        self._call.code = status_int(code)

    def set_details(self, details: str) -> None:
        self._call.details = details

    def code(self) -> Any:
        return self._call.code

    def details(self) -> str | None:
        return self._call.details

    def set_trailing_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self._call.trailing = tuple(metadata)

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return self._call.trailing

    def send_initial_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:
        self._call.send_initial_metadata(metadata)

    def abort(self, code: Any, details: str = "") -> NoReturn:
        self._call.code = status_int(code)
        self._call.details = details
        self._call.aborted = True
        raise AbortError(details)

    def __getattr__(self, name: str) -> NoReturn:
        raise PluginError(
            f"context.{name}() is not supported by goplugin's pure engine; serve with "
            "engine='grpcio' (or GOPLUGIN_ENGINE=grpcio) for the whole grpcio ServicerContext"
        )


class AsyncServicerContext(ServicerContext):
    """The asyncio flavour's context (``grpc.aio.ServicerContext``'s supported subset)."""

    __slots__ = ()

    async def abort(self, code: Any, details: str = "", trailing_metadata: Any = ()) -> NoReturn:  # type: ignore[override]
        if trailing_metadata:
            self._call.trailing = tuple(trailing_metadata)
        super().abort(code, details)

    async def send_initial_metadata(self, metadata: Sequence[tuple[str, str | bytes]]) -> None:  # type: ignore[override]
        self._call.send_initial_metadata(metadata)

    async def read(self) -> Any:
        """The next request of a streaming request, or grpc.aio.EOF's stand-in ``None``...
        grpcio returns its EOF sentinel; handlers compare with ``grpc.aio.EOF``, so it is
        returned when grpc is loaded, else None."""
        return await self._call.read()

    async def write(self, message: Any) -> None:
        await self._call.write(message)
