"""Declaring net/rpc services in Python: ``@method`` and the ``Plugin`` of a plugin set.

Go's net/rpc serves every exported method of the right shape and takes the wire types from the
Go signature. Python has no such static types, and gob needs them (``int`` vs ``uint``,
``[]byte`` vs ``string``, struct names), so a served method says what it takes and returns with
gob type descriptors::

    class Greeter:
        @netrpc.method("Greet", args_type=gob.INTERFACE, reply_type=gob.STRING)
        def greet(self, args: None) -> str:
            return "Hello!"

    goplugin.serve(handshake=..., plugins={"greeter": netrpc.Plugin(Greeter())})

Only decorated methods are served: an object's other public methods stay private to Python.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ..errors import PluginError
from ._rpc import Method

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..plugin import NetRPCClient
    from ._gobtypes import GoType
    from ._muxbroker import MuxBroker

__all__ = ["Handler", "Plugin", "compile_service", "method"]

F = TypeVar("F", bound="Callable[..., Any]")
# Covariant: a set of several net/rpc plugins is a set of Plugin[what they have in common].
T_co = TypeVar("T_co", covariant=True)

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
    name: str | None = None,
    *,
    args_type: GoType | None = None,
    reply_type: GoType | None = None,
) -> Callable[[F], F]: ...


def method(
    name: str | Callable[..., Any] | None = None,
    *,
    args_type: GoType | None = None,
    reply_type: GoType | None = None,
    **deprecated: GoType | None,
) -> Any:
    """Serve this method over net/rpc as ``Plugin.<name>`` (default: the function's name).

    ``args_type`` is the Go type the caller sends (``None``: decode whatever arrives into plain
    Python values); ``reply_type`` the Go type of the return value (``None``: inferred from the
    value, e.g. ``str`` → ``string``): the names ``Client.call`` uses for the same two types.
    The method takes the decoded argument and returns the reply; an exception it raises becomes
    the call's error string, as a Go method's returned ``error`` does. ``async def`` methods
    are served by :func:`goplugin.aio.serve`. The old spellings ``args=``/``reply=`` still
    work, with a DeprecationWarning.
    """
    if deprecated:
        args_type, reply_type = _old_spellings(deprecated, args_type, reply_type)
    if callable(name):  # used bare: @method
        return method()(name)
    spec = _Spec(name, args_type, reply_type)

    def mark(fn: F) -> F:
        setattr(fn, _SPEC, spec)
        return fn

    return mark


def _old_spellings(
    old: dict[str, GoType | None], args_type: GoType | None, reply_type: GoType | None
) -> tuple[GoType | None, GoType | None]:
    """``method(args=, reply=)``, the names before ``args_type``/``reply_type``."""
    unknown = set(old) - {"args", "reply"}
    if unknown:
        raise TypeError(f"method() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    warnings.warn(
        "netrpc.method(args=, reply=) is now netrpc.method(args_type=, reply_type=)",
        DeprecationWarning,
        stacklevel=3,
    )
    if ("args" in old and args_type is not None) or ("reply" in old and reply_type is not None):
        raise TypeError("method() got both an old and a new spelling of one type")
    return old.get("args", args_type), old.get("reply", reply_type)


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


class Plugin(Generic[T_co]):
    """A net/rpc plugin of a plugin set, for either side (go-plugin's ``plugin.Plugin``).

    In a plugin, ``impl`` is the object served as ``Plugin`` to each host that dispenses this
    name. In a host, ``client`` wraps the raw net/rpc client of a dispensed plugin into a
    typed one (e.g. ``Plugin(client=GreeterClient)``); without it ``dispense()`` returns the
    raw client. Subclass and override :meth:`netrpc_server` / :meth:`netrpc_client` when the
    broker is needed, as Go plugins do in ``Server(broker)`` / ``Client(broker, client)``.

    ``T_co`` is what the host's ``dispense()`` hands out: ``client``'s result, or the raw client
    (``Plugin()`` is a ``Plugin[NetRPCClient]``, which each flavour's ``dispense(plugin)``
    types as its own client class).
    """

    @overload
    def __init__(self: Plugin[NetRPCClient], impl: object | None = None) -> None: ...
    @overload
    def __init__(self, impl: object | None = None, *, client: Callable[[Any], T_co]) -> None: ...
    def __init__(
        self, impl: object | None = None, *, client: Callable[[Any], T_co] | None = None
    ) -> None:
        self.impl = impl
        self._client = client

    def netrpc_server(self, broker: MuxBroker) -> object:
        """The object to serve as ``Plugin`` on a new brokered stream."""
        if self.impl is None:
            raise PluginError("this netrpc.Plugin has no implementation to serve (impl=...)")
        return self.impl

    def netrpc_client(self, broker: MuxBroker, client: Any) -> T_co:
        """What the host's ``dispense()`` returns for this plugin."""
        return client if self._client is None else self._client(client)
