"""Every cell of the lifecycle table, run against real plugins (issue 12, #4).

For each protocol (go-plugin's examples: the gRPC KV plugin, the net/rpc greeter) and each
flavour, the client is brought into each state and every operation is performed there; what
happens must be what ``goplugin._host.lifecycle.TABLE`` says. States are reached the way they come
about in production: ``starting`` with a plugin slow to write its handshake, ``exited`` with a
SIGKILL from outside, ``failed`` with a plugin that exits at once, ``killing`` with a stopped
(SIGSTOP) plugin that cannot answer the graceful stop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE
from flavours import FLAVOURS, settle

import goplugin
from goplugin._host.lifecycle import TABLE, Do, Op, State
from goplugin.netrpc import gob

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]

#: The outcomes that change the client's state: each such cell gets a client of its own.
MOVING = {Do.LAUNCH, Do.START_FIRST, Do.WAIT, Do.ABORT, Do.STOP, Do.FORGET, Do.WAIT_KILL}
SLOW_START = 0.5  # seconds the "starting" plugin takes to write its handshake
KILL_TIMEOUT = 1.0


async def stopped(pid: int) -> None:
    """Until SIGSTOP has stopped every thread (a Go thread may run on for a moment)."""

    def thread_states() -> set[str]:
        states = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            stat = (task / "stat").read_text()
            states.add(stat[stat.rindex(")") + 2])
        return states

    deadline = time.monotonic() + 5
    while thread_states() != {"T"}:
        assert time.monotonic() < deadline, f"the plugin did not stop: {thread_states()}"
        await asyncio.sleep(0.002)


class Bench:
    """One protocol and flavour: makes clients in a given state and performs operations."""

    def __init__(self, protocol: str, flavour: str, plugin: Path) -> None:
        self.protocol, self.flavour, self.plugin = protocol, flavour, str(plugin)
        self.name = "kv" if protocol == "grpc" else "greeter"
        self.background: list[asyncio.Future[Any]] = []
        self.starts: dict[int, asyncio.Future[Any]] = {}
        self.dispensed: dict[int, Any] = {}

    def client(self, cmd: list[str] | None = None) -> Any:
        from gen.kv import kv_goplugin

        return FLAVOURS[self.flavour](
            cmd or [self.plugin],
            handshake=EXAMPLE_HANDSHAKE,
            plugins={"kv": kv_goplugin.KVPlugin()},
            kill_timeout=KILL_TIMEOUT,
        )

    def run_in_background(self, operation: Any) -> asyncio.Future[Any]:
        """Run ``operation()`` concurrently: a thread for the sync flavour, a task for asyncio."""
        if self.flavour == "sync":
            task = asyncio.ensure_future(asyncio.to_thread(operation))
        else:
            task = asyncio.ensure_future(settle(operation()))
        self.background.append(task)
        return task

    async def wait_for(self, client: Any, state: State) -> None:
        started = time.monotonic()
        seen = []
        while client.state is not state:
            seen.append((round(time.monotonic() - started, 3), client.state.value))
            assert time.monotonic() < started + 10, f"never reached {state}: {seen[:3]} {seen[-3:]}"
            await asyncio.sleep(0.005)

    async def in_state(self, state: State) -> Any:
        if state is State.CREATED:
            return self.client()
        if state is State.STARTING:
            slow = ["sh", "-c", f'sleep {SLOW_START}; exec "$0"', self.plugin]
            client = self.client(slow)
            self.starts[id(client)] = self.run_in_background(client.start)
            await self.wait_for(client, State.STARTING)
            return client
        if state is State.FAILED:
            client = self.client(["sh", "-c", "echo failing >&2; exit 3"])
            with pytest.raises(goplugin.PluginExitedError):
                await settle(client.start())
            return client
        client = self.client()
        self.dispensed[id(client)] = await settle(client.dispense(self.name))
        if state is State.EXITED:
            os.kill(client.pid, signal.SIGKILL)
            await self.wait_for(client, State.EXITED)
        elif state is State.KILLING:
            os.kill(client.pid, signal.SIGSTOP)  # cannot answer: kill() waits kill_timeout
            await stopped(client.pid)
            self.run_in_background(client.kill)
            await self.wait_for(client, State.KILLING)
        elif state is State.KILLED:
            await settle(client.kill())
        return client

    async def perform(self, client: Any, op: Op) -> tuple[str, Any]:
        """("ok", value) or ("raised", exception)."""
        try:
            return "ok", await settle(self._operation(client, op))
        except Exception as exc:
            return "raised", exc

    def _operation(self, client: Any, op: Op) -> Any:
        if op is Op.START:
            return client.start()
        if op is Op.DISPENSE:
            return client.dispense(self.name)
        if op is Op.PING:
            return client.ping(5)
        if op is Op.KILL:
            return client.kill()
        if op is Op.CALL:
            dispensed = self.dispensed[id(client)]
            if self.protocol == "grpc":
                from gen.kv import kv_pb2

                return dispensed.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
            return dispensed.call("Plugin.Greet", None, gob.STRING, timeout=10)
        if op is Op.CHANNEL:
            return client.grpc_channel if self.protocol == "grpc" else client.broker
        if op is Op.REATTACH_CONFIG:
            return client.reattach_config
        return [
            client.pid,
            client.handshake_line,
            client.protocol,
            client.negotiated_version,
            client.exited,
            client.returncode,
            client.stderr_tail,
        ]

    async def check(self, client: Any, state: State, op: Op) -> None:
        expected = TABLE[op][state]
        where = f"{op.value} in {state.value} ({self.protocol}, {self.flavour})"
        if expected is Do.NO_CALL:
            with pytest.raises(goplugin.PluginError):  # there is no channel to call on
                client.grpc_channel  # noqa: B018
            return
        if state is State.KILLING and op is Op.CALL:
            started = time.monotonic()
        result, value = await self.perform(client, op)
        if not isinstance(expected, Do):
            assert result == "raised" and isinstance(value, expected), (where, value)
            if state is State.KILLING and op is Op.CALL:
                assert time.monotonic() - started < KILL_TIMEOUT + 3, where
            return
        if self.protocol == "netrpc" and op is Op.CHANNEL and expected is Do.VALUE:
            # the broker property is gRPC's; a net/rpc plugin says so, typed
            assert result == "raised" and type(value) is goplugin.PluginError, (where, value)
            return
        assert result == "ok", (where, value)
        after = client.state
        if expected in (Do.LAUNCH, Do.START_FIRST, Do.WAIT):
            assert after is State.STARTED, where
            await settle(client.kill())
        elif expected is Do.ABORT:
            # the start in progress gave up at once, with ClientClosedError
            start = self.starts[id(client)]
            await asyncio.wait([start], timeout=5)  # its thread has returned; the loop catches up
            assert isinstance(start.exception(), goplugin.ClientClosedError), where
            assert after is State.KILLED and client.exited, where
        elif expected in (Do.STOP, Do.FORGET, Do.WAIT_KILL):
            assert after is State.KILLED, where
        elif expected is Do.NONE:
            assert value is None, where
        elif expected in (Do.VALUE, Do.RUN, Do.NOTHING):
            assert after is state, where
            if op in (Op.CHANNEL, Op.REATTACH_CONFIG, Op.DISPENSE):
                assert value is not None, where

    async def finish(self) -> None:
        for task in self.background:
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except Exception:  # the failures the cells expected
                pass


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("protocol", ["grpc", "netrpc"])
async def test_every_operation_in_every_state(
    protocol: str,
    flavour: str,
    go_kv_plugin: Path,
    go_greeter_plugin: Path,
    generated: Path,
    workdir: Path,
) -> None:
    bench = Bench(protocol, flavour, go_kv_plugin if protocol == "grpc" else go_greeter_plugin)
    clients: list[Any] = []
    try:
        for state in State:
            # The cells that leave the state unchanged share one client; kill() goes last.
            staying = [op for op in Op if TABLE[op][state] not in MOVING]
            if state is not State.CREATED or staying:
                shared = await bench.in_state(state)
                clients.append(shared)
                for op in sorted(staying, key=lambda op: op is Op.CALL):
                    await bench.check(shared, state, op)
            for op in Op:
                if TABLE[op][state] in MOVING:
                    if state is State.KILLING and op is Op.KILL:
                        await bench.check(shared, state, op)  # a second kill() waits
                        continue
                    client = await bench.in_state(state)
                    clients.append(client)
                    await bench.check(client, state, op)
    finally:
        await bench.finish()
        for client in clients:
            await settle(client.kill())
