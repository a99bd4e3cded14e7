"""Types reach the user's code: mypy --strict (the real one) on host code of every pairing.

``client.dispense(plugin_object)`` gives the flavour's client type, no cast: a sync
``PluginClient`` the sync client, ``goplugin.aio.PluginClient`` the asyncio one, for generated
gRPC plugins and for net/rpc plugins (raw or wrapped). ``dispense("name")`` stays ``Any``.
The brokers are typed on both sides, and mixing up the flavours is a type error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SNIPPET = """
from __future__ import annotations

import grpc
from gen.kv import kv_goplugin, kv_pb2
from gen.counter import counter_goplugin, counter_pb2

import goplugin
import goplugin.aio
from goplugin import netrpc


class Greeter:
    def __init__(self, client: netrpc.Client | netrpc.AsyncClient) -> None:
        self.client = client


KV = kv_goplugin.KVPlugin()
COUNTER = counter_goplugin.CounterPlugin()
GREETER = netrpc.Plugin(client=Greeter)
RAW = netrpc.Plugin()


def sync_grpc(client: goplugin.PluginClient) -> None:
    kv = client.dispense(KV)
    reveal_type(kv)  # R:sync-grpc
    reveal_type(kv.get(kv_pb2.GetRequest(key="k")))  # R:sync-grpc-call
    reveal_type(kv.broker)  # R:sync-broker
    reveal_type(kv.broker.dial(1))  # R:sync-dial
    server = kv.broker.accept_and_serve(kv.broker.next_id(), COUNTER)
    reveal_type(server)  # R:sync-accept
    reveal_type(client.dispense("kv"))  # R:by-name


async def aio_grpc(client: goplugin.aio.PluginClient) -> None:
    kv = await client.dispense(KV)
    reveal_type(kv)  # R:aio-grpc
    reveal_type(await kv.get(kv_pb2.GetRequest(key="k")))  # R:aio-grpc-call
    reveal_type(kv.broker)  # R:aio-broker
    reveal_type(await kv.broker.dial(1))  # R:aio-dial
    reveal_type(await client.dispense("kv"))  # R:aio-by-name


def sync_netrpc(client: goplugin.PluginClient) -> None:
    reveal_type(client.dispense(RAW))  # R:sync-netrpc-raw
    reveal_type(client.dispense(GREETER))  # R:sync-netrpc-wrapped


async def aio_netrpc(client: goplugin.aio.PluginClient) -> None:
    reveal_type(await client.dispense(RAW))  # R:aio-netrpc-raw
    reveal_type(await client.dispense(GREETER))  # R:aio-netrpc-wrapped


class Counter(counter_goplugin.CounterServicer):
    def get(
        self, request: counter_pb2.CounterGetRequest, context: grpc.ServicerContext
    ) -> counter_pb2.CounterGetResponse:
        reveal_type(self.broker)  # R:servicer-broker
        return counter_pb2.CounterGetResponse()


class AsyncCounter(counter_goplugin.AsyncCounterServicer):
    async def get(
        self, request: counter_pb2.CounterGetRequest, context: object
    ) -> counter_pb2.CounterGetResponse:
        reveal_type(self.broker)  # R:aio-servicer-broker
        return counter_pb2.CounterGetResponse()


class Calc(netrpc.Plugin[int]):
    def netrpc_client(self, broker: netrpc.MuxBroker, client: object) -> int:
        reveal_type(broker.dial(broker.next_id()))  # R:muxbroker-dial
        return 1


async def mixed_up(aio_client: goplugin.aio.PluginClient) -> None:
    wrong: kv_goplugin.KVClient = await aio_client.dispense(KV)  # E:incompatible
"""

EXPECTED = {
    "sync-grpc": "gen.kv.kv_goplugin.KVClient",
    "sync-grpc-call": "gen.kv.kv_pb2.GetResponse",
    "sync-broker": "goplugin._sync.broker.GRPCBroker",
    "sync-dial": "grpc.Channel",
    "sync-accept": "grpc.Server",
    "by-name": "Any",
    "aio-grpc": "gen.kv.kv_goplugin.AsyncKVClient",
    "aio-grpc-call": "gen.kv.kv_pb2.GetResponse",
    "aio-broker": "goplugin._async.broker.GRPCBroker",
    "aio-dial": "grpc.aio.Channel",
    "aio-by-name": "Any",
    "sync-netrpc-raw": "goplugin._sync.rpc_client.Client",
    "sync-netrpc-wrapped": "typed_host.Greeter",
    "aio-netrpc-raw": "goplugin._async.rpc_client.AsyncClient",
    "aio-netrpc-wrapped": "typed_host.Greeter",
    "servicer-broker": "goplugin._sync.broker.GRPCBroker",
    "aio-servicer-broker": "goplugin._async.broker.GRPCBroker",
    "muxbroker-dial": "goplugin._yamux.stream.Stream",
}


def test_mypy_reveals_the_flavours_client_types(tmp_path: Path) -> None:
    snippet = tmp_path / "typed_host.py"
    snippet.write_text(SNIPPET)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(REPO / "examples-py")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = SNIPPET.splitlines()
    revealed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for line in result.stdout.splitlines():
        found = re.match(r".*typed_host\.py:(\d+): (note|error): (.*)$", line)
        if found is None:
            continue
        number, kind, text = int(found[1]), found[2], found[3]
        tag = re.search(r"# ([RE]):(\S+)", lines[number - 1])
        assert tag is not None, f"unexpected mypy output: {line}\n{result.stdout}"
        if kind == "note" and tag[1] == "R":
            (shown,) = re.findall(r'Revealed type is "(.*)"', text)
            revealed[tag[2]] = shown
        elif kind == "error" and tag[1] == "E":
            errors[tag[2]] = text
        elif kind == "note" and tag[1] == "E":
            continue  # mypy's explanation of the error
        else:
            raise AssertionError(f"unexpected mypy output: {line}\n{result.stdout}")
    assert revealed == EXPECTED, result.stdout
    # A sync client type where the asyncio host dispenses: mypy says so.
    assert errors.keys() == {"incompatible"}, result.stdout
    assert '"dispense"' in errors["incompatible"] and "KVClient" in errors["incompatible"]
