"""The steps of ``start()``: launch a plugin and read its handshake (or reattach to one), then
connect and check that it answers.

Source of truth for both flavours (``_sync/launch.py`` is generated). The lifecycle around
them (states, kill() during start, clean-up of a failed start) is the client's (``client.py``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import grpc

from .._backends.aio import run_blocking, wait_future
from .._host import process as _process
from .._protocol.handshake import (
    CORE_PROTOCOL_VERSION,
    Handshake,
    Protocol,
    check_handshake,
    magic_cookie_mismatch,
    parse_handshake,
)
from .._transport.endpoints import TLSPair
from .._transport.sockets import connect, private_socket_dir
from ..errors import (
    HandshakeError,
    LaunchError,
    PluginExitedError,
    PluginUnreachableError,
    ProcessNotFoundError,
    ProtocolError,
    RPCTimeoutError,
    StartTimeoutError,
    TLSError,
)
from .grpc_client import GRPCClient

if TYPE_CHECKING:
    from .._host.checksum import SecureConfig
    from .._host.config import ClientConfig
    from .._host.output import PluginOutput
    from .._protocol.reattach import ReattachConfig
    from .._transport.mtls import Identity
    from .guard import CallGuard
    from .rpc_client import RPCClient

__all__ = ["attach", "launch", "open_connection"]

_log = logging.getLogger("goplugin.client")

# How long to wait for the exit status of a plugin that closed its stdout without a handshake
# (at least; the rest of the start timeout if longer).
EXIT_GRACE = 1.0


async def launch(
    config: ClientConfig,
    *,
    checksum: SecureConfig | None,
    auto_mtls: bool,
    multiplex: bool,
    deadline: float,
    output: PluginOutput,
    adopt: Callable[[_process.PluginProcess, str], None],
) -> tuple[Handshake, TLSPair | None]:
    """Spawn the plugin, hand it to ``adopt`` (with its private socket directory) at once,
    then read and check its handshake line by ``deadline``; the TLS pair to connect with.

    The blocking steps (hashing the binary, generating the AutoMTLS key, the fork, done by the
    watcher thread: see ``_host/process.py``) never run on an event loop."""
    assert config.cmd is not None
    cmd = list(config.cmd)
    if checksum is not None:
        cmd[0] = await run_blocking(checksum.check, cmd[0])  # hashes the binary
    identity = await run_blocking(_new_identity) if auto_mtls else None
    socket_dir = private_socket_dir("goplugin-")
    spawning = _process.spawn(
        cmd,
        env=config.environment(
            unix_socket_dir=socket_dir,
            multiplex=multiplex,
            client_cert_pem=None if identity is None else identity.cert_pem.decode(),
        ),
        cwd=config.cwd,
        output=output,
        cleanup_dir=socket_dir,
    )
    try:
        proc = await wait_future(spawning, None)
    except BaseException as exc:
        _process.abandon(spawning)  # a cancelled start: the process, if forked, is killed
        shutil.rmtree(socket_dir, ignore_errors=True)
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            raise LaunchError(f"cannot launch the plugin {cmd[0]}: {reason}") from exc
        raise
    adopt(proc, socket_dir)  # from here on the caller kills it if anything fails
    handshake = await _read_handshake(proc, config, multiplex, deadline)
    return handshake, _pin_plugin(identity, handshake)


async def attach(
    reattach: ReattachConfig, plugin_sets: Mapping[int, Any]
) -> tuple[_process.AttachedProcess | None, Handshake, str]:
    """go-plugin's default ReattachFunc: the pid must exist and the address must answer."""
    process = None
    try:
        # Probe first (off the event loop): a failed reattach then leaves nothing to un-watch.
        await run_blocking(_probe, reattach.network, reattach.address)
        if reattach.pid > 0:
            process = _process.attach(reattach.pid)
    except OSError as exc:
        raise ProcessNotFoundError(
            f"Reattachment process not found: pid {reattach.pid} at "
            f"{reattach.network}:{reattach.address} ({exc})"
        ) from exc
    version = reattach.protocol_version or max(plugin_sets)
    handshake = Handshake(
        CORE_PROTOCOL_VERSION, version, reattach.network, reattach.address, reattach.protocol
    )
    return process, handshake, private_socket_dir("goplugin-")


