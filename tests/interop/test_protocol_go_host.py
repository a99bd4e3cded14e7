"""What a go-plugin v1.8.0 host makes of a plugin's output, asked of go-plugin itself.

``examples-go/testprogs/protoprobe`` runs go-plugin's own ``Client`` against a fake plugin that
writes exactly the bytes a case gives, and reports ``Start()``'s verdict, the environment the
host gave the plugin, and the lines the host logged on the plugin's behalf. The same inputs go
through our host's sans-IO rules; the verdicts must agree, case by case. Where we knowingly
differ, the case says so and why (docs/protocol.md lists those differences too).

These tests are the ones docs/protocol.md links for the handshake grammar, the launch
environment and the stderr log protocol.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import EXAMPLE_HANDSHAKE
from gobuild import go_program

import goplugin
from goplugin._async.launch import _pin_plugin
from goplugin._protocol.handshake import (
    HandshakeConfig,
    Protocol,
    check_handshake,
    host_environment,
    parse_handshake,
)
from goplugin._protocol.hclog import TRACE, StderrLineParser
from goplugin._transport.mtls import generate_identity
from goplugin.errors import (
    HandshakeError,
    IncompatibleVersionError,
    PluginError,
    TLSError,
    UnsupportedProtocolError,
)

PROBE_HANDSHAKE = HandshakeConfig(1, "PROBE_COOKIE", "probe")

# Host configurations of the cases: what the Go host is given, and what our host is given.
BOTH = ["netrpc", "grpc"]
CONFIGS: dict[str, dict[str, Any]] = {
    "both": {"versions": [1, 3], "allowed": BOTH},
    "netrpc-default": {"versions": [1], "allowed": None},  # go-plugin's default: net/rpc only
    "mux": {"versions": [1], "allowed": BOTH, "mux": True},
    "mtls": {"versions": [1], "allowed": BOTH, "automtls": True},
}

_IDENTITY = generate_identity("P-521")  # the kind of certificate a Go plugin announces
CERT_FIELD = base64.b64encode(_IDENTITY.cert_der).decode().rstrip("=")
# The same bytes (give or take trailing zeros) in padded base64, which Go refuses.
CERT_PADDED = next(
    text
    for k in range(3)
    if (text := base64.b64encode(_IDENTITY.cert_der + b"\0" * k).decode()).endswith("=")
)
NOT_A_CERT = base64.b64encode(b"\x30\x03\x02\x01\x01" * 20).decode().rstrip("=")


@dataclass
class Line:
    """One handshake case: what the plugin writes on stdout, under which host configuration.

    ``error``: the exception class our host raises and a piece of go-plugin's message, or None
    when both accept. ``ours`` records a deliberate difference: our verdict when it differs
    from Go's, with the reason in ``why``.
    """

    stdout: str
    config: str = "both"
    error: tuple[type[Exception], str] | None = None
    ours: type[Exception] | None = None
    why: str = ""
    go_panics: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


LINES: list[Line] = [
    # The grammar: six fields from a Go plugin (the cert field empty without TLS), five or four
    # from others; the protocol defaults to net/rpc only when the field is absent.
    Line("1|1|unix|/tmp/plugin1|grpc|\n", fields={"protocol": "grpc", "version": 1}),
    Line("1|3|unix|/tmp/plugin1|netrpc|\n", fields={"protocol": "netrpc", "version": 3}),
    Line("1|1|tcp|127.0.0.1:1234|grpc\n", fields={"network": "tcp", "address": "127.0.0.1:1234"}),
    Line("1|1|unix|/tmp/plugin1\n", fields={"protocol": "netrpc"}),
    Line("1|1|unix|/tmp/plugin1||\n", error=(UnsupportedProtocolError, 'protocol ""')),
    Line("1|1|unix\n", error=(HandshakeError, "Unrecognized remote plugin message")),
    Line("\n1|1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "Unrecognized remote")),
    Line("hello\n1|1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "Unrecognized remote")),
    Line("1|1|unix|/tmp/plugin1|grpc|\nmore output\n2|9|x\n", fields={"version": 1}),
    # Whitespace around the line goes (TrimSpace, and the scanner drops "\r"), inside a field
    # it is an error: integers are Go's strconv.Atoi.
    Line("  1|1|unix|/tmp/plugin1|grpc|  \r\n", fields={"protocol": "grpc"}),
    Line("1 |1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "core protocol version")),
    Line("1| 1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "protocol version")),
    Line("+1|+1|unix|/tmp/plugin1|grpc|\n", fields={"version": 1}),
    Line("01|003|unix|/tmp/plugin1|grpc|\n", fields={"version": 3}),
    Line("1|0_1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "protocol version")),
    Line("x|1|unix|/tmp/plugin1|grpc|\n", error=(HandshakeError, "core protocol version")),
    Line("2|1|unix|/tmp/plugin1|grpc|\n", error=(IncompatibleVersionError, "core API version")),
    Line("1|2|unix|/tmp/plugin1|grpc|\n", error=(IncompatibleVersionError, "API version")),
    Line("1|1|udp|/tmp/plugin1|grpc|\n", error=(HandshakeError, "unknown address type")),
    Line("1|1|tcp|127.0.0.1:notaport|grpc|\n", error=(HandshakeError, "port")),
    Line("1|1|tcp|127.0.0.1|grpc|\n", error=(HandshakeError, "missing port")),
    Line("1|1|tcp|:1234|grpc|\n", fields={"address": ":1234"}),
    Line(
        "1|1|tcp|127.0.0.1:http|grpc|\n",
        ours=HandshakeError,
        why="Go looks a port up as a service name; we take numbers, which is what plugins send",
    ),
    Line(
        "1|1|unix||grpc|\n",
        ours=HandshakeError,
        why="Go accepts an empty socket path and fails when it dials; we refuse it at once",
    ),
    Line("1|1|unix|/tmp/plugin1|GRPC|\n", error=(UnsupportedProtocolError, "GRPC")),
    Line("1|1|unix|/tmp/plugin1|grpc|\n", "netrpc-default", (UnsupportedProtocolError, "grpc")),
    Line("1|1|unix|/tmp/plugin1|netrpc|\n", "netrpc-default", fields={"protocol": "netrpc"}),
    Line("1|1|unix|/tmp/plugin1\n", "netrpc-default", fields={"protocol": "netrpc"}),
    # Extra fields are ignored; the 7th is read only when the host asked for multiplexing and
    # the plugin speaks gRPC.
    Line("1|1|unix|/tmp/plugin1|grpc||garbage\n", fields={"protocol": "grpc"}),
    Line("1|1|unix|/tmp/plugin1|grpc||true|x|y\n", fields={"protocol": "grpc"}),
    Line("1|1|unix|/tmp/plugin1|grpc||true\n", "mux", fields={"protocol": "grpc"}),
    Line("1|1|unix|/tmp/plugin1|grpc||1\n", "mux", fields={"protocol": "grpc"}),
    Line("1|1|unix|/tmp/plugin1|grpc|\n", "mux", (HandshakeError, "does not support")),
    Line("1|1|unix|/tmp/plugin1|grpc||false\n", "mux", (HandshakeError, "does not support")),
    Line("1|1|unix|/tmp/plugin1|grpc||yes\n", "mux", (HandshakeError, "as a boolean")),
    Line("1|1|unix|/tmp/plugin1|netrpc|\n", "mux", fields={"protocol": "netrpc"}),
    # The certificate field: read only when longer than 50 characters; then it must be
    # unpadded standard base64 of one DER certificate.
    Line("1|1|unix|/tmp/plugin1|grpc|c2hvcnQ\n", fields={"protocol": "grpc"}),
    Line(f"1|1|unix|/tmp/plugin1|grpc|{CERT_FIELD}\n", "mtls", fields={"protocol": "grpc"}),
    Line(f"1|1|unix|/tmp/plugin1|grpc|{CERT_PADDED}\n", "mtls", (HandshakeError, "illegal base64")),
    Line(f"1|1|unix|/tmp/plugin1|grpc|{'!' * 60}\n", "mtls", (HandshakeError, "illegal base64")),
    Line(f"1|1|unix|/tmp/plugin1|grpc|{NOT_A_CERT}\n", "mtls", (HandshakeError, "x509")),
    Line(
        f"1|1|unix|/tmp/plugin1|grpc|{CERT_FIELD}\n",
        go_panics=True,
        ours=TLSError,
        why="a Go host without AutoMTLS dereferences its nil TLS config and crashes",
    ),
    Line(
        "1|1|unix|/tmp/plugin1|grpc|\n",
        "mtls",
        ours=TLSError,
        why="a Go host then dials TLS trusting the system roots and fails; we refuse at once",
    ),
]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _probe(
    cases: Sequence[dict[str, Any]], env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    probe = go_program("./testprogs/protoprobe")
    done = subprocess.run(
        [str(probe), "host"],
        env={**os.environ, **(env or {})},
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(cases), done.stderr
    return results


def _our_host(stdout: str, config: dict[str, Any]) -> dict[str, Any]:
    """Our host's reading of a plugin's first stdout line (PluginClient.start, minus IO)."""
    line = stdout.split("\n", 1)[0].rstrip("\r")  # the watcher's line splitting
    handshake = parse_handshake(line)
    allowed = config["allowed"] or ["netrpc"]
    check_handshake(
        handshake,
        host_versions=config["versions"],
        allowed_protocols=[Protocol(p) for p in allowed],
        multiplex_requested=config.get("mux", False),
    )
    _pin_plugin(_IDENTITY if config.get("automtls") else None, handshake)
    return {
        "protocol": handshake.protocol.value,
        "version": handshake.app_version,
        "network": handshake.network,
        "address": handshake.address,
    }


def _verdicts(case: Line, go: dict[str, Any]) -> list[str]:
    """What is wrong with one case (empty when Go and we agree as the case says)."""
    problems = []
    if case.go_panics:
        if not go.get("panic"):
            problems.append(f"Go did not crash: {go}")
    elif go["accepted"] != (case.error is None):
        problems.append(f"Go {'accepted' if go['accepted'] else 'refused'}: {go.get('error')}")
    if case.error is not None and case.error[1] not in go.get("error", ""):
        problems.append(f"Go's message {go.get('error')!r} lacks {case.error[1]!r}")
    expected = case.error[0] if case.error is not None else case.ours
    try:
        ours = _our_host(case.stdout, CONFIGS[case.config])
    except Exception as exc:
        if expected is None or not isinstance(exc, expected):
            problems.append(f"we raised {exc!r}, expected {expected}")
        return problems
    if expected is not None:
        problems.append(f"we accepted it, expected {expected.__name__}")
        return problems
    for key, value in case.fields.items():
        if go[key] != value:
            problems.append(f"Go's {key} is {go[key]!r}, expected {value!r}")
    problems.extend(
        f"our {key} is {ours[key]!r}, Go's {go[key]!r}"
        for key in ("protocol", "version", "network", "address")
        if ours[key] != go[key]
    )
    return problems


@pytest.mark.timeout(240)
def test_handshake_lines_like_a_go_host() -> None:
    cases = [{"stdout": _b64(c.stdout), "stderr": "", "config": CONFIGS[c.config]} for c in LINES]
    problems = {
        f"{case.stdout!r} ({case.config})": found
        for case, go in zip(LINES, _probe(cases), strict=True)
        if (found := _verdicts(case, go))
    }
    assert not problems, json.dumps(problems, indent=1)


def test_a_plugin_that_exits_without_a_line() -> None:
    """No handshake line and the process is gone: the Go host reports that (which of its two
    messages depends on which it notices first); ours raises PluginExitedError
    (tests/interop/test_host_errors.py)."""
    (go,) = _probe([{"stdout": "", "stderr": "", "exit": True, "config": CONFIGS["both"]}])
    assert not go["accepted"]
    assert (
        "plugin exited before we could connect" in go["error"]
        or "Failed to read any lines from plugin's stdout" in go["error"]
    ), go["error"]


def test_a_stderr_line_longer_than_64_kib_is_logged_in_pieces_at_debug() -> None:
    """go-plugin reads stderr with a 64 KiB line buffer (PluginLogBufferSize): a longer line
    arrives in pieces, each logged at debug whatever it says."""
    line = "[ERROR] " + "x" * (70 * 1024)
    (go,) = _probe(
        [{"stdout": "", "stderr": _b64(line + "\n"), "exit": True, "config": CONFIGS["both"]}]
    )
    pieces = go["logs"]
    assert [p["@level"] for p in pieces] == ["debug", "debug"]
    assert "".join(p["@message"] for p in pieces) == line
    assert len(pieces[0]["@message"]) == 64 * 1024


def test_refusals_are_typed() -> None:
    """Every refusal of ours is a goplugin error (a PluginError), never a bare ValueError."""
    for case in LINES:
        if case.error is None and case.ours is None:
            continue
        with pytest.raises(PluginError):
            _our_host(case.stdout, CONFIGS[case.config])


# -- the environment a host gives its plugin ---------------------------------------------------

ENVS: list[dict[str, Any]] = [
    {"versions": [1], "allowed": BOTH},
    {"versions": [1, 3, 5], "allowed": BOTH},
    {"versions": [1], "allowed": BOTH, "mux": True},
    {"versions": [1], "allowed": BOTH, "automtls": True},
    {"versions": [1], "allowed": BOTH, "min_port": 20000, "max_port": 20010},
    {"versions": [1], "allowed": BOTH, "min_port": 20000},
]


def test_launch_environment_like_a_go_host() -> None:
    """The PLUGIN_* variables (and the cookie) a Go host sets are the ones ours sets, except
    PLUGIN_UNIX_SOCKET_DIR, which ours always sends (a private directory), and the order of
    PLUGIN_PROTOCOL_VERSIONS, which is Go's map order there and sorted here. Variables the host
    itself has under those names are overridden."""
    cases = [{"stdout": "", "stderr": "", "exit": True, "config": c} for c in ENVS]
    inherited = {"PLUGIN_MIN_PORT": "1", "PLUGIN_PROTOCOL_VERSIONS": "99"}
    for config, go in zip(ENVS, _probe(cases, env=inherited), strict=True):
        go_env = go["env"]
        min_port, max_port = config.get("min_port", 0), config.get("max_port", 0)
        if min_port == 0 and max_port == 0:  # NewClient's default, only when both are unset
            min_port, max_port = 10000, 25000
        cert = go_env.get("PLUGIN_CLIENT_CERT")
        ours = host_environment(
            PROBE_HANDSHAKE,
            config["versions"],
            base={},
            min_port=min_port,
            max_port=max_port,
            multiplex=config.get("mux", False),
            client_cert_pem=_IDENTITY.cert_pem.decode() if cert else None,
            unix_socket_dir="/private/dir",
        )
        assert ours.pop("PLUGIN_UNIX_SOCKET_DIR") == "/private/dir"
        assert "PLUGIN_UNIX_SOCKET_DIR" not in go_env
        versions = go_env.pop("PLUGIN_PROTOCOL_VERSIONS").split(",")
        assert sorted(map(int, versions)) == sorted(config["versions"])
        assert ours.pop("PLUGIN_PROTOCOL_VERSIONS") == ",".join(map(str, config["versions"]))
        if config.get("automtls"):
            assert cert is not None and cert.startswith("-----BEGIN CERTIFICATE-----\n")
            assert "PLUGIN_CLIENT_CERT" in ours
            ours["PLUGIN_CLIENT_CERT"] = cert
        assert ours == go_env


# -- the plugin's stderr: hclog JSON lines and plain lines -------------------------------------

_GO_LEVELS = {"trace": TRACE, "debug": 10, "info": 20, "warn": 30, "error": 40}
TS = "2024-02-29T23:59:59.123456Z"

STDERR_RUNS: list[list[str]] = [
    [
        # hclog JSON: level, message and fields kept; the timestamp must be Go's layout.
        json.dumps({"@level": "trace", "@message": "t", "@timestamp": TS}),
        json.dumps({"@level": "debug", "@message": "d", "@timestamp": TS, "k": "v"}),
        json.dumps({"@level": "info", "@message": "i", "@module": "m", "n": 1}),
        json.dumps({"@level": "warn", "@message": "w", "@timestamp": TS}),
        json.dumps({"@level": "error", "@message": "e", "@timestamp": TS}),
        json.dumps({"@level": "ERROR", "@message": "upper"}),
        json.dumps({"@level": " info ", "@message": "spaced level"}),
        "   " + json.dumps({"@level": "info", "@message": "indented"}),
        json.dumps({"@level": "warning", "@message": "not an hclog level"}),
        json.dumps({"@level": "off", "@message": "off is not a level to log at"}),
        json.dumps({"@message": "no level"}),
        json.dumps(
            {"@level": "info", "@message": "t+", "@timestamp": "2024-01-02T03:04:05.000001+02:00"}
        ),
        json.dumps(
            {"@level": "info", "@message": "comma", "@timestamp": "2024-01-02T03:04:05,000001Z"}
        ),
        json.dumps(
            {
                "@level": "info",
                "@message": "one-digit hour",
                "@timestamp": "2024-01-02T3:04:05.000001Z",
            }
        ),
        json.dumps(
            {"@level": "info", "@message": "5 digits", "@timestamp": "2024-01-02T03:04:05.00001Z"}
        ),
        json.dumps(
            {"@level": "info", "@message": "7 digits", "@timestamp": "2024-01-02T03:04:05.0000001Z"}
        ),
        json.dumps(
            {"@level": "info", "@message": "no fraction", "@timestamp": "2024-01-02T03:04:05Z"}
        ),
        json.dumps(
            {
                "@level": "info",
                "@message": "Feb 29 2023",
                "@timestamp": "2023-02-29T03:04:05.000001Z",
            }
        ),
        json.dumps(
            {"@level": "info", "@message": "month 13", "@timestamp": "2024-13-02T03:04:05.000001Z"}
        ),
        json.dumps(
            {"@level": "info", "@message": "hour 24", "@timestamp": "2024-01-02T24:04:05.000001Z"}
        ),
        json.dumps(
            {"@level": "info", "@message": "second 60", "@timestamp": "2024-01-02T03:04:60.000001Z"}
        ),
        json.dumps(
            {
                "@level": "info",
                "@message": "offset 24h",
                "@timestamp": "2024-01-02T03:04:05.000001+24:00",
            }
        ),
        json.dumps(
            {
                "@level": "info",
                "@message": "offset 25h",
                "@timestamp": "2024-01-02T03:04:05.000001+25:00",
            }
        ),
        json.dumps(
            {
                "@level": "info",
                "@message": "no colon",
                "@timestamp": "2024-01-02T03:04:05.000001+0200",
            }
        ),
        json.dumps(
            {"@level": "info", "@message": "lower z", "@timestamp": "2024-01-02T03:04:05.000001z"}
        ),
        "null",
        "[1, 2]",
        '"a JSON string"',
        "{not json",
        "",
        # Plain lines: a [LEVEL] prefix, else debug.
        "[TRACE] a",
        "[DEBUG] b",
        "[INFO] c",
        "[WARN] d\r",
        "[ERROR] e",
        "[info] lower case is no prefix",
        " [INFO] not at the start",
        "plain text",
        # A Go panic: that line and every later plain line are errors; prefixes still win.
        "panic: boom",
        "goroutine 1 [running]:",
        "[INFO] a prefix still wins",
        json.dumps({"@level": "debug", "@message": "JSON still wins"}),
        "main.main()",
        "null",
    ],
    ["fatal error: all goroutines are asleep", "more"],
]


def _our_log(lines: list[str]) -> list[tuple[int, str, set[str]]]:
    parser = StderrLineParser()
    out = []
    for line in lines:
        entry = parser.feed(line.rstrip("\r"))  # the watcher strips "\r" like Go's ReadLine
        out.append((entry.level, entry.message, set(entry.fields)))
    return out


def _go_log(records: list[dict[str, Any]]) -> list[tuple[int, str, set[str]]]:
    out = []
    for record in records:
        fields = {k for k in record if not k.startswith("@") and k != "timestamp"}
        out.append((_GO_LEVELS[record["@level"]], record["@message"], fields))
    return out


def test_stderr_lines_like_a_go_host() -> None:
    cases = [
        {
            "stdout": "",
            "stderr": _b64("\n".join(run) + "\n"),
            "exit": True,
            "config": CONFIGS["both"],
        }
        for run in STDERR_RUNS
    ]
    problems = []
    for run, go in zip(STDERR_RUNS, _probe(cases), strict=True):
        go_log = _go_log(go["logs"])
        assert len(go_log) == len(run), go["logs"]
        for line, mine, theirs in zip(run, _our_log(run), go_log, strict=True):
            # Go logs the plugin's @module as a field; we keep it apart (LogEntry.module).
            theirs = (theirs[0], theirs[1], theirs[2] - {"@module"})
            if mine != theirs:
                problems.append(f"{line!r}: ours {mine}, Go's {theirs}")
    assert not problems, "\n".join(problems)


def test_python_tracebacks_start_panic_mode_here_only() -> None:
    """Our one extension: a Python traceback starts "panic mode" like a Go panic does, so a
    crashing Python plugin's traceback reaches a Python host's log as errors. A Go host logs
    those lines at debug."""
    ours = _our_log(["Traceback (most recent call last):", '  File "x.py", line 1'])
    assert [level for level, _, _ in ours] == [logging.ERROR, logging.ERROR]
    go = _go_log(
        _probe(
            [
                {
                    "stdout": "",
                    "stderr": _b64('Traceback (most recent call last):\n  File "x.py", line 1\n'),
                    "exit": True,
                    "config": CONFIGS["both"],
                }
            ]
        )[0]["logs"]
    )
    assert [level for level, _, _ in go] == [logging.DEBUG, logging.DEBUG]


# -- stopping a plugin: GRPCController.Shutdown, then 2 s, then SIGKILL ------------------------


def _kvhost(
    plugin: str, *commands: str, fault: str = "", flags: Sequence[str] = ()
) -> tuple[float, str, str]:
    """Run kvhost (go-plugin's Client) on ``plugin``: (seconds, its stdout, its log)."""
    started = time.monotonic()
    done = subprocess.run(
        # kvhost runs the plugin with "sh -c": exec, so that its kill reaches the plugin.
        [str(go_program("./testprogs/kvhost")), *flags, "-plugin", f"exec {plugin}", *commands],
        env={**os.environ, "GOPLUGIN_FAULT": fault},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started, done.stdout, done.stderr


@pytest.mark.timeout(120)
def test_a_go_host_gives_a_plugin_2_s_to_exit_after_shutdown(workdir: Path) -> None:
    faults = str(go_program("./testprogs/faultplugin"))
    quick, _, log = _kvhost(faults, "ping")
    assert "plugin failed to exit gracefully" not in log
    slow, _, log = _kvhost(faults, "ping", fault="ignore-shutdown")
    assert "plugin failed to exit gracefully" in log
    assert slow >= 2.0 and slow > quick, (quick, slow)


@pytest.mark.timeout(120)
def test_our_host_gives_a_plugin_2_s_to_exit_after_shutdown(workdir: Path) -> None:
    faults = [str(go_program("./testprogs/faultplugin"))]
    for fault, status in (("", 0), ("ignore-shutdown", -signal.SIGKILL)):
        client = goplugin.PluginClient(
            faults, handshake=EXAMPLE_HANDSHAKE, env={"GOPLUGIN_FAULT": fault}
        )
        client.start()
        client.ping()
        started = time.monotonic()
        client.kill()
        took = time.monotonic() - started
        assert client.returncode == status, (fault, client.stderr_tail)
        assert (took >= 2.0) == bool(fault), (fault, took)


@pytest.mark.timeout(120)
def test_hosts_use_a_plugin_without_go_plugins_services(workdir: Path) -> None:
    """A plugin that serves health and its own services only (GRPCController, GRPCStdio and
    GRPCBroker answer Unimplemented, like minimal non-Go plugins): hosts use it, log that
    stdio is not forwarded, and kill it after the 2 s grace."""
    faults = str(go_program("./testprogs/faultplugin"))
    took, out, log = _kvhost(faults, "put", "k", "v", "get", "k", "ping", fault="bare-services")
    assert "value=v" in out and "ping=ok" in out
    # grpc-go reports a server stream's status on its first read, so the Go host logs (at
    # debug) that it stops copying stdio, rather than "stdio service not available".
    assert re.search(r"stdio: received EOF, stopping recv loop: .*Unimplemented", log), log
    assert "plugin failed to exit gracefully" in log and took >= 2.0
    from gen.kv import kv_goplugin, kv_pb2

    client = goplugin.PluginClient(
        [faults],
        handshake=EXAMPLE_HANDSHAKE,
        plugins={"kv": kv_goplugin.KVPlugin()},
        env={"GOPLUGIN_FAULT": "bare-services"},
    )
    with client:
        kv = client.dispense("kv")
        kv.put(kv_pb2.PutRequest(key="k", value=b"v"), timeout=10)
        assert kv.get(kv_pb2.GetRequest(key="k"), timeout=10).value == b"v"
        client.ping()
    assert client.returncode == -signal.SIGKILL


def _calls(log: str | tuple[str, ...]) -> list[str]:
    lines = log.splitlines() if isinstance(log, str) else log
    return [m.group(1) for line in lines if (m := re.search(r"faultplugin: call (\S+)", line))]


@pytest.mark.timeout(120)
def test_what_hosts_call_on_a_grpc_plugin_and_when(workdir: Path) -> None:
    """On connecting, a host opens GRPCStdio.StreamStdio and GRPCBroker.StartStream (Go's in a
    goroutine, so it may come a little later); Health.Check only when the application pings;
    GRPCController.Shutdown when it stops the plugin. Nothing else of go-plugin's, once each.
    Ours also calls Health.Check once when it starts the plugin."""
    faults = str(go_program("./testprogs/faultplugin"))
    # -hold: the Go host opens StartStream in a goroutine; give it a moment before the kill.
    _, _, log = _kvhost(faults, "ping", fault="log-calls", flags=("-hold", "1s"))
    go = _calls(log)
    client = goplugin.PluginClient(
        [faults], handshake=EXAMPLE_HANDSHAKE, env={"GOPLUGIN_FAULT": "log-calls"}
    )
    with client:
        client.ping()
        deadline = time.monotonic() + 10  # let the plugin see the broker stream before the kill
        while "/plugin.GRPCBroker/StartStream" not in _calls(client.stderr_tail):
            assert time.monotonic() < deadline, client.stderr_tail
            time.sleep(0.01)
    ours = _calls(client.stderr_tail)
    expected = [
        "/plugin.GRPCStdio/StreamStdio",
        "/plugin.GRPCBroker/StartStream",
        "/grpc.health.v1.Health/Check",  # the application's ping
        "/plugin.GRPCController/Shutdown",
    ]
    # The plugin serves calls concurrently: the order it sees them in is not the host's.
    assert sorted(go) == sorted(expected), go
    # Ours also checks once, at start-up, that the plugin answers.
    assert sorted(ours) == sorted([*expected, "/grpc.health.v1.Health/Check"]), ours


@pytest.mark.timeout(120)
def test_a_go_host_waits_for_the_plugins_pipes_to_close(workdir: Path) -> None:
    """A Go host considers a plugin gone only when its stdout and stderr are closed too: here
    the process it started (sh) is killed, but the plugin sh started still holds the pipes,
    and the host waits until it goes."""
    faults = str(go_program("./testprogs/faultplugin"))
    host = subprocess.Popen(
        # No "exec": the host's child is sh, the plugin is sh's child.
        [str(go_program("./testprogs/kvhost")), "-plugin", f"{faults}; true", "ping"],
        env={**os.environ, "GOPLUGIN_FAULT": "ignore-shutdown"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert host.stdout is not None
        assert host.stdout.readline().startswith("negotiated=1")
        (plugin,) = [
            p
            for p in psutil.Process(host.pid).children(recursive=True)
            if p.name().startswith("testprogs_faul")
        ]
        with pytest.raises(subprocess.TimeoutExpired):
            host.wait(6)  # 2 s grace, SIGKILL to sh: still waiting for the plugin's pipes
        assert plugin.is_running()
        plugin.kill()
        assert host.wait(10) == 0
    finally:
        if host.poll() is None:
            for child in psutil.Process(host.pid).children(recursive=True):
                child.kill()
            host.kill()
            host.wait(10)


@pytest.mark.xfail(
    strict=True,
    reason="known deviation, not fixed here: _host.process._Pipe hands each 64 KiB piece of a long "
    "stderr line to the line parser, which gives a '[ERROR]' first piece ERROR",
)
def test_our_host_logs_a_long_stderr_line_in_pieces_at_debug_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    line = "[ERROR] " + "x" * (70 * 1024)
    caplog.set_level(1, logger="goplugin.plugin")
    script = f"import sys; sys.stderr.write({line!r} + '\\n'); sys.stderr.flush()"
    client = goplugin.PluginClient([sys.executable, "-c", script], handshake=EXAMPLE_HANDSHAKE)
    with pytest.raises(goplugin.PluginError):
        client.start()
    pieces = [r for r in caplog.records if r.name.startswith("goplugin.plugin")]
    assert "".join(r.getMessage() for r in pieces) == line
    assert [r.levelno for r in pieces] == [logging.DEBUG, logging.DEBUG]
