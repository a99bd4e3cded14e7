"""One run of the plugin under ``goplugin check``: started as a go-plugin host starts it, every
stdout line kept (not only the first, so that stray output can be told from a bad handshake),
stopped the go-plugin way, and never left behind.

Processes go through :mod:`goplugin._host.process` like a host's: each in its own process group,
killed as a group, reaped by the watcher thread, its private socket directory removed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._host import process as _process
from .._host.output import PluginOutput
from .._protocol.handshake import (
    ENV_CLIENT_CERT,
    ENV_MAX_PORT,
    ENV_MIN_PORT,
    ENV_MULTIPLEX_GRPC,
    ENV_PROTOCOL_VERSIONS,
    ENV_UNIX_SOCKET_DIR,
    ENV_UNIX_SOCKET_GROUP,
    Handshake,
    HandshakeConfig,
    host_environment,
    parse_handshake,
)
from .._transport.sockets import private_socket_dir
from ..errors import HandshakeError

__all__ = ["Launch", "Started", "by_hand_environment"]

# What go-plugin puts in a plugin's environment: none of it is there when a person runs it.
_HOST_VARIABLES = (
    ENV_MIN_PORT,
    ENV_MAX_PORT,
    ENV_PROTOCOL_VERSIONS,
    ENV_MULTIPLEX_GRPC,
    ENV_CLIENT_CERT,
    ENV_UNIX_SOCKET_DIR,
    ENV_UNIX_SOCKET_GROUP,
)


# Stdout lines kept per launch: a plugin that floods stdout before (or instead of) its
# handshake must not flood our memory; a thousand lines are evidence enough.
_MAX_LINES = 1000


def _quiet_logger() -> logging.Logger:
    """The plugin's stderr is evidence here, not something to print: keep it off our output."""
    logger = logging.getLogger("goplugin.check.plugin")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def by_hand_environment(cookie_key: str) -> dict[str, str]:
    """This process's environment as a person running the plugin by hand would have it."""
    return {k: v for k, v in os.environ.items() if k != cookie_key and k not in _HOST_VARIABLES}


@dataclass
class Started:
    """What a launch printed before it handshook, stopped printing or ran out of time."""

    #: Every stdout line so far.
    lines: list[str]
    #: Index in ``lines`` of the first line that parses as a handshake, if any.
    index: int | None = None
    handshake: Handshake | None = None
    #: Why the first line that looks like a handshake (has a "|") does not parse.
    error: HandshakeError | None = None
    #: The exit status, if the process ended before a handshake.
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    #: The lines before the handshake (or the broken one): stray output.
    stray: list[str] = field(default_factory=list)


class Launch:
    """The plugin process of one probe. Use as a context manager: leaving it stops the plugin
    (SIGKILL of its process group if it is still there) and waits until it is reaped."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], *, give_socket_dir: bool = False
    ) -> None:
        self._lines: list[str] = []
        # _lines is appended to by the watcher thread and read by the probe's thread.
        self._changed = threading.Condition()
        self.socket_dir = private_socket_dir("goplugin-check")
        environ = dict(env)
        if give_socket_dir:
            # Like a host with a RunnerFunc: the plugin's sockets go in a directory we remove.
            environ[ENV_UNIX_SOCKET_DIR] = self.socket_dir
        self.started_at = time.monotonic()
        try:
            spawning = _process.spawn(
                list(argv),
                env=environ,
                cwd=None,
                output=PluginOutput(_quiet_logger()),
                cleanup_dir=self.socket_dir,
                on_stdout_line=self._on_line,
            )
            try:
                self.proc = spawning.result()
            except BaseException:
                _process.abandon(spawning)  # interrupted while forking: no process left
                raise
        except BaseException:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            raise
        self.proc.exited.add_done_callback(lambda _: self._notify())

    @classmethod
    def as_host(
        cls,
        argv: Sequence[str],
        handshake: HandshakeConfig,
        versions: Sequence[int],
        *,
        client_cert_pem: str | None = None,
    ) -> Launch:
        """Started with the environment a go-plugin host gives its plugins."""
        env = host_environment(
            handshake, versions, base=dict(os.environ), client_cert_pem=client_cert_pem
        )
        return cls(argv, env, give_socket_dir=True)

    def __enter__(self) -> Launch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()

    # -- watcher thread ---------------------------------------------------------------------

    def _on_line(self, line: str) -> None:
        with self._changed:
            if len(self._lines) < _MAX_LINES:
                self._lines.append(line)
            self._changed.notify_all()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- the probes' side ---------------------------------------------------------------------

    @property
    def exited(self) -> bool:
        return self.proc.exited.done()

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def stderr_tail(self) -> list[str]:
        return [line for line in self.proc.stderr_tail() if line.strip()]

    def wait_handshake(self, timeout: float) -> Started:
        """Read stdout until a line parses as a handshake, or one with a "|" does not (a
        broken handshake, where a Go host stops too), the plugin exits, or ``timeout``. Lines
        without a "|" are stray output: the handshake may still follow."""
        deadline = self.started_at + timeout
        with self._changed:
            while True:
                started = self._scan()
                if started.handshake is not None or started.error is not None:
                    return started
                if self.exited:
                    started.returncode = self.proc.returncode
                    return started
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    started.timed_out = True
                    return started
                self._changed.wait(remaining)

    def _scan(self) -> Started:
        lines = list(self._lines)
        started = Started(lines, seconds=time.monotonic() - self.started_at)
        for index, line in enumerate(lines):
            try:
                handshake = parse_handshake(line)
            except HandshakeError as exc:
                if "|" in line:
                    started.error = exc
                    started.stray = lines[:index]
                    return started
                continue
            started.index, started.handshake = index, handshake
            started.stray = lines[:index]
            return started
        return started

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status, or None if the plugin is still running after ``timeout``."""
        try:
            return self.proc.exited.result(timeout)
        except TimeoutError:
            return None
        except Exception:  # concurrent.futures.TimeoutError before Python 3.11
            if self.proc.exited.done():
                return self.proc.returncode
            return None

    def kill(self) -> None:
        """SIGKILL the plugin's process group (if still running) and wait until it is reaped."""
        self.proc.kill()
        try:
            self.proc.exited.result(10.0)
        except Exception:
            pass
