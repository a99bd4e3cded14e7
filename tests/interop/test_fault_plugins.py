"""Every fault of the fault plugins, against both host flavours: a typed error, fast, and
nothing left behind (issue 12, "What to build besides the fixes").

The plugins are examples-go/testprogs/faultplugin (Go, unmodified go-plugin) and
tests/plugins/fault_plugin.py (Python, goplugin.serve or aio.serve). Each test runs in a
private TMPDIR and ends by checking that the host process holds nothing it did not hold
before: no child process, fd, Python or OS thread, or temp file (tests/leaks.py).

Faults before the handshake make the same bytes reach the host whatever language wrote them,
so those run against the Go plugin in both flavours, and against the Python twin where Python
could differ (its start-up, its buffered stdout, its exit). Faults in the middle of a call and
at shutdown run for both plugins, both protocols (the plugins' ``serve-netrpc`` start fault)
and both host flavours. Time bounds only catch a hang or a stall of a second, never speed.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import threaded
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from flavours import FLAVOURS, settle
from gobuild import go_program
from leaks import Snapshot, hold_grpc
from leaks import settle as settled_leaks

import goplugin
import goplugin.errors as errors
from goplugin import Protocol
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

#: Start timeout for faults that never finish a start (the Python plugin runs its start
#: faults before it imports grpc: both start within milliseconds).
HANG_START_TIMEOUT = 1.0
#: The same for the Python plugin, whose faults begin once its interpreter runs.
PY_HANG_START_TIMEOUT = 2.0
#: The deadline of a call that the plugin never answers.
CALL_DEADLINE = 0.3
#: What an error may take beyond the moment it is due: only a hang or a 1 s stall breaks it.
STALL = 0.8


@pytest.fixture(scope="module")
def go_fault() -> list[str]:
    return [str(go_program("./testprogs/faultplugin"))]


@pytest.fixture
def py_fault(plugin_pythonpath: None) -> list[str]:
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


_warmed = False


@pytest.fixture
def no_leaks(private_tmp: Path, go_fault: list[str], generated: Path) -> Iterator[None]:
    """Fails the test if the host holds more after it than before (see tests/leaks.py).

    The first launch of a process starts what lives as long as it (the process watcher, grpc's
    pollers); one warm-up launch per flavour comes before the first snapshot.
    """
    global _warmed
    if not _warmed:
        hold_grpc()
        warm_up(go_fault)
        _warmed = True
    before = Snapshot.take(private_tmp)
    yield
    leaks = settled_leaks(before, private_tmp, os_threads=True)
    assert leaks.held(os_threads=True) == {}, leaks


def warm_up(cmd: list[str]) -> None:
    from gen.kv import kv_pb2

    with goplugin.PluginClient(cmd, handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins()) as client:
        client.dispense("kv").put(kv_pb2.PutRequest(key="k", value=b"v"))

    async def aio() -> None:
        async with goplugin.aio.PluginClient(
            cmd, handshake=EXAMPLE_HANDSHAKE, plugins=kv_plugins()
        ) as client:
            await (await client.dispense("kv")).put(kv_pb2.PutRequest(key="k", value=b"v"))

    # On a thread: the calling test may already run an event loop.
    thread = threading.Thread(target=asyncio.run, args=(aio(),))
    thread.start()
    thread.join(60)


def kv_plugins() -> dict[str, Any]:
    from gen.kv import kv_goplugin

    return {"kv": kv_goplugin.KVPlugin()}


def fault_env(flavour: str, *faults: str) -> dict[str, str]:
    """The plugin's environment: its faults, and for the Python plugin the host's flavour."""
    env = {"GOPLUGIN_FAULT": ",".join(f for f in faults if f)}
    if flavour == "aio":
        env["GOPLUGIN_FAULT_FLAVOUR"] = "aio"
    return env


async def start_error(client: Any) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(goplugin.PluginError) as info:
        await settle(client.start())
    return info.value, time.monotonic() - started


# -- before the handshake ------------------------------------------------------------------

# fault -> the error start() raises. Each is raised within STALL of the moment the fault
# shows, except the faults that never finish a start, which take the start timeout.
LINE_FAULTS: dict[str, type[BaseException]] = {
    "exit-before-handshake": errors.PluginExitedError,
    "garbage-line": errors.HandshakeError,
    "short-line": errors.HandshakeError,
    "version-not-a-number": errors.HandshakeError,
    "network-bogus": errors.HandshakeError,
    "core-version-2": errors.IncompatibleVersionError,
    "app-version-99": errors.IncompatibleVersionError,
    "protocol-http": errors.UnsupportedProtocolError,
    "huge-handshake-line": errors.HandshakeError,
    # An unparsable address is refused when the line is read, as go-plugin's host does
    # (net.ResolveTCPAddr): nobody could ever dial it.
    "address-garbage": errors.HandshakeError,
    "exit-after-handshake": errors.PluginExitedError,
}
TIMEOUT_FAULTS: dict[str, str] = {
    "hang-before-handshake": "StartTimeoutError",
    "stdout-closed": "PluginExitedError",
    "accept-silent-grpc": "PluginUnreachableError",
    "accept-silent-netrpc": "PluginUnreachableError",
}
#: The Python twin, where Python could behave differently (start-up, buffered stdout, exit).
PY_LINE_FAULTS = ["exit-before-handshake", "garbage-line", "app-version-99", "exit-after-handshake"]
PY_TIMEOUT_FAULTS = [
    "dead-address-grpc",
    "never-accept-netrpc",
    "accept-silent-grpc",
    "stdout-closed",
]


def flavour_params(faults: list[str], both: set[str]) -> list[Any]:
    """(fault, flavour) pairs: both flavours for the faults in ``both``, else one, alternating.
    The hosts share the code that judges a start; they differ in how they wait for it."""
    params = []
    for i, fault in enumerate(faults):
        flavours = list(FLAVOURS) if fault in both else [list(FLAVOURS)[i % 2]]
        params += [pytest.param(fault, flavour, id=f"{fault}-{flavour}") for flavour in flavours]
    return params


def expected_error(name: str) -> type[BaseException]:
    """An error class by name: those of the host's lifecycle table (issue 12, #4) too."""
    found = getattr(errors, name, None)
    assert found is not None, f"goplugin.errors has no {name}"
    return found  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("fault", "flavour"),
    flavour_params(list(LINE_FAULTS), {"exit-before-handshake", "garbage-line", "app-version-99"}),
)
async def test_a_bad_start_is_a_typed_error_at_once(
    go_fault: list[str], flavour: str, fault: str, no_leaks: None
) -> None:
    client = FLAVOURS[flavour](
        go_fault, handshake=EXAMPLE_HANDSHAKE, env=fault_env(flavour, fault), kill_timeout=0.5
    )
    error, elapsed = await start_error(client)
    assert isinstance(error, LINE_FAULTS[fault]), repr(error)
    assert elapsed < STALL, f"{elapsed:.2f} s"
    assert client.exited
    assert isinstance(error, errors.PluginError)
    assert error.stderr_tail, "the plugin's stderr belongs in the error"


