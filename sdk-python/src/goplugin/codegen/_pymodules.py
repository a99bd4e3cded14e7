"""Where protoc's Python output lands and how generated modules import each other.

protoc's ``--python_out`` writes ``from kv import kv_pb2``: absolute imports rooted at the
proto include path, which only work when the output directory itself is on ``sys.path``.
Generated code committed inside a package (``examples-py/gen``, ``goplugin/_proto``) needs
relative imports instead, so every import between modules generated in the same run is
rewritten to a relative one; imports of anything else (``google.protobuf``, protos generated
elsewhere) stay absolute.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "ModulePath",
    "module_path",
    "package_dirs",
    "relative_import",
    "rewrite_imports",
]

#: A module as package parts: ("streaming", "streaming_pb2").
ModulePath = tuple[str, ...]

_FROM_IMPORT = re.compile(r"^from ([\w.]+) import (\w+)( as \w+)?$", re.MULTILINE)
_PLAIN_IMPORT = re.compile(r"^import (\w+)( as \w+)?$", re.MULTILINE)


def module_path(proto_name: str, suffix: str, strip_prefix: str = "") -> ModulePath:
    """The module protoc's Python generator names for a file: ``a/b-c.proto`` -> a.b_c_pb2.

    ``strip_prefix`` drops leading directories (go-plugin's ``goplugin/internal/*.proto`` live
    flat in ``goplugin/_proto``).
    """
    name = proto_name.removesuffix(".proto")
    prefix = strip_prefix.strip("/")
    if prefix and name.startswith(prefix + "/"):
        name = name[len(prefix) + 1 :]
    parts = name.replace("-", "_").split("/")
    parts[-1] += suffix
    return tuple(parts)


def relative_import(source: ModulePath, target: ModulePath) -> tuple[str, str]:
    """``(from_part, name)`` so that ``from <from_part> import <name>`` in ``source`` finds
    ``target``, both being modules of the same generated package."""
    src_dir, tgt_dir = source[:-1], target[:-1]
    common = 0
    while common < min(len(src_dir), len(tgt_dir)) and src_dir[common] == tgt_dir[common]:
        common += 1
    dots = "." * (len(src_dir) - common + 1)
    return dots + ".".join(tgt_dir[common:]), target[-1]


def rewrite_imports(text: str, source: ModulePath, generated: Mapping[str, ModulePath]) -> str:
    """Turn protoc's absolute imports of modules generated in this run into relative ones.

    ``generated`` maps the dotted module name protoc used (from the proto path, before any
    prefix stripping) to where that module really is in the output package.
    """

    def from_import(match: re.Match[str]) -> str:
        dotted = f"{match[1]}.{match[2]}"
        target = generated.get(dotted)
        if target is None:
            return match[0]
        package, name = relative_import(source, target)
        return f"from {package} import {name}{match[3] or ''}"

    def plain_import(match: re.Match[str]) -> str:
        target = generated.get(match[1])
        if target is None:
            return match[0]
        package, name = relative_import(source, target)
        return f"from {package} import {name}{match[2] or ' as ' + match[1]}"

    return _PLAIN_IMPORT.sub(plain_import, _FROM_IMPORT.sub(from_import, text))


def package_dirs(modules: Iterable[ModulePath]) -> set[tuple[str, ...]]:
    """Every package directory (as parts, the root being ``()``) that holds a module."""
    dirs: set[tuple[str, ...]] = set()
    for module in modules:
        for depth in range(len(module)):
            dirs.add(module[:depth])
    return dirs
