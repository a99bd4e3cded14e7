"""net/rpc's gob codec without processes: Go-recorded exchanges, routing, errors, fuzzing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from goplugin.errors import (
    GobEncodeError,
    GobError,
    GobTypeError,
    PluginError,
    ProtocolError,
    RPCServerError,
)
from goplugin.netrpc import _gob as gob
from goplugin.netrpc._rpc import (
    CONTROL_SERVICES,
    EMPTY_STRUCT,
    REQUEST,
    RESPONSE,
    Call,
    ClientCodec,
    Method,
    Reply,
    ServerCodec,
)

# Recorded by examples-go/testprogs/gobvectors rpc-capture: a net/rpc client and server in two
# fresh Go processes, making go-plugin's control calls (control), examples/basic's Greet
# (greeter), and examples/grpc's net/rpc Put/Get plus error cases (kv).
GO_CONTROL_C2S = bytes.fromhex(
    "2e7f030101075265717565737401ff80000102010d536572766963654d6574686f64010c00010353657101060000"
    "0011ff80010c436f6e74726f6c2e50696e67000302000119ff80011244697370656e7365722e44697370656e7365"
    "010100050c00026b7619ff80011244697370656e7365722e44697370656e7365010200070c00046e6f706513ff80"
    "010c436f6e74726f6c2e5175697401030003020001"
)
GO_CONTROL_S2C = bytes.fromhex(
    "397f03010108526573706f6e736501ff80000103010d536572766963654d6574686f64010c000103536571010600"
    "01054572726f72010c00000011ff80010c436f6e74726f6c2e50696e67000aff81030102ff8200000003ff820019"
    "ff80011244697370656e7365722e44697370656e73650101000306000134ff80011244697370656e7365722e4469"
    "7370656e736501020119756e6b6e6f776e20706c7567696e20747970653a206e6f70650003ff820013ff80010c43"
    "6f6e74726f6c2e5175697401030003ff8200"
)
GO_GREETER_C2S = bytes.fromhex(
    "2e7f030101075265717565737401ff80000102010d536572766963654d6574686f64010c00010353657101060000"
    "0011ff80010c506c7567696e2e47726565740003100000"
)
GO_GREETER_S2C = bytes.fromhex(
    "397f03010108526573706f6e736501ff80000103010d536572766963654d6574686f64010c000103536571010600"
    "01054572726f72010c00000011ff80010c506c7567696e2e477265657400090c000648656c6c6f21"
)
GO_KV_C2S = bytes.fromhex(
    "2e7f030101075265717565737401ff80000102010d536572766963654d6574686f64010c00010353657101060000"
    "000fff80010a506c7567696e2e507574000eff81040102ff8200010c011000002fff820002036b65790673747269"
    "6e670c07000568656c6c6f0576616c7565075b5d75696e74380a070005776f726c6411ff80010a506c7567696e2e"
    "476574010100080c000568656c6c6f11ff80010a506c7567696e2e4765740102000a0c00076d697373696e670fff"
    "8001084e6f70652e466f6f0103000302000112ff80010b506c7567696e2e4e6f7065010400030200010aff800103"
    "6261640105000302000111ff80010a506c7567696e2e47657401060003040054"
)
GO_KV_S2C = bytes.fromhex(
    "397f03010108526573706f6e736501ff80000103010d536572766963654d6574686f64010c000103536571010600"
    "01054572726f72010c0000000fff80010a506c7567696e2e507574000310000011ff80010a506c7567696e2e4765"
    "74010100080a0005776f726c643dff80010a506c7567696e2e4765740102012a6f70656e206b765f6d697373696e"
    "673a206e6f20737563682066696c65206f72206469726563746f7279000aff81030102ff8200000003ff820031ff"
    "8001084e6f70652e466f6f010301207270633a2063616e27742066696e642073657276696365204e6f70652e466f"
    "6f0003ff820036ff80010b506c7567696e2e4e6f7065010401227270633a2063616e27742066696e64206d657468"
    "6f6420506c7567696e2e4e6f70650003ff820037ff8001036261640105012b7270633a20736572766963652f6d65"
    "74686f64207265717565737420696c6c2d666f726d65643a206261640003ff820052ff80010a506c7567696e2e47"
    "65740106013f676f623a206465636f64696e6720696e746f206c6f63616c2074797065202a737472696e672c2072"
    "656365697665642072656d6f7465207479706520696e740003ff8200"
)
KV_SERVICES = {
    "Plugin": {
        "Put": Method(gob.MAP_STRING_ANY, gob.INTERFACE),
        "Get": Method(gob.STRING, gob.BYTES),
    }
}
GREETER_SERVICES = {"Plugin": {"Greet": Method(gob.INTERFACE, gob.STRING)}}


def serve(codec: ServerCodec, handle: Any) -> tuple[list[Call], bytes]:
    calls, out = [], b""
    while (call := codec.next_call()) is not None:
        calls.append(call)
        if call.error:
            out += codec.respond(call)
        else:
            reply, error = handle(call)
            out += codec.respond(call, reply, error=error)
    return calls, out


def replies(codec: ClientCodec) -> list[Reply]:
    out = []
    while (reply := codec.next_reply()) is not None:
        out.append(reply)
    return out


def control(call: Call) -> tuple[Any, str]:
    if call.service_method == "Dispenser.Dispense":
        return (1, "") if call.args == "kv" else (None, f"unknown plugin type: {call.args}")
    return {}, ""


def test_control_stream_like_go() -> None:
    server = ServerCodec(CONTROL_SERVICES)
    server.receive_data(GO_CONTROL_C2S)
    calls, out = serve(server, control)
    assert [(c.seq, c.service_method, c.args) for c in calls] == [
        (0, "Control.Ping", True),
        (1, "Dispenser.Dispense", "kv"),
        (2, "Dispenser.Dispense", "nope"),
        (3, "Control.Quit", True),
    ]
    assert out == GO_CONTROL_S2C

    client = ClientCodec()
    sent = b"".join(
        [
            client.request("Control.Ping", True, gob.BOOL, EMPTY_STRUCT)[1],
            client.request("Dispenser.Dispense", "kv", gob.STRING, gob.UINT32)[1],
            client.request("Dispenser.Dispense", "nope", gob.STRING, gob.UINT32)[1],
            client.request("Control.Quit", True, gob.BOOL, EMPTY_STRUCT)[1],
        ]
    )
    assert sent == GO_CONTROL_C2S
    client.receive_data(GO_CONTROL_S2C)
    got = replies(client)
    assert [(r.seq, r.value) for r in got] == [(0, {}), (1, 1), (2, None), (3, {})]
    assert isinstance(got[2].error, RPCServerError)
    assert got[2].error.message == "unknown plugin type: nope"
    assert client.pending == frozenset() and client.buffered == 0


def test_greeter_like_go() -> None:
    """examples/basic: Greet's argument is new(interface{}), a nil interface."""
    client = ClientCodec()
    seq, data = client.request("Plugin.Greet", None, gob.INTERFACE, gob.STRING)
    assert (seq, data) == (0, GO_GREETER_C2S)
    client.receive_data(GO_GREETER_S2C)
    assert replies(client) == [Reply(0, "Plugin.Greet", "Hello!", None)]

    server = ServerCodec(GREETER_SERVICES)
    server.receive_data(GO_GREETER_C2S)
    calls, out = serve(server, lambda call: ("Hello!", ""))
    assert calls == [Call(0, "Plugin.Greet", None, GREETER_SERVICES["Plugin"]["Greet"])]
    assert out == GO_GREETER_S2C


