"""Is a servicer fit to serve its service? Asked once, when a generated plugin registers it.

The mistakes checked here never raise by themselves: a method named as protoc names it
(``def Get``) is simply not registered, so callers get UNIMPLEMENTED for ever; an ``async def``
in a sync servicer hands the engine a coroutine on every call; a class where an instance
belongs, or a servicer of another service, fails call by call or not at all. ``serve()``
registers before it prints the handshake line, so a :class:`ServicerError` from here is a start
failure the host reports with its message. Pure: it looks at classes and code flags, imports
nothing (not even ``inspect``: every plugin launch pays its imports), and adds nothing per call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import PluginError, ServicerError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["check_servicer"]

# Code flags, as inspect reads them.
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ITERABLE_COROUTINE = 0x100
_CO_ASYNC_GENERATOR = 0x200

#: What the generated servicers and clients hold besides their rpcs; an rpc of such a name is
#: served by ``<name>_`` (the generator's rule, goplugin.codegen._python).
RESERVED = {"broker": "the servicer's GRPCBroker", "channel": "reserved for the channel"}

_ONE_RESPONSE = ("unary_unary", "stream_unary")


def check_servicer(
    plugin: object,
    impl: object,
    *,
    service: str,
    servicers: tuple[type[Any], type[Any]],
    methods: Sequence[tuple[str, str, str, Any, Any]],
    serves_async: bool,
) -> type[Any]:
    """The base class ``impl`` serves by (the sync or the asyncio servicer), or the error.

    ``methods`` are the generated table's rows (attribute, rpc name, kind, ...); ``serves_async``
    says whether the server runs ``goplugin.aio.serve()``'s handlers.
    """
    sync_base, async_base = servicers
    plugin_name = type(plugin).__name__
    if impl is None:
        raise PluginError(f"{plugin_name}(impl=...) is needed to serve {service}")
    if isinstance(impl, type):
        raise ServicerError(
            f"{plugin_name}(impl={impl.__name__}) was given the class {impl.__name__}: "
            f"pass an instance, {plugin_name}(impl={impl.__name__}())"
        )
    cls = type(impl)
    if isinstance(impl, async_base):
        base: type[Any] = async_base
    elif isinstance(impl, sync_base):
        base = sync_base
    else:
        bases = ", ".join(b.__name__ for b in cls.__mro__[1:-1])
        hint = ""
        if any(b.__module__.endswith("_pb2_grpc") for b in cls.__mro__):
            hint = " (grpcio-tools' servicers are not goplugin's: subclass the generated one)"
        raise ServicerError(
            f"{plugin_name} serves {service}: its impl must be a {sync_base.__name__} (under "
            f"goplugin.serve()) or an {async_base.__name__} (under goplugin.aio.serve()) of "
            f"{sync_base.__module__}, not a {cls.__name__}"
            + (f" (a {bases})" if bases else "")
            + hint
        )
    is_async = base is async_base
    if is_async and not serves_async:
        raise ServicerError(
            f"{cls.__name__} is an {async_base.__name__}, which needs goplugin.aio.serve(): "
            f"under goplugin.serve() subclass {sync_base.__name__} (plain def methods)"
        )
    if serves_async and not is_async:
        raise ServicerError(
            f"{cls.__name__} is a {sync_base.__name__}, which goplugin.serve() serves: under "
            f"goplugin.aio.serve() subclass {async_base.__name__} (async def methods)"
        )
    for attr, rpc, kind, _, _ in methods:
        overridden = getattr(cls, attr, None) is not getattr(base, attr)
        if not overridden:
            _check_misnamed(cls, base, attr, f"{service}/{rpc}")
            continue
        fn = getattr(impl, attr, None)
        if fn is not None:
            _check_shape(cls, base, attr, kind, fn, is_async)
    return base


def _check_misnamed(cls: type[Any], base: type[Any], attr: str, rpc: str) -> None:
    """A method that would serve ``rpc`` under another name: protoc's (``Get``), or the name
    a reserved attribute or keyword took its underscore from (``broker`` for ``broker_``)."""
    for other in (rpc.rsplit("/", 1)[1], attr[:-1] if attr.endswith("_") else ""):
        if other in ("", attr) or not callable(getattr(cls, other, None)):
            continue
        if hasattr(base, other):
            continue
        if other in RESERVED:
            why = f"{other} is {RESERVED[other]}"
        else:
            why = "goplugin's servicers name rpcs in snake_case, protoc's in PascalCase"
        raise ServicerError(
            f"{cls.__name__}.{other} would never be called: rpc {rpc} is served by {attr}() "
            f"({why}); rename {other} to {attr}"
        )


def _check_shape(
    cls: type[Any], base: type[Any], attr: str, kind: str, fn: Any, is_async: bool
) -> None:
    shape = _shape(fn)
    if shape is None:
        return  # a callable we cannot see into: the engine will find out
    name = f"{cls.__name__}.{attr}"
    one_response = kind in _ONE_RESPONSE
    if not is_async:
        if shape in ("coroutine", "async generator"):
            raise ServicerError(
                f"{name} is an async def in {base.__name__}, which goplugin.serve() calls "
                f"on threads: make it a plain def, or serve an Async{base.__name__} with "
                "goplugin.aio.serve()"
            )
        if one_response and shape == "generator":
            raise ServicerError(f"{name} yields, but its rpc returns one response: return it")
        return
    if shape in ("function", "generator"):
        kind_of_def = "async def (an async generator)" if not one_response else "async def"
        raise ServicerError(
            f"{name} is a plain def in {base.__name__}, whose methods goplugin.aio.serve() "
            f"awaits on its event loop: make it an {kind_of_def}"
        )
    if one_response and shape == "async generator":
        raise ServicerError(f"{name} yields, but its rpc returns one response: return it")


def _shape(fn: Any) -> str | None:
    """ "coroutine", "async generator", "generator" or "function" (as inspect would say, for
    bound methods, partials and callable objects alike); None for what has no Python code."""
    while True:
        inner = getattr(fn, "__func__", None) or getattr(fn, "func", None)
        if inner is None:
            break
        fn = inner
    if getattr(fn, "_is_coroutine_marker", None) is not None:  # inspect.markcoroutinefunction
        return "coroutine"
    code = getattr(fn, "__code__", None)
    if code is None:
        call = next(
            (k.__dict__["__call__"] for k in type(fn).__mro__ if "__call__" in k.__dict__), None
        )
        code = getattr(call, "__code__", None)
        if code is None:
            return None
    flags = code.co_flags
    if flags & _CO_ASYNC_GENERATOR:
        return "async generator"
    if flags & (_CO_COROUTINE | _CO_ITERABLE_COROUTINE):
        return "coroutine"
    if flags & _CO_GENERATOR:
        return "generator"
    return "function"
