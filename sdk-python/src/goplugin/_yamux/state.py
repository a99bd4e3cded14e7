"""yamux stream states and the table of their transitions, as hashicorp/yamux's stream.go has them.

Every rule that changes a stream's state is data in ``TRANSITIONS``; the session
(``connection.py``) only looks transitions up, so the state machine can be read and tested in
one place.
"""

from __future__ import annotations

import enum
from collections import deque

from .frames import INITIAL_STREAM_WINDOW

__all__ = ["PEER_MAY_SEND", "TRANSITIONS", "WE_MAY_SEND", "Op", "StreamRecord", "StreamState"]


class StreamState(enum.IntEnum):
    """yamux's stream states (stream.go); CLOSED and RESET streams are forgotten at once.

    An IntEnum because states are looked up in sets on every frame, and int hashing is C code.
    """

    SYN_SENT = 1
    SYN_RECEIVED = 2
    ESTABLISHED = 3
    LOCAL_CLOSED = 4  # we sent FIN, the peer may still send
    REMOTE_CLOSED = 5  # the peer sent FIN, we may still send
    CLOSED = 6
    RESET = 7


class Op(enum.IntEnum):
    SEND_ACK = 1
    RECV_ACK = 2
    SEND_FIN = 3
    RECV_FIN = 4


_S = StreamState
# Every state change except RST (any live state -> RESET) lives in this table. An ACK that has
# no entry is ignored, as yamux does; a received FIN without an entry is a protocol error; a local
# FIN without one is a no-op (close() is idempotent).
TRANSITIONS: dict[StreamState, dict[Op, StreamState]] = {
    _S.SYN_SENT: {
        Op.RECV_ACK: _S.ESTABLISHED,
        Op.RECV_FIN: _S.REMOTE_CLOSED,
        Op.SEND_FIN: _S.LOCAL_CLOSED,
    },
    _S.SYN_RECEIVED: {
        Op.SEND_ACK: _S.ESTABLISHED,
        Op.RECV_FIN: _S.REMOTE_CLOSED,
        Op.SEND_FIN: _S.LOCAL_CLOSED,
    },
    _S.ESTABLISHED: {Op.RECV_FIN: _S.REMOTE_CLOSED, Op.SEND_FIN: _S.LOCAL_CLOSED},
    _S.LOCAL_CLOSED: {Op.RECV_FIN: _S.CLOSED},
    _S.REMOTE_CLOSED: {Op.SEND_FIN: _S.CLOSED},
}
PEER_MAY_SEND = frozenset({_S.SYN_SENT, _S.SYN_RECEIVED, _S.ESTABLISHED, _S.LOCAL_CLOSED})
WE_MAY_SEND = frozenset({_S.SYN_SENT, _S.SYN_RECEIVED, _S.ESTABLISHED, _S.REMOTE_CLOSED})


class StreamRecord:
    """Per-stream bookkeeping; ``unconsumed`` is data handed out in events but not consumed."""

    __slots__ = (
        "ack_owed",
        "fin_pending",
        "id",
        "queue",
        "queued",
        "recv_window",
        "send_window",
        "state",
        "syn_unacked",
        "unconsumed",
    )

    def __init__(self, stream_id: int, state: StreamState) -> None:
        self.id = stream_id
        self.state = state
        self.send_window = INITIAL_STREAM_WINDOW
        self.recv_window = INITIAL_STREAM_WINDOW
        self.unconsumed = 0
        self.queue: deque[memoryview] = deque()
        self.queued = 0
        self.fin_pending = False
        self.ack_owed = state is _S.SYN_RECEIVED
        self.syn_unacked = state is _S.SYN_SENT
