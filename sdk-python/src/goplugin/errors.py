"""Typed errors: every way a plugin can fail has its own class, all under :class:`PluginError`.

A host catches ``PluginError`` to survive anything a plugin does; the subclasses say what
happened and carry what is needed to act on it (exit code, the tail of the plugin's stderr).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChecksumError",
    "ClientClosedError",
    "CodegenVersionError",
    "ConnectionClosedError",
    "GoBuildError",
    "GobEncodeError",
    "GobError",
    "GobTypeError",
    "HandshakeError",
    "IncompatibleVersionError",
    "LaunchError",
    "MagicCookieError",
    "NotStartedError",
    "PluginError",
    "PluginExitedError",
    "PluginGaveUpError",
    "PluginRestartingError",
    "PluginSetError",
    "PluginUnreachableError",
    "ProcessNotFoundError",
    "ProtocolError",
    "RPCServerError",
    "RPCTimeoutError",
    "ServicerError",
    "SocketPathTooLongError",
    "StartTimeoutError",
    "TLSError",
    "UnsupportedProtocolError",
]


def _with_stderr(message: str, stderr_tail: Sequence[str]) -> str:
    if not stderr_tail:
        return message
    return message + "\n--- plugin stderr (last lines) ---\n" + "\n".join(stderr_tail)


class PluginError(Exception):
    """Base class of every error raised by goplugin.

    ``stderr_tail`` holds the last lines the plugin wrote to stderr when the error was raised
    (empty when there is no process or nothing was written); ``str()`` includes them, because
    the reason a plugin failed is usually there.
    """

    stderr_tail: tuple[str, ...] = ()

    def __str__(self) -> str:
        return _with_stderr(super().__str__(), self.stderr_tail)


class HandshakeError(PluginError):
    """The plugin's first stdout line was not a go-plugin handshake we can use."""

    def __init__(self, message: str, *, line: str | None = None, stderr_tail: Sequence[str] = ()):
        self.line = line
        self.stderr_tail = tuple(stderr_tail)
        super().__init__(message)


class IncompatibleVersionError(HandshakeError):
    """Host and plugin share no protocol version (core or app)."""

    def __init__(
        self,
        message: str,
        *,
        plugin_version: int | None = None,
        host_versions: Sequence[int] = (),
        line: str | None = None,
        stderr_tail: Sequence[str] = (),
    ):
        self.plugin_version = plugin_version
        self.host_versions = tuple(host_versions)
        super().__init__(message, line=line, stderr_tail=stderr_tail)


class UnsupportedProtocolError(HandshakeError):
    """The plugin speaks a protocol (``grpc``/``netrpc``) the host did not allow."""


class StartTimeoutError(PluginError):
    """No handshake line arrived within the start timeout; the plugin was killed."""

    def __init__(self, timeout: float, *, stderr_tail: Sequence[str] = ()):
        self.timeout = timeout
        self.stderr_tail = tuple(stderr_tail)
        super().__init__(f"timeout while waiting for plugin to start ({timeout:g} s)")


class PluginExitedError(PluginError):
    """The plugin process is gone: before the handshake, or in the middle of a call.

    ``returncode`` follows :mod:`subprocess`: negative for death by signal (``-9`` = SIGKILL).
    """

    def __init__(
        self,
        message: str,
        *,
        returncode: int | None,
        stderr_tail: Sequence[str] = (),
    ):
        self.returncode = returncode
        self.stderr_tail = tuple(stderr_tail)
        status = "unknown status" if returncode is None else _describe_returncode(returncode)
        super().__init__(f"{message} ({status})")


