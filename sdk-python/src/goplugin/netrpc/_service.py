"""Declaring net/rpc services in Python: ``@method`` and the ``Plugin`` of a plugin set.

Go's net/rpc serves every exported method of the right shape and takes the wire types from the
Go signature. Python has no such static types, and gob needs them (``int`` vs ``uint``,
``[]byte`` vs ``string``, struct names), so a served method says what it takes and returns with
gob type descriptors::

    class Greeter:
        @netrpc.method("Greet", args=gob.INTERFACE, reply=gob.STRING)
        def greet(self, args: None) -> str:
            return "Hello!"

    goplugin.serve(handshake=..., plugins={"greeter": netrpc.Plugin(Greeter())})

Only decorated methods are served: an object's other public methods stay private to Python.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ..errors import PluginError
from ._rpc import Method

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._gobtypes import GoType

__all__ = ["Handler", "Plugin", "compile_service", "method"]

F = TypeVar("F", bound="Callable[..., Any]")
T = TypeVar("T")

_SPEC = "__goplugin_netrpc__"


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str | None
    args: GoType | None
    reply: GoType | None


@dataclass(frozen=True, slots=True)
class Handler:
    """One served method: the bound callable, and whether it is a coroutine function."""

    fn: Callable[[Any], Any]
    is_async: bool
    #: Runs on the connection's reader thread (go-plugin's own quick control methods only).
    inline: bool = False


@overload
def method(name: F, /) -> F: ...


@overload
def method(
    name: str | None = None, *, args: GoType | None = None, reply: GoType | None = None
) -> Callable[[F], F]: ...


def method(
    name: str | Callable[..., Any] | None = None,
    *,
    args: GoType | None = None,
    reply: GoType | None = None,
) -> Any:
    """Serve this method over net/rpc as ``Plugin.<name>`` (default: the function's name).

    ``args`` is the Go type the caller sends (``None``: decode whatever arrives into plain
    Python values); ``reply`` the Go type of the return value (``None``: inferred from the
    value, e.g. ``str`` → ``string``). The method takes the decoded argument and returns the
    reply; an exception it raises becomes the call's error string, as a Go method's returned
    ``error`` does. ``async def`` methods are served by :func:`goplugin.aio.serve`.
    """
    if callable(name):  # used bare: @method
        return method()(name)
    spec = _Spec(name, args, reply)

    def mark(fn: F) -> F:
        setattr(fn, _SPEC, spec)
        return fn

    return mark


def compile_service(
    impl: object, service: str = "Plugin"
) -> tuple[Mapping[str, Method], dict[str, Handler]]:
    """The methods of ``impl`` marked with :func:`method`: their wire types for the codec,
    and handlers keyed by ``"Service.Method"``."""
    methods: dict[str, Method] = {}
    handlers: dict[str, Handler] = {}
    seen: set[str] = set()
    for klass in type(impl).__mro__:
        for attr, value in vars(klass).items():
            if attr in seen:
                continue  # overridden in a subclass: the subclass decides
            seen.add(attr)
            spec: _Spec | None = getattr(value, _SPEC, None)
            if spec is None:
                continue
            wire_name = spec.name or attr
            if wire_name in methods:
                raise PluginError(f"net/rpc method {service}.{wire_name} is declared twice")
            bound = getattr(impl, attr)
            methods[wire_name] = Method(spec.args, spec.reply)
            handlers[f"{service}.{wire_name}"] = Handler(bound, inspect.iscoroutinefunction(bound))
    if not methods:
        raise PluginError(
            f"{type(impl).__name__} has no net/rpc methods: mark them with @netrpc.method"
        )
    return methods, handlers


class Plugin(Generic[T]):
    """A net/rpc plugin of a plugin set, for either side (go-plugin's ``plugin.Plugin``).

    In a plugin, ``impl`` is the object served as ``Plugin`` to each host that dispenses this
    name. In a host, ``client`` wraps the raw net/rpc client of a dispensed plugin into a
    typed one (e.g. ``Plugin(client=GreeterClient)``); without it ``dispense()`` returns the
    raw client. Subclass and override :meth:`netrpc_server` / :meth:`netrpc_client` when the
    broker is needed, as Go plugins do in ``Server(broker)`` / ``Client(broker, client)``.
    """

    def __init__(
        self, impl: object | None = None, *, client: Callable[[Any], T] | None = None
    ) -> None:
        self.impl = impl
        self._client = client

    def netrpc_server(self, broker: Any) -> object:
        """The object to serve as ``Plugin`` on a new brokered stream."""
        if self.impl is None:
            raise PluginError("this netrpc.Plugin has no implementation to serve (impl=...)")
        return self.impl

    def netrpc_client(self, broker: Any, client: Any) -> T | Any:
        """What the host's ``dispense()`` returns for this plugin."""
        return client if self._client is None else self._client(client)