@pytest.mark.parametrize(
    ("fault", "flavour"), flavour_params(list(TIMEOUT_FAULTS), {"hang-before-handshake"})
)
async def test_a_start_that_never_finishes_fails_within_the_start_timeout(
    go_fault: list[str], flavour: str, fault: str, no_leaks: None
) -> None:
    client = FLAVOURS[flavour](
        go_fault,
        handshake=EXAMPLE_HANDSHAKE,
        env=fault_env(flavour, fault),
        start_timeout=HANG_START_TIMEOUT,
        kill_timeout=0.5,
    )
    error, elapsed = await start_error(client)
    assert isinstance(error, expected_error(TIMEOUT_FAULTS[fault])), repr(error)
    assert elapsed < HANG_START_TIMEOUT + STALL, f"{elapsed:.2f} s"
    assert client.exited


@pytest.mark.parametrize("fault", PY_LINE_FAULTS + PY_TIMEOUT_FAULTS)
async def test_a_bad_start_of_a_python_plugin_is_a_typed_error(
    py_fault: list[str], fault: str, no_leaks: None
) -> None:
    # One flavour each (alternating): the host's side was covered above with the Go plugin.
    flavour = list(FLAVOURS)[sorted(PY_LINE_FAULTS + PY_TIMEOUT_FAULTS).index(fault) % 2]
    # The fault starts once the interpreter runs (a few hundred ms on a loaded machine): a
    # start timeout well past that, and bounds only a wait for the timeout would break.
    never_finishes = fault in TIMEOUT_FAULTS or fault.startswith(("never-accept", "accept-"))
    timeout = PY_HANG_START_TIMEOUT if never_finishes else 10.0
    client = FLAVOURS[flavour](
        py_fault,
        handshake=EXAMPLE_HANDSHAKE,
        env=fault_env(flavour, fault),
        start_timeout=timeout,
        kill_timeout=0.5,
    )
    error, elapsed = await start_error(client)
    if fault in PY_LINE_FAULTS:
        assert isinstance(error, LINE_FAULTS[fault]), repr(error)
    elif fault in TIMEOUT_FAULTS:
        assert isinstance(error, expected_error(TIMEOUT_FAULTS[fault])), repr(error)
    else:
        assert isinstance(error, expected_error("PluginUnreachableError")), repr(error)
    assert elapsed < (timeout + STALL if never_finishes else timeout / 2), f"{elapsed:.2f} s"
    assert client.exited


