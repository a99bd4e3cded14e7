"""The generated Python glue, in process: what a plugin author and a host author rely on.

Real grpcio servers and channels on a unix socket, no plugin process: UNIMPLEMENTED for
methods left alone, both flavours of servicer and client, the GRPCPlugin protocol, and
cancellation reaching the servicer.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples-py"))

from gen.streaming import streaming_goplugin, streaming_pb2
from google.protobuf import empty_pb2

from goplugin.errors import PluginError
from goplugin.plugin import GRPCPlugin


class EchoOnly(streaming_goplugin.StreamerServicer):
    """Overrides two methods; the rest must answer UNIMPLEMENTED."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cancelled = threading.Event()

    def echo(
        self, request: streaming_pb2.Event, context: grpc.ServicerContext
    ) -> streaming_pb2.Event:
        return request

    def wait(
        self, request: streaming_pb2.WaitRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        done = threading.Event()
        context.add_callback(done.set)
        self.started.set()
        if done.wait(30):
            self.cancelled.set()
        return empty_pb2.Empty()


class AsyncEchoOnly(streaming_goplugin.AsyncStreamerServicer):
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def echo(
        self,
        request: streaming_pb2.Event,
        context: grpc.aio.ServicerContext[streaming_pb2.Event, streaming_pb2.Event],
    ) -> streaming_pb2.Event:
        return request

    async def exchange(
        self,
        request_iterator: AsyncIterator[streaming_pb2.Event],
        context: grpc.aio.ServicerContext[streaming_pb2.Event, streaming_pb2.Event],
    ) -> AsyncIterator[streaming_pb2.Event]:
        async for event in request_iterator:
            yield event

    async def wait(
        self,
        request: streaming_pb2.WaitRequest,
        context: grpc.aio.ServicerContext[streaming_pb2.WaitRequest, empty_pb2.Empty],
    ) -> empty_pb2.Empty:
        self.started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return empty_pb2.Empty()


@pytest.fixture
def address(tmp_path: Path) -> str:
    return f"unix:{tmp_path}/grpc.sock"


@pytest.fixture
def sync_server(address: str) -> Iterator[EchoOnly]:
    impl = EchoOnly()
    server = grpc.server(ThreadPoolExecutor(4))
    streaming_goplugin.StreamerPlugin(impl=impl).grpc_server(None, server)
    server.add_insecure_port(address)
    server.start()
    yield impl
    server.stop(None)


def _wait_request() -> streaming_pb2.WaitRequest:
    request = streaming_pb2.WaitRequest()
    request.duration.FromSeconds(30)
    return request


def test_sync_pair(sync_server: EchoOnly, address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        client = streaming_goplugin.StreamerPlugin().grpc_client(None, channel)
        assert isinstance(client, streaming_goplugin.StreamerClient)
        event = streaming_pb2.Event(seq=3, text="hi", labels={"a": "b"})
        assert client.echo(event, timeout=5) == event
        with pytest.raises(grpc.RpcError) as info:
            client.get_wait_stats(empty_pb2.Empty(), timeout=5)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
        with pytest.raises(grpc.RpcError) as info:
            list(client.generate(streaming_pb2.GenerateRequest(count=1), timeout=5))
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_sync_future_cancels_the_call_in_the_servicer(sync_server: EchoOnly, address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        client = streaming_goplugin.StreamerClient(channel)
        future = client.wait.future(_wait_request(), timeout=30)
        assert sync_server.started.wait(10)
        future.cancel()
        assert sync_server.cancelled.wait(10)


async def test_async_pair_and_task_cancellation(address: str) -> None:
    impl = AsyncEchoOnly()
    server = grpc.aio.server()
    streaming_goplugin.StreamerPlugin(impl=impl).grpc_server(None, server)
    server.add_insecure_port(address)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            client = streaming_goplugin.StreamerPlugin().grpc_client(None, channel)
            assert isinstance(client, streaming_goplugin.AsyncStreamerClient)
            event = streaming_pb2.Event(seq=1, blob=b"\x00\x01")
            assert await client.echo(event, timeout=5) == event

            async def events() -> AsyncIterator[streaming_pb2.Event]:
                for seq in range(100):
                    yield streaming_pb2.Event(seq=seq)

            seqs = [e.seq async for e in client.exchange(events(), timeout=5)]
            assert seqs == list(range(100))
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await client.collect(events(), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED

            task = asyncio.ensure_future(client.wait(_wait_request(), timeout=30))
            await asyncio.wait_for(impl.started.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(impl.cancelled.wait(), 10)
    finally:
        await server.stop(None)


def test_async_servicer_needs_an_aio_server() -> None:
    plugin = streaming_goplugin.StreamerPlugin(impl=AsyncEchoOnly.__new__(AsyncEchoOnly))
    server = grpc.server(ThreadPoolExecutor(1))
    with pytest.raises(PluginError, match=r"goplugin\.aio\.serve"):
        plugin.grpc_server(None, server)


def test_serving_needs_an_impl() -> None:
    with pytest.raises(PluginError, match="impl"):
        streaming_goplugin.StreamerPlugin().grpc_server(None, grpc.server(ThreadPoolExecutor(1)))


def test_generated_plugin_is_a_grpc_plugin() -> None:
    plugin: GRPCPlugin[Any, Any] = streaming_goplugin.StreamerPlugin()
    assert isinstance(plugin, GRPCPlugin)