async def open_connection(
    handshake: Handshake,
    config: ClientConfig,
    *,
    socket_dir: str,
    guard: CallGuard,
    tls: TLSPair | None,
    deadline: float,
    output: PluginOutput,
) -> GRPCClient | RPCClient:
    """Connect, and return once the plugin has answered a health check (by ``deadline``).

    go-plugin's hosts skip the check and fail at the first call instead, after up to 20 s
    (grpc-go's connect timeout) for an address that never accepts: here that is a
    PluginUnreachableError within the start timeout. The plugin's stdio streams go to
    ``output``; dialling (and, for net/rpc, importing its code) happens off the event loop.
    """
    timeout = max(deadline - time.monotonic(), 0.001)
    conn: GRPCClient | RPCClient | None = None
    try:
        if handshake.protocol is Protocol.NETRPC:
            # net/rpc's code is only loaded when used (and off the event loop: it is big).
            rpc_client = await run_blocking(_rpc_client_class)
            conn = await rpc_client.open(
                handshake, socket_dir=socket_dir, guard=guard, tls=tls, output=output
            )
        else:
            conn = await GRPCClient.open(
                handshake,
                options=config.channel_options(),
                socket_dir=socket_dir,
                judge=guard,
                tls=tls,
                output=output,
            )
        await conn.ping(timeout)
        return conn
    except BaseException as exc:
        if conn is not None:
            await conn.close(shutdown=False, timeout=config.kill_timeout)
        if isinstance(exc, (OSError, grpc.RpcError, RPCTimeoutError, ProtocolError)):
            raise await _no_answer(exc, handshake, guard, timeout) from exc
        raise


async def _no_answer(
    exc: BaseException, handshake: Handshake, guard: CallGuard, timeout: float
) -> BaseException:
    """What a failed connection or health check at start means: the plugin died, or it does
    not answer where it said it would."""
    if guard.process_gone():
        return await guard.exited_error("plugin exited before it answered")
    if isinstance(exc, RPCTimeoutError) or (
        isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    ):
        reason = f"did not answer a health check within {timeout:.3g} s"
    elif isinstance(exc, grpc.RpcError):
        reason = f"cannot be reached ({exc.code().name}: {exc.details()})"
    else:
        reason = f"cannot be reached ({exc})"
    return PluginUnreachableError(
        f"the plugin announced {handshake.network}:{handshake.address}, but it {reason}"
    )


async def _read_handshake(
    proc: _process.PluginProcess, config: ClientConfig, multiplex: bool, deadline: float
) -> Handshake:
    try:
        line = await wait_future(proc.handshake_line, deadline - time.monotonic())
    except TimeoutError:
        raise StartTimeoutError(config.start_timeout) from None
    except _process.StdoutClosed:
        try:
            # Within what is left of the start timeout, not a second one.
            remaining = max(deadline - time.monotonic(), EXIT_GRACE)
            returncode: int | None = await wait_future(proc.exited, remaining)
            message = "plugin exited before we could connect"
        except TimeoutError:
            returncode = None
            message = "plugin closed its stdout without writing a handshake line"
        refused = magic_cookie_mismatch(config.handshake, proc.stderr_tail(), returncode=returncode)
        if refused is not None:
            raise refused from None
        raise PluginExitedError(message, returncode=returncode) from None
    assert config.cmd is not None
    handshake = _parse_handshake(line, config.cmd)
    check_handshake(
        handshake,
        host_versions=config.plugin_sets,
        allowed_protocols=config.allowed_protocols,
        multiplex_requested=multiplex,
    )
    _log.debug("plugin %s (pid %d) handshake: %s", config.cmd, proc.pid, handshake.format())
    return handshake


def _parse_handshake(line: str, cmd: list[str]) -> Handshake:
    try:
        return parse_handshake(line)
    except HandshakeError:
        if not _process.looks_like_python(cmd):
            raise
    return parse_handshake(line, python_plugin=True)  # fails again, with a Python hint


def _new_identity() -> Identity:
    from .._transport.mtls import generate_identity  # cryptography is only loaded for AutoMTLS

    return generate_identity()


def _probe(network: str, address: str) -> None:
    connect(network, address, timeout=5.0).close()


def _rpc_client_class() -> type[RPCClient]:
    from .rpc_client import RPCClient

    return RPCClient


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
