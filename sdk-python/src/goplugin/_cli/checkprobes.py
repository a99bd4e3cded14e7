"""``goplugin check``'s rows about starting: the cookie, the handshake line, stray stdout and
version negotiation. Each compares what the plugin did with what go-plugin's own
``plugin.Serve`` does and what its ``plugin.Client`` accepts (go-plugin v1.8.0, server.go and
client.go), and says in the reason what a Go host would make of a difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._transport.sockets import connect
from .checklaunch import Launch, Started, by_hand_environment

if TYPE_CHECKING:
    from .._protocol.handshake import Handshake, HandshakeConfig
    from .checkreport import Report

__all__ = [
    "NOT_A_PLUGIN_FIRST_LINE",
    "check_cookie",
    "check_handshake_line",
    "check_negotiation",
    "describe_no_handshake",
]

#: The first line of go-plugin's refusal without the cookie (server.go), word for word.
NOT_A_PLUGIN_FIRST_LINE = "This binary is a plugin. These are not meant to be executed directly."
# Go parses the certificate field only when it is longer than this (client.go).
_CERT_FIELD_MIN_LEN = 50


def _quote(line: str, limit: int = 80) -> str:
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def _stderr_hint(launch: Launch) -> str:
    tail = launch.stderr_tail()
    return f"; its stderr ends: {_quote(tail[-1])}" if tail else ""


def describe_no_handshake(started: Started, launch: Launch, timeout: float, cookie: str) -> str:
    """Why the main launch gave nothing to check: the one row of a binary that is no plugin."""
    tail = launch.stderr_tail()
    if any(NOT_A_PLUGIN_FIRST_LINE in line for line in tail):
        return (
            f"it refused to run although it was given {cookie}: is that its magic cookie? "
            f"(go-plugin's {NOT_A_PLUGIN_FIRST_LINE!r})"
        )
    printed = f"; its stdout began {_quote(started.lines[0])}" if started.lines else ""
    if started.timed_out:
        return (
            f"no handshake line within {timeout:g} s: it hangs or is not a go-plugin plugin"
            f"{printed}{_stderr_hint(launch)}"
        )
    return (
        f"exited with status {started.returncode} without printing a handshake line: not a "
        f"go-plugin plugin{printed}{_stderr_hint(launch)}"
    )


def check_handshake_line(
    report: Report, started: Started, launch: Launch, *, timeout: float
) -> Handshake | None:
    """The ``handshake`` and ``stdout`` rows; returns the handshake when the plugin can be
    connected to."""
    handshake = started.handshake
    if handshake is None:
        assert started.error is not None
        bad = started.error.line or ""
        report.failed(
            "handshake",
            f"{_quote(bad)}: {str(started.error).splitlines()[0]} (a Go host refuses this line)",
        )
        if started.stray:
            report.failed("stdout", _stray_reason(started.stray))
        else:
            report.skipped("stdout", "no valid handshake line to look before")
        return None
    assert started.index is not None
    line = started.lines[started.index].strip()
    report.handshake_line = line
    problem = _grammar_problem(line, handshake)
    if problem is None:
        problem = _unreachable(handshake, timeout)
    fields = line.count("|") + 1
    if problem is not None:
        report.failed("handshake", f"{_quote(line)}: {problem}")
    else:
        report.passed(
            "handshake",
            f"{_quote(line, 100)} ({fields} fields; {handshake.protocol.value} on "
            f"{handshake.network}, accepting connections)",
        )
    if started.stray:
        report.failed("stdout", _stray_reason(started.stray))
    else:
        report.passed("stdout", "the handshake is the first line")
    return handshake if problem is None else None


def _stray_reason(stray: Sequence[str]) -> str:
    count = f"{len(stray)} line{'s' if len(stray) != 1 else ''}"
    return (
        f"printed {count} before the handshake, first {_quote(stray[0])}: go-plugin hosts read "
        "only the first line and fail with 'Unrecognized remote plugin message'"
    )


def _grammar_problem(line: str, handshake: Handshake) -> str | None:
    """What parse_handshake lets through (it accepts whatever a Go host accepts) but a Go
    host, or an older one, would still trip over."""
    fields = line.split("|")
    if len(fields) > 7:
        return f"{len(fields)} fields; go-plugin's line has at most 7"
    if len(fields) == 7:
        return (
            f"a 7th field ({fields[6]!r}) although the host did not set PLUGIN_MULTIPLEX_GRPC: "
            "go-plugin adds it only then, since hosts before v1.6 take it for part of the "
            "certificate"
        )
    if len(fields) == 6 and fields[5] and len(fields[5]) <= _CERT_FIELD_MIN_LEN:
        return (
            f"a certificate field of {len(fields[5])} characters, which Go hosts ignore (they "
            f"read it only when longer than {_CERT_FIELD_MIN_LEN}): leave it empty without TLS"
        )
    if handshake.server_cert is not None:
        return (
            "it announced a TLS certificate although the host did not send PLUGIN_CLIENT_CERT; "
            "a Go host without AutoMTLS has no TLS configured for it"
        )
    return None


def _unreachable(handshake: Handshake, timeout: float) -> str | None:
    try:
        connect(handshake.network, handshake.address, min(timeout, 5.0)).close()
    except OSError as exc:
        return (
            f"nothing accepts connections at {handshake.network}:{handshake.address} "
            f"({exc.strerror or exc})"
        )
    return None


def check_cookie(report: Report, argv: Sequence[str], cookie_key: str, timeout: float) -> None:
    """Run by hand (no cookie, none of a host's variables), a go-plugin plugin prints its
    refusal to stderr and exits with status 1 at once."""
    with Launch(argv, by_hand_environment(cookie_key)) as launch:
        started = launch.wait_handshake(timeout)
        if started.handshake is not None:
            line = started.lines[started.index or 0]
            report.failed("cookie", f"it served without the magic cookie (printed {_quote(line)})")
            return
        if started.timed_out:
            report.failed(
                "cookie",
                f"still running {timeout:g} s after a start without the magic cookie; "
                "go-plugin exits at once with status 1",
            )
            return
        tail = launch.stderr_tail()
        message = any(NOT_A_PLUGIN_FIRST_LINE in line for line in tail)
        status = started.returncode
        if status == 1 and message:
            report.passed("cookie", f"exit status 1 and go-plugin's message: {_quote(tail[0])}")
            return
        problems = []
        if status != 1:
            problems.append(f"exit status {status}, where go-plugin exits with 1")
        if not message:
            said = f" (it said {_quote(tail[-1])})" if tail else " (its stderr is empty)"
            problems.append(f"no {NOT_A_PLUGIN_FIRST_LINE!r} on stderr{said}")
        report.failed("cookie", "; ".join(problems))


def check_negotiation(
    report: Report,
    argv: Sequence[str],
    handshake: HandshakeConfig,
    versions: Sequence[int],
    chosen: int,
    timeout: float,
) -> None:
    """The plugin picks one of the versions the host offers, and when it has none of them it
    still announces a line, with its lowest version, so the host can report the mismatch."""
    offered = sorted(set(versions))
    if chosen not in offered:
        report.failed(
            "negotiation",
            f"offered {offered}, it announced version {chosen}: a Go host offering these "
            "refuses it (Incompatible API version); give its versions with --version",
        )
        return
    unknown = max(offered) + 1000
    with Launch.as_host(argv, handshake, [unknown]) as launch:
        started = launch.wait_handshake(timeout)
    what = f"offered only version {unknown}"
    if started.handshake is None:
        if started.timed_out:
            outcome = f"no handshake line within {timeout:g} s"
        else:
            outcome = f"it exited (status {started.returncode}) without a handshake line"
        report.failed(
            "negotiation",
            f"{what}, {outcome}; go-plugin plugins announce their lowest version and leave "
            "the refusal to the host, which then names both version lists (here a Go host "
            "says only 'plugin exited before we could connect')",
        )
        return
    lowest = started.handshake.app_version
    if lowest == unknown:
        report.failed(
            "negotiation",
            f"{what}, it announced {unknown}: a plugin announces a version it implements, "
            "its lowest when it has none of the host's",
        )
    elif lowest > chosen:
        report.failed(
            "negotiation",
            f"{what}, it announced {lowest}, higher than the {chosen} it chose from "
            f"{offered}: not its lowest version",
        )
    else:
        report.passed(
            "negotiation",
            f"offered {offered}: announced {chosen}; {what}: still announced its lowest, "
            f"{lowest}, as go-plugin does",
        )
