"""A go-plugin plugin on raw grpclib (pure-Python HTTP/2 on one event loop), no SDK.

``python raw_grpclib_plugin.py kv|streaming``: the contract's service
(_grpclib_services.py) and GRPCController.Shutdown on a grpclib ``Server`` on a unix socket,
and go-plugin's handshake line printed by hand, like raw_grpcio_plugin.py does for grpcio.
"""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf import empty_pb2
from grpclib.const import Cardinality, Handler
from grpclib.server import Server

from bench.plugins._contract import (
    SHUTDOWN,
    announce,
    check_cookie,
    contract_from_argv,
    socket_path,
)
from bench.plugins._grpclib_services import service


class Controller:
    def __init__(self) -> None:
        self.stop = asyncio.Event()

    def __mapping__(self) -> dict[str, Handler]:
        empty = empty_pb2.Empty
        return {SHUTDOWN: Handler(self.shutdown, Cardinality.UNARY_UNARY, empty, empty)}

    async def shutdown(self, stream: Any) -> None:
        await stream.recv_message()
        await stream.send_message(empty_pb2.Empty())
        self.stop.set()


async def main(contract: str) -> None:
    controller = Controller()
    server = Server([service(contract), controller])
    path = socket_path()
    await server.start(path=path)
    announce(path)
    await controller.stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    contract = contract_from_argv()
    check_cookie(contract)
    asyncio.run(main(contract))
