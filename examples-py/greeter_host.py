"""A Python host for go-plugin's examples/basic greeter (net/rpc), Go or Python::

    python greeter_host.py ./plugin/greeter              # go-plugin's Go greeter, unmodified
    python greeter_host.py "python3 greeter_plugin.py"   # the Python one next to this file

``Greeter`` is the typed face of the plugin (go-plugin's GreeterRPC): the host dispenses it
through the plugin set, so the rest of the program never sees net/rpc.
"""

from __future__ import annotations

import logging
import sys

import goplugin
from goplugin import netrpc
from goplugin.netrpc import gob

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


class Greeter:
    """Calls ``Plugin.Greet``: no arguments (a nil ``interface{}``), a Go ``string`` back."""

    def __init__(self, client: netrpc.Client) -> None:
        self._client = client

    def greet(self, timeout: float | None = None) -> str:
        reply = self._client.call(
            "Plugin.Greet", None, gob.STRING, args_type=gob.INTERFACE, timeout=timeout
        )
        assert isinstance(reply, str)
        return reply


GREETER = netrpc.Plugin(client=Greeter)
PLUGINS = {"greeter": GREETER}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO)  # the plugin's hclog lines, at their own levels
    command = argv[0] if argv else "./plugin/greeter"
    with goplugin.PluginClient(command, handshake=HANDSHAKE, plugins=PLUGINS) as client:
        greeter = client.dispense(GREETER)  # a Greeter, to mypy too
        print(greeter.greet(timeout=10))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
