"""goplugin.aio.Supervisor against real Go and Python plugins: kills under load from several
tasks, fail-fast and waiting calls, streams and tasks through the stand-in, a clean close."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.kv import kv_goplugin, kv_pb2
from gen.streaming import streaming_goplugin, streaming_pb2
from supervising import Events, LoadTally, assert_nothing_left, fault_plugin_command, kill_hard

from goplugin import RestartPolicy, SupervisorEventKind, SupervisorState
from goplugin.aio import PluginClient, Supervisor
from goplugin.errors import (
    ClientClosedError,
    PluginExitedError,
    PluginGaveUpError,
    PluginRestartingError,
)

pytestmark = pytest.mark.interop

QUICK = RestartPolicy(max_restarts=5, initial_delay=0.05, max_delay=0.5, jitter=0.2)


@pytest.fixture(params=["go", "python"])
def plugin_kind(request: pytest.FixtureRequest, plugin_pythonpath: None) -> str:
    return str(request.param)


def kv_factory(kind: str, fault: str | None = None) -> Callable[[], PluginClient]:
    cmd = fault_plugin_command(kind)
    env = {} if fault is None else {"GOPLUGIN_FAULT": fault}
    plugins = {"kv": kv_goplugin.KVPlugin(), "streamer": streaming_goplugin.StreamerPlugin()}

    def make() -> PluginClient:
        return PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE, plugins=plugins, env=env)

    return make


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.mark.timeout(120)
async def test_kills_under_load_lose_only_the_calls_in_flight(
    plugin_kind: str, workdir: Path
) -> None:
    tasks, kills = 6, 3
    events = Events()
    tally = LoadTally()
    stop = asyncio.Event()
    async with Supervisor(kv_factory(plugin_kind), restart_policy=QUICK, on_event=events) as sup:
        kv = await sup.dispense("kv", kv_goplugin.AsyncKVClient)

        async def caller(i: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    await kv.put(kv_pb2.PutRequest(key=f"k{i}", value=b"%d" % n), timeout=20)
                    tally.add("ok")
                except PluginExitedError:
                    tally.add("lost in flight")
                except Exception as exc:
                    tally.add("unexpected", exc)

        workers = [asyncio.create_task(caller(i)) for i in range(tasks)]
        try:
            for _ in range(kills):
                before = tally.ok()
                await wait_for(lambda before=before: tally.ok() >= before + 50)  # type: ignore[misc]
                pid = sup.pid
                kill_hard(pid)
                await wait_for(lambda pid=pid: sup.pid not in (None, pid))  # type: ignore[misc]
            before = tally.ok()
            await wait_for(lambda: tally.ok() >= before + 50)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), 30)
    print(f"\naio {plugin_kind}: {kills} kills under {tasks} tasks: {dict(tally.counts)}")
    assert tally.unexpected == []
    assert tally.counts["lost in flight"] <= tasks * kills
    assert events.count(SupervisorEventKind.STARTED) == kills + 1
    assert [e.returncode for _, e in events.of(SupervisorEventKind.CRASHED)] == [-9] * kills
    assert events.kinds()[-1] == "stopped"
    assert_nothing_left()


async def test_a_plugin_that_crashes_at_start_gives_up_after_its_limit(plugin_kind: str) -> None:
    events = Events()
    policy = RestartPolicy(max_restarts=2, initial_delay=0.1, jitter=0.2)
    sup = Supervisor(
        kv_factory(plugin_kind, "exit-before-handshake"), restart_policy=policy, on_event=events
    )
    began = time.monotonic()
    with pytest.raises(PluginGaveUpError) as info:
        await sup.start()
    assert 0.08 + 0.16 <= time.monotonic() - began < 60
    assert (info.value.restarts, info.value.returncode) == (2, 3)
    assert "exiting before the handshake" in str(info.value)
    assert events.count(SupervisorEventKind.CRASHED) == 3
    await sup.close()
    assert_nothing_left()


async def test_fail_fast_and_bounded_waits_during_a_restart(workdir: Path) -> None:
    policy = RestartPolicy(initial_delay=1.5, jitter=0.0)
    async with (
        Supervisor(kv_factory("go"), restart_policy=policy) as waiting,
        Supervisor(kv_factory("go"), restart_policy=policy, wait_for_restart=False) as failing,
    ):
        slow = await waiting.dispense("kv", kv_goplugin.AsyncKVClient)
        fast = await failing.dispense("kv", kv_goplugin.AsyncKVClient)
        kill_hard(waiting.pid)
        kill_hard(failing.pid)
        await wait_for(lambda: waiting.state is failing.state is SupervisorState.RESTARTING)
        began = time.monotonic()
        with pytest.raises(PluginRestartingError, match="restart 1"):
            await fast.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=10)
        assert time.monotonic() - began < 0.5
        began = time.monotonic()
        with pytest.raises(PluginRestartingError, match="still restarting"):
            await slow.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=0.3)
        assert 0.25 <= time.monotonic() - began < 1.2
        # A task created from a supervised call waits for the restart, then runs.
        # A supervised call is a coroutine at run time; the generated stub types it as grpc's call.
        task: asyncio.Task[Any] = asyncio.create_task(
            slow.put(kv_pb2.PutRequest(key="a", value=b"2"), timeout=30)  # type: ignore[arg-type]
        )
        await asyncio.wait_for(task, 30)
        assert waiting.state is SupervisorState.RUNNING


async def test_streams_go_through_the_stand_in_across_restarts(workdir: Path) -> None:
    async with Supervisor(kv_factory("go"), restart_policy=QUICK) as sup:
        streamer = await sup.dispense("streamer", streaming_goplugin.AsyncStreamerClient)
        for _ in range(2):
            request = streaming_pb2.GenerateRequest(count=3)
            got = [event.seq async for event in streamer.generate(request, timeout=10)]
            assert got == [0, 1, 2]
            pid = sup.pid
            kill_hard(pid)
            await wait_for(lambda pid=pid: sup.pid not in (None, pid))  # type: ignore[misc]
    assert_nothing_left()


async def test_close_during_a_long_backoff_is_prompt(workdir: Path) -> None:
    sup = Supervisor(kv_factory("go"), restart_policy=RestartPolicy(initial_delay=60.0))
    kv = await sup.dispense("kv", kv_goplugin.AsyncKVClient)
    kill_hard(sup.pid)
    await wait_for(lambda: sup.state is SupervisorState.RESTARTING)
    waiter: asyncio.Task[Any] = asyncio.create_task(
        kv.put(kv_pb2.PutRequest(key="a", value=b"1"))  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    began = time.monotonic()
    await sup.close()
    assert time.monotonic() - began < 2
    with pytest.raises(ClientClosedError, match="closed"):
        await asyncio.wait_for(waiter, 5)
    assert sup.state is SupervisorState.CLOSED
    assert_nothing_left()


async def test_close_while_a_start_hangs_is_prompt(plugin_kind: str) -> None:
    sup = Supervisor(kv_factory(plugin_kind, "hang-before-handshake"))
    starting = asyncio.create_task(sup.start())
    await wait_for(lambda: sup.state is SupervisorState.STARTING)
    await asyncio.sleep(0.5)  # the plugin is launched and hangs before its handshake
    began = time.monotonic()
    await sup.close()
    assert time.monotonic() - began < 2
    with pytest.raises(ClientClosedError, match="closed"):
        await asyncio.wait_for(starting, 5)
    assert_nothing_left()