@pytest.mark.parametrize(
    ("language", "flavour"), [("go", "sync"), ("go", "aio"), ("python", "sync")]
)
async def test_a_plugin_of_a_protocol_the_host_refuses(
    go_fault: list[str], py_fault: list[str], language: str, flavour: str, no_leaks: None
) -> None:
    client = FLAVOURS[flavour](
        go_fault if language == "go" else py_fault,
        handshake=EXAMPLE_HANDSHAKE,
        env=fault_env(flavour, "serve-netrpc"),
        allowed_protocols=[Protocol.GRPC],
        kill_timeout=0.5,
    )
    error, _ = await start_error(client)
    assert isinstance(error, errors.UnsupportedProtocolError), repr(error)
    assert client.exited


# -- in the middle of a call ---------------------------------------------------------------


class Target:
    """A fault plugin of one language, serving "kv" over one protocol, and its calls."""

    kill_timeout = 2.0

    def __init__(self, cmd: list[str], protocol: str, flavour: str, *faults: str) -> None:
        self.protocol = protocol
        serve = "serve-netrpc" if protocol == "netrpc" else ""
        self.client = FLAVOURS[flavour](
            cmd,
            handshake=EXAMPLE_HANDSHAKE,
            plugins=kv_plugins(),
            env=fault_env(flavour, *faults, serve),
            kill_timeout=self.kill_timeout,
        )
        self.kv: Any = None

    async def start(self) -> None:
        self.kv = await settle(self.client.dispense("kv"))

    def call(self, key: str, timeout: float | None = None) -> Any:
        """KV.Get or Plugin.Get: the value (sync), or an awaitable of the reply (aio)."""
        if self.protocol == "grpc":
            from gen.kv import kv_pb2

            reply = self.kv.get(kv_pb2.GetRequest(key=key), timeout=timeout)
            return reply.value if hasattr(reply, "value") else reply
        return self.kv.call("Plugin.Get", key, gob.BYTES, timeout=timeout)

    async def get(self, key: str, timeout: float | None = None) -> bytes:
        reply = await settle(self.call(key, timeout))
        return reply if isinstance(reply, bytes) else reply.value

    async def timed_error(self, key: str, timeout: float | None = None) -> tuple[Any, float]:
        started = time.monotonic()
        with pytest.raises((goplugin.PluginError, grpc.RpcError)) as info:
            await self.get(key, timeout)
        return info.value, time.monotonic() - started

    def deadline_passed(self, error: BaseException) -> bool:
        if self.protocol == "grpc":
            return isinstance(error, grpc.RpcError) and (
                error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            )
        return isinstance(error, errors.RPCTimeoutError)


@pytest.fixture(params=["grpc", "netrpc"])
def protocol(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=list(FLAVOURS))
def flavour(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=["go", "python"])
def plugin_cmd(request: Any, go_fault: list[str], plugin_pythonpath: None) -> list[str]:
    if request.param == "go":
        return go_fault
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


