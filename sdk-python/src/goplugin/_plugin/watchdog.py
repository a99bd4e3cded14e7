"""Plugin side: notice that the host process is gone, even when it died by SIGKILL.

The host holds the read end of our stdout pipe; when the host dies the kernel closes it and a
poll on our write end reports POLLERR at once. That works even when a shell sits between host
and plugin (``sh -c "python3 plugin.py"``), where the parent pid never changes. A change of
parent pid is the fallback when stdout is not a pipe.
"""

from __future__ import annotations

import os
import select
import stat
import threading
from collections.abc import Callable

__all__ = ["host_is_gone", "watch_host"]

_POLL_INTERVAL_MS = 250


def _is_pipe_or_socket(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def host_is_gone(parent: int, *, stdout_fd: int = 1) -> bool:
    """Whether the host is gone now: our stdout pipe lost its reader, or we were re-parented."""
    if os.getppid() != parent:
        return True
    if not hasattr(select, "poll") or not _is_pipe_or_socket(stdout_fd):
        return False
    poller = select.poll()
    poller.register(stdout_fd, select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def watch_host(on_gone: Callable[[], None], *, stdout_fd: int = 1) -> threading.Event:
    """Call ``on_gone`` once, from a daemon thread, when the host goes away.

    Returns an event; setting it stops the watch.
    """
    stop = threading.Event()
    parent = os.getppid()
    poller = select.poll() if hasattr(select, "poll") else None
    if poller is not None and _is_pipe_or_socket(stdout_fd):
        poller.register(stdout_fd, select.POLLERR | select.POLLHUP)
    else:
        poller = None

    def run() -> None:
        while not stop.is_set():
            if poller is not None:
                if poller.poll(_POLL_INTERVAL_MS):
                    break
            elif stop.wait(_POLL_INTERVAL_MS / 1000):
                return
            if os.getppid() != parent:
                break
        if not stop.is_set():
            on_gone()

    threading.Thread(target=run, name="goplugin-host-watch", daemon=True).start()
    return stop
