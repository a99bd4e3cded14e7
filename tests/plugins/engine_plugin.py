"""The Streamer plugin (examples-py's) with the knobs the serving-engine tests need.

Switches, from the environment its host passes on:
  ENGINE_PLUGIN_FLAVOUR=sync|aio  goplugin.serve or goplugin.aio.serve
  ENGINE_PLUGIN_READ_DELAY=S      Collect sleeps S seconds after each event it reads: a handler
                                  slower than its caller, whose request stream must not pile up
                                  in the plugin

Echo of a text event "md" answers with what the handler saw of the call's metadata in the
event's labels (``x-text``, and length and SHA-256 of ``x-blob-bin``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import streaming_plugin
import streaming_plugin_aio
from gen.streaming import streaming_goplugin, streaming_pb2

import goplugin
import goplugin.aio

DELAY = float(os.environ.get("ENGINE_PLUGIN_READ_DELAY", "0"))


def _reflect(request: streaming_pb2.Event, context: Any) -> streaming_pb2.Event:
    if request.text != "md":
        return request
    seen = dict(context.invocation_metadata())
    blob = seen.get("x-blob-bin", b"")
    request.labels["x-text"] = str(seen.get("x-text", ""))
    request.labels["x-blob-bin-len"] = str(len(blob))
    request.labels["x-blob-bin-sha"] = hashlib.sha256(blob).hexdigest()
    return request


class Streamer(streaming_plugin.Streamer):
    def echo(self, request: streaming_pb2.Event, context: Any) -> streaming_pb2.Event:
        return _reflect(super().echo(request, context), context)

    def collect(
        self, request_iterator: Iterator[streaming_pb2.Event], context: Any
    ) -> streaming_pb2.Summary:
        def slow() -> Iterator[streaming_pb2.Event]:
            for event in request_iterator:
                time.sleep(DELAY)
                yield event

        return super().collect(slow(), context)


class AsyncStreamer(streaming_plugin_aio.Streamer):
    async def echo(self, request: streaming_pb2.Event, context: Any) -> streaming_pb2.Event:
        return _reflect(await super().echo(request, context), context)

    async def collect(
        self, request_iterator: AsyncIterator[streaming_pb2.Event], context: Any
    ) -> streaming_pb2.Summary:
        async def slow() -> AsyncIterator[streaming_pb2.Event]:
            async for event in request_iterator:
                await asyncio.sleep(DELAY)
                yield event

        return await super().collect(slow(), context)


def main() -> None:
    handshake = streaming_plugin.HANDSHAKE
    if os.environ.get("ENGINE_PLUGIN_FLAVOUR") == "aio":
        plugin = streaming_goplugin.StreamerPlugin(impl=AsyncStreamer())
        asyncio.run(goplugin.aio.serve(handshake=handshake, plugins={"streamer": plugin}))
    else:
        plugin = streaming_goplugin.StreamerPlugin(impl=Streamer())
        goplugin.serve(handshake=handshake, plugins={"streamer": plugin})


if __name__ == "__main__":
    main()
