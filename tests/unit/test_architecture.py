"""The layers of ARCHITECTURE.md and their import directions, checked by reading the source.

Every module of the package is parsed with ``ast`` (nothing is imported), its imports are
resolved (relative ones included) to goplugin modules, and each one is checked against
``FORBIDDEN``: a table of layer -> layers it must not import. Which imports count:

- module-level and function-local imports count alike: a function-local import is a lazy
  one (start-up time), still a dependency of the module that runs it;
- imports under ``if TYPE_CHECKING:`` do not count: they never run, and naming a type from
  another layer in an annotation (``plugin.py`` names both flavours' GRPCBroker) couples no
  code;
- strings do not count (``_lazy`` tables, ``importlib.import_module``): the public entry points
  use them to resolve names on first use, and they are entry points, above every layer.

A new module must be placed in a layer (``LAYERS``) before this file passes: a flat module
nobody placed is a failure, not a silent pass.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sdk-python" / "src" / "goplugin"

_HOST_TWINS = ("client", "grpc_client", "rpc_client", "launch", "monitor", "guard", "supervisor")
_PLUGIN_TWINS = ("server", "rpc_server")


def _twins(*names: str) -> tuple[str, ...]:
    return tuple(f"{flavour}.{name}" for flavour in ("_async", "_sync") for name in names)


#: Layer -> the modules in it (fnmatch patterns over names relative to goplugin; "" is
#: goplugin/__init__.py). Every module matches exactly one layer.
LAYERS: dict[str, tuple[str, ...]] = {
    # Leaf modules every layer may use: typed errors, the plugin interfaces, plugin-set
    # checks, lazy names, deferred imports; and the generated message classes.
    "base": ("errors", "plugin", "_pluginset", "_lazy", "_deferred"),
    "proto": ("_proto", "_proto.*"),
    # Sans-IO cores: bytes and values in, bytes and values out.
    "protocol": ("_protocol", "_protocol.*"),
    "yamux": ("_yamux", "_yamux.*"),
    # What both sides share above the cores.
    "transport": ("_transport", "_transport.*"),
    "services": ("_services", "_services.*"),
    "engines": ("_engines", "_engines.*"),
    "netrpc": ("netrpc", "netrpc.*"),
    "backends": ("_backends", "_backends.*"),
    # Each side, flavour-independent.
    "host": ("_host", "_host.*"),
    "plugin": ("_plugin", "_plugin.*"),
    # The twins (_async is the source, _sync generated), by side.
    "host_twins": _twins(*_HOST_TWINS),
    "plugin_twins": _twins(*_PLUGIN_TWINS),
    "shared_twins": ("_async", "_sync", *_twins("broker")),
    # The public entry points: ``goplugin``, ``goplugin.aio`` and generated code's runtime.
    "api": ("", "aio", "_genruntime"),
    # On top: the CLI and goplugin.testing (testkit wires a host to an in-process plugin).
    "tools": ("__main__", "_cli", "_cli.*", "testing", "testing.*", *_twins("testkit")),
    # Build time only.
    "codegen": ("codegen", "codegen.*"),
}

_RUNTIME_TOP = {"api", "tools", "codegen"}
_TWINS = {"host_twins", "plugin_twins", "shared_twins"}
_ABOVE_SHARED = {"backends", "host", "plugin", *_TWINS, *_RUNTIME_TOP}

#: Layer -> the layers it must not import (ARCHITECTURE.md, "Layers and import directions").
FORBIDDEN: dict[str, set[str]] = {
    "base": set(LAYERS) - {"base"},
    "proto": set(LAYERS) - {"proto"},
    # The protocol cores import no IO (see SANS_IO) and nothing above them.
    "protocol": set(LAYERS) - {"base", "proto", "protocol"},
    "yamux": set(LAYERS) - {"base", "protocol", "yamux"},
    "transport": {"services", "netrpc", *_ABOVE_SHARED},
    "services": {"yamux", "transport", "engines", "netrpc", *_ABOVE_SHARED},
    "engines": {"services", "netrpc", *_ABOVE_SHARED},
    # net/rpc serves with the engines' default bound (DEFAULT_MAX_CONCURRENT_CALLS).
    "netrpc": {"transport", *_ABOVE_SHARED},
    # The IO seam: below both sides and the twins that are written against it.
    "backends": _ABOVE_SHARED - {"backends"},
    # The host and plugin sides never import each other, at any level.
    "host": {"plugin", "engines", "backends", *_TWINS, *_RUNTIME_TOP},
    "plugin": {"host", "backends", *_TWINS, *_RUNTIME_TOP},
    "host_twins": {"plugin", "plugin_twins", *_RUNTIME_TOP},
    "plugin_twins": {"host", "host_twins", *_RUNTIME_TOP},
    "shared_twins": {"host", "plugin", "host_twins", "plugin_twins", *_RUNTIME_TOP},
    "api": {"tools", "codegen"},
    "tools": {"codegen"},
    # Build time: it reads the runtime's contract (_genruntime, reserved names), nothing runs it.
    "codegen": {"tools"},
}

#: Modules that do no IO: no sockets, threads, event loops, processes or grpc, at module
#: level or in a function (sans-IO means none at all; TYPE_CHECKING imports are allowed).
#: The whole protocol layer, and the sans-IO cores that live next to their IO elsewhere.
#: (Tables that other modules share between threads, such as the gob type caches and the
#: host's lifecycle, take a ``threading`` lock and are not listed.)
SANS_IO = (
    "_protocol",
    "_protocol.*",
    "_yamux.connection",
    "_yamux.frames",
    "_yamux.state",
    "_engines._frames",
    "_engines._h2",
    "_engines._h2send",
    "_engines._hpack",
    "netrpc._gob",
    "netrpc._gobdec",
    "netrpc._gobenc",
    "netrpc._gobwire",
    "netrpc._gobpytypes",
    "netrpc._rpc",
    "_host.supervision",
)
IO_MODULES = (
    "socket",
    "ssl",
    "asyncio",
    "threading",
    "_thread",
    "subprocess",
    "selectors",
    "select",
    "signal",
    "multiprocessing",
    "concurrent",
    "grpc",
)

#: Imports that break a rule on purpose: (importer, imported) -> why. Keep this short.
EXCEPTIONS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # relative to goplugin ("" for the package itself)
    target: str  # a goplugin module relative to goplugin, or an absolute non-goplugin name
    internal: bool  # target is a goplugin module
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(importer: str, node: ast.ImportFrom) -> list[tuple[str, bool]]:
    """The modules an ``import from`` loads: (name relative to goplugin or absolute, internal)."""
    if node.level == 0:
        module = node.module or ""
        if module != "goplugin" and not module.startswith("goplugin."):
            return [(module, False)]
        base = module.removeprefix("goplugin").removeprefix(".")
    else:
        is_package = MODULES[importer].name == "__init__.py"
        parts = importer.split(".") if importer else []
        package = parts if is_package else parts[:-1]
        up = node.level - 1
        assert up <= len(package), f"{importer}: import beyond the package"
        base = ".".join([*package[: len(package) - up], *([node.module] if node.module else [])])
    found = []
    for alias in node.names:
        submodule = f"{base}.{alias.name}" if base else alias.name
        found.append((submodule if submodule in MODULES else base, True))
    return found


def imports_of(module: str) -> list[Import]:
    """The imports of ``module`` that run (TYPE_CHECKING blocks skipped)."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found: list[Import] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    name = alias.name
                    internal = name == "goplugin" or name.startswith("goplugin.")
                    if internal:
                        name = name.removeprefix("goplugin").removeprefix(".")
                    found.append(Import(module, name, internal, child.lineno))
            elif isinstance(child, ast.ImportFrom):
                for target, internal in _resolve(module, child):
                    found.append(Import(module, target, internal, child.lineno))
            visit(child)

    visit(tree)
    return found


