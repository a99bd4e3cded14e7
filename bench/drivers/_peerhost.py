"""The peers as hosts: py-plugin's ``Client`` (grpclib) and pyvider-rpcplugin's
``RPCPluginClient`` (grpc.aio) loading the same Go plugins as every other host, through each
one's documented API, answering the runner's commands like _aiohost.py does.

``pyhost.py pyplugin|pyvider CONTRACT [--tls] -- ARGV``. AutoMTLS is on only with ``--tls``
(both default to it): the plaintext rows compare plumbing, the TLS rows what TLS costs.
Calls use each peer's own stack: grpclib method objects on py-plugin's channel (what a grpclib
stub holds), grpc.aio multicallables on pyvider's channel (what a grpcio-tools stub holds).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from gen.kv import kv_pb2
from gen.streaming import streaming_pb2

from ._protocol import BENCH_KEY, BENCH_VALUE, timer

COOKIES = {"kv": ("BASIC_PLUGIN", "hello"), "streaming": ("STREAMING_PLUGIN", "events")}
GET = kv_pb2.GetRequest(key=BENCH_KEY)
Reply = dict[str, Any]


class _Calls:
    """The contract's calls on one peer's channel; subclasses make the method objects."""

    get: Any
    put: Any
    echo_call: Any

    async def call(self, method: Any, request: Any) -> Any:
        raise NotImplementedError

    async def exchange(self, n: int, event: Any) -> int:
        raise NotImplementedError

    async def generate(self, request: Any) -> int:
        raise NotImplementedError


class _GrpclibCalls(_Calls):
    def __init__(self, channel: Any, contract: str) -> None:
        from grpclib.client import StreamStreamMethod, UnaryStreamMethod, UnaryUnaryMethod

        event = streaming_pb2.Event
        if contract == "kv":
            self.get = UnaryUnaryMethod(
                channel, "/proto.KV/Get", kv_pb2.GetRequest, kv_pb2.GetResponse
            )
            self.put = UnaryUnaryMethod(channel, "/proto.KV/Put", kv_pb2.PutRequest, kv_pb2.Empty)
        else:
            self.echo_call = UnaryUnaryMethod(channel, "/streaming.Streamer/Echo", event, event)
            self._exchange = StreamStreamMethod(
                channel, "/streaming.Streamer/Exchange", event, event
            )
            self._generate = UnaryStreamMethod(
                channel, "/streaming.Streamer/Generate", streaming_pb2.GenerateRequest, event
            )

    async def call(self, method: Any, request: Any) -> Any:
        return await method(request)

    async def exchange(self, n: int, event: Any) -> int:
        async with self._exchange.open() as stream:
            await stream.send_request()

            async def send() -> None:
                for _ in range(n):
                    await stream.send_message(event)
                await stream.end()

            sender = asyncio.ensure_future(send())
            count = 0
            async for _ in stream:
                count += 1
            await sender
        return count

    async def generate(self, request: Any) -> int:
        async with self._generate.open() as stream:
            await stream.send_message(request, end=True)
            count = 0
            async for _ in stream:
                count += 1
        return count


class _AioCalls(_Calls):
    def __init__(self, channel: Any, contract: str) -> None:
        event = streaming_pb2.Event
        if contract == "kv":
            self.get = channel.unary_unary(
                "/proto.KV/Get",
                request_serializer=kv_pb2.GetRequest.SerializeToString,
                response_deserializer=kv_pb2.GetResponse.FromString,
            )
            self.put = channel.unary_unary(
                "/proto.KV/Put",
                request_serializer=kv_pb2.PutRequest.SerializeToString,
                response_deserializer=kv_pb2.Empty.FromString,
            )
        else:
            self.echo_call = channel.unary_unary(
                "/streaming.Streamer/Echo",
                request_serializer=event.SerializeToString,
                response_deserializer=event.FromString,
            )
            self._exchange = channel.stream_stream(
                "/streaming.Streamer/Exchange",
                request_serializer=event.SerializeToString,
                response_deserializer=event.FromString,
            )
            self._generate = channel.unary_stream(
                "/streaming.Streamer/Generate",
                request_serializer=streaming_pb2.GenerateRequest.SerializeToString,
                response_deserializer=event.FromString,
            )

    async def call(self, method: Any, request: Any) -> Any:
        return await method(request)

    async def exchange(self, n: int, event: Any) -> int:
        async def events() -> Any:
            for _ in range(n):
                yield event

        count = 0
        async for _ in self._exchange(events()):
            count += 1
        return count

    async def generate(self, request: Any) -> int:
        count = 0
        async for _ in self._generate(request):
            count += 1
        return count


class _Loaded:
    def __init__(self, client: Any, calls: _Calls, close: Any) -> None:
        self.client, self.calls, self.close = client, calls, close


class PeerHost:
    def __init__(self, peer: str, contract: str, cmd: list[str], tls: bool) -> None:
        if contract not in COOKIES:
            raise ValueError(f"{peer} host: no {contract} contract (gRPC only)")
        self.peer, self.contract, self.cmd, self.tls = peer, contract, cmd, tls
        self._live: _Loaded | None = None
        if peer == "pyvider":  # its client reads its configuration from the environment
            key, value = COOKIES[contract]
            os.environ["PLUGIN_MAGIC_COOKIE_KEY"] = key
            os.environ["PLUGIN_MAGIC_COOKIE_VALUE"] = value
            os.environ["PLUGIN_AUTO_MTLS"] = "true" if tls else "false"
            # A start that fails fails at once: no 30 s of retries in the bench (a start that
            # works needs none).
            os.environ["PLUGIN_CLIENT_RETRY_ENABLED"] = "false"

    async def _load(self) -> _Loaded:
        if self.peer == "pyplugin":
            return await self._load_pyplugin()
        return await self._load_pyvider()

    async def _load_pyplugin(self) -> _Loaded:
        import pyplugin

        contract = self.contract

        class Stub(pyplugin.Plugin):  # type: ignore[misc]
            def servicers(self, broker: Any) -> list[Any]:
                return []

            def stub(self, broker: Any, channel: Any) -> _Calls:
                return _GrpclibCalls(channel, contract)

        key, value = COOKIES[contract]
        name = "kv" if contract == "kv" else "streamer"
        client = pyplugin.Client(
            pyplugin.ClientConfig(
                handshake_config=pyplugin.HandshakeConfig(1, key, value),
                plugins={name: Stub()},
                cmd=self.cmd,
                auto_mtls=self.tls,
            )
        )
        await client.start()
        return _Loaded(client, client.dispense(name), client.kill)

    async def _load_pyvider(self) -> _Loaded:
        from pyvider.rpcplugin import plugin_client

        client = plugin_client(command=self.cmd)
        await client.start()
        return _Loaded(client, _AioCalls(client.grpc_channel, self.contract), client.close)

    def _calls(self) -> _Calls:
        if self._live is None:
            raise RuntimeError("no plugin loaded")
        return self._live.calls

    async def open(self) -> None:
        self._live = await self._load()
        calls = self._live.calls
        if self.contract == "kv":
            await calls.call(calls.put, kv_pb2.PutRequest(key=BENCH_KEY, value=BENCH_VALUE))
        for _ in range(10):
            await self._first_call(calls)

    async def _first_call(self, calls: _Calls) -> None:
        if self.contract == "kv":
            await calls.call(calls.get, GET)
        else:
            await calls.call(calls.echo_call, streaming_pb2.Event(seq=1, blob=BENCH_VALUE))

    async def close(self) -> None:
        if self._live is not None:
            await self._live.close()
            self._live = None

    async def unary(self, n: int) -> Reply:
        calls, lat = self._calls(), []
        for _ in range(n):
            start = timer()
            await calls.call(calls.get, GET)
            lat.append(timer() - start)
        return {"lat_ns": lat}

    async def echo(self, size: int, n: int) -> Reply:
        calls, lat = self._calls(), []
        event = streaming_pb2.Event(seq=1, blob=bytes(size))
        for _ in range(n):
            start = timer()
            out = await calls.call(calls.echo_call, event)
            lat.append(timer() - start)
            if len(out.blob) != size:
                raise RuntimeError(f"echo returned {len(out.blob)} bytes, sent {size}")
        return {"lat_ns": lat}

    async def bidi(self, n: int, size: int) -> Reply:
        start = timer()
        count = await self._calls().exchange(n, streaming_pb2.Event(seq=1, blob=bytes(size)))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"exchange echoed {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    async def gen(self, n: int, size: int) -> Reply:
        start = timer()
        count = await self._calls().generate(streaming_pb2.GenerateRequest(count=n, blob_size=size))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"generate sent {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    async def conc(self, c: int, n: int) -> Reply:
        """n KV.Get calls from c tasks, each one call at a time: c calls in flight."""
        calls, lat = self._calls(), [0] * n
        todo = iter(range(n))

        async def worker() -> None:
            for i in todo:
                start = timer()
                await calls.call(calls.get, GET)
                lat[i] = timer() - start

        start = timer()
        await asyncio.gather(*(worker() for _ in range(c)))
        return {"elapsed_ns": timer() - start, "lat_ns": lat}

    async def launch(self) -> Reply:
        start = timer()
        loaded = await self._load()
        try:
            await self._first_call(loaded.calls)
            return {"first_call_ns": timer() - start}
        finally:
            await loaded.close()
