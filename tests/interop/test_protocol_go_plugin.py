"""What a go-plugin v1.8.0 plugin does with the environment its host gives it, and what it
serves, observed on go-plugin's own unmodified example plugins and, side by side, on ours.

These are the tests docs/protocol.md links for the plugin's half of the handshake, version
negotiation, listeners, the cookie, signals, and go-plugin's internal gRPC services (health,
GRPCController, GRPCStdio, GRPCBroker's dial timeout).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import grpc
import psutil
import pytest
from conftest import PLUGINS
from gobuild import go_plugin_example, go_program

from goplugin._plugin.config import NOT_A_PLUGIN_MESSAGE
from goplugin._protocol.handshake import (
    negotiate_plugin_version,
    parse_handshake,
    parse_protocol_versions,
)
from goplugin._protocol.internal import CONTROLLER_SHUTDOWN, STDIO_STREAM, StdioData
from goplugin._protocol.x509 import certificate_curve
from goplugin._transport.mtls import generate_identity

pytestmark = pytest.mark.interop

COOKIE = {"BASIC_PLUGIN": "hello"}


class Launched:
    """A plugin process started by hand, as a host would: its first stdout line is read, its
    stderr collected (so that it never blocks on a full pipe)."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_")}
        clean.pop("BASIC_PLUGIN", None)
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**clean, **env},
            cwd=cwd,
        )
        self._stderr: list[bytes] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        stdout, stderr = self.proc.stdout, self.proc.stderr
        self._reader = threading.Thread(target=self._drain, args=(stderr,), daemon=True)
        self._reader.start()
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(60)
        self.line = got[0].decode() if got else ""

    def _drain(self, stderr: IO[bytes]) -> None:
        while chunk := os.read(stderr.fileno(), 65536):
            self._stderr.append(chunk)

    @property
    def fields(self) -> list[str]:
        return self.line.rstrip("\n").split("|")

    @property
    def address(self) -> str:
        return self.fields[3]

    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def wait_for_stderr(self, text: str, timeout: float = 10.0) -> bool:
        """Whether ``text`` shows up on stderr within ``timeout`` (it is read by a thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel("unix:" + self.address)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait(30)
        self._reader.join(10)
        return code


@contextmanager
def launched(cmd: list[str], env: dict[str, str], cwd: Path) -> Iterator[Launched]:
    plugin = Launched(cmd, env, cwd)
    try:
        yield plugin
    finally:
        plugin.stop()


@pytest.fixture(scope="module")
def go_negotiated() -> list[str]:
    """go-plugin's examples/negotiated plugin: version 2 net/rpc, version 3 gRPC."""
    return [str(go_plugin_example("negotiated", "plugin-go"))]


@pytest.fixture
def py_negotiated(plugin_pythonpath: None) -> list[str]:
    """Our twin of it (tests/plugins/negotiated_plugin.py)."""
    return [sys.executable, str(PLUGINS / "negotiated_plugin.py")]


@pytest.fixture(scope="module")
def go_grpc() -> list[str]:
    return [str(go_plugin_example("grpc", "plugin-go-grpc"))]


@pytest.fixture(scope="module")
def go_greeter() -> list[str]:
    return [str(go_plugin_example("basic", "plugin"))]


@pytest.fixture(scope="module")
def go_faults() -> list[str]:
    return [str(go_program("./testprogs/faultplugin"))]


# -- negotiation --------------------------------------------------------------------------------

OFFERS = [None, "", "2", "3", "3,2", "2,3", "1", "4", " 3", "+3", "0_3", "3,x", "2,,3"]
SETS = {2: "netrpc", 3: "grpc"}  # both negotiated plugins


@pytest.mark.timeout(240)
def test_negotiation_like_go_plugins(
    go_negotiated: list[str], py_negotiated: list[str], tmp_path: Path
) -> None:
    """The plugin picks the highest version both offer; with none in common, its lowest (the
    host then refuses); invalid entries are skipped and reported on stderr."""
    problems = []
    for offer in OFFERS:
        env = dict(COOKIE) if offer is None else {**COOKIE, "PLUGIN_PROTOCOL_VERSIONS": offer}
        with (
            launched(go_negotiated, env, tmp_path) as go,
            launched(py_negotiated, env, tmp_path) as py,
        ):
            versions, invalid = parse_protocol_versions(offer or "")
            version, _ = negotiate_plugin_version(versions, SETS)
            expected = (str(version), SETS[version])
            for who, plugin in (("go", go), ("python", py)):
                got = (plugin.fields[1], plugin.fields[4])
                if got != expected:
                    problems.append(f"{offer!r}: {who} chose {got}, we compute {expected}")
                if invalid and not plugin.wait_for_stderr("invalid plugin version"):
                    problems.append(f"{offer!r}: {who} did not report {invalid}")
    assert not problems, "\n".join(problems)


