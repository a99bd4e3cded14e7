"""A Python host driver: ``python -m bench.drivers.pyhost FLAVOUR CONTRACT [--lazy] -- ARGV``.

FLAVOUR is ``sync`` (goplugin.PluginClient), ``aio`` (goplugin.aio.PluginClient), ``raw``
(grpcio alone, the plugin launched by hand), or a peer's host: ``pyplugin`` (py-plugin's
Client) or ``pyvider`` (pyvider-rpcplugin's client), see _peerhost.py. CONTRACT is kv,
streaming, greeter or none (no plugin: pingpong only). Loads the plugin, prints
{"ready": true}, then answers the runner's commands (see _protocol.py) until ``quit`` or end
of input.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import traceback
from typing import Any

from ._pingpong import pingpong
from ._protocol import CommandError, emit, parse


def _make_host(flavour: str, contract: str, cmd: list[str], tls: bool) -> Any:
    if flavour == "raw":
        from ._rawhost import RawHost

        return RawHost(contract, cmd)
    if flavour in ("pyplugin", "pyvider"):
        from ._peerhost import PeerHost

        return PeerHost(flavour, contract, cmd, tls)
    if flavour == "aio":
        from ._aiohost import AioHost

        return AioHost(contract, cmd, tls)
    from ._synchost import SyncHost

    return SyncHost(contract, cmd, tls)


def _error(exc: BaseException) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}


def _command(host: Any, line: str) -> Any:
    """The reply to ``line``: a dict, or for the asyncio host an awaitable of one."""
    name, args = parse(line)
    if name == "pingpong":
        return pingpong(*args)
    if host is None:
        raise CommandError("no plugin contract: only pingpong")
    return getattr(host, name)(*args)


def _serve_sync(host: Any, lazy: bool) -> int:
    """The sync and raw hosts: a plain blocking loop, no event loop anywhere."""
    try:
        if host is not None and not lazy:
            host.open()
    except Exception as exc:
        emit(_error(exc))
        host.close()
        return 1
    emit({"ready": True})
    try:
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            try:
                emit(dict(_command(host, line)))
            except Exception as exc:
                emit(_error(exc))
    finally:
        if host is not None:
            host.close()
    return 0


async def _serve_aio(host: Any, lazy: bool) -> int:
    """The asyncio host: stdin is read on the loop, so the plugin's streams keep flowing."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        if host is not None and not lazy:
            await host.open()
    except Exception as exc:
        emit(_error(exc))
        await host.close()
        return 1
    emit({"ready": True})
    try:
        while line := (await reader.readline()).decode():
            if line.strip() == "quit":
                break
            try:
                reply = _command(host, line)
                emit(dict(await reply) if inspect.isawaitable(reply) else dict(reply))
            except Exception as exc:
                emit(_error(exc))
    finally:
        if host is not None:
            await host.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="pyhost")
    parser.add_argument("flavour", choices=["sync", "aio", "raw", "pyplugin", "pyvider"])
    parser.add_argument("contract", choices=["kv", "streaming", "greeter", "none"])
    parser.add_argument("--lazy", action="store_true")
    parser.add_argument("--tls", action="store_true", help="AutoMTLS (PluginClient(auto_mtls=))")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args, cmd = parser.parse_args(argv[:split]), argv[split + 1 :]
    host = (
        None if args.contract == "none" else _make_host(args.flavour, args.contract, cmd, args.tls)
    )
    if args.flavour in ("aio", "pyplugin", "pyvider"):
        return asyncio.run(_serve_aio(host, args.lazy))
    return _serve_sync(host, args.lazy)


if __name__ == "__main__":
    sys.exit(main())
