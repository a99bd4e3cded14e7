"""Flavour-independent parts of the host side: options, plugin sets, environment, names.

Both ``PluginClient`` flavours normalise their arguments here, so the sync and asyncio twins
cannot disagree on defaults or validation.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from .._pluginset import check_plugin_sets
from .._protocol.handshake import HandshakeConfig, Protocol, host_environment
from .._protocol.internal import MAX_MESSAGE_SIZE
from ..errors import PluginError

if TYPE_CHECKING:
    from ..plugin import GRPCPlugin, NetRPCPlugin, PluginSet

__all__ = ["ClientConfig", "make_config", "plugin_in_set"]


@dataclass
class ClientConfig:
    cmd: list[str] | None
    handshake: HandshakeConfig
    plugin_sets: dict[int, PluginSet]
    start_timeout: float
    kill_timeout: float
    env: Mapping[str, str] | None
    skip_host_env: bool
    cwd: str | os.PathLike[str] | None
    logger: logging.Logger
    stderr: IO[str] | None
    sync_stdout: IO[bytes] | None
    sync_stderr: IO[bytes] | None
    allowed_protocols: tuple[Protocol, ...]
    grpc_options: list[tuple[str, Any]] = field(default_factory=list)
    min_port: int = 10000
    max_port: int = 25000

    def environment(
        self,
        *,
        unix_socket_dir: str | None,
        client_cert_pem: str | None = None,
        multiplex: bool = False,
    ) -> dict[str, str]:
        base: dict[str, str] = {} if self.skip_host_env else dict(os.environ)
        if self.env:
            base.update(self.env)
        return host_environment(
            self.handshake,
            self.plugin_sets,
            base=base,
            min_port=self.min_port,
            max_port=self.max_port,
            unix_socket_dir=unix_socket_dir,
            client_cert_pem=client_cert_pem,
            multiplex=multiplex,
        )

    def channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", MAX_MESSAGE_SIZE),
            ("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
            # One private connection per plugin: never share subchannels between clients.
            ("grpc.use_local_subchannel_pool", 1),
        ]
        options.extend(self.grpc_options)
        return options


def _normalise_cmd(
    cmd: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None,
) -> list[str] | None:
    if cmd is None:
        return None
    if isinstance(cmd, str):
        # A string is a program path when it names a file, else a command line.
        return [cmd] if os.path.exists(cmd) else shlex.split(cmd)
    if isinstance(cmd, os.PathLike):
        return [os.fspath(cmd)]
    argv = [os.fspath(part) for part in cmd]
    if not argv:
        raise ValueError("the plugin command is empty")
    return argv


def make_config(
    cmd: Sequence[str | os.PathLike[str]] | str | os.PathLike[str] | None,
    *,
    handshake: HandshakeConfig,
    plugins: PluginSet | None,
    versioned_plugins: Mapping[int, PluginSet] | None,
    start_timeout: float,
    kill_timeout: float,
    env: Mapping[str, str] | None,
    skip_host_env: bool,
    cwd: str | os.PathLike[str] | None,
    logger: logging.Logger | None,
    stderr: IO[str] | None,
    sync_stdout: IO[bytes] | None,
    sync_stderr: IO[bytes] | None,
    allowed_protocols: Iterable[Protocol | str],
    grpc_options: Iterable[tuple[str, Any]],
    min_port: int,
    max_port: int,
) -> ClientConfig:
    """Validate and normalise ``PluginClient``'s arguments (go-plugin's ClientConfig rules)."""
    argv = _normalise_cmd(cmd)
    sets: dict[int, PluginSet] = {int(v): s for v, s in (versioned_plugins or {}).items()}
    if plugins is not None:
        sets[handshake.protocol_version] = plugins
    if not sets:
        # A host that only wants the raw channel still offers its protocol version.
        sets[handshake.protocol_version] = {}
    check_plugin_sets(sets, host=True)
    if min_port > max_port:
        raise ValueError(f"min_port ({min_port}) must not exceed max_port ({max_port})")
    if logger is None:
        name = os.path.basename(argv[0]) if argv else "reattached"
        logger = logging.getLogger(f"goplugin.plugin.{name}")
    return ClientConfig(
        cmd=argv,
        handshake=handshake,
        plugin_sets=sets,
        start_timeout=start_timeout,
        kill_timeout=kill_timeout,
        env=env,
        skip_host_env=skip_host_env,
        cwd=cwd,
        logger=logger,
        stderr=stderr,
        sync_stdout=sync_stdout,
        sync_stderr=sync_stderr,
        allowed_protocols=tuple(Protocol(p) for p in allowed_protocols),
        grpc_options=list(grpc_options),
        min_port=min_port,
        max_port=max_port,
    )


def plugin_in_set(
    plugins: PluginSet, wanted: str | GRPCPlugin[Any, Any] | NetRPCPlugin[Any], version: int
) -> tuple[str, GRPCPlugin[Any, Any] | NetRPCPlugin[Any] | None]:
    """What ``dispense(wanted)`` dispenses: a name and its plugin object (None when the set has
    no such name: net/rpc still asks the plugin), or the name a plugin object has in the set."""
    if isinstance(wanted, str):
        return wanted, plugins.get(wanted)
    names = [name for name, plugin in plugins.items() if plugin is wanted]
    if len(names) == 1:
        return names[0], wanted
    what = f"dispense(): this {type(wanted).__name__}"
    if names:
        raise PluginError(
            f"{what} is in the plugin set of version {version} under several names "
            f"({', '.join(map(repr, names))}): dispense it by name"
        )
    known = ", ".join(map(repr, sorted(plugins))) or "nothing"
    raise PluginError(
        f"{what} is not in the plugin set of the negotiated version {version} (it has "
        f"{known}): pass the object given to PluginClient(plugins=...), or a name"
    )
