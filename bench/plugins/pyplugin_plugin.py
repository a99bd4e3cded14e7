"""The bench plugin on py-plugin 0.1.0 (PyPI ``python-plugin``, grpclib-based), as its README
shows: one ``pyplugin.Plugin`` per service, its grpclib servicer, ``pyplugin.serve``.

``python pyplugin_plugin.py kv|streaming``. py-plugin serves go-plugin's internal services
(broker, controller, stdio, health, reflection) and AutoMTLS itself. The servicers are the
grpclib ones every grpclib row uses (_grpclib_services.py).
"""

from __future__ import annotations

from typing import Any

import pyplugin

from bench.plugins._contract import COOKIES, contract_from_argv
from bench.plugins._grpclib_services import service


class BenchPlugin(pyplugin.Plugin):
    def __init__(self, contract: str) -> None:
        self.contract = contract

    def servicers(self, broker: Any) -> list[Any]:
        return [service(self.contract)]

    def stub(self, broker: Any, channel: Any) -> Any:
        raise NotImplementedError("plugin side only")


if __name__ == "__main__":
    contract = contract_from_argv()
    key, value = COOKIES[contract]
    name = "kv" if contract == "kv" else "streamer"
    pyplugin.serve(
        pyplugin.ServeConfig(
            handshake_config=pyplugin.HandshakeConfig(1, key, value),
            plugins={name: BenchPlugin(contract)},
        )
    )
