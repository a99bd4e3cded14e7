"""Serving engines: which gRPC server runs a Python plugin's services.

``"grpcio"`` is grpcio's server (C-core HTTP/2, a thread-pool hand-off per call in ``serve()``,
grpc.aio's in ``aio.serve()``). ``"pure"`` is goplugin's own: gRPC over HTTP/2 in Python on
one asyncio loop (``_h2`` + ``_server``), TLS by the stdlib's OpenSSL (so go-plugin's P-521
AutoMTLS works directly), and no grpc import at all until a handler needs one. Both take the
same registrations, grpcio's ``RpcMethodHandler``s via ``add_registered_method_handlers`` and
``add_generic_rpc_handlers``, so generated plugins and grpcio-tools servicers run on either.

The defaults per flavour come from ``nox -s bench`` (README, "Serving engines"); an operator
overrides them with ``GOPLUGIN_ENGINE=grpcio|pure``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import PluginError

if TYPE_CHECKING:
    import socket

    from .._transport.mtls import MTLSContext

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MAX_CONCURRENT_CALLS",
    "ENGINES",
    "ENGINE_ENV",
    "AsyncPureServer",
    "PureServer",
    "ThreadedPureServer",
    "choose_engine",
    "hold_until_announced",
    "new_pure_server",
    "release_after_announce",
]

_log = logging.getLogger("goplugin.engine")

ENGINES = ("grpcio", "pure")
ENGINE_ENV = "GOPLUGIN_ENGINE"
#: Per flavour (is_async): the measured winner (bench/README.md, "Serving engines").
DEFAULT_ENGINE = {False: "pure", True: "pure"}
#: The default ``max_concurrent_calls`` of every server goplugin runs: serve()'s, brokered
#: servers (on both sides) and net/rpc's. A bound at all, so that a host opening calls without
#: end gets a fast RESOURCE_EXHAUSTED instead of a plugin that grows a thread per call until it
#: stalls; this one, because it is far above what go-plugin hosts use (a Terraform run has 10
#: operations in flight) and above the 200 open streams asyncio plugins were measured to serve,
#: while 256 idle-able threads cost the sync flavour nothing until they are needed (a pool
#: creates its threads on demand).
DEFAULT_MAX_CONCURRENT_CALLS = 256
# Calls at once when no limit is given (serve() always gives one: max_concurrent_calls).
_CAPACITY = 256


def choose_engine(requested: str | None, *, is_async: bool) -> str:
    """The engine to serve with: GOPLUGIN_ENGINE (the operator's word), else ``requested``,
    else the flavour's default."""
    engine = os.environ.get(ENGINE_ENV) or requested or DEFAULT_ENGINE[is_async]
    if engine not in ENGINES:
        raise PluginError(f"unknown serving engine {engine!r}; choose one of {ENGINES}")
    return engine


class PureServer:
    """What plugins see as the gRPC server on the pure engine: grpcio's registration calls."""

    #: The flavour of handler the generated glue should register (see _genruntime).
    is_async = False

    def __init__(self, max_concurrent_calls: int | None = None) -> None:
        self._registered: dict[str, Any] = {}
        self._generic: list[Any] = []
        self._sockets: list[tuple[socket.socket, MTLSContext | None]] = []
        # As grpcio's maximum_concurrent_rpcs: calls (open streams included) admitted at
        # once; the next is refused with RESOURCE_EXHAUSTED. Sync calls get a thread each.
        self._capacity = max_concurrent_calls or _CAPACITY

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        for name, handler in handlers.items():
            self._registered[f"/{service}/{name}"] = handler

    def add_generic_rpc_handlers(self, handlers: Iterable[Any]) -> None:
        for handler in handlers:
            if not callable(getattr(handler, "service", None)):
                raise PluginError(f"{handler!r} is not a generic RPC handler (no service())")
            self._generic.append(handler)

    def add_listening_socket(self, sock: socket.socket, tls: MTLSContext | None) -> None:
        """A bound, listening socket to serve on (``_transport.listen`` decides which)."""
        self._sockets.append((sock, tls))

    def add_insecure_port(self, address: str) -> int:
        raise PluginError(
            "the pure engine serves where goplugin's serve() listens; "
            "use engine='grpcio' to bind ports by hand"
        )

    add_secure_port = add_insecure_port

    def _router(self) -> Any:
        from ._server import Router

        return Router(self._registered, self._generic)


class AsyncPureServer(PureServer):
    """The pure engine under ``goplugin.aio.serve()``: runs on the caller's event loop."""

    is_async = True

    def __init__(self, max_concurrent_calls: int | None = None) -> None:
        super().__init__(max_concurrent_calls)
        self._engine: Any = None

    async def start(self) -> None:
        import asyncio

        from ._server import Engine

        self._engine = Engine(self._router(), asyncio.get_running_loop(), self._capacity)
        await self._engine.start(self._sockets)

    async def stop(self, grace: float | None) -> None:
        if self._engine is not None:
            await self._engine.stop(grace)


class ThreadedPureServer(PureServer):
    """The pure engine under ``goplugin.serve()``: its own loop on one thread, handlers on a
    thread pool. The main plugin server starts that thread only after the handshake line is
    out (the socket is listening already, so the host's connection waits in the backlog):
    asyncio and the engine are imported after it, not before."""

    def __init__(self, max_concurrent_calls: int | None = None) -> None:
        super().__init__(max_concurrent_calls)
        self._loop: Any = None
        self._engine: Any = None
        self._thread: threading.Thread | None = None
        self._held = False
        self._released = False  # started after the handshake: nobody waits for start()
        self._started = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> None:
        if not self._held:
            self._run_thread()
            self._wait_started()

    def _run_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="goplugin-engine", daemon=True)
        self._thread.start()

    def _wait_started(self) -> None:
        self._started.wait()
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        import asyncio

        from ._server import Engine

        loop = asyncio.new_event_loop()
        try:
            self._engine = Engine(self._router(), loop, self._capacity)
            loop.run_until_complete(self._engine.start(self._sockets))
        except BaseException as exc:
            _log.error("the pure engine failed to start: %s", exc)
            self._failure = exc
            self._started.set()
            loop.close()
            if self._released:
                # serve() printed the handshake and waits for a stop that would never come.
                import _thread

                _thread.interrupt_main()
            return
        self._loop = loop
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, grace: float | None) -> threading.Event:
        """Like grpcio's: returns an event that is set once the server stopped."""
        done = threading.Event()
        if self._thread is None:
            self._held = False
            done.set()
            return done
        self._started.wait()
        loop, engine = self._loop, self._engine
        if loop is None:
            done.set()
            return done

        async def stop() -> None:
            try:
                await engine.stop(grace)
            finally:
                loop.stop()
                done.set()

        import asyncio

        asyncio.run_coroutine_threadsafe(stop(), loop)
        return done


def hold_until_announced(server: Any) -> None:
    """Serve()'s main server: start serving only once the handshake line is out."""
    if isinstance(server, ThreadedPureServer):
        server._held = True


def release_after_announce(server: Any) -> None:
    if isinstance(server, ThreadedPureServer) and server._held:
        server._held = False
        server._released = True
        server._run_thread()


def new_pure_server(is_async: bool, max_concurrent_calls: int | None = None) -> PureServer:
    if is_async:
        return AsyncPureServer(max_concurrent_calls)
    return ThreadedPureServer(max_concurrent_calls)
