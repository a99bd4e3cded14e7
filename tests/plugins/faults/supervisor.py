"""Faults for the Supervisor's tests: a plugin that serves normally, then dies on its own."""

from __future__ import annotations

import os
import sys
import threading

from . import start


@start("exit-after-start")
def exit_after_start() -> None:
    """Serve, then exit with status 5 after GOPLUGIN_FAULT_EXIT_AFTER_MS (default 300)."""
    after = int(os.environ.get("GOPLUGIN_FAULT_EXIT_AFTER_MS", "300")) / 1000

    def die() -> None:
        assert sys.__stderr__ is not None
        sys.__stderr__.write("fault_plugin: exiting after start\n")
        sys.__stderr__.flush()
        os._exit(5)

    timer = threading.Timer(after, die)
    timer.daemon = True
    timer.start()
