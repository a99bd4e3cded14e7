"""The bench plugin on pyvider-rpcplugin 0.5.5 (grpc.aio-based), as its docs show: an
``RPCPluginProtocol`` that registers the service, a handler, ``plugin_server(...).serve()``.

``python pyvider_plugin.py kv|streaming``. The cookie is the contract's (go-plugin's examples'),
given through pyvider's per-instance config; pyvider serves go-plugin's internal services and
AutoMTLS itself, and logs at its default level. The handlers are the grpc.aio ones the raw
grpc.aio row uses (_grpcio_services.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyvider.rpcplugin import RPCPluginProtocol, plugin_server

from bench.plugins._contract import COOKIES, contract_from_argv
from bench.plugins._grpcio_services import handlers


class BenchProtocol(RPCPluginProtocol[Any, Any]):
    def __init__(self, contract: str) -> None:
        super().__init__()
        self.contract = contract

    async def get_grpc_descriptors(self) -> tuple[Any, str]:
        return None, "proto.KV" if self.contract == "kv" else "streaming.Streamer"

    async def add_to_server(self, server: Any, handler: Any) -> None:
        server.add_generic_rpc_handlers((handlers(self.contract, aio=True),))


async def main(contract: str) -> None:
    key, value = COOKIES[contract]
    server = plugin_server(
        protocol=BenchProtocol(contract),
        handler=object(),
        config={"PLUGIN_MAGIC_COOKIE_KEY": key, "PLUGIN_MAGIC_COOKIE_VALUE": value},
    )
    await server.serve()


if __name__ == "__main__":
    asyncio.run(main(contract_from_argv()))
