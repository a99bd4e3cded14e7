"""The host's lifecycle as data: what every operation of a PluginClient does in every state.

Sans-IO, like h11's ``_state.py``: no processes, sockets or waiting here, only the states, the
table of outcomes, and the judgement of a failed call from facts the caller gathered. The
client (``_async/client.py`` and its generated sync twin) consults it before each operation
and on each failed call, so that the behaviour, the docs (``docs/lifecycle.md``, checked
against :func:`markdown_table` by the tests) and the tests all read one table.

Thread safety: a :class:`Lifecycle` is shared by every thread (sync) or task (asyncio) using
the client, by the plugin-watcher thread (exit futures) and by grpcio's threads (call
failures). Its state changes only under its ``lock``, a thread lock (reentrant, so that the
client can make a transition part of a larger step) that is never held across a wait: the
asyncio flavour takes it too without blocking the loop.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from concurrent.futures import Future

from ..errors import ClientClosedError, NotStartedError, PluginError, PluginExitedError

__all__ = [
    "TABLE",
    "Do",
    "Lifecycle",
    "Op",
    "Outcome",
    "State",
    "Verdict",
    "judge_failure",
    "markdown_table",
]


class State(str, enum.Enum):
    """Where a PluginClient is in its one life (``client.state``)."""

    CREATED = "created"  #: constructed; nothing launched yet
    STARTING = "starting"  #: launching, reading the handshake, connecting, health check
    STARTED = "started"  #: connected to a running plugin
    EXITED = "exited"  #: the plugin process ended by itself (crash, exit, external kill)
    FAILED = "failed"  #: start() failed; whatever it launched is gone
    KILLING = "killing"  #: kill() is stopping the plugin
    KILLED = "killed"  #: kill() returned; the process is gone (or, reattached, let go)


class Op(str, enum.Enum):
    """What a caller can do with a PluginClient."""

    START = "start()"
    DISPENSE = "dispense()"
    PING = "ping()"
    KILL = "kill()"
    CALL = "a call"
    CHANNEL = "grpc_channel, broker"
    REATTACH_CONFIG = "reattach_config"
    FACTS = "pid, handshake_line, protocol, negotiated_version, exited, returncode, stderr_tail"


class Do(str, enum.Enum):
    """Outcomes that are not an error (docs/lifecycle.md explains each)."""

    LAUNCH = "launches → starting"
    START_FIRST = "starts first"
    WAIT = "waits for that start"
    RUN = "runs"
    NOTHING = "nothing"
    ABORT = "kills the process → killing"
    STOP = "stops the plugin → killing"
    FORGET = "→ killed"
    WAIT_KILL = "waits for that kill"
    VALUE = "the value"
    NONE = "None"
    NO_CALL = "—"  # no channel or dispensed client exists in this state


#: One outcome: an error type (raised at once), or something done.
Outcome = Do | type[PluginError]

_S = State
_ALWAYS: dict[State, Outcome] = dict.fromkeys(State, Do.VALUE)

#: The lifecycle: ``TABLE[op][state]`` is what ``op`` does in ``state``.
TABLE: dict[Op, dict[State, Outcome]] = {
    Op.START: {
        _S.CREATED: Do.LAUNCH,
        _S.STARTING: Do.WAIT,
        _S.STARTED: Do.NOTHING,
        _S.EXITED: PluginExitedError,
        _S.FAILED: ClientClosedError,
        _S.KILLING: ClientClosedError,
        _S.KILLED: ClientClosedError,
    },
    Op.DISPENSE: {
        _S.CREATED: Do.START_FIRST,
        _S.STARTING: Do.WAIT,
        _S.STARTED: Do.RUN,
        _S.EXITED: PluginExitedError,
        _S.FAILED: ClientClosedError,
        _S.KILLING: ClientClosedError,
        _S.KILLED: ClientClosedError,
    },
    Op.PING: {
        _S.CREATED: Do.START_FIRST,
        _S.STARTING: Do.WAIT,
        _S.STARTED: Do.RUN,
        _S.EXITED: PluginExitedError,
        _S.FAILED: ClientClosedError,
        _S.KILLING: ClientClosedError,
        _S.KILLED: ClientClosedError,
    },
    Op.KILL: {
        _S.CREATED: Do.FORGET,
        _S.STARTING: Do.ABORT,
        _S.STARTED: Do.STOP,
        _S.EXITED: Do.STOP,
        _S.FAILED: Do.NOTHING,
        _S.KILLING: Do.WAIT_KILL,
        _S.KILLED: Do.NOTHING,
    },
    Op.CALL: {
        _S.CREATED: Do.NO_CALL,
        _S.STARTING: Do.NO_CALL,
        _S.STARTED: Do.RUN,
        _S.EXITED: PluginExitedError,
        _S.FAILED: Do.NO_CALL,
        _S.KILLING: ClientClosedError,
        _S.KILLED: ClientClosedError,
    },
    Op.CHANNEL: {
        _S.CREATED: NotStartedError,
        _S.STARTING: NotStartedError,
        _S.STARTED: Do.VALUE,
        _S.EXITED: PluginExitedError,
        _S.FAILED: ClientClosedError,
        _S.KILLING: ClientClosedError,
        _S.KILLED: ClientClosedError,
    },
    Op.REATTACH_CONFIG: {**dict.fromkeys(State, Do.NONE), _S.STARTED: Do.VALUE},
    Op.FACTS: _ALWAYS,
}


class Lifecycle:
    """The state of one client, and its transitions (see :data:`TABLE`).

    ``EXITED`` is not stored: it is ``STARTED`` with the plugin's exit future done, so the
    watcher thread never has to call in here.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._state = State.CREATED
        self._exit: Future[int | None] | None = None
        #: Why start() failed (for the ClientClosedError of later operations).
        self.failure: BaseException | None = None

    @property
    def state(self) -> State:
        state = self._state
        if state is State.STARTED and self._exit is not None and self._exit.done():
            return State.EXITED
        return state

    def outcome(self, op: Op) -> Outcome:
        return TABLE[op][self.state]

    def begin_start(self) -> Outcome:
        """START's outcome; on LAUNCH the state is STARTING already (one launcher wins)."""
        with self.lock:
            outcome = TABLE[Op.START][self.state]
            if outcome is Do.LAUNCH:
                self._state = State.STARTING
            return outcome

    def started(self, exit_future: Future[int | None] | None) -> bool:
        """start() succeeded: STARTED, unless kill() came meanwhile (then False)."""
        with self.lock:
            if self._state is not State.STARTING:
                return False
            self._exit = exit_future
            self._state = State.STARTED
            return True

    def start_failed(self, cause: BaseException) -> bool:
        """start() failed: FAILED, unless kill() came meanwhile (then False)."""
        with self.lock:
            if self._state is not State.STARTING:
                return False
            self.failure = cause
            self._state = State.FAILED
            return True

    def begin_kill(self) -> Outcome:
        with self.lock:
            outcome = TABLE[Op.KILL][self.state]
            if outcome is Do.FORGET:
                self._state = State.KILLED
            elif outcome in (Do.ABORT, Do.STOP):
                self._state = State.KILLING
            return outcome

    def killed(self) -> None:
        with self.lock:
            self._state = State.KILLED

    def closed_error(self, op: Op | str) -> ClientClosedError:
        """The ClientClosedError of ``op`` in FAILED, KILLING or KILLED."""
        name = op.value if isinstance(op, Op) else op
        if self.state is State.FAILED:
            cause = _first_line(self.failure)
            return ClientClosedError(
                f"{name}: this client's start() failed ({cause}); create a new PluginClient"
            )
        return ClientClosedError(
            f"{name}: this client was killed; create a new PluginClient to run the plugin again"
        )


