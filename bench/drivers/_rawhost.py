"""Raw grpcio, no SDK: the reference the SDK's per-call overhead is measured against.

The plugin is launched by hand the way a go-plugin host would (cookie, protocol versions, port
range and a private socket dir in its environment), its handshake line is parsed here, and
calls go through ``grpc.insecure_channel`` multicallables built exactly as grpcio-tools' stubs
build them. Nothing from goplugin is imported (the driver checks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

import grpc
from gen.kv import kv_pb2
from gen.streaming import streaming_pb2

from ._protocol import BENCH_KEY, BENCH_VALUE, rss_bytes, timer

__all__ = ["RawHost"]

Reply = dict[str, Any]
COOKIES = {"kv": ("BASIC_PLUGIN", "hello"), "streaming": ("STREAMING_PLUGIN", "events")}
GET = kv_pb2.GetRequest(key=BENCH_KEY)


class _Plugin:
    """One plugin process, launched and connected by hand."""

    def __init__(self, contract: str, cmd: list[str]) -> None:
        key, value = COOKIES[contract]
        self.socket_dir = tempfile.mkdtemp(prefix="bench-raw-")
        env = {
            **os.environ,
            key: value,
            "PLUGIN_PROTOCOL_VERSIONS": "1",
            "PLUGIN_MIN_PORT": "10000",
            "PLUGIN_MAX_PORT": "25000",
            "PLUGIN_UNIX_SOCKET_DIR": self.socket_dir,
        }
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        fields = self.proc.stdout.readline().decode().strip().split("|")
        if len(fields) < 5 or fields[4] != "grpc":
            self.close()
            raise RuntimeError(f"unexpected handshake {fields}")
        network, address = fields[2], fields[3]
        self.channel = grpc.insecure_channel(("unix:" if network == "unix" else "") + address)
        make: Any = self.channel  # grpcio's stubs lack _registered_method; its own stubs pass it
        if contract == "kv":
            self.get = make.unary_unary(
                "/proto.KV/Get",
                request_serializer=kv_pb2.GetRequest.SerializeToString,
                response_deserializer=kv_pb2.GetResponse.FromString,
                _registered_method=True,
            )
            self.put = make.unary_unary(
                "/proto.KV/Put",
                request_serializer=kv_pb2.PutRequest.SerializeToString,
                response_deserializer=kv_pb2.Empty.FromString,
                _registered_method=True,
            )
        else:
            event = streaming_pb2.Event
            self.echo = make.unary_unary(
                "/streaming.Streamer/Echo",
                request_serializer=event.SerializeToString,
                response_deserializer=event.FromString,
                _registered_method=True,
            )
            self.exchange = make.stream_stream(
                "/streaming.Streamer/Exchange",
                request_serializer=event.SerializeToString,
                response_deserializer=event.FromString,
                _registered_method=True,
            )
            self.generate = make.unary_stream(
                "/streaming.Streamer/Generate",
                request_serializer=streaming_pb2.GenerateRequest.SerializeToString,
                response_deserializer=event.FromString,
                _registered_method=True,
            )

    def first_call(self) -> None:
        if hasattr(self, "get"):
            self.get(GET)
        else:
            self.echo(streaming_pb2.Event(seq=1, blob=bytes(16)))

    def close(self) -> None:
        if hasattr(self, "channel"):
            self.channel.close()
        self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


class RawHost:
    def __init__(self, contract: str, cmd: list[str]) -> None:
        if contract not in COOKIES:
            raise NotImplementedError(f"the raw grpcio host does not speak {contract}")
        self.contract = contract
        self._cmd = cmd
        self._plugin: _Plugin | None = None

    def open(self) -> None:
        if "goplugin" in sys.modules:
            raise RuntimeError("the raw grpcio driver imported goplugin")
        self._plugin = plugin = _Plugin(self.contract, self._cmd)
        if self.contract == "kv":
            plugin.put(kv_pb2.PutRequest(key=BENCH_KEY, value=BENCH_VALUE))
        for _ in range(10):
            plugin.first_call()

    def close(self) -> None:
        if self._plugin is not None:
            self._plugin.close()

    def _live(self) -> _Plugin:
        assert self._plugin is not None
        return self._plugin

    def unary(self, n: int) -> Reply:
        get, lat = self._live().get, []
        for _ in range(n):
            start = timer()
            get(GET)
            lat.append(timer() - start)
        return {"lat_ns": lat}

    def echo(self, size: int, n: int) -> Reply:
        event = streaming_pb2.Event(seq=1, blob=bytes(size))
        echo, lat = self._live().echo, []
        for _ in range(n):
            start = timer()
            if len(echo(event).blob) != size:
                raise RuntimeError("echo lost bytes")
            lat.append(timer() - start)
        return {"lat_ns": lat}

    def bidi(self, n: int, size: int) -> Reply:
        event = streaming_pb2.Event(seq=1, blob=bytes(size))
        start = timer()
        count = sum(1 for _ in self._live().exchange(event for _ in range(n)))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"exchange echoed {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    def gen(self, n: int, size: int) -> Reply:
        start = timer()
        request = streaming_pb2.GenerateRequest(count=n, blob_size=size)
        count = sum(1 for _ in self._live().generate(request))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"generate sent {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    def conc(self, c: int, n: int) -> Reply:
        raise NotImplementedError("concurrency is measured from the asyncio host")

    def launch(self) -> Reply:
        start = timer()
        plugin = _Plugin(self.contract, self._cmd)
        try:
            plugin.first_call()
            return {"first_call_ns": timer() - start}
        finally:
            plugin.close()

    def scale(self, n: int) -> Reply:
        rss_before = rss_bytes()
        start = timer()
        plugins: list[_Plugin] = []
        try:
            plugins.extend(_Plugin(self.contract, self._cmd) for _ in range(n))
            for plugin in plugins:
                plugin.first_call()
            rss_loaded = rss_bytes()
        finally:
            for plugin in plugins:
                plugin.close()
        return {"wall_ns": timer() - start, "rss_before": rss_before, "rss_loaded": rss_loaded}

    def scalec(self, n: int) -> Reply:
        raise NotImplementedError("concurrent launches are measured from the asyncio host")