def test_kv_and_go_errors() -> None:
    store: dict[str, bytes] = {}

    def kv(call: Call) -> tuple[Any, str]:
        if call.service_method == "Plugin.Put":
            store[call.args["key"]] = call.args["value"]
            return None, ""
        if call.args in store:
            return store[call.args], ""
        return None, f"open kv_{call.args}: no such file or directory"

    server = ServerCodec(KV_SERVICES)
    server.receive_data(GO_KV_C2S)
    calls, out = serve(server, kv)
    assert out == GO_KV_S2C
    assert calls[0].args == {"key": "hello", "value": b"world"}
    assert [c.error for c in calls[3:]] == [
        "rpc: can't find service Nope.Foo",
        "rpc: can't find method Plugin.Nope",
        "rpc: service/method request ill-formed: bad",
        "gob: decoding into local type *string, received remote type int",
    ]

    client = ClientCodec()
    for method, args, t, rt in [
        ("Plugin.Put", {"key": "hello", "value": b"world"}, gob.MAP_STRING_ANY, gob.INTERFACE),
        ("Plugin.Get", "hello", gob.STRING, gob.BYTES),
        ("Plugin.Get", "missing", gob.STRING, gob.BYTES),
    ]:
        client.request(method, args, t, rt)
    client.receive_data(GO_KV_S2C)
    got = replies(client)
    assert [(r.seq, r.value) for r in got[:2]] == [(0, None), (1, b"world")]
    assert isinstance(got[2].error, RPCServerError)
    assert len(got) == 3  # replies to calls this client never made are dropped, like Go
    assert client.buffered == 0


