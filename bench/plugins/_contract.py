"""What every bench plugin does per call, whichever stack serves it, and the raw handshake.

The peer and raw-stack plugins (raw grpcio, raw grpc.aio, raw grpclib, py-plugin,
pyvider-rpcplugin) all serve the two contracts with this work, so that only the plumbing
differs between rows: ``KV.Get`` reads one file (as go-plugin's examples and our kv_plugin.py
do), ``Streamer.Echo`` returns its event, ``Exchange`` echoes every event, ``Generate`` sends
``count`` events of the contract's blob pattern (as examples-py/streaming_plugin.py does).

Imports nothing but the standard library here: the generated message modules are imported by
the stacks for the contract they serve, and start-up is measured on these plugins too.
"""

from __future__ import annotations

import atexit
import os
import sys

#: contract -> (magic cookie key, value), as the Go and Python hosts of the bench send them.
COOKIES = {"kv": ("BASIC_PLUGIN", "hello"), "streaming": ("STREAMING_PLUGIN", "events")}
#: go-plugin's GRPCController: hosts call Shutdown on Kill(); a plugin without it is killed
#: only after go-plugin's 2 s grace period.
SHUTDOWN = "/plugin.GRPCController/Shutdown"


def contract_from_argv() -> str:
    contract = sys.argv[1] if len(sys.argv) > 1 else "kv"
    if contract not in COOKIES:
        raise SystemExit(f"usage: {sys.argv[0]} kv|streaming")
    return contract


def check_cookie(contract: str) -> None:
    key, value = COOKIES[contract]
    if os.environ.get(key) != value:
        sys.stderr.write("This binary is a plugin. These are not meant to be executed directly.\n")
        raise SystemExit(1)


def socket_path() -> str:
    """A fresh unix socket path in the directory the host asked for, removed at exit."""
    base = os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or "/tmp"
    path = os.path.join(base, f"bench-plugin-{os.getpid()}.sock")
    if os.path.exists(path):
        os.unlink(path)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def announce(path: str) -> None:
    """go-plugin's handshake line: core 1, app 1, unix socket, gRPC, no certificate."""
    sys.stdout.write(f"1|1|unix|{path}|grpc|\n")
    sys.stdout.flush()


def kv_get(key: str) -> bytes:
    with open("kv_" + key, "rb") as f:
        return f.read()


def kv_put(key: str, value: bytes) -> None:
    with open("kv_" + key, "wb") as f:
        f.write(value)


def pattern(seq: int, size: int) -> bytes:
    """The streaming contract's blob: seq as 8 big-endian bytes, repeated to size."""
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]
