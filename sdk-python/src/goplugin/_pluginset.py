"""Plugin sets are checked where they are given, on both sides, before anything runs.

A class where an instance belongs (``{"kv": KVPlugin}``), or an object that is no plugin (a
servicer, a client), would otherwise surface late: at ``dispense()`` on the host, or in the
plugin as an unbound method called with the wrong arguments once the host connects. Here it
is a :class:`~goplugin.errors.PluginSetError` naming the entry, from ``PluginClient(...)`` or
from ``serve()`` before it listens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import PluginSetError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["check_plugin_sets"]


def check_plugin_sets(sets: Mapping[int, Mapping[str, object]], *, host: bool) -> None:
    """Every entry of every version's set is a plugin object the ``host`` (or the plugin) can
    use: gRPC (``grpc_client`` / ``grpc_server``) or net/rpc (``netrpc_client`` /
    ``netrpc_server``)."""
    for version, plugins in sets.items():
        for name, plugin in plugins.items():
            where = f"plugin {name!r} (plugin set of version {version})"
            if isinstance(plugin, type):
                args = "" if host or not hasattr(plugin, "grpc_server") else "impl=..."
                raise PluginSetError(
                    f"{where} is the class {plugin.__name__}: pass an instance, "
                    f"{plugin.__name__}({args})"
                )
            grpc, netrpc = (
                ("grpc_client", "netrpc_client") if host else ("grpc_server", "netrpc_server")
            )
            if not (hasattr(plugin, grpc) or hasattr(plugin, netrpc)):
                raise PluginSetError(
                    f"{where} is a {type(plugin).__name__}, which is neither a gRPC plugin "
                    f"({grpc}, e.g. a generated ...Plugin()) nor a net/rpc one ({netrpc}, "
                    "e.g. goplugin.netrpc.Plugin)"
                )