class MagicCookieError(PluginExitedError, HandshakeError):
    """The plugin refused the host's magic cookie and exited (go-plugin's "This binary is a
    plugin" message): host and plugin do not share a ``HandshakeConfig``.

    ``sent`` is the ``(key, value)`` the host set; ``expected`` is what the plugin expects when
    it says so (a goplugin Python plugin does; a Go plugin does not, so it is None).
    """

    def __init__(
        self,
        message: str,
        *,
        sent: tuple[str, str],
        expected: tuple[str, str] | None = None,
        returncode: int | None,
        stderr_tail: Sequence[str] = (),
    ):
        self.sent = sent
        self.expected = expected
        PluginExitedError.__init__(self, message, returncode=returncode)
        self.stderr_tail = tuple(stderr_tail)  # HandshakeError's __init__ (via super) reset it


class PluginRestartingError(PluginError):
    """A :class:`~goplugin.Supervisor` is restarting the plugin, so the call was not made.

    Raised at once under ``Supervisor(wait_for_restart=False)``, or once the call's ``timeout``
    ran out while it waited for the restart. The call never reached a plugin: it is safe to
    retry. ``restarts`` says which restart in a row is under way; ``returncode`` and
    ``stderr_tail`` describe the failure that caused it (``returncode`` is None when the plugin
    failed to start rather than exited).
    """

    def __init__(
        self,
        message: str,
        *,
        restarts: int,
        returncode: int | None = None,
        stderr_tail: Sequence[str] = (),
    ):
        self.restarts = restarts
        self.returncode = returncode
        self.stderr_tail = tuple(stderr_tail)
        super().__init__(message)


