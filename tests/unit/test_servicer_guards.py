"""Servicers that cannot serve as written are refused when they are registered, not per call.

``serve()`` registers the plugin set's servicers before it prints the handshake line, so each
of these becomes a start failure that names the method or class (tests/interop/
test_servicer_guards.py shows a host seeing it). Before these guards a method named as protoc
names it (``def Get``) answered UNIMPLEMENTED for ever, an ``async def`` in a sync servicer
returned a coroutine to the engine on every call, and a class or a servicer of another service
failed call by call, if at all. Checked on every server a plugin may get: grpcio's and the
pure engine's, in both flavours.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples-py"))

from gen.counter import counter_goplugin, counter_pb2
from gen.kv import kv_goplugin, kv_pb2
from gen.streaming import streaming_goplugin, streaming_pb2

from goplugin._engines import new_pure_server
from goplugin.errors import PluginError

#: What serve() hands a plugin object as its broker; these tests never use it.
NO_BROKER: Any = None

ENGINES = ["grpcio", "pure"]


def new_server(flavour: str, engine: str) -> Any:
    """A server as serve() makes them (aio ones inside a running loop)."""
    if engine == "pure":
        return new_pure_server(is_async=flavour == "aio")
    if flavour == "aio":
        return grpc.aio.server()
    return grpc.server(ThreadPoolExecutor(1))


def refusal(plugin: Any, flavour: str, engine: str) -> str:
    """Register ``plugin`` as serve() does; the message of the error it must raise."""
    with pytest.raises(TypeError) as info:
        plugin.grpc_server(NO_BROKER, new_server(flavour, engine))
    assert isinstance(info.value, PluginError)
    return str(info.value)


# -- methods named as protoc names them --------------------------------------------------------


class PascalKV(kv_goplugin.KVServicer):
    def Get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=b"never served")

    def put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:
        return kv_pb2.Empty()


class AsyncPascalStreamer(streaming_goplugin.AsyncStreamerServicer):
    async def GetWaitStats(self, request: Any, context: Any) -> streaming_pb2.WaitStats:
        return streaming_pb2.WaitStats()


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_method_named_as_protoc_names_it_is_refused(engine: str) -> None:
    message = refusal(kv_goplugin.KVPlugin(impl=PascalKV()), "sync", engine)
    assert "PascalKV.Get" in message and "get" in message and "proto.KV/Get" in message
    message = refusal(streaming_goplugin.StreamerPlugin(impl=AsyncPascalStreamer()), "aio", engine)
    assert "AsyncPascalStreamer.GetWaitStats" in message and "get_wait_stats" in message


class BothNames(kv_goplugin.KVServicer):
    """Overrides the generated name: a PascalCase twin is the author's business."""

    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse(value=self.Get())

    def Get(self) -> bytes:
        return b"helper"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pascal_case_helper_beside_the_generated_name_is_allowed(engine: str) -> None:
    kv_goplugin.KVPlugin(impl=BothNames()).grpc_server(NO_BROKER, new_server("sync", engine))


# -- the wrong flavour of method ---------------------------------------------------------------


class AsyncDefInSync(kv_goplugin.KVServicer):
    async def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:  # type: ignore[override]
        return kv_pb2.GetResponse()


class PlainDefInAsync(kv_goplugin.AsyncKVServicer):
    def put(self, request: kv_pb2.PutRequest, context: Any) -> kv_pb2.Empty:  # type: ignore[override]
        return kv_pb2.Empty()


class GeneratorForUnaryResponse(kv_goplugin.KVServicer):
    def get(self, request: kv_pb2.GetRequest, context: Any) -> Any:
        yield kv_pb2.GetResponse()


class SyncGeneratorInAsync(streaming_goplugin.AsyncStreamerServicer):
    def generate(self, request: Any, context: Any) -> Any:
        yield streaming_pb2.Event()


class AsyncGeneratorInSync(streaming_goplugin.StreamerServicer):
    async def generate(self, request: Any, context: Any) -> Any:
        yield streaming_pb2.Event()


@pytest.mark.parametrize("engine", ENGINES)
async def test_the_wrong_flavour_of_method_is_refused(engine: str) -> None:
    message = refusal(kv_goplugin.KVPlugin(impl=AsyncDefInSync()), "sync", engine)
    assert "AsyncDefInSync.get" in message and "async def" in message
    message = refusal(kv_goplugin.KVPlugin(impl=PlainDefInAsync()), "aio", engine)
    assert "PlainDefInAsync.put" in message and "async def" in message
    message = refusal(kv_goplugin.KVPlugin(impl=GeneratorForUnaryResponse()), "sync", engine)
    assert "GeneratorForUnaryResponse.get" in message and "one response" in message
    message = refusal(streaming_goplugin.StreamerPlugin(impl=SyncGeneratorInAsync()), "aio", engine)
    assert "SyncGeneratorInAsync.generate" in message
    message = refusal(
        streaming_goplugin.StreamerPlugin(impl=AsyncGeneratorInSync()), "sync", engine
    )
    assert "AsyncGeneratorInSync.generate" in message


