"""AutoMTLS: certificates like go-plugin's ``generateCert`` and pinned TLS contexts for both roles.

go-plugin authenticates host and plugin to each other with one throw-away self-signed
certificate each: the host's goes to the plugin as PEM in ``PLUGIN_CLIENT_CERT``, the
plugin's comes back as DER in the handshake line, and each side trusts exactly the other's.
Go always makes them on P-521, which grpcio's BoringSSL cannot verify or sign with, so a
connection with a Go peer is terminated by the stdlib's OpenSSL (``_transport/tlsrelay.py``) while
grpcio talks plaintext on a private socket. Between two Python peers with P-256/P-384 keys
grpcio's own TLS does the job (:func:`grpcio_can_handle`), which is why we default to P-256:
Go accepts any ECDSA curve, and it is faster and more widely supported than P-521.

``cryptography`` is imported only inside :func:`generate_identity`: a plugin pays for it only
when its host asked for mTLS.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._protocol.x509 import (
    CURVES,
    build_tbs_certificate,
    certificate_curve,
    der_to_pem,
    ec_private_key_der,
    pem_to_der,
    sign_certificate,
)
from ..errors import TLSError

if TYPE_CHECKING:
    import grpc

__all__ = [
    "GO_CURVE",
    "TLS_SERVER_NAME",
    "Identity",
    "MTLSContext",
    "generate_identity",
    "grpc_channel_credentials",
    "grpc_server_credentials",
    "grpcio_can_handle",
    "mtls_client",
    "mtls_server",
    "pem_to_der",
]

#: The curve go-plugin's generateCert always uses.
GO_CURVE = "P-521"
#: Both sides verify the other's certificate against this name (go-plugin's ServerName).
TLS_SERVER_NAME = "localhost"
# go-plugin: NotBefore = now - 30 s, NotAfter = now + 262980 h (~30 years).
_BACKDATE = _dt.timedelta(seconds=30)
_LIFETIME = _dt.timedelta(hours=262980)
# Curves BoringSSL (grpcio) can both verify and sign with in TLS 1.2/1.3.
_GRPCIO_CURVES = frozenset({"P-256", "P-384"})


@dataclass(frozen=True)
class Identity:
    """One side's certificate and key, in the forms the three consumers need.

    ``cert_pem`` goes into ``PLUGIN_CLIENT_CERT``, ``cert_der`` into the handshake line, and
    ``key_pem`` (SEC 1, ``EC PRIVATE KEY`` like Go) with ``cert_pem`` into OpenSSL or grpcio.
    """

    cert_pem: bytes
    key_pem: bytes
    cert_der: bytes
    curve: str

    def __repr__(self) -> str:  # never print the key
        return f"Identity(curve={self.curve!r}, cert_der=<{len(self.cert_der)} bytes>)"


def generate_identity(curve: str = "P-256", *, now: _dt.datetime | None = None) -> Identity:
    """A fresh key and go-plugin-shaped certificate (self-signed CA for ``localhost``).

    Pass ``curve="P-521"`` for a byte-for-byte Go look-alike; the default P-256 is accepted
    by Go peers and also lets two Python peers use grpcio's TLS directly.
    """
    try:
        spec = CURVES[curve]
    except KeyError:
        raise ValueError(f"unsupported curve {curve!r}; choose one of {sorted(CURVES)}") from None
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(getattr(ec, spec.secg_name)())
    numbers = key.private_numbers()
    x, y = numbers.public_numbers.x, numbers.public_numbers.y
    moment = (now or _dt.datetime.now(_dt.timezone.utc)).replace(microsecond=0)
    tbs = build_tbs_certificate(
        spec,
        x,
        y,
        # go-plugin: a random serial below 2**128 (we skip zero, which RFC 5280 forbids).
        serial=secrets.randbelow(2**128 - 1) + 1,
        not_before=moment - _BACKDATE,
        not_after=moment + _LIFETIME,
    )
    signature = key.sign(tbs, ec.ECDSA(getattr(hashes, spec.hash_name)()))
    der = sign_certificate(spec, tbs, signature)
    key_der = ec_private_key_der(spec, numbers.private_value, x, y)
    return Identity(der_to_pem(der), der_to_pem(key_der, "EC PRIVATE KEY"), der, curve)


def grpcio_can_handle(*cert_ders: bytes) -> bool:
    """Whether grpcio's own TLS can use all these certificates (no P-521 among them).

    When it can, a transport may skip the OpenSSL relay and use :func:`grpc_channel_credentials`
    / :func:`grpc_server_credentials`; that is the case between two Python peers.
    """
    return all(certificate_curve(der) in _GRPCIO_CURVES for der in cert_ders)


@dataclass(frozen=True)
class MTLSContext:
    """An OpenSSL context that trusts exactly one peer certificate, plus that certificate.

    Chain verification against the peer's self-signed certificate is what Go does; after the
    handshake :meth:`check_peer` also requires the very same certificate, not merely one the
    peer's key signed. ``server_side`` says which end of the TLS handshake we are.
    """

    ssl_context: ssl.SSLContext
    peer_der: bytes
    server_side: bool

    def check_peer(self, presented: bytes | None) -> None:
        if presented != self.peer_der:
            raise TLSError("the peer presented a certificate other than the pinned one")


def mtls_client(identity: Identity, peer_der: bytes) -> MTLSContext:
    """We dial: the host to its plugin, or a plugin to the host's broker listener."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = True  # against TLS_SERVER_NAME, like Go's ServerName
    return _finish(context, identity, peer_der, server_side=False)


