"""A greeter plugin in Python for go-plugin's examples/basic host, over net/rpc.

go-plugin's basic example host runs ``./plugin/greeter`` and calls ``Plugin.Greet`` through
net/rpc (no gRPC, no .proto): the Go signature ``Greet(args interface{}, resp *string) error``
becomes the ``@netrpc.method`` below. Make this file (or a two-line shell wrapper that runs
it) ``plugin/greeter`` next to the host, and the unmodified Go host prints our greeting::

    printf '#!/bin/sh\\nexec python3 %s\\n' "$PWD/greeter_plugin.py" > plugin/greeter
"""

from __future__ import annotations

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class GreeterHello:
    """The implementation; go-plugin's GreeterRPCServer is the decorator's job."""

    @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
    def greet(self, args: None) -> str:
        return "Hello from Python!"


if __name__ == "__main__":
    goplugin.serve(handshake=HANDSHAKE, plugins={"greeter": netrpc.Plugin(GreeterHello())})
