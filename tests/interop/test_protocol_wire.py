"""The bytes between an unmodified go-plugin v1.8.0 host and a plugin, as a wiretap records them.

tests/plugins/tap_plugin.py sits between a Go host (testprogs/rpchost, testprogs/kvhost, both
plain go-plugin Clients) and our Python plugin and records every byte. The tests decode the
recording with the yamux frame layout and our sans-IO gob/net-rpc codec, and check the order
and shape of what each side sends. docs/protocol.md links them for the net/rpc connection
layout, the MuxBroker's knock and the multiplexed gRPC connection.
"""

from __future__ import annotations

import json
import shlex
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import PLUGINS
from gobuild import go_program

from goplugin.netrpc._rpc import CONTROL_SERVICES, ServerCodec

pytestmark = pytest.mark.interop

HEADER = struct.Struct(">BBHII")
DATA, WINDOW_UPDATE, PING, GO_AWAY = 0, 1, 2, 3
SYN, ACK, FIN, RST = 1, 2, 4, 8
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _frames(record: Path, direction: str) -> list[tuple[int, int, int, int, bytes]]:
    """(type, flags, stream id, length, payload) of every yamux frame one side sent."""
    data = b"".join(
        bytes.fromhex(chunk["hex"])
        for chunk in map(json.loads, record.read_text().splitlines())
        if chunk["dir"] == direction
    )
    frames, pos = [], 0
    while pos + HEADER.size <= len(data):
        version, kind, flags, sid, length = HEADER.unpack_from(data, pos)
        assert version == 0, (pos, data[pos : pos + 12])
        pos += HEADER.size
        payload = b""
        if kind == DATA:
            payload = data[pos : pos + length]
            pos += length
        frames.append((kind, flags, sid, length, payload))
    assert pos == len(data), "a frame was cut short"
    return frames


def _opened(frames: list[tuple[int, int, int, int, bytes]]) -> list[int]:
    return [sid for _, flags, sid, _, _ in frames if flags & SYN and sid]


def _payloads(frames: list[tuple[int, int, int, int, bytes]]) -> dict[int, bytes]:
    out: dict[int, bytes] = defaultdict(bytes)
    for kind, _, sid, _, payload in frames:
        if kind == DATA:
            out[sid] += payload
    return out


@pytest.mark.timeout(120)
def test_a_go_netrpc_host_on_the_wire(plugin_pythonpath: None, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    tap = [sys.executable, str(PLUGINS / "tap_plugin.py"), str(record)]
    plugin = [sys.executable, str(PLUGINS / "netrpc_plugin.py")]
    done = subprocess.run(
        [str(go_program("./testprogs/rpchost")), *tap, *plugin],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and done.stdout.endswith("ok\n"), done.stdout + done.stderr
    host, plugin_side = _frames(record, "h2p"), _frames(record, "p2h")

    # The host opens three streams before anything else: control, stdout, stderr. yamux
    # opens a stream with a window update carrying SYN; the host's ids are odd.
    assert [(k, f, s) for k, f, s, _, _ in host[:3]] == [
        (WINDOW_UPDATE, SYN, 1),
        (WINDOW_UPDATE, SYN, 3),
        (WINDOW_UPDATE, SYN, 5),
    ]
    # The plugin accepts them with a window update carrying ACK (or ACK on its first data).
    assert {s for _, f, s, _, _ in plugin_side if f & ACK} >= {1, 3, 5}

    # On the control stream: net/rpc calls, gob-encoded, Seq counting from 0.
    host_data, plugin_data = _payloads(host), _payloads(plugin_side)
    control = ServerCodec(CONTROL_SERVICES)
    control.receive_data(host_data[1])
    calls = []
    while (call := control.next_call()) is not None:
        calls.append((call.seq, call.service_method, call.args))
    assert calls == [
        (0, "Control.Ping", True),
        (1, "Dispenser.Dispense", "greeter"),
        (2, "Dispenser.Dispense", "kv"),
        (3, "Dispenser.Dispense", "calc"),
        (4, "Control.Quit", True),
    ]

    # Each dispensed plugin gets a stream the host opens and knocks on with the id the plugin
    # answered (4 bytes, little-endian); the plugin acknowledges with the same 4 bytes.
    dispensed = [sid for sid in _opened(host) if sid > 5]
    assert len(dispensed) == 3
    ids = [struct.unpack("<I", host_data[sid][:4])[0] for sid in dispensed]
    assert ids == [1, 2, 3]  # the plugin's MuxBroker ids count from 1
    for sid in dispensed:
        assert plugin_data[sid][:4] == host_data[sid][:4]
    # The other way round: the calc plugin dials the host's broker id for its callback on a
    # stream it opens (an even id), and the host acknowledges.
    (callback,) = _opened(plugin_side)
    assert callback % 2 == 0
    assert plugin_data[callback][:4] == host_data[callback][:4] == struct.pack("<I", 1)

    # What the plugin prints after its handshake travels on stream 3 (stdout).
    assert b"stdout: greet\n" in plugin_data[3]
    assert "stdout stdout: greet" in done.stdout


@pytest.mark.timeout(120)
def test_a_multiplexing_go_grpc_host_on_the_wire(py_kv_plugin: list[str], tmp_path: Path) -> None:
    """PLUGIN_MULTIPLEX_GRPC: one connection, a yamux session on it (plaintext framing), and
    the host's gRPC connection (HTTP/2, its preface first) in yamux stream 1."""
    record = tmp_path / "record.jsonl"
    tap = [sys.executable, str(PLUGINS / "tap_plugin.py"), str(record), *py_kv_plugin]
    done = subprocess.run(
        [str(go_program("./testprogs/kvhost")), "-mux", "-plugin", shlex.join(tap), "ping"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and "ping=ok" in done.stdout, done.stdout + done.stderr
    host = _frames(record, "h2p")
    assert host[0][:3] == (WINDOW_UPDATE, SYN, 1)
    assert _payloads(host)[1].startswith(HTTP2_PREFACE)
    assert all(sid % 2 == 1 for sid in _opened(host))
