"""The goplugin demo: Python and go-plugin's own Go examples, talking both ways.

Run with `nox -s demo`, which builds go-plugin's examples from its module, unmodified, and
passes their folder here.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from gen.counter import counter_goplugin, counter_pb2
from gen.kv import kv_goplugin, kv_pb2

import goplugin

if TYPE_CHECKING:
    import grpc
    from greeter_host import Greeter

HERE = Path(__file__).resolve().parent
HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def python_host_go_plugin(go_examples: Path, workdir: Path) -> None:
    banner("Python host -> go-plugin's examples/grpc plugin-go-grpc (Go, gRPC)")
    plugin = go_examples / "grpc" / "plugin-go-grpc"
    plugins = {"kv": kv_goplugin.KVPlugin()}
    with goplugin.PluginClient([plugin], handshake=HANDSHAKE, plugins=plugins, cwd=workdir) as c:
        assert c.handshake_line is not None
        print(f"handshake: {c.handshake_line.format()}")
        print(f"pid {c.pid}, protocol {c.protocol}, version {c.negotiated_version}")
        kv: kv_goplugin.KVClient = c.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="hello", value=b"world"), timeout=5)
        print("put hello=world")
        print(f"get hello -> {kv.get(kv_pb2.GetRequest(key='hello'), timeout=5).value!r}")
        c.ping()
        print("ping: SERVING")
    print(f"plugin stopped (GRPCController.Shutdown), exit status {c.returncode}")


def go_host_python_plugin(go_examples: Path, workdir: Path) -> None:
    banner("go-plugin's examples/grpc host (Go) -> Python plugin examples-py/kv_plugin.py")
    plugin = shlex.join([sys.executable, str(HERE / "kv_plugin.py")])
    env = {**os.environ, "KV_PROTO": "grpc", "KV_PLUGIN": plugin, "PYTHONPATH": str(HERE)}
    for args in (["put", "hello", "from-go"], ["get", "hello"]):
        result = subprocess.run(
            [str(go_examples / "grpc" / "grpc"), *args],
            env=env, cwd=workdir, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        print(f"$ grpc {' '.join(args)}  (exit {result.returncode})")
        for line in result.stdout.splitlines():
            print(f"  stdout | {line}")
        for line in result.stderr.splitlines():
            if "plugin.sh:" in line:  # the Python plugin's log lines, as the Go host logs them
                print(f"  go log | {line.split(' ', 1)[1]}")


class Adder(counter_goplugin.AddHelperServicer):
    def sum(
        self, request: counter_pb2.SumRequest, context: grpc.ServicerContext
    ) -> counter_pb2.SumResponse:
        print(f"  host callback: Sum({request.a}, {request.b})")
        return counter_pb2.SumResponse(r=request.a + request.b)


def python_host_bidirectional(go_examples: Path, workdir: Path) -> None:
    banner("Python host serves a callback to go-plugin's examples/bidirectional plugin (broker)")
    plugin = go_examples / "bidirectional" / "plugin-go-grpc"
    plugins = {"counter": counter_goplugin.CounterPlugin()}
    with goplugin.PluginClient([plugin], handshake=HANDSHAKE, plugins=plugins, cwd=workdir) as c:
        counter: counter_goplugin.CounterClient = c.dispense("counter")
        for _ in range(2):
            helper_id = c.broker.next_id()
            server = c.broker.accept_and_serve(helper_id, counter_goplugin.AddHelperPlugin(Adder()))
            counter.put(counter_pb2.CounterPutRequest(add_server=helper_id, key="x", value=5))
            server.stop(None)
            print("put x += 5")
        print(f"get x -> {counter.get(counter_pb2.CounterGetRequest(key='x')).value}")


def python_host_netrpc_greeter(go_examples: Path, workdir: Path) -> None:
    banner("Python host -> go-plugin's examples/basic greeter (Go, net/rpc over yamux + gob)")
    from greeter_host import PLUGINS

    plugin = go_examples / "basic" / "plugin"
    with goplugin.PluginClient([plugin], handshake=HANDSHAKE, plugins=PLUGINS, cwd=workdir) as c:
        print(f"protocol {c.protocol}")
        greeter: Greeter = c.dispense("greeter")
        print(f"Greet() -> {greeter.greet(timeout=5)!r}")
    print(f"plugin stopped (Control.Quit), exit status {c.returncode}")


def go_host_python_greeter(go_examples: Path, workdir: Path) -> None:
    banner("go-plugin's examples/basic host (Go, net/rpc) -> Python greeter plugin")
    # The unmodified host runs ./plugin/greeter from its working directory.
    (workdir / "plugin").mkdir(exist_ok=True)
    wrapper = workdir / "plugin" / "greeter"
    python = shlex.quote(sys.executable)
    wrapper.write_text(f"#!/bin/sh\nexec {python} {HERE / 'greeter_plugin.py'}\n")
    wrapper.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    result = subprocess.run(
        [str(go_examples / "basic" / "basic")], env=env, cwd=workdir, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    print(f"$ basic  (exit {result.returncode})")
    for line in (result.stdout + result.stderr).splitlines():
        if "plugin.greeter:" in line:  # the Python plugin's log lines, as the Go host logs them
            print(f"  go log | {line.split(' ', 1)[1]}")
        elif not line[:4].isdigit():  # not one of the host's own log lines
            print(f"  stdout | {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--go-examples",
        type=Path,
        required=True,
        help="folder with go-plugin's example binaries, one subfolder per example",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.DEBUG,
        format="  plugin log | %(levelname)-5s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    logging.getLogger("goplugin.client").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as workdir:
        python_host_go_plugin(args.go_examples, Path(workdir))
        go_host_python_plugin(args.go_examples, Path(workdir))
        python_host_bidirectional(args.go_examples, Path(workdir))
        python_host_netrpc_greeter(args.go_examples, Path(workdir))
        go_host_python_greeter(args.go_examples, Path(workdir))


if __name__ == "__main__":
    main()
