"""The asyncio Python host: goplugin.aio.PluginClient and the generated async clients."""

from __future__ import annotations

import asyncio
from typing import Any

from gen.streaming import streaming_pb2

import goplugin.aio

from ._contracts import CONTRACTS, GET, PUT, blob_event, greet
from ._protocol import rss_bytes, timer

__all__ = ["AioHost"]

Reply = dict[str, Any]
Loaded = tuple[goplugin.aio.PluginClient, Any]


class AioHost:
    def __init__(self, contract: str, cmd: list[str], tls: bool = False) -> None:
        self.contract = contract
        self._tls = tls
        self._spec = CONTRACTS[contract]
        self._cmd = cmd
        self._client: goplugin.aio.PluginClient | None = None
        self._impl: Any = None

    async def _load(self) -> Loaded:
        spec = self._spec
        client = goplugin.aio.PluginClient(
            self._cmd,
            handshake=spec.handshake,
            plugins={spec.name: spec.plugin},
            auto_mtls=self._tls,
        )
        try:
            await client.start()
            return client, await client.dispense(spec.name)
        except BaseException:
            await client.kill()
            raise

    async def _first_call(self, impl: Any) -> None:
        if self.contract == "kv":
            await impl.get(GET)
        elif self.contract == "streaming":
            await impl.echo(blob_event(16))
        else:
            await greet(impl)

    async def open(self) -> None:
        self._client, self._impl = await self._load()
        if self.contract == "kv":
            await self._impl.put(PUT)
        for _ in range(10):
            await self._first_call(self._impl)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.kill()

    async def unary(self, n: int) -> Reply:
        lat = []
        if self.contract == "kv":
            get = self._impl.get
            for _ in range(n):
                start = timer()
                await get(GET)
                lat.append(timer() - start)
        else:
            for _ in range(n):
                start = timer()
                await greet(self._impl)
                lat.append(timer() - start)
        return {"lat_ns": lat}

    async def echo(self, size: int, n: int) -> Reply:
        event, echo, lat = blob_event(size), self._impl.echo, []
        for _ in range(n):
            start = timer()
            if len((await echo(event)).blob) != size:
                raise RuntimeError("echo lost bytes")
            lat.append(timer() - start)
        return {"lat_ns": lat}

    async def bidi(self, n: int, size: int) -> Reply:
        event = blob_event(size)

        async def events() -> Any:
            for _ in range(n):
                yield event

        start = timer()
        count = 0
        async for _ in self._impl.exchange(events()):
            count += 1
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"exchange echoed {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    async def gen(self, n: int, size: int) -> Reply:
        start = timer()
        count = 0
        async for _ in self._impl.generate(streaming_pb2.GenerateRequest(count=n, blob_size=size)):
            count += 1
        elapsed = timer() - start
        if count != n:
            raise RuntimeError(f"generate sent {count} of {n}")
        return {"elapsed_ns": elapsed, "count": count}

    async def conc(self, c: int, n: int) -> Reply:
        """n KV.Get calls from c tasks, each one call at a time: c calls in flight."""
        get, lat = self._impl.get, [0] * n
        calls = iter(range(n))

        async def worker() -> None:
            for i in calls:
                start = timer()
                await get(GET)
                lat[i] = timer() - start

        start = timer()
        await asyncio.gather(*(worker() for _ in range(c)))
        return {"elapsed_ns": timer() - start, "lat_ns": lat}

    async def launch(self) -> Reply:
        start = timer()
        client, impl = await self._load()
        try:
            await self._first_call(impl)
            return {"first_call_ns": timer() - start}
        finally:
            await client.kill()

    async def scale(self, n: int) -> Reply:
        """n plugins launched one after another, each called once, then each killed."""
        return await self._scale(n, concurrent=False)

    async def scalec(self, n: int) -> Reply:
        """The same with every launch, call and kill in flight at once (asyncio.gather)."""
        return await self._scale(n, concurrent=True)

    async def _scale(self, n: int, *, concurrent: bool) -> Reply:
        rss_before = rss_bytes()
        start = timer()
        loaded: list[Loaded] = []
        try:
            if concurrent:
                results = await asyncio.gather(
                    *(self._load() for _ in range(n)), return_exceptions=True
                )
                loaded = [r for r in results if not isinstance(r, BaseException)]
                for r in results:
                    if isinstance(r, BaseException):
                        raise r
            else:
                for _ in range(n):
                    loaded.append(await self._load())
            started = timer()
            if concurrent:
                await asyncio.gather(*(self._first_call(impl) for _, impl in loaded))
            else:
                for _, impl in loaded:
                    await self._first_call(impl)
            called = timer()
            rss_loaded = rss_bytes()
        finally:
            if concurrent:
                await asyncio.gather(*(client.kill() for client, _ in loaded))
            else:
                for client, _ in loaded:
                    await client.kill()
        end = timer()
        return {
            "wall_ns": end - start,
            "start_ns": started - start,
            "call_ns": called - started,
            "kill_ns": end - called,
            "rss_before": rss_before,
            "rss_loaded": rss_loaded,
        }
