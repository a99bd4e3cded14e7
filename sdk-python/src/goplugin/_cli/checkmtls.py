"""``goplugin check``'s AutoMTLS row: the plugin is given a P-521 client certificate, as
go-plugin hosts send it (Terraform, Vault, Packer run with AutoMTLS), and must answer with its
own certificate and serve mutual TLS with it. Our end of TLS is OpenSSL's (directly, and
through goplugin's relay for gRPC), since grpcio's TLS refuses P-521.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._protocol.handshake import Handshake, HandshakeConfig, Protocol
from .._transport.sockets import connect
from .checklaunch import Launch
from .checkprobes import describe_no_handshake

if TYPE_CHECKING:
    from .._transport.endpoints import TLSPair
    from .checkreport import Report

__all__ = ["check_automtls"]


def check_automtls(
    report: Report,
    argv: Sequence[str],
    handshake: HandshakeConfig,
    versions: Sequence[int],
    timeout: float,
) -> None:
    """A host with AutoMTLS sends a P-521 certificate; the plugin must answer with its own
    certificate in the handshake and serve mutual TLS with it (what Terraform, Vault and
    Packer require). Our side of TLS is OpenSSL's, which handles P-521 (grpcio cannot)."""
    from .._protocol.x509 import certificate_curve
    from .._transport.endpoints import TLSPair
    from .._transport.mtls import GO_CURVE, generate_identity
    from ..errors import TLSError

    identity = generate_identity(GO_CURVE)
    with Launch.as_host(
        argv, handshake, versions, client_cert_pem=identity.cert_pem.decode()
    ) as launch:
        started = launch.wait_handshake(timeout)
        announced = started.handshake
        if announced is None:
            report.failed(
                "automtls",
                "no handshake line when given PLUGIN_CLIENT_CERT: "
                + describe_no_handshake(started, launch, timeout, "its cookie"),
            )
            return
        if announced.server_cert is None:
            report.failed(
                "automtls",
                "no certificate in the handshake line although PLUGIN_CLIENT_CERT was set: "
                "Go hosts with AutoMTLS (Terraform, Vault, Packer...) cannot connect",
            )
            return
        try:
            curve = certificate_curve(announced.server_cert)
        except TLSError as exc:
            report.failed("automtls", f"its certificate field is not an X.509 certificate: {exc}")
            return
        tls = TLSPair(identity, announced.server_cert)
        try:
            refused = _tls_handshake(announced, tls, timeout)
            if refused is not None:
                report.failed("automtls", f"with its {curve} certificate: {refused}")
                return
            detail = _call_over_tls(launch, announced, tls, timeout)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            report.failed("automtls", f"mutual TLS with its {curve} certificate failed: {reason}")
            return
        finally:
            _stop_politely(launch, announced, tls)
        report.passed(
            "automtls",
            f"its {curve} certificate verified for localhost, ours P-521; {detail} over mutual TLS",
        )


def _tls_handshake(announced: Handshake, tls: TLSPair, timeout: float) -> str | None:
    """One bare TLS connection as a Go host makes it (OpenSSL, which has P-521): why it
    failed, or None. With TLS 1.3 a server refuses the client's certificate only after the
    handshake, so a short read follows: an alert then, or data (an HTTP/2 server speaks first)
    or silence (yamux waits for the client) once the plugin accepted us."""
    import ssl

    from .._transport.mtls import TLS_SERVER_NAME, mtls_client

    context = mtls_client(tls.identity, tls.peer_der).ssl_context
    sock = connect(announced.network, announced.address, min(timeout, 5.0))
    try:
        sock.settimeout(min(timeout, 5.0))
        try:
            conn = context.wrap_socket(sock, server_hostname=TLS_SERVER_NAME)
        except ssl.SSLCertVerificationError as exc:
            return f"it does not verify as a go-plugin host checks it ({exc.verify_message})"
        except (ssl.SSLError, OSError) as exc:
            return f"the TLS handshake failed ({exc})"
        refused = (
            "the plugin refused our client certificate ({}): it must trust exactly the "
            "certificate in PLUGIN_CLIENT_CERT"
        )
        with conn:
            conn.settimeout(0.5)
            try:
                if conn.recv(1) == b"":
                    return refused.format("it hung up right after the handshake")
            except TimeoutError:
                pass
            except ssl.SSLError as exc:
                return refused.format(exc.reason or exc)
            except OSError as exc:
                return refused.format(exc.strerror or exc)
    finally:
        sock.close()
    return None


def _call_over_tls(launch: Launch, announced: Handshake, tls: TLSPair, timeout: float) -> str:
    if announced.protocol is Protocol.GRPC:
        import grpc

        from .checkgrpc import GRPCConnection

        with GRPCConnection(announced, launch.socket_dir, tls) as conn:
            try:
                answer = conn.health(timeout)
            except grpc.RpcError as exc:
                # An answer of any kind came through TLS; health itself is another row's.
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise RuntimeError(f"{exc.code().name}: {exc.details()}") from None
                answer = exc.code().name
        return f'Health.Check("plugin") answered {answer}'
    from .checknetrpc import open_rpc

    rpc = open_rpc(launch, announced, tls)
    try:
        rpc.ping(timeout)
    finally:
        rpc.close(shutdown=False, timeout=1.0)
    return "Control.Ping answered"


def _stop_politely(launch: Launch, announced: Handshake, tls: TLSPair) -> None:
    """Shutdown or Quit, then two seconds, then SIGKILL: a plugin killed outright may leave
    files behind (a Python plugin's TLS relay directory)."""
    try:
        if announced.protocol is Protocol.GRPC:
            from .checkgrpc import GRPCConnection

            with GRPCConnection(announced, launch.socket_dir, tls) as conn:
                conn.shutdown(2.0)
        else:
            from .checknetrpc import open_rpc

            open_rpc(launch, announced, tls).close(shutdown=True, timeout=2.0)
    except Exception:
        pass
    launch.wait_exit(2.0)
