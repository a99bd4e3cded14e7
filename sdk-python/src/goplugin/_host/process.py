"""The only place that spawns, kills and reaps plugin processes (watching is ``_host/watcher.py``).

Each plugin runs in its own process group. When the plugin exits (or is killed) the watcher
SIGKILLs what is left of the group *before* reaping the leader: the zombie keeps the group id
reserved, so this can never hit an unrelated process, and nothing the plugin started outlives it.

No orphans when the host dies: plugins are killed at interpreter exit, and on SIGTERM where
SIGTERM would have killed the process anyway. A host that dies without running any code
(SIGKILL, a crash, the OOM killer) cannot kill anything, so on Linux every plugin is started
with a parent-death signal: the kernel sends it SIGTERM when the host dies (``setpriv
--pdeathsig``, util-linux, wraps the exec: about 0.7 ms more per launch; a ``preexec_fn``
calling prctl would cost a full fork instead of vfork, measured at 4-7 ms per launch from a
37 MB host and 48-87 ms from a 540 MB one, and run Python in the forked child). The signal
belongs to the thread that forked, so every plugin is forked by the watcher thread, which lives
as long as the interpreter. Limits: other systems (macOS) have no
parent-death signal, so there a plugin outlives a host killed that way, as with go-plugin's
Go host; the signal reaches the plugin process only, not processes it started itself; and a Go
plugin killed by it cannot remove its socket, so the host's socket directory stays behind (a
Python plugin removes its own files and that directory).
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from .watcher import get_watcher

if TYPE_CHECKING:
    from .output import PluginOutput

__all__ = [
    "AttachedProcess",
    "PluginProcess",
    "StdoutClosed",
    "abandon",
    "attach",
    "kill_all",
    "looks_like_python",
    "spawn",
]


class StdoutClosed(Exception):
    """The plugin closed its stdout before writing a handshake line."""


class PluginProcess:
    """A running plugin process as the host sees it. Created by :func:`spawn`."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        *,
        output: PluginOutput,
        own_group: bool,
        cleanup_dir: str | None,
        on_stdout_line: Callable[[str], None] | None = None,
    ) -> None:
        self.popen = popen
        self.cleanup_dir = cleanup_dir
        self.pid = popen.pid
        self.output = output
        output.pid = popen.pid
        #: The first stdout line, or :class:`StdoutClosed`.
        self.handshake_line: Future[str] = Future()
        #: The exit status, once the process is reaped and its pipes drained (never None here;
        #: typed like AttachedProcess.exited so callers treat both alike).
        self.exited: Future[int | None] = Future()
        self._on_stdout = on_stdout_line
        self._own_group = own_group
        self._returncode: int | None = None

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def stderr_tail(self) -> list[str]:
        """The last lines the plugin wrote (for error messages), readable and bounded."""
        return self.output.tail()

    def kill(self) -> None:
        """SIGKILL the plugin and its process group; safe to call at any time, repeatedly."""
        if self._returncode is not None:
            return
        try:
            if self._own_group:
                os.killpg(self.pid, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:  # pragma: no cover - a setuid plugin
            self.popen.kill()

    # -- called on the watcher thread ------------------------------------------------------

    def _on_stdout_line(self, line: str) -> None:
        if not self.handshake_line.done():
            self.handshake_line.set_result(line)
        if self._on_stdout is not None:
            self._on_stdout(line)
        # Later stdout lines are drained and dropped, as Go hosts do: after the handshake a
        # plugin's stdout is not a data channel (GRPCStdio / the netrpc stdout stream are).

    def _on_stdout_eof(self) -> None:
        if not self.handshake_line.done():
            self.handshake_line.set_exception(StdoutClosed())

    def _on_stderr_line(self, line: str) -> None:
        self.output.stderr_line(line)

    def _on_exit(self) -> None:
        # The process is a zombie now (pidfd readable) or already reaped (fallback path).
        if self._own_group:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._returncode = self.popen.wait()

    def _finish(self) -> None:
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if not self.handshake_line.done():
            self.handshake_line.set_exception(StdoutClosed())
        if self.cleanup_dir is not None:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)
        self.output.close()
        _live.discard(self)
        assert self._returncode is not None
        if not self.exited.done():
            self.exited.set_result(self._returncode)


