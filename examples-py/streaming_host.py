"""A Python host (asyncio) for Streamer plugins, Go or Python: one call of each kind::

python streaming_host.py "<plugin command>"
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc
from gen.common import types_pb2
from gen.streaming import streaming_goplugin, streaming_pb2

import goplugin.aio

HANDSHAKE = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")


async def events(n: int) -> AsyncIterator[streaming_pb2.Event]:
    for seq in range(n):
        yield streaming_pb2.Event(seq=seq, text=f"event {seq}")


async def main(command: str) -> None:
    streamer_plugin = streaming_goplugin.StreamerPlugin()
    plugins = {"streamer": streamer_plugin}
    async with goplugin.aio.PluginClient(command, handshake=HANDSHAKE, plugins=plugins) as client:
        # The asyncio host dispenses the asyncio client: an AsyncStreamerClient, to mypy too.
        streamer = await client.dispense(streamer_plugin)

        event = streaming_pb2.Event(seq=1, severity=types_pb2.SEVERITY_INFO, labels={"from": "py"})
        event.metric.name, event.metric.value = "latency", 0.25
        event.time.GetCurrentTime()
        echoed = await streamer.echo(event, timeout=10)
        print("echo:", echoed.metric.name, dict(echoed.labels))

        request = streaming_pb2.GenerateRequest(count=1000, blob_size=32)
        received = sum([len(e.blob) async for e in streamer.generate(request)])
        print("generate: received", received, "blob bytes")

        summary = await streamer.collect(events(500))
        print("collect: plugin counted", summary.count, "events, in order:", summary.in_order)

        async for echoed in streamer.exchange(events(3)):
            print("exchange:", echoed.text)

        wait = streaming_pb2.WaitRequest()
        wait.duration.FromSeconds(60)
        try:
            await streamer.wait(wait, timeout=0.2)
        except grpc.aio.AioRpcError as exc:
            print("wait with a 200ms deadline:", exc.code().name)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1]))
