"""The asyncio flavour of :mod:`goplugin.testing`: the same helpers as async context managers
(``async with launch(...)``), yielding :class:`goplugin.aio.PluginClient` objects and their
asyncio clients. In-process pairs serve with :func:`goplugin.aio.serve` on the running loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .._async.testkit import PluginHost, launch, launch_python, serve_in_process

__all__ = ["PluginHost", "launch", "launch_python", "serve_in_process"]

__getattr__ = lazy_getattr(
    "goplugin",
    {name: "._async.testkit" for name in __all__},
    globals(),
)


def __dir__() -> list[str]:
    return sorted(__all__)
