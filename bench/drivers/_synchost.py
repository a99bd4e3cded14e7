"""The sync Python host: goplugin.PluginClient and the generated clients, as users write them."""

from __future__ import annotations

from typing import Any

from gen.streaming import streaming_pb2

import goplugin

from ._contracts import CONTRACTS, GET, PUT, blob_event, greet
from ._protocol import rss_bytes, timer

__all__ = ["SyncHost"]

Reply = dict[str, Any]


class SyncHost:
    def __init__(self, contract: str, cmd: list[str], tls: bool = False) -> None:
        self.contract = contract
        self._tls = tls
        self._spec = CONTRACTS[contract]
        self._cmd = cmd
        self._client: goplugin.PluginClient | None = None
        self._impl: Any = None

    def _load(self) -> tuple[goplugin.PluginClient, Any]:
        spec = self._spec
        client = goplugin.PluginClient(
            self._cmd,
            handshake=spec.handshake,
            plugins={spec.name: spec.plugin},
            auto_mtls=self._tls,
        )
        try:
            client.start()
            return client, client.dispense(spec.name)
        except BaseException:
            client.kill()
            raise

    def _first_call(self, impl: Any) -> None:
        if self.contract == "kv":
            impl.get(GET)
        elif self.contract == "streaming":
            impl.echo(blob_event(16))
        else:
            greet(impl)

    def open(self) -> None:
        self._client, self._impl = self._load()
        if self.contract == "kv":
            self._impl.put(PUT)
        for _ in range(10):
            self._first_call(self._impl)

    def close(self) -> None:
        if self._client is not None:
            self._client.kill()

    def unary(self, n: int) -> Reply:
        lat = []
        if self.contract == "kv":
            get = self._impl.get
            for _ in range(n):
                start = timer()
                get(GET)
                lat.append(timer() - start)
        else:
            for _ in range(n):
                start = timer()
                greet(self._impl)
                lat.append(timer() - start)
        return {"lat_ns": lat}

    def echo(self, size: int, n: int) -> Reply:
        event, echo, lat = blob_event(size), self._impl.echo, []
        for _ in range(n):
            start = timer()
            if len(echo(event).blob) != size:
                raise RuntimeError("echo lost bytes")
            lat.append(timer() - start)
        return {"lat_ns": lat}

    def bidi(self, n: int, size: int) -> Reply:
        event = blob_event(size)
        start = timer()
        count = sum(1 for _ in self._impl.exchange(event for _ in range(n)))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"exchange echoed {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    def gen(self, n: int, size: int) -> Reply:
        start = timer()
        request = streaming_pb2.GenerateRequest(count=n, blob_size=size)
        count = sum(1 for _ in self._impl.generate(request))
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"generate sent {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    def conc(self, c: int, n: int) -> Reply:
        raise NotImplementedError("concurrency is measured from the asyncio host")

    def launch(self) -> Reply:
        start = timer()
        client, impl = self._load()
        try:
            self._first_call(impl)
            return {"first_call_ns": timer() - start}
        finally:
            client.kill()

    def scale(self, n: int) -> Reply:
        """n plugins launched one after another, each called once, then each killed."""
        rss_before = rss_bytes()
        start = timer()
        loaded: list[tuple[goplugin.PluginClient, Any]] = []
        try:
            loaded.extend(self._load() for _ in range(n))  # kept so far if one fails
            started = timer()
            for _, impl in loaded:
                self._first_call(impl)
            called = timer()
            rss_loaded = rss_bytes()
        finally:
            for client, _ in loaded:
                client.kill()
        end = timer()
        return {
            "wall_ns": end - start,
            "start_ns": started - start,
            "call_ns": called - started,
            "kill_ns": end - called,
            "rss_before": rss_before,
            "rss_loaded": rss_loaded,
        }

    def scalec(self, n: int) -> Reply:
        raise NotImplementedError("concurrent launches are measured from the asyncio host")
