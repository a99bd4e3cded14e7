"""Pure parts of the code generators: identifier rules and the import rewriting."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goplugin.codegen._gopaths import GoOptionError, GoOptions
from goplugin.codegen._names import (
    go_camel_case,
    go_package_name,
    go_sanitized,
    python_identifier,
    snake_case,
)
from goplugin.codegen._pymodules import (
    module_path,
    package_dirs,
    relative_import,
    rewrite_imports,
)

proto_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
parts = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
modules = st.lists(parts, min_size=1, max_size=4).map(tuple)


@pytest.mark.parametrize(
    ("name", "go"),
    [
        # What protoc-gen-go names these (protobuf-go's GoCamelCase).
        ("Get", "Get"),
        ("get_wait_stats", "GetWaitStats"),
        ("GetHTTPStatus", "GetHTTPStatus"),
        ("Event.Metric", "Event_Metric"),
        ("Event.metric", "EventMetric"),
        ("_private", "XPrivate"),
        ("a._b", "A_XB"),
        ("x2y", "X2Y"),
        ("foo_1bar", "Foo_1Bar"),
    ],
)
def test_go_camel_case_matches_protoc_gen_go(name: str, go: str) -> None:
    assert go_camel_case(name) == go


@pytest.mark.parametrize(
    ("name", "py"),
    [
        ("Get", "get"),
        ("GetWaitStats", "get_wait_stats"),
        ("GetHTTPStatus", "get_http_status"),
        ("HTTPServer", "http_server"),
        ("get_x", "get_x"),
        ("V2Check", "v2_check"),
    ],
)
def test_snake_case(name: str, py: str) -> None:
    assert snake_case(name) == py


@given(proto_names)
def test_snake_case_is_idempotent_and_lower(name: str) -> None:
    once = snake_case(name)
    assert snake_case(once) == once
    assert once == once.lower()


@given(proto_names)
def test_python_identifier_is_never_a_keyword(name: str) -> None:
    ident = python_identifier(snake_case(name))
    assert ident.isidentifier()
    assert not keyword.iskeyword(ident)


@given(st.text(min_size=1, max_size=20))
def test_go_sanitized_is_an_identifier(name: str) -> None:
    ident = go_sanitized(name)
    assert ident[0].isalpha() or ident[0] == "_"
    assert all(c.isalnum() or c == "_" for c in ident)


def test_go_package_name() -> None:
    assert go_package_name("github.com/x/examples-go/gen/kv") == "kv"
    assert go_package_name("example.com/my-pkg") == "my_pkg"
    assert go_package_name("example.com/v2/type") == "_type"


def test_module_path() -> None:
    assert module_path("kv/kv.proto", "_pb2") == ("kv", "kv_pb2")
    assert module_path("a/b-c.proto", "_goplugin") == ("a", "b_c_goplugin")
    internal = "goplugin/internal/grpc_stdio.proto"
    assert module_path(internal, "_pb2", "goplugin/internal") == ("grpc_stdio_pb2",)


@given(modules, modules)
def test_relative_import_resolves_to_target(
    source: tuple[str, ...], target: tuple[str, ...]
) -> None:
    package, name = relative_import(source, target)
    dots = len(package) - len(package.lstrip("."))
    base = list(source[:-1])
    for _ in range(dots - 1):
        base.pop()
    rest = [p for p in package.lstrip(".").split(".") if p]
    assert (*base, *rest, name) == target


def test_rewrite_imports_only_touches_generated_modules() -> None:
    text = (
        "from google.protobuf import empty_pb2 as google_dot_protobuf_dot_empty__pb2\n"
        "from common import types_pb2 as common_dot_types__pb2\n"
        "import top_pb2 as top__pb2\n"
        "from other import thing_pb2 as other__pb2\n"
    )
    generated = {"common.types_pb2": ("common", "types_pb2"), "top_pb2": ("top_pb2",)}
    out = rewrite_imports(text, ("streaming", "streaming_pb2"), generated)
    assert out.splitlines() == [
        "from google.protobuf import empty_pb2 as google_dot_protobuf_dot_empty__pb2",
        "from ..common import types_pb2 as common_dot_types__pb2",
        "from .. import top_pb2 as top__pb2",
        "from other import thing_pb2 as other__pb2",
    ]


def test_package_dirs() -> None:
    assert package_dirs([("a", "b", "m"), ("c",)]) == {(), ("a",), ("a", "b")}


def test_go_options() -> None:
    options = GoOptions.parse("paths=source_relative,Mx.proto=example.com/x;xx,unknown=1")
    assert options.paths == "source_relative"
    assert options.mappings == {"x.proto": "example.com/x;xx"}
    with pytest.raises(GoOptionError):
        GoOptions.parse("paths=elsewhere")
    with pytest.raises(GoOptionError):
        GoOptions.parse("paths=source_relative,module=example.com")
