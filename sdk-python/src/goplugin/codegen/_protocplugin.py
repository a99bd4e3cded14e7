"""The protoc plugins ``protoc-gen-goplugin-py`` and ``protoc-gen-goplugin-go``.

protoc runs a plugin as a process: a serialized CodeGeneratorRequest on stdin, a
CodeGeneratorResponse on stdout. Both plugins share this wrapper; errors in the .proto or in
parameters go back to protoc in the response's ``error`` field so protoc prints them as
``--goplugin-go_out: <message>``.

    protoc --plugin=protoc-gen-goplugin-py=<launcher> \
           --goplugin-py_out=[strip_prefix=P,messages=protobuf|betterproto2:]DIR
    protoc --plugin=protoc-gen-goplugin-go=<launcher> --goplugin-go_out=[paths=...,M...:]DIR
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from ._go import render_go, render_go_server
from ._gopaths import GoOptionError, GoOptions, glue_file_name, go_package, server_file_name
from ._model import TypeIndex, build_index
from ._pymodules import module_path
from ._pynames import glue_suffix
from ._python import render_python

__all__ = ["generate_go", "generate_python", "main", "run"]

Generator = Callable[[TypeIndex, str], dict[str, str]]


def _parameters(parameter: str) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in filter(None, parameter.split(",")))


def generate_python(index: TypeIndex, parameter: str) -> dict[str, str]:
    """``<file>_goplugin.py`` (or ``_goplugin_bp2.py`` with ``messages=betterproto2``) for
    every target file that declares services."""
    params = _parameters(parameter)
    strip = params.get("strip_prefix", "")
    messages = params.get("messages", "protobuf")
    out: dict[str, str] = {}
    for file in index.target_files():
        if file.services:
            name = "/".join(module_path(file.name, glue_suffix(messages), strip)) + ".py"
            out[name] = render_python(file, index, strip_prefix=strip, messages=messages)
    return out


def generate_go(index: TypeIndex, parameter: str) -> dict[str, str]:
    """``<file>_goplugin.pb.go`` per file with services, ``goplugin_server.pb.go`` per package."""
    options = GoOptions.parse(parameter)
    out: dict[str, str] = {}
    for file in index.target_files():
        if file.services:
            out[glue_file_name(file, options)] = render_go(file, index, options)
            out[server_file_name(file, options)] = render_go_server(go_package(file, options))
    return out


def run(
    request: plugin_pb2.CodeGeneratorRequest, generate: Generator
) -> plugin_pb2.CodeGeneratorResponse:
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
        | plugin_pb2.CodeGeneratorResponse.FEATURE_SUPPORTS_EDITIONS,
        minimum_edition=descriptor_pb2.EDITION_PROTO2,
        maximum_edition=descriptor_pb2.EDITION_2023,
    )
    try:
        index = build_index(request.proto_file, request.file_to_generate)
        files = generate(index, request.parameter)
    except (GoOptionError, ValueError, KeyError) as exc:
        response.error = str(exc)
        return response
    for name, content in sorted(files.items()):
        response.file.add(name=name, content=content)
    return response


def main(flavour: str) -> int:
    """Entry point of the launchers protoc runs: ``flavour`` is ``py`` or ``go``."""
    generate = {"py": generate_python, "go": generate_go}[flavour]
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(run(request, generate).SerializeToString())
    return 0


def main_py() -> int:
    """Console script ``protoc-gen-goplugin-py``."""
    return main("py")


def main_go() -> int:
    """Console script ``protoc-gen-goplugin-go``."""
    return main("go")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
