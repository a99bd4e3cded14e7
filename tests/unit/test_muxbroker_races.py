"""MuxBroker under threads: close() racing the first accept() (which starts the acceptor).

The acceptor thread starts lazily with the first ``accept``; a ``close`` from another thread
at that moment must neither join a thread that has not started yet ("cannot join thread
before it is started", seen once in the suite) nor leave the accept waiting. The race shows
about once in 500 rounds of two threads at a tiny GIL switch interval, so the test runs
20,000 rounds (about a second): brokers over one session that is already gone (the plugin
died), the case where ``close()`` is quickest and the window widest.
"""

from __future__ import annotations

import socket
import sys
from collections import Counter
from pathlib import Path

from goplugin._yamux.session import Session
from goplugin.errors import ConnectionClosedError
from goplugin.netrpc._muxbroker import MuxBroker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide

ROUNDS = 20_000


def test_close_racing_the_first_accept_neither_raises_nor_hangs() -> None:
    a, b = socket.socketpair()
    client, server = Session(a, client=True), Session(b, client=False)
    client.close()
    server.close()
    brokers = [MuxBroker(server) for _ in range(ROUNDS)]

    def work(round_: int, index: int) -> object:
        broker = brokers[round_]
        if index == 0:
            broker.accept(1, timeout=5.0)
            return "accepted"
        broker.close()
        return "closed"

    results = collide(work, threads=2, rounds=ROUNDS, timeout=120.0)
    outcomes = Counter(
        type(r).__name__ if isinstance(r, BaseException) else r for row in results for r in row
    )
    errors = [r for row in results for r in row if not isinstance(r, (str, ConnectionClosedError))]
    assert errors == [], f"{outcomes}; first: {errors[0]!r}"
    # Every accept ended because of the close, never by its own timeout.
    assert outcomes == {"ConnectionClosedError": ROUNDS, "closed": ROUNDS}
