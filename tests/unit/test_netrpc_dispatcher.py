"""The net/rpc Dispatcher's limit (serve(max_concurrent_calls=...)), driven from many threads.

Readers of several streams admit calls while workers end them: the running count must never
pass the limit, every call past it must be refused at once (never queued), every admitted one
must start at once (never wait for a worker), and the count must come back to zero.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from goplugin._plugin.config import check_max_concurrent_calls, make_serve_config
from goplugin.netrpc._server import Dispatcher
from goplugin.netrpc._service import Handler
from goplugin.plugin import GRPCPlugin

LIMIT = 8


class _Probe:
    """A handler that records how many calls run at once and can be held."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.release = threading.Event()

    def __call__(self, args: Any) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        self.release.wait(10)
        with self.lock:
            self.now -= 1
        return args


class _Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: list[Any] = []
        self.refused: list[BaseException] = []
        self.all_done = threading.Event()
        self.expected = 0

    def done(self, value: Any, error: BaseException | None) -> None:
        with self.lock:
            (self.ok if error is None else self.refused).append(error or value)
            if len(self.ok) + len(self.refused) == self.expected:
                self.all_done.set()


def _hammer(dispatcher: Dispatcher, handler: Handler, results: _Results, threads: int) -> None:
    per_thread = 50
    results.expected = threads * per_thread
    start = threading.Barrier(threads)

    def reader() -> None:
        start.wait()
        for i in range(per_thread):
            dispatcher.run(handler, i, results.done)

    workers = [threading.Thread(target=reader) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
        assert not worker.is_alive()


@pytest.mark.timeout(60)
def test_sync_calls_past_the_limit_are_refused_at_once_and_the_count_returns_to_zero() -> None:
    dispatcher = Dispatcher(max_concurrent_calls=LIMIT)
    probe = _Probe()
    results = _Results()
    handler = Handler(probe, is_async=False)
    _hammer(dispatcher, handler, results, threads=8)
    # Every reader has returned: LIMIT calls are held, all others were refused without waiting.
    deadline = time.monotonic() + 5
    while probe.now < LIMIT and time.monotonic() < deadline:
        time.sleep(0.01)
    assert probe.now == LIMIT  # each admitted call started: none waits for a worker
    assert len(results.refused) == results.expected - LIMIT
    assert all("resource exhausted" in str(e) for e in results.refused)
    assert all("max_concurrent_calls" in str(e) for e in results.refused)
    probe.release.set()
    assert results.all_done.wait(10)
    assert probe.most == LIMIT
    # Everything ended: the whole limit is free again.
    again = _Results()
    again.expected = LIMIT
    for i in range(LIMIT):
        dispatcher.run(Handler(lambda a: a, is_async=False), i, again.done)
    assert again.all_done.wait(10)
    assert not again.refused
    dispatcher.close()


@pytest.mark.timeout(60)
def test_the_place_is_free_before_the_reply_is_sent() -> None:
    """A host that sends its next call as soon as the last one is answered is never refused."""
    dispatcher = Dispatcher(max_concurrent_calls=1)
    handler = Handler(lambda a: a, is_async=False)
    outcomes: list[BaseException | None] = []
    finished = threading.Event()

    def done(value: Any, error: BaseException | None) -> None:
        outcomes.append(error)
        if len(outcomes) < 200:
            dispatcher.run(handler, value, done)  # the next call, from inside the reply
        else:
            finished.set()

    dispatcher.run(handler, 0, done)
    assert finished.wait(20)
    assert outcomes == [None] * 200
    dispatcher.close()


@pytest.mark.timeout(60)
def test_inline_control_calls_are_never_counted_or_refused() -> None:
    dispatcher = Dispatcher(max_concurrent_calls=1)
    probe = _Probe()
    held = _Results()
    held.expected = 1
    dispatcher.run(Handler(probe, is_async=False), "held", held.done)
    control = _Results()
    control.expected = 3
    for _ in range(3):
        dispatcher.run(Handler(lambda a: "pong", is_async=False, inline=True), None, control.done)
    assert control.ok == ["pong"] * 3
    probe.release.set()
    assert held.all_done.wait(10)
    dispatcher.close()


@pytest.mark.timeout(60)
def test_async_calls_share_the_limit() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        dispatcher = Dispatcher(loop, max_concurrent_calls=LIMIT)
        gate = asyncio.Event()

        async def slow(args: Any) -> Any:
            await gate.wait()
            return args

        results = _Results()
        await asyncio.to_thread(_hammer, dispatcher, Handler(slow, is_async=True), results, 4)
        assert len(results.refused) == results.expected - LIMIT
        gate.set()
        assert await asyncio.to_thread(results.all_done.wait, 10)
        assert len(results.ok) == LIMIT  # each admitted call ran and was answered
        # A sync call now finds the place the async ones left.
        sync = _Results()
        sync.expected = 1
        dispatcher.run(Handler(lambda a: a, is_async=False), "sync", sync.done)
        assert await asyncio.to_thread(sync.all_done.wait, 10)
        assert sync.ok == ["sync"]
        dispatcher.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "8", None])
def test_max_concurrent_calls_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="max_concurrent_calls"):
        check_max_concurrent_calls(bad)


def test_serve_config_carries_the_limit() -> None:
    class _Plugin(GRPCPlugin[Any, Any]):
        def grpc_server(self, broker: Any, server: Any) -> None: ...

        def grpc_client(self, broker: Any, channel: Any) -> Any: ...

    import goplugin

    handshake = goplugin.HandshakeConfig(1, "K", "V")
    config = make_serve_config(
        handshake=handshake,
        plugins={"p": _Plugin()},
        versioned_plugins=None,
        grpc_options=[],
        force_tcp=False,
        environ={},
        max_concurrent_calls=3,
    )
    assert config.max_concurrent_calls == 3
    with pytest.raises(ValueError, match="max_concurrent_calls"):
        make_serve_config(
            handshake=handshake,
            plugins={"p": _Plugin()},
            versioned_plugins=None,
            grpc_options=[],
            force_tcp=False,
            environ={},
            max_concurrent_calls=0,
        )
