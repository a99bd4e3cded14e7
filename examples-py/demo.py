"""The goplugin demo: Python and go-plugin's own Go examples, talking both ways.

Run with `nox -s demo` (which builds go-plugin's examples from its module, unmodified).
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import goplugin

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def banner(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def kv_stubs(into: Path) -> None:
    into.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{REPO / 'proto'}",
            f"--python_out={into}",
            f"--grpc_python_out={into}",
            str(REPO / "proto/kv/kv.proto"),
        ],
        check=True,
    )
    sys.path.insert(0, str(into))


def python_host_go_plugin(go_examples: Path, workdir: Path) -> None:
    banner("Python host -> go-plugin's examples/grpc plugin-go-grpc (Go, gRPC)")
    from kv import kv_pb2, kv_pb2_grpc

    plugin = go_examples / "grpc" / "plugin-go-grpc"
    with goplugin.PluginClient([plugin], handshake=HANDSHAKE, cwd=workdir) as client:
        print(f"handshake: {client.handshake.format() if client.handshake else None}")
        print(f"pid {client.pid}, protocol {client.protocol}, version {client.negotiated_version}")
        kv = kv_pb2_grpc.KVStub(client.grpc_channel)
        kv.Put(kv_pb2.PutRequest(key="hello", value=b"world"))
        print("Put hello=world")
        value = kv.Get(kv_pb2.GetRequest(key="hello")).value
        print(f"Get hello -> {value!r}")
        client.ping()
        print("Ping: SERVING")
    print(f"plugin stopped, exit status {client.returncode}")


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
    with tempfile.TemporaryDirectory() as tmp:
        kv_stubs(Path(tmp) / "stubs")
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        python_host_go_plugin(args.go_examples, workdir)


if __name__ == "__main__":
    main()
