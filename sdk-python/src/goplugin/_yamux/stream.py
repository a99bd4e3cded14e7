"""A blocking yamux stream: what ``Session.open_stream`` and ``accept_stream`` hand out.

All state lives under the session's lock; the session's reader thread fills the receive buffer
and wakes the stream's condition, so a stream never touches the socket except to flush.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from ..errors import ConnectionClosedError
from .connection import Connection

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from .session import Session

__all__ = ["Stream"]


def _closed(message: str, cause: BaseException | None = None) -> ConnectionClosedError:
    err = ConnectionClosedError(message)
    err.__cause__ = cause
    return err


class Stream:
    """One yamux stream: a bidirectional byte pipe with half-close, like a socket.

    ``read`` returns ``b""`` once the peer half-closed and everything was read. A reset stream
    or a closed session raises :class:`~goplugin.errors.ConnectionClosedError` from every call.
    """

    __slots__ = ("_buffered", "_chunks", "_cond", "_eof", "_offset", "_reset", "_session", "id")

    def __init__(self, session: Session, stream_id: int) -> None:
        self.id = stream_id
        self._session = session
        self._cond = threading.Condition(session._lock)
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # into _chunks[0], so small reads never copy the rest of a chunk
        self._buffered = 0
        self._eof = False
        self._reset = False

    def __repr__(self) -> str:
        return f"<yamux Stream {self.id}>"

    def read(self, max_bytes: int = 65536) -> bytes:
        """Up to ``max_bytes`` (at least 1) as soon as any are there; ``b""`` at end of stream."""
        return self._receive(max_bytes, exact=False) if max_bytes > 0 else b""

    def read_exact(self, nbytes: int) -> bytes:
        """Exactly ``nbytes``; the stream ending first is a ``ConnectionClosedError``."""
        return self._receive(nbytes, exact=True) if nbytes > 0 else b""

    def _receive(self, want: int, *, exact: bool) -> bytes:
        session = self._session
        core = session._core
        parts: list[bytes] = []
        got = 0
        with self._cond:
            while True:
                if self._reset:
                    raise _closed(f"yamux stream {self.id} was reset")
                if self._buffered:
                    taken = self._take(want - got, parts)
                    got += taken
                    if session._error is None:
                        core.consumed(self.id, taken)
                    if got == want or not exact:
                        break
                    if core.has_data_to_send:
                        session._wake.set()  # a window update must go out before we can wait
                elif self._eof:
                    if exact:
                        raise _closed(f"yamux stream {self.id} ended after {got} of {want} bytes")
                    break
                elif session._error is not None:
                    raise _closed(str(session._error), session._error)
                else:
                    self._cond.wait()
            flush = core.has_data_to_send and session._error is None
        if flush:
            session._flush()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _take(self, limit: int, parts: list[bytes]) -> int:
        taken = 0
        chunks = self._chunks
        while chunks and taken < limit:
            chunk = chunks[0]
            off = self._offset
            n = len(chunk) - off
            if n <= limit - taken:
                chunks.popleft()
                self._offset = 0
                parts.append(chunk[off:] if off else chunk)
            else:
                n = limit - taken
                self._offset = off + n
                parts.append(chunk[off : off + n])
            taken += n
        self._buffered -= taken
        return taken

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``, blocking while the peer's window is full."""
        session = self._session
        core = session._core
        with self._cond:
            self._check_writable()
            core.send_data(self.id, data)
            waiting = core.queued_bytes(self.id) > 0
        written = session._flush()
        if waiting:
            with self._cond:
                while core.queued_bytes(self.id):
                    self._check_writable()
                    self._cond.wait()
                self._check_writable()
            written = session._flush()  # the keeper may be writing the last released frame
        if not written:  # our bytes may not have left; the session is gone
            self._check_writable()

    def _check_writable(self) -> None:
        if self._reset:
            raise _closed(f"yamux stream {self.id} was reset")
        if self._session._error is not None:
            raise _closed(str(self._session._error), self._session._error)

    def close(self) -> None:
        """Half-close: tell the peer we send no more (FIN). Reading stays possible."""
        self._act(Connection.close_stream)

    def reset(self) -> None:
        """Abort the stream in both directions (RST); blocked readers and writers wake."""
        self._act(Connection.reset_stream, reset=True)

    def _act(self, action: Callable[[Connection, int], None], *, reset: bool = False) -> None:
        session = self._session
        with self._cond:
            if self._reset or session._error is not None:
                return
            action(session._core, self.id)
            if reset:
                self._reset = True
                self._cond.notify_all()
            session._forget_if_done(self)
        session._flush()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
