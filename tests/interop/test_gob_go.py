"""gob and net/rpc against real Go: examples-go/testprogs/gobvectors, built with ``go build``.

Go → Python: every case's bytes (from a fresh Go process each, so type ids are a fresh
encoder's) decode in Python, in one piece or byte by byte. Python → Go: Python's bytes equal
Go's (where Go's map order allows) and Go's decoder accepts them. net/rpc: recorded exchanges
shaped like go-plugin's, then live calls between a Python and a Go end, both ways.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from gob_cases import CASES, GENERIC_OVERRIDES, REGISTRY, plain
from gobuild import go_program

from goplugin.errors import RPCServerError
from goplugin.netrpc import _gob as gob
from goplugin.netrpc._rpc import (
    CONTROL_SERVICES,
    EMPTY_STRUCT,
    Call,
    ClientCodec,
    Method,
    Reply,
    ServerCodec,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def gobvectors() -> Path:
    return go_program("./testprogs/gobvectors")


def run_json(prog: Path, *args: str, stdin: str | None = None) -> Any:
    out = subprocess.run([str(prog), *args], input=stdin, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def go_bytes(gobvectors: Path) -> dict[str, bytes]:
    return {k: bytes.fromhex(v) for k, v in run_json(gobvectors, "encode").items()}


def test_same_cases_on_both_sides(gobvectors: Path) -> None:
    go_cases = run_json(gobvectors, "cases")
    assert [c["name"] for c in go_cases] == list(CASES)
    assert {c["name"] for c in go_cases if c["unordered"]} == {
        name for name, c in CASES.items() if c.unordered
    }


@pytest.mark.parametrize("name", list(CASES))
def test_go_to_python(name: str, go_bytes: dict[str, bytes]) -> None:
    case, data = CASES[name], go_bytes[name]
    dec = gob.Decoder(REGISTRY)
    dec.feed(data)
    assert dec.next_value(case.type) == case.want
    assert dec.buffered == 0

    generic = gob.Decoder(REGISTRY)
    generic.feed(data)
    assert plain(generic.next_value()) == GENERIC_OVERRIDES.get(name, plain(case.want))

    # Byte by byte: values spanning messages (types first met inside an interface) included.
    dec = gob.Decoder(REGISTRY)
    for i in range(len(data)):
        assert dec.next_value(case.type) is gob.NEED_DATA
        dec.feed(data[i : i + 1])
    assert dec.next_value(case.type) == case.want
    assert dec.buffered == 0


@pytest.mark.parametrize("name", list(CASES))
def test_python_bytes_equal_go_bytes(name: str, go_bytes: dict[str, bytes]) -> None:
    case = CASES[name]
    ours = gob.Encoder(REGISTRY).encode(case.value, case.type)
    if case.unordered:  # Go's map order is random: same length, same value
        assert len(ours) == len(go_bytes[name])
        dec = gob.Decoder(REGISTRY)
        dec.feed(ours)
        assert dec.next_value(case.type) == case.want
    else:
        assert ours.hex() == go_bytes[name].hex()


def test_python_to_go(gobvectors: Path) -> None:
    ours = {
        name: gob.Encoder(REGISTRY).encode(case.value, case.type).hex()
        for name, case in CASES.items()
    }
    verdicts = run_json(gobvectors, "decode", stdin=json.dumps(ours))
    assert verdicts == dict.fromkeys(CASES, "ok")


def test_go_stream_to_python(gobvectors: Path) -> None:
    """Every case from one Go encoder: each type defined once, with a busy process's ids."""
    out = subprocess.run([str(gobvectors), "encode-stream"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = bytes.fromhex(out.stdout.strip())
    dec = gob.Decoder(REGISTRY)
    dec.feed(data)
    for name, case in CASES.items():
        assert dec.next_value(case.type) == case.want, name
    assert dec.buffered == 0
    assert len(dec.wire_types) > 30


def test_python_stream_to_go(gobvectors: Path) -> None:
    """Every case from one Python encoder: later values reuse earlier definitions, by id."""
    enc = gob.Encoder(REGISTRY)
    stream = b"".join(enc.encode(c.value, c.type) for c in CASES.values())
    out = subprocess.run(
        [str(gobvectors), "decode-stream"], input=stream.hex(), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == dict.fromkeys(CASES, "ok")


# --- net/rpc ---

KV_SERVICES = {
    "Plugin": {
        "Put": Method(gob.MAP_STRING_ANY, gob.INTERFACE),
        "Get": Method(gob.STRING, gob.BYTES),
    }
}
GREETER_SERVICES = {"Plugin": {"Greet": Method(gob.INTERFACE, gob.STRING)}}
SERVICES = {"control": CONTROL_SERVICES, "greeter": GREETER_SERVICES, "kv": KV_SERVICES}

PUT_ARGS = {"key": "hello", "value": b"world"}
NO_FILE = "open kv_missing: no such file or directory"
STR, BYTES, ANY = gob.STRING, gob.BYTES, gob.INTERFACE

# The calls gobvectors' client makes (go-plugin's host code and the examples' shared clients),
# with the types the Python end must declare and the replies/errors Go's client reports.
CALLS: dict[str, list[tuple[str, Any, gob.GoType, gob.GoType, Any, str]]] = {
    "control": [
        ("Control.Ping", True, gob.BOOL, EMPTY_STRUCT, {}, ""),
        ("Dispenser.Dispense", "kv", gob.STRING, gob.UINT32, 1, ""),
        ("Dispenser.Dispense", "nope", gob.STRING, gob.UINT32, 0, "unknown plugin type: nope"),
        ("Control.Quit", True, gob.BOOL, EMPTY_STRUCT, {}, ""),
    ],
    "greeter": [("Plugin.Greet", None, gob.INTERFACE, gob.STRING, "Hello!", "")],
    "kv": [
        ("Plugin.Put", PUT_ARGS, gob.MAP_STRING_ANY, ANY, None, ""),
        ("Plugin.Get", "hello", STR, BYTES, b"world", ""),
        ("Plugin.Get", "missing", STR, BYTES, b"", NO_FILE),
        ("Nope.Foo", True, gob.BOOL, gob.STRING, "", "rpc: can't find service Nope.Foo"),
        ("Plugin.Nope", True, gob.BOOL, gob.STRING, "", "rpc: can't find method Plugin.Nope"),
        ("bad", True, gob.BOOL, gob.STRING, "", "rpc: service/method request ill-formed: bad"),
        ("Plugin.Get", 42, gob.INT, gob.BYTES, b"",
         "gob: decoding into local type *string, received remote type int"),
    ],
}  # fmt: skip


class PyPlugin:
    """Python implementations of the scenario services, as a Python plugin would have them."""

    def __init__(self) -> None:
        self.kv: dict[str, bytes] = {}
        self.next_id = 0

    def handle(self, call: Call) -> tuple[Any, str]:
        args = call.args
        match call.service_method:
            case "Control.Ping" | "Control.Quit":
                return {}, ""
            case "Dispenser.Dispense":
                if args not in ("kv", "greeter"):
                    return None, f"unknown plugin type: {args}"
                self.next_id += 1
                return self.next_id, ""
            case "Plugin.Greet":
                return "Hello!", ""
            case "Plugin.Put":
                self.kv[args["key"]] = args["value"]
                return None, ""
            case "Plugin.Get":
                if args not in self.kv:
                    return None, f"open kv_{args}: no such file or directory"
                return self.kv[args], ""
        raise AssertionError(call)

    def serve(self, codec: ServerCodec) -> bytes:
        out = b""
        while (call := codec.next_call()) is not None:
            if call.error:
                out += codec.respond(call)
            else:
                reply, error = self.handle(call)
                out += codec.respond(call, reply, error=error)
        return out


def go_result(reply: Reply) -> dict[str, Any]:
    """A reply the way gobvectors prints Go's results (JSON of the Go reply value)."""
    value = reply.value
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(reply.error, RPCServerError):
        return {"call": reply.service_method, "error": reply.error.message}
    return {"call": reply.service_method, "reply": value, "error": ""}


def expected_results(scen: str) -> list[dict[str, Any]]:
    out = []
    for method, _, _, _, reply, error in CALLS[scen]:
        if isinstance(reply, bytes):
            reply = reply.decode()
        out.append({"call": method, "reply": reply, "error": error})
    return out


@pytest.mark.parametrize("scen", list(CALLS))
def test_recorded_exchange(gobvectors: Path, scen: str) -> None:
    cap = run_json(gobvectors, "rpc-capture", scen)
    c2s, s2c = bytes.fromhex(cap["c2s"]), bytes.fromhex(cap["s2c"])
    assert cap["results"] == expected_results(scen)

    # Python's server, fed Go's requests, answers with Go's bytes exactly.
    server = ServerCodec(SERVICES[scen])
    server.receive_data(c2s)
    assert PyPlugin().serve(server).hex() == s2c.hex()
    assert server.buffered == 0

    # Python's client sends Go's bytes (up to Go's random map order) ...
    client = ClientCodec()
    sent = b""
    for method, args, args_type, reply_type, _, _ in CALLS[scen]:
        sent += client.request(method, args, args_type, reply_type)[1]
    if scen == "kv":
        check = ServerCodec(KV_SERVICES)
        check.receive_data(sent)
        put = check.next_call()
        assert put is not None and put.args == {"key": "hello", "value": b"world"}
        assert len(sent) == len(c2s)
    else:
        assert sent.hex() == c2s.hex()

    # ... and reads Go's replies, fed in any chunking.
    replies = []
    for i in range(len(s2c)):
        client.receive_data(s2c[i : i + 1])
        while (reply := client.next_reply()) is not None:
            replies.append(reply)
    assert [r.seq for r in replies] == list(range(len(CALLS[scen])))
    for reply, (method, _, _, _, want, error) in zip(replies, CALLS[scen], strict=True):
        assert reply.service_method == method
        if error:
            assert isinstance(reply.error, RPCServerError) and reply.error.message == error
        else:
            assert reply.error is None and reply.value == want
    assert client.pending == frozenset()


class Pipe:
    """A child process's stdin/stdout as a connection, reads bounded by a deadline."""

    def __init__(self, args: list[str]):
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.deadline = time.monotonic() + 60

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(0.0, self.deadline - time.monotonic()))
        assert ready, "the Go side did not answer within 60 s"
        return os.read(fd, 65536)

    def finish(self) -> bytes:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        err = self.proc.stderr.read()
        assert self.proc.wait(timeout=60) == 0, err
        return err


@pytest.mark.parametrize("scen", list(CALLS))
def test_python_client_go_server(gobvectors: Path, scen: str) -> None:
    pipe = Pipe([str(gobvectors), "rpc-server", scen])
    client = ClientCodec()
    results = []
    for method, args, args_type, reply_type, _, _ in CALLS[scen]:
        seq, data = client.request(method, args, args_type, reply_type)
        pipe.write(data)
        while (reply := client.next_reply()) is None:
            client.receive_data(pipe.read())
        assert reply.seq == seq
        results.append(reply)
    pipe.finish()
    for reply, (_, _, _, _, want, error) in zip(results, CALLS[scen], strict=True):
        if error:
            assert isinstance(reply.error, RPCServerError) and reply.error.message == error
        else:
            assert reply.error is None and reply.value == want


@pytest.mark.parametrize("scen", list(CALLS))
def test_go_client_python_server(gobvectors: Path, scen: str) -> None:
    pipe = Pipe([str(gobvectors), "rpc-client", scen])
    server, plugin = ServerCodec(SERVICES[scen]), PyPlugin()
    while data := pipe.read():
        server.receive_data(data)
        if out := plugin.serve(server):
            pipe.write(out)
    assert json.loads(pipe.finish()) == expected_results(scen)
