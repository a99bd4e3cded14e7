"""More call faults (twins of testprogs/faultplugin/call_faults.go), and a way to stay alive.

- ``hang``: never returns, whatever the caller's deadline;
- ``block``: ``hang``, counted; ``blocked`` answers how many calls are inside ``block``, so a
  host can wait until N calls are in flight before it kills the plugin;
- ``stderr-flood:<lines>``: that many lines on the real stderr, then an answer;
- ``abort``: ``os.abort()``, the process dies of SIGABRT in the middle of the call (what a
  crash in a C extension looks like to the host);
- start fault ``ignore-shutdown``: a non-daemon thread that never ends, so the interpreter
  cannot exit after ``serve()`` returns: the host's GRPCController.Shutdown or Control.Quit is
  answered, yet the process lives on (the way a Python plugin most often fails to exit).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from . import call, start
from .handshake import block_forever

_blocked = 0
_blocked_lock = threading.Lock()  # guards _blocked: every call thread of the plugin


@call("hang")
def hang(arg: str, context: Any) -> bytes:
    block_forever()
    return b""


@call("block")
def block(arg: str, context: Any) -> bytes:
    global _blocked
    with _blocked_lock:
        _blocked += 1
    block_forever()
    return b""


@call("blocked")
def blocked(arg: str, context: Any) -> bytes:
    with _blocked_lock:
        return str(_blocked).encode()


@call("stderr-flood")
def stderr_flood(arg: str, context: Any) -> bytes:
    line = "fault_plugin: flooding stderr mid-call " + "." * 60 + "\n"
    assert sys.__stderr__ is not None  # a plugin's stderr is the host's pipe
    sys.__stderr__.write(line * int(arg))
    sys.__stderr__.flush()
    return b"flooded"


@call("abort")
def abort(arg: str, context: Any) -> bytes:
    assert sys.__stderr__ is not None  # a plugin's stderr is the host's pipe
    sys.__stderr__.write("fault_plugin: aborting mid-call\n")
    sys.__stderr__.flush()
    os.abort()


@start("ignore-shutdown")
def ignore_shutdown() -> None:
    sys.stderr.write("fault_plugin: a non-daemon thread will keep this process alive\n")
    sys.stderr.flush()
    threading.Thread(target=block_forever, name="lingering", daemon=False).start()
