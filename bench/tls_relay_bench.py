"""What AutoMTLS costs a grpcio host or plugin: the OpenSSL relay vs plaintext and alternatives.

Run from the repository root (needs Go to build examples-go/testprogs/mtlsecho):

    PYTHONPATH=sdk-python/src python bench/tls_relay_bench.py [--calls 2000] [--rounds 3]

Every scenario is a sync grpcio client calling ``bench.Echo/Echo`` in another process: unary
calls with 16 bytes (median and p95 over ``rounds x calls`` calls, rounds interleaved across
scenarios so drift hits all alike), echoes of 1 MiB (MiB/s of payload one way), and the cost
of a new connection (fresh channel + first call: the TLS handshake, relay threads). Ratios
are against plaintext grpcio to the same kind of server (Python or Go). Numbers drift on a
shared VM; compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from goplugin._protocol.handshake import Handshake, Protocol, parse_handshake
from goplugin._transport import mtls, tlsrelay

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from gobuild import go_program  # noqa: E402

METHOD = "/bench.Echo/Echo"
OPTIONS = [
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.use_local_subchannel_pool", 1),
]
PLUGIN_ENV = {"BASIC_PLUGIN": "hello", "PLUGIN_PROTOCOL_VERSIONS": "1"}


def _bytes_value(payload: bytes) -> bytes:
    """google.protobuf.BytesValue{value: payload}, what the Go echo server decodes."""
    n, prefix = len(payload), bytearray(b"\x0a")
    while n >= 0x80:
        prefix.append((n & 0x7F) | 0x80)
        n >>= 7
    prefix.append(n)
    return bytes(prefix) + payload


# -- the Python echo server (a child process) ------------------------------------------------


def serve(mode: str) -> None:
    """Echo server: plaintext grpcio, grpcio behind a TLSServerRelay, or grpcio's own TLS."""
    directory = tempfile.mkdtemp(prefix="bench")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=OPTIONS)
    handler: Any = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),)
    )
    grpc_path = os.path.join(directory, "grpc.sock")
    cert: bytes | None = None
    relay = None
    if mode == "plain":
        server.add_insecure_port("unix:" + grpc_path)
        address = grpc_path
    else:
        host_der = mtls.pem_to_der(os.environ["PLUGIN_CLIENT_CERT"])
        identity = mtls.generate_identity(os.environ.get("BENCH_CURVE", "P-256"))
        cert = identity.cert_der
        if mode == "native":
            creds = mtls.grpc_server_credentials(identity, host_der)
            server.add_secure_port("unix:" + grpc_path, creds)
            address = grpc_path
        else:
            server.add_insecure_port("unix:" + grpc_path)
            address = os.path.join(directory, "tls.sock")
            relay = tlsrelay.TLSServerRelay(
                tlsrelay.listen_unix(address), mtls.mtls_server(identity, host_der), grpc_path
            )
            relay.start()
    server.start()
    print(Handshake(1, 1, "unix", address, Protocol.GRPC, cert).format(), flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    if relay is not None:
        relay.close()
    server.stop(0)
    shutil.rmtree(directory, ignore_errors=True)


# -- scenarios -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    kind: str  # "py" or "go": which plaintext row is its baseline
    unary: list[float] = field(default_factory=list)
    throughput: list[float] = field(default_factory=list)
    connect: list[float] = field(default_factory=list)


@contextmanager
def _process(argv: list[str], env: dict[str, str]) -> Iterator[Handshake]:
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **PLUGIN_ENV, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    address = None
    try:
        assert proc.stdout is not None and proc.stdin is not None
        handshake = parse_handshake(proc.stdout.readline())
        address = handshake.address
        yield handshake
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # our Python servers clean up and exit
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()  # Go plugins wait for their host's Shutdown call
            proc.wait()
        if address is not None and os.path.exists(address):
            os.unlink(address)


ChannelFactory = Callable[[], grpc.Channel]
Target = Callable[[ExitStack], ChannelFactory]


def _insecure(target: str) -> ChannelFactory:
    return lambda: grpc.insecure_channel(target, OPTIONS)


def _go(go_bin: str, host_curve: str | None) -> Target:
    def open_target(stack: ExitStack) -> ChannelFactory:
        env: dict[str, str] = {}
        identity = None
        if host_curve is not None:
            identity = mtls.generate_identity(host_curve)
            env["PLUGIN_CLIENT_CERT"] = identity.cert_pem.decode()
        hs = stack.enter_context(_process([go_bin], env))
        if identity is None:
            return _insecure("unix:" + hs.address)
        assert hs.server_cert is not None
        relay = tlsrelay.TLSClientRelay(
            hs.network, hs.address, mtls.mtls_client(identity, hs.server_cert)
        )
        stack.enter_context(relay)
        return _insecure(relay.target)

    return open_target


def _py(mode: str, curve: str = "P-256") -> Target:
    def open_target(stack: ExitStack) -> ChannelFactory:
        env = {"BENCH_CURVE": curve}
        identity = mtls.generate_identity(curve)
        if mode != "plain":
            env["PLUGIN_CLIENT_CERT"] = identity.cert_pem.decode()
        argv = [sys.executable, __file__, "--serve", mode]
        hs = stack.enter_context(_process(argv, env))
        if mode == "plain":
            return _insecure("unix:" + hs.address)
        assert hs.server_cert is not None
        if mode == "native":
            creds, extra = mtls.grpc_channel_credentials(identity, hs.server_cert)
            target = "unix:" + hs.address
            return lambda: grpc.secure_channel(target, creds, OPTIONS + extra)
        relay = tlsrelay.TLSClientRelay(
            hs.network, hs.address, mtls.mtls_client(identity, hs.server_cert)
        )
        stack.enter_context(relay)
        return _insecure(relay.target)

    return open_target


def _measure(new_channel: ChannelFactory, result: Result, calls: int, big_calls: int) -> None:
    small, big = _bytes_value(b"x" * 16), _bytes_value(os.urandom(1 << 20))
    with new_channel() as channel:
        echo: Any = channel.unary_unary(METHOD)
        echo(small, timeout=30)
        for _ in range(50):  # warm up
            echo(small)
        clock = time.perf_counter
        samples = result.unary
        for _ in range(calls):
            start = clock()
            echo(small)
            samples.append(clock() - start)
        start = clock()
        for _ in range(big_calls):
            if echo(big) != big:
                raise AssertionError("echo mismatch")
        result.throughput.append(big_calls / (clock() - start))
    for _ in range(10):
        start = clock()
        with new_channel() as channel:
            call: Any = channel.unary_unary(METHOD)
            call(small, timeout=30)
        result.connect.append(clock() - start)


def _grpclib_row(go_bin: str, calls: int, rounds: int) -> Result | None:
    """grpclib's own client over OpenSSL straight to the Go plugin (if grpclib is installed)."""
    try:
        import asyncio

        from grpclib.client import Channel
        from grpclib.config import Configuration
        from grpclib.const import Cardinality
        from grpclib.encoding.base import CodecBase
    except ImportError:
        return None

    class Raw(CodecBase):  # type: ignore[misc]
        __content_subtype__ = "proto"

        def encode(self, message: Any, message_type: Any) -> bytes:
            return bytes(message)

        def decode(self, data: bytes, message_type: Any) -> bytes:
            return data

    result = Result("grpclib+OpenSSL → Go plugin (AutoMTLS, P-521 both)", "go")
    identity = mtls.generate_identity("P-521")
    env = {"PLUGIN_CLIENT_CERT": identity.cert_pem.decode()}

    async def run(hs: Handshake) -> None:
        assert hs.server_cert is not None
        ctx = mtls.mtls_client(identity, hs.server_cert).ssl_context
        config = Configuration(ssl_target_name_override=mtls.TLS_SERVER_NAME)
        channel = Channel(path=hs.address, ssl=ctx, codec=Raw(), config=config)
        small, big = _bytes_value(b"x" * 16), _bytes_value(os.urandom(1 << 20))

        async def call(payload: bytes) -> bytes:
            async with channel.request(METHOD, Cardinality.UNARY_UNARY, bytes, bytes) as stream:
                await stream.send_message(payload, end=True)
                reply: bytes = await stream.recv_message()
                return reply

        for _ in range(50):
            await call(small)
        for _ in range(rounds):
            for _ in range(calls):
                start = time.perf_counter()
                await call(small)
                result.unary.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _ in range(10):
                await call(big)
            result.throughput.append(10 / (time.perf_counter() - start))
        channel.close()

    with _process([go_bin], env) as hs:
        asyncio.run(run(hs))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=2000, help="unary calls per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big-calls", type=int, default=30, help="1 MiB echoes per round")
    parser.add_argument("--json", help="also write the raw numbers here")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    go_bin = str(go_program("./testprogs/mtlsecho"))
    go_521, go_256 = _go(go_bin, "P-521"), _go(go_bin, "P-256")
    scenarios: list[tuple[Result, Target]] = [
        (Result("grpcio plaintext, unix (py↔py) [baseline]", "py"), _py("plain")),
        (Result("grpcio plaintext → Go plugin, no TLS [Go baseline]", "go"), _go(go_bin, None)),
        (Result("relay → Go plugin AutoMTLS (host P-521, plugin P-521)", "go"), go_521),
        (Result("relay → Go plugin AutoMTLS (host P-256, plugin P-521)", "go"), go_256),
        (Result("relay ↔ relay, py↔py (P-521 both)", "py"), _py("relay", "P-521")),
        (Result("relay ↔ relay, py↔py (P-256 both)", "py"), _py("relay", "P-256")),
        (Result("grpcio's own mTLS, py↔py (P-256 both)", "py"), _py("native", "P-256")),
    ]
    with ExitStack() as stack:
        factories = [open_target(stack) for _, open_target in scenarios]
        for round_no in range(args.rounds):
            for (result, _), factory in zip(scenarios, factories, strict=True):
                print(f"round {round_no + 1}/{args.rounds}: {result.name}", file=sys.stderr)
                _measure(factory, result, args.calls, args.big_calls)
    results = [result for result, _ in scenarios]
    extra = _grpclib_row(go_bin, args.calls, args.rounds)
    if extra is not None:
        results.append(extra)
    _print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results]))


def _print_table(results: list[Result]) -> None:
    base = {r.kind: r for r in results if "baseline" in r.name}
    head = (
        f"{'transport':58s} {'median µs':>9s} {'p95 µs':>7s} {'x':>5s}"
        f" {'1 MiB MiB/s':>11s} {'x':>5s} {'connect ms':>10s}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        med = statistics.median(r.unary) * 1e6
        p95 = statistics.quantiles(r.unary, n=20)[-1] * 1e6
        thr = statistics.median(r.throughput)
        ref = base[r.kind]
        med_ratio = med / (statistics.median(ref.unary) * 1e6)
        thr_ratio = thr / statistics.median(ref.throughput)
        connect = f"{statistics.median(r.connect) * 1e3:10.2f}" if r.connect else f"{'-':>10s}"
        print(
            f"{r.name:58s} {med:9.0f} {p95:7.0f} {med_ratio:5.2f} {thr:11.0f} {thr_ratio:5.2f}"
            f" {connect}"
        )


if __name__ == "__main__":
    main()