class AttachedProcess:
    """A plugin this interpreter did not start (reattach): watched for exit, never reaped.

    Its exit status is not ours to know, so ``exited`` resolves to None.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exited: Future[int | None] = Future()
        self.returncode: int | None = None
        self._pidfd: int | None = None
        self._stop = threading.Event()

    def detach(self) -> None:
        """Stop watching: the host is done with this plugin (it keeps running)."""
        get_watcher().detach(self)

    def stderr_tail(self) -> list[str]:
        return []

    def kill(self) -> None:
        if self.exited.done():
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _gone(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def spawn(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str] | None,
    output: PluginOutput,
    cleanup_dir: str | None = None,
    on_stdout_line: Callable[[str], None] | None = None,
) -> Future[PluginProcess]:
    """Start a plugin in its own process group, with stdout and stderr piped to the watcher.

    The fork happens on the watcher thread (see the module docstring), so this returns a
    future: the sync client waits on it, the asyncio client awaits it without blocking its
    loop. ``cleanup_dir`` is removed once the process is gone (the private socket directory).
    If the caller gives up on the future, :func:`abandon` it. ``on_stdout_line`` sees every
    stdout line, on the watcher thread (``goplugin check`` looks for stray output around the
    handshake; hosts only need the first line).
    """
    _install_exit_hooks()
    future: Future[PluginProcess] = Future()
    argv, environ = list(cmd), dict(env)

    def start() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            proc = _start(argv, environ, cwd, output, cleanup_dir, on_stdout_line)
        except BaseException as exc:
            future.set_exception(exc)
            return
        future.set_result(proc)

    get_watcher().call_soon(start)
    return future


def abandon(spawning: Future[PluginProcess]) -> None:
    """The caller no longer wants the process of a :func:`spawn` (it was cancelled): kill it."""

    def kill(done: Future[PluginProcess]) -> None:
        if not done.cancelled() and done.exception() is None:
            done.result().kill()

    if not spawning.cancel():
        spawning.add_done_callback(kill)


def _start(
    argv: list[str],
    env: dict[str, str],
    cwd: str | os.PathLike[str] | None,
    output: PluginOutput,
    cleanup_dir: str | None,
    on_stdout_line: Callable[[str], None] | None,
) -> PluginProcess:
    """Fork and exec (on the watcher thread), then watch the process."""
    group: dict[str, Any] = {}
    if os.name == "posix":
        if sys.version_info >= (3, 11):
            group["process_group"] = 0
        else:  # pragma: no cover - 3.10
            group["start_new_session"] = True
    wrapper = _death_signal_wrapper()
    if wrapper:
        _check_executable(argv[0], env, cwd)  # what Popen would raise; setpriv only exits 127
    popen = subprocess.Popen(
        [*wrapper, *argv],
        stdin=None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        close_fds=True,
        **group,
    )
    proc = PluginProcess(
        popen,
        output=output,
        own_group=bool(group),
        cleanup_dir=cleanup_dir,
        on_stdout_line=on_stdout_line,
    )
    _live.add(proc)
    get_watcher().add(proc)
    return proc


# -- the parent-death signal -------------------------------------------------------------------

# ``setpriv --pdeathsig TERM --`` where it exists and works, else empty. Probed once, on the
# watcher thread (the only one that spawns), so no lock.
_wrapper: list[str] | None = None


def _death_signal_wrapper() -> list[str]:
    global _wrapper
    if _wrapper is None:
        _wrapper = _probe_setpriv() if sys.platform.startswith("linux") else []
    return _wrapper


def _probe_setpriv() -> list[str]:
    for path in ("/usr/bin/setpriv", "/bin/setpriv", shutil.which("setpriv")):
        if path and os.access(path, os.X_OK):
            wrapper = [path, "--pdeathsig", "TERM", "--"]
            try:
                # util-linux >= 2.33 knows --pdeathsig; the prctl may still be refused (seccomp).
                probe = subprocess.run(
                    [*wrapper, path, "--version"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=10,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):
                return []
            return wrapper if probe.returncode == 0 else []
    return []


def _check_executable(
    program: str, env: Mapping[str, str], cwd: str | os.PathLike[str] | None
) -> None:
    """Raise FileNotFoundError/PermissionError as ``subprocess.Popen`` would for ``program``."""
    if os.path.dirname(program):
        candidates = [program if cwd is None else os.path.join(cwd, program)]
    else:
        candidates = [
            os.path.join(folder if cwd is None else os.path.join(cwd, folder), program)
            for folder in os.get_exec_path(dict(env))
        ]
    error = errno.ENOENT
    for path in candidates:
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return
            error = errno.EACCES
        elif os.path.isdir(path):
            error = errno.EACCES
    exc = FileNotFoundError if error == errno.ENOENT else PermissionError
    raise exc(error, os.strerror(error), program)


def looks_like_python(argv: Sequence[str]) -> bool:
    """Whether a plugin command runs a Python program (to pick the hints of error messages)."""
    for arg in argv[:3]:
        name = os.path.basename(arg).lower()
        if name.startswith(("python", "pypy")) or name.endswith((".py", ".pyz")):
            return True
    program = argv[0] if os.path.dirname(argv[0]) else shutil.which(argv[0])
    try:  # a console script (pip's entry points): "#!/.../python3"
        with open(program or argv[0], "rb") as f:
            first = f.readline(256)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def attach(pid: int) -> AttachedProcess:
    """Watch a running plugin process (reattach). Raises ProcessLookupError if it is gone."""
    try:
        os.kill(pid, 0)  # ProcessLookupError if there is no such process
    except PermissionError:
        pass  # it exists; another user's
    proc = AttachedProcess(pid)
    get_watcher().add_attached(proc)
    return proc


# -- no orphans: kill what is still running at interpreter exit and on SIGTERM ----------------

# The watcher thread adds (it spawns) and discards, kill_all copies from any thread: single set
# operations, atomic, so no lock. A forked child starts afresh (_reset_after_fork).
_live: set[PluginProcess] = set()
_hooks_installed = False


def kill_all(timeout: float = 2.0) -> None:
    """SIGKILL every plugin this interpreter started and wait (bounded) until they are reaped.

    Like go-plugin's ``CleanupClients``, but without the graceful step: at interpreter exit
    or on SIGTERM there is no time to be polite, and grpcio may already be shutting down.
    """
    if os.getpid() != _owner_pid:  # a forked child inherited this hook: not its plugins
        return
    procs = list(_live)
    for proc in procs:
        proc.kill()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.exited.result(max(0.0, deadline - time.monotonic()))
        except Exception:
            pass


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM where nobody handles it: kill the plugins, then die of SIGTERM as before."""
    kill_all()  # a no-op in a forked child
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


