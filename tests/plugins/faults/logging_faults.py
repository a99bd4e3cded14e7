"""Log lines on demand, to see which ones reach a host (and that nothing else does), and a
start-up failure inside serve() for the host to report."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from . import call, start

_log = logging.getLogger("fault")


@call("log")
def log_line(arg: str, context: Any) -> bytes:
    """log:<level>:<message>: one record on the "fault" logger at that level (debug, info...)."""
    level, _, message = arg.partition(":")
    _log.log(logging.getLevelName(level.upper()), message)
    return b"logged"


@start("socket-dir-too-long")
def socket_dir_too_long() -> None:
    """As if the host had chosen a PLUGIN_UNIX_SOCKET_DIR with no room for a socket name: serve()
    fails to start (and must say why in a line the host shows)."""
    os.environ["PLUGIN_UNIX_SOCKET_DIR"] = os.path.join(tempfile.gettempdir(), "d" * 100)
