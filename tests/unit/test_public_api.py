"""The public API as a newcomer meets it, and one API across flavours (issue 16).

A newcomer meets the entry points' docstrings, the version and the names first. The naming rule
of goplugin/__init__.py, checked: ``goplugin`` and ``goplugin.aio`` export the same names;
flavour-neutral ones are the same objects, flavoured ones have the same public members (awaited
in aio). Modules holding both flavours side by side (``goplugin.netrpc``) prefix the asyncio twin
with ``Async``.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import goplugin
import goplugin.aio
import goplugin.errors
from goplugin import netrpc
from goplugin.netrpc import gob

SDK = Path(__file__).resolve().parents[2] / "sdk-python"

ENTRY_POINTS: dict[str, Callable[..., Any]] = {
    "goplugin.PluginClient": goplugin.PluginClient,
    "goplugin.aio.PluginClient": goplugin.aio.PluginClient,
    "goplugin.serve": goplugin.serve,
    "goplugin.aio.serve": goplugin.aio.serve,
}


def documented_args(doc: str) -> dict[str, str]:
    """The ``Args:`` section of a Google-style docstring: name -> its description."""
    section = re.search(r"^\s*Args:\n(.*?)(?:^\s*\w[\w ]*:\n|\Z)", doc, re.S | re.M)
    assert section, "no Args: section"
    args: dict[str, str] = {}
    name = ""
    for line in section.group(1).splitlines():
        entry = re.match(r"^\s{4}(\w+)(?: \(.*?\))?:\s*(.*)$", line)
        if entry:
            name = entry.group(1)
            args[name] = entry.group(2)
        elif name:
            args[name] += " " + line.strip()
    return args


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_every_parameter_is_explained_with_its_default(name: str) -> None:
    obj = ENTRY_POINTS[name]
    doc = inspect.getdoc(obj) or ""
    args = documented_args(doc)
    params = inspect.signature(obj).parameters
    assert sorted(args) == sorted(params), f"{name}: documented {sorted(args)}"
    for param in params.values():
        default = param.default
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            # The default shows in the text, not only in the signature: "60 s", "(default 2)".
            shown = f"{default:g}"
            if param.name.endswith("level"):
                shown = logging.getLevelName(int(default))
            assert re.search(rf"\b{shown}\b", args[param.name]), (name, param.name)


def test_the_start_timeout_default_is_stated() -> None:
    assert "60 s" in documented_args(inspect.getdoc(goplugin.PluginClient) or "")["start_timeout"]


def test_the_version_has_one_source() -> None:
    pyproject = (SDK / "pyproject.toml").read_text()  # no tomllib on 3.10
    assert re.search(r'^dynamic = \["version"\]$', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)
    assert goplugin.__version__ == importlib.metadata.version("goplugin")


def test_submodules_are_attributes_without_an_import() -> None:
    assert "aio" in dir(goplugin) and "netrpc" in dir(goplugin)
    assert goplugin.netrpc.Plugin is importlib.import_module("goplugin.netrpc").Plugin


def test_classifiers_name_the_pythons_the_tests_run_on() -> None:
    metadata = importlib.metadata.metadata("goplugin")
    assert metadata["Requires-Python"] == ">=3.10"
    noxfile = (SDK.parent / "noxfile.py").read_text()
    tested = re.search(r"^SUPPORTED_PYTHONS = \((.*)\)$", noxfile, re.M)
    assert tested
    versions = re.findall(r'"(3\.\d+)"', tested.group(1))
    assert versions[0] == "3.10"
    classifiers = metadata.get_all("Classifier") or []
    python = sorted(c.rsplit(" ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c))
    assert python == sorted(versions)


FLAVOURED = {"GRPCBroker", "PluginClient", "Supervisor", "serve"}
HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def public_members(cls: type) -> dict[str, Any]:
    return {
        name: value
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") or name in ("__enter__", "__aenter__")
    }


def test_every_error_class_is_exported_from_errors_goplugin_and_aio() -> None:
    defined = {
        name
        for name, value in vars(goplugin.errors).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == "goplugin.errors"
    }
    assert defined == set(goplugin.errors.__all__)
    for module in (goplugin, goplugin.aio):
        missing = defined - set(module.__all__)
        assert not missing, f"{module.__name__} does not export {sorted(missing)}"
        for name in defined:
            assert getattr(module, name) is getattr(goplugin.errors, name)


def test_goplugin_and_aio_export_the_same_names() -> None:
    assert set(goplugin.__all__) == set(goplugin.aio.__all__)
    for name in goplugin.__all__:
        sync, aio = getattr(goplugin, name), getattr(goplugin.aio, name)
        assert (sync is aio) == (name not in FLAVOURED), name
    for name in FLAVOURED - {"serve"}:
        sync_members = public_members(getattr(goplugin, name))
        aio_members = public_members(getattr(goplugin.aio, name))
        assert {n for n in sync_members if n != "__enter__"} == {
            n for n in aio_members if n != "__aenter__"
        }, name


@pytest.mark.parametrize(
    ("sync_name", "aio_name"),
    [
        ("netrpc.Client", "netrpc.AsyncClient"),
        ("netrpc.MuxBroker", "netrpc.AsyncMuxBroker"),
        ("PluginClient", "aio.PluginClient"),
        ("Supervisor", "aio.Supervisor"),
        ("GRPCBroker", "aio.GRPCBroker"),
    ],
)
def test_what_waits_is_awaited_in_the_asyncio_twin(sync_name: str, aio_name: str) -> None:
    """Every method that may wait (not a property, not next_id) is a coroutine function in
    aio, and the names match."""
    sync_cls, aio_cls = resolve(sync_name), resolve(aio_name)
    sync_members = {
        n for n, v in public_members(sync_cls).items() if callable(v) and n != "__enter__"
    }
    aio_members = public_members(aio_cls)
    assert sync_members == {n for n, v in aio_members.items() if callable(v)} - {"__aenter__"}
    waits = {"accept", "call", "close", "dial", "kill", "ping", "start", "dispense"}
    for name in sync_members & waits:
        assert inspect.iscoroutinefunction(aio_members[name]), f"{aio_cls.__name__}.{name}"
        assert not inspect.iscoroutinefunction(getattr(sync_cls, name))


@pytest.mark.parametrize("flavour", [goplugin, goplugin.aio], ids=["sync", "asyncio"])
def test_the_client_reports_properties_not_methods(flavour: Any) -> None:
    client = flavour.PluginClient(["/nonexistent"], handshake=HANDSHAKE)
    assert client.stderr_tail == ()
    assert client.handshake_line is None  # the plugin's handshake line, parsed, once started
    assert not hasattr(client, "handshake")  # the constructor's handshake= is the config


def test_netrpc_method_names_its_types_as_call_does() -> None:
    class Greeter:
        @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
        def greet(self, args: None) -> str:
            return "Hello!"

    methods, _ = netrpc_compile(Greeter())
    assert (methods["Greet"].arg_type, methods["Greet"].reply_type) == (gob.INTERFACE, gob.STRING)
    call = inspect.signature(netrpc.Client.call).parameters
    decorator = inspect.signature(netrpc.method).parameters
    assert {"args_type", "reply_type"} <= set(call) & set(decorator)

    with pytest.warns(DeprecationWarning, match="args_type"):

        class Old:
            @netrpc.method("Greet", args=gob.INTERFACE, reply=gob.STRING)  # type: ignore[call-overload,untyped-decorator]
            def greet(self, args: None) -> str:
                return "Hello!"

    methods, _ = netrpc_compile(Old())
    assert (methods["Greet"].arg_type, methods["Greet"].reply_type) == (gob.INTERFACE, gob.STRING)
    with warnings.catch_warnings(), pytest.raises(TypeError):
        warnings.simplefilter("ignore", DeprecationWarning)
        netrpc.method("Greet", args=gob.STRING, args_type=gob.STRING)  # type: ignore[call-overload]


def resolve(dotted: str) -> Any:
    value: Any = goplugin
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def netrpc_compile(impl: object) -> Any:
    from goplugin.netrpc._service import compile_service

    return compile_service(impl)
