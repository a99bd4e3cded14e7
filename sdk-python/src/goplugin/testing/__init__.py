"""Testing plugins and hosts: plugins started for a test and stopped after it, in-process
host/plugin pairs, and Go plugins built (and cached) by the test that needs them.

What goplugin.testing hands a test is what a real host gets: a started
:class:`goplugin.PluginClient`, or the object its ``dispense()`` returns.

- :func:`launch` / :func:`launch_python`: a plugin process (any binary, or a Python plugin run
  by this interpreter with this ``sys.path``), as a context manager.
- :func:`serve_in_process`: the plugin set served by ``serve()`` in this process (go-plugin's
  test mode) and a host attached to it: no subprocess, for unit tests of plugin logic, gRPC or
  net/rpc alike.
- :func:`build_go_plugin`: ``go build`` a plugin package once per source state and Go version.
- :class:`PluginHost`: all of the above, stopped together (what the pytest fixtures use).

:mod:`goplugin.testing.aio` has the same for asyncio. With pytest installed, the fixtures
``goplugin_host``, ``goplugin_build`` and (with pytest-asyncio) ``goplugin_async_host`` are
available in every test without an import (the ``pytest11`` entry point loads
``_goplugin_pytestplugin``, a module outside this package so that test runs that do not use
goplugin do not import it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .._plugin.testmode import ServeTestConfig
    from .._sync.testkit import PluginHost, launch, launch_python, serve_in_process
    from ._common import python_command
    from ._gobuild import build_go_plugin

__all__ = [
    "PluginHost",
    "ServeTestConfig",
    "build_go_plugin",
    "launch",
    "launch_python",
    "python_command",
    "serve_in_process",
]

__getattr__ = lazy_getattr(
    "goplugin",
    {
        "PluginHost": "._sync.testkit",
        "ServeTestConfig": "._plugin.testmode",
        "build_go_plugin": ".testing._gobuild",
        "launch": "._sync.testkit",
        "launch_python": "._sync.testkit",
        "python_command": ".testing._common",
        "serve_in_process": "._sync.testkit",
    },
    globals(),
)


def __dir__() -> list[str]:
    return sorted(__all__)
