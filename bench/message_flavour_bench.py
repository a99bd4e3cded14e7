"""What the betterproto2 message flavour costs a call: a unary KV Get through the default
glue (protobuf's upb classes) and through the opt-in betterproto2 glue, against the same
Go plugin process (go-plugin's examples/grpc plugin-go-grpc, built unmodified).

Run from the repository root (needs Go, and betterproto2 installed)::

    PYTHONPATH=sdk-python/src:examples-py:tests python bench/message_flavour_bench.py [--calls 2000]

One plugin process, one channel, both flavours' clients on it; calls are interleaved in
rounds of 100 so drift hits both alike. Reports the median and p95 per call, sync and
asyncio. Numbers drift on a shared VM; compare rows of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable

from gen.kv import kv_goplugin, kv_pb2
from gen_bp2 import proto as kv_bp2
from gen_bp2.kv import kv_goplugin_bp2
from gobuild import go_plugin_example

import goplugin
import goplugin.aio

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
ROUND = 100
# Both flavours' plugin objects for the one gRPC service: a host dispenses either by name.
PLUGINS = {"kv": kv_goplugin.KVPlugin(), "kv_bp2": kv_goplugin_bp2.KVPlugin()}


def _summary(name: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95)]
    return f"{name:28} median {statistics.median(samples) * 1e6:7.1f} µs   p95 {p95 * 1e6:7.1f} µs"


def _sync(cmd: str, cwd: str, calls: int) -> None:
    with goplugin.PluginClient(cmd, handshake=HANDSHAKE, plugins=PLUGINS, cwd=cwd) as client:
        pb: kv_goplugin.KVClient = client.dispense("kv")
        bp: kv_goplugin_bp2.KVClient = client.dispense("kv_bp2")
        pb.put(kv_pb2.PutRequest(key="k", value=b"v" * 16), timeout=10)
        pb_req, bp_req = kv_pb2.GetRequest(key="k"), kv_bp2.GetRequest(key="k")
        runs: dict[str, tuple[Callable[[], object], list[float]]] = {
            "sync protobuf (default)": (lambda: pb.get(pb_req, timeout=10), []),
            "sync betterproto2": (lambda: bp.get(bp_req, timeout=10), []),
        }
        for fn, _ in runs.values():  # warm up
            for _ in range(ROUND):
                fn()
        for _ in range(calls // ROUND):
            for fn, samples in runs.values():
                for _ in range(ROUND):
                    t0 = time.perf_counter()
                    fn()
                    samples.append(time.perf_counter() - t0)
        for name, (_, samples) in runs.items():
            print(_summary(name, samples))


async def _aio(cmd: str, cwd: str, calls: int) -> None:
    async with goplugin.aio.PluginClient(
        cmd, handshake=HANDSHAKE, plugins=PLUGINS, cwd=cwd
    ) as client:
        pb: kv_goplugin.AsyncKVClient = await client.dispense("kv")
        bp: kv_goplugin_bp2.AsyncKVClient = await client.dispense("kv_bp2")
        pb_req, bp_req = kv_pb2.GetRequest(key="k"), kv_bp2.GetRequest(key="k")
        runs: dict[str, tuple[Callable[[], Awaitable[object]], list[float]]] = {
            "asyncio protobuf (default)": (lambda: pb.get(pb_req, timeout=10), []),
            "asyncio betterproto2": (lambda: bp.get(bp_req, timeout=10), []),
        }
        for fn, _ in runs.values():
            for _ in range(ROUND):
                await fn()
        for _ in range(calls // ROUND):
            for fn, samples in runs.values():
                for _ in range(ROUND):
                    t0 = time.perf_counter()
                    await fn()
                    samples.append(time.perf_counter() - t0)
        for name, (_, samples) in runs.items():
            print(_summary(name, samples))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    cmd = str(go_plugin_example("grpc", "plugin-go-grpc"))
    with tempfile.TemporaryDirectory() as cwd:
        _sync(cmd, cwd, args.calls)
        asyncio.run(_aio(cmd, cwd, args.calls))


if __name__ == "__main__":
    main()
