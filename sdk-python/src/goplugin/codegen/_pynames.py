"""How generated glue names and imports message classes, one strategy per message flavour.

* ``protobuf`` (the default): protoc's ``<file>_pb2`` modules, one per .proto file; the
  messages' own upb ``SerializeToString``/``FromString`` are grpcio's (de)serializers.
* ``betterproto2`` (opt-in): betterproto2-compiler's dataclasses, one module per proto
  *package* (``<package path>/__init__.py``, nested types flattened into one class name);
  the (de)serializers are the dataclasses' own ``__bytes__`` and ``parse``, so grpcio moves
  bytes and betterproto2 encodes and decodes them: the conversion happens at the wire.

Both expose the same small interface to the renderer (``type``, ``serializer``,
``deserializer``, ``imports``), so the glue's shape, and the default output byte for byte,
do not depend on which flavour is chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._names import betterproto2_class_name
from ._pymodules import ModulePath, module_path, relative_import

if TYPE_CHECKING:
    from ._model import Message, TypeIndex

__all__ = ["FLAVOURS", "Betterproto2Names", "ProtobufNames", "glue_suffix", "make_names"]

FLAVOURS = ("protobuf", "betterproto2")
# Module-level names of the glue itself, which an import alias must not shadow.
_GLUE_NAMES = frozenset({"_goplugin", "_GRPCPlugin", "_GRPCBroker", "_AsyncGRPCBroker"})


def glue_suffix(messages: str) -> str:
    """``kv.proto`` -> ``kv_goplugin.py`` (protobuf) or ``kv_goplugin_bp2.py``: distinct
    names, so nobody mistakes one flavour's module for the other's."""
    return "_goplugin" if messages == "protobuf" else "_goplugin_bp2"


class ProtobufNames:
    """Module aliases for protoc's ``_pb2`` modules, unique within one generated module."""

    def __init__(self, index: TypeIndex, source: ModulePath, strip_prefix: str) -> None:
        self._index = index
        self._source = source
        self._strip = strip_prefix
        self.aliases: dict[str, str] = {}  # proto file -> alias
        self.imports: list[str] = []

    def use(self, proto_file: str) -> str:
        alias = self.aliases.get(proto_file)
        if alias is not None:
            return alias
        target = module_path(proto_file, "_pb2", self._strip if self._local(proto_file) else "")
        alias = "_" + target[-1]
        if alias in self.aliases.values():
            alias = "_" + "_".join(target)
        self.aliases[proto_file] = alias
        if self._local(proto_file):
            package, name = relative_import(self._source, target)
        else:
            package, name = ".".join(target[:-1]), target[-1]
        line = (
            f"from {package} import {name} as {alias}" if package else f"import {name} as {alias}"
        )
        self.imports.append(line)
        return alias

    def _local(self, proto_file: str) -> bool:
        return proto_file in self._index.targets

    def type(self, message: Message) -> str:
        return f"{self.use(message.file)}.{message.local_name}"

    def serializer(self, message: Message) -> str:
        return f"{self.type(message)}.SerializeToString"

    def deserializer(self, message: Message) -> str:
        return f"{self.type(message)}.FromString"


class Betterproto2Names:
    """Aliases for betterproto2-compiler's package modules (or, for the root package, which
    is the output package's own ``__init__``, for its classes one by one).

    Every message a glue module names was generated in the same run (betterproto2-compiler
    emits a module for every package protoc hands it, imports and well-known types included),
    so every import is relative.
    """

    def __init__(self, index: TypeIndex, source: ModulePath) -> None:
        self._index = index
        self._source = source
        self._aliases: dict[tuple[str, ModulePath], str] = {}  # package or class -> alias
        self.imports: list[str] = []

    def _alias(self, kind: str, target: ModulePath, wanted: str) -> str:
        alias = self._aliases.get((kind, target))
        if alias is None:
            alias = wanted
            while alias in self._aliases.values() or alias in _GLUE_NAMES:
                alias += "_"
            self._aliases[kind, target] = alias
            package, name = relative_import(self._source, target)
            self.imports.append(f"from {package} import {name} as {alias}")
        return alias

    def type(self, message: Message) -> str:
        package = self._index.files[message.file].package
        cls = betterproto2_class_name(message.local_name)
        if not package:
            return self._alias("class", (cls,), "_" + cls)
        parts = tuple(package.split("."))
        return f"{self._alias('package', parts, '_' + '_'.join(parts))}.{cls}"

    def serializer(self, message: Message) -> str:
        return f"{self.type(message)}.__bytes__"

    def deserializer(self, message: Message) -> str:
        return f"{self.type(message)}.parse"


def make_names(
    messages: str, index: TypeIndex, source: ModulePath, strip_prefix: str
) -> ProtobufNames | Betterproto2Names:
    if messages == "protobuf":
        return ProtobufNames(index, source, strip_prefix)
    if messages == "betterproto2":
        return Betterproto2Names(index, source)
    raise ValueError(f"unknown message flavour {messages!r}: use one of {', '.join(FLAVOURS)}")
