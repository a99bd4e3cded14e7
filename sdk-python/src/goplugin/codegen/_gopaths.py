"""Where the Go glue goes and which Go package a .proto belongs to, decided the way
protoc-gen-go decides it (``paths=``, ``module=``, ``M<file>=`` and ``go_package``), so our
file lands next to protoc-gen-go's and refers to the same packages.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._names import go_package_name

if TYPE_CHECKING:
    from ._model import ProtoFile

__all__ = [
    "GLUE_SUFFIX",
    "SERVER_FILE",
    "GoOptionError",
    "GoOptions",
    "GoPackage",
    "glue_file_name",
    "go_package",
    "server_file_name",
]

GLUE_SUFFIX = "_goplugin.pb.go"
SERVER_FILE = "goplugin_server.pb.go"


class GoOptionError(ValueError):
    """A protoc parameter or go_package this generator cannot work with."""


@dataclass
class GoOptions:
    """The subset of protoc-gen-go's parameters that decide names and paths."""

    paths: str = "import"
    module: str = ""
    mappings: dict[str, str] = field(default_factory=dict)  # M<file>=<import path>

    @classmethod
    def parse(cls, parameter: str) -> GoOptions:
        options = cls()
        for item in filter(None, parameter.split(",")):
            key, _, value = item.partition("=")
            if key == "paths":
                if value not in ("import", "source_relative"):
                    raise GoOptionError(f'paths={value}: want "import" or "source_relative"')
                options.paths = value
            elif key == "module":
                options.module = value
            elif key.startswith("M"):
                options.mappings[key[1:]] = value
            # Anything else belongs to protoc-gen-go or protoc-gen-go-grpc; ignore it here.
        if options.module and options.paths == "source_relative":
            raise GoOptionError("cannot use module= with paths=source_relative")
        return options


@dataclass(frozen=True)
class GoPackage:
    import_path: str
    name: str


def go_package(file: ProtoFile, options: GoOptions) -> GoPackage:
    spec = options.mappings.get(file.name, file.go_package)
    if not spec:
        raise GoOptionError(
            f'{file.name}: no Go import path; add `option go_package = "...";` or pass '
            f"M{file.name}=<import path>"
        )
    path, _, name = spec.partition(";")
    return GoPackage(path, name or go_package_name(path))


def _output_dir(file: ProtoFile, options: GoOptions) -> str:
    if options.paths == "source_relative":
        return posixpath.dirname(file.name)
    path = go_package(file, options).import_path
    if options.module:
        if not path.startswith(options.module + "/"):
            raise GoOptionError(
                f"{file.name}: import path {path} is outside module {options.module}"
            )
        path = path[len(options.module) + 1 :]
    return path


def glue_file_name(file: ProtoFile, options: GoOptions) -> str:
    base = posixpath.basename(file.name).removesuffix(".proto")
    return posixpath.join(_output_dir(file, options), base + GLUE_SUFFIX)


def server_file_name(file: ProtoFile, options: GoOptions) -> str:
    return posixpath.join(_output_dir(file, options), SERVER_FILE)