async def test_call_faults_fail_their_call_only_and_a_crash_is_plugin_exited(
    plugin_cmd: list[str], protocol: str, flavour: str, no_leaks: None
) -> None:
    go = len(plugin_cmd) == 1  # the Go binary; the Python plugin is [python, script]
    target = Target(plugin_cmd, protocol, flavour)
    try:
        await target.start()
        # A flood of stderr in the middle of a call: the call and the host carry on.
        assert await target.get("fault:stderr-flood:5000") == b"flooded"
        # A call the plugin never answers ends at its deadline, as a deadline.
        for _ in range(2):
            error, elapsed = await target.timed_error("fault:hang", CALL_DEADLINE)
            assert target.deadline_passed(error), repr(error)
            assert elapsed < CALL_DEADLINE + STALL, f"{elapsed:.2f} s"
        # An error whose text looks like a broken connection is the plugin's answer, at once.
        error, elapsed = await target.timed_error("fault:error:unexpected EOF", 10.0)
        assert not isinstance(error, errors.PluginExitedError), repr(error)
        assert "unexpected EOF" in str(error)
        assert elapsed < STALL, f"{elapsed:.2f} s"
        # The plugin lives on and answers.
        assert await target.get("fault:blocked") == b"0"
        assert not target.client.exited
        # It dies in the middle of a call: a Go panic (exit status 2), a Python abort (SIGABRT,
        # as a crashing C extension) or an exit (status 4). That call, and the next, say so.
        crash, returncode, words = {
            ("go", "grpc"): ("panic", 2, "panic: faultplugin: panic mid-call"),
            ("python", "grpc"): ("abort", -6, "fault_plugin: aborting mid-call"),
            ("python", "netrpc"): ("exit", 4, "fault_plugin: exiting mid-call"),
            # A Go plugin's own writes to os.Stderr travel on its stdio stream, not to the tail.
            ("go", "netrpc"): ("exit", 4, ""),
        }["go" if go else "python", protocol]
        for _ in range(2):
            error, elapsed = await target.timed_error(f"fault:{crash}", 10.0)
            assert isinstance(error, errors.PluginExitedError), repr(error)
            assert error.returncode == returncode
            assert words in "\n".join(error.stderr_tail)
            assert elapsed < STALL, f"{elapsed:.2f} s"
    finally:
        await settle(target.client.kill())


async def test_kill_with_a_call_that_never_returns(
    plugin_cmd: list[str], protocol: str, flavour: str, no_leaks: None
) -> None:
    """kill() ends a hung call with a typed error, and the plugin stops when asked: a handler
    that never returns must not keep a plugin's process alive after serve() returns."""
    target = Target(plugin_cmd, protocol, flavour)
    try:
        await target.start()
        if flavour == "aio":
            hung: Any = asyncio.ensure_future(target.get("fault:block"))
        else:
            thread, box = threaded.run(lambda: target.call("fault:block"))
        deadline = time.monotonic() + 10
        while await target.get("fault:blocked") != b"1":
            assert time.monotonic() < deadline, "the blocking call never reached the plugin"
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await settle(target.client.kill())
        took = time.monotonic() - started
        if flavour == "aio":
            with pytest.raises(goplugin.PluginError):
                await asyncio.wait_for(hung, STALL)
        else:
            assert isinstance(threaded.joined(thread, box, STALL), goplugin.PluginError), box
        assert took < target.kill_timeout + STALL, f"kill() took {took:.2f} s"
        # It exited when asked, as a Go plugin does whatever its handlers do: no SIGKILL.
        assert target.client.returncode == 0, target.client.returncode
    finally:
        await settle(target.client.kill())


# -- at shutdown ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "fault", "protocol", "flavour"),
    [
        ("go", "ignore-shutdown", "grpc", "sync"),
        ("go", "ignore-shutdown", "grpc", "aio"),
        ("go", "hang-shutdown", "grpc", "sync"),
        ("go", "hang-shutdown", "grpc", "aio"),
        ("python", "ignore-shutdown", "grpc", "sync"),
        ("python", "ignore-shutdown", "netrpc", "aio"),
    ],
)
async def test_a_plugin_that_does_not_stop_when_asked_is_killed_within_the_kill_timeout(
    go_fault: list[str],
    py_fault: list[str],
    language: str,
    fault: str,
    protocol: str,
    flavour: str,
    no_leaks: None,
) -> None:
    kill_timeout = 0.5
    client = FLAVOURS[flavour](
        go_fault if language == "go" else py_fault,
        handshake=EXAMPLE_HANDSHAKE,
        plugins=kv_plugins(),
        env=fault_env(flavour, fault, "serve-netrpc" if protocol == "netrpc" else ""),
        kill_timeout=kill_timeout,
    )
    await settle(client.start())
    await settle(client.ping())
    started = time.monotonic()
    await settle(client.kill())
    took = time.monotonic() - started
    assert client.returncode == -9, client.returncode
    assert took < kill_timeout + STALL, f"kill() took {took:.2f} s"