def test_out_of_order_replies_and_forget() -> None:
    client = ClientCodec()
    for i in range(3):
        client.request("S.M", i, gob.INT, gob.STRING)
    client.forget(1)  # e.g. timed out: its reply, when it comes, is dropped
    method = Method(gob.INT, gob.STRING)
    server = ServerCodec({"S": {"M": method}})
    client.receive_data(
        b"".join(server.respond(Call(i, "S.M", i, method), f"r{i}") for i in (2, 1, 0))
    )
    assert [(r.seq, r.value) for r in replies(client)] == [(2, "r2"), (0, "r0")]
    assert client.pending == frozenset()


def test_reply_that_does_not_fit_fails_only_its_call() -> None:
    client = ClientCodec()
    client.request("S.M", 1, gob.INT, gob.INT)
    client.request("S.M", 2, gob.INT, gob.STRING)
    server = ServerCodec({"S": {"M": Method(gob.INT, gob.STRING)}})
    method = Method(gob.INT, gob.STRING)
    client.receive_data(server.respond(Call(0, "S.M", 1, method), "not an int"))
    client.receive_data(server.respond(Call(1, "S.M", 2, method), "fine"))
    bad, good = replies(client)
    assert isinstance(bad.error, GobError)
    assert str(bad.error) == (
        "reading body gob: decoding into local type *int, received remote type string"
    )
    assert good == Reply(1, "S.M", "fine", None)


def test_broken_header_breaks_the_connection() -> None:
    client = ClientCodec()
    client.request("S.M", 1, gob.INT, gob.INT)
    client.receive_data(gob.Encoder().encode("not a header"))
    with pytest.raises(GobError, match="reading response header"):
        client.next_reply()
    with pytest.raises(ProtocolError, match="broken"):
        client.next_reply()
    with pytest.raises(ProtocolError, match="broken"):
        client.request("S.M", 1, gob.INT, gob.INT)

    server = ServerCodec({})
    server.receive_data(gob.Encoder().encode(5))
    with pytest.raises(GobError, match="rpc: server cannot decode request"):
        server.next_call()


def test_unknown_method_body_is_skipped() -> None:
    """An unroutable call's body is read without a type, whatever it is."""
    client = ClientCodec()
    shape = gob.Struct("Shape", [("Corners", gob.Slice(gob.MAP_STRING_ANY))])
    _, first = client.request("Nope.Foo", {"Corners": [{"a": [1.5]}]}, shape, gob.STRING)
    _, second = client.request("S.M", 7, gob.INT, gob.INT)
    server = ServerCodec({"S": {"M": Method(gob.INT, gob.INT)}})
    server.receive_data(first + second)
    bad, good = server.next_call(), server.next_call()
    assert bad == Call(0, "Nope.Foo", None, None, "rpc: can't find service Nope.Foo")
    assert good is not None and (good.args, good.error) == (7, "")
    client.receive_data(server.respond(bad) + server.respond(good, 8))
    got = replies(client)
    assert isinstance(got[0].error, RPCServerError) and got[1].value == 8


