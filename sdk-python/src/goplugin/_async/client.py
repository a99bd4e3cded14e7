"""PluginClient: launch (or reattach to) a go-plugin plugin, handshake, dispense, kill.

This file is the single source of the host lifecycle. ``_sync/client.py`` is generated from
it by ``scripts/unasync.py`` (``async``/``await`` dropped, asyncio names swapped for thread
ones through ``_backend``); edit this file, then run ``nox -s codegen``. The wire protocol
after the handshake lives in ``grpc_client.py`` (and, for net/rpc, ``rpc_client.py``).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import grpc

from .. import _process
from .._clientconfig import make_config
from .._handshake import (
    CORE_PROTOCOL_VERSION,
    Handshake,
    HandshakeConfig,
    Protocol,
    check_handshake,
    parse_handshake,
)
from .._reattach import ReattachConfig
from .._sockets import private_socket_dir
from .._transport import TLSPair
from ..errors import (
    PluginError,
    PluginExitedError,
    ProcessNotFoundError,
    StartTimeoutError,
    TLSError,
)
from ._backend import AsyncGuardedChannel, Lock, wait_future
from .grpc_client import GRPCClient

if TYPE_CHECKING:
    from .._checksum import SecureConfig
    from .._mtls import Identity
    from ..errors import ProtocolError
    from .broker import GRPCBroker
    from .rpc_client import RPCClient

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

Process = _process.PluginProcess | _process.AttachedProcess


class PluginClient:
    """A host's handle on one plugin process (go-plugin's ``plugin.Client``).

    ``start()`` launches the plugin and reads its handshake (or, with ``reattach``, connects
    to a plugin that is already running); ``dispense(name)`` returns the client object of a
    plugin in the negotiated set; ``kill()`` stops it the way Go does (GRPCController.Shutdown
    or net/rpc's Control.Quit, up to ``kill_timeout`` to exit, then SIGKILL). As a context
    manager it starts on entry and kills on exit. Launched plugins are also killed at
    interpreter exit and on SIGTERM.
    """

    def __init__(
        self,
        cmd: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None = None,
        *,
        handshake: HandshakeConfig,
        plugins: Mapping[str, Any] | None = None,
        versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
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
        self._lock = Lock()
        self._process: Process | None = None
        self._handshake: Handshake | None = None
        self._conn: GRPCClient | RPCClient | None = None
        self._socket_dir = ""
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
    def reattach_config(self) -> ReattachConfig | None:
        """What another host needs to attach to this plugin (None before start)."""
        hs = self._handshake
        if hs is None or self._process is None:
            return None
        test = self._reattach.test if self._reattach is not None else False
        return ReattachConfig(
            hs.protocol, hs.app_version, hs.network, hs.address, self._process.pid, test
        )

    @property
    def grpc_channel(self) -> AsyncGuardedChannel:
        """A grpcio channel to the plugin; its calls raise PluginExitedError if it dies."""
        return self._grpc().channel

    @property
    def broker(self) -> GRPCBroker:
        """The connection's GRPCBroker, for callbacks between host and plugin."""
        return self._grpc().broker

    def _grpc(self) -> GRPCClient:
        if not isinstance(self._conn, GRPCClient):
            raise PluginError("the plugin is not started or does not speak gRPC")
        return self._conn

    def _connection(self) -> GRPCClient | RPCClient:
        if self._conn is None:
            raise PluginError("the plugin is not started")
        return self._conn

    @property
    def exited(self) -> bool:
        """True once the plugin process has exited (and, if we started it, been reaped)."""
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
            if self._reattach is not None:
                handshake = self._attach(self._reattach)
            else:
                handshake = await self._launch()
            try:
                self._connect(handshake)
            except BaseException:
                await self._force_kill()
                raise
            self._handshake = handshake

    async def _launch(self) -> Handshake:
        config = self._config
        assert config.cmd is not None
        cmd = list(config.cmd)
        if self._checksum is not None:
            cmd[0] = self._checksum.check(cmd[0])
        identity = None
        if self._auto_mtls:
            from .._mtls import generate_identity

            identity = generate_identity()
        socket_dir = private_socket_dir("goplugin-")
        self._socket_dir = socket_dir
        try:
            proc = _process.spawn(
                cmd,
                env=config.environment(
                    unix_socket_dir=socket_dir,
                    multiplex=self._multiplex,
                    client_cert_pem=None if identity is None else identity.cert_pem.decode(),
                ),
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
            self._tls = _pin_plugin(identity, handshake)
            return handshake
        except BaseException as exc:
            await self._force_kill()
            if isinstance(exc, PluginError):
                # Now that the process is gone its stderr is complete: the reason is in there.
                exc.stderr_tail = tuple(proc.stderr_tail())
            raise

    def _attach(self, reattach: ReattachConfig) -> Handshake:
        """go-plugin's default ReattachFunc: the pid must exist and the address must answer."""
        try:
            if reattach.pid > 0:
                self._process = _process.attach(reattach.pid)
            _probe(reattach.network, reattach.address)
        except OSError as exc:
            raise ProcessNotFoundError(
                f"Reattachment process not found: pid {reattach.pid} at "
                f"{reattach.network}:{reattach.address} ({exc})"
            ) from exc
        self._socket_dir = private_socket_dir("goplugin-")
        version = reattach.protocol_version or max(self._config.plugin_sets)
        return Handshake(
            CORE_PROTOCOL_VERSION, version, reattach.network, reattach.address, reattach.protocol
        )

    async def _read_handshake(self, proc: _process.PluginProcess) -> Handshake:
        timeout = self._config.start_timeout
        try:
            line = await wait_future(proc.handshake_line, timeout)
        except TimeoutError:
            raise StartTimeoutError(timeout) from None
        except _process.StdoutClosed:
            try:
                returncode: int | None = await wait_future(proc.exited, timeout)
                message = "plugin exited before we could connect"
            except TimeoutError:
                returncode = None
                message = "plugin closed its stdout without writing a handshake line"
            raise PluginExitedError(message, returncode=returncode) from None
        handshake = parse_handshake(line)
        check_handshake(
            handshake,
            host_versions=self._config.plugin_sets,
            allowed_protocols=self._config.allowed_protocols,
            multiplex_requested=self._multiplex,
        )
        _log.debug(
            "plugin %s (pid %d) handshake: %s", self._config.cmd, proc.pid, handshake.format()
        )
        return handshake

    def _connect(self, handshake: Handshake) -> None:
        if handshake.protocol is Protocol.NETRPC:
            from .rpc_client import RPCClient  # net/rpc's code is only loaded when used

            self._conn = RPCClient(
                handshake,
                socket_dir=self._socket_dir,
                translate_error=self._translate_broken,
                tls=self._tls,
                sync_stdout=self._config.sync_stdout,
                sync_stderr=self._config.sync_stderr,
            )
            return
        self._conn = GRPCClient(
            handshake,
            options=self._config.channel_options(),
            socket_dir=self._socket_dir,
            translate_error=self._translate_error,
            tls=self._tls,
            sync_stdout=self._config.sync_stdout,
            sync_stderr=self._config.sync_stderr,
        )

    async def _translate_error(self, exc: grpc.RpcError) -> BaseException | None:
        if exc.code() not in _TRANSPORT_FAILURES:
            return None
        grace = _EXIT_GRACE if exc.code() == grpc.StatusCode.UNAVAILABLE else 0.0
        return await self._exited_during_call(f"{exc.code().name}: {exc.details()}", grace)

    async def _translate_broken(self, exc: ProtocolError) -> BaseException | None:
        """net/rpc: a call's stream or session broke; was it the plugin dying?"""
        return await self._exited_during_call(str(exc), _EXIT_GRACE)

    async def _exited_during_call(self, detail: str, grace: float) -> BaseException | None:
        proc = self._process
        if proc is None:
            return None
        try:
            returncode = await wait_future(proc.exited, grace)
        except TimeoutError:
            return None
        return PluginExitedError(
            f"plugin exited during a call ({detail})",
            returncode=returncode,
            stderr_tail=proc.stderr_tail(),
        )

    async def dispense(self, name: str) -> Any:
        """The client object for plugin ``name`` of the negotiated set (starts if needed)."""
        await self.start()
        assert self._handshake is not None
        plugin = self._config.plugin_sets.get(self._handshake.app_version, {}).get(name)
        conn = self._connection()
        if not isinstance(conn, GRPCClient):
            return await conn.dispense(name, plugin)  # net/rpc: the plugin knows its names
        if plugin is None:
            raise PluginError(f"unknown plugin type: {name}")
        return conn.dispense(name, plugin)

    async def ping(self, timeout: float = 5.0) -> None:
        """Check that the plugin is alive and serving (go-plugin's ``Ping``)."""
        await self.start()
        await self._connection().ping(timeout)

    async def kill(self, *, stop_reattached: bool = False) -> None:
        """Stop the plugin: graceful shutdown first, SIGKILL after ``kill_timeout``.

        Idempotent; a no-op before ``start()``; returns once the process is gone. A plugin this
        client reattached to is only disconnected from, since we did not start it, unless
        ``stop_reattached`` is set (and the plugin is not in test mode).
        """
        async with self._lock:
            self._killed = True
            proc = self._process
            if self._reattach is not None and (not stop_reattached or self._reattach.test):
                await self._disconnect(shutdown=False)
                return
            if proc is None:
                await self._disconnect(shutdown=False)
                return
            await self._disconnect(shutdown=not proc.exited.done())
            try:
                await wait_future(proc.exited, self._config.kill_timeout)
            except TimeoutError:
                self._config.logger.warning("plugin failed to exit gracefully")
                await self._force_kill()

    async def _disconnect(self, *, shutdown: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(shutdown=shutdown, timeout=self._config.kill_timeout)
        if self._reattach is not None and self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    async def _force_kill(self) -> None:
        proc = self._process
        await self._disconnect(shutdown=False)
        if proc is None:
            return
        proc.kill()
        await wait_future(proc.exited, None)


def _pin_plugin(identity: Identity | None, handshake: Handshake) -> TLSPair | None:
    """AutoMTLS: trust exactly the certificate the plugin announced (go-plugin's client.go)."""
    if identity is None:
        if handshake.server_cert is not None:
            raise TLSError(
                "the plugin announced a TLS certificate but this host has no TLS configured; "
                "pass auto_mtls=True"
            )
        return None
    if handshake.server_cert is None:
        raise TLSError(
            "the plugin did not announce a TLS certificate although the host sent "
            "PLUGIN_CLIENT_CERT (AutoMTLS); it is too old or does not support TLS"
        )
    return TLSPair(identity, handshake.server_cert)


def _probe(network: str, address: str) -> None:
    """Connect once and hang up: is anything listening there?"""
    family = socket.AF_UNIX if network == "unix" else socket.AF_INET
    target: Any = address
    if network == "tcp":
        host, _, port = address.rpartition(":")
        target = (host.strip("[]"), int(port))
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(5.0)
        probe.connect(target)
