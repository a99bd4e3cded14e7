"""PluginClient: launch (or reattach to) a go-plugin plugin, handshake, dispense, kill.

This file is the single source of the host lifecycle. ``_sync/client.py`` is generated from
it by ``scripts/unasync.py`` (``async``/``await`` dropped, asyncio names swapped for thread
ones through ``_backends/``); edit this file, then run ``nox -s codegen``. The wire protocol
after the handshake lives in ``grpc_client.py`` (and, for net/rpc, ``rpc_client.py``).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar, overload

import grpc

from .._backends.aio import AsyncGuardedChannel, Lock, wait_future
from .._host import process as _process
from .._host.config import make_config, plugin_in_set
from .._host.lifecycle import Do, Lifecycle, Op, State
from .._host.output import PluginOutput
from .._protocol.handshake import Handshake, HandshakeConfig, Protocol
from .._protocol.reattach import ReattachConfig
from ..errors import (
    ClientClosedError,
    NotStartedError,
    PluginError,
    PluginExitedError,
    RPCTimeoutError,
)
from .grpc_client import GRPCClient
from .guard import CallGuard
from .launch import attach, launch, open_connection

if TYPE_CHECKING:
    from .._host.checksum import SecureConfig
    from .._transport.endpoints import TLSPair
    from ..plugin import AsyncGRPCPluginFor, GRPCPlugin, NetRPCClient, NetRPCPlugin, PluginSet
    from .broker import GRPCBroker
    from .rpc_client import AsyncClient, RPCClient

__all__ = ["PluginClient"]

# How long kill() waits for the plugin's last lines to reach the log handlers: a moment, so that
# a slow handler (they run on a dispatcher thread) cannot hold up a kill.
_LOG_FLUSH_WAIT = 0.25

Process = _process.PluginProcess | _process.AttachedProcess
T = TypeVar("T")


class PluginClient:
    """A host's handle on one plugin process (go-plugin's ``plugin.Client``).

    ``start()`` launches the plugin, reads its handshake and checks that it answers (or, with
    ``reattach``, connects to a plugin that is already running); ``dispense(name)`` returns
    the client object of a plugin in the negotiated set; ``kill()`` stops it the way Go does
    (GRPCController.Shutdown or net/rpc's Control.Quit, up to ``kill_timeout`` to exit, then
    SIGKILL). As a context manager it starts on entry and kills on exit. Launched plugins are
    also killed at interpreter exit and on SIGTERM.

    A client runs one plugin process once. What each operation does in each state of that life
    (``client.state``) is one table, ``goplugin._host.lifecycle.TABLE``, documented in
    docs/lifecycle.md: every failure is a :mod:`goplugin.errors` type.
    Nothing happens before ``start()``: constructing a client only checks the arguments.

    Args:
        cmd: The plugin's command line: a list of arguments, a path, or a string that is split
            like a shell would unless it names an existing file. Exactly one of ``cmd`` and
            ``reattach`` is given.
        handshake: Must match the plugin's own ``HandshakeConfig``: the magic cookie is how
            the plugin knows a host started it, and ``protocol_version`` is the app protocol
            version offered when ``plugins`` is used.
        plugins: The plugin set for ``handshake.protocol_version``: name -> plugin object (a
            generated ``...Plugin()``, or a :class:`goplugin.netrpc.Plugin`). ``dispense(name)``
            looks names up here. Leave it out to use only ``grpc_channel`` (or net/rpc
            dispensing by name).
        versioned_plugins: Plugin sets per app protocol version, for a host that speaks several
            (go-plugin's ``VersionedPlugins``); the highest version the plugin also speaks wins
            (``negotiated_version``). May be combined with ``plugins``.
        reattach: Connect to a plugin that is already running (printed by a plugin in debug
            mode, or ``reattach_config`` of another client) instead of launching one.
        checksum: Refuse to launch a binary whose digest differs (``SecureConfig``); raises
            :class:`~goplugin.errors.ChecksumError`. Not with ``reattach``.
        auto_mtls: go-plugin's AutoMTLS: a fresh certificate per launch, TLS both ways, each
            side pinning the other's certificate. Default (None): on where plugins listen on
            TCP (Windows), off on unix sockets, whose private 0700 directory keeps other users
            out already.
        multiplex: Ask the plugin to multiplex brokered connections over its one connection
            (``PLUGIN_MULTIPLEX_GRPC``); an error if the plugin cannot. Default False.
        start_timeout: Seconds to wait for the handshake line before the plugin is killed and
            :class:`~goplugin.errors.StartTimeoutError` raised. Default 60 s, go-plugin's
            ``StartTimeout``: generous for slow machines and first runs; lower it where a hung
            plugin must be noticed quickly.
        kill_timeout: Seconds ``kill()`` waits for a graceful exit before SIGKILL. Default 2 s,
            as Go's ``Kill()``.
        env: Extra environment variables for the plugin, on top of this process's environment
            (or instead of it, with ``skip_host_env``). go-plugin's own variables (cookie,
            versions, socket directory) are set after these.
        skip_host_env: Start the plugin with ``env`` and go-plugin's variables only, not this
            process's environment (go-plugin's ``SkipHostEnv``). Default False.
        cwd: The plugin's working directory. Default: this process's.
        logger: Where the plugin's stderr lines go: hclog JSON lines become records at their
            level with their fields (``record.plugin_fields``), other lines records at DEBUG.
            Default: the logger ``goplugin.plugin.<executable name>``.
        stderr: A text stream that also gets every raw stderr line of the plugin, as written
            (go-plugin's ``Stderr``). Default None.
        sync_stdout: A binary stream for what the plugin writes to its stdout after the
            handshake (GRPCStdio, or net/rpc's stdout stream; go-plugin's ``SyncStdout``).
            Default None: dropped, as in Go.
        sync_stderr: The same for the plugin's stderr. Default None: dropped, as in Go.
        allowed_protocols: The protocols this host accepts (go-plugin's ``AllowedProtocols``):
            a plugin announcing another one fails with
            :class:`~goplugin.errors.UnsupportedProtocolError`. Default: gRPC and net/rpc.
        grpc_options: Extra grpcio channel options, after ours (which lift the message size
            limits to what go-plugin uses). Default none.
        min_port: Lowest TCP port a plugin that listens on TCP may use
            (``PLUGIN_MIN_PORT``). Default 10000, as in Go.
        max_port: Highest such port (``PLUGIN_MAX_PORT``). Default 25000, as in Go.
    """

    def __init__(
        self,
        cmd: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None = None,
        *,
        handshake: HandshakeConfig,
        plugins: PluginSet | None = None,
        versioned_plugins: Mapping[int, PluginSet] | None = None,
        reattach: ReattachConfig | None = None,
        checksum: SecureConfig | None = None,
        auto_mtls: bool | None = None,
        multiplex: bool = False,
        start_timeout: float = 60.0,
        kill_timeout: float = 2.0,
        env: Mapping[str, str] | None = None,
        skip_host_env: bool = False,
        cwd: str | os.PathLike[str] | None = None,
        logger: logging.Logger | None = None,
        stderr: IO[str] | None = None,
        sync_stdout: IO[bytes] | None = None,
        sync_stderr: IO[bytes] | None = None,
        allowed_protocols: Iterable[Protocol | str] = (Protocol.GRPC, Protocol.NETRPC),
        grpc_options: Iterable[tuple[str, Any]] = (),
        min_port: int = 10000,
        max_port: int = 25000,
    ) -> None:
        if (cmd is None) == (reattach is None):
            raise ValueError("PluginClient needs either the plugin command or reattach=")
        if reattach is not None and checksum is not None:
            raise ValueError("only one of checksum and reattach may be set")
        if reattach is not None and multiplex:
            raise ValueError("gRPC broker multiplexing cannot be used with reattach")
        self._config = make_config(
            cmd,
            handshake=handshake,
            plugins=plugins,
            versioned_plugins=versioned_plugins,
            start_timeout=start_timeout,
            kill_timeout=kill_timeout,
            env=env,
            skip_host_env=skip_host_env,
            cwd=cwd,
            logger=logger,
            stderr=stderr,
            sync_stdout=sync_stdout,
            sync_stderr=sync_stderr,
            allowed_protocols=allowed_protocols,
            grpc_options=grpc_options,
            min_port=min_port,
            max_port=max_port,
        )
        self._reattach = reattach
        self._checksum = checksum
        self._multiplex = multiplex
        # Go's AutoMTLS. By default on where plugins listen on TCP (Windows), where other local
        # users could connect; on unix sockets the private 0700 directory keeps them out.
        self._auto_mtls = (os.name == "nt") if auto_mtls is None else auto_mtls
        self._tls: TLSPair | None = None
        # Held by start() and by kill()'s teardown: waiting for it is waiting for them.
        self._lock = Lock()
        self._lifecycle = Lifecycle()
        self._process: Process | None = None
        self._guard = CallGuard(self._lifecycle, lambda: self._process)
        self._handshake: Handshake | None = None
        self._conn: GRPCClient | RPCClient | None = None
        self._socket_dir = ""
        self._output = PluginOutput(
            self._config.logger,
            stderr_copy=stderr,
            sync_stdout=sync_stdout,
            sync_stderr=sync_stderr,
        )

    # -- properties ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Where this client is in its life: created, starting, started, exited, failed,
        killing or killed (docs/lifecycle.md)."""
        return self._lifecycle.state

    @property
    def pid(self) -> int | None:
        """The plugin's process id (None before start)."""
        return None if self._process is None else self._process.pid

    @property
    def handshake_line(self) -> Handshake | None:
        """The line the plugin announced itself with, parsed (None before start): its
        protocol, address, app version, TLS certificate, multiplexing.

        Not ``handshake``: that is what the host passes in (``handshake=HandshakeConfig``)."""
        return self._handshake

    @property
    def negotiated_version(self) -> int | None:
        """The app protocol version both sides agreed on (go-plugin's NegotiatedVersion)."""
        return None if self._handshake is None else self._handshake.app_version

    @property
    def protocol(self) -> Protocol | None:
        """``Protocol.GRPC`` or ``Protocol.NETRPC``, as the plugin announced."""
        return None if self._handshake is None else self._handshake.protocol

    @property
    def reattach_config(self) -> ReattachConfig | None:
        """What another host needs to attach to this plugin (None unless it is running)."""
        hs = self._handshake
        if self._lifecycle.outcome(Op.REATTACH_CONFIG) is not Do.VALUE:
            return None
        if hs is None or self._process is None:
            return None
        test = self._reattach.test if self._reattach is not None else False
        return ReattachConfig(
            hs.protocol, hs.app_version, hs.network, hs.address, self._process.pid, test
        )

    @property
    def grpc_channel(self) -> AsyncGuardedChannel:
        """A grpcio channel to the plugin; its calls fail with goplugin's typed errors."""
        return self._grpc(Op.CHANNEL).channel

    @property
    def broker(self) -> GRPCBroker:
        """The connection's GRPCBroker, for callbacks between host and plugin."""
        return self._grpc(Op.CHANNEL).broker

    def _grpc(self, op: Op) -> GRPCClient:
        conn = self._connection(op)
        if not isinstance(conn, GRPCClient):
            raise PluginError("the plugin speaks net/rpc, not gRPC: use dispense()")
        return conn

    def _connection(self, op: Op) -> GRPCClient | RPCClient:
        """The connection, if ``op`` may use it now; else the table's error."""
        outcome = self._lifecycle.outcome(op)
        if outcome in (Do.VALUE, Do.RUN) and self._conn is not None:
            return self._conn
        raise self._refusal(op, outcome)

    def _refusal(self, op: Op, outcome: Any) -> PluginError:
        if outcome is PluginExitedError:
            proc = self._process
            return PluginExitedError(
                f"{op.value}: the plugin has exited",
                returncode=None if proc is None else proc.returncode,
                stderr_tail=() if proc is None else proc.stderr_tail(),
            )
        if outcome is NotStartedError:
            return NotStartedError(f"{op.value} needs a started plugin: call start() first")
        if outcome is ClientClosedError:
            return self._lifecycle.closed_error(op)
        # A state that changed between two looks: kill() or an exit right now.
        return self._lifecycle.closed_error(op)

    @property
    def exited(self) -> bool:
        """True once the plugin process has exited (and, if we started it, been reaped)."""
        return self._process is not None and self._process.exited.done()

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    @property
    def stderr_tail(self) -> tuple[str, ...]:
        """The last lines the plugin wrote to stderr (and printed), readable and bounded, as a
        :class:`~goplugin.errors.PluginError` carries them."""
        return tuple(self._output.tail())

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> PluginClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.kill()

    async def start(self) -> None:
        """Launch the plugin, read its handshake, connect, and check that it answers.

        Returns once the plugin has answered a health check (gRPC's ``grpc.health.v1`` for
        service "plugin", net/rpc's ``Control.Ping``): all of it within ``start_timeout``.
        Raises :class:`~goplugin.errors.LaunchError` (the command cannot run),
        ``StartTimeoutError`` (no handshake in time), ``HandshakeError`` and its subclasses,
        ``PluginExitedError`` (it exited first), ``PluginUnreachableError`` (nothing answers
        at the address it announced, within the start timeout), ``TLSError``,
        ``ChecksumError``; the plugin is then killed and the client is done (``failed``).
        Idempotent once started, like Go's ``Start``; after ``kill()``, ClientClosedError.
        """
        while True:
            outcome = self._lifecycle.begin_start()
            if outcome is Do.NOTHING:
                return
            if outcome is Do.WAIT:  # another thread or task is starting it: its outcome
                async with self._lock:
                    pass
                continue
            if outcome is not Do.LAUNCH:
                raise self._refusal(Op.START, outcome)
            break
        async with self._lock:
            if self._lifecycle.state is not State.STARTING:  # kill() got the lock first
                raise self._lifecycle.closed_error("start() (kill() was called)")
            try:
                await self._start()
            except BaseException as exc:
                await self._force_kill()
                if isinstance(exc, PluginError) and self._process is not None:
                    # Now that the process is gone its stderr is complete: the reason is there.
                    exc.stderr_tail = tuple(self._process.stderr_tail())
                if not self._lifecycle.start_failed(exc):
                    raise self._lifecycle.closed_error("start() (kill() was called)") from exc
                raise
            exit_future = None if self._process is None else self._process.exited
            if not self._lifecycle.started(exit_future):
                raise self._lifecycle.closed_error("start() (kill() was called)")

    async def _start(self) -> None:
        deadline = time.monotonic() + self._config.start_timeout
        if self._reattach is not None:
            self._process, handshake, self._socket_dir = await attach(
                self._reattach, self._config.plugin_sets
            )
        else:
            handshake, self._tls = await launch(
                self._config,
                checksum=self._checksum,
                auto_mtls=self._auto_mtls,
                multiplex=self._multiplex,
                deadline=deadline,
                output=self._output,
                adopt=self._adopt,
            )
        self._conn = await open_connection(
            handshake,
            self._config,
            socket_dir=self._socket_dir,
            guard=self._guard,
            tls=self._tls,
            deadline=deadline,
            output=self._output,
        )
        self._handshake = handshake

    def _adopt(self, proc: _process.PluginProcess, socket_dir: str) -> None:
        """The launched process, known to kill() from now on (it looks under this lock)."""
        with self._lifecycle.lock:
            self._process, self._socket_dir = proc, socket_dir
            if self._lifecycle.state is not State.STARTING:
                proc.kill()

    @overload
    async def dispense(self, name: str) -> Any: ...
    @overload
    async def dispense(self, name: AsyncGRPCPluginFor[T]) -> T: ...
    @overload
    async def dispense(self, name: NetRPCPlugin[NetRPCClient]) -> AsyncClient: ...
    @overload
    async def dispense(self, name: NetRPCPlugin[T]) -> T: ...
    async def dispense(self, name: str | GRPCPlugin[Any, Any] | NetRPCPlugin[Any]) -> Any:
        """The client object of a plugin of the negotiated set (starts the plugin if needed).

        ``name`` is the plugin's name in the set, or the plugin object itself, which types the
        result for mypy, no cast needed: ``dispense(kv_plugin)`` is the generated client class
        of this flavour, ``dispense(netrpc.Plugin(client=Greeter))`` a ``Greeter``.
        """
        conn = await self._ready(Op.DISPENSE)
        assert self._handshake is not None
        plugin_set = self._config.plugin_sets.get(self._handshake.app_version, {})
        name, plugin = plugin_in_set(plugin_set, name, self._handshake.app_version)
        if not isinstance(conn, GRPCClient):
            return await conn.dispense(name, plugin)  # net/rpc: the plugin knows its names
        if plugin is None:
            raise PluginError(self._unknown_plugin(name))
        return conn.dispense(name, plugin)

    def _unknown_plugin(self, name: str) -> str:
        """go-plugin's message, then what this host could have dispensed instead."""
        assert self._handshake is not None
        version = self._handshake.app_version
        known = sorted(self._config.plugin_sets.get(version, {}))
        if known:
            hint = (
                f"this host's plugin set for version {version} has: {', '.join(map(repr, known))}"
            )
        else:
            hint = (
                f"this host has no plugin set for version {version}: pass "
                f"plugins={{{name!r}: ...}} (or versioned_plugins=) to PluginClient"
            )
        return f"unknown plugin type: {name} ({hint})"

    async def ping(self, timeout: float = 5.0) -> None:
        """Check that the plugin is alive and serving (go-plugin's ``Ping``; starts if needed).

        Raises PluginExitedError if it died, RPCTimeoutError if it did not answer in
        ``timeout`` seconds, PluginError if it answered that it is not serving.
        """
        conn = await self._ready(Op.PING)
        try:
            await conn.ping(timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise RPCTimeoutError(
                    f"the plugin did not answer a health check within {timeout:g} s"
                ) from exc
            raise PluginError(f"health check failed: {exc.code().name}: {exc.details()}") from exc

    async def _ready(self, op: Op) -> GRPCClient | RPCClient:
        """The connection for ``op``, starting the plugin or waiting for its start first."""
        while True:
            outcome = self._lifecycle.outcome(op)
            if outcome is Do.START_FIRST:
                await self.start()
            elif outcome is Do.WAIT:
                async with self._lock:
                    pass
            else:
                return self._connection(op)

    async def kill(self, *, stop_reattached: bool = False) -> None:
        """Stop the plugin: graceful shutdown first, SIGKILL once ``kill_timeout`` has passed.

        Idempotent; returns once the process is gone; after it every operation but the
        properties raises ClientClosedError. Called while ``start()`` runs, it kills the
        starting process and ``start()`` raises ClientClosedError. A plugin this client
        reattached to is only disconnected from, since we did not start it, unless
        ``stop_reattached`` is set (and the plugin is not in test mode).
        """
        with self._lifecycle.lock:
            outcome = self._lifecycle.begin_kill()
            proc = self._process
        if outcome in (Do.NOTHING, Do.FORGET):
            return
        if outcome is Do.WAIT_KILL:
            async with self._lock:
                return
        if outcome is Do.ABORT and proc is not None and self._reattach is None:
            proc.kill()  # start() holds the lock: make it fail now rather than wait for it
        async with self._lock:
            try:
                await self._stop(stop_reattached)
            finally:
                self._lifecycle.killed()

    async def _stop(self, stop_reattached: bool) -> None:
        proc = self._process
        if self._reattach is not None and (not stop_reattached or self._reattach.test):
            await self._disconnect(shutdown=False, timeout=self._config.kill_timeout)
            self._forget_reattached()
            return
        if proc is None:
            await self._disconnect(shutdown=False, timeout=self._config.kill_timeout)
            return
        # One budget: the graceful request and the wait for the exit share kill_timeout.
        deadline = time.monotonic() + self._config.kill_timeout
        graceful = False
        try:
            await self._disconnect(
                shutdown=not proc.exited.done(), timeout=self._config.kill_timeout
            )
            await wait_future(proc.exited, deadline - time.monotonic())
            graceful = True
        except TimeoutError:
            self._config.logger.warning("plugin failed to exit gracefully")
        finally:
            if not graceful:  # timed out, failed, or the kill itself was cancelled
                proc.kill()
        await wait_future(proc.exited, None)
        self._forget_reattached()
        try:  # the last lines the plugin wrote, before kill() returns (as Go's Kill)
            await wait_future(self._output.flushed(), _LOG_FLUSH_WAIT)
        except TimeoutError:
            pass

    async def _disconnect(self, *, shutdown: bool, timeout: float) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(shutdown=shutdown, timeout=timeout)

    def _forget_reattached(self) -> None:
        """Stop watching a plugin we did not start, and drop our private socket directory."""
        if self._reattach is None:
            return
        if isinstance(self._process, _process.AttachedProcess):
            self._process.detach()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    async def _force_kill(self) -> None:
        proc = self._process
        await self._disconnect(shutdown=False, timeout=self._config.kill_timeout)
        if proc is None or self._reattach is not None:
            self._forget_reattached()
            return
        proc.kill()
        await wait_future(proc.exited, None)
