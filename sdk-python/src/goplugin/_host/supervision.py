"""What a Supervisor decides, without processes: when to restart, when to give up, what to say.

Sans-IO like the handshake: :class:`RestartTracker` is fed facts ("started at t", "failed at
t") and answers with a delay or "give up"; the supervisor (``_async/supervisor.py`` and its
generated sync twin) does the waiting and the launching. So the backoff arithmetic is tested
without a clock, and both flavours share it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import (
    ChecksumError,
    IncompatibleVersionError,
    MagicCookieError,
    PluginError,
    PluginExitedError,
    PluginGaveUpError,
    PluginRestartingError,
    UnsupportedProtocolError,
    _describe_returncode,
)

__all__ = [
    "RestartPolicy",
    "RestartTracker",
    "SupervisorEvent",
    "SupervisorEventKind",
    "SupervisorState",
    "describe_failure",
    "gave_up_error",
    "is_permanent",
    "restarting_error",
]

# 2**64 times any sane initial delay is far past any sane maximum; the cap keeps the power finite.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class RestartPolicy:
    """How a :class:`~goplugin.Supervisor` restarts a plugin that died or failed to start.

    The n-th restart in a row waits ``initial_delay * multiplier**(n-1)``, at most
    ``max_delay``, shortened by a random fraction of up to ``jitter`` so that many hosts
    restarting after a shared failure do not start in lockstep. After ``max_restarts``
    restarts in a row the supervisor gives up (None: never). A plugin that ran for
    ``reset_after`` seconds before it died counts as healthy: the count and the delay start over.
    """

    max_restarts: int | None = 5
    initial_delay: float = 0.2
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_restarts is not None and self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0 or None, not {self.max_restarts}")
        if self.initial_delay < 0 or self.max_delay < 0 or self.reset_after < 0:
            raise ValueError("delays must not be negative")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be >= 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be within [0, 1], not {self.jitter}")

    def delay(self, restart: int, draw: float) -> float:
        """The wait before restart number ``restart`` (1-based), for a uniform ``draw`` in
        [0, 1): within ``[d * (1 - jitter), d]`` of the exponential delay ``d``."""
        exponent = min(max(restart - 1, 0), _MAX_EXPONENT)
        base = min(self.max_delay, self.initial_delay * self.multiplier**exponent)
        return base * (1.0 - self.jitter * draw)


class RestartTracker:
    """Counts failures in a row for one supervisor and says what to do after each.

    Used only by the supervisor's monitor (its thread, or its task), so it needs no lock.
    """

    def __init__(self, policy: RestartPolicy, draw: Callable[[], float] = random.random) -> None:
        self.policy = policy
        self._draw = draw
        #: Restarts in a row so far (reset by a run of ``reset_after`` seconds).
        self.restarts = 0
        self._started_at: float | None = None

    def started(self, now: float) -> None:
        self._started_at = now

    def failed(self, now: float) -> float | None:
        """The plugin died (or failed to start) at ``now``: the delay before the next
        start, or None to give up."""
        started, self._started_at = self._started_at, None
        if started is not None and now - started >= self.policy.reset_after:
            self.restarts = 0
        limit = self.policy.max_restarts
        if limit is not None and self.restarts >= limit:
            return None
        self.restarts += 1
        return self.policy.delay(self.restarts, self._draw())


class SupervisorState(str, enum.Enum):
    """Where a Supervisor is (``supervisor.state``)."""

    CREATED = "created"  #: constructed; nothing launched yet
    STARTING = "starting"  #: the first start (with its retries) is under way
    RUNNING = "running"  #: a plugin is up; calls go to it
    RESTARTING = "restarting"  #: the plugin died; waiting out the backoff or starting anew
    GAVE_UP = "gave_up"  #: too many failures in a row; calls raise PluginGaveUpError
    CLOSED = "closed"  #: close() stopped everything


class SupervisorEventKind(str, enum.Enum):
    """What a :class:`SupervisorEvent` reports (a ``str``: ``event.kind == "crashed"`` works)."""

    STARTED = "started"  #: a plugin process is up and its clients are dispensed
    CRASHED = "crashed"  #: it exited on its own, or a start attempt failed
    RESTARTING = "restarting"  #: a restart is scheduled after ``delay`` seconds
    GAVE_UP = "gave_up"  #: no more restarts; ``error`` is what calls now raise
    STOPPED = "stopped"  #: close() stopped the supervisor


@dataclass(frozen=True)
class SupervisorEvent:
    """What a Supervisor's ``on_event`` callback receives at each change.

    ``restarts`` is the number of restarts in a row so far (0 for the first start); ``pid``
    the plugin's process (when there is one); ``returncode`` and ``stderr_tail`` say how a
    crashed plugin ended (``returncode`` follows :mod:`subprocess`: -9 is SIGKILL); ``error`` is
    the exception of a failed start, or, for ``gave_up``, the error calls now get.
    """

    kind: SupervisorEventKind
    restarts: int = 0
    pid: int | None = None
    returncode: int | None = None
    stderr_tail: tuple[str, ...] = field(default=(), repr=False)
    delay: float | None = None
    error: BaseException | None = None


def is_permanent(exc: BaseException) -> bool:
    """Failures that no restart can fix: give up at once instead of retrying them."""
    if not isinstance(exc, PluginError):
        return True  # an OSError launching the binary, a bug in the factory...
    if isinstance(exc.__cause__, OSError):
        return True  # the binary could not be run
    # A refused cookie: host and plugin disagree on their HandshakeConfig, every restart too.
    permanent = (
        ChecksumError,
        IncompatibleVersionError,
        MagicCookieError,
        UnsupportedProtocolError,
    )
    return isinstance(exc, permanent)


def describe_failure(exc: BaseException) -> tuple[int | None, tuple[str, ...]]:
    """The exit status and stderr tail a failed start's error carries, if any."""
    returncode = exc.returncode if isinstance(exc, PluginExitedError) else None
    tail: Sequence[str] = getattr(exc, "stderr_tail", ())
    return returncode, tuple(tail)


def gave_up_error(failure: SupervisorEvent, restarts: int) -> PluginGaveUpError:
    """What calls raise once the supervisor gave up: a new error per raise, since one
    instance raised in many threads would share (and grow) one traceback."""
    error = PluginGaveUpError(
        f"gave up on the plugin after {restarts} restart(s) in a row: {what_happened(failure)}",
        restarts=restarts,
        returncode=failure.returncode,
        stderr_tail=failure.stderr_tail,
    )
    error.__cause__ = failure.error
    return error


def restarting_error(
    failure: SupervisorEvent | None, restarts: int, message: str
) -> PluginRestartingError:
    if failure is None:  # the first start
        return PluginRestartingError(message, restarts=0)
    return PluginRestartingError(
        f"{message} (restart {restarts}; {what_happened(failure)})",
        restarts=restarts,
        returncode=failure.returncode,
        stderr_tail=failure.stderr_tail,
    )


def what_happened(failure: SupervisorEvent) -> str:
    error = failure.error
    if error is None:
        return f"it exited ({_status(failure.returncode)})"
    if isinstance(error, PluginExitedError):
        return f"it exited while starting ({_status(failure.returncode)})"
    summary = str(error.args[0]) if error.args else ""
    return f"it failed to start: {type(error).__name__}: {summary}"


def _status(returncode: int | None) -> str:
    return "unknown status" if returncode is None else _describe_returncode(returncode)
