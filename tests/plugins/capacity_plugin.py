"""A Python plugin for the capacity tests: calls that hold the plugin busy, and a quick one.

Switches, from the environment its host passes on:
  CAPACITY_PROTOCOL=grpc|netrpc  gRPC: examples-py's Streamer (handshake STREAMING_PLUGIN=events,
                                 plugin "streamer"; Exchange streams hold it busy, Echo is quick).
                                 net/rpc: "greeter" with ``Plugin.Sleep(seconds)`` and
                                 ``Plugin.Greet`` (handshake BASIC_PLUGIN=hello).
  CAPACITY_FLAVOUR=sync|aio      goplugin.serve or goplugin.aio.serve (net/rpc methods are then
                                 ``async def``)
  CAPACITY_MAX_CALLS=N           serve(max_concurrent_calls=N); unset: serve()'s default
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin.netrpc import gob

STREAMING = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
BASIC = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Greeter:
    @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
    def greet(self, args: None) -> str:
        return "Hello!"

    @netrpc.method("Sleep", args_type=gob.FLOAT64, reply_type=gob.BOOL)
    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True


class AsyncGreeter:
    @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
    async def greet(self, args: None) -> str:
        return "Hello!"

    @netrpc.method("Sleep", args_type=gob.FLOAT64, reply_type=gob.BOOL)
    async def sleep(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return True


def main() -> None:
    aio = os.environ.get("CAPACITY_FLAVOUR") == "aio"
    options: dict[str, Any] = {}
    if os.environ.get("CAPACITY_MAX_CALLS"):
        options["max_concurrent_calls"] = int(os.environ["CAPACITY_MAX_CALLS"])
    if os.environ.get("CAPACITY_PROTOCOL") == "netrpc":
        greeter = AsyncGreeter() if aio else Greeter()
        options.update(handshake=BASIC, plugins={"greeter": netrpc.Plugin(greeter)})
    else:
        from gen.streaming import streaming_goplugin

        if aio:
            from streaming_plugin_aio import Streamer as AsyncStreamer

            impl: Any = AsyncStreamer()
        else:
            from streaming_plugin import Streamer

            impl = Streamer()
        options.update(
            handshake=STREAMING, plugins={"streamer": streaming_goplugin.StreamerPlugin(impl=impl)}
        )
    if aio:
        asyncio.run(goplugin.aio.serve(**options))
    else:
        goplugin.serve(**options)


if __name__ == "__main__":
    main()
