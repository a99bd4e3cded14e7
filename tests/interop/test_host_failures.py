"""Every way a host's call or start can fail is a goplugin.errors type (issue 12, #4).

The regressions: calls through ``.future()`` escaped the guard; a call, ``start()``,
``dispense()`` or ``ping()`` after ``kill()`` gave grpcio's ValueError/UsageError, silence, or
"not started"; a plugin announcing an address nobody answers at gave a raw grpc error after
1-21 s; a missing binary gave FileNotFoundError. Both flavours, both protocols.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE
from flavours import FLAVOURS, drain, settle
from gobuild import go_program

import goplugin
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def fault_plugin() -> list[str]:
    return [str(go_program("./testprogs/faultplugin"))]


def kv_plugins() -> dict[str, Any]:
    from gen.kv import kv_goplugin

    return {"kv": kv_goplugin.KVPlugin()}


class Target:
    """One plugin per protocol and a call on its dispensed client."""

    def __init__(self, protocol: str, go_kv_plugin: Path, go_greeter_plugin: Path) -> None:
        self.protocol = protocol
        if protocol == "grpc":
            self.cmd, self.name = [str(go_kv_plugin)], "kv"
        else:
            self.cmd, self.name = [str(go_greeter_plugin)], "greeter"

    def call(self, dispensed: Any) -> Any:
        if self.protocol == "grpc":
            from gen.kv import kv_pb2

            return dispensed.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=5)
        return dispensed.call("Plugin.Greet", None, gob.STRING, timeout=5)


@pytest.fixture(params=["grpc", "netrpc"])
def target(request: Any, go_kv_plugin: Path, go_greeter_plugin: Path, workdir: Path) -> Target:
    return Target(request.param, go_kv_plugin, go_greeter_plugin)


async def raised(call: Any) -> BaseException:
    with pytest.raises(goplugin.PluginError) as info:
        await settle(call())
    return info.value


def test_a_future_under_a_sigkill_is_plugin_exited(
    go_kv_plugin: Path, generated: Path, workdir: Path
) -> None:
    from gen.kv import kv_pb2

    with goplugin.PluginClient(
        [go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins()
    ) as client:
        kv = client.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"))
        futures = [kv.get.future(kv_pb2.GetRequest(key="k")) for _ in range(3)]
        futures[0].result(timeout=5)
        assert client.pid is not None
        os.kill(client.pid, signal.SIGKILL)
        late = kv.get.future(kv_pb2.GetRequest(key="k"), timeout=5)
        with pytest.raises(goplugin.PluginExitedError):
            late.result(timeout=5)
        error = late.exception(timeout=5)
        assert isinstance(error, goplugin.PluginExitedError)
        assert error.returncode == -signal.SIGKILL
        seen: list[Any] = []
        late.add_done_callback(seen.append)
        assert seen == [late]
        # Judged once, whichever threads ask first and however many at once.
        fresh = kv.get.future(kv_pb2.GetRequest(key="k"), timeout=5)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: fresh.exception(timeout=5), range(32)))
        assert isinstance(answers[0], goplugin.PluginExitedError)
        assert all(answer is answers[0] for answer in answers)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_call_after_kill_is_client_closed(
    target: Target, generated: Path, flavour: str
) -> None:
    client = FLAVOURS[flavour](target.cmd, handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins())
    dispensed = await settle(client.dispense(target.name))
    await settle(target.call(dispensed))
    await settle(client.kill())
    error = await raised(lambda: target.call(dispensed))
    assert isinstance(error, goplugin.errors.ClientClosedError), repr(error)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_start_dispense_and_ping_after_kill_are_client_closed(
    target: Target, generated: Path, flavour: str
) -> None:
    client = FLAVOURS[flavour](target.cmd, handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins())
    await settle(client.start())
    await settle(client.kill())
    for operation in (client.start, lambda: client.dispense(target.name), client.ping):
        error = await raised(operation)
        assert isinstance(error, goplugin.errors.ClientClosedError), repr(error)
    assert client.reattach_config is None


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_missing_or_unrunnable_binary_is_a_launch_error(
    tmp_path: Path, flavour: str
) -> None:
    not_executable = tmp_path / "plugin"
    not_executable.write_text("#!/bin/sh\n")
    for cmd in ([str(tmp_path / "nope")], [str(not_executable)]):
        client = FLAVOURS[flavour](cmd, handshake=EXAMPLE_HANDSHAKE)
        error = await raised(client.start)
        assert isinstance(error, goplugin.errors.LaunchError), repr(error)
        assert cmd[0] in str(error)
        assert isinstance(error.__cause__, OSError)
        error = await raised(client.start)  # the client is done, not half-started
        assert isinstance(error, goplugin.errors.ClientClosedError), repr(error)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("protocol", ["grpc", "netrpc"])
@pytest.mark.parametrize("fault", ["dead-address", "never-accept"])
async def test_an_address_that_does_not_answer_is_unreachable_within_the_start_timeout(
    fault_plugin: list[str], flavour: str, protocol: str, fault: str
) -> None:
    start_timeout = 1.0
    client = FLAVOURS[flavour](
        fault_plugin,
        handshake=EXAMPLE_HANDSHAKE,
        env={"GOPLUGIN_FAULT": f"{fault}-{protocol}"},
        start_timeout=start_timeout,
        kill_timeout=0.5,
    )
    started = time.monotonic()
    error = await raised(client.start)
    elapsed = time.monotonic() - started
    assert isinstance(error, goplugin.errors.PluginUnreachableError), repr(error)
    assert "announcing" in str(error)  # the plugin's stderr tail
    assert elapsed < start_timeout + 1.0
    assert client.exited
    error = await raised(client.ping)
    assert isinstance(error, goplugin.errors.ClientClosedError), repr(error)


def test_every_public_error_is_exported_from_goplugin() -> None:
    import goplugin.errors

    for name in goplugin.errors.__all__:
        assert getattr(goplugin, name) is getattr(goplugin.errors, name)
        assert name in goplugin.__all__


def fault_plugins() -> dict[str, Any]:
    from gen.kv import kv_goplugin
    from gen.streaming import streaming_goplugin

    return {"kv": kv_goplugin.KVPlugin(), "streamer": streaming_goplugin.StreamerPlugin()}


def every_kind_of_call(kv: Any, streamer: Any, flavour: str) -> dict[str, Any]:
    """One call of each kind grpcio offers, as zero-argument callables of either flavour."""
    from gen.kv import kv_pb2
    from gen.streaming import streaming_pb2
    from google.protobuf import empty_pb2

    def events() -> Any:
        return iter([streaming_pb2.Event(seq=1, text="x")])

    calls: dict[str, Any] = {
        "unary": lambda: kv.get(kv_pb2.GetRequest(key="k"), timeout=5),
        "unary-empty": lambda: streamer.get_wait_stats(empty_pb2.Empty(), timeout=5),
        "response stream": lambda: drain(
            streamer.generate(streaming_pb2.GenerateRequest(count=3), timeout=5)
        ),
        "request stream": lambda: streamer.collect(events(), timeout=5),
        "bidi stream": lambda: drain(streamer.exchange(events(), timeout=5)),
    }
    if flavour == "sync":
        calls["with_call"] = lambda: kv.get.with_call(kv_pb2.GetRequest(key="k"), timeout=5)
        calls["future"] = lambda: kv.get.future(kv_pb2.GetRequest(key="k"), timeout=5).result()
    else:
        import asyncio

        calls["task"] = lambda: asyncio.create_task(kv.get(kv_pb2.GetRequest(key="k"), timeout=5))
    return calls


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("ending", ["kill", "sigkill"])
async def test_every_kind_of_call_after_the_end_is_typed(
    fault_plugin: list[str], generated: Path, flavour: str, ending: str
) -> None:
    """After kill(): ClientClosedError. After the plugin died: PluginExitedError. Each kind."""
    from gen.kv import kv_pb2

    client = FLAVOURS[flavour](fault_plugin, handshake=EXAMPLE_HANDSHAKE, plugins=fault_plugins())
    kv = await settle(client.dispense("kv"))
    streamer = await settle(client.dispense("streamer"))
    await settle(kv.put(kv_pb2.PutRequest(key="k", value=b"v")))
    calls = every_kind_of_call(kv, streamer, flavour)
    for name, call in calls.items():  # each kind works while the plugin runs
        assert await settle(call()) is not None, name
    if ending == "kill":
        await settle(client.kill())
        expected: type[goplugin.PluginError] = goplugin.ClientClosedError
    else:
        assert client.pid is not None
        os.kill(client.pid, signal.SIGKILL)
        expected = goplugin.PluginExitedError
    try:
        for name, call in calls.items():
            started = time.monotonic()
            error = await raised(call)
            assert isinstance(error, expected), (name, repr(error))
            assert time.monotonic() - started < 2, name
    finally:
        await settle(client.kill())
