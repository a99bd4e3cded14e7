"""ServeTestConfig: ``serve()`` inside a test process (go-plugin's ``ServeConfig.Test``).

A plugin served by :func:`goplugin.serve` owns its process: it checks the magic cookie, prints
the handshake line on stdout, hands stdout and stderr over to the host, sets signal handlers,
watches for its host's death and configures logging. None of that may happen inside a test
run, where the plugin shares the process with pytest and its host. Test mode, as in go-plugin,
serves the same plugin with the same servers and services but leaves the process alone: the
reattach config goes to :attr:`ServeTestConfig.reattach_config` instead of stdout, and
:meth:`ServeTestConfig.stop` ends serving. :mod:`goplugin.testing` is built on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._protocol.reattach import ReattachConfig

__all__ = ["ServeTestConfig"]


class ServeTestConfig:
    """What ``serve(test=...)`` needs to run in a test process instead of owning one.

    ``environ`` stands for the environment a host would give the plugin
    (``PLUGIN_PROTOCOL_VERSIONS``, ``PLUGIN_CLIENT_CERT``...); the process's own environment is
    not read, so tests running side by side cannot see each other's. The magic cookie is not
    checked. ``reattach_config`` resolves once the plugin serves (or fails with the exception
    that ended ``serve()`` before then); a host connects with ``PluginClient(reattach=...)``.
    ``stop()`` ends serving; ``serve()`` then returns. Any thread may call ``stop()``, once or
    many times, before or after the plugin starts serving.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ: dict[str, str] = dict(environ or {})
        self.reattach_config: Future[ReattachConfig] = Future()
        # _stop and _stop_requested are guarded by _lock: serve()'s thread (or loop) registers
        # the stop trigger while any thread may ask to stop.
        self._lock = threading.Lock()
        self._stop: Callable[[], None] | None = None
        self._stop_requested = False

    def stop(self) -> None:
        """End serving (now, or as soon as the plugin has started)."""
        with self._lock:
            self._stop_requested = True
            stop = self._stop
        if stop is not None:
            stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    # -- called by serve() ---------------------------------------------------------------

    def set_stop_trigger(self, stop: Callable[[], None]) -> None:
        with self._lock:
            self._stop = stop
            requested = self._stop_requested
        if requested:
            stop()

    def serving(self, reattach: ReattachConfig) -> None:
        if not self.reattach_config.done():
            self.reattach_config.set_result(reattach)

    def failed(self, exc: BaseException) -> None:
        """serve() ended before it served: whoever waits for the reattach config learns why."""
        if not self.reattach_config.done():
            self.reattach_config.set_exception(exc)