def layer_of(module: str) -> str | None:
    matches = [
        layer
        for layer, patterns in LAYERS.items()
        if any(fnmatch.fnmatchcase(module, p) for p in patterns)
    ]
    assert len(matches) <= 1, f"{module or 'goplugin'} is in several layers: {matches}"
    return matches[0] if matches else None


def _where(imp: Import) -> str:
    path = MODULES[imp.importer]
    shown = path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE) else path
    return f"{shown}:{imp.line}"


def violations() -> list[str]:
    """Every import of the package that breaks FORBIDDEN, as readable lines."""
    found = []
    for module in MODULES:
        layer = layer_of(module)
        if layer is None:
            continue  # test_every_module_is_in_a_layer reports it
        for imp in imports_of(module):
            if not imp.internal:
                continue
            target_layer = layer_of(imp.target)
            if target_layer in FORBIDDEN[layer] and (module, imp.target) not in EXCEPTIONS:
                found.append(
                    f"{_where(imp)}: {module} ({layer}) imports {imp.target} ({target_layer})"
                )
    return found


def test_every_module_is_in_a_layer() -> None:
    unplaced = [f"goplugin.{m}" if m else "goplugin" for m in MODULES if layer_of(m) is None]
    assert unplaced == [], "place these in a layer (LAYERS here, and ARCHITECTURE.md)"


