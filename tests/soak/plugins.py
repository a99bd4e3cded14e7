"""The plugins the soak runs and one way to call "kv" on each, whatever protocol or flavour.

A :class:`Kind` is a plugin language (the Go or the Python fault plugin), a protocol and a
host flavour; a Python plugin serves with the host's flavour (``goplugin.serve`` under a sync
host, ``goplugin.aio.serve`` under an asyncio one), so both serve()s are soaked too.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from gobuild import REPO, go_program

import goplugin
import goplugin.aio
from goplugin.netrpc import gob

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
STREAMING = goplugin.HandshakeConfig(1, "STREAMING_PLUGIN", "events")
PLUGINS = REPO / "tests" / "plugins"
LANGUAGES = ("go", "python")
PROTOCOLS = ("grpc", "netrpc")
FLAVOURS = ("sync", "aio")


@dataclass(frozen=True)
class Kind:
    language: str
    protocol: str
    flavour: str

    @property
    def label(self) -> str:
        return f"{self.language} {self.protocol} {self.flavour}"


ALL_KINDS = [Kind(lang, p, f) for lang in LANGUAGES for p in PROTOCOLS for f in FLAVOURS]


def python_plugin_path() -> str:
    """PYTHONPATH for Python plugins: the SDK and the generated code (hosts pass it on)."""
    parts = [str(REPO / "examples-py"), str(REPO / "sdk-python" / "src")]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def fault_command(language: str) -> list[str]:
    if language == "go":
        return [str(go_program("./testprogs/faultplugin"))]
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


def capacity_command() -> list[str]:
    return [sys.executable, str(PLUGINS / "capacity_plugin.py")]


def fault_env(kind: Kind, *faults: str) -> dict[str, str]:
    names = [*faults, "serve-netrpc" if kind.protocol == "netrpc" else ""]
    env = {"GOPLUGIN_FAULT": ",".join(n for n in names if n), "PYTHONPATH": python_plugin_path()}
    if kind.language == "python" and kind.flavour == "aio":
        env["GOPLUGIN_FAULT_FLAVOUR"] = "aio"
    return env


def kv_plugins() -> dict[str, Any]:
    from gen.kv import kv_goplugin

    return {"kv": kv_goplugin.KVPlugin()}


def new_client(kind: Kind, *faults: str, **options: Any) -> Any:
    """A PluginClient (or goplugin.aio's) for a fault plugin of this kind; not started."""
    factory = goplugin.aio.PluginClient if kind.flavour == "aio" else goplugin.PluginClient
    return factory(
        fault_command(kind.language),
        handshake=HANDSHAKE,
        plugins=kv_plugins(),
        env=fault_env(kind, *faults),
        **options,
    )


class SyncKV:
    """``get(key)`` on a dispensed "kv" of a sync host, over gRPC or net/rpc."""

    def __init__(self, client: Any, protocol: str) -> None:
        self.protocol = protocol
        self.kv = client.dispense("kv")
        if protocol == "grpc":
            from gen.kv import kv_pb2

            self._request = kv_pb2.GetRequest
            self.kv.put(kv_pb2.PutRequest(key="soak", value=b"soak"), timeout=30)

    def get(self, key: str, timeout: float | None = None) -> bytes:
        if self.protocol == "grpc":
            return self.kv.get(self._request(key=key), timeout=timeout).value  # type: ignore[no-any-return]
        return self.kv.call("Plugin.Get", key, gob.BYTES, timeout=timeout)  # type: ignore[no-any-return]


class AsyncKV:
    """The same for an asyncio host: ``await kv.get(key)``."""

    def __init__(self, kv: Any, protocol: str) -> None:
        self.protocol = protocol
        self.kv = kv
        if protocol == "grpc":
            from gen.kv import kv_pb2

            self._request = kv_pb2.GetRequest

    @classmethod
    async def dispense(cls, client: Any, protocol: str) -> AsyncKV:
        kv = cls(await client.dispense("kv"), protocol)
        if protocol == "grpc":
            from gen.kv import kv_pb2

            await kv.kv.put(kv_pb2.PutRequest(key="soak", value=b"soak"), timeout=30)
        return kv

    async def get(self, key: str, timeout: float | None = None) -> bytes:
        if self.protocol == "grpc":
            reply = await self.kv.get(self._request(key=key), timeout=timeout)
            return reply.value  # type: ignore[no-any-return]
        return await self.kv.call("Plugin.Get", key, gob.BYTES, timeout=timeout)  # type: ignore[no-any-return]


#: A key every kind answers at once: the stored "soak" (gRPC) or its echo (net/rpc).
QUICK_KEY = "soak"


def error_name(exc: BaseException) -> str:
    """How the report names an error: its class, and for grpc errors the status code."""
    code = getattr(exc, "code", None)
    if callable(code) and not isinstance(exc, goplugin.PluginError):
        try:
            return f"{type(exc).__name__}({code().name})"
        except Exception:  # a grpc error without a code
            pass
    return type(exc).__name__
