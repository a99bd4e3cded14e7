"""The generators on awkward contracts: nested folders, a hyphenated file, a root-level file
without a package, cross-folder imports, keyword and acronym method names, all four call kinds.

The Python output must import (relative imports at every depth), serve and call, and pass
mypy --strict; the Go output must be gofmt-clean and compile (in a scratch module that reuses
examples-go's pinned dependencies, laid out with ``module=``).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from goplugin.codegen import CodegenError, Job, run_job

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "cgtest_gen"

PROTOS = {
    "c/dep.proto": """
        syntax = "proto3";
        package c;
        // Not ".../c": protoc-gen-go-grpc's client methods have a receiver named c.
        option go_package = "example.com/gen/cdep";
        message Dep { string name = 1; }
    """,
    "a/b/my-file.proto": """
        syntax = "proto3";
        package x.y;
        option go_package = "example.com/gen/x/y;xy";
        import "c/dep.proto";
        import "google/protobuf/timestamp.proto";
        message Outer {
          message Inner { google.protobuf.Timestamp at = 1; optional int32 n = 2; }
          Inner inner = 1;
        }
        // Svc has awkward method names.
        service Svc {
          // GetHTTPStatus is unary.
          rpc GetHTTPStatus(c.Dep) returns (Outer.Inner);
          rpc Import(Outer) returns (stream c.Dep);
          rpc Upload(stream Outer.Inner) returns (c.Dep);
          rpc stream_things(stream c.Dep) returns (stream Outer);
        }
    """,
    "top.proto": """
        syntax = "proto3";
        option go_package = "example.com/gen/top";
        import "c/dep.proto";
        // "return" is a Python keyword: protoc's stub takes it through **kwargs.
        message Pong { string name = 1; string return = 2; }
        service Top { rpc Ping(c.Dep) returns (Pong); }
    """,
    # rpcs named like what the generated classes hold themselves: the broker, the channel.
    "collide.proto": """
        syntax = "proto3";
        package collide;
        option go_package = "example.com/gen/collide";
        message Msg { string s = 1; }
        service Hub {
          rpc Broker(Msg) returns (Msg);
          rpc Channel(Msg) returns (Msg);
          rpc Impl(Msg) returns (Msg);
        }
    """,
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("codegen")
    for name, text in PROTOS.items():
        path = root / "proto" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    job = Job(
        root=root / "proto",
        python_out=root / "py" / PACKAGE,
        go_out=root / "go",
        go_opts=("module=example.com/gen",),
        go_tools_module=REPO / "examples-go",
    )
    run_job(job)
    sys.path.insert(0, str(root / "py"))
    yield root
    sys.path.remove(str(root / "py"))


def test_python_layout(generated: Path) -> None:
    out = generated / "py" / PACKAGE
    names = {p.relative_to(out).as_posix() for p in out.rglob("*.py*")}
    assert {
        "__init__.py",
        "top_pb2.py",
        "top_pb2.pyi",
        "top_goplugin.py",
        "a/__init__.py",
        "a/b/__init__.py",
        "a/b/my_file_pb2.py",
        "a/b/my_file_goplugin.py",
        "c/dep_pb2.py",
    } <= names
    assert "c/dep_goplugin.py" not in names  # no services, no glue
    for path in out.rglob("*.py*"):
        assert "DO NOT EDIT" in path.read_text().split("\n", 3)[0] + path.read_text()[:200]


def test_python_names_and_imports(generated: Path) -> None:
    glue = importlib.import_module(f"{PACKAGE}.a.b.my_file_goplugin")
    assert glue.SvcClient.__slots__ == (
        "broker",
        "get_http_status",
        "import_",
        "stream_things",
        "upload",
    )
    for name in ("get_http_status", "import_", "stream_things", "upload"):
        assert callable(getattr(glue.SvcServicer, name))
        assert callable(getattr(glue.AsyncSvcServicer, name))
    assert "GetHTTPStatus is unary." in (glue.SvcServicer.get_http_status.__doc__ or "")


def test_root_level_service_serves_and_calls(generated: Path, tmp_path: Path) -> None:
    top = importlib.import_module(f"{PACKAGE}.top_goplugin")
    top_pb2 = importlib.import_module(f"{PACKAGE}.top_pb2")
    dep_pb2 = importlib.import_module(f"{PACKAGE}.c.dep_pb2")

    class Impl(top.TopServicer):  # type: ignore[misc,name-defined]
        def ping(self, request: Any, context: grpc.ServicerContext) -> Any:
            return top_pb2.Pong(name=request.name + "!")

    server = grpc.server(ThreadPoolExecutor(2))
    top.TopPlugin(impl=Impl()).grpc_server(None, server)
    address = f"unix:{tmp_path}/s.sock"
    server.add_insecure_port(address)
    server.start()
    try:
        with grpc.insecure_channel(address) as channel:
            client = top.TopPlugin().grpc_client(None, channel)
            assert client.ping(dep_pb2.Dep(name="x"), timeout=5).name == "x!"
    finally:
        server.stop(None)


def test_rpcs_named_like_the_generated_attributes_keep_their_own_names(
    generated: Path, tmp_path: Path
) -> None:
    """``broker`` and ``channel`` belong to the generated classes; rpcs of those names get a
    trailing underscore, as Python keywords do (``import_``), on both sides of the wire."""
    hub = importlib.import_module(f"{PACKAGE}.collide_goplugin")
    msg = importlib.import_module(f"{PACKAGE}.collide_pb2").Msg
    assert hub.HubClient.__slots__ == ("broker", "broker_", "channel_", "impl")
    assert "broker" not in vars(hub.HubServicer) and callable(hub.HubServicer.broker_)

    class Impl(hub.HubServicer):  # type: ignore[misc,name-defined]
        def broker_(self, request: Any, context: grpc.ServicerContext) -> Any:
            return msg(s=f"broker rpc, broker {self.broker}")

        def channel_(self, request: Any, context: grpc.ServicerContext) -> Any:
            return msg(s="channel rpc")

    server = grpc.server(ThreadPoolExecutor(2))
    impl = Impl()
    host_broker: Any = "the host's broker"
    hub.HubPlugin(impl=impl).grpc_server("the plugin's broker", server)
    address = f"unix:{tmp_path}/s.sock"
    server.add_insecure_port(address)
    server.start()
    try:
        with grpc.insecure_channel(address) as channel:
            client = hub.HubPlugin().grpc_client(host_broker, channel)
            assert client.broker == "the host's broker"
            reply = client.broker_(msg(s="x"), timeout=5)
            assert reply.s == "broker rpc, broker the plugin's broker"
            assert client.channel_(msg(s="x"), timeout=5).s == "channel rpc"
    finally:
        server.stop(None)

    class Misnamed(hub.HubServicer):  # type: ignore[misc,name-defined]
        def broker(self, request: Any, context: grpc.ServicerContext) -> Any:
            return msg()

    with pytest.raises(TypeError, match=r"Misnamed\.broker .*broker_"):
        hub.HubPlugin(impl=Misnamed()).grpc_server(None, grpc.server(ThreadPoolExecutor(1)))


def test_python_output_is_mypy_strict_clean(generated: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", PACKAGE],
        cwd=generated / "py",
        env={**os.environ, "MYPYPATH": str(generated / "py")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_go_output_is_gofmt_clean_and_compiles(generated: Path) -> None:
    go = shutil.which("go")
    assert go is not None, "Go is required"
    out = generated / "go"
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.go")} >= {
        "x/y/my-file_goplugin.pb.go",
        "x/y/goplugin_server.pb.go",
        "top/top_goplugin.pb.go",
        "cdep/dep.pb.go",
        "collide/collide_goplugin.pb.go",
    }
    gofmt = Path(subprocess.check_output([go, "env", "GOROOT"], text=True).strip()) / "bin/gofmt"
    assert subprocess.check_output([str(gofmt), "-l", str(out)], text=True) == ""
    module = (REPO / "examples-go" / "go.mod").read_text()
    module = module.replace(
        "module github.com/goplugin-py/goplugin/examples-go", "module example.com/gen"
    )
    (out / "go.mod").write_text(module)
    shutil.copy(REPO / "examples-go" / "go.sum", out / "go.sum")
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOWORK": "off"}
    result = subprocess.run([go, "vet", "./..."], cwd=out, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_missing_go_package_is_reported(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "x.proto").write_text(
        'syntax = "proto3"; package p; message M {} service S { rpc A(M) returns (M); }'
    )
    job = Job(root=tmp_path / "p", go_out=tmp_path / "go", go_tools_module=REPO / "examples-go")
    with pytest.raises(CodegenError, match="go_package"):
        run_job(job)