# -- the handshake line and the listener ----------------------------------------------------

LINE = re.compile(r"1\|(\d+)\|unix\|(/[^|]+)\|(grpc|netrpc)\|(\|true)?\n")


def test_handshake_lines_and_sockets_of_go_plugins(
    go_grpc: list[str], go_greeter: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """Six fields, the certificate one empty (so the line ends in "|"), a unix socket named
    plugin<digits> in PLUGIN_UNIX_SOCKET_DIR; net/rpc plugins the same with "netrpc"."""
    env = {**COOKIE, "PLUGIN_PROTOCOL_VERSIONS": "1", "PLUGIN_UNIX_SOCKET_DIR": str(tmp_path)}
    for cmd, protocol in ((go_grpc, "grpc"), (go_greeter, "netrpc"), (py_kv_plugin, "grpc")):
        with launched(cmd, env, tmp_path) as plugin:
            match = LINE.fullmatch(plugin.line)
            assert match is not None, plugin.line
            assert match.group(3) == protocol and match.group(4) is None
            path = Path(match.group(2))
            assert path.parent == tmp_path
            assert stat.S_ISSOCK(path.stat().st_mode)
            if cmd is not py_kv_plugin:
                assert re.fullmatch(r"plugin\d+", path.name), path.name
                # The umask's permissions; a Go plugin logs hclog JSON from the start, at
                # trace level and up, before its handshake line.
                umask = os.umask(0)
                os.umask(umask)
                assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~umask
                assert plugin.wait_for_stderr('{"@level":"debug","@message":"plugin address"')


def test_unix_socket_group(go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path) -> None:
    """PLUGIN_UNIX_SOCKET_GROUP: the socket joins that group (a name or a gid), mode 0660."""
    env = {**COOKIE, "PLUGIN_UNIX_SOCKET_GROUP": str(os.getgid())}
    for cmd in (go_grpc, py_kv_plugin):
        with launched(cmd, env, tmp_path) as plugin:
            info = os.stat(plugin.address)
            assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, os.getgid())


