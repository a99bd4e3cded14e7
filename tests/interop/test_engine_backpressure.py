"""A caller that streams faster than the plugin's handler reads is held back by flow control:
the plugin buffers a bounded amount, however much the caller sends, and everything still
arrives, in order. The other way round, a handler that streams faster than its caller reads
waits for the caller's window and socket.

Callers: an unmodified go-plugin Go host (examples-go/testprogs/streamhost, grpc-go's client)
and goplugin.PluginClient (grpcio's). The plugin is tests/plugins/engine_plugin.py, whose
Collect sleeps after each event; its RSS is sampled while the stream runs.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import PLUGINS
from gen.streaming import streaming_goplugin, streaming_pb2
from gobuild import go_program

import goplugin

pytestmark = pytest.mark.interop

ENGINE_PLUGIN = [sys.executable, str(PLUGINS / "engine_plugin.py")]
STREAMING = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
EVENTS, BLOB = 240, 512 << 10  # 120 MiB into a handler that takes 5 ms per event (>= 1.2 s)
DELAY = "0.005"
# What the plugin may grow by while the stream runs (grpcio engine: 9-16 MiB). Unbounded
# buffering grows by most of the 120 MiB; the pure engine holds a stream window (4 MiB) and
# the messages in flight (6-8 MiB measured).
BOUND = 32 << 20


class _RSS:
    """Samples a process's resident size every 10 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak - self.baseline


