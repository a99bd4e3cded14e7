"""What a failed call raises: the host's judge for its gRPC channels and net/rpc clients.

Source of truth for both flavours (``_sync/guard.py`` is generated). Consulted only when a
call fails, never on success. The decision is ``_host.lifecycle.judge_failure`` over facts: the
call's deadline, the client's state, the kind of error, the kernel's word on the process
(pidfd-backed exit future, ``waitid``), and the connection's state. Never the error's text:
a live plugin may write anything there, "unexpected EOF" included.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import TYPE_CHECKING, Any

import grpc

from .._backends.aio import sleep, wait_future
from .._host import process as _process
from .._host.lifecycle import Lifecycle, Op, State, Verdict, judge_failure
from ..errors import ConnectionClosedError, PluginExitedError

if TYPE_CHECKING:
    from .._transport.channel import ConnectionProbe
    from .._yamux.session import Session
    from ..errors import ProtocolError

__all__ = ["CallGuard", "SessionJudge"]

Process = _process.PluginProcess | _process.AttachedProcess

# Status codes with which a call fails when the plugin's end of the connection goes away.
# A live plugin may return each of them too (a Go plugin's plain errors are UNKNOWN).
_TRANSPORT_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)
#: How long a call whose connection broke while the process still looks alive waits to learn
#: which it is: the process dying (its sockets close a moment before the kernel reports the
#: exit) or the plugin reachable again (a reconnect succeeds). Only a plugin that is alive and
#: unreachable pays all of it; nothing else waits at all.
UNSURE_WAIT = 0.5
#: How long to wait for the watcher to reap a process the kernel says is gone, for its exit
#: status and last stderr lines (it drains the pipes for at most 0.5 s).
_REAP_WAIT = 2.0
_CLOSING = (State.KILLING, State.KILLED)


class CallGuard:
    """The client's judge of failed calls (``_transport.channel.CallJudge``), shared by its
    channels.

    Thread safety: stateless apart from the client's Lifecycle (locked) and the process
    handle (set before any call can fail, never reset), so any thread may use it at once.
    """

    def __init__(self, lifecycle: Lifecycle, process: Callable[[], Process | None]) -> None:
        self._lifecycle = lifecycle
        self._process = process

    def channel_closed(self, exc: BaseException) -> BaseException | None:
        """grpcio refused or cancelled a call because its channel was closed: after kill(),
        ClientClosedError; otherwise (the user closed it) the error as it is."""
        if self._lifecycle.state in _CLOSING:
            return self._lifecycle.closed_error(Op.CALL)
        return None

    async def translate(
        self, exc: grpc.RpcError, expired: bool, channel: ConnectionProbe
    ) -> BaseException | None:
        try:
            code, details = exc.code(), exc.details()
        except Exception:  # an RpcError without a status
            code, details = None, None
        if expired:
            if code is grpc.StatusCode.DEADLINE_EXCEEDED:
                return None
            return channel.deadline_exceeded(exc)
        verdict = judge_failure(
            state=self._lifecycle.state,
            expired=False,
            transport_failure=code in _TRANSPORT_FAILURES,
            process_gone=self.process_gone,
            connection_ready=channel.connection_ready,
        )
        detail = f"{getattr(code, 'name', 'no status')}: {details}"
        return await self._settle(verdict, detail, lambda: channel.connection_ready(True))

    async def translate_broken(self, exc: ProtocolError, session: Session) -> BaseException | None:
        """net/rpc: a call's stream or session broke; was it the plugin dying, or kill()?"""
        verdict = judge_failure(
            state=self._lifecycle.state,
            expired=False,
            transport_failure=isinstance(exc, ConnectionClosedError),
            process_gone=self.process_gone,
            connection_ready=lambda: not session.closed,
        )
        return await self._settle(verdict, str(exc), lambda: False)

    def translate_broken_now(self, exc: ProtocolError, session: Session) -> BaseException | None:
        """:meth:`translate_broken` without waiting (for net/rpc futures, judged on the
        reader thread): a process not yet reported gone leaves the error as it is."""
        verdict = judge_failure(
            state=self._lifecycle.state,
            expired=False,
            transport_failure=isinstance(exc, ConnectionClosedError),
            process_gone=self.process_gone,
            connection_ready=lambda: not session.closed,
        )
        if verdict is Verdict.CLOSED:
            return self._lifecycle.closed_error(Op.CALL)
        if verdict is Verdict.EXITED:
            proc = self._process()
            assert proc is not None
            returncode = proc.exited.result() if proc.exited.done() else None
            return PluginExitedError(
                f"plugin exited during a call ({exc})",
                returncode=returncode,
                stderr_tail=proc.stderr_tail(),
            )
        return None

    def process_gone(self) -> bool:
        """Whether the kernel says the plugin process has exited (never waits)."""
        proc = self._process()
        if proc is None:
            return False
        if proc.exited.done():
            return True
        return _gone(proc.pid, isinstance(proc, _process.PluginProcess))

    async def _settle(
        self, verdict: Verdict, detail: str, reachable: Callable[[], bool | None]
    ) -> BaseException | None:
        if verdict is Verdict.UNSURE:
            verdict = await self._wait_and_see(reachable)
        if verdict is Verdict.CLOSED:
            return self._lifecycle.closed_error(Op.CALL)
        if verdict is not Verdict.EXITED:
            return None
        return await self.exited_error(f"plugin exited during a call ({detail})")

    async def exited_error(self, message: str) -> PluginExitedError:
        """PluginExitedError for a process the kernel says is gone, with its exit status
        once the watcher has reaped it."""
        proc = self._process()
        assert proc is not None
        try:
            returncode = await wait_future(proc.exited, _REAP_WAIT)
        except TimeoutError:
            returncode = None
        return PluginExitedError(message, returncode=returncode, stderr_tail=proc.stderr_tail())

    async def _wait_and_see(self, reachable: Callable[[], bool | None]) -> Verdict:
        """The connection broke and the process looks alive: until one of them says which."""
        if self._process() is None:  # reattached without a pid: nothing to wait for
            return Verdict.AS_IS
        deadline = time.monotonic() + UNSURE_WAIT
        pause = 0.002
        while time.monotonic() < deadline:
            await sleep(pause)
            pause = min(pause * 2, 0.05)
            if self._lifecycle.state in _CLOSING:
                return Verdict.CLOSED
            if self.process_gone():
                return Verdict.EXITED
            if reachable():
                return Verdict.AS_IS
        return Verdict.AS_IS