@pytest.mark.parametrize("engine", ENGINES)
async def test_a_sync_servicer_under_the_asyncio_serve_is_refused(engine: str) -> None:
    """It would run every call on the event loop (grpc.aio) or in a thread the asyncio
    plugin never asked for (pure engine): the flavours do not mix, either way round."""
    message = refusal(kv_goplugin.KVPlugin(impl=BothNames()), "aio", engine)
    assert "BothNames" in message and "AsyncKVServicer" in message
    assert "goplugin.serve()" in message


@pytest.mark.parametrize("engine", ENGINES)
async def test_an_asyncio_servicer_under_the_sync_serve_is_refused(engine: str) -> None:
    message = refusal(kv_goplugin.KVPlugin(impl=PlainDefInAsync()), "sync", engine)
    assert "goplugin.aio.serve()" in message


class WellFormedStreamer(streaming_goplugin.AsyncStreamerServicer):
    """Every shape an asyncio servicer may take: coroutines, async generators, and a
    coroutine that writes its stream with ``context.write`` (grpc.aio's other style)."""

    async def echo(self, request: streaming_pb2.Event, context: Any) -> streaming_pb2.Event:
        return request

    async def generate(self, request: Any, context: Any) -> AsyncIterator[streaming_pb2.Event]:
        yield streaming_pb2.Event()

    async def exchange(  # type: ignore[override]
        self, request_iterator: Any, context: Any
    ) -> None:
        async for event in request_iterator:
            await context.write(event)


class WellFormedSyncStreamer(streaming_goplugin.StreamerServicer):
    def generate(self, request: Any, context: Any) -> Iterator[streaming_pb2.Event]:
        yield streaming_pb2.Event()

    def exchange(self, request_iterator: Any, context: Any) -> Iterator[streaming_pb2.Event]:
        return iter(request_iterator)  # a plain function returning an iterator is fine


@pytest.mark.parametrize("engine", ENGINES)
async def test_well_formed_servicers_are_served(engine: str) -> None:
    plugin = streaming_goplugin.StreamerPlugin(impl=WellFormedStreamer())
    plugin.grpc_server(NO_BROKER, new_server("aio", engine))
    plugin = streaming_goplugin.StreamerPlugin(impl=WellFormedSyncStreamer())
    plugin.grpc_server(NO_BROKER, new_server("sync", engine))


# -- a class, or a servicer of another service ------------------------------------------------


class KV(kv_goplugin.KVServicer):
    def get(self, request: kv_pb2.GetRequest, context: Any) -> kv_pb2.GetResponse:
        return kv_pb2.GetResponse()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_servicer_class_instead_of_an_instance_is_refused(engine: str) -> None:
    message = refusal(kv_goplugin.KVPlugin(impl=KV), "sync", engine)  # type: ignore[arg-type]
    assert "class KV" in message and "KVPlugin(impl=KV())" in message


class Counter(counter_goplugin.CounterServicer):
    def get(
        self, request: counter_pb2.CounterGetRequest, context: Any
    ) -> counter_pb2.CounterGetResponse:
        return counter_pb2.CounterGetResponse()


class LooksLikeProtocs:
    """Shaped like grpcio-tools' servicers (PascalCase, no goplugin base)."""

    def Get(self, request: Any, context: Any) -> Any:
        return None


@pytest.mark.parametrize("engine", ENGINES)
def test_a_servicer_of_another_service_is_refused(engine: str) -> None:
    message = refusal(kv_goplugin.KVPlugin(impl=Counter()), "sync", engine)  # type: ignore[arg-type]
    assert "Counter" in message and "CounterServicer" in message
    assert "KVServicer" in message and "AsyncKVServicer" in message
    message = refusal(kv_goplugin.KVPlugin(impl=LooksLikeProtocs()), "sync", engine)  # type: ignore[arg-type]
    assert "LooksLikeProtocs" in message and "KVServicer" in message


def test_registration_stays_per_serve_not_per_call() -> None:
    """The guards inspect classes once, when a plugin is served; a served method is the bound
    method itself, as before (nothing wraps it on the sync grpcio engine)."""
    impl = KV()
    server = grpc.server(ThreadPoolExecutor(1))
    registered: dict[str, Any] = {}
    setattr(  # noqa: B010 (mypy would refuse the assignment)
        server,
        "add_registered_method_handlers",
        lambda service, handlers: registered.update(handlers),
    )
    kv_goplugin.KVPlugin(impl=impl).grpc_server(NO_BROKER, server)
    assert registered["Get"].unary_unary == impl.get
    assert "Put" not in registered