def mtls_server(identity: Identity, peer_der: bytes) -> MTLSContext:
    """We accept: a plugin's listener, or the host's broker listener. The client must prove
    it holds the peer's certificate (Go: RequireAndVerifyClientCert)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # No session resumption between throw-away peers: don't spend a record on tickets.
    context.num_tickets = 0
    context.options |= ssl.OP_NO_TICKET
    return _finish(context, identity, peer_der, server_side=True)


def _finish(
    context: ssl.SSLContext, identity: Identity, peer_der: bytes, *, server_side: bool
) -> MTLSContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    # grpc-go >= 1.67 refuses TLS connections that did not negotiate h2, in both roles.
    context.set_alpn_protocols(["h2"])
    try:
        context.load_verify_locations(cadata=peer_der)
    except (ssl.SSLError, ValueError) as exc:
        raise TLSError(f"the peer's certificate is unusable: {exc}") from exc
    _load_identity(context, identity)
    return MTLSContext(context, peer_der, server_side)


def _load_identity(context: ssl.SSLContext, identity: Identity) -> None:
    """OpenSSL reads keys only from files: use an anonymous memory file where we can."""
    blob = identity.cert_pem + identity.key_pem
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fd = memfd("goplugin-mtls", 0)
        try:
            os.write(fd, blob)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="goplugin-mtls")
    path = os.path.join(directory, "identity.pem")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(blob)
        context.load_cert_chain(path)
    finally:
        try:
            os.unlink(path)
        finally:
            os.rmdir(directory)


# -- grpcio's own TLS, for peers without P-521 ---------------------------------------------


def grpc_channel_credentials(
    identity: Identity, peer_der: bytes
) -> tuple[grpc.ChannelCredentials, list[tuple[str, Any]]]:
    """Credentials and the channel options they need (the ``localhost`` name override)."""
    import grpc

    credentials = grpc.ssl_channel_credentials(
        root_certificates=der_to_pem(peer_der),
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    return credentials, [("grpc.ssl_target_name_override", TLS_SERVER_NAME)]


def grpc_server_credentials(identity: Identity, peer_der: bytes) -> grpc.ServerCredentials:
    import grpc

    return grpc.ssl_server_credentials(
        [(identity.key_pem, identity.cert_pem)],
        root_certificates=der_to_pem(peer_der),
        require_client_auth=True,
    )
