"""A Python net/rpc plugin for the tests: go-plugin's net/rpc contracts, served by goplugin.

Plugin set: "greeter" (examples/basic: ``Plugin.Greet``; also ``Plugin.Sleep``), "kv"
(examples/grpc's net/rpc KV: ``Plugin.Put(map[string]interface{})``,
``Plugin.Get(string) []byte``), and "calc", whose
``Plugin.Sum`` calls back into the host through the MuxBroker (``Plugin.Add`` on the id it is
given), so both sides' brokers are exercised.

Behaviour switches, read from the environment the host passes through:
  NETRPC_TEST_AIO=1          serve with goplugin.aio.serve; the KV methods are ``async def``
  NETRPC_TEST_CRASH_ON_GET=1 die (os._exit(3)) in the middle of a Get call, after a stderr line
  NETRPC_TEST_TCP=1          listen on TCP (serve(force_tcp=True))
  NETRPC_TEST_BUILTIN_REPLIES=1  ``Plugin.Sum`` calls back with Python types as reply types
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import time
from typing import Any

import goplugin
import goplugin.aio
from goplugin import netrpc
from goplugin.errors import GobError
from goplugin.netrpc import gob

log = logging.getLogger("netrpc-test")
HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
SUM_ARGS = gob.Struct("SumArgs", [("Helper", gob.UINT32), ("A", gob.INT64), ("B", gob.INT64)])
MARK = b"\n\nWritten from plugin-python-netrpc"


class Greeter:
    @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
    def greet(self, args: None) -> str:
        log.debug("message from GreeterHello.Greet", extra={"foo": "bar"})
        print("stdout: greet")
        print("stderr: greet", file=sys.stderr)
        return "Hello!"

    @netrpc.method("Sleep", args_type=gob.FLOAT64, reply_type=gob.BOOL)
    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True


def _get(key: str) -> bytes:
    if os.environ.get("NETRPC_TEST_CRASH_ON_GET"):
        stderr = sys.__stderr__
        assert stderr is not None
        stderr.write("about to crash\n")
        stderr.flush()
        os._exit(3)
    with open("kv_" + key, "rb") as f:
        return f.read()


def _write(key: str, value: bytes) -> None:
    with open("kv_" + key, "wb") as f:
        f.write(value)


class KV:
    @netrpc.method("Put", args_type=gob.MAP_STRING_ANY, reply_type=gob.INTERFACE)
    def put(self, args: dict[str, Any]) -> None:
        log.info("put", extra={"key": args["key"]})
        _write(args["key"], args["value"] + MARK)

    @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.BYTES)
    def get(self, key: str) -> bytes:
        return _get(key)


class AsyncKV:
    @netrpc.method("Put", args_type=gob.MAP_STRING_ANY, reply_type=gob.INTERFACE)
    async def put(self, args: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        await asyncio.to_thread(_write, args["key"], args["value"] + MARK + b" (asyncio)")

    @netrpc.method("Get", args_type=gob.STRING, reply_type=gob.BYTES)
    async def get(self, key: str) -> bytes:
        await asyncio.sleep(0)
        return _get(key)


class Calculator:
    def __init__(self, broker: netrpc.MuxBroker) -> None:
        self._broker = broker

    @netrpc.method("Sum", args_type=SUM_ARGS, reply_type=gob.INT64)
    def sum(self, args: dict[str, int]) -> int:
        helper = netrpc.Client(self._broker.dial(args["Helper"]))
        try:
            pair = [args["A"], args["B"]]
            if os.environ.get("NETRPC_TEST_BUILTIN_REPLIES"):
                return self._sum_with_builtins(helper, pair)
            return int(helper.call("Plugin.Add", pair, gob.INT64, args_type=gob.Slice(gob.INT64)))
        finally:
            helper.close()

    @staticmethod
    def _sum_with_builtins(helper: netrpc.Client, pair: list[int]) -> int:
        """The Go Adder replies int64: ``str`` fails that call alone, ``int`` then works."""
        add = functools.partial(helper.call, "Plugin.Add", pair, args_type=gob.Slice(gob.INT64))
        try:
            add(str, timeout=10)
        except GobError as exc:
            log.info("str reply refused: %s", exc)
        else:
            raise AssertionError("an int64 reply decoded as str")
        total: int = add(int, timeout=10)
        log.info("builtin replies ok")
        return total


class AsyncCalculator:
    """Under goplugin.aio.serve the broker is a ``netrpc.AsyncMuxBroker``: dials are awaited."""

    def __init__(self, broker: netrpc.AsyncMuxBroker) -> None:
        self._broker = broker

    @netrpc.method("Sum", args_type=SUM_ARGS, reply_type=gob.INT64)
    async def sum(self, args: dict[str, int]) -> int:
        async with netrpc.AsyncClient(await self._broker.dial(args["Helper"])) as helper:
            pair = [args["A"], args["B"]]
            return int(
                await helper.call("Plugin.Add", pair, gob.INT64, args_type=gob.Slice(gob.INT64))
            )


class CalcPlugin(netrpc.Plugin[Any]):
    def netrpc_server(self, broker: Any) -> object:
        if isinstance(broker, netrpc.AsyncMuxBroker):
            return AsyncCalculator(broker)
        return Calculator(broker)


def main() -> None:
    aio = bool(os.environ.get("NETRPC_TEST_AIO"))
    tcp = bool(os.environ.get("NETRPC_TEST_TCP"))
    plugins = {
        "greeter": netrpc.Plugin(Greeter()),
        "kv": netrpc.Plugin(AsyncKV() if aio else KV()),
        "calc": CalcPlugin(),
    }
    if aio:
        asyncio.run(goplugin.aio.serve(handshake=HANDSHAKE, plugins=plugins, force_tcp=tcp))
    else:
        goplugin.serve(handshake=HANDSHAKE, plugins=plugins, force_tcp=tcp)


if __name__ == "__main__":
    main()
