"""The host lifecycle table (goplugin._host.lifecycle): total, documented, safe under threads."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

from goplugin._host import lifecycle as _lifecycle
from goplugin._host.lifecycle import TABLE, Do, Lifecycle, Op, State, Verdict, judge_failure
from goplugin.errors import PluginError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_every_operation_has_one_outcome_in_every_state() -> None:
    assert set(TABLE) == set(Op)
    for op, row in TABLE.items():
        assert set(row) == set(State), op
        for outcome in row.values():
            assert isinstance(outcome, Do) or issubclass(outcome, PluginError), (op, outcome)


def test_the_docs_show_the_table_the_code_consults() -> None:
    assert _lifecycle.markdown_table() in DOCS.read_text()


def test_final_states_refuse_everything_but_kill_and_facts() -> None:
    for state in (State.FAILED, State.KILLED):
        for op in (Op.START, Op.DISPENSE, Op.PING, Op.CHANNEL):
            outcome = TABLE[op][state]
            assert not isinstance(outcome, Do) and outcome.__name__ == "ClientClosedError"
        assert TABLE[Op.KILL][state] is Do.NOTHING


def judge(**facts: object) -> Verdict:
    probes = {"process_gone": lambda: False, "connection_ready": lambda: True}
    for name in probes:
        if name in facts:
            value = facts.pop(name)
            probes[name] = lambda value=value: value  # type: ignore[misc]
    return judge_failure(
        state=facts.pop("state", State.STARTED),  # type: ignore[arg-type]
        expired=facts.pop("expired", False),  # type: ignore[arg-type]
        transport_failure=facts.pop("transport_failure", True),  # type: ignore[arg-type]
        **probes,
    )


def test_a_passed_deadline_wins_over_everything() -> None:
    assert judge(expired=True, state=State.KILLING, process_gone=True) is Verdict.DEADLINE


def test_a_kill_makes_every_failure_closed() -> None:
    assert judge(state=State.KILLING, process_gone=True) is Verdict.CLOSED
    assert judge(state=State.KILLED, transport_failure=False) is Verdict.CLOSED


def test_the_plugins_own_status_is_never_second_guessed() -> None:
    def boom() -> bool:
        raise AssertionError("no probe for a status a connection never produces")

    verdict = judge_failure(
        state=State.STARTED,
        expired=False,
        transport_failure=False,
        process_gone=boom,
        connection_ready=boom,
    )
    assert verdict is Verdict.AS_IS


@pytest.mark.parametrize(
    ("gone", "ready", "verdict"),
    [
        (True, True, Verdict.EXITED),
        (True, False, Verdict.EXITED),
        (False, True, Verdict.AS_IS),  # a live plugin's UNKNOWN "unexpected EOF"
        (False, None, Verdict.UNSURE),
        (False, False, Verdict.UNSURE),
    ],
)
def test_a_transport_kind_failure_is_judged_from_the_process_then_the_connection(
    gone: bool, ready: bool | None, verdict: Verdict
) -> None:
    assert judge(process_gone=gone, connection_ready=ready) is verdict


def _state(life: Lifecycle) -> State:
    return life.state


def test_exited_is_started_with_its_exit_future_done() -> None:
    life = Lifecycle()
    exit_future: Future[int | None] = Future()
    assert life.begin_start() is Do.LAUNCH
    assert life.started(exit_future)
    # _state() reads the property afresh: mypy would keep narrowing life.state to the first.
    assert _state(life) is State.STARTED
    exit_future.set_result(0)
    assert _state(life) is State.EXITED
    assert life.begin_kill() is Do.STOP
    assert _state(life) is State.KILLING
    life.killed()
    assert _state(life) is State.KILLED


def test_a_kill_during_start_wins_over_the_start_finishing() -> None:
    life = Lifecycle()
    assert life.begin_start() is Do.LAUNCH
    assert life.begin_kill() is Do.ABORT
    assert not life.started(None)
    assert not life.start_failed(RuntimeError("late"))
    assert life.state is State.KILLING


def test_threads_racing_to_start_and_kill_get_one_launcher_and_one_killer() -> None:
    def worker(
        life: Lifecycle, barrier: threading.Barrier, op: str, outcomes: list[object]
    ) -> None:
        barrier.wait()
        outcomes.append(life.begin_start() if op == "start" else life.begin_kill())

    for _ in range(200):
        life = Lifecycle()
        barrier = threading.Barrier(8)
        outcomes: list[object] = []  # list.append is atomic
        threads = [
            threading.Thread(
                target=worker, args=(life, barrier, "start" if i % 2 else "kill", outcomes)
            )
            for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        launchers = outcomes.count(Do.LAUNCH)
        killers = sum(outcomes.count(o) for o in (Do.ABORT, Do.FORGET))
        assert launchers <= 1 and killers == 1, outcomes
        assert life.state in (State.KILLING, State.KILLED)