_sigterm_hooked = False
_owner_pid = os.getpid()


def _install_exit_hooks() -> None:
    """At the first launch: kill plugins at exit, and on SIGTERM if nobody else handles it.

    An application's SIGTERM handler always wins: when one is installed (a Python handler,
    or asyncio's ``add_signal_handler``) at the first launch, nothing is hooked, and one
    installed later simply replaces ours. The application then decides what happens to its
    plugins (``kill()`` is graceful; they are killed at interpreter exit anyway). Ours only
    replaces SIG_DFL, where SIGTERM would have ended the process without running ``atexit``.
    """
    global _hooks_installed, _sigterm_hooked, _owner_pid
    if not _hooks_installed:
        _hooks_installed = True
        _owner_pid = os.getpid()
        atexit.register(kill_all)
    # Signal handlers can only be set from the main thread: try again at the next spawn if
    # this one runs elsewhere.
    if _sigterm_hooked or threading.current_thread() is not threading.main_thread():
        return
    _sigterm_hooked = True
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _reset_after_fork() -> None:
    # A forked child (multiprocessing, a daemon) owns none of its parent's plugins: it must
    # neither kill them at its exit nor on SIGTERM.
    global _live, _hooks_installed
    _live = set()
    _hooks_installed = False  # the child's own plugins, if any, get the hooks afresh


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
