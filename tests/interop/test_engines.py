"""Bad input against a Python plugin, on both serving engines (goplugin._engines): the same
status codes as grpcio gives, and nothing a broken or idle client does disturbs other calls.

The statuses are checked from a Go host (our kvhost's ``call METHOD HEX``, grpc-go's client);
junk and half-open connections from a Python host, which knows the plugin's address.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gen.kv import kv_goplugin, kv_pb2

import goplugin

pytestmark = pytest.mark.interop

FAULT_PLUGIN = [sys.executable, str(PLUGINS / "fault_plugin.py")]


def _hex(message: kv_pb2.GetRequest) -> str:
    return message.SerializeToString().hex()


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_bad_calls_get_grpcio_statuses_at_a_go_host(
    engine: str, flavour: str, kvhost: Path, plugin_pythonpath: None, workdir: Path
) -> None:
    env = {"GOPLUGIN_FAULT_FLAVOUR": flavour}
    calls = [
        # A handler that raises: UNKNOWN, with the exception's text.
        *("call", "Get", _hex(kv_pb2.GetRequest(key="fault:error:disk on fire"))),
        # A method the plugin does not have: UNIMPLEMENTED.
        *("call", "Nope", ""),
        # Bytes that are not a GetRequest (a string field whose length runs past the end).
        *("call", "Get", "0aff"),
        # And the plugin still answers.
        *("put", "k", "v", "get", "k"),
    ]
    result = subprocess.run(
        [str(kvhost), "-plugin", shlex.join(FAULT_PLUGIN), *calls],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = re.findall(r"^call (\w+): code=(\w+) desc=(.*)$", result.stdout, re.M)
    assert [(m, code) for m, code, _ in lines] == [
        ("Get", "Unknown"),
        ("Nope", "Unimplemented"),
        ("Get", "Internal"),
    ], result.stdout
    assert "disk on fire" in lines[0][2]
    assert "value=v" in result.stdout


def _open_junk(address: str, network: str, payload: bytes) -> socket.socket:
    family = socket.AF_UNIX if network == "unix" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if network == "unix":
        sock.connect(address)
    else:
        host, _, port = address.rpartition(":")
        sock.connect((host, int(port)))
    if payload:
        sock.sendall(payload)
    return sock


JUNK = [
    b"",  # connected, then silent (half-open from the server's point of view)
    b"PRI * HTTP/2.0\r\n",  # half a preface
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # the wrong protocol
    bytes(range(256)) * 4,  # noise
    # A valid preface, then a frame claiming 16 MiB that never comes.
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    b"\xff\xff\xff\x00\x00\x00\x00\x00\x01",
]


@pytest.mark.timeout(120)
def test_junk_and_half_open_connections_do_not_disturb_calls(
    engine: str, py_kv_plugin: list[str], workdir: Path
) -> None:
    with goplugin.PluginClient(
        py_kv_plugin, handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}
    ) as client:
        kv = client.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
        handshake = client.handshake_line
        assert handshake is not None
        held: list[socket.socket] = []
        try:
            for i in range(200):
                held.append(_open_junk(handshake.address, handshake.network, JUNK[i % len(JUNK)]))
                if i % 40 == 0:
                    started = time.monotonic()
                    assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value.startswith(b"v")
                    assert time.monotonic() - started < 5
            for _ in range(20):
                started = time.monotonic()
                assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value.startswith(b"v")
                assert time.monotonic() - started < 5
            client.ping()
        finally:
            for sock in held:
                sock.close()
        # Once they all hung up the plugin still serves, and then stops cleanly.
        assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value.startswith(b"v")
    assert client.returncode == 0, client.stderr_tail


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_handlers_see_the_callers_deadline_and_metadata(
    engine: str,
    flavour: str,
    plugin_pythonpath: None,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOPLUGIN_FAULT_FLAVOUR", flavour)
    with goplugin.PluginClient(
        FAULT_PLUGIN, handshake=EXAMPLE_HANDSHAKE, plugins={"kv": kv_goplugin.KVPlugin()}
    ) as client:
        kv = client.dispense("kv")
        left = float(kv.get(kv_pb2.GetRequest(key="fault:remaining"), timeout=30).value)
        assert 20 < left <= 31  # grpcio rounds the encoded deadline up: 30.1 happens
        # No deadline: None (grpc.aio, pure) or grpcio's sync server's "practically forever".
        unbounded = kv.get(kv_pb2.GetRequest(key="fault:remaining")).value
        assert unbounded == b"none" or float(unbounded) > 1e6
        reply = kv.get(kv_pb2.GetRequest(key="fault:metadata:x-who"), metadata=[("x-who", "me")])
        assert reply.value == b"me"
