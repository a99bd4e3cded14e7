"""PluginClient: launch a go-plugin plugin, handshake, connect, dispense, kill.

This file is the single source of the host lifecycle. ``_sync/client.py`` is generated from
it by ``scripts/unasync.py`` (``async``/``await`` dropped, asyncio names swapped for thread
ones through ``_backend``); edit this file, then run ``nox -s codegen``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import IO, Any

import grpc

from .. import _process
from .._clientconfig import make_config
from .._handshake import Handshake, HandshakeConfig, Protocol, check_handshake, parse_handshake
from .._internal import (
    CONTROLLER_SHUTDOWN,
    HEALTH_CHECK,
    HEALTH_SERVICE_NAME,
    STDIO_STREAM,
    StdioData,
)
from ..errors import HandshakeError, PluginError, PluginExitedError, StartTimeoutError
from ._backend import (
    AsyncGuardedChannel,
    Channel,
    Lock,
    Task,
    insecure_channel,
    start_task,
    wait_future,
)

__all__ = ["PluginClient"]

_log = logging.getLogger("goplugin.client")

# Status codes with which a call fails when the plugin's end of the connection goes away.
_TRANSPORT_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)
# How long a failed call waits to learn whether the process is dying: the connection breaks a
# moment before the kernel reports the exit.
_EXIT_GRACE = 1.0


class PluginClient:
    """A host's handle on one plugin process (go-plugin's ``plugin.Client``).

    ``start()`` launches the plugin and reads its handshake; ``dispense(name)`` returns the
    client object of a plugin in the negotiated set; ``kill()`` stops it the way Go does
    (GRPCController.Shutdown, up to ``kill_timeout`` to exit, then SIGKILL). As a context
    manager it starts on entry and kills on exit. The plugin is also killed at interpreter exit
    and when the host gets SIGTERM.
    """

    def __init__(
        self,
        cmd: Sequence[str] | str | os.PathLike[str] | None = None,
        *,
        handshake: HandshakeConfig,
        plugins: Mapping[str, Any] | None = None,
        versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
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
        if cmd is None:
            raise ValueError("PluginClient needs the plugin command")
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
        self._lock = Lock()
        self._process: _process.PluginProcess | None = None
        self._handshake: Handshake | None = None
        self._raw_channel: Channel | None = None
        self._channel: AsyncGuardedChannel | None = None
        self._stdio_call: Any = None
        self._stdio_task: Task | None = None
        self._killed = False

    # -- properties ------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The plugin's process id (None before start)."""
        return None if self._process is None else self._process.pid

    @property
    def handshake(self) -> Handshake | None:
        """The parsed handshake line (None before start)."""
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
    def grpc_channel(self) -> AsyncGuardedChannel:
        """A grpcio channel to the plugin; its calls raise PluginExitedError if it dies."""
        if self._channel is None:
            raise PluginError("the plugin is not started or does not speak gRPC")
        return self._channel

    @property
    def exited(self) -> bool:
        """True once the plugin process has exited and been reaped."""
        return self._process is not None and self._process.exited.done()

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode

    def stderr_tail(self) -> list[str]:
        """The last lines the plugin wrote to stderr."""
        return [] if self._process is None else self._process.stderr_tail()

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
        """Launch the plugin and complete the handshake. Idempotent, like Go's ``Start``."""
        async with self._lock:
            if self._handshake is not None:
                return
            if self._killed:
                raise PluginError("this client was killed; create a new PluginClient")
            config = self._config
            assert config.cmd is not None
            socket_dir = tempfile.mkdtemp(prefix="goplugin-")
            try:
                proc = _process.spawn(
                    config.cmd,
                    env=config.environment(unix_socket_dir=socket_dir),
                    cwd=config.cwd,
                    logger=config.logger,
                    stderr_copy=config.stderr,
                    cleanup_dir=socket_dir,
                )
            except BaseException:
                shutil.rmtree(socket_dir, ignore_errors=True)
                raise
            self._process = proc
            try:
                handshake = await self._read_handshake(proc)
                self._connect(handshake)
            except BaseException:
                await self._force_kill()
                raise
            self._handshake = handshake

    async def _read_handshake(self, proc: _process.PluginProcess) -> Handshake:
        timeout = self._config.start_timeout
        try:
            line = await wait_future(proc.handshake_line, timeout)
        except TimeoutError:
            await self._force_kill()
            raise StartTimeoutError(timeout, stderr_tail=proc.stderr_tail()) from None
        except _process.StdoutClosed:
            try:
                returncode: int | None = await wait_future(proc.exited, timeout)
                message = "plugin exited before we could connect"
            except TimeoutError:
                returncode = None
                message = "plugin closed its stdout without writing a handshake line"
            await self._force_kill()
            raise PluginExitedError(
                message, returncode=returncode, stderr_tail=proc.stderr_tail()
            ) from None
        try:
            handshake = parse_handshake(line)
            check_handshake(
                handshake,
                host_versions=self._config.plugin_sets,
                allowed_protocols=self._config.allowed_protocols,
            )
        except HandshakeError as exc:
            await self._force_kill()
            exc.stderr_tail = tuple(proc.stderr_tail())
            raise
        _log.debug(
            "plugin %s (pid %d) handshake: %s", self._config.cmd, proc.pid, handshake.format()
        )
        return handshake

    def _connect(self, handshake: Handshake) -> None:
        if handshake.protocol is not Protocol.GRPC:
            raise PluginError("net/rpc plugins are not supported yet")
        target = ("unix:" if handshake.network == "unix" else "") + handshake.address
        raw = insecure_channel(target, options=self._config.channel_options())
        self._raw_channel = raw
        self._channel = AsyncGuardedChannel(raw, self._translate_error)
        # Like Go's host: ask for the plugin's redirected stdout/stderr right away, so a chatty
        # plugin never blocks on a full buffer.
        call = raw.unary_stream(STDIO_STREAM, bytes, StdioData.FromString)(b"")
        self._stdio_call = call
        self._stdio_task = start_task(self._copy_stdio, call)

    async def _copy_stdio(self, call: Any) -> None:
        sinks = {
            StdioData.STDOUT: self._config.sync_stdout,
            StdioData.STDERR: self._config.sync_stderr,
        }
        try:
            async for data in call:
                sink = sinks.get(data.channel)
                if sink is not None:
                    sink.write(data.data)
                    sink.flush()
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                _log.debug("plugin does not implement GRPCStdio; its stdio is not forwarded")
            elif code not in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE):
                _log.warning("plugin stdio stream ended: %s", exc)
        except Exception:
            _log.exception("error while copying plugin stdio")

    async def _translate_error(self, exc: grpc.RpcError) -> BaseException | None:
        proc = self._process
        if proc is None or exc.code() not in _TRANSPORT_FAILURES:
            return None
        grace = _EXIT_GRACE if exc.code() == grpc.StatusCode.UNAVAILABLE else 0.0
        try:
            returncode = await wait_future(proc.exited, grace)
        except TimeoutError:
            return None
        return PluginExitedError(
            f"plugin exited during a call ({exc.code().name}: {exc.details()})",
            returncode=returncode,
            stderr_tail=proc.stderr_tail(),
        )

    async def dispense(self, name: str) -> Any:
        """The client object for plugin ``name`` of the negotiated set (starts if needed)."""
        await self.start()
        assert self._handshake is not None
        plugin_set = self._config.plugin_sets.get(self._handshake.app_version, {})
        try:
            plugin = plugin_set[name]
        except KeyError:
            raise PluginError(f"unknown plugin type: {name}") from None
        factory = getattr(plugin, "grpc_client", None)
        if factory is None:
            raise PluginError(f"plugin {name!r} does not implement grpc_client(broker, channel)")
        return factory(None, self.grpc_channel)

    async def ping(self, timeout: float = 5.0) -> None:
        """Check that the plugin is alive and serving (go-plugin's ``Ping``)."""
        await self.start()
        from grpc_health.v1 import health_pb2

        check = self.grpc_channel.unary_unary(
            HEALTH_CHECK,
            health_pb2.HealthCheckRequest.SerializeToString,
            health_pb2.HealthCheckResponse.FromString,
        )
        response = await check(
            health_pb2.HealthCheckRequest(service=HEALTH_SERVICE_NAME), timeout=timeout
        )
        if response.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            raise PluginError(f"plugin health is {status}")

    async def kill(self) -> None:
        """Stop the plugin: graceful shutdown first, SIGKILL after ``kill_timeout``.

        Idempotent; a no-op before ``start()``. Blocks until the process is reaped.
        """
        async with self._lock:
            self._killed = True
            proc = self._process
            if proc is None:
                return
            if not proc.exited.done() and self._raw_channel is not None:
                await self._shutdown_gracefully()
            await self._close_channel()
            try:
                await wait_future(proc.exited, self._config.kill_timeout)
            except TimeoutError:
                self._config.logger.warning("plugin failed to exit gracefully")
                await self._force_kill()

    async def _shutdown_gracefully(self) -> None:
        assert self._raw_channel is not None
        shutdown = self._raw_channel.unary_unary(CONTROLLER_SHUTDOWN, bytes, bytes)
        try:
            await shutdown(b"", timeout=self._config.kill_timeout)
        except grpc.RpcError as exc:
            # A Go plugin stops its server before answering; errors here are expected.
            _log.debug("GRPCController.Shutdown: %s", exc.code())

    async def _close_channel(self) -> None:
        if self._stdio_call is not None:
            self._stdio_call.cancel()
            self._stdio_call = None
        if self._raw_channel is not None:
            await self._raw_channel.close()
            self._raw_channel = None

    async def _force_kill(self) -> None:
        proc = self._process
        if proc is None:
            return
        proc.kill()
        await self._close_channel()
        await wait_future(proc.exited, None)
