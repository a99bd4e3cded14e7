"""The plugin process's side effects, shared by both ``serve()`` flavours.

Logging to the host, binding the listener, printing the handshake line, swapping stdio,
watching for the host's death, signals, and cleaning up the socket: the asyncio and sync
servers, gRPC or net/rpc, differ only in how they serve calls, so all of this lives here once.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from .._protocol.handshake import CORE_PROTOCOL_VERSION, Handshake
from .._protocol.hclog import HclogJSONFormatter
from .._services.stdio import StdioBuffer, redirect_stdio
from .._transport.endpoints import Listener, TLSPair, listen, listen_multiplexed, listen_socket
from .._transport.sockets import private_socket_dir
from .watchdog import host_is_gone, watch_host

if TYPE_CHECKING:
    import socket

    from .._protocol.reattach import ReattachConfig
    from .._transport.grpcmux import GRPCMuxer
    from .config import ServeConfig
    from .testmode import ServeTestConfig

__all__ = [
    "ENV_LOG_LEVEL",
    "PluginRuntime",
    "configure_logging",
    "log_level_from_env",
    "report_failure",
    "reports_failures",
]

_log = logging.getLogger("goplugin.server")

_F = TypeVar("_F", bound=Callable[..., Any])

# Once the host is gone, the process ends within this many seconds even if handlers hang.
_ORPHAN_DEADLINE = 1.5
# A host's parent-death signal (see _host/process.py) comes while the host is still being torn down
# (when the thread that started us exits): how long SIGTERM lets it finish dying before we
# decide whether its socket directory is ours to remove.
_DYING_HOST_WAIT = 0.2


#: The host's user's say over a plugin's log level (names as hclog's: trace, debug, info, warn,
#: error). go-plugin hosts pass their environment on to the plugins they launch.
ENV_LOG_LEVEL = "GOPLUGIN_LOG_LEVEL"
# grpc's own loggers ("grpc", "grpc._cython.cygrpc", ...): grpc.aio logs a DEBUG line per call.
_GRPC_LOGGER = "grpc"


class _HostLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs: found again and replaced, never duplicated."""


# How many handshake lines (or debug-mode reattach configs) this process has announced: tells
# reports_failures whether serve() failed before or after. Written by serve()'s thread only.
_announced = 0

# The level configure_logging gave grpc's logger (None: not touched); a level anyone else set
# is the user's and stays. Only configure_logging reads and writes it, from serve()'s thread.
_grpc_level_set: int | None = None


def log_level_from_env() -> int:
    """INFO, or what GOPLUGIN_LOG_LEVEL says.

    A Go host logs a plugin's lines through its own logger, which drops those below its level;
    the plugin cannot know that level. Every line it sends costs it formatting and a pipe
    write whether or not the host keeps it, so by default it sends INFO and up, and whoever
    runs the host asks for more with GOPLUGIN_LOG_LEVEL=debug (or trace).
    """
    from .._protocol.hclog import level_from_name

    return level_from_name(os.environ.get(ENV_LOG_LEVEL, "")) or logging.INFO


def configure_logging(level: int, *, for_humans: bool = False) -> None:
    """Route stdlib logging to the host as hclog JSON on the real stderr.

    Done before anything else in ``serve()``, so that even a failed version negotiation
    reaches the host's log at the right level. In debug mode a person reads stderr instead.
    Runs any number of times with one handler: the previous one is replaced.

    grpc's own loggers stay at INFO or above unless the user set their level: at DEBUG,
    grpc.aio writes a line per call ("Loaded running loop"), which costs 10-25% of a call.
    """
    global _grpc_level_set
    handler = _HostLogHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s [%(levelname)s] %(name)s: %(message)s")
        if for_humans
        else HclogJSONFormatter()
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HostLogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    grpc_logger = logging.getLogger(_GRPC_LOGGER)
    if grpc_logger.level in (logging.NOTSET, _grpc_level_set):
        _grpc_level_set = max(level, logging.INFO)
        grpc_logger.setLevel(_grpc_level_set)


