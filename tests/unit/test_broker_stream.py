"""The plugin side's broker against the order in which a Go host's messages really arrive.

A Go host opens StartStream in a goroutine, concurrently with its first call, so a plugin
may dial a broker id (inside that call) before the stream exists. No processes here: the
stream is a plain iterator handed to the StartStream handler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from goplugin._protocol.internal import ConnInfo
from goplugin._sync.broker import GRPCBroker
from goplugin.errors import PluginError


def host_stream(*messages: ConnInfo, hold: float = 5.0) -> Iterator[ConnInfo]:
    yield from messages
    time.sleep(hold)  # the host keeps its stream open


def serve(broker: GRPCBroker, requests: Iterator[ConnInfo]) -> None:
    stream = broker.serve_stream(requests, None)
    threading.Thread(target=lambda: next(stream, None), daemon=True).start()


def test_a_dial_that_starts_before_the_stream_gets_its_address(tmp_path: Path) -> None:
    broker = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    result: dict[str, object] = {}

    def dial() -> None:
        try:
            result["channel"] = broker.dial(5, timeout=3)
        except PluginError as exc:
            result["error"] = exc

    dialer = threading.Thread(target=dial)
    dialer.start()
    time.sleep(0.1)
    serve(broker, host_stream(ConnInfo(service_id=5, network="unix", address="/nowhere")))
    dialer.join()
    assert "channel" in result, result
    broker.close()


def test_after_close_a_dial_fails_at_once(tmp_path: Path) -> None:
    broker = GRPCBroker(socket_dir=str(tmp_path), grpc_options=[])
    broker.close()
    # "closed", not "timeout waiting for connection info" after the (long) timeout.
    with pytest.raises(PluginError, match="closed"):
        broker.dial(1, timeout=60)