def test_port_range_does_not_matter_to_unix_sockets(
    go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """PLUGIN_MIN_PORT/PLUGIN_MAX_PORT only concern TCP listeners (Go's on Windows): a plugin
    on a unix socket does not read them, even when they make no sense."""
    env = {**COOKIE, "PLUGIN_MIN_PORT": "abc", "PLUGIN_MAX_PORT": "1"}
    for cmd in (go_grpc, py_kv_plugin):
        with launched(cmd, env, tmp_path) as plugin:
            assert LINE.fullmatch(plugin.line), (cmd, plugin.line, plugin.stderr())


def test_the_seventh_field(
    go_grpc: list[str], go_greeter: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """A Go plugin appends "|true" whenever PLUGIN_MULTIPLEX_GRPC is non-empty (net/rpc
    plugins too) but multiplexes only when it parses as a Go true; ours appends it only when
    it multiplexes."""
    for value, muxes in (("true", True), ("1", True), ("false", False), ("yes", False)):
        env = {**COOKIE, "PLUGIN_MULTIPLEX_GRPC": value}
        with launched(go_grpc, env, tmp_path) as go:
            assert go.line.endswith("|grpc||true\n"), (value, go.line)
            if not muxes:  # a plain gRPC connection works
                _health(go.channel(), "plugin")
        with launched(py_kv_plugin, env, tmp_path) as py:
            assert py.line.endswith("|grpc||true\n" if muxes else "|grpc|\n"), (value, py.line)
            if not muxes:
                _health(py.channel(), "plugin")
    with launched(go_greeter, {**COOKIE, "PLUGIN_MULTIPLEX_GRPC": "true"}, tmp_path) as go:
        assert go.line.endswith("|netrpc||true\n"), go.line


@pytest.mark.timeout(120)
def test_a_multiplexing_go_plugin_gives_up_on_a_host_that_never_connects(
    go_grpc: list[str], tmp_path: Path
) -> None:
    """Asked to multiplex, a Go plugin accepts one connection for its yamux session and waits
    for it 5 s at a time; without one it stops serving and exits (≈15 s in v1.8.0)."""
    with launched(go_grpc, {**COOKIE, "PLUGIN_MULTIPLEX_GRPC": "true"}, tmp_path) as go:
        assert go.line.endswith("||true\n")
        assert go.proc.wait(60) == 0
        assert "timed out waiting for connection to be established" in go.stderr()


def test_the_cookie(go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path) -> None:
    """Without the magic cookie, or with another value, a plugin writes go-plugin's message on
    stderr, nothing on stdout, and exits with status 1."""
    for env in ({}, {"BASIC_PLUGIN": "goodbye"}):
        for cmd in (go_grpc, py_kv_plugin):
            clean = {k: v for k, v in os.environ.items() if k != "BASIC_PLUGIN"}
            done = subprocess.run(
                cmd, env={**clean, **env}, capture_output=True, text=True, timeout=30, cwd=tmp_path
            )
            assert (done.returncode, done.stdout) == (1, ""), (cmd, done)
            assert done.stderr.startswith(NOT_A_PLUGIN_MESSAGE), (cmd, done.stderr)


def test_automtls_certificate_field(
    go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """Given PLUGIN_CLIENT_CERT (PEM), a plugin announces its own certificate in field 6 as
    unpadded base64 of DER: P-521 from Go, P-256 from us (grpcio cannot use P-521)."""
    host = generate_identity("P-521")
    env = {**COOKIE, "PLUGIN_CLIENT_CERT": host.cert_pem.decode()}
    for cmd, curve in ((go_grpc, "P-521"), (py_kv_plugin, "P-256")):
        with launched(cmd, env, tmp_path) as plugin:
            field = plugin.fields[5]
            assert len(field) > 50 and "=" not in field
            der = base64.b64decode(field + "=" * (-len(field) % 4))
            assert certificate_curve(der) == curve
            assert parse_handshake(plugin.line).server_cert == der


# -- signals and GRPCController.Shutdown ----------------------------------------------------


def test_sigint_is_ignored_and_shutdown_stops_the_plugin(
    go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """A plugin ignores SIGINT (a terminal's Ctrl-C reaches the whole process group; the host
    decides). GRPCController.Shutdown makes it exit, well within the host's 2 s grace, and
    remove its socket; its reply may not even arrive (a Go plugin stops its server first)."""
    for cmd in (go_grpc, py_kv_plugin):
        with launched(cmd, dict(COOKIE), tmp_path) as plugin:
            channel = plugin.channel()
            # A Go plugin starts ignoring SIGINT just after its handshake line, and serves
            # only after that: once it answers, a SIGINT cannot hit it in between.
            _health(channel, "plugin")
            plugin.proc.send_signal(signal.SIGINT)
            time.sleep(0.5)
            assert plugin.proc.poll() is None, plugin.stderr()
            _health(channel, "plugin")
            shutdown = channel.unary_unary(CONTROLLER_SHUTDOWN, lambda b: b, lambda b: b)
            start = time.monotonic()
            try:
                shutdown(b"", timeout=10)
            except grpc.RpcError as exc:
                assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
            assert plugin.proc.wait(10) == 0
            assert time.monotonic() - start < 2.0, plugin.stderr()
            assert not os.path.exists(plugin.address)
            channel.close()


def test_a_go_plugin_dies_on_sigterm_and_outlives_a_sigkilled_host(
    go_grpc: list[str], kvhost: Path, tmp_path: Path
) -> None:
    with launched(go_grpc, dict(COOKIE), tmp_path) as plugin:
        plugin.proc.send_signal(signal.SIGTERM)
        assert plugin.proc.wait(10) == -signal.SIGTERM
    host = subprocess.Popen(
        [str(kvhost), "-hold", "60s", "-plugin", f"exec {go_grpc[0]}", "ping"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    assert host.stdout is not None
    assert host.stdout.readline().startswith("negotiated=1")
    (child,) = psutil.Process(host.pid).children()
    host.kill()
    host.wait(10)
    try:
        time.sleep(2)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    finally:
        child.kill()


# -- health, reflection, stdio ------------------------------------------------------------------


def _health(channel: grpc.Channel, service: str) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def _services(channel: grpc.Channel) -> set[str]:
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=10))
    return {s.name for s in reply.list_services_response.service}


INTERNAL = {
    "grpc.health.v1.Health",
    "plugin.GRPCBroker",
    "plugin.GRPCController",
    "plugin.GRPCStdio",
}


def test_internal_services_and_health(
    go_grpc: list[str], py_kv_plugin: list[str], tmp_path: Path
) -> None:
    """Every gRPC plugin serves health ("plugin" and "" SERVING, anything else NOT_FOUND),
    GRPCBroker, GRPCController and GRPCStdio next to its own services, and server reflection
    (which go-plugin hosts never use)."""
    for cmd in (go_grpc, py_kv_plugin):
        with launched(cmd, dict(COOKIE), tmp_path) as plugin:
            channel = plugin.channel()
            assert _health(channel, "plugin") == "SERVING"
            assert _health(channel, "") == "SERVING"
            with pytest.raises(grpc.RpcError) as info:
                _health(channel, "proto.KV")
            assert info.value.code() == grpc.StatusCode.NOT_FOUND
            services = _services(channel)
            assert INTERNAL | {"proto.KV"} <= services, services
            if cmd is go_grpc:
                assert "grpc.reflection.v1.ServerReflection" in services
            channel.close()


def test_go_plugin_stdio_arrives_in_chunks_of_at_most_1024_bytes(
    go_faults: list[str], tmp_path: Path
) -> None:
    """After its handshake a Go plugin's os.Stdout/os.Stderr go to GRPCStdio.StreamStdio, in
    chunks of at most 1024 bytes tagged STDOUT or STDERR; its real stdout carries nothing
    more."""
    from gen.kv import kv_pb2

    with launched(go_faults, dict(COOKIE), tmp_path) as plugin:
        channel = plugin.channel()
        stream = channel.unary_stream(STDIO_STREAM, lambda b: b, StdioData.FromString)(b"")
        get = channel.unary_unary(
            "/proto.KV/Get", kv_pb2.GetRequest.SerializeToString, kv_pb2.GetResponse.FromString
        )
        get(kv_pb2.GetRequest(key="fault:print:out:5000"), timeout=10)
        get(kv_pb2.GetRequest(key="fault:print:err:3000"), timeout=10)
        sizes = {StdioData.STDOUT: 0, StdioData.STDERR: 0}
        for chunk in stream:
            assert 0 < len(chunk.data) <= 1024
            sizes[chunk.channel] += len(chunk.data)
            if sizes == {StdioData.STDOUT: 5000, StdioData.STDERR: 3000}:
                break
        stream.cancel()
        channel.close()
        plugin.stop()
        assert plugin.proc.stdout is not None
        assert plugin.proc.stdout.read() == b""


def test_a_go_plugins_server_receives_at_most_4_mib_by_default(
    go_kv_plugin: Path, workdir: Path
) -> None:
    """go-plugin sets no message limits on a plugin's gRPC server (grpc-go's default: 4 MiB
    received) and raises the host's to 2 GiB - 1; our plugins and hosts take 2 GiB - 1 both
    ways (tests/interop/test_contracts.py sends 16 MiB in every pairing)."""
    from conftest import EXAMPLE_HANDSHAKE
    from gen.kv import kv_goplugin, kv_pb2

    import goplugin

    with goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        kv.put(kv_pb2.PutRequest(key="small", value=b"x" * ((4 << 20) - 64)), timeout=30)
        with pytest.raises(grpc.RpcError) as info:
            kv.put(kv_pb2.PutRequest(key="big", value=b"x" * (4 << 20)), timeout=30)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.timeout(60)
def test_a_go_plugin_dialing_an_id_nobody_accepts_gives_up_after_5_s(workdir: Path) -> None:
    """GRPCBroker.Dial waits up to 5 s for the peer's ConnInfo of that id, then fails."""
    from conftest import EXAMPLE_HANDSHAKE
    from gen.counter import counter_goplugin, counter_pb2

    import goplugin

    bidirectional = go_plugin_example("bidirectional", "plugin-go-grpc")
    with goplugin.PluginClient([bidirectional], handshake=EXAMPLE_HANDSHAKE) as client:
        counter = counter_goplugin.CounterClient(client.grpc_channel)
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            counter.put(counter_pb2.CounterPutRequest(add_server=77, key="k", value=1), timeout=30)
        waited = time.monotonic() - start
    assert "timeout waiting for connection info" in str(info.value.details())
    assert 4.5 <= waited < 20, waited
