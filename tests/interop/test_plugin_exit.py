"""A Python plugin stops when its host asks, whatever its handlers are doing.

go-plugin's ``plugin.Serve`` returns when the host says Shutdown (or Control.Quit) and a Go
plugin's process ends with it, goroutines and all. A Python plugin whose handler never returns
(blocked on a lock, a socket, a device) must end the same way: a sync ``serve()`` ran gRPC
handlers on ThreadPoolExecutor workers, which the interpreter joins at exit, so such a plugin
lived on until its host SIGKILLed it (``kill()`` took the whole kill timeout); so did the pure
engine's. Found by the fault plugin's ``block`` call (tests/interop/test_fault_plugins.py
checks every kind with the default engine, this test both engines).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS

import goplugin
from goplugin.netrpc import gob

pytestmark = pytest.mark.interop

KILL_TIMEOUT = 5.0


@pytest.mark.parametrize("engine", ["grpcio", "pure"])
def test_a_handler_that_never_returns_does_not_keep_the_plugin_alive(
    plugin_pythonpath: None, generated: Path, engine: str
) -> None:
    # The sync serve(), gRPC: the one that failed. The other kinds (net/rpc, aio.serve()) are
    # in test_fault_plugins.py's test_kill_with_a_call_that_never_returns.
    flavour, protocol = "sync", "grpc"
    from gen.kv import kv_goplugin, kv_pb2

    faults = "serve-netrpc" if protocol == "netrpc" else ""
    env = {"GOPLUGIN_FAULT": faults, "GOPLUGIN_ENGINE": engine}
    if flavour == "aio":
        env["GOPLUGIN_FAULT_FLAVOUR"] = "aio"
    client = goplugin.PluginClient(
        [sys.executable, str(PLUGINS / "fault_plugin.py")],
        handshake=EXAMPLE_HANDSHAKE,
        plugins={"kv": kv_goplugin.KVPlugin()},
        env=env,
        kill_timeout=KILL_TIMEOUT,
    )
    try:
        kv: Any = client.dispense("kv")

        def get(key: str) -> bytes:
            if protocol == "grpc":
                return kv.get(kv_pb2.GetRequest(key=key), timeout=10).value  # type: ignore[no-any-return]
            return kv.call("Plugin.Get", key, gob.BYTES, timeout=10)  # type: ignore[no-any-return]

        # The call ends with the kill (its error is the lifecycle's business, not this test's).
        threading.Thread(target=lambda: _swallow(get, "fault:block"), daemon=True).start()
        deadline = time.monotonic() + 10
        while get("fault:blocked") != b"1":
            assert time.monotonic() < deadline, "the blocking call never reached the plugin"
            time.sleep(0.01)
        started = time.monotonic()
        client.kill()
        took = time.monotonic() - started
    finally:
        client.kill()
    assert client.returncode == 0, f"exit status {client.returncode}: it had to be SIGKILLed"
    assert took < KILL_TIMEOUT


def _swallow(get: Any, key: str) -> None:
    try:
        get(key)
    except Exception:
        pass