def reports_failures(serve: _F) -> _F:
    """Decorates both flavours' ``serve()``: an exception that ends it is reported to the host
    (see :func:`report_failure`), then propagates as before."""
    import functools
    import inspect

    if inspect.iscoroutinefunction(serve):

        @functools.wraps(serve)
        async def serve_reporting_async(*args: Any, **kwargs: Any) -> Any:
            announced = _announced
            try:
                return await serve(*args, **kwargs)
            except Exception as exc:
                report_failure(
                    exc, started=_announced != announced, own_process=kwargs.get("test") is None
                )
                raise

        return cast("_F", serve_reporting_async)

    @functools.wraps(serve)
    def serve_reporting(*args: Any, **kwargs: Any) -> Any:
        announced = _announced
        try:
            return serve(*args, **kwargs)
        except Exception as exc:
            report_failure(
                exc, started=_announced != announced, own_process=kwargs.get("test") is None
            )
            raise

    return cast("_F", serve_reporting)


# The exception report_failure() last wrote a traceback for; _skip_reported_traceback keeps
# the interpreter from writing it a second time when it ends the process. Written only by the
# thread that ran serve(), read by the excepthook on that same thread at exit.
_reported: BaseException | None = None


def _skip_reported_traceback(previous: Callable[..., Any]) -> Callable[..., Any]:
    def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if value is not _reported:
            previous(kind, value, tb)

    excepthook.__goplugin__ = True  # type: ignore[attr-defined]
    return excepthook


