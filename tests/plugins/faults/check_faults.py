"""Faults that `python -m goplugin check` must name, Python flavour: what Python plugin authors
get wrong (printing before serve(), a thread that keeps the process alive after the host said
stop), and a net/rpc plugin to check the net/rpc rows with. Each acts only when the magic
cookie is there, so that the refusal without it (another row) stays go-plugin's."""

from __future__ import annotations

import os
import sys
import threading
import time

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

from . import start

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def _has_cookie() -> bool:
    return os.environ.get(HANDSHAKE.magic_cookie_key) == HANDSHAKE.magic_cookie_value


@start("stray-stdout")
def stray_stdout() -> None:
    print("fault_plugin: loading configuration", flush=True)


@start("lingering-thread")
def lingering_thread() -> None:
    """A non-daemon thread: serve() returns when the host says stop, the process does not end."""
    if _has_cookie():
        threading.Thread(target=time.sleep, args=(60,), name="lingering", daemon=False).start()


class _Greeter:
    @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
    def greet(self, args: None) -> str:
        return "Hello from the fault plugin!"


@start("serve-netrpc")
def serve_netrpc() -> None:
    """Serve a net/rpc greeter instead of the KV plugin (then exit like a plugin's main)."""
    goplugin.serve(handshake=HANDSHAKE, plugins={"greeter": netrpc.Plugin(_Greeter())})
    sys.exit(0)


@start("distrust-host")
def distrust_host() -> None:
    """Pin a certificate other than the one the host sent (AutoMTLS): the host is refused."""
    if os.environ.get("PLUGIN_CLIENT_CERT"):
        from goplugin._transport.mtls import generate_identity

        os.environ["PLUGIN_CLIENT_CERT"] = generate_identity().cert_pem.decode()
