"""Typed errors: every way a plugin can fail has its own class, all under :class:`PluginError`.

A host catches ``PluginError`` to survive anything a plugin does; the subclasses say what
happened and carry what is needed to act on it (exit code, the tail of the plugin's stderr).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ChecksumError",
    "ConnectionClosedError",
    "GobEncodeError",
    "GobError",
    "HandshakeError",
    "IncompatibleVersionError",
    "PluginError",
    "PluginExitedError",
    "ProcessNotFoundError",
    "ProtocolError",
    "RPCServerError",
    "RPCTimeoutError",
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


class ProcessNotFoundError(PluginError):
    """Reattach found no plugin: the pid is gone or nothing listens at the address."""


class ChecksumError(PluginError):
    """The plugin binary does not match the checksum the host was told to expect."""


class TLSError(PluginError):
    """AutoMTLS failed: a certificate we were given is unusable, or a TLS handshake failed."""


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


class RPCServerError(PluginError):
    """A net/rpc call reached the other side and came back with an error string.

    Go's ``rpc.ServerError``: ``message`` is exactly what the remote method (or its net/rpc
    server, e.g. ``rpc: can't find method Plugin.Nope``) returned.
    """

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class RPCTimeoutError(PluginError, TimeoutError):
    """A net/rpc call, or a MuxBroker handshake, got no answer in time.

    Also a :class:`TimeoutError`. A call that timed out may still run on the other side: Go's
    net/rpc has no cancellation, the late reply is just dropped.
    """


class ConnectionClosedError(ProtocolError):
    """A multiplexed connection or one of its streams is gone: reset, refused, or shut down.

    A subclass of :class:`ProtocolError` so that one ``except ProtocolError`` covers every way
    a net/rpc transport can fail; the message says which (reset by the peer, session closed,
    go-away, EOF in the middle of a read). ``__cause__`` carries the underlying error, if any.
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