def _pattern(seq: int, size: int) -> bytes:
    return (seq.to_bytes(8, "big") * (size // 8 + 1))[:size]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_go_host_streaming_into_a_slow_handler_is_held_back(
    engine: str, flavour: str, plugin_pythonpath: None, workdir: Path
) -> None:
    env = {
        **os.environ,
        "ENGINE_PLUGIN_FLAVOUR": flavour,
        "ENGINE_PLUGIN_READ_DELAY": DELAY,
    }
    command = "exec " + " ".join(ENGINE_PLUGIN)  # the pid go-plugin reports is the plugin's
    streamhost = str(go_program("./testprogs/streamhost"))
    host = subprocess.Popen(
        [streamhost, "-plugin", command, "pid", "collect", str(EVENTS), str(BLOB)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        first = host.stdout.readline()
        assert first.startswith("pid="), first + host.communicate(timeout=60)[1][-3000:]
        rss = _RSS(int(first.strip().removeprefix("pid=")))
        out, err = host.communicate(timeout=150)
        growth = rss.stop()
    finally:
        host.kill()
        host.wait()
    assert host.returncode == 0, out + err[-3000:]
    assert f"collect count={EVENTS} in_order=true blob_bytes={EVENTS * BLOB}" in out, out
    assert "digest_ok=true ok=true" in out, out
    assert growth < BOUND, f"the plugin grew by {growth >> 20} MiB while the host streamed"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_handler_streaming_to_a_slow_go_reader_waits_for_its_window(
    engine: str, flavour: str, plugin_pythonpath: None
) -> None:
    """Generate's handler writes 120 MiB as fast as it can; the Go host reads an event every
    5 ms: the handler must wait for grpc-go's window, not queue what it cannot send."""
    env = {**os.environ, "ENGINE_PLUGIN_FLAVOUR": flavour}
    command = "exec " + " ".join(ENGINE_PLUGIN)
    streamhost = str(go_program("./testprogs/streamhost"))
    host = subprocess.Popen(
        [streamhost, "-plugin", command, "pid", "generate", str(EVENTS), str(BLOB), DELAY + "s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        first = host.stdout.readline()
        assert first.startswith("pid="), first + host.communicate(timeout=60)[1][-3000:]
        rss = _RSS(int(first.strip().removeprefix("pid=")))
        out, err = host.communicate(timeout=150)
        growth = rss.stop()
    finally:
        host.kill()
        host.wait()
    assert host.returncode == 0, out + err[-3000:]
    assert f"generate count={EVENTS} ok=true" in out, out
    assert growth < BOUND, f"the plugin grew by {growth >> 20} MiB for a slow reader"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_grpcio_host_streaming_into_a_slow_handler_is_held_back(
    engine: str, flavour: str, plugin_pythonpath: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINE_PLUGIN_FLAVOUR", flavour)
    monkeypatch.setenv("ENGINE_PLUGIN_READ_DELAY", DELAY)
    sent = hashlib.sha256()

    def events() -> Iterator[streaming_pb2.Event]:
        for seq in range(EVENTS):
            blob = _pattern(seq, BLOB)
            sent.update(seq.to_bytes(8, "big") + blob)
            yield streaming_pb2.Event(seq=seq, blob=blob)

    with goplugin.PluginClient(
        ENGINE_PLUGIN,
        handshake=STREAMING,
        plugins={"streamer": streaming_goplugin.StreamerPlugin()},
    ) as client:
        streamer = client.dispense("streamer")
        assert client.pid is not None
        rss = _RSS(client.pid)
        started = time.monotonic()
        summary = streamer.collect(events(), timeout=120)
        growth = rss.stop()
        assert time.monotonic() - started >= EVENTS * float(DELAY)
    assert (summary.count, summary.in_order) == (EVENTS, True)
    assert summary.digest == sent.digest()
    assert growth < BOUND, f"the plugin grew by {growth >> 20} MiB while the host streamed"


def _frame(kind: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HBBBL", len(payload) >> 8, len(payload) & 0xFF, kind, flags, sid) + payload


def _never_reading_client(address: str, network: str) -> socket.socket:
    """An HTTP/2 client that opens every window wide, asks for a huge response stream
    (Generate: 10,000 events of 64 KiB) and then never reads."""
    import hpack

    family = socket.AF_UNIX if network == "unix" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if network == "unix":
        sock.connect(address)
    else:
        host, _, port = address.rpartition(":")
        sock.connect((host, int(port)))
    block = hpack.Encoder().encode(
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/streaming.Streamer/Generate"),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]
    )
    request = streaming_pb2.GenerateRequest(count=10_000, blob_size=64 << 10).SerializeToString()
    sock.sendall(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + _frame(4, 0, 0, struct.pack(">HL", 4, 0x7FFFFFFF))
        + _frame(8, 0, 0, struct.pack(">L", 0x7FFFFFFF - 65535))
        + _frame(1, 0x4, 1, block)
        + _frame(0, 0x1, 1, b"\x00" + struct.pack(">L", len(request)) + request)
    )
    return sock


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_peer_that_never_reads_cannot_make_the_plugin_queue_its_answers(
    engine: str, flavour: str, plugin_pythonpath: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows wide open, socket never read: the handler must wait for the socket, not fill
    memory with 640 MiB of answers (nor stall the host's own calls)."""
    monkeypatch.setenv("ENGINE_PLUGIN_FLAVOUR", flavour)
    with goplugin.PluginClient(
        ENGINE_PLUGIN,
        handshake=STREAMING,
        plugins={"streamer": streaming_goplugin.StreamerPlugin()},
    ) as client:
        streamer = client.dispense("streamer")
        handshake = client.handshake_line
        assert client.pid is not None and handshake is not None
        rss = _RSS(client.pid)
        sock = _never_reading_client(handshake.address, handshake.network)
        try:
            time.sleep(3)
            event = streaming_pb2.Event(seq=1, text="still here")
            assert streamer.echo(event, timeout=10).text == "still here"
            growth = rss.stop()
        finally:
            sock.close()
        assert streamer.echo(event, timeout=10).text == "still here"
    assert growth < BOUND, f"the plugin grew by {growth >> 20} MiB for a peer that never reads"


@pytest.mark.timeout(120)
def test_many_sync_streams_each_short_of_a_credit_batch_all_complete(
    engine: str, plugin_pythonpath: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """150 Collect streams at once, each of 50 events of 5,000 bytes: together more than the
    connection holds unread (32 MiB), each less than the 256 KiB a sync handler reports in one
    batch. Handlers that wait must give back what they took, or every stream waits for ever."""
    monkeypatch.setenv("ENGINE_PLUGIN_FLAVOUR", "sync")
    streams, events, size = 150, 50, 5000

    together = threading.Barrier(streams)

    def events_then_wait() -> Iterator[streaming_pb2.Event]:
        for seq in range(events - 1):
            yield streaming_pb2.Event(seq=seq, blob=_pattern(seq, size))
        # Every stream open with its events sent before any ends (an ended call gives back
        # what it held). A stream that cannot send breaks the barrier after 30 s.
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(30)
        yield streaming_pb2.Event(seq=events - 1, blob=_pattern(events - 1, size))

    def run(streamer: Any, index: int) -> tuple[int, bool]:
        summary = streamer.collect(events_then_wait(), timeout=60)
        return summary.count, summary.in_order

    with goplugin.PluginClient(
        ENGINE_PLUGIN,
        handshake=STREAMING,
        plugins={"streamer": streaming_goplugin.StreamerPlugin()},
    ) as client:
        streamer = client.dispense("streamer")
        with concurrent.futures.ThreadPoolExecutor(streams) as pool:
            results = list(pool.map(lambda i: run(streamer, i), range(streams)))
    assert results == [(events, True)] * streams