def report_failure(exc: BaseException, *, started: bool = False, own_process: bool = False) -> None:
    """Tell the host why serve() failed, as one hclog ERROR line: a Go host logs the plain
    lines of a traceback at DEBUG, where nobody looks, and drops them at INFO; the line also
    ends up in a Python host's stderr tail. ``started``: after the handshake line.

    ``own_process`` (not go-plugin's test mode, where the process is the test runner's): the
    traceback is written here, *before* the ERROR line, and not again when the exception ends
    the process. A host keeps only the last lines of a plugin's stderr, and a deep traceback
    (Python 3.13's carets double its length) would otherwise push the one line that says what
    went wrong out of it."""
    global _reported
    fields = {"error": f"{type(exc).__name__}: {exc}"}
    message = f"plugin {'failed' if started else 'failed to start'}: {exc}"
    if own_process:
        import traceback

        try:
            sys.stderr.write("".join(traceback.format_exception(exc)))
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        else:
            _reported = exc
            if not getattr(sys.excepthook, "__goplugin__", False):
                sys.excepthook = _skip_reported_traceback(sys.excepthook)
    if any(isinstance(h, _HostLogHandler) for h in logging.getLogger().handlers):
        _log.error(message, extra=fields)
        return
    # Logging is the application's (serve(configure_logging=False)), or serve() failed before
    # setting it up: write the line ourselves.
    record = logging.LogRecord(_log.name, logging.ERROR, __file__, 0, message, None, None)
    record.__dict__.update(fields)
    try:
        sys.stderr.write(HclogJSONFormatter().format(record) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class PluginRuntime:
    def __init__(self, config: ServeConfig, test: ServeTestConfig | None = None) -> None:
        self.config = config
        #: Test mode (go-plugin's ServeConfig.Test): the process is not ours to change.
        self.test = test
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
        self._parent = os.getppid()
        self._files_lock = threading.Lock()  # cleanup and the orphan timer may both remove
        self._terminated = False  # SIGTERM arrived
        #: Set when the host is known to be dead: nobody waits for answers any more.
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
        net/rpc, the host's stdout/stderr streams).

        In test mode the reattach config goes to the test instead, and stdio stays as it is.
        """
        global _announced
        if self.test is not None:
            from .._protocol.reattach import ReattachConfig

            _announced += 1
            self.test.serving(
                ReattachConfig(
                    handshake.protocol,
                    handshake.app_version,
                    handshake.network,
                    handshake.address,
                    os.getpid(),
                    test=True,
                )
            )
            return
        self.real_stdout.write(handshake.format() + "\n")
        self.real_stdout.flush()
        _announced += 1
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
        """Debug mode: tell the developer how a host attaches; stdio stays on the terminal.

        With a provider address, also the lines terraform-plugin-go's debug mode prints, so
        that Terraform (or any host reading TF_REATTACH_PROVIDERS) attaches as it would to a
        Go provider: the shell line is pasted as it is.
        """
        global _announced
        out = self.real_stdout
        out.write(
            "Plugin started in debug mode; it serves until interrupted (Ctrl-C).\n"
            "Attach a host with this reattach config (go-plugin ReattachConfig, Test mode):\n"
            f"{reattach.to_json()}\n"
        )
        address = self.config.provider_address
        if address is not None:
            from .._protocol.reattach import TF_REATTACH_PROVIDERS, tf_reattach_line

            out.write(
                f"Provider started. To attach Terraform CLI, set the {TF_REATTACH_PROVIDERS} "
                "environment variable with the following:\n\n"
                f"\t{tf_reattach_line(address, reattach)}\n\n"
            )
        out.flush()
        _announced += 1

    def install_stop_triggers(self, stop: Callable[[], None]) -> None:
        """Stop on SIGTERM and when the host dies; ignore SIGINT like Go plugins do.

        In debug mode there is no host to watch and Ctrl-C is how the developer stops us. In
        test mode the process belongs to the test: the test's ``stop()`` (or a host's Shutdown)
        stops us, nothing else.
        """
        if self.test is not None:
            self.test.set_stop_trigger(stop)
            return
        if threading.current_thread() is threading.main_thread():

            def on_signal(signum: int, frame: object) -> None:
                # Maybe a dying host's parent-death signal (see _host/process.py).
                self._terminated = signum == signal.SIGTERM
                self.host_gone = self.host_gone or self._host_is_gone()
                self.stdio.stop_waiting()
                # Not stop() itself: the handler runs on the main thread, which may be inside
                # the very (non-reentrant) lock of the event stop() sets.
                threading.Thread(target=stop, name="goplugin-signal", daemon=True).start()

            signal.signal(signal.SIGINT, on_signal if self.config.debug else signal.SIG_IGN)
            signal.signal(signal.SIGTERM, on_signal)
        if self.config.debug:
            return

        def host_gone() -> None:
            self.host_gone = True
            self.stdio.stop_waiting()
            _log.info("host process is gone; shutting down")
            stop()
            # Like a Go plugin, whose process ends when Serve returns whatever its goroutines
            # are doing: a handler stuck in user code must not keep an orphan alive.
            timer = threading.Timer(_ORPHAN_DEADLINE, self._exit_orphaned)
            timer.daemon = True
            timer.start()

        self._stop_watch = watch_host(host_gone, stdout_fd=_fileno(self.real_stdout))

    def cleanup(self) -> None:
        self.stdio.stop_waiting()
        if self._stop_watch is not None:
            self._stop_watch.set()
        if self._restore_stdio is not None:
            self._restore_stdio()
            self._restore_stdio = None
        if self.listener is not None:
            self.listener.close()
        self._remove_files()
        for handler in logging.getLogger().handlers:
            handler.flush()

    def _host_is_gone(self) -> bool:
        return not self.config.debug and host_is_gone(
            self._parent, stdout_fd=_fileno(self.real_stdout)
        )

    def _host_dying(self) -> bool:
        if not self._terminated:
            return False
        deadline = time.monotonic() + _DYING_HOST_WAIT
        while time.monotonic() < deadline:
            time.sleep(0.01)
            if self._host_is_gone():
                return True
        return False

    def _remove_files(self, wait: float = -1) -> None:
        """Our socket directory, and the host's if the host died (nobody else will)."""
        if not self._files_lock.acquire(timeout=wait):
            return
        try:
            if self._own_dir:
                import shutil

                shutil.rmtree(self.socket_dir, ignore_errors=True)
            elif self.host_gone or self._host_is_gone() or self._host_dying():
                _remove_sockets_and_dir(self.socket_dir)
        finally:
            self._files_lock.release()

    def _exit_orphaned(self) -> None:
        """The host is gone and serving did not end in time: end the process now.

        Without ``logging.shutdown()``: a handler stuck on its lock (writing to the dead host's
        pipe, say) must not keep the orphan alive, and nobody reads those lines any more.
        """
        self._remove_files(wait=0.5)
        os._exit(0)


def _remove_sockets_and_dir(path: str) -> None:
    """A dead host's socket directory: its sockets (ours, the broker's, the host's) are of no
    use to anyone; anything else in it is not ours to judge, so the directory goes only if
    that leaves it empty."""
    try:
        with os.scandir(path) as entries:
            sockets = [
                e.path for e in entries if stat.S_ISSOCK(e.stat(follow_symlinks=False).st_mode)
            ]
    except OSError:
        return
    for socket_path in sockets:
        try:
            os.unlink(socket_path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _fileno(stream: IO[str]) -> int:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return 1