def test_reply_that_cannot_be_encoded_is_not_sent() -> None:
    server = ServerCodec({"S": {"M": Method(gob.INT, gob.INT)}})
    call = Call(0, "S.M", 1, Method(gob.INT, gob.INT))
    with pytest.raises(GobEncodeError):
        server.respond(call, "not an int")
    data = server.respond(call, error="reply did not encode")
    client = ClientCodec()
    client.request("S.M", 1, gob.INT, gob.INT)
    client.receive_data(data)
    (reply,) = replies(client)
    assert isinstance(reply.error, RPCServerError)
    assert reply.error.message == "reply did not encode"


def test_args_that_cannot_be_encoded_are_not_sent() -> None:
    client = ClientCodec()
    with pytest.raises(GobEncodeError):
        client.request("S.M", "x", gob.INT)
    seq, data = client.request("S.M", 1, gob.INT)
    assert seq == 0  # the failed call used no seq, and its header was not half-sent
    server = ServerCodec({"S": {"M": Method(gob.INT)}})
    server.receive_data(data)
    assert server.next_call() == Call(0, "S.M", 1, Method(gob.INT))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=40))
def test_any_chunking_gives_the_same_events(sizes: list[int]) -> None:
    def chunks(data: bytes) -> list[bytes]:
        out, pos, i = [], 0, 0
        while pos < len(data):
            out.append(data[pos : pos + sizes[i % len(sizes)]])
            pos += sizes[i % len(sizes)]
            i += 1
        return out

    server = ServerCodec(CONTROL_SERVICES)
    calls = []
    for chunk in chunks(GO_CONTROL_C2S):
        server.receive_data(chunk)
        while (call := server.next_call()) is not None:
            calls.append((call.seq, call.args))
    assert calls == [(0, True), (1, "kv"), (2, "nope"), (3, True)]

    client = ClientCodec()
    for args, rt in [(True, EMPTY_STRUCT), ("kv", gob.UINT32), ("nope", gob.UINT32)]:
        client.request("X.Y", args, None, rt)
    client.request("X.Y", True, None, EMPTY_STRUCT)
    got = []
    for chunk in chunks(GO_CONTROL_S2C):
        client.receive_data(chunk)
        got += [(r.seq, r.value) for r in replies(client)]
    assert got == [(0, {}), (1, 1), (2, None), (3, {})]


