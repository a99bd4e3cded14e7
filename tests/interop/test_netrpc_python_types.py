"""Python types where gob types go, against real net/rpc peers (issue 12 #6).

``greeter.call("Plugin.Greet", None, str)`` is what most users try first. It used to kill the
client's reply reader (AttributeError) so the call waited forever, or for its whole timeout;
now Python builtins are reply (and args) types, a reply that does not fit fails its own call at
once with a GobError, anything else is refused before it is sent, and the connection lives.
Peers: go-plugin's examples/basic greeter and examples/grpc plugin-go-netrpc (unmodified), our
Python net/rpc plugin, and our Go host rpchost calling back into Python.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE

import goplugin
import goplugin.aio
from goplugin.errors import GobEncodeError, GobError, GobTypeError, RPCServerError

pytestmark = pytest.mark.interop

#: Every call below either answers or fails well within this; reaching it is the old hang.
CALL_TIMEOUT = 10.0
#: A failed call must fail "at once": only a hang or a stall on the reply path takes this long.
PROMPT = 2.0


def _prompt_failure(call: object, error: type[Exception], match: str) -> None:
    start = time.monotonic()
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
    assert time.monotonic() - start < PROMPT


def test_builtin_reply_types_with_the_go_greeter(go_greeter_plugin: Path) -> None:
    with goplugin.PluginClient([go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        greeter = client.dispense("greeter")
        assert greeter.call("Plugin.Greet", None, str, timeout=CALL_TIMEOUT) == "Hello!"
        # Go replies with a string: an int reply type fails that call, and only that call.
        _prompt_failure(
            lambda: greeter.call("Plugin.Greet", None, int, timeout=CALL_TIMEOUT),
            GobError,
            "decoding into Python int, received remote type string",
        )
        _prompt_failure(
            lambda: greeter.call("Plugin.Greet", None, object, timeout=CALL_TIMEOUT),
            GobTypeError,
            "reply type",
        )
        _prompt_failure(
            lambda: greeter.call("Plugin.Greet", None, str, args_type=object),
            TypeError,
            "args type",
        )
        _prompt_failure(
            lambda: greeter.call("Plugin.Greet", object(), str, timeout=CALL_TIMEOUT),
            GobEncodeError,
            "object",
        )
        assert greeter.call("Plugin.Greet", None, str, timeout=CALL_TIMEOUT) == "Hello!"
        client.ping()
    assert client.returncode == 0  # Control.Quit still worked: nothing was left broken


async def test_builtin_reply_types_with_the_go_greeter_asyncio(go_greeter_plugin: Path) -> None:
    async with goplugin.aio.PluginClient(
        [go_greeter_plugin], handshake=EXAMPLE_HANDSHAKE
    ) as client:
        greeter = await client.dispense("greeter")
        assert await greeter.call("Plugin.Greet", None, str, timeout=CALL_TIMEOUT) == "Hello!"
        start = time.monotonic()
        with pytest.raises(GobError, match="decoding into Python bytes"):
            await greeter.call("Plugin.Greet", None, bytes, timeout=CALL_TIMEOUT)
        with pytest.raises(TypeError, match="reply type"):
            await greeter.call("Plugin.Greet", None, complex, timeout=CALL_TIMEOUT)
        assert time.monotonic() - start < PROMPT
        assert await greeter.call("Plugin.Greet", None, str, timeout=CALL_TIMEOUT) == "Hello!"
        await client.ping()
    assert client.returncode == 0


def test_builtin_types_with_the_go_netrpc_kv(go_netrpc_kv_plugin: Path, workdir: Path) -> None:
    with goplugin.PluginClient([go_netrpc_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        kv = client.dispense("kv")
        put = {"key": "hello", "value": b"world"}
        assert kv.call("Plugin.Put", put, args_type=dict, timeout=CALL_TIMEOUT) is None
        # Get replies with a []byte: str is not what Go sent.
        _prompt_failure(
            lambda: kv.call("Plugin.Get", "hello", str, args_type=str, timeout=CALL_TIMEOUT),
            GobError,
            r"decoding into Python str, received remote type \[\]uint8|received remote type bytes",
        )
        value = kv.call("Plugin.Get", "hello", bytes, args_type=str, timeout=CALL_TIMEOUT)
        assert value == b"world\n\nWritten from plugin-go-netrpc"
        with pytest.raises(RPCServerError, match="no such file"):
            kv.call("Plugin.Get", "nope", bytes, timeout=CALL_TIMEOUT)


@pytest.mark.parametrize("aio", [False, True], ids=["sync-plugin", "asyncio-plugin"])
def test_builtin_types_with_the_python_plugin(
    py_netrpc_plugin: list[str], workdir: Path, aio: bool
) -> None:
    env = {"NETRPC_TEST_AIO": "1" if aio else ""}
    with goplugin.PluginClient(py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE, env=env) as client:
        greeter = client.dispense("greeter")
        assert greeter.call("Plugin.Sleep", 0.0, bool, args_type=float) is True
        _prompt_failure(
            lambda: greeter.call("Plugin.Sleep", 0.0, float, args_type=float),
            GobError,
            "decoding into Python float, received remote type bool",
        )
        assert greeter.call("Plugin.Greet", None, str, timeout=CALL_TIMEOUT) == "Hello!"
        kv = client.dispense("kv")
        kv.call("Plugin.Put", {"key": "k", "value": b"v"}, timeout=CALL_TIMEOUT)
        assert kv.call("Plugin.Get", "k", bytes, timeout=CALL_TIMEOUT).startswith(b"v")


def test_rpchost_calls_a_python_plugin_that_calls_back_with_builtins(
    py_netrpc_plugin: list[str], rpchost: Path, workdir: Path
) -> None:
    """Our Go host's Plugin.Sum makes the Python plugin call the host's Go Adder (int64) with
    reply types str (must fail at once with a GobError) and then int, on one connection."""
    env = {**os.environ, "NETRPC_TEST_BUILTIN_REPLIES": "1"}
    result = subprocess.run(
        [str(rpchost), *py_netrpc_plugin],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sum 42\n" in result.stdout
    assert "builtin replies ok" in result.stderr
