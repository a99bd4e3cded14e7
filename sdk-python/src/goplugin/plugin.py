"""The plugin interfaces: what goes into a plugin set on either side (go-plugin's plugin.go).

A plugin set maps names to plugin objects, on the host (``PluginClient(plugins=...)``) and in
the plugin (``serve(plugins=...)``). A gRPC plugin object knows how to put its service on the
plugin's gRPC server and how to build a client for it on the host's channel;
``python -m goplugin.codegen`` generates one per service, so users rarely write these by hand.
A net/rpc plugin object says what to serve as ``Plugin`` and how to wrap the host's net/rpc
client; :class:`goplugin.netrpc.Plugin` is one for most uses.

Both interfaces are generic in what the host's ``dispense()`` hands out, so that
``client.dispense(plugin_object)`` has a type: a generated ``KVPlugin`` is a
``GRPCPlugin[KVClient, AsyncKVClient]`` (the client a :class:`goplugin.PluginClient` gets, then
the one a :class:`goplugin.aio.PluginClient` gets), a ``netrpc.Plugin(client=Greeter)`` a
``NetRPCPlugin[Greeter]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar, overload, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping

    import grpc
    import grpc.aio

    from ._async.broker import GRPCBroker as AsyncGRPCBroker
    from ._async.rpc_client import AsyncClient
    from ._sync.broker import GRPCBroker
    from ._sync.rpc_client import Client
    from .netrpc._muxbroker import MuxBroker

__all__ = [
    "AsyncGRPCPluginFor",
    "GRPCPlugin",
    "GRPCPluginFor",
    "NetRPCClient",
    "NetRPCPlugin",
    "PluginSet",
]

ClientT_co = TypeVar("ClientT_co", covariant=True)
AsyncClientT_co = TypeVar("AsyncClientT_co", covariant=True)
T = TypeVar("T")


@runtime_checkable
class GRPCPlugin(Protocol[ClientT_co, AsyncClientT_co]):
    """go-plugin's ``GRPCPlugin``, typed by the clients it builds: sync, then asyncio.

    The same object serves both flavours: ``server`` is the plugin's gRPC server under
    :func:`goplugin.serve` or :func:`goplugin.aio.serve` (grpcio's, or the pure engine's,
    which takes the same registrations); ``channel`` is a ``grpc.Channel`` for
    :class:`goplugin.PluginClient` and a ``grpc.aio.Channel`` for
    :class:`goplugin.aio.PluginClient`. ``broker`` is the connection's GRPCBroker of that
    flavour, for plugins that call back into the host or the other way round.
    """

    __slots__ = ()

    def grpc_server(
        self, broker: GRPCBroker | AsyncGRPCBroker, server: grpc.Server | grpc.aio.Server
    ) -> None:
        """Register this plugin's services on the plugin's gRPC server."""

    @overload
    def grpc_client(self, broker: AsyncGRPCBroker, channel: grpc.aio.Channel) -> AsyncClientT_co:
        """The object :class:`goplugin.aio.PluginClient`'s ``dispense()`` hands out."""

    @overload
    def grpc_client(self, broker: GRPCBroker, channel: grpc.Channel) -> ClientT_co:
        """The object :class:`goplugin.PluginClient`'s ``dispense()`` hands out."""


@runtime_checkable
class NetRPCPlugin(Protocol[ClientT_co]):
    """go-plugin's ``Plugin`` (net/rpc): ``Server(broker)`` and ``Client(broker, client)``.

    ``broker`` is the connection's :class:`goplugin.netrpc.MuxBroker`. In a plugin,
    ``netrpc_server`` returns the object served as ``Plugin`` (its ``@netrpc.method``
    methods); in a host, ``netrpc_client`` gets the raw client of the dispensed plugin
    (:class:`goplugin.netrpc.Client`, or :class:`goplugin.netrpc.AsyncClient` under
    :class:`goplugin.aio.PluginClient`) and returns what ``dispense()`` hands out: the type
    parameter. A plugin that hands out the raw client is a ``NetRPCPlugin[NetRPCClient]``.
    """

    def netrpc_server(self, broker: MuxBroker) -> object:
        """The object to serve for a host that dispenses this plugin."""

    def netrpc_client(self, broker: MuxBroker, client: Any) -> ClientT_co:
        """Return the object the host's ``dispense()`` hands out."""


#: A gRPC plugin whose :class:`goplugin.PluginClient` client is ``T`` (for overloads).
GRPCPluginFor = GRPCPlugin[T, Any]
#: A gRPC plugin whose :class:`goplugin.aio.PluginClient` client is ``T``.
AsyncGRPCPluginFor = GRPCPlugin[Any, T]
#: The raw net/rpc client of either flavour: what ``dispense()`` gives for a net/rpc plugin
#: that does not wrap it (``netrpc.Plugin()``); each flavour's ``dispense()`` narrows it.
NetRPCClient: TypeAlias = "Client | AsyncClient"
#: What ``PluginClient(plugins=...)`` and ``serve(plugins=...)`` take: names to plugin objects.
PluginSet: TypeAlias = "Mapping[str, GRPCPlugin[Any, Any] | NetRPCPlugin[Any]]"
