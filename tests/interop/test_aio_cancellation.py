"""asyncio: leaving a call early cancels it, and the plugin sees it (issue 12, #5).

``break`` out of ``async for`` over a response stream, cancelling the task that consumes it,
and ``asyncio.create_task(client.method(...))`` then cancelling the task: each cancels the RPC
at once, as the sync flavour does, without noise (no unraisable exception, nothing for the
loop's exception handler, no CancelledError traceback in the logs). The Go fault plugin counts
its open streams (``count-streams``) and its Wait calls (GetWaitStats), so the test sees what
the plugin saw.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gobuild import go_program

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def fault_plugin() -> list[str]:
    return [str(go_program("./testprogs/faultplugin"))]


def plugin_set() -> dict[str, Any]:
    from gen.kv import kv_goplugin
    from gen.streaming import streaming_goplugin

    return {"kv": kv_goplugin.KVPlugin(), "streamer": streaming_goplugin.StreamerPlugin()}


def cancellation_noise(records: list[logging.LogRecord]) -> list[str]:
    """Log records about a CancelledError that goplugin caused. (grpc.aio logs, at DEBUG, the
    traceback of a request iterator of the user's that it cancels: that one is grpc's.)"""
    noise = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        if "CancelledError" in text and ("goplugin" in text or record.levelno >= logging.INFO):
            noise.append(f"log: {record.name}: {text[:300]}")
    return noise


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Everything noisy that happens during the test: unraisable exceptions, errors handed to
    the loop's exception handler, log records about a CancelledError."""
    noise: list[str] = []
    caplog.set_level(logging.DEBUG)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: noise.append(f"unraisable: {unraisable!r}")
    try:
        yield noise
    finally:
        sys.unraisablehook = previous_hook
    noise.extend(cancellation_noise(caplog.records))


def watch_loop(noise: list[str]) -> None:
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: noise.append(f"loop: {context.get('message')}")
    )


@pytest.fixture
async def plugin(fault_plugin: list[str]) -> AsyncIterator[goplugin.aio.PluginClient]:
    client = goplugin.aio.PluginClient(
        fault_plugin,
        handshake=EXAMPLE_HANDSHAKE,
        plugins=plugin_set(),
        env={"GOPLUGIN_FAULT": "count-streams"},
    )
    async with client:
        yield client


async def open_streams(client: Any) -> int:
    from gen.kv import kv_pb2

    kv = await client.dispense("kv")
    return int((await kv.get(kv_pb2.GetRequest(key="fault:open-streams"), timeout=5)).value)


async def eventually(probe: Any, expected: Any, timeout: float = 3.0) -> Any:
    """Poll ``probe()`` until it returns ``expected``; the last value otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.02)


async def test_break_out_of_async_for_cancels_the_stream(
    plugin: goplugin.aio.PluginClient, generated: Any, quiet: list[str]
) -> None:
    from gen.streaming import streaming_pb2

    watch_loop(quiet)
    streamer = await plugin.dispense("streamer")
    for _ in range(3):
        async for _event in streamer.generate(streaming_pb2.GenerateRequest(count=10**9)):
            break
        assert await eventually(lambda: open_streams(plugin), 0) == 0
    assert quiet == []


async def test_cancelling_the_consuming_task_cancels_the_stream(
    plugin: goplugin.aio.PluginClient, generated: Any, quiet: list[str]
) -> None:
    from gen.streaming import streaming_pb2

    watch_loop(quiet)
    streamer = await plugin.dispense("streamer")
    never = asyncio.Event()

    async def consume(held: bool) -> None:
        if held:  # the task holds the call in a variable while it waits in the loop body
            call = streamer.generate(streaming_pb2.GenerateRequest(count=10**9))
            async for _event in call:
                await never.wait()
        else:
            async for _event in streamer.generate(streaming_pb2.GenerateRequest(count=10**9)):
                await never.wait()

    for held in (False, True, False, True):
        task = asyncio.create_task(consume(held))
        assert await eventually(lambda: open_streams(plugin), 1) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await eventually(lambda: open_streams(plugin), 0) == 0
    assert quiet == []


async def test_cancelling_a_bidi_stream_consumer_is_quiet(
    plugin: goplugin.aio.PluginClient, generated: Any, quiet: list[str]
) -> None:
    from gen.streaming import streaming_pb2

    watch_loop(quiet)
    streamer = await plugin.dispense("streamer")

    async def events() -> AsyncIterator[Any]:
        seq = 0
        while True:
            seq += 1
            yield streaming_pb2.Event(seq=seq, text="x")
            await asyncio.sleep(0.001)

    async def consume() -> None:
        async for _event in streamer.exchange(events()):
            pass

    task = asyncio.create_task(consume())
    assert await eventually(lambda: open_streams(plugin), 1) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await eventually(lambda: open_streams(plugin), 0) == 0
    assert quiet == []


async def test_a_call_is_a_coroutine_for_create_task_and_its_cancellation_reaches_the_plugin(
    plugin: goplugin.aio.PluginClient, generated: Any, quiet: list[str]
) -> None:
    from gen.kv import kv_pb2
    from gen.streaming import streaming_pb2
    from google.protobuf import duration_pb2, empty_pb2

    watch_loop(quiet)
    streamer = await plugin.dispense("streamer")
    kv = await plugin.dispense("kv")
    await kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
    assert (await asyncio.create_task(kv.get(kv_pb2.GetRequest(key="k")))).value == b"v"
    replies = await asyncio.gather(*(kv.get(kv_pb2.GetRequest(key="k")) for _ in range(5)))
    assert {r.value for r in replies} == {b"v"}
    assert (await asyncio.wait_for(kv.get(kv_pb2.GetRequest(key="k")), 5)).value == b"v"

    wait = streaming_pb2.WaitRequest(duration=duration_pb2.Duration(seconds=30))
    tasks = [asyncio.create_task(streamer.wait(wait)) for _ in range(3)]

    async def stats() -> tuple[int, int]:
        s = await streamer.get_wait_stats(empty_pb2.Empty())
        return s.waiting, s.cancelled

    assert await eventually(stats, (3, 0)) == (3, 0)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await eventually(stats, (0, 3)) == (0, 3)
    assert quiet == []


async def test_kill_is_quiet(
    fault_plugin: list[str], generated: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """kill() ends the broker's stream without a CancelledError traceback in grpc's log."""
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        async with goplugin.aio.PluginClient(
            fault_plugin, handshake=EXAMPLE_HANDSHAKE, plugins=plugin_set()
        ) as client:
            await client.ping()
    assert cancellation_noise(caplog.records) == []


def test_the_sync_twin_cancels_a_stream_left_by_break(
    fault_plugin: list[str], generated: Any
) -> None:
    """What the asyncio flavour now matches: leaving a sync stream's ``for`` cancels it."""
    from gen.kv import kv_pb2
    from gen.streaming import streaming_pb2

    with goplugin.PluginClient(
        fault_plugin,
        handshake=EXAMPLE_HANDSHAKE,
        plugins=plugin_set(),
        env={"GOPLUGIN_FAULT": "count-streams"},
    ) as client:
        streamer, kv = client.dispense("streamer"), client.dispense("kv")
        for _event in streamer.generate(streaming_pb2.GenerateRequest(count=10**9)):
            break
        deadline = time.monotonic() + 3
        while True:
            count = int(kv.get(kv_pb2.GetRequest(key="fault:open-streams"), timeout=5).value)
            if count == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert count == 0
