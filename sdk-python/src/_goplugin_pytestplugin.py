"""goplugin's pytest plugin (the ``pytest11`` entry point ``goplugin``): fixtures for plugin tests.

- ``goplugin_host``: a :class:`goplugin.testing.PluginHost`; every plugin a test starts with
  it (``launch``, ``launch_python``, ``serve_in_process``) is stopped when the test ends.
- ``goplugin_async_host``: its asyncio twin, where pytest-asyncio is active.
- ``goplugin_build``: :func:`goplugin.testing.build_go_plugin` (cached, pytest-xdist safe).

Every pytest run in an environment where goplugin is installed imports this module, whether
or not its tests use goplugin. So it lives outside the ``goplugin`` package (as Hypothesis's
plugin lives outside ``hypothesis``) and imports nothing of it: ``import goplugin`` does work
at import time (it defers grpc.aio and protobuf's pure-Python backend), which is for
processes that use goplugin to pay, not for every test run. The fixtures import goplugin
when a test asks for one. With plugin autoloading off, load it with ``-p goplugin``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import goplugin.testing
    import goplugin.testing.aio

__all__ = ["goplugin_build", "goplugin_host"]


@pytest.fixture
def goplugin_host() -> Iterator[goplugin.testing.PluginHost]:
    """A host that starts plugins for this test and stops all of them after it."""
    from goplugin.testing import PluginHost

    host = PluginHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture(scope="session")
def goplugin_build() -> Callable[..., Path]:
    """``goplugin_build("./cmd/my-plugin", module_dir=...)`` builds a Go plugin and returns the
    path of its binary, cached across runs per state of its sources and Go version."""
    from goplugin.testing import build_go_plugin

    return build_go_plugin


def _asyncio_fixtures() -> object:
    """The asyncio fixture, made with pytest-asyncio's decorator (which only it can provide)."""
    import pytest_asyncio

    class AsyncioFixtures:
        @pytest_asyncio.fixture
        async def goplugin_async_host(self) -> AsyncIterator[goplugin.testing.aio.PluginHost]:
            """:class:`goplugin.testing.aio.PluginHost` on this test's event loop; every plugin
            started with it is stopped after the test."""
            from goplugin.testing.aio import PluginHost

            host = PluginHost()
            try:
                yield host
            finally:
                await host.aclose()

    return AsyncioFixtures()


def pytest_configure(config: pytest.Config) -> None:
    # pytest-asyncio is imported already when it is active, and this needs nothing else.
    if config.pluginmanager.hasplugin("asyncio"):
        config.pluginmanager.register(_asyncio_fixtures(), "goplugin-asyncio")
