"""A Python plugin under many concurrent calls: the host is never starved (issue 12, defect 1).

Hosts hold more calls open than the thread pool used to have workers (32), then check that a
quick call still runs, that calls past ``max_concurrent_calls`` fail at once with
RESOURCE_EXHAUSTED (a net/rpc error text), and that Kill stays graceful: the plugin exits by
itself (status 0, no SIGKILL) well within go-plugin's 2 s grace. Hosts: an unmodified go-plugin
Go host (examples-go/testprogs/capacityhost), goplugin.PluginClient and goplugin.aio.PluginClient.
Every wait is bounded: a starving plugin fails these tests, it never hangs them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest
from conftest import PLUGINS
from gen.streaming import streaming_goplugin, streaming_pb2
from gobuild import REPO, go_program

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin.errors import RPCServerError
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

STREAMING = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
HELD = 40  # more than the 32 workers that used to serve everything
WAIT = 10.0  # how long a call that should answer at once may take before it counts as stuck
# A call refused for capacity answers in milliseconds; a starved one waits for its deadline.
FAST = 1.0


def _env(**switches: str) -> dict[str, str]:
    path = os.pathsep.join([str(REPO / "examples-py"), str(REPO / "sdk-python" / "src")])
    return {"PYTHONPATH": path, **switches}


PLUGIN = [sys.executable, str(PLUGINS / "capacity_plugin.py")]


# -- an unmodified Go host -------------------------------------------------------------------


def _go_host(protocol: str, flavour: str, *, hold: int, extra: int = 0, limit: int = 0) -> Any:
    switches = {"CAPACITY_PROTOCOL": protocol, "CAPACITY_FLAVOUR": flavour}
    if limit:
        switches["CAPACITY_MAX_CALLS"] = str(limit)
    args = [str(go_program("./testprogs/capacityhost")), f"-protocol={protocol}"]
    proc = subprocess.run(
        [*args, f"-hold={hold}", f"-extra={extra}", *PLUGIN],
        env={**os.environ, **_env(**switches)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout, f"capacityhost printed nothing:\n{proc.stderr[-4000:]}"
    report = json.loads(proc.stdout)
    assert not report.get("error"), report["error"] + "\n" + proc.stderr[-4000:]
    return report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_go_host_quick_call_and_kill_while_many_streams_are_open(engine: str, flavour: str) -> None:
    report = _go_host("grpc", flavour, hold=HELD)
    assert report["held"] == HELD, report
    assert report["quick"]["result"] == "OK", report
    assert report["graceful"], report
    assert report["kill_ms"] < 1500, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_go_host_past_the_limit_gets_resource_exhausted_and_kill_stays_graceful(
    engine: str,
    flavour: str,
) -> None:
    # The host holds all 4 places; the quick call and 2 more streams are refused at once, and
    # Kill finds the plugin saturated (its Shutdown call is past the limit too).
    report = _go_host("grpc", flavour, hold=4, extra=2, limit=4)
    assert report["held"] == 4, report
    for outcome in [report["quick"], *report["extra"]]:
        assert outcome["result"] == "ResourceExhausted", report
        assert outcome["ms"] < FAST * 1000, report
    assert report["graceful"], report
    assert report["kill_ms"] < 1500, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_go_netrpc_host_quick_call_while_many_calls_run(flavour: str) -> None:
    report = _go_host("netrpc", flavour, hold=HELD)
    assert report["quick"]["result"] == "OK", report
    assert report["graceful"], report
    assert report["kill_ms"] < 1500, report


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_go_netrpc_host_past_the_limit_gets_an_error_at_once(flavour: str) -> None:
    report = _go_host("netrpc", flavour, hold=4, extra=2, limit=4)
    for outcome in [report["quick"], *report["extra"]]:
        assert "resource exhausted" in outcome["result"], report
        assert "max_concurrent_calls" in outcome["result"], report
        assert outcome["ms"] < FAST * 1000, report
    assert report["graceful"], report
    assert report["kill_ms"] < 1500, report


# -- Python hosts ----------------------------------------------------------------------------


def _event(seq: int) -> streaming_pb2.Event:
    return streaming_pb2.Event(seq=seq, text="hold")


class _Held:
    """Streams a sync host keeps open: each is fed from its own queue."""

    def __init__(self, streamer: streaming_goplugin.StreamerClient) -> None:
        self._streamer = streamer
        self._feeds: list[queue.Queue[streaming_pb2.Event | None]] = []
        self._calls: list[Any] = []  # a call nobody references is cancelled by grpcio
        self._pool = concurrent.futures.ThreadPoolExecutor(8)

    def open(self) -> Iterator[streaming_pb2.Event]:
        feed: queue.Queue[streaming_pb2.Event | None] = queue.Queue()
        feed.put(_event(len(self._feeds)))
        self._feeds.append(feed)
        call = self._streamer.exchange(iter(feed.get, None))
        self._calls.append(call)
        return call

    def first_reply(self, call: Iterator[streaming_pb2.Event]) -> str:
        """The first reply: "OK", a status code name, or "timeout" (bounded)."""
        try:
            self._pool.submit(next, call).result(WAIT)
        except concurrent.futures.TimeoutError:
            return "timeout"
        except grpc.RpcError as exc:
            return exc.code().name
        return "OK"

    def close(self) -> None:
        for feed in self._feeds:
            feed.put(None)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _kill_timed(client: Any) -> float:
    start = time.monotonic()
    client.kill()
    return time.monotonic() - start


# With the default limit, then with a limit of HELD: the held calls fill it.
LIMITS = [None, HELD]


def _plugin_env(flavour: str, limit: int | None) -> dict[str, str]:
    if limit is None:
        return _env(CAPACITY_FLAVOUR=flavour)
    return _env(CAPACITY_FLAVOUR=flavour, CAPACITY_MAX_CALLS=str(limit))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_sync_host_quick_call_limit_and_kill(engine: str, flavour: str, limit: int | None) -> None:
    env = _plugin_env(flavour, limit)
    plugins = {"streamer": streaming_goplugin.StreamerPlugin()}
    client = goplugin.PluginClient(PLUGIN, handshake=STREAMING, plugins=plugins, env=env)
    held = None
    try:
        streamer = client.dispense("streamer")
        held = _Held(streamer)
        outcomes = [held.first_reply(held.open()) for _ in range(HELD)]
        assert outcomes == ["OK"] * HELD
        if limit is None:
            assert streamer.echo(_event(1), timeout=WAIT).seq == 1
        else:
            start = time.monotonic()
            assert held.first_reply(held.open()) == "RESOURCE_EXHAUSTED"
            assert time.monotonic() - start < FAST
            with pytest.raises(grpc.RpcError) as refused:
                streamer.echo(_event(2), timeout=WAIT)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        elapsed = _kill_timed(client)
    finally:
        client.kill()
        if held is not None:
            held.close()
    assert client.returncode == 0  # it exited by itself, no SIGKILL
    assert elapsed < 1.5


async def _afirst_reply(call: Any) -> str:
    try:
        await asyncio.wait_for(call.read(), WAIT)
    except asyncio.TimeoutError:
        return "timeout"
    except grpc.RpcError as exc:
        return exc.code().name
    return "OK"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_asyncio_host_quick_call_limit_and_kill(
    engine: str, flavour: str, limit: int | None
) -> None:
    async def scenario() -> tuple[float, int | None]:
        env = _plugin_env(flavour, limit)
        plugins = {"streamer": streaming_goplugin.StreamerPlugin()}
        client = goplugin.aio.PluginClient(PLUGIN, handshake=STREAMING, plugins=plugins, env=env)
        stop = asyncio.Event()

        async def feed(seq: int) -> AsyncIterator[streaming_pb2.Event]:
            yield _event(seq)
            await stop.wait()

        try:
            streamer = await client.dispense("streamer")
            calls = [streamer.exchange(feed(i)) for i in range(HELD)]
            outcomes = await asyncio.gather(*map(_afirst_reply, calls))
            assert outcomes == ["OK"] * HELD
            if limit is None:
                assert (await streamer.echo(_event(1), timeout=WAIT)).seq == 1
            else:
                start = time.monotonic()
                refused_stream = await _afirst_reply(streamer.exchange(feed(HELD)))
                assert refused_stream == "RESOURCE_EXHAUSTED"
                assert time.monotonic() - start < FAST
                with pytest.raises(grpc.RpcError) as refused:
                    await streamer.echo(_event(2), timeout=WAIT)
                assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            start = time.monotonic()
            await client.kill()
            return time.monotonic() - start, client.returncode
        finally:
            stop.set()
            await client.kill()

    elapsed, returncode = asyncio.run(scenario())
    assert returncode == 0  # it exited by itself, no SIGKILL
    assert elapsed < 1.5


# -- a Python net/rpc host -------------------------------------------------------------------

BASIC = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_netrpc_python_host_quick_call_limit_and_kill(flavour: str, limit: int | None) -> None:
    env = {**_plugin_env(flavour, limit), "CAPACITY_PROTOCOL": "netrpc"}
    client = goplugin.PluginClient(
        PLUGIN, handshake=BASIC, plugins={"greeter": netrpc.Plugin()}, env=env
    )
    try:
        greeter = client.dispense("greeter")
        # One thread sends them in order: the plugin reads the sleeps before the greeting.
        held = [greeter.call_future("Plugin.Sleep", 60.0, gob.BOOL) for _ in range(HELD)]
        greet = ("Plugin.Greet", None, gob.STRING)
        if limit is None:
            assert greeter.call(*greet, args_type=gob.INTERFACE, timeout=WAIT) == "Hello!"
        else:
            start = time.monotonic()
            with pytest.raises(RPCServerError, match=r"resource exhausted.*max_concurrent_calls"):
                greeter.call(*greet, args_type=gob.INTERFACE, timeout=WAIT)
            assert time.monotonic() - start < FAST
        assert not any(f.done() for f in held)
        elapsed = _kill_timed(client)
    finally:
        client.kill()
    assert client.returncode == 0  # Control.Quit: it exited by itself, no SIGKILL
    assert elapsed < 1.5


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_asyncio_host_sees_the_plugins_refusal_of_every_stream(engine: str, flavour: str) -> None:
    """A stream the plugin refuses for capacity fails with the plugin's RESOURCE_EXHAUSTED,
    every time. grpc.aio overwrites the status of a call whose request it could not send with
    its own INTERNAL "Internal error from Core" (a quarter of the refusals by a grpcio plugin
    used to end so); the host recovers the peer's status."""
    limit, refusals = 2, 30

    async def scenario() -> list[str]:
        env = _plugin_env(flavour, limit)
        plugins = {"streamer": streaming_goplugin.StreamerPlugin()}
        client = goplugin.aio.PluginClient(PLUGIN, handshake=STREAMING, plugins=plugins, env=env)
        stop = asyncio.Event()

        async def feed(seq: int) -> AsyncIterator[streaming_pb2.Event]:
            yield _event(seq)
            await stop.wait()

        try:
            streamer = await client.dispense("streamer")
            held = [streamer.exchange(feed(i)) for i in range(limit)]
            assert await asyncio.gather(*map(_afirst_reply, held)) == ["OK"] * limit
            return [await _afirst_reply(streamer.exchange(feed(i))) for i in range(refusals)]
        finally:
            stop.set()
            await client.kill()

    outcomes = asyncio.run(scenario())
    assert outcomes == ["RESOURCE_EXHAUSTED"] * refusals
