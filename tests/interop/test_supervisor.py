"""goplugin.Supervisor (sync) against real Go and Python plugins: kills under load, plugins
that die on their own or at start, fail-fast and waiting calls, and a clean close."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE
from gen.kv import kv_goplugin, kv_pb2
from supervising import (
    Events,
    LoadTally,
    assert_nothing_left,
    fault_plugin_command,
    kill_hard,
)

from goplugin import PluginClient, RestartPolicy, Supervisor, SupervisorEventKind, SupervisorState
from goplugin.errors import (
    ClientClosedError,
    PluginError,
    PluginExitedError,
    PluginGaveUpError,
    PluginRestartingError,
)

pytestmark = pytest.mark.interop

QUICK = RestartPolicy(max_restarts=5, initial_delay=0.05, max_delay=0.5, jitter=0.2)


@pytest.fixture(params=["go", "python"])
def plugin_kind(request: pytest.FixtureRequest, plugin_pythonpath: None) -> str:
    return str(request.param)


def kv_factory(kind: str, fault: str | None = None, **extra_env: str) -> Callable[[], PluginClient]:
    cmd = fault_plugin_command(kind)
    env = dict(extra_env)
    if fault is not None:
        env["GOPLUGIN_FAULT"] = fault

    def make() -> PluginClient:
        return PluginClient(
            cmd, handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}, env=env
        )

    return make


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.mark.timeout(120)
def test_kills_under_load_lose_only_the_calls_in_flight(plugin_kind: str, workdir: Path) -> None:
    threads, kills = 4, 3
    events = Events()
    tally = LoadTally()
    stop = threading.Event()
    with Supervisor(kv_factory(plugin_kind), restart_policy=QUICK, on_event=events) as sup:
        kv = sup.dispense("kv", kv_goplugin.KVClient)

        def caller(i: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    kv.put(kv_pb2.PutRequest(key=f"k{i}", value=b"%d" % n), timeout=20)
                    tally.add("ok")
                except PluginExitedError:
                    tally.add("lost in flight")
                except Exception as exc:
                    tally.add("unexpected", exc)

        workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        try:
            for _ in range(kills):
                before = tally.ok()
                wait_for(lambda before=before: tally.ok() >= before + 50)  # type: ignore[misc]
                pid = sup.pid
                kill_hard(pid)
                wait_for(lambda pid=pid: sup.pid not in (None, pid))  # type: ignore[misc]
            before = tally.ok()
            wait_for(lambda: tally.ok() >= before + 50)
        finally:
            stop.set()
            for w in workers:
                w.join(30)
        assert not any(w.is_alive() for w in workers)
    print(f"\n{plugin_kind}: {kills} kills under {threads} threads: {dict(tally.counts)}")
    assert tally.unexpected == []
    assert tally.counts["lost in flight"] <= threads * kills
    assert events.count(SupervisorEventKind.STARTED) == kills + 1
    crashes = [e for _, e in events.of(SupervisorEventKind.CRASHED)]
    assert [e.returncode for e in crashes] == [-9] * kills
    assert events.kinds()[-1] == "stopped"
    assert_nothing_left()


def test_a_plugin_that_keeps_dying_is_restarted_then_given_up(
    plugin_kind: str, workdir: Path
) -> None:
    events = Events()
    policy = RestartPolicy(max_restarts=2, initial_delay=0.05, jitter=0.0)
    make = kv_factory(plugin_kind, "exit-after-start", GOPLUGIN_FAULT_EXIT_AFTER_MS="400")
    sup = Supervisor(make, restart_policy=policy, on_event=events)
    kv = sup.dispense("kv", kv_goplugin.KVClient)
    first = kv
    assert kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=10) is not None
    wait_for(lambda: "gave_up" in events.kinds())
    assert sup.state is SupervisorState.GAVE_UP
    assert events.kinds() == [
        *["started", "crashed", "restarting"] * 2,
        *["started", "crashed", "gave_up"],
    ]
    for _, crash in events.of(SupervisorEventKind.CRASHED):
        assert crash.returncode == 5
        assert any("exiting after start" in line for line in crash.stderr_tail)
    with pytest.raises(PluginGaveUpError) as info:
        kv.put(kv_pb2.PutRequest(key="a", value=b"2"), timeout=10)
    assert info.value.restarts == 2 and info.value.returncode == 5
    assert "exiting after start" in str(info.value)
    assert "exit status 5" in str(info.value)
    assert kv is first and sup.client is None
    sup.close()
    assert events.kinds()[-1] == "stopped"
    assert_nothing_left()


def test_a_plugin_that_crashes_at_start_gives_up_after_its_limit_with_backoff(
    plugin_kind: str,
) -> None:
    events = Events()
    policy = RestartPolicy(max_restarts=3, initial_delay=0.1, multiplier=2.0, jitter=0.2)
    make = kv_factory(plugin_kind, "exit-before-handshake")
    sup = Supervisor(make, restart_policy=policy, on_event=events)
    began = time.monotonic()
    with pytest.raises(PluginGaveUpError) as info:
        sup.start()
    elapsed = time.monotonic() - began
    assert info.value.restarts == 3
    assert info.value.returncode == 3
    assert any("exiting before the handshake" in line for line in info.value.stderr_tail)
    assert isinstance(info.value.__cause__, PluginExitedError)
    crashes = events.of(SupervisorEventKind.CRASHED)
    assert len(crashes) == 4  # the first start and 3 restarts: no tight loop
    # Backoff, loosely: each gap is at least the shortest jittered delay (0.08, 0.16, 0.32 s).
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(crashes)]
    assert all(gap >= low for gap, low in zip(gaps, (0.08, 0.16, 0.32), strict=True)), gaps
    assert 0.56 <= elapsed < 60
    delays = [e.delay or 0.0 for _, e in events.of(SupervisorEventKind.RESTARTING)]
    assert all(0.8 * base <= d <= base for d, base in zip(delays, (0.1, 0.2, 0.4), strict=True)), (
        delays
    )
    assert sup.state is SupervisorState.GAVE_UP
    with pytest.raises(PluginGaveUpError):
        sup.dispense("kv")
    sup.close()
    assert_nothing_left()


def test_a_missing_binary_gives_up_at_once(tmp_path: Path) -> None:
    def make() -> PluginClient:
        return PluginClient([tmp_path / "no-such-plugin"], handshake=EXAMPLE_HANDSHAKE)

    sup = Supervisor(make, restart_policy=RestartPolicy(initial_delay=5.0))
    began = time.monotonic()
    with pytest.raises(PluginGaveUpError) as info:
        sup.start()
    assert time.monotonic() - began < 2
    assert info.value.restarts == 0
    sup.close()
    assert_nothing_left()


def test_fail_fast_during_a_restart_then_calls_resume(workdir: Path) -> None:
    policy = RestartPolicy(initial_delay=1.0, jitter=0.0)
    with Supervisor(kv_factory("go"), restart_policy=policy, wait_for_restart=False) as sup:
        kv = sup.dispense("kv", kv_goplugin.KVClient)
        kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=10)
        kill_hard(sup.pid)
        wait_for(lambda: sup.state is SupervisorState.RESTARTING)
        began = time.monotonic()
        with pytest.raises(PluginRestartingError) as info:
            kv.put(kv_pb2.PutRequest(key="a", value=b"2"), timeout=10)
        assert time.monotonic() - began < 0.5
        assert info.value.returncode == -9 and info.value.restarts == 1
        assert "killed by SIGKILL" in str(info.value)
        wait_for(lambda: sup.state is SupervisorState.RUNNING)
        kv.put(kv_pb2.PutRequest(key="a", value=b"3"), timeout=10)


def test_a_waiting_call_is_bounded_by_its_own_timeout(workdir: Path) -> None:
    policy = RestartPolicy(initial_delay=1.5, jitter=0.0)
    with Supervisor(kv_factory("go"), restart_policy=policy) as sup:
        kv = sup.dispense("kv", kv_goplugin.KVClient)
        kill_hard(sup.pid)
        wait_for(lambda: sup.state is SupervisorState.RESTARTING)
        began = time.monotonic()
        with pytest.raises(
            PluginRestartingError, match=r"still restarting after the call's 0\.3 s"
        ):
            kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=0.3)
        assert 0.25 <= time.monotonic() - began < 1.2
        kv.put(kv_pb2.PutRequest(key="a", value=b"2"), timeout=30)  # waits for the restart
        assert sup.state is SupervisorState.RUNNING


def test_close_during_a_long_backoff_is_prompt_and_leaves_nothing(workdir: Path) -> None:
    events = Events()
    policy = RestartPolicy(initial_delay=60.0)
    sup = Supervisor(kv_factory("go"), restart_policy=policy, on_event=events)
    kv = sup.dispense("kv", kv_goplugin.KVClient)
    kill_hard(sup.pid)
    wait_for(lambda: sup.state is SupervisorState.RESTARTING)
    waiter_errors: list[BaseException] = []

    def waiter() -> None:
        try:
            kv.put(kv_pb2.PutRequest(key="a", value=b"1"))
        except BaseException as exc:
            waiter_errors.append(exc)

    blocked = threading.Thread(target=waiter)
    blocked.start()
    began = time.monotonic()
    sup.close()
    assert time.monotonic() - began < 2
    blocked.join(5)
    assert not blocked.is_alive()
    assert [type(e) for e in waiter_errors] == [ClientClosedError]
    assert "closed" in str(waiter_errors[0])
    assert sup.state is SupervisorState.CLOSED
    assert events.kinds()[-1] == "stopped"
    sup.close()  # idempotent
    assert_nothing_left()


def test_unknown_names_and_wrong_types_fail_at_dispense(workdir: Path) -> None:
    with Supervisor(kv_factory("go")) as sup:
        with pytest.raises(PluginError, match="unknown plugin type"):
            sup.dispense("nope")
        with pytest.raises(TypeError, match="dispenses KVClient, not AsyncKVClient"):
            sup.dispense("kv", kv_goplugin.AsyncKVClient)
        assert sup.dispense("kv") is sup.dispense("kv", kv_goplugin.KVClient)


def test_net_rpc_plugins_are_supervised_too(go_greeter_plugin: Path) -> None:
    from goplugin.netrpc import gob

    def make() -> PluginClient:
        return PluginClient([go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE)

    with Supervisor(make, restart_policy=QUICK) as sup:
        greeter = sup.dispense("greeter")
        assert greeter.call("Plugin.Greet", None, gob.STRING, timeout=5) == "Hello!"
        first = sup.pid
        kill_hard(first)
        wait_for(lambda: sup.pid not in (None, first))
        assert greeter.call("Plugin.Greet", None, gob.STRING, timeout=5) == "Hello!"
    assert_nothing_left()


def test_threads_dispensing_and_calling_across_a_restart_share_one_stand_in(
    workdir: Path,
) -> None:
    policy = RestartPolicy(initial_delay=0.5, jitter=0.0)
    with Supervisor(kv_factory("go"), restart_policy=policy) as sup:
        first = sup.dispense("kv", kv_goplugin.KVClient)
        pid = sup.pid
        kill_hard(pid)
        # Once the death is noticed, the threads below meet the restart (before, a call may
        # race with the death and be lost: that is the load tests' business).
        wait_for(lambda: sup.pid != pid)
        barrier = threading.Barrier(8)
        seen: list[object] = []
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                barrier.wait(10)
                kv = sup.dispense("kv", kv_goplugin.KVClient)
                kv.put(kv_pb2.PutRequest(key=f"t{i}", value=b"x"), timeout=20)
                seen.append(kv)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [] and len(seen) == 8
        assert all(kv is first for kv in seen)
    assert_nothing_left()


def test_a_call_after_an_idle_crash_waits_for_the_restart_instead_of_being_lost(
    plugin_kind: str, workdir: Path
) -> None:
    with Supervisor(kv_factory(plugin_kind), restart_policy=QUICK) as sup:
        kv = sup.dispense("kv", kv_goplugin.KVClient)
        for _ in range(2):
            client = sup.client
            assert client is not None
            kill_hard(client.pid)
            wait_for(lambda client=client: client.returncode is not None)  # type: ignore[misc]
            # Reaped, maybe not yet noticed by the supervisor: the call waits, then runs.
            kv.put(kv_pb2.PutRequest(key="a", value=b"1"), timeout=30)
            assert sup.client is not client
    assert_nothing_left()


def test_close_while_a_start_hangs_is_prompt(plugin_kind: str) -> None:
    """close() kills a plugin hanging before its handshake instead of waiting out the start
    timeout (60 s by default)."""
    sup = Supervisor(kv_factory(plugin_kind, "hang-before-handshake"))
    failures: list[BaseException] = []

    def start() -> None:
        try:
            sup.start()
        except BaseException as exc:
            failures.append(exc)

    starting = threading.Thread(target=start)
    starting.start()
    wait_for(lambda: sup.state is SupervisorState.STARTING)
    time.sleep(0.5)  # launched, and hanging before its handshake
    began = time.monotonic()
    sup.close()
    assert time.monotonic() - began < 2
    starting.join(5)
    assert [type(e) for e in failures] == [ClientClosedError]
    assert_nothing_left()
