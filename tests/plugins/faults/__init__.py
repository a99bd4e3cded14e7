"""The fault registry of fault_plugin.py: every module of this package registers its faults."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

#: Runs before serve(); exits or blocks if the plugin must not serve.
StartFault = Callable[[], None]
#: Answers KV.Get("fault:<name>:<arg>") with the bytes to return (or does not return).
CallFault = Callable[[str, Any], bytes]

_START: dict[str, StartFault] = {}
_CALL: dict[str, CallFault] = {}


def start(name: str) -> Callable[[StartFault], StartFault]:
    def register(fn: StartFault) -> StartFault:
        _START[name] = fn
        return fn

    return register


def call(name: str) -> Callable[[CallFault], CallFault]:
    def register(fn: CallFault) -> CallFault:
        _CALL[name] = fn
        return fn

    return register


def start_fault(name: str) -> StartFault:
    try:
        return _START[name]
    except KeyError:
        sys.stderr.write(f"fault_plugin: unknown start fault {name!r} (known: {sorted(_START)})\n")
        raise SystemExit(2) from None


def call_fault(name: str) -> CallFault:
    try:
        return _CALL[name]
    except KeyError:
        raise ValueError(f"unknown call fault {name!r} (known: {sorted(_CALL)})") from None


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
