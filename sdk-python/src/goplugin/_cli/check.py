"""``python -m goplugin check PLUGIN [ARGS...] --cookie KEY=VALUE``: does this plugin binary do
what go-plugin hosts require of a plugin?

The plugin is started the way a go-plugin host starts it, several times: with the cookie and
the offered versions (the handshake line, stray stdout, then the internal services over the
connection, and the shutdown), without the cookie (the refusal), offered only a version it
cannot have (negotiation), and with a P-521 client certificate (AutoMTLS). Each requirement is
a row: pass, fail with the reason (and what a Go host would do about it), or skipped when it
does not apply. The exit status is 1 if any row failed.

A command that gives nothing to check (it cannot be executed, hangs, or prints no handshake
line) is reported in one row, within ``--timeout``; every process started is gone before
``check`` returns.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .._protocol.handshake import HandshakeConfig, Protocol
from . import add_plugin_arguments
from .checklaunch import Launch
from .checkmtls import check_automtls
from .checkprobes import (
    check_cookie,
    check_handshake_line,
    check_negotiation,
    describe_no_handshake,
)
from .checkreport import Report

__all__ = ["add_arguments", "check", "run"]

_GRPC_ROWS = ("health", "stdio", "reflection", "shutdown")
_NETRPC_ROWS = ("ping", "dispense", "quit")


def add_arguments(
    parser: argparse.ArgumentParser, cookie: Callable[[str], tuple[str, str]]
) -> None:
    add_plugin_arguments(parser, cookie)
    parser.add_argument(
        "--dispense",
        action="append",
        default=[],
        metavar="NAME",
        help="net/rpc: a plugin name to dispense (repeatable; default: probe with a name the "
        "plugin lacks)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds each step may take: the handshake, an exit, a call (default 10)",
    )


def run(options: argparse.Namespace) -> int:
    # The report says what went wrong; goplugin's own log lines (a broken broker stream, a
    # refused TLS connection) would only repeat it, unformatted, on stderr.
    logging.getLogger("goplugin").addHandler(logging.NullHandler())
    key, value = options.cookie
    report = check(
        [options.plugin, *options.args],
        HandshakeConfig(1, key, value),
        options.versions or [1],
        timeout=options.timeout,
        dispense=options.dispense,
    )
    print(report.to_json() if options.json else report.to_table())
    return 0 if report.ok else 1


def check(
    argv: Sequence[str],
    handshake: HandshakeConfig,
    versions: Sequence[int],
    *,
    timeout: float = 10.0,
    dispense: Sequence[str] = (),
) -> Report:
    """Check the plugin ``argv``; ``handshake`` carries its cookie (its version is unused)."""
    report = Report(list(argv))
    cookie = f"{handshake.magic_cookie_key}={handshake.magic_cookie_value}"
    try:
        main = Launch.as_host(argv, handshake, versions)
    except OSError as exc:
        report.failed("launch", f"cannot execute {argv[0]}: {exc.strerror or exc}")
        return report
    with main:
        started = main.wait_handshake(timeout)
        if started.handshake is None and started.error is None:
            report.failed("launch", describe_no_handshake(started, main, timeout, cookie))
            return report
        connectable = check_handshake_line(report, started, main, timeout=timeout)
        announced = started.handshake
        if announced is not None:
            report.protocol = announced.protocol.value
        if connectable is None:
            report.skip_all((*_GRPC_ROWS, *_NETRPC_ROWS), "no usable handshake line")
        elif connectable.protocol is Protocol.GRPC:
            from .checkgrpc import check_grpc  # grpc only for what needs it: bad input is fast

            check_grpc(report, main, connectable, timeout)
            report.skip_all(_NETRPC_ROWS, "not applicable: the plugin speaks gRPC")
        else:
            from .checknetrpc import check_netrpc

            check_netrpc(report, main, connectable, timeout, dispense)
            report.skip_all(_GRPC_ROWS, "not applicable: the plugin speaks net/rpc")
    # The other launches are independent of each other: run them side by side.
    probes: dict[str, Callable[[], None]] = {
        "cookie": lambda: check_cookie(report, argv, handshake.magic_cookie_key, timeout)
    }
    if announced is not None:
        chosen = announced.app_version
        probes["negotiation"] = lambda: check_negotiation(
            report, argv, handshake, versions, chosen, timeout
        )
        probes["automtls"] = lambda: check_automtls(report, argv, handshake, versions, timeout)
    else:
        report.skip_all(("negotiation", "automtls"), "no valid handshake line")
    with ThreadPoolExecutor(len(probes), thread_name_prefix="goplugin-check") as pool:
        for future in [pool.submit(_guarded, report, *probe) for probe in probes.items()]:
            future.result()
    return report


def _guarded(report: Report, name: str, probe: Callable[[], None]) -> None:
    """A probe that breaks is its row failed, not a crashed check."""
    try:
        probe()
    except Exception as exc:
        report.failed(name, f"the check itself failed: {type(exc).__name__}: {exc}")
