"""The host's net/rpc connection to a plugin (go-plugin's rpc_client.go).

Source of truth for both flavours (``_sync/rpc_client.py`` is generated). One socket to the
plugin (TLS under yamux, through a relay, with AutoMTLS), a yamux client session on it, and
the three streams go-plugin opens first: control (net/rpc: ``Control.Ping``,
``Control.Quit``, ``Dispenser.Dispense``), then the plugin's stdout and stderr, handed to the
plugin's output (the host's log, or ``sync_stdout``/``sync_stderr``). Dispensing asks the
plugin for a broker id and dials it.

The IO is threads in both flavours (yamux and net/rpc readers); calls are futures that the
sync flavour waits on and the asyncio flavour awaits.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import TYPE_CHECKING, Any

from .._backends.aio import (
    CallFuture,
    call_future_of,
    mux_broker_view,
    run_blocking,
    run_blocking_owned,
    running_loop,
    wait_call,
)
from .._host.output import STDIO_STDERR, STDIO_STDOUT
from .._transport.channel import reraise
from .._transport.endpoints import TLSPair, connect
from .._yamux.session import Session
from ..errors import ConnectionClosedError, PluginError, RPCTimeoutError
from ..netrpc._client import ClientConn
from ..netrpc._gobtypes import BOOL, STRING, UINT32
from ..netrpc._muxbroker import MuxBroker
from ..netrpc._rpc import EMPTY_STRUCT
from ..netrpc._server import Dispatcher
from .guard import SessionJudge

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._host.output import PluginOutput
    from .._protocol.handshake import Handshake
    from .._yamux.stream import Stream
    from ..netrpc._gobtypes import GoType
    from .guard import CallGuard

__all__ = ["AsyncClient", "RPCClient"]

_log = logging.getLogger("goplugin.client")
_COPY_SIZE = 64 * 1024
# After asking a plugin to quit, how long its stdio streams may take to deliver what is left.
_DRAIN_WAIT = 0.5


class AsyncClient:
    """A net/rpc client on one stream to the plugin (Go's ``*rpc.Client``).

    ``dispense()`` returns one of these for a net/rpc plugin (or what the plugin set's
    ``netrpc_client`` makes of it). Build one yourself on a brokered stream with
    ``AsyncClient(broker.dial(service_id))``. Calls may be made from many threads or tasks at
    once; replies are matched to calls, as in Go.
    """

    __slots__ = ("_conn", "_judge")

    def __init__(self, stream: Stream, *, judge: SessionJudge | None = None) -> None:
        self._conn = ClientConn(stream)
        self._judge = judge  # the host's: what a broken connection under a call means

    async def call(
        self,
        service_method: str,
        args: Any = None,
        reply_type: GoType | type | None = None,
        *,
        args_type: GoType | type | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call ``"Service.Method"`` (``"Plugin.Greet"``) and return the decoded reply.

        ``args_type``/``reply_type`` are gob type descriptors (:mod:`goplugin.netrpc.gob`), or
        the Python builtins ``str``, ``bytes``, ``int``, ``float``, ``bool``, ``list``, ``dict``
        (a reply then takes any Go type that decodes to it: ``int`` any Go integer).
        Without ``args_type`` the Go type is inferred from ``args`` (str → string, int → int,
        bytes → []byte, dict → map[string]interface {}, None → a nil interface{}); without
        ``reply_type`` the reply decodes to plain Python values. Raises
        :class:`~goplugin.errors.RPCServerError` with the remote error string,
        :class:`~goplugin.errors.GobError` when the reply does not decode as ``reply_type``
        (that call only), :class:`~goplugin.errors.GobTypeError` (before sending) for a type
        that is neither, :class:`~goplugin.errors.RPCTimeoutError` after ``timeout`` seconds, and
        :class:`~goplugin.errors.PluginExitedError` when the plugin died under the call.
        """
        future = self._conn.call_future(service_method, args, reply_type, args_type)
        try:
            return await wait_call(future, timeout)
        except TimeoutError:
            raise RPCTimeoutError(
                f"net/rpc call {service_method} got no reply within {timeout:g} s"
            ) from None
        except ConnectionClosedError as exc:
            reraise(exc, None if self._judge is None else await self._judge.translate(exc))

    def call_future(
        self,
        service_method: str,
        args: Any = None,
        reply_type: GoType | type | None = None,
        *,
        args_type: GoType | type | None = None,
    ) -> CallFuture[Any]:
        """Send the call and return its future at once (many calls in flight, one thread).

        An ``asyncio.Future`` of the running loop under :mod:`goplugin.aio` (await it; call
        this on the loop), a ``concurrent.futures.Future`` in the sync flavour; cancelling it
        abandons the call. Its errors are those of :meth:`call`, but a plugin dying under it is
        judged when the connection breaks, without waiting: a ``ConnectionClosedError`` if the
        exit is not yet known then.
        """
        future = self._conn.call_future(service_method, args, reply_type, args_type)
        judge = self._judge
        if judge is None:
            return call_future_of(future)
        judged: concurrent.futures.Future[Any] = concurrent.futures.Future()
        judged.add_done_callback(lambda f: f.cancelled() and future.cancel())
        future.add_done_callback(lambda f: judge.settle(f, judged))
        return call_future_of(judged)

    async def close(self) -> None:
        """End this client's stream; calls still waiting fail.

        Awaitable under :mod:`goplugin.aio` like every other close; it does not wait for the
        plugin (the server ends the stream on its side)."""
        self._end_stream()

    def _end_stream(self) -> None:
        self._conn.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _join(self, timeout: float) -> None:
        self._conn.join(timeout)


class RPCClient:
    """One net/rpc connection to a plugin: session, control, stdio streams and MuxBroker."""

    @classmethod
    async def open(
        cls,
        handshake: Handshake,
        *,
        socket_dir: str,
        guard: CallGuard,
        tls: TLSPair | None,
        output: PluginOutput,
    ) -> RPCClient:
        """Connect (the blocking part: dial, TLS handshake, yamux streams) off the event loop."""
        session, undo, streams = await run_blocking_owned(
            _open_session, _close_session, handshake, tls, socket_dir
        )
        return cls(session, undo, streams, guard=guard, output=output)

    def __init__(
        self,
        session: Session,
        undo: Callable[[], None] | None,
        streams: list[Stream],
        *,
        guard: CallGuard,
        output: PluginOutput,
    ) -> None:
        self._session, self._undo = session, undo
        control, stdout, stderr = streams
        self._judge = SessionJudge(guard, session)
        self._dispatcher = Dispatcher(running_loop())
        self.broker = MuxBroker(self._session, self._dispatcher)
        self.control = AsyncClient(control, judge=self._judge)
        # Appended by dispense() (any thread, sync flavour), walked and cleared by close(): single
        # list operations, atomic. A client dispensed while closing is not joined; its stream
        # ends with the session all the same.
        self._clients: list[AsyncClient] = []
        self._copiers = [
            _start_copy(stdout, output, STDIO_STDOUT, "stdout"),
            _start_copy(stderr, output, STDIO_STDERR, "stderr"),
        ]

    async def ping(self, timeout: float) -> None:
        await self.control.call("Control.Ping", True, EMPTY_STRUCT, args_type=BOOL, timeout=timeout)

    async def dispense(self, name: str, plugin: Any) -> Any:
        """Ask the plugin to serve ``name`` on a brokered stream and connect to it.

        Unlike gRPC, the plugin decides: a name outside the host's plugin set is still asked
        for, and an unknown one fails with the plugin's "unknown plugin type" error.
        """
        service_id = await self.control.call("Dispenser.Dispense", name, UINT32, args_type=STRING)
        try:
            stream = await run_blocking(self.broker.dial, service_id)
        except ConnectionClosedError as exc:
            reraise(exc, await self._judge.translate(exc))
        client = AsyncClient(stream, judge=self._judge)
        self._clients.append(client)
        factory = getattr(plugin, "netrpc_client", None)
        if factory is None:
            return client
        return factory(mux_broker_view(self.broker), client)

    async def close(self, *, shutdown: bool, timeout: float) -> None:
        """Ask the plugin to exit if ``shutdown`` (``Control.Quit``), then hang up."""
        if shutdown:
            try:
                await self.control.call(
                    "Control.Quit", True, EMPTY_STRUCT, args_type=BOOL, timeout=timeout
                )
            except PluginError as exc:
                # A Go plugin may exit before its answer leaves; the caller waits for the exit.
                _log.debug("Control.Quit: %s", exc)
        await run_blocking(self._hang_up, timeout, shutdown)  # joins threads

    def _hang_up(self, timeout: float, drain: bool) -> None:
        if drain:  # what the plugin printed last is still on its stdio streams, which it ends
            for copier in self._copiers:
                copier.join(min(timeout, _DRAIN_WAIT))
        self.control._end_stream()
        self.broker.close()  # the session: every stream and its reader end
        self._dispatcher.close()
        for client in [self.control, *self._clients]:
            client._join(timeout)
        for copier in self._copiers:
            copier.join(timeout)
        self._clients.clear()
        self._cleanup()

    def _cleanup(self) -> None:
        undo, self._undo = self._undo, None
        if undo is not None:
            undo()


def _open_session(
    handshake: Handshake, tls: TLSPair | None, socket_dir: str
) -> tuple[Session, Callable[[], None] | None, list[Stream]]:
    sock, undo = connect(handshake.network, handshake.address, tls, socket_dir=socket_dir)
    try:
        session = Session(sock, client=True)
    except BaseException:
        sock.close()
        if undo is not None:
            undo()
        raise
    try:
        # go-plugin's order: the plugin takes the first three streams as these.
        return session, undo, [session.open_stream() for _ in range(3)]
    except BaseException:
        session.close()
        if undo is not None:
            undo()
        raise


def _close_session(opened: tuple[Session, Callable[[], None] | None, list[Stream]]) -> None:
    session, undo, _ = opened
    session.close()
    if undo is not None:
        undo()


def _start_copy(stream: Stream, output: PluginOutput, channel: int, name: str) -> threading.Thread:
    """Hand what the plugin writes to its stdout or stderr to its output (never blocking it)."""

    def copy() -> None:
        try:
            while data := stream.read(_COPY_SIZE):
                output.stdio(channel, data)
        except ConnectionClosedError:
            pass
        finally:
            output.stream_closed(channel)

    output.stream_opened()

    thread = threading.Thread(target=copy, name=f"goplugin-netrpc-{name}", daemon=True)
    thread.start()
    return thread