def test_every_folder_of_the_rules_exists() -> None:
    folders = {p.parent for p in MODULES.values()}
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if "*" in pattern:
                folder = PACKAGE / pattern.removesuffix(".*").replace(".", "/")
                assert folder in folders, f"{layer}: no folder {folder}"
            else:
                assert pattern in MODULES, f"{layer}: no module goplugin.{pattern}"
    assert set(FORBIDDEN) == set(LAYERS)
    for layer, forbidden in FORBIDDEN.items():
        assert forbidden <= set(LAYERS), f"{layer}: unknown layers {forbidden - set(LAYERS)}"


def test_no_runtime_layer_may_import_the_tools() -> None:
    for layer, forbidden in FORBIDDEN.items():
        assert layer in ("tools", "codegen") or {"tools", "codegen"} <= forbidden, layer


def test_imports_go_only_in_the_allowed_directions() -> None:
    assert violations() == []


def test_exceptions_are_still_needed() -> None:
    used = {
        (imp.importer, imp.target)
        for module in MODULES
        for imp in imports_of(module)
        if imp.internal
    }
    assert [pair for pair in EXCEPTIONS if pair not in used] == []


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if any(fnmatch.fnmatchcase(m, p) for p in SANS_IO))
)
def test_sans_io_modules_import_no_io(module: str) -> None:
    io = [
        f"{_where(imp)}: {imp.target}"
        for imp in imports_of(module)
        if not imp.internal and imp.target.split(".")[0] in IO_MODULES
    ]
    assert io == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """A plugin-side import in the protocol core (what this file exists to catch) is found,
    relative or absolute, module level or in a function; a TYPE_CHECKING one is not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from .._plugin import config\n"
        "if TYPE_CHECKING:\n"
        "    from .._host.process import PluginProcess\n"
        "def f() -> None:\n"
        "    import goplugin._host.output\n"
    )
    probe = "_protocol.handshake"
    saved = MODULES[probe]
    MODULES[probe] = tmp_path / "handshake.py"
    MODULES[probe].write_text(source)
    try:
        targets = [imp.target for imp in imports_of(probe) if imp.internal]
        assert targets == ["_plugin.config", "_host.output"]
        wanted = "_protocol.handshake (protocol) imports _plugin.config (plugin)"
        assert any(wanted in line for line in violations())
    finally:
        MODULES[probe] = saved
