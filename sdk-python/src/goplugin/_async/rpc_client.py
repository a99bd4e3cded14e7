"""The host's net/rpc connection to a plugin (go-plugin's rpc_client.go).

Source of truth for both flavours (``_sync/rpc_client.py`` is generated). One socket to the
plugin (TLS under yamux, through a relay, with AutoMTLS), a yamux client session on it, and
the three streams go-plugin opens first: control (net/rpc: ``Control.Ping``,
``Control.Quit``, ``Dispenser.Dispense``), then the plugin's stdout and stderr, copied to
``sync_stdout``/``sync_stderr``. Dispensing asks the plugin for a broker id and dials it.

The IO is threads in both flavours (yamux and net/rpc readers); calls are futures that the
sync flavour waits on and the asyncio flavour awaits.
"""

from __future__ import annotations

import logging
import threading
from typing import IO, TYPE_CHECKING, Any

from .._transport import TLSPair, connect
from ..errors import ConnectionClosedError, PluginError, RPCTimeoutError
from ..netrpc._client import ClientConn
from ..netrpc._gobtypes import BOOL, STRING, UINT32
from ..netrpc._muxbroker import MuxBroker
from ..netrpc._rpc import EMPTY_STRUCT
from ..netrpc._server import Dispatcher
from ..netrpc._session import Session
from ._backend import ConnectionErrorTranslator, run_blocking, running_loop, wait_call

if TYPE_CHECKING:
    import concurrent.futures

    from .._handshake import Handshake
    from ..netrpc._gobtypes import GoType
    from ..netrpc._stream import Stream

__all__ = ["AsyncClient", "RPCClient"]

_log = logging.getLogger("goplugin.client")
_COPY_SIZE = 64 * 1024


class AsyncClient:
    """A net/rpc client on one stream to the plugin (Go's ``*rpc.Client``).

    ``dispense()`` returns one of these for a net/rpc plugin (or what the plugin set's
    ``netrpc_client`` makes of it). Build one yourself on a brokered stream with
    ``AsyncClient(broker.dial(service_id))``. Calls may be made from many threads or tasks at
    once; replies are matched to calls, as in Go.
    """

    __slots__ = ("_conn", "_translate")

    def __init__(
        self, stream: Stream, *, translate_error: ConnectionErrorTranslator | None = None
    ) -> None:
        self._conn = ClientConn(stream)
        self._translate = translate_error

    async def call(
        self,
        service_method: str,
        args: Any = None,
        reply_type: GoType | None = None,
        *,
        args_type: GoType | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Call ``"Service.Method"`` (``"Plugin.Greet"``) and return the decoded reply.

        ``args_type``/``reply_type`` are gob type descriptors (:mod:`goplugin.netrpc.gob`).
        Without ``args_type`` the Go type is inferred from ``args`` (str → string, int → int,
        bytes → []byte, dict → map[string]interface {}, None → a nil interface{}); without
        ``reply_type`` the reply decodes to plain Python values. Raises
        :class:`~goplugin.errors.RPCServerError` with the remote error string,
        :class:`~goplugin.errors.RPCTimeoutError` after ``timeout`` seconds, and
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
            translated = None if self._translate is None else await self._translate(exc)
            if translated is None:
                raise
            raise translated from exc

    def call_future(
        self,
        service_method: str,
        args: Any = None,
        reply_type: GoType | None = None,
        *,
        args_type: GoType | None = None,
    ) -> concurrent.futures.Future[Any]:
        """Send the call and return its future at once (many calls in flight, one thread)."""
        return self._conn.call_future(service_method, args, reply_type, args_type)

    def close(self) -> None:
        """End this client's stream; calls still waiting fail."""
        self._conn.close()

    def _join(self, timeout: float) -> None:
        self._conn.join(timeout)


class RPCClient:
    """One net/rpc connection to a plugin: session, control, stdio streams and MuxBroker."""

    def __init__(
        self,
        handshake: Handshake,
        *,
        socket_dir: str,
        translate_error: ConnectionErrorTranslator,
        tls: TLSPair | None,
        sync_stdout: IO[bytes] | None,
        sync_stderr: IO[bytes] | None,
    ) -> None:
        sock, self._undo = connect(handshake.network, handshake.address, tls, socket_dir=socket_dir)
        try:
            self._session = Session(sock, client=True)
        except BaseException:
            sock.close()
            self._cleanup()
            raise
        try:
            # go-plugin's order: the plugin takes the first three streams as these.
            control = self._session.open_stream()
            stdout = self._session.open_stream()
            stderr = self._session.open_stream()
        except BaseException:
            self._session.close()
            self._cleanup()
            raise
        self._translate = translate_error
        self._dispatcher = Dispatcher(running_loop())
        self.broker = MuxBroker(self._session, self._dispatcher)
        self.control = AsyncClient(control, translate_error=translate_error)
        self._clients: list[AsyncClient] = []
        self._copiers = [
            _start_copy(stdout, sync_stdout, "stdout"),
            _start_copy(stderr, sync_stderr, "stderr"),
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
            translated = await self._translate(exc)
            if translated is None:
                raise
            raise translated from exc
        client = AsyncClient(stream, translate_error=self._translate)
        self._clients.append(client)
        factory = getattr(plugin, "netrpc_client", None)
        return client if factory is None else factory(self.broker, client)

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
        self.control.close()
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


def _start_copy(stream: Stream, sink: IO[bytes] | None, name: str) -> threading.Thread:
    """Copy what the plugin writes to its stdout or stderr into ``sink`` (or drain it)."""

    def copy() -> None:
        target = sink
        try:
            while data := stream.read(_COPY_SIZE):
                if target is None:
                    continue
                try:
                    target.write(data)
                    target.flush()
                except (OSError, ValueError) as exc:  # keep draining: the plugin must not block
                    _log.warning("cannot copy the plugin's %s: %s", name, exc)
                    target = None
        except ConnectionClosedError:
            pass

    thread = threading.Thread(target=copy, name=f"goplugin-netrpc-{name}", daemon=True)
    thread.start()
    return thread