def _garbage(recorded: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, or a real exchange cut anywhere and continued with random bytes."""
    cut = st.integers(0, len(recorded))
    return st.binary(max_size=300) | st.builds(
        lambda noise, i: recorded[:i] + noise, st.binary(max_size=20), cut
    )


@settings(max_examples=400, deadline=None)
@given(_garbage(GO_KV_C2S), st.integers(1, 64))
def test_fuzz_server(data: bytes, step: int) -> None:
    server = ServerCodec(KV_SERVICES, max_message_size=1 << 16)
    try:
        for pos in range(0, len(data), step):
            server.receive_data(data[pos : pos + step])
            for _ in range(len(data) + 1):
                call = server.next_call()
                if call is None:
                    break
                server.respond(call, error="x")
    except PluginError:
        pass


@settings(max_examples=400, deadline=None)
@given(_garbage(GO_KV_S2C), st.integers(1, 64))
def test_fuzz_client(data: bytes, step: int) -> None:
    client = ClientCodec(max_message_size=1 << 16)
    for args, t, rt in [({"key": "k", "value": b"v"}, gob.MAP_STRING_ANY, gob.INTERFACE)] + [
        ("k", gob.STRING, gob.BYTES)
    ] * 8:
        client.request("Plugin.X", args, t, rt)
    try:
        for pos in range(0, len(data), step):
            client.receive_data(data[pos : pos + step])
            for _ in range(len(data) + 1):
                if client.next_reply() is None:
                    break
    except PluginError:
        pass


def test_header_types_are_go_s() -> None:
    assert str(REQUEST) == "rpc.Request" and str(RESPONSE) == "rpc.Response"
    assert gob.default_name(REQUEST) == "net/rpc.Request"
    assert str(EMPTY_STRUCT) == "struct {}"


# --- Python types where gob types go (issue 12 #6) ---

PAIR = gob.Struct("Pair", [("A", gob.INT), ("B", gob.STRING)])


def _reply_as(go_type: gob.GoType, value: Any, reply_type: Any, then: Any = 5) -> list[Reply]:
    """One reply of Go type ``go_type`` decoded as ``reply_type``, then an int as ``int``."""
    client = ClientCodec()
    client.request("S.M", 1, gob.INT, reply_type)
    client.request("S.M", 2, gob.INT, int)
    method = Method(gob.INT, go_type)
    server = ServerCodec({"S": {"M": method}})
    client.receive_data(server.respond(Call(0, "S.M", 1, method), value))
    client.receive_data(server.respond(Call(1, "S.M", 2, Method(gob.INT, gob.INT)), then))
    got = replies(client)
    assert got[1] == Reply(1, "S.M", then, None)  # the stream is still in step
    return got


@pytest.mark.parametrize(
    ("go_type", "value", "py_type"),
    [
        (gob.STRING, "hé", str),
        (gob.BYTES, b"\x00\xff", bytes),
        (gob.named("Raw", gob.BYTES), b"raw", bytes),
        (gob.Marshaler("Stamp"), b"opaque", bytes),  # a GobEncoder's bytes, as sent
        (gob.INT, -3, int),
        (gob.INT8, -128, int),
        (gob.UINT64, 2**64 - 1, int),
        (gob.UINT8, 255, int),
        (gob.UINTPTR, 1 << 40, int),
        (gob.FLOAT64, 1.5, float),
        (gob.FLOAT32, 0.25, float),
        (gob.BOOL, True, bool),
        (gob.BOOL, False, bool),
        (gob.Slice(gob.STRING), ["a", "b"], list),
        (gob.Slice(gob.INT64), [], list),
        (gob.Array(gob.INT, 2), [1, 2], list),
        (gob.SLICE_ANY, [1, "x", None], list),
        (gob.MAP_STRING_ANY, {"a": 1, "b": [True]}, dict),
        (gob.Map(gob.INT, gob.STRING), {1: "x"}, dict),
        (PAIR, {"A": 1, "B": "x"}, dict),
        (gob.INTERFACE, "inside an interface{}", str),
        (gob.INTERFACE, {"k": 1.5}, dict),
    ],
)
def test_python_builtins_as_reply_types(go_type: gob.GoType, value: Any, py_type: type) -> None:
    """A builtin accepts whatever Go type a Go method would reply with for it: ``int`` any
    int/uint, ``float`` float32/64, ``bytes`` []byte and GobEncoders, ``list`` any slice or
    array, ``dict`` any map or struct (by field name), the rest their one Go type."""
    reply = _reply_as(go_type, value, py_type)[0]
    assert reply.error is None
    assert reply.value == value and type(reply.value) is py_type


@pytest.mark.parametrize(
    ("go_type", "value", "py_type", "remote"),
    [
        (gob.STRING, "x", int, "string"),
        (gob.INT, 1, str, "int"),
        (gob.UINT8, 1, bool, "uint"),
        (gob.BOOL, True, int, "bool"),
        (gob.INT, 1, float, "int"),
        (gob.FLOAT64, 1.0, int, "float"),
        (gob.BYTES, b"x", str, "bytes"),
        (gob.STRING, "x", bytes, "string"),
        (gob.COMPLEX128, 1j, float, "complex"),
        (gob.MAP_STRING_ANY, {"a": 1}, list, "map"),
        (gob.Slice(gob.INT), [1], dict, "slice"),  # Go names no unnamed type on the wire
        (PAIR, {"A": 1}, list, "Pair"),
        (gob.named("Names", gob.Slice(gob.STRING)), ["x"], bytes, "Names"),
        (gob.INTERFACE, 5, str, "int"),
        (gob.INTERFACE, None, str, "nil"),
    ],
)
def test_a_reply_that_does_not_fit_a_builtin_fails_only_its_call(
    go_type: gob.GoType, value: Any, py_type: type, remote: str
) -> None:
    reply = _reply_as(go_type, value, py_type)[0]
    assert reply.value is None and isinstance(reply.error, GobError)
    message = f"decoding into Python {py_type.__name__}, received .*{remote}"
    assert re.search(message, str(reply.error)), reply.error


@pytest.mark.parametrize(
    "bad", [object, "string", complex, tuple, set, type(None), list[int], gob.Struct, 5, Reply]
)
def test_unusable_reply_types_are_refused_before_anything_is_sent(bad: Any) -> None:
    client = ClientCodec()
    with pytest.raises(GobTypeError, match="reply type") as raised:
        client.request("S.M", 1, gob.INT, bad)
    assert isinstance(raised.value, TypeError) and isinstance(raised.value, PluginError)
    assert "gob" in str(raised.value)  # where to look for what to pass instead
    assert client.pending == frozenset()
    seq, data = client.request("S.M", 1, gob.INT, gob.INT)
    assert seq == 0  # the refused call used no seq and sent nothing
    assert data == ClientCodec().request("S.M", 1, gob.INT, gob.INT)[1]


@pytest.mark.parametrize(
    ("py_type", "value", "go_type"),
    [
        (str, "x", gob.STRING),
        (bytes, b"\x00", gob.BYTES),
        (int, -5, gob.INT),
        (float, 2.5, gob.FLOAT64),
        (bool, True, gob.BOOL),
        (list, [1, "a"], gob.SLICE_ANY),
        (dict, {"a": [1]}, gob.MAP_STRING_ANY),
    ],
)
def test_python_builtins_as_args_types(py_type: type, value: Any, go_type: gob.GoType) -> None:
    """The Go type a builtin stands for is the one an argument of that type is inferred as."""
    assert ClientCodec().request("S.M", value, py_type) == ClientCodec().request(
        "S.M", value, go_type
    )


@pytest.mark.parametrize(
    ("args", "args_type", "error"),
    [
        (1, object, GobTypeError),
        (1, "int", GobTypeError),
        (1, tuple, GobTypeError),
        ("x", int, GobEncodeError),
        (1.5, int, GobEncodeError),
        (object(), None, GobEncodeError),
        ({"A": object()}, PAIR, GobEncodeError),
    ],
)
def test_bad_args_are_refused_before_anything_is_sent(
    args: Any, args_type: Any, error: type[Exception]
) -> None:
    client = ClientCodec()
    with pytest.raises(error):
        client.request("S.M", args, args_type, gob.INT)
    assert client.pending == frozenset()
    assert client.request("S.M", 1, int, int) == ClientCodec().request("S.M", 1, gob.INT, gob.INT)


def test_descriptors_refuse_python_types_inside() -> None:
    """``gob.Slice(str)`` is refused where it is written, not later on a reader thread."""
    with pytest.raises(GobTypeError, match=r"gob\.STRING"):
        gob.Slice(str)  # type: ignore[arg-type]
    with pytest.raises(GobTypeError):
        gob.Map(gob.STRING, int)  # type: ignore[arg-type]
    with pytest.raises(GobTypeError):
        gob.Ptr(dict)  # type: ignore[arg-type]
    with pytest.raises(GobTypeError):
        gob.Array("x", 2)  # type: ignore[arg-type]


def test_a_reply_type_that_cannot_be_compiled_fails_only_its_call() -> None:
    """A struct never given fields, or a class refusing the decoded fields: that call fails
    with a GobError and the next reply decodes."""

    class Refuses:
        def __init__(self, **fields: Any) -> None:
            raise ValueError("refused")

    for reply_type in (gob.Struct("NoFieldsYet"), gob.Struct("Pair", PAIR.fields, cls=Refuses)):
        reply = _reply_as(PAIR, {"A": 1, "B": "x"}, reply_type)[0]
        assert reply.value is None and isinstance(reply.error, GobError), reply
