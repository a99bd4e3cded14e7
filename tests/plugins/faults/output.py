"""Faults of a plugin's output: what it prints, when, and how much.

- ``print-before-serve``: a stray ``print()`` before ``serve()`` (the host reads it as the
  handshake line);
- ``huge-handshake-line``: 1 MiB of garbage on stdout instead of a handshake, then hangs;
- ``stderr-flood``: 20,000 plain lines on the real stderr before serving, then serves;
- call ``print:<text>``: ``print(text)`` and ``print(text, file=sys.stderr)``, returns;
- call ``print-then-exit:<text>``: ``print(text)``, then ``os._exit(5)`` at once.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from . import call, start


@start("print-before-serve")
def print_before_serve() -> None:
    print("loading configuration...")


@start("huge-handshake-line")
def huge_handshake_line() -> None:
    sys.stdout.write("x" * (1 << 20) + "\n")
    sys.stdout.flush()
    while True:
        time.sleep(3600)


@start("stderr-flood")
def stderr_flood() -> None:
    line = "fault_plugin: flooding stderr " + "." * 70 + "\n"
    sys.stderr.write(line * 20_000)
    sys.stderr.flush()


@call("print")
def print_text(arg: str, context: Any) -> bytes:
    print(arg)
    print(arg, file=sys.stderr)
    return b"printed"


@call("print-then-exit")
def print_then_exit(arg: str, context: Any) -> bytes:
    print(arg)
    os._exit(5)
