"""``goplugin check``'s net/rpc rows: the yamux session with its control, stdout and stderr
streams, then Control.Ping, Dispenser.Dispense and Control.Quit, as go-plugin's RPCClient
calls them (go-plugin v1.8.0 rpc_client.go), through our own net/rpc host client."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._host.lifecycle import Lifecycle
from .._sync.guard import CallGuard
from .._sync.rpc_client import RPCClient
from ..errors import PluginError, RPCServerError
from ..netrpc._gobtypes import BOOL, STRING, UINT32
from ..netrpc._rpc import EMPTY_STRUCT

if TYPE_CHECKING:
    from .._protocol.handshake import Handshake
    from .._transport.endpoints import TLSPair
    from .checklaunch import Launch
    from .checkreport import Report

__all__ = ["check_netrpc", "open_rpc"]

#: go-plugin's Kill(): how long a plugin has to exit after Control.Quit before SIGKILL.
KILL_GRACE = 2.0

#: Asked for when no --dispense name is given: a conforming Dispenser answers with an error.
PROBE_NAME = "goplugin-check-no-such-plugin"


def open_rpc(launch: Launch, handshake: Handshake, tls: TLSPair | None = None) -> RPCClient:
    """Our net/rpc host connection to the launch's plugin; its calls fail with goplugin's typed
    errors (PluginExitedError when the plugin died under a call), as a host's do."""
    guard = CallGuard(Lifecycle(), lambda: launch.proc)
    return RPCClient.open(
        handshake,
        socket_dir=launch.socket_dir,
        guard=guard,
        tls=tls,
        output=launch.proc.output,
    )


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_netrpc(
    report: Report,
    launch: Launch,
    handshake: Handshake,
    timeout: float,
    dispense: Sequence[str],
) -> None:
    try:
        rpc = open_rpc(launch, handshake)
    except Exception as exc:
        reason = f"cannot open the yamux session with its three streams: {_why(exc)}"
        for name in ("ping", "dispense", "quit"):
            report.failed(name, reason)
        return
    try:
        try:
            rpc.ping(timeout)
            report.passed("ping", "Control.Ping(true) answered")
        except Exception as exc:
            report.failed("ping", f"Control.Ping failed: {_why(exc)}")
        _dispense(report, rpc, timeout, dispense)
        started = time.monotonic()
        error = None
        try:
            rpc.control.call("Control.Quit", True, EMPTY_STRUCT, args_type=BOOL, timeout=KILL_GRACE)
        except PluginError as exc:
            error = _why(exc)  # a Go plugin may exit before its answer leaves
    finally:
        rpc.close(shutdown=False, timeout=1.0)
    status = launch.wait_exit(max(0.0, started + KILL_GRACE - time.monotonic()))
    elapsed = time.monotonic() - started
    if status is not None:
        report.passed("quit", f"exited {elapsed:.2f} s after Control.Quit (status {status})")
        return
    answered = f" (Control.Quit: {error})" if error else ""
    report.failed(
        "quit",
        f"still running {KILL_GRACE:g} s after Control.Quit{answered}: a Go host logs "
        "'plugin failed to exit gracefully' and kills it",
    )


def _dispense(report: Report, rpc: RPCClient, timeout: float, names: Sequence[str]) -> None:
    if names:
        done = []
        for name in names:
            try:
                client = rpc.dispense(name, None)
            except Exception as exc:
                report.failed("dispense", f"Dispense({name!r}) failed: {_why(exc)}")
                return
            client.close()
            done.append(repr(name))
        report.passed("dispense", f"dispensed {', '.join(done)} over the MuxBroker")
        return
    try:
        rpc.control.call(
            "Dispenser.Dispense", PROBE_NAME, UINT32, args_type=STRING, timeout=timeout
        )
    except RPCServerError as exc:
        if "unknown plugin type" in exc.message:
            report.passed(
                "dispense",
                f"answers {exc.message!r} for a name it lacks, like go-plugin (--dispense NAME "
                "dispenses a real one)",
            )
        else:
            report.failed(
                "dispense",
                f"Dispense of an unknown name answered {exc.message!r}, not go-plugin's "
                "'unknown plugin type: NAME'",
            )
        return
    except Exception as exc:
        report.failed("dispense", f"Dispenser.Dispense failed: {_why(exc)}")
        return
    report.failed("dispense", f"it dispensed {PROBE_NAME!r}, a name no plugin set has")
