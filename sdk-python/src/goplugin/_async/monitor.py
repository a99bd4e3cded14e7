"""The Supervisor's monitor: starts the plugin, watches it, restarts it, or gives up.

Source of both flavours (``_sync/monitor.py`` is generated): a thread in the sync flavour, a
task in asyncio. It is the only writer of the supervisor's state: it publishes each
:class:`Epoch` through the supervisor's ``publish`` and reports through ``emit``. The decisions
(backoff, limit, what is permanent) are the sans-IO ``_host/supervision.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._backends.aio import Event, wait_event
from .._host.supervision import (
    RestartPolicy,
    RestartTracker,
    SupervisorEvent,
    SupervisorEventKind,
    SupervisorState,
    describe_failure,
    gave_up_error,
    is_permanent,
)

if TYPE_CHECKING:
    from .client import PluginClient

__all__ = ["Epoch", "Monitor"]

_log = logging.getLogger("goplugin.supervisor")

_S = SupervisorState
_K = SupervisorEventKind

#: How often the monitor looks at a plugin nobody is calling. A call notices a dead plugin
#: at once (and wakes the monitor); this bounds how late an idle crash is noticed.
POLL_INTERVAL = 0.1


@dataclass
class Epoch:
    """One state of a supervisor. Replaced whole, never changed, except ``targets``, which
    gains names dispensed while it is current (under the supervisor's lock)."""

    state: SupervisorState
    client: PluginClient | None = None
    targets: dict[str, Any] = field(default_factory=dict)
    #: Set when the supervisor leaves this epoch: waiters then read the new one.
    ended: Event = field(default_factory=Event)
    #: RESTARTING: the failure being recovered from; GAVE_UP: the last one.
    failure: SupervisorEvent | None = None
    #: RESTARTING: which restart in a row this is; GAVE_UP: how many were tried.
    restarts: int = 0


class Monitor:
    """Runs one supervisor's plugin, run after run, until told to stop or it gives up.

    ``closing``, ``retired`` and ``starting`` are shared with the supervisor's ``close()``,
    which sets ``closing`` before it reads ``starting`` (and this sets ``starting`` before it
    reads ``closing``), so one of the two always sees the other; every other field is the
    monitor's own.
    """

    def __init__(
        self,
        factory: Callable[[], PluginClient],
        policy: RestartPolicy,
        *,
        names: Callable[[], list[str]],
        publish: Callable[[Epoch], None],
        emit: Callable[[SupervisorEvent], None],
    ) -> None:
        self._factory = factory
        self._tracker = RestartTracker(policy)
        self._names = names
        self._publish = publish
        self._emit = emit
        #: Set to make the monitor look now: by calls that met a dead plugin, and by close().
        self.wake = Event()
        self.closing = False
        #: The client being started (for close() to abort), or None.
        self.starting: PluginClient | None = None
        #: The client of a plugin that died, kept (connected to nothing) until the next one is
        #: up, so that calls racing with the death fail as PluginExitedError rather than on a
        #: closed channel; killed here then, or by close().
        self.retired: PluginClient | None = None
        #: The last failure seen (for the errors of calls that raced with it).
        self.last_crash: SupervisorEvent | None = None
        #: Restarts in all, healthy runs in between included.
        self.restarts_total = 0

    def stop(self) -> None:
        self.closing = True
        self.wake.set()

    async def abort_start(self) -> None:
        """close(), sync flavour: a start under way is stopped rather than waited for."""
        client = self.starting
        if client is not None:
            await client.kill()

    async def run(self) -> None:
        """Start, watch, restart; until close() or giving up."""
        tracker = self._tracker
        try:
            while True:
                ended = await self._run_once()
                if ended is None:
                    return  # close() interrupted
                failure, dead = ended
                self.last_crash = failure
                permanent = failure.error is not None and is_permanent(failure.error)
                delay = None if permanent else tracker.failed(time.monotonic())
                state = _S.GAVE_UP if delay is None else _S.RESTARTING
                self._publish(Epoch(state, failure=failure, restarts=tracker.restarts))
                if delay is not None:
                    self.retired = dead
                elif dead is not None:
                    await dead.kill()  # reaps it and removes its socket directory
                self._emit(failure)
                if delay is None:
                    error = gave_up_error(failure, tracker.restarts)
                    self._emit(SupervisorEvent(_K.GAVE_UP, tracker.restarts, error=error))
                    return
                self._emit(SupervisorEvent(_K.RESTARTING, tracker.restarts, delay=delay))
                if await self._sleep(delay):
                    return
                self.restarts_total += 1
        except BaseException as exc:  # a bug here, or (asyncio) close() cancelling us
            if not self.closing:
                _log.exception("plugin supervisor failed")
                failure = SupervisorEvent(_K.CRASHED, tracker.restarts, error=exc)
                self._publish(Epoch(_S.GAVE_UP, failure=failure, restarts=tracker.restarts))
            raise

    async def _run_once(self) -> tuple[SupervisorEvent, PluginClient | None] | None:
        """One run of the plugin: start it, publish it, wait for its end. Returns how it
        ended, with the client still to be killed, or None when close() interrupted."""
        tracker = self._tracker
        names = self._names()
        client = self._factory()
        self.starting = client  # before reading closing: close() sets it, then reads this
        try:
            if self.closing:
                await client.kill()
                return None
            targets: dict[str, Any] = {}
            try:
                await client.start()
                for name in names:
                    targets[name] = await client.dispense(name)
            except Exception as exc:
                await client.kill()
                if self._stopping():
                    return None
                returncode, tail = describe_failure(exc)
                failed = SupervisorEvent(
                    _K.CRASHED,
                    tracker.restarts,
                    pid=client.pid,
                    returncode=client.returncode if returncode is None else returncode,
                    stderr_tail=tail or client.stderr_tail,
                    error=exc,
                )
                return failed, None
        except BaseException:
            await client.kill()
            raise
        finally:
            self.starting = None
        tracker.started(time.monotonic())
        self._publish(Epoch(_S.RUNNING, client, targets))
        retired, self.retired = self.retired, None
        if retired is not None:
            await retired.kill()  # reaps it and removes its socket directory
        self._emit(SupervisorEvent(_K.STARTED, tracker.restarts, pid=client.pid))
        try:
            while not _dead(client):
                await wait_event(self.wake, POLL_INTERVAL)
                self.wake.clear()
                if self._stopping():
                    return None  # close() kills the current client
        except BaseException:
            await client.kill()
            raise
        crashed = SupervisorEvent(
            _K.CRASHED,
            tracker.restarts,
            pid=client.pid,
            returncode=client.returncode,
            stderr_tail=client.stderr_tail,
        )
        return crashed, client

    def _stopping(self) -> bool:
        """close() was called (a method, so that type checkers do not assume it unchanged)."""
        return self.closing

    async def _sleep(self, delay: float) -> bool:
        """Wait out a backoff; True if close() came first."""
        deadline = time.monotonic() + delay
        while not self.closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await wait_event(self.wake, remaining)
            self.wake.clear()
        return True


def _dead(client: PluginClient) -> bool:
    return client.exited