class SessionJudge:
    """The judge of one net/rpc connection's calls (what ``AsyncClient`` consults)."""

    __slots__ = ("_guard", "_session")

    def __init__(self, guard: CallGuard, session: Session) -> None:
        self._guard = guard
        self._session = session

    async def translate(self, exc: ProtocolError) -> BaseException | None:
        return await self._guard.translate_broken(exc, self._session)

    def settle(self, source: Future[Any], target: Future[Any]) -> None:
        """Copy a finished net/rpc call future into ``target``, its error judged."""
        try:
            if source.cancelled():
                target.cancel()
            elif (exc := source.exception()) is None:
                target.set_result(source.result())
            else:
                translated = None
                if isinstance(exc, ConnectionClosedError):
                    translated = self._guard.translate_broken_now(exc, self._session)
                    if translated is not None:
                        translated.__cause__ = exc
                target.set_exception(translated or exc)
        except InvalidStateError:
            pass  # the caller cancelled ``target`` meanwhile


def _gone(pid: int, child: bool) -> bool:
    """The kernel's word: has ``pid`` exited, or begun to? Our child is asked without reaping
    it (the watcher thread reaps); for a plugin we did not start, signal 0 is all there is.

    A dying process closes its sockets a moment before it becomes a zombie, and a call can
    fail in that moment: Linux already shows it as exiting then (PF_EXITING in
    /proc/<pid>/stat), so the call is still judged "exited".
    """
    try:
        if child and hasattr(os, "waitid"):
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            if os.waitid(os.P_PID, pid, flags) is not None:
                return True
        else:
            os.kill(pid, 0)
    except (ChildProcessError, ProcessLookupError):
        return True  # already reaped by the watcher, or no such process
    except PermissionError:
        pass  # it exists (another user's)
    return _exiting(pid)


_PF_EXITING = 0x4  # include/linux/sched.h


def _exiting(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return os.path.isdir("/proc/self")  # no such process (where /proc exists at all)
    except OSError:
        return False
    fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm)", comm may hold spaces
    try:
        return fields[0] in (b"Z", b"X", b"x") or bool(int(fields[6]) & _PF_EXITING)
    except (IndexError, ValueError):
        return False
