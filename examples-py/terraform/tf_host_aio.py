"""The asyncio flavour of tf_host.py: the same calls to a Terraform provider, awaited.

PYTHONPATH=.build/tfplugin5 python tf_host_aio.py PROVIDER [--mtls]
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tf_host import (
    ADDRESS,
    HANDSHAKE,
    PLUGINS,
    TIMEOUT,
    Diagnostic,
    FunctionError,
    Schema,
    call_request,
    call_result,
    diagnostics,
    raise_diagnostics,
    reattach_config,
    schema_of,
    validate_request,
)
from tfgen.tfplugin5 import tfplugin5_goplugin, tfplugin5_pb2

import goplugin.aio


def launch(provider: str | os.PathLike[str], *, auto_mtls: bool) -> goplugin.aio.PluginClient:
    reattach = reattach_config(ADDRESS)
    if reattach is not None:
        return goplugin.aio.PluginClient(handshake=HANDSHAKE, plugins=PLUGINS, reattach=reattach)
    return goplugin.aio.PluginClient(
        [provider], handshake=HANDSHAKE, plugins=PLUGINS, auto_mtls=auto_mtls
    )


class AsyncProvider:
    def __init__(self, client: tfplugin5_goplugin.AsyncProviderClient) -> None:
        self._client = client
        self._schema: Schema | None = None

    async def schema(self) -> Schema:
        if self._schema is None:
            request = tfplugin5_pb2.GetProviderSchema.Request()
            self._schema = schema_of(await self._client.get_schema(request, timeout=TIMEOUT))
        return self._schema

    async def functions(self) -> frozenset[str]:
        request = tfplugin5_pb2.GetFunctions.Request()
        response = await self._client.get_functions(request, timeout=TIMEOUT)
        raise_diagnostics(response.diagnostics)
        return frozenset(response.functions)

    async def call_function(self, name: str, *args: Any) -> Any:
        request = call_request(name, args)
        return call_result(await self._client.call_function(request, timeout=TIMEOUT))

    async def validate_resource(
        self, type_name: str, config: Mapping[str, Any]
    ) -> list[Diagnostic]:
        request = validate_request(await self.schema(), type_name, config)
        response = await self._client.validate_resource_type_config(request, timeout=TIMEOUT)
        return diagnostics(response.diagnostics)

    async def stop(self) -> str:
        response = await self._client.stop(tfplugin5_pb2.Stop.Request(), timeout=TIMEOUT)
        return response.Error


async def tour(provider: AsyncProvider) -> list[str]:
    lines = [
        f"resources: {sorted((await provider.schema()).resources)}",
        f"functions: {sorted(await provider.functions())}",
        f"duration_parse('1h30m') = {await provider.call_function('duration_parse', '1h30m')}",
    ]
    try:
        await provider.call_function("duration_parse", "soon")
    except FunctionError as exc:
        lines.append(f"duration_parse('soon') failed: {exc.text} (argument {exc.argument})")
    for config in ({}, {"rfc3339": "yesterday"}):
        found = await provider.validate_resource("time_static", config)
        lines.append(f"time_static {config}: {[f'{d.severity}: {d.summary}' for d in found]}")
    lines.append(f"stop: {await provider.stop() or 'ok'}")
    return lines


async def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    async with launch(Path(argv[0]), auto_mtls="--mtls" in argv) as client:
        provider = AsyncProvider(await client.dispense("provider"))
        for line in await tour(provider):
            print(line)
        announced = client.handshake_line
        tls = "AutoMTLS" if announced and announced.server_cert else "plaintext"
        print(f"protocol {client.negotiated_version} over {tls}")
    if client.returncode is None:  # attached through TF_REATTACH_PROVIDERS: not ours to stop
        print("detached; the provider keeps running")
    else:
        print(f"shut down: exit status {client.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