def _first_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# -- failed calls ------------------------------------------------------------------------------


class Verdict(enum.Enum):
    """What a failed call raises."""

    DEADLINE = "DEADLINE_EXCEEDED"  #: its deadline has passed, whatever the transport said
    CLOSED = "ClientClosedError"  #: kill() ended it
    EXITED = "PluginExitedError"  #: the plugin process is gone
    AS_IS = "the error as is"  #: the plugin's own answer, or a failure with the plugin alive
    UNSURE = "wait briefly"  #: the connection broke but the process still looks alive


def judge_failure(
    *,
    state: State,
    expired: bool,
    transport_failure: bool,
    process_gone: Callable[[], bool],
    connection_ready: Callable[[], bool | None],
) -> Verdict:
    """Decide from facts, never from the error's text (which a plugin's own code may write).

    ``expired``: the call had a deadline and it has passed. ``transport_failure``: the error
    is of a kind a broken connection produces (gRPC UNAVAILABLE, CANCELLED, UNKNOWN, INTERNAL;
    a net/rpc ConnectionClosedError). ``process_gone()``: the kernel says the plugin exited.
    ``connection_ready()``: the connection still works (None: cannot tell). The two probes
    are called only when needed, in this order.
    """
    if expired:
        return Verdict.DEADLINE
    if state in (State.KILLING, State.KILLED):
        return Verdict.CLOSED
    if not transport_failure:
        return Verdict.AS_IS
    if process_gone():
        return Verdict.EXITED
    if connection_ready():
        return Verdict.AS_IS
    return Verdict.UNSURE


# -- docs --------------------------------------------------------------------------------------


def _cell(outcome: Outcome) -> str:
    if isinstance(outcome, Do):
        return outcome.value
    return f"`{outcome.__name__}`"


def markdown_table() -> str:
    """:data:`TABLE` as the markdown table of docs/lifecycle.md."""
    states = list(State)
    lines = [
        "| operation | " + " | ".join(s.value for s in states) + " |",
        "|---|" + "---|" * len(states),
    ]
    for op, row in TABLE.items():
        lines.append(f"| {op.value} | " + " | ".join(_cell(row[s]) for s in states) + " |")
    return "\n".join(lines) + "\n"