class PluginGaveUpError(PluginError):
    """A :class:`~goplugin.Supervisor` stopped restarting the plugin: it failed more times in a
    row than its :class:`~goplugin.RestartPolicy` allows, or it cannot start at all (a missing
    binary, a checksum, version or magic cookie mismatch). Every later call raises it too.

    ``restarts`` is how many restarts were tried; ``returncode`` and ``stderr_tail`` come from
    the last failure, and ``__cause__`` is that failure's own error, when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        restarts: int,
        returncode: int | None = None,
        stderr_tail: Sequence[str] = (),
    ):
        self.restarts = restarts
        self.returncode = returncode
        self.stderr_tail = tuple(stderr_tail)
        super().__init__(message)


class LaunchError(PluginError):
    """The plugin's command could not be run: no such file, not executable, a bad ``cwd``.

    ``__cause__`` is the :class:`OSError` the operating system gave.
    """


class PluginUnreachableError(PluginError):
    """The plugin announced an address (its handshake line) but does not answer there.

    Nothing listens at the address, or something listens but never completes a connection or a
    health check before the start timeout runs out. The plugin was killed.
    """


class NotStartedError(PluginError):
    """The operation needs a started plugin: call ``start()`` first (``dispense()`` and
    ``ping()`` start the plugin by themselves)."""


class ClientClosedError(PluginError):
    """This :class:`~goplugin.PluginClient` is done: ``kill()`` was called, or its ``start()``
    failed.

    Also what a call gets when ``kill()`` ends it. A client runs one plugin process once; make
    a new one to run the plugin again.
    """


class ProcessNotFoundError(PluginError):
    """Reattach found no plugin: the pid is gone or nothing listens at the address."""


class ChecksumError(PluginError):
    """The plugin binary does not match the checksum the host was told to expect."""


class TLSError(PluginError):
    """AutoMTLS failed: a certificate we were given is unusable, or a TLS handshake failed."""


class SocketPathTooLongError(PluginError):
    """A unix socket path would not fit in ``sun_path`` (107 bytes on Linux, 103 on macOS).

    Raised before anything is bound. Sockets go in a private directory under TMPDIR, else
    under XDG_RUNTIME_DIR or /tmp when TMPDIR is too long; this means none of them had room
    (or the host's PLUGIN_UNIX_SOCKET_DIR has none): use a shorter TMPDIR.
    """

    def __init__(self, path: str, limit: int):
        self.path = path
        self.limit = limit
        size = len(path.encode(errors="surrogateescape"))
        super().__init__(
            f"unix socket path {path!r} is {size} bytes, over the {limit}-byte limit of a "
            "socket address (sun_path); use a shorter TMPDIR"
        )


class ProtocolError(PluginError):
    """The peer broke the wire protocol (a malformed frame, an unexpected message)."""


class GobError(ProtocolError):
    """Received gob data could not be decoded: malformed, too large, or not of the expected type.

    The message follows Go's own wording where Go has one (``gob: ...``), because a Python
    net/rpc server sends it back to Go clients as the call's error, exactly like Go's server.
    """


class GobEncodeError(PluginError, ValueError):
    """A Python value does not fit the Go type it is to be sent as, or gob cannot send the type.

    Raised before anything is written: the stream stays usable. Also a :class:`ValueError`,
    because it is the caller's value (or type description) that is wrong, not the peer.
    """


class GobTypeError(GobEncodeError, TypeError):
    """What was given as a Go type is not one: neither a gob type descriptor nor a Python type
    that stands for one (``str``, ``bytes``, ``int``, ``float``, ``bool``, ``list``, ``dict``).

    Raised where the type is given (a descriptor's constructor, a net/rpc call's ``args_type``
    or ``reply_type``), before anything is sent. A :class:`TypeError`, as Python's own
    wrong-type errors are, and a :class:`GobEncodeError` for code that already catches those.
    """


class RPCServerError(PluginError):
    """A net/rpc call reached the other side and came back with an error string.

    Go's ``rpc.ServerError``: ``message`` is exactly what the remote method (or its net/rpc
    server, e.g. ``rpc: can't find method Plugin.Nope``) returned.
    """

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class RPCTimeoutError(PluginError, TimeoutError):
    """A net/rpc call, a ``ping()``, or a MuxBroker handshake got no answer in time.

    Also a :class:`TimeoutError`. A call that timed out may still run on the other side: Go's
    net/rpc has no cancellation, the late reply is just dropped.
    """


class ConnectionClosedError(ProtocolError):
    """A multiplexed connection or one of its streams is gone: reset, refused, or shut down.

    A subclass of :class:`ProtocolError` so that one ``except ProtocolError`` covers every way
    a net/rpc transport can fail; the message says which (reset by the peer, session closed,
    go-away, EOF in the middle of a read). ``__cause__`` carries the underlying error, if any.
    """


class GoBuildError(PluginError):
    """A Go plugin could not be built for a test (:func:`goplugin.testing.build_go_plugin`):
    Go is missing, or ``go list``/``go build`` failed; the message carries go's own output."""


class PluginSetError(PluginError, TypeError):
    """An entry of a plugin set is not a plugin object: a class where an instance belongs
    (``{"kv": KVPlugin}``), or something that is neither a gRPC nor a net/rpc plugin.

    Raised by ``PluginClient(...)`` and by ``serve()`` before anything is launched or listened
    on; the message names the entry. A :class:`TypeError`, as Python's own wrong-type errors are.
    """


class ServicerError(PluginError, TypeError):
    """A servicer cannot serve the service it is given for, found when it is registered.

    A method named as protoc names it (``def Get`` where goplugin's servicers name it ``get``),
    the wrong flavour of method (``async def`` in a sync servicer, a plain ``def`` in an asyncio
    one, a generator for a one-response rpc), a sync servicer under ``goplugin.aio.serve()`` or
    the reverse, a class where an instance belongs, or a servicer of another service. ``serve()``
    registers before it prints the handshake line, so the host sees the plugin fail to start
    with this message. A :class:`TypeError`, as Python's own wrong-type errors are.
    """


class CodegenVersionError(PluginError, ImportError):
    """A generated ``*_goplugin.py`` module was written for a contract with the runtime that
    this goplugin does not run (see ``goplugin._genruntime.CODEGEN_API``).

    Raised when the module is imported; the message says whether to regenerate it
    (``python -m goplugin.codegen ...``) or to upgrade goplugin. An :class:`ImportError`,
    because the module cannot be imported as it is.
    """


def _describe_returncode(returncode: int) -> str:
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"
