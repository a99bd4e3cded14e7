"""Supervisor: keep a plugin running, restarting it after a crash, behind stable clients.

This file is the single source of both flavours; ``_sync/supervisor.py`` is generated from it
by ``scripts/unasync.py``. It builds on :class:`PluginClient`'s public behaviour only: a
factory makes a fresh client per run, ``start()``/``dispense()``/``kill()`` drive it, and
``exited``/``returncode``/``stderr_tail`` say how it ended. The monitor (``monitor.py``: a
thread in the sync flavour, a task in asyncio) runs the plugin and owns every change of state;
the decisions are the sans-IO ``_host/supervision.py``; the stable clients are
``_host/supervised.py``.

The monitor publishes the current :class:`Epoch` by replacing ``self._epoch`` whole and then
setting the previous epoch's ``ended`` event, so a caller reads one attribute to know the
state, the client and its dispensed targets, and waits on one event to learn of a change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._backends.aio import Lock, Task, closed_channel_errors, start_task, stop_task, wait_event
from .._host.supervised import AsyncSupervisedClient
from .._host.supervision import (
    RestartPolicy,
    SupervisorEvent,
    SupervisorEventKind,
    SupervisorState,
    gave_up_error,
    restarting_error,
)
from ..errors import (
    ClientClosedError,
    NotStartedError,
    PluginError,
    PluginExitedError,
    PluginGaveUpError,
    PluginRestartingError,
)
from .monitor import Epoch, Monitor

if TYPE_CHECKING:
    from .client import PluginClient

__all__ = ["Supervisor"]

_log = logging.getLogger("goplugin.supervisor")

T = TypeVar("T")
_S = SupervisorState


class Supervisor:
    """Keeps a plugin running: restarts it after a crash, and hands out clients that survive.

    ``client_factory`` makes a new, unstarted :class:`PluginClient` for each run of the plugin
    (a ``lambda`` around the usual constructor). ``dispense(name)`` returns a stand-in for the
    plugin's client of that name whose calls always go to the current process, so callers keep
    one object across restarts.

    When the plugin exits on its own, the supervisor restarts it after a backoff
    (``restart_policy``), re-dispenses every name, and carries on; after too many failures in a
    row it gives up and every call raises :class:`~goplugin.errors.PluginGaveUpError` with the
    last exit status and stderr lines. A call made while a restart is under way waits for it,
    up to the call's own ``timeout=`` (without one, until the restart succeeds or gives up), or
    with ``wait_for_restart=False`` fails at once; either way it raises
    :class:`~goplugin.errors.PluginRestartingError` without reaching any plugin, so it is safe
    to retry. A call in flight when the plugin dies raises
    :class:`~goplugin.errors.PluginExitedError` and is not retried: it may have run.

    ``on_event`` is called with a :class:`~goplugin.SupervisorEvent` at each change (started,
    crashed, restarting, gave up, stopped), on the supervisor's own thread (asyncio: its task); it
    must not block, and what it raises is logged and ignored. ``close()`` (or leaving the ``with``
    block) stops the plugin the way ``PluginClient.kill()`` does, a start under way included, and
    ends the supervisor's thread or task: nothing is left running; calls then raise
    :class:`~goplugin.errors.ClientClosedError`.
    """

    def __init__(
        self,
        client_factory: Callable[[], PluginClient],
        *,
        restart_policy: RestartPolicy | None = None,
        wait_for_restart: bool = True,
        on_event: Callable[[SupervisorEvent], object] | None = None,
    ) -> None:
        self._wait_for_restart = wait_for_restart
        self._on_event = on_event
        self._epoch = Epoch(_S.CREATED)
        # Names handed out by dispense(), with their stand-ins. Written under _lock by
        # dispense(); the monitor copies the names (one list() call) when it re-dispenses.
        self._proxies: dict[str, Any] = {}
        # Guards _proxies, each epoch's targets, and start()/close() against each other.
        self._lock = Lock()
        self._monitor = Monitor(
            client_factory,
            RestartPolicy() if restart_policy is None else restart_policy,
            names=self._names,
            publish=self._enter,
            emit=self._emit,
        )
        self._task: Task | None = None

    # -- what callers see -------------------------------------------------------------------

    @property
    def state(self) -> SupervisorState:
        return self._epoch.state

    @property
    def client(self) -> PluginClient | None:
        """The PluginClient of the current run (None while none is up)."""
        epoch = self._epoch
        return epoch.client if epoch.state is _S.RUNNING else None

    @property
    def pid(self) -> int | None:
        client = self.client
        return None if client is None else client.pid

    @property
    def restarts(self) -> int:
        """How many times the plugin was restarted, in all."""
        return self._monitor.restarts_total

    def __repr__(self) -> str:
        return f"<Supervisor {self._epoch.state.value} pid={self.pid}>"

    async def __aenter__(self) -> Supervisor:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the plugin, retrying by the restart policy; raise PluginGaveUpError if it
        never comes up. Idempotent."""
        async with self._lock:
            if self._monitor.closing:
                raise ClientClosedError("this Supervisor is closed; create a new one")
            if self._task is None:
                self._enter(Epoch(_S.STARTING))
                self._task = start_task(self._monitor.run)
        epoch = self._epoch
        while epoch.state in (_S.STARTING, _S.RESTARTING):
            await wait_event(epoch.ended, None)
            epoch = self._epoch
        self._refuse(epoch)

    @overload
    async def dispense(self, name: str) -> Any: ...
    @overload
    async def dispense(self, name: str, client_type: type[T]) -> T: ...
    async def dispense(self, name: str, client_type: type[Any] | None = None) -> Any:
        """A stand-in for the client the plugin dispenses as ``name``, kept across restarts.

        Give the client's class (a generated ``...Client``; ``Async...Client`` under
        goplugin.aio) for type checkers to see its methods: the stand-in is typed as one,
        although it is not an instance. It is checked against what the plugin dispenses.
        Starts the supervisor if needed; an unknown name raises at once.
        """
        if self._task is None:
            await self.start()
        epoch = self._epoch
        if epoch.state is _S.RUNNING:
            target = await self._dispense_on(epoch, name)
            if client_type is not None and not isinstance(target, client_type):
                raise TypeError(
                    f"plugin {name!r} dispenses {type(target).__name__}, not {client_type.__name__}"
                )
        else:
            self._refuse(epoch)
        async with self._lock:
            proxy = self._proxies.get(name)
            if proxy is None:
                proxy = self._proxies[name] = AsyncSupervisedClient(self, name, ())
        return proxy

    async def close(self) -> None:
        """Stop the plugin and the supervisor; calls then raise. Idempotent."""
        monitor = self._monitor
        async with self._lock:
            monitor.stop()
            task, self._task = self._task, None
        if task is not None:
            await stop_task(task, monitor.abort_start)
        epoch = self._epoch
        if epoch.state is _S.CLOSED:
            return
        retired, monitor.retired = monitor.retired, None
        for client in (retired, epoch.client):
            if client is not None:
                await client.kill()
        self._enter(Epoch(_S.CLOSED))
        self._emit(SupervisorEvent(SupervisorEventKind.STOPPED))

    # -- used by the stand-ins (_host/supervised.py) ---------------------------------------

    def _target_now(self, name: str) -> Any:
        """The fast path of every call: the current target, or None if the caller must wait.

        A process reaped has a returncode: an attribute read, where ``exited`` (set a moment
        later, once its pipes are drained) takes a lock. A call then waits for the restart
        instead of going to a dead connection.
        """
        epoch = self._epoch
        client = epoch.client
        if epoch.state is not _S.RUNNING or client is None or client.returncode is not None:
            return None
        return epoch.targets.get(name)

    async def _await_target(self, name: str, kwargs: dict[str, Any]) -> Any:
        """The slow path: wait for a running plugin as the user chose, then dispense ``name``
        on it if needed. Shortens ``kwargs["timeout"]`` by the time spent waiting."""
        timeout = kwargs.get("timeout")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            epoch = self._epoch
            client = epoch.client
            if epoch.state is _S.RUNNING and client is not None and not _dead(client):
                try:
                    target = await self._dispense_on(epoch, name)
                except PluginError:
                    if not _dead(client):
                        raise
                    continue  # it died under us: wait for the next one
                if deadline is not None and "timeout" in kwargs:
                    kwargs["timeout"] = max(deadline - time.monotonic(), 0.0)
                return target
            self._refuse(epoch)
            if epoch.state is _S.RUNNING:
                self._monitor.wake.set()  # dead but not yet noticed: the monitor looks now
            elif not self._wait_for_restart:
                raise self._restarting_error(epoch, "the plugin is restarting")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._restarting_error(
                    epoch, f"the plugin is still restarting after the call's {timeout:g} s"
                )
            await wait_event(epoch.ended, remaining)

    def _call_failed(self, name: str, target: Any, exc: Exception) -> BaseException | None:
        """A call failed: wake the monitor if the plugin died, and say what the call raises
        instead of ``exc`` (None: ``exc`` itself).

        A call that met a plugin the supervisor had already retired (its channel closed, so
        grpcio refuses it, or the client says it is done) raced with the plugin's death: it
        raises PluginExitedError like the calls that were in flight, with the exit's facts.
        """
        if isinstance(exc, PluginExitedError):
            self._monitor.wake.set()
            return None
        epoch = self._epoch
        client = epoch.client
        current = epoch.state is _S.RUNNING and epoch.targets.get(name) is target
        if current and client is not None and not _dead(client):
            return None  # the plugin's own answer
        if not _is_refusal(exc):
            return None
        self._monitor.wake.set()
        if current and client is not None:  # dead, and the monitor has not noticed yet
            returncode, tail = client.returncode, client.stderr_tail
        else:
            crash = self._monitor.last_crash
            returncode = None if crash is None else crash.returncode
            tail = () if crash is None else crash.stderr_tail
        return PluginExitedError(
            f"plugin exited during the call ({type(exc).__name__}: {exc})",
            returncode=returncode,
            stderr_tail=tail,
        )

    async def _dispense_on(self, epoch: Epoch, name: str) -> Any:
        target = epoch.targets.get(name)
        if target is None:
            async with self._lock:
                target = epoch.targets.get(name)
                if target is None:
                    assert epoch.client is not None
                    target = epoch.targets[name] = await epoch.client.dispense(name)
        return target

    def _refuse(self, epoch: Epoch) -> None:
        """Raise what a call gets in a state where no plugin will come back."""
        if epoch.state is _S.GAVE_UP:
            assert epoch.failure is not None
            raise gave_up_error(epoch.failure, epoch.restarts)
        if epoch.state is _S.CLOSED:
            raise ClientClosedError("this Supervisor is closed")
        if epoch.state is _S.CREATED:
            raise NotStartedError("the Supervisor is not started: call start() or dispense() first")

    def _restarting_error(self, epoch: Epoch, message: str) -> PluginRestartingError:
        return restarting_error(epoch.failure, epoch.restarts, message)

    # -- used by the monitor ----------------------------------------------------------------

    def _names(self) -> list[str]:
        return list(self._proxies)  # one C-level copy: atomic against dispense()'s insert

    def _enter(self, epoch: Epoch) -> None:
        previous, self._epoch = self._epoch, epoch
        previous.ended.set()

    def _emit(self, event: SupervisorEvent) -> None:
        _log.debug("supervisor event: %s", event)
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            _log.exception("a Supervisor on_event callback failed")


def _dead(client: PluginClient) -> bool:
    """Reaped (a returncode) or gone (``exited``, which also covers a client that never had
    a process of its own)."""
    return client.returncode is not None or client.exited


def _is_refusal(exc: Exception) -> bool:
    """A call refused because its client was done: grpcio's closed-channel error, or
    goplugin's own errors for a client that is closed or gone."""
    if isinstance(exc, PluginRestartingError | PluginGaveUpError):
        return False
    return isinstance(exc, (PluginError, *closed_channel_errors()))
