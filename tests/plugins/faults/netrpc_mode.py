"""``serve-netrpc``: serve "kv" over net/rpc instead of gRPC (twin of the Go fault plugin's).

``Plugin.Get(key string) []byte`` runs the call fault named by a key ``fault:name[:arg]``
(with no grpc context: ``None``) and echoes any other key. The start fault serves, with
``goplugin.serve`` or, under ``GOPLUGIN_FAULT_FLAVOUR=aio``, ``goplugin.aio.serve`` (the
fault then runs on a daemon thread of its own), and exits when serving ends.
"""

from __future__ import annotations

import asyncio
import os
import sys

from . import call_fault, start
from ._threads import on_daemon_thread


@start("serve-netrpc")
def serve_netrpc() -> None:
    import goplugin
    import goplugin.aio
    from goplugin import netrpc
    from goplugin.netrpc import gob

    def get(key: str) -> bytes:
        if not key.startswith("fault:"):
            return key.encode()
        name, _, arg = key.removeprefix("fault:").partition(":")
        return call_fault(name)(arg, None)

    class KV:
        @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.BYTES)
        def get(self, key: str) -> bytes:
            return get(key)

    class AsyncKV:
        @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.BYTES)
        async def get(self, key: str) -> bytes:
            return await on_daemon_thread(lambda: get(key))

    handshake = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
    if os.environ.get("GOPLUGIN_FAULT_FLAVOUR") == "aio":
        plugins = {"kv": netrpc.Plugin(AsyncKV())}
        asyncio.run(goplugin.aio.serve(handshake=handshake, plugins=plugins))
    else:
        goplugin.serve(handshake=handshake, plugins={"kv": netrpc.Plugin(KV())})
    sys.exit(0)
