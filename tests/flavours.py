"""Write a host test once for both flavours: ``await settle(client.start())`` runs either.

In the sync flavour the call has already run and ``settle`` returns its result; in the asyncio
flavour it returns an awaitable, which ``settle`` awaits. Tests are ``async def`` for both
(the sync client never touches the event loop the test runs in).
"""

from __future__ import annotations

import inspect
from typing import Any

import goplugin
import goplugin.aio

# Either flavour, driven alike through settle(): typed Any, since the two differ in await.
FLAVOURS: dict[str, Any] = {"sync": goplugin.PluginClient, "aio": goplugin.aio.PluginClient}


async def settle(value: Any) -> Any:
    """The result of a client call of either flavour."""
    if inspect.isawaitable(value):
        return await value
    return value


async def drain(stream: Any, limit: int | None = None) -> list[Any]:
    """The messages of a response stream of either flavour (at most ``limit``)."""
    messages: list[Any] = []
    if hasattr(stream, "__aiter__"):
        async for message in stream:
            messages.append(message)
            if limit is not None and len(messages) >= limit:
                break
    else:
        for message in stream:
            messages.append(message)
            if limit is not None and len(messages) >= limit:
                break
    return messages
