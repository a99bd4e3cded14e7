"""A blocking net/rpc client on one stream (Go's ``rpc.Client``): calls are futures.

Any thread may call. The caller encodes and writes its own request (under a lock that keeps the
gob stream in the order its encoder produced it, so the call path has no thread hand-off); one
reader thread per stream decodes replies and resolves each call's
:class:`concurrent.futures.Future`. The sync API waits on the future and the asyncio API awaits
it, so neither flavour pays an executor hop per call.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, Any

from ..errors import ConnectionClosedError, ProtocolError
from ._gobtypes import INTERFACE
from ._rpc import ClientCodec

if TYPE_CHECKING:
    from .._yamux.stream import Stream
    from ._gobtypes import GoType

__all__ = ["ClientConn"]

_READ_SIZE = 256 * 1024
_log = logging.getLogger("goplugin.netrpc")


class ClientConn:
    """net/rpc calls over one yamux stream; :meth:`call_future` is the whole API."""

    __slots__ = ("_codec", "_error", "_lock", "_pending", "_reader", "_send_lock", "stream")

    def __init__(self, stream: Stream, *, name: str = "goplugin-netrpc-client") -> None:
        self.stream = stream
        self._codec = ClientCodec()
        # _send_lock: request encoding and writing, in seq order (the codec's encoder and its
        # seq counter). _lock: _pending (seq -> future) and the final error, shared with the
        # reader, which alone drives the codec's decoder and never takes _send_lock.
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._error: ProtocolError | None = None
        self._reader = threading.Thread(target=self._read_loop, name=name, daemon=True)
        self._reader.start()

    @property
    def closed(self) -> bool:
        return self._error is not None

    def call_future(
        self,
        service_method: str,
        args: Any = None,
        reply_type: GoType | type | None = None,
        args_type: GoType | type | None = None,
    ) -> Future[Any]:
        """Send a call; the future resolves to the reply, or fails with its error.

        Failures: :class:`~goplugin.errors.RPCServerError` (the remote method's error),
        :class:`~goplugin.errors.GobError` (a reply not of ``reply_type``: that call only),
        :class:`~goplugin.errors.ConnectionClosedError` (stream or session gone). Arguments
        that do not fit ``args_type`` raise :class:`~goplugin.errors.GobEncodeError` here,
        and types that are neither gob types nor Python builtins standing for one
        :class:`~goplugin.errors.GobTypeError`, before anything is sent. ``args=None``
        without a type is a nil ``interface{}``.
        """
        if args is None and args_type is None:
            args_type = INTERFACE
        future: Future[Any] = Future()
        with self._send_lock:
            error = self._error
            if error is None:
                try:
                    seq, data = self._codec.request(service_method, args, args_type, reply_type)
                except ProtocolError as exc:  # the reader found the stream broken just now
                    error = exc
            with self._lock:
                error = self._error or error
                if error is not None:
                    future.set_exception(error)
                    return future
                self._pending[seq] = future
            try:
                self.stream.write(data)
            except ConnectionClosedError as exc:
                self._fail_all(exc)
        return future

    def _read_loop(self) -> None:
        codec, stream, pending, lock = self._codec, self.stream, self._pending, self._lock
        try:
            while True:
                data = stream.read(_READ_SIZE)
                if not data:
                    raise ConnectionClosedError("net/rpc: the connection was closed by the peer")
                codec.receive_data(data)
                while (reply := codec.next_reply()) is not None:
                    with lock:
                        future = pending.pop(reply.seq, None)
                    if future is None:
                        continue
                    try:
                        if reply.error is None:
                            future.set_result(reply.value)
                        else:
                            future.set_exception(reply.error)
                    except InvalidStateError:
                        pass  # the caller gave up on it (timeout, cancellation)
        except ProtocolError as exc:
            self._fail_all(exc)
        except BaseException as exc:
            # A bug, not the peer: still, no call may wait for replies nobody reads any more.
            _log.exception("net/rpc reply reader failed")
            error = ProtocolError(f"net/rpc: the reply reader failed: {exc!r}")
            error.__cause__ = exc
            self._fail_all(error)
            self.stream.reset()  # the peer must not block writing replies nobody reads
            if not isinstance(exc, Exception):
                raise

    def _fail_all(self, error: ProtocolError) -> None:
        with self._lock:
            if self._error is None:
                self._error = error
            failed = list(self._pending.values())
            self._pending.clear()
        for future in failed:
            try:
                future.set_exception(error)
            except InvalidStateError:
                pass

    def close(self) -> None:
        """Half-close the stream (the server then ends it); calls in flight fail."""
        self._fail_all(ConnectionClosedError("net/rpc: the client is closed"))
        self.stream.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the reader thread (it ends when the stream or session does)."""
        if self._reader is not threading.current_thread():
            self._reader.join(timeout)
