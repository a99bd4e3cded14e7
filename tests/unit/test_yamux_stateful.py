"""Two yamux cores driven by random operations, bytes delivered in random slices.

Whatever the interleaving, no side may see a protocol error, every stream delivers a prefix of
what was sent (all of it once closed and drained), and no side ever holds more unconsumed data
than the window it advertised.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from goplugin._yamux.connection import Connection, StreamState
from goplugin._yamux.frames import (
    HEADER_SIZE,
    INITIAL_STREAM_WINDOW,
    DataReceived,
    StreamEnded,
    StreamOpened,
    StreamReset,
)

SIDES = (0, 1)
SENDABLE = {
    StreamState.SYN_SENT,
    StreamState.SYN_RECEIVED,
    StreamState.ESTABLISHED,
    StreamState.REMOTE_CLOSED,
}


class YamuxPair(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.conn = (
            Connection(client=True, accept_backlog=4),
            Connection(client=False, accept_backlog=4),
        )
        self.wire = (bytearray(), bytearray())  # bytes in flight *to* side i
        self.sent: tuple[dict[int, bytearray], dict[int, bytearray]] = ({}, {})
        self.received: tuple[dict[int, bytearray], dict[int, bytearray]] = ({}, {})
        self.unconsumed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.to_accept: tuple[list[int], list[int]] = ([], [])
        self.ended: tuple[set[int], set[int]] = (set(), set())  # FIN received
        self.reset: set[int] = set()  # reset by either side
        self.counter = 0

    def _streams(self, side: int) -> list[int]:
        return sorted(s for s in self.sent[side] if self.conn[side].stream_state(s) is not None)

    def _flush(self, side: int) -> None:
        self.wire[1 - side].extend(self.conn[side].data_to_send())

    @rule(side=st.sampled_from(SIDES))
    def open(self, side: int) -> None:
        conn = self.conn[side]
        if not conn.can_open_stream:
            return
        sid = conn.open_stream()
        self.sent[side][sid] = bytearray()
        self.received[side][sid] = bytearray()
        self._flush(side)

    @rule(side=st.sampled_from(SIDES), data=st.data())
    def accept(self, side: int, data: st.DataObject) -> None:
        pending = [s for s in self.to_accept[side] if self.conn[side].stream_state(s) is not None]
        if pending:
            sid = data.draw(st.sampled_from(pending))
            self.to_accept[side].remove(sid)
            self.conn[side].accept_stream(sid)
            self._flush(side)

    @rule(side=st.sampled_from(SIDES), data=st.data(), size=st.integers(1, 200_000))
    def send(self, side: int, data: st.DataObject, size: int) -> None:
        conn = self.conn[side]
        ok = [s for s in self._streams(side) if conn.stream_state(s) in SENDABLE]
        ok = [s for s in ok if conn.queued_bytes(s) == 0]  # as the IO layer: one write at a time
        if not ok:
            return
        sid = data.draw(st.sampled_from(ok))
        self.counter += 1
        payload = (self.counter.to_bytes(4, "big") * (size // 4 + 1))[:size]
        conn.send_data(sid, payload)
        self.sent[side][sid] += payload
        self._flush(side)

    @rule(side=st.sampled_from(SIDES), data=st.data())
    def consume(self, side: int, data: st.DataObject) -> None:
        have = [s for s, n in self.unconsumed[side].items() if n]
        if have:
            sid = data.draw(st.sampled_from(have))
            n = data.draw(st.integers(1, self.unconsumed[side][sid]))
            self.unconsumed[side][sid] -= n
            self.conn[side].consumed(sid, n)
            self._flush(side)

    @rule(side=st.sampled_from(SIDES), data=st.data(), abort=st.booleans())
    def close(self, side: int, data: st.DataObject, abort: bool) -> None:
        streams = self._streams(side)
        if streams:
            sid = data.draw(st.sampled_from(streams))
            if abort:
                self.conn[side].reset_stream(sid)
                self.reset.add(sid)
            else:
                self.conn[side].close_stream(sid)
            self._flush(side)

    @rule(side=st.sampled_from(SIDES), opaque=st.integers(0, 0xFFFF_FFFF))
    def ping(self, side: int, opaque: int) -> None:
        self.conn[side].ping(opaque)
        self._flush(side)

    @rule(side=st.sampled_from(SIDES), data=st.data())
    def deliver(self, side: int, data: st.DataObject) -> None:
        wire = self.wire[side]
        if wire:
            n = data.draw(st.integers(1, len(wire)))
            self._receive(side, bytes(wire[:n]))
            del wire[:n]

    def _receive(self, side: int, chunk: bytes) -> None:
        for event in self.conn[side].receive_data(chunk):
            sid = getattr(event, "stream_id", None)
            if isinstance(event, StreamOpened):
                self.to_accept[side].append(event.stream_id)
                self.sent[side][event.stream_id] = bytearray()
                self.received[side][event.stream_id] = bytearray()
            elif isinstance(event, DataReceived):
                self.received[side][event.stream_id] += event.data
                self.unconsumed[side][event.stream_id] = self.unconsumed[side].get(
                    event.stream_id, 0
                ) + len(event.data)
            elif isinstance(event, StreamEnded):
                assert sid not in self.ended[side]
                self.ended[side].add(event.stream_id)
            elif isinstance(event, StreamReset):
                self.reset.add(event.stream_id)
        self._flush(side)

    @invariant()
    def prefixes_and_windows(self) -> None:
        for side in SIDES:
            for sid, got in self.received[side].items():
                assert self.sent[1 - side].get(sid, bytearray()).startswith(got)
            for n in self.unconsumed[side].values():
                assert n <= INITIAL_STREAM_WINDOW
            assert self.conn[side].buffered_input < HEADER_SIZE + INITIAL_STREAM_WINDOW
            assert not self.conn[side].closed
            for rec in self.conn[side]._streams.values():  # the core's own accounting
                assert rec.send_window >= 0
                assert rec.recv_window + rec.unconsumed <= INITIAL_STREAM_WINDOW

    @rule()
    def drain_everything(self) -> None:
        """Consume all and deliver all until quiet; closed streams must then be complete."""
        for _ in range(1000):
            for side in SIDES:
                for sid, n in list(self.unconsumed[side].items()):
                    if n:
                        self.unconsumed[side][sid] = 0
                        self.conn[side].consumed(sid, n)
                self._flush(side)
            if not any(self.wire):
                break
            for side in SIDES:
                chunk = bytes(self.wire[side])
                self.wire[side].clear()
                self._receive(side, chunk)
        for side in SIDES:
            for sid in self.ended[side]:
                if sid not in self.reset:
                    assert self.received[side][sid] == self.sent[1 - side][sid]
            for sid in self.sent[side]:  # with all credit back, nothing may stay queued
                assert self.conn[side].queued_bytes(sid) == 0


TestYamuxPair = YamuxPair.TestCase
TestYamuxPair.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
