"""The plugin interfaces: what goes into a plugin set on either side (go-plugin's plugin.go).

A plugin set maps names to plugin objects, on the host (``PluginClient(plugins=...)``) and in
the plugin (``serve(plugins=...)``). A gRPC plugin object knows how to put its service on the
plugin's gRPC server and how to build a client for it on the host's channel; ``nox -s
codegen`` generates one per service, so users rarely write these by hand. A net/rpc plugin
object says what to serve as ``Plugin`` and how to wrap the host's net/rpc client;
:class:`goplugin.netrpc.Plugin` is one for most uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import grpc
    import grpc.aio

__all__ = ["GRPCPlugin", "NetRPCPlugin"]


@runtime_checkable
class GRPCPlugin(Protocol):
    """go-plugin's ``GRPCPlugin``.

    The same object serves both flavours: ``server`` is a ``grpc.Server`` under
    :func:`goplugin.serve` and a ``grpc.aio.Server`` under :func:`goplugin.aio.serve`;
    ``channel`` is a ``grpc.Channel`` for :class:`goplugin.PluginClient` and a
    ``grpc.aio.Channel`` for :class:`goplugin.aio.PluginClient`. ``broker`` is the
    connection's GRPCBroker, for plugins that call back into the host or the other way round.
    """

    def grpc_server(self, broker: Any, server: grpc.Server | grpc.aio.Server) -> None:
        """Register this plugin's services on the plugin's gRPC server."""

    def grpc_client(self, broker: Any, channel: grpc.Channel | grpc.aio.Channel) -> Any:
        """Return the object the host's ``dispense()`` hands out."""


@runtime_checkable
class NetRPCPlugin(Protocol):
    """go-plugin's ``Plugin`` (net/rpc): ``Server(broker)`` and ``Client(broker, client)``.

    ``broker`` is the connection's :class:`goplugin.netrpc.MuxBroker`. In a plugin,
    ``netrpc_server`` returns the object served as ``Plugin`` (its ``@netrpc.method``
    methods); in a host, ``netrpc_client`` gets the raw client of the dispensed plugin
    (:class:`goplugin.netrpc.Client`, or :class:`goplugin.netrpc.AsyncClient` under
    :class:`goplugin.aio.PluginClient`) and returns what ``dispense()`` hands out.
    """

    def netrpc_server(self, broker: Any) -> object:
        """The object to serve for a host that dispenses this plugin."""

    def netrpc_client(self, broker: Any, client: Any) -> Any:
        """Return the object the host's ``dispense()`` hands out."""
