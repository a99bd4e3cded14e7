"""The plugin process's side effects, shared by both ``serve()`` flavours.

Logging to the host, binding the listener, printing the handshake line, swapping stdio,
watching for the host's death, signals, and cleaning up the socket: the asyncio and sync
servers, gRPC or net/rpc, differ only in how they serve calls, so all of this lives here once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from ._handshake import CORE_PROTOCOL_VERSION, Handshake
from ._hclog import HclogJSONFormatter
from ._sockets import private_socket_dir
from ._stdio import StdioBuffer, redirect_stdio
from ._transport import Listener, TLSPair, listen, listen_multiplexed, listen_socket
from ._watchdog import watch_host

if TYPE_CHECKING:
    import socket

    from ._grpcmux import GRPCMuxer
    from ._reattach import ReattachConfig
    from ._serveconfig import ServeConfig

__all__ = ["PluginRuntime", "configure_logging"]

_log = logging.getLogger("goplugin.server")

# Once the host is gone, the process ends within this many seconds even if handlers hang.
_ORPHAN_DEADLINE = 1.5


def _exit_now() -> None:
    logging.shutdown()
    os._exit(0)


def configure_logging(level: int, *, for_humans: bool = False) -> None:
    """Route stdlib logging to the host as hclog JSON on the real stderr.

    Done before anything else in ``serve()``, so that even a failed version negotiation
    reaches the host's log at the right level. In debug mode a person reads stderr instead.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s")
        if for_humans
        else HclogJSONFormatter()
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)


class PluginRuntime:
    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        # Captured before anything is redirected: the handshake goes to the real stdout and
        # log lines to the real stderr, where the host reads them.
        self.real_stdout: IO[str] = sys.stdout
        self.real_stderr: IO[str] = sys.stderr
        self.stdio = StdioBuffer()
        self.listener: Listener | None = None
        self.muxer: GRPCMuxer | None = None
        # The host's PLUGIN_UNIX_SOCKET_DIR, else a private 0700 directory of our own; the
        # broker puts its sockets here too.
        self._own_dir = config.socket_dir is None
        self.socket_dir = config.socket_dir or private_socket_dir()
        self._restore_stdio: Callable[[], None] | None = None
        self._stop_watch: threading.Event | None = None
        #: Set when the watchdog saw the host die: nobody waits for answers any more.
        self.host_gone = False

    def listen(self, server: Any, tls: TLSPair | None) -> Listener:
        """Bind the plugin's gRPC server where go-plugin's rules say (see _transport.listen);
        behind a yamux muxer when the host asked for broker multiplexing."""
        where: dict[str, Any] = {
            "network": self.config.network,
            "socket_dir": self.socket_dir,
            "tls": tls,
            "port_range": self.config.port_range,
            "group": self.config.socket_group,
        }
        if self.config.multiplex_requested:
            self.listener, self.muxer = listen_multiplexed(server, **where)
        else:
            self.listener = listen(server, **where)
        return self.listener

    def listen_socket(self, tls: TLSPair | None) -> socket.socket:
        """Bind a net/rpc plugin's listening socket by the same rules (TLS under yamux)."""
        self.listener, sock = listen_socket(
            network=self.config.network,
            socket_dir=self.socket_dir,
            tls=tls,
            port_range=self.config.port_range,
            group=self.config.socket_group,
        )
        return sock

    def announce(self, handshake: Handshake) -> None:
        """Print the handshake line, then hand stdout/stderr over to GRPCStdio (or, for
        net/rpc, the host's stdout/stderr streams)."""
        self.real_stdout.write(handshake.format() + "\n")
        self.real_stdout.flush()
        self._restore_stdio = redirect_stdio(self.stdio, self.real_stderr)

    def handshake(
        self,
        network: str,
        address: str,
        *,
        server_cert: bytes | None = None,
        multiplex: bool | None = None,
    ) -> Handshake:
        return Handshake(
            CORE_PROTOCOL_VERSION,
            self.config.version,
            network,
            address,
            self.config.protocol,
            server_cert,
            multiplex,
        )

    def announce_debug(self, reattach: ReattachConfig) -> None:
        """Debug mode: tell the developer how a host attaches; stdio stays on the terminal."""
        self.real_stdout.write(
            "Plugin started in debug mode; it serves until interrupted (Ctrl-C).\n"
            "Attach a host with this reattach config (go-plugin ReattachConfig, Test mode):\n"
            f"{reattach.to_json()}\n"
        )
        self.real_stdout.flush()

    def install_stop_triggers(self, stop: Callable[[], None]) -> None:
        """Stop on SIGTERM and when the host dies; ignore SIGINT like Go plugins do.

        In debug mode there is no host to watch and Ctrl-C is how the developer stops us.
        """
        if threading.current_thread() is threading.main_thread():
            debug = self.config.debug
            signal.signal(signal.SIGINT, (lambda s, f: stop()) if debug else signal.SIG_IGN)
            signal.signal(signal.SIGTERM, lambda signum, frame: stop())
        if self.config.debug:
            return

        def host_gone() -> None:
            _log.info("host process is gone; shutting down")
            self.host_gone = True
            stop()
            # Like a Go plugin, whose process ends when Serve returns whatever its goroutines
            # are doing: a handler stuck in user code must not keep an orphan alive.
            timer = threading.Timer(_ORPHAN_DEADLINE, _exit_now)
            timer.daemon = True
            timer.start()

        self._stop_watch = watch_host(host_gone, stdout_fd=_fileno(self.real_stdout))

    def cleanup(self) -> None:
        if self._stop_watch is not None:
            self._stop_watch.set()
        if self._restore_stdio is not None:
            self._restore_stdio()
            self._restore_stdio = None
        if self.listener is not None:
            self.listener.close()
        if self._own_dir:
            import shutil

            shutil.rmtree(self.socket_dir, ignore_errors=True)
        for handler in logging.getLogger().handlers:
            handler.flush()


def _fileno(stream: IO[str]) -> int:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return 1
