"""A go-plugin plugin on raw grpcio, no SDK: the floor every grpcio-based Python plugin stands on.

``python raw_grpcio_plugin.py kv|streaming [--aio]``. The sync flavour is grpcio's thread-pool
server, ``--aio`` its asyncio server. Handlers are registered the way grpcio-tools' generated
``add_*Servicer_to_server`` registers them (``method_handlers_generic_handler``); the plugin
prints go-plugin's handshake line itself and serves GRPCController.Shutdown so that hosts stop
it at once, and nothing else of go-plugin's internal services (as go-plugin's plugin-python).
"""

from __future__ import annotations

import sys
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import empty_pb2

from bench.plugins._contract import announce, check_cookie, contract_from_argv, socket_path
from bench.plugins._grpcio_services import controller, handlers


def serve_sync(contract: str) -> None:
    import threading

    stop = threading.Event()

    def shutdown(request: Any, context: Any) -> Any:
        stop.set()
        return empty_pb2.Empty()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((handlers(contract, aio=False), controller(shutdown)))
    path = socket_path()
    server.add_insecure_port("unix:" + path)
    server.start()
    announce(path)
    stop.wait()
    server.stop(0)


async def serve_aio(contract: str) -> None:
    import asyncio

    stop = asyncio.Event()

    async def shutdown(request: Any, context: Any) -> Any:
        stop.set()
        return empty_pb2.Empty()

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(contract, aio=True), controller(shutdown)))
    path = socket_path()
    server.add_insecure_port("unix:" + path)
    await server.start()
    announce(path)
    await stop.wait()
    await server.stop(0)


if __name__ == "__main__":
    contract = contract_from_argv()
    check_cookie(contract)
    if "--aio" in sys.argv[2:]:
        import asyncio

        asyncio.run(serve_aio(contract))
    else:
        serve_sync(contract)
