"""The Python plugin servers every section measures side by side: goplugin's engines, the raw
stacks they stand on, and the other Python go-plugin implementations (peers).

One entry per server. Each section that compares plugin servers (servers, throughput,
concurrency, start-up, TLS) makes one row per entry, with the same Go host (benchhost), the
same contract and the same work per call, so adding a server here adds it everywhere:

    PluginServer("engine-x", "goplugin serve(engine=x)", "bench/plugins/kv_plugin_x.py",
                 "examples-py/streaming_plugin_x.py")

``kv`` and ``streaming`` are the plugin's command line (a script under the repository root and
its arguments) for proto/kv and proto/streaming; None where the server has no such plugin.
``tls`` says how the server does go-plugin's AutoMTLS with a Go host, or ``no_tls`` why it
cannot (the TLS rows then say so instead of a number). ``requires`` names the modules it
needs: a server whose package is missing (the peers are installed by ``nox -s bench`` only)
gets n/a rows naming it, and the run goes on.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ._build import ROOT

if TYPE_CHECKING:
    from ._context import Context
    from ._driver import Driver

__all__ = [
    "BASELINE",
    "PEER_HOSTS",
    "SERVERS",
    "PeerHost",
    "PluginServer",
    "peer_host_drivers",
    "server_drivers",
]


@dataclass(frozen=True)
class PluginServer:
    key: str
    label: str
    kv: tuple[str, ...] | None
    streaming: tuple[str, ...] | None
    tls: str | None = None
    no_tls: str | None = None
    requires: tuple[str, ...] = ()

    def argv(self, python: str, contract: str) -> list[str] | None:
        cmd = self.kv if contract == "kv" else self.streaming
        if cmd is None:
            return None
        return [python, str(ROOT / cmd[0]), *cmd[1:]]

    def scripts(self) -> list[Path]:
        return [ROOT / cmd[0] for cmd in (self.kv, self.streaming) if cmd is not None]

    def missing(self) -> str | None:
        """Why this server cannot run here (a package not installed), or None."""
        absent = [m for m in self.requires if not _installed(m)]
        if absent:
            return f"{', '.join(absent)} not installed (nox -s bench installs it)"
        return None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


_RAW = "bench/plugins/raw_grpcio_plugin.py"
_WITH_ENGINE = "bench/plugins/with_engine.py"  # ENGINE SCRIPT: GOPLUGIN_ENGINE for a script

#: The reference of the server sections: grpcio's thread-pool server with no SDK on it.
BASELINE = "raw-grpcio"

SERVERS: list[PluginServer] = [
    PluginServer(
        BASELINE,
        "raw grpcio sync server (no SDK)",
        (_RAW, "kv"),
        (_RAW, "streaming"),
        no_tls="a raw server has no AutoMTLS",
    ),
    # goplugin's serving engines, each named (the defaults may change, the rows do not).
    PluginServer(
        "goplugin",
        "goplugin serve() (grpcio)",
        ("bench/plugins/kv_plugin.py", "--engine=grpcio"),
        (_WITH_ENGINE, "grpcio", "examples-py/streaming_plugin.py"),
        tls="OpenSSL relay",
    ),
    PluginServer(
        "goplugin-aio",
        "goplugin aio.serve() (grpc.aio)",
        ("bench/plugins/kv_plugin_aio.py", "--engine=grpcio"),
        (_WITH_ENGINE, "grpcio", "examples-py/streaming_plugin_aio.py"),
        tls="OpenSSL relay",
    ),
    PluginServer(
        "goplugin-pure",
        "goplugin serve() (pure engine)",
        ("bench/plugins/kv_plugin.py", "--engine=pure"),
        (_WITH_ENGINE, "pure", "examples-py/streaming_plugin.py"),
        tls="stdlib ssl in the engine",
    ),
    PluginServer(
        "goplugin-aio-pure",
        "goplugin aio.serve() (pure engine)",
        ("bench/plugins/kv_plugin_aio.py", "--engine=pure"),
        (_WITH_ENGINE, "pure", "examples-py/streaming_plugin_aio.py"),
        tls="stdlib ssl in the engine",
    ),
    PluginServer(
        "raw-grpcaio",
        "raw grpc.aio server (no SDK)",
        (_RAW, "kv", "--aio"),
        (_RAW, "streaming", "--aio"),
        no_tls="a raw server has no AutoMTLS",
    ),
    PluginServer(
        "raw-grpclib",
        "raw grpclib server (no SDK)",
        ("bench/plugins/raw_grpclib_plugin.py", "kv"),
        ("bench/plugins/raw_grpclib_plugin.py", "streaming"),
        no_tls="a raw server has no AutoMTLS",
        requires=("grpclib",),
    ),
    PluginServer(
        "py-plugin",
        "py-plugin 0.1.0 (grpclib)",
        ("bench/plugins/pyplugin_plugin.py", "kv"),
        ("bench/plugins/pyplugin_plugin.py", "streaming"),
        tls="stdlib ssl, P-521 mTLS",
        requires=("pyplugin",),
    ),
    PluginServer(
        "pyvider",
        "pyvider-rpcplugin 0.5.5 (grpc.aio)",
        ("bench/plugins/pyvider_plugin.py", "kv"),
        ("bench/plugins/pyvider_plugin.py", "streaming"),
        tls="grpcio TLS, host not verified",
        requires=("pyvider.rpcplugin",),
    ),
]


def server_drivers(
    ctx: Context,
    contract: str,
    prefix: str,
    *,
    host: str = "go",
    tls: bool = False,
    servers: list[PluginServer] | None = None,
) -> tuple[dict[str, Callable[[], Driver]], dict[str, str]]:
    """A host driver (benchhost, or the asyncio Python host with ``host="aio"``) in front of
    each server's plugin for ``contract``, keyed by server key; and why the others have none.
    """
    makers: dict[str, Callable[[], Driver]] = {}
    na: dict[str, str] = {}
    for server in SERVERS if servers is None else servers:
        argv = server.argv(ctx.python, contract)
        reason = server.missing() or (None if argv is not None else f"no {contract} plugin")
        if tls and reason is None and server.no_tls:
            reason = server.no_tls
        if reason is not None or argv is None:
            na[server.key] = reason or "n/a"
            continue
        name = f"{prefix}-{server.key}"
        if host == "go":
            makers[server.key] = partial(ctx.go_host, name, contract, argv, tls=tls)
        else:
            makers[server.key] = partial(ctx.py_host, name, host, contract, argv, tls=tls)
    return makers, na


@dataclass(frozen=True)
class PeerHost:
    """Another implementation's host, driven by bench/drivers/_peerhost.py (pyhost FLAVOUR)."""

    flavour: str
    label: str
    requires: tuple[str, ...]

    def missing(self) -> str | None:
        absent = [m for m in self.requires if not _installed(m)]
        if absent:
            return f"{', '.join(absent)} not installed (nox -s bench installs it)"
        return None


PEER_HOSTS = [
    PeerHost("pyplugin", "py-plugin 0.1.0 host (grpclib)", ("pyplugin", "grpclib")),
    PeerHost("pyvider", "pyvider-rpcplugin 0.5.5 host (grpc.aio)", ("pyvider",)),
]


def peer_host_drivers(
    ctx: Context, contract: str, plugin: list[str], prefix: str, *, tls: bool = False
) -> tuple[dict[str, Callable[[], Driver]], dict[str, str], dict[str, str]]:
    """Each peer host in front of the Go ``plugin``, keyed ``<flavour>-go``; why the others
    cannot run; and the row labels."""
    makers: dict[str, Callable[[], Driver]] = {}
    na: dict[str, str] = {}
    labels: dict[str, str] = {}
    for peer in PEER_HOSTS:
        key = f"{peer.flavour}-go"
        labels[key] = f"{peer.label} → Go plugin"
        reason = peer.missing()
        if reason:
            na[key] = reason
            continue
        makers[key] = partial(
            ctx.py_host, f"{prefix}-{key}", peer.flavour, contract, plugin, tls=tls
        )
    return makers, na, labels
