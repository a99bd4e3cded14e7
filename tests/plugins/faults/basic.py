"""The plain ways to die or stall, before the handshake and in the middle of a call."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from . import call, start


@start("exit-before-handshake")
def exit_before_handshake() -> None:
    sys.stderr.write("fault_plugin: exiting before the handshake\n")
    sys.stderr.flush()
    os._exit(3)


@start("hang-before-handshake")
def hang_before_handshake() -> None:
    sys.stderr.write("fault_plugin: hanging before the handshake\n")
    sys.stderr.flush()
    while True:
        time.sleep(3600)


@call("exit")
def exit_mid_call(arg: str, context: Any) -> bytes:
    stderr = sys.__stderr__
    assert stderr is not None
    stderr.write("fault_plugin: exiting mid-call\n")
    stderr.flush()
    os._exit(4)


@call("sleep")
def sleep(arg: str, context: Any) -> bytes:
    """sleep:<seconds>, ignoring the caller's deadline."""
    time.sleep(float(arg))
    return f"slept {arg}".encode()


@call("error")
def error(arg: str, context: Any) -> bytes:
    """error:<text>: a handler exception (UNKNOWN with the text at the host)."""
    raise RuntimeError(arg)
