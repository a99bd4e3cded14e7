"""What both generators need from protoc's request, read once: services, methods, types, docs.

The renderers (``_python``, ``_go``) work on these plain dataclasses and never touch
descriptor protos, which keeps them short and testable with hand-made models.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from google.protobuf import descriptor_pb2

__all__ = [
    "Kind",
    "Message",
    "Method",
    "ProtoFile",
    "Service",
    "TypeIndex",
    "build_index",
]

# FileDescriptorProto field numbers used in SourceCodeInfo paths.
_SERVICE_FIELD = 6
_METHOD_FIELD = 2


class Kind(enum.Enum):
    """The four gRPC call shapes; names match grpcio's multicallable kinds."""

    UNARY_UNARY = "unary_unary"
    UNARY_STREAM = "unary_stream"
    STREAM_UNARY = "stream_unary"
    STREAM_STREAM = "stream_stream"

    @property
    def client_streaming(self) -> bool:
        return self in (Kind.STREAM_UNARY, Kind.STREAM_STREAM)

    @property
    def server_streaming(self) -> bool:
        return self in (Kind.UNARY_STREAM, Kind.STREAM_STREAM)


@dataclass(frozen=True)
class Message:
    """A message type: where it is defined and its name relative to its file's package."""

    full_name: str  # "streaming.Event.Metric" (no leading dot)
    file: str  # "streaming/streaming.proto"
    local_name: str  # "Event.Metric"


@dataclass(frozen=True)
class Method:
    name: str
    kind: Kind
    input: Message
    output: Message
    doc: str


@dataclass(frozen=True)
class Service:
    name: str
    full_name: str  # "proto.KV": the gRPC service name on the wire
    methods: tuple[Method, ...]
    doc: str


@dataclass(frozen=True)
class ProtoFile:
    name: str  # path as protoc knows it, e.g. "kv/kv.proto"
    package: str
    dependencies: tuple[str, ...]
    services: tuple[Service, ...]
    go_package: str  # the go_package option, "" if unset
    message_names: frozenset[str] = field(default_factory=frozenset)  # top-level types


@dataclass
class TypeIndex:
    """Every file protoc sent (targets and their imports) and every message type by name."""

    files: dict[str, ProtoFile]
    messages: dict[str, Message]
    targets: tuple[str, ...]

    def target_files(self) -> list[ProtoFile]:
        return [self.files[name] for name in self.targets]


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    docs: dict[tuple[int, ...], str] = {}
    for location in file.source_code_info.location:
        text = location.leading_comments.strip("\n")
        if text:
            lines = [line[1:] if line.startswith(" ") else line for line in text.split("\n")]
            docs[tuple(location.path)] = "\n".join(lines).rstrip()
    return docs


def _collect_messages(
    file: descriptor_pb2.FileDescriptorProto,
    prefix: str,
    types: Iterable[descriptor_pb2.DescriptorProto],
    out: dict[str, Message],
) -> None:
    package = file.package + "." if file.package else ""
    for message in types:
        local = prefix + message.name
        out[package + local] = Message(package + local, file.name, local)
        _collect_messages(file, local + ".", message.nested_type, out)


def _kind(method: descriptor_pb2.MethodDescriptorProto) -> Kind:
    if method.client_streaming:
        return Kind.STREAM_STREAM if method.server_streaming else Kind.STREAM_UNARY
    return Kind.UNARY_STREAM if method.server_streaming else Kind.UNARY_UNARY


def build_index(
    proto_files: Sequence[descriptor_pb2.FileDescriptorProto], targets: Sequence[str]
) -> TypeIndex:
    """Index a CodeGeneratorRequest's files; ``targets`` are the files to generate code for."""
    messages: dict[str, Message] = {}
    for file in proto_files:
        _collect_messages(file, "", file.message_type, messages)
    files: dict[str, ProtoFile] = {}
    for file in proto_files:
        docs = _comments(file)
        services = []
        for si, service in enumerate(file.service):
            methods = tuple(
                Method(
                    name=method.name,
                    kind=_kind(method),
                    input=messages[method.input_type.lstrip(".")],
                    output=messages[method.output_type.lstrip(".")],
                    doc=docs.get((_SERVICE_FIELD, si, _METHOD_FIELD, mi), ""),
                )
                for mi, method in enumerate(service.method)
            )
            full = f"{file.package}.{service.name}" if file.package else service.name
            services.append(
                Service(service.name, full, methods, docs.get((_SERVICE_FIELD, si), ""))
            )
        top_level = {m.name for m in file.message_type} | {e.name for e in file.enum_type}
        files[file.name] = ProtoFile(
            name=file.name,
            package=file.package,
            dependencies=tuple(file.dependency),
            services=tuple(services),
            go_package=file.options.go_package,
            message_names=frozenset(top_level),
        )
    return TypeIndex(files=files, messages=messages, targets=tuple(targets))
