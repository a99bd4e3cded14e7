"""GRPCBroker bookkeeping, independent of IO and flavour (go-plugin's grpc_broker.go rules).

Each side of a connection has a broker; both exchange ``ConnInfo`` messages on one
``GRPCBroker.StartStream`` stream. This module decides what an incoming message means:
a knock (``knock && !ack``, multiplexed mode) goes to the side that accepts, anything else
(an address to dial, or a knock's acknowledgement) to the side that dials. Messages that
arrive before anyone waits for them are kept for five seconds, one per id, like Go does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from ..errors import PluginError

if TYPE_CHECKING:
    from .._protocol.internal import ConnInfo

__all__ = ["PENDING_TTL", "BrokerState"]

#: How long a ConnInfo waits for its dial (Go's timeoutWait), and how long a dial waits.
PENDING_TTL = 5.0


class BrokerState:
    """The state of one StartStream. Thread-safe: the receive loop, dialers and acceptors may
    run on different threads."""

    def __init__(self) -> None:
        # _early, _waiting, _knock_handlers and closed: read and written only under _lock, by
        # the receive loop, dialers, acceptors and close(); handlers and futures are called
        # outside it (they may send, which must not wait for us).
        self._lock = threading.Lock()
        self._early: dict[int, tuple[float, ConnInfo]] = {}
        self._waiting: dict[int, Future[ConnInfo]] = {}
        self._knock_handlers: dict[int, Callable[[ConnInfo], None]] = {}
        self.closed = False

    def receive(self, msg: ConnInfo) -> None:
        """Route one message from the stream."""
        service_id = msg.service_id
        is_knock = msg.HasField("knock") and msg.knock.knock and not msg.knock.ack
        if is_knock:
            with self._lock:
                handler = self._knock_handlers.get(service_id)
            if handler is not None:  # else nobody accepts this id; Go drops it too
                handler(msg)
            return
        with self._lock:
            waiter = self._waiting.pop(service_id, None)
            if waiter is None:
                now = time.monotonic()
                self._expire(now)
                self._early.setdefault(service_id, (now, msg))
                return
        if not waiter.done():
            waiter.set_result(msg)

    def expect(self, service_id: int) -> Future[ConnInfo]:
        """A future for the next non-knock message about ``service_id``."""
        fut: Future[ConnInfo] = Future()
        with self._lock:
            if self.closed:
                fut.set_exception(PluginError("the broker stream is closed"))
                return fut
            self._expire(time.monotonic())
            early = self._early.pop(service_id, None)
            if early is not None:
                fut.set_result(early[1])
            else:
                self._waiting[service_id] = fut
        return fut

    def forget(self, service_id: int, fut: Future[ConnInfo]) -> None:
        """Stop waiting (the dial timed out)."""
        with self._lock:
            if self._waiting.get(service_id) is fut:
                del self._waiting[service_id]

    def on_knock(self, service_id: int, handler: Callable[[ConnInfo], None]) -> None:
        """Call ``handler`` for knocks on ``service_id`` (multiplexed accept)."""
        with self._lock:
            self._knock_handlers[service_id] = handler

    def successor(self) -> BrokerState:
        """The state for the next stream (a new host attached): accepts carry over."""
        with self._lock:
            state = BrokerState()
            state._knock_handlers = dict(self._knock_handlers)
            return state

    def close(self, reason: BaseException) -> None:
        with self._lock:
            self.closed = True
            waiting = list(self._waiting.values())
            self._waiting.clear()
            self._early.clear()
            self._knock_handlers.clear()
        for fut in waiting:
            if not fut.done():
                fut.set_exception(reason)

    def _expire(self, now: float) -> None:
        stale = [i for i, (at, _) in self._early.items() if now - at > PENDING_TTL]
        for service_id in stale:
            del self._early[service_id]
