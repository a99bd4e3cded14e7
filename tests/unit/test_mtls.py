"""AutoMTLS certificates look like go-plugin's, and the pinned contexts refuse everyone else.

Handshakes here run between two in-memory SSLObjects: OpenSSL decides, no sockets involved.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from goplugin._protocol import x509 as _x509
from goplugin._transport import mtls
from goplugin._transport.mtls import Identity, generate_identity, mtls_client, mtls_server
from goplugin.errors import TLSError

# The server certificate go-plugin v1.8.0's examples/grpc plugin-go-grpc printed in its
# handshake line (built with Go 1.26): the reference for "looks like Go's".
GO_CERT = x509.load_der_x509_certificate(
    base64.b64decode(
        "MIICTzCCAbGgAwIBAgIRANyHtwSgI8clWN03mbqzi2owCgYIKoZIzj0EAwQwKDESMBAGA1UEChMJSGFzaGlDb3Jw"
        "MRIwEAYDVQQDEwlsb2NhbGhvc3QwIBcNMjYxMTI1MTYwMTExWhgPMjA1NjExMjUwNDAxNDFaMCgxEjAQBgNVBAoT"
        "CUhhc2hpQ29ycDESMBAGA1UEAxMJbG9jYWxob3N0MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBOFLKc21/yU7i"
        "hfG26i6PFEB1PZkvfx4nhhbVlx/hsTJgXxOfG80JaJ8YcpPtQ+RZXSzkI3xBHdlqkrkVJomYoBwASN72pl/oIjFJ"
        "CK4sMqvX2CFnxtazn0Xjex5Pv7uGRi4wfBwiHTaFseRjBEx/Z6924QDLev+sCH08zTDJADzBt+ijdzB1MA4GA1Ud"
        "DwEB/wQEAwICrDAdBgNVHSUEFjAUBggrBgEFBQcDAgYIKwYBBQUHAwEwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4E"
        "FgQU0AAJ7DlAQ6IFVyE7xW6sQmWCWBkwFAYDVR0RBA0wC4IJbG9jYWxob3N0MAoGCCqGSM49BAMEA4GLADCBhwJB"
        "XhItgoUb+WwM4zFRp9T6Sg9KqIpIcwmqdrVZNooSdncp6rsiwYOcZesA+q4ySJVeRBQLrYXz8NpnG4B/XxKK/CwC"
        "QgFkJlwuZZaLLBnf4V/gLPemK63XmtExxGCJGFqL9GdzIwQnZCumV3VI8VWxhQNlMwfsbAL3zkY/U1BAeFxopIyC4Q"
        "=="
    )
)
CURVE_CLASSES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}


@pytest.fixture(scope="module", params=sorted(CURVE_CLASSES))
def identity(request: pytest.FixtureRequest) -> Identity:
    return generate_identity(request.param)


def _cert(identity: Identity) -> x509.Certificate:
    return x509.load_der_x509_certificate(identity.cert_der)


def test_go_reference_is_what_protocol_md_describes() -> None:
    assert isinstance(GO_CERT.public_key(), ec.EllipticCurvePublicKey)
    assert GO_CERT.public_key().curve.name == "secp521r1"  # type: ignore[union-attr]


def test_same_extensions_as_go_in_the_same_order(identity: Identity) -> None:
    ours = _cert(identity)
    assert [(e.oid, e.critical) for e in ours.extensions] == [
        (e.oid, e.critical) for e in GO_CERT.extensions
    ]
    for mine, go in zip(ours.extensions, GO_CERT.extensions, strict=True):
        if mine.oid != x509.SubjectKeyIdentifier.oid:
            assert mine.value == go.value, mine.oid


def test_same_names_version_and_validity_span_as_go(identity: Identity) -> None:
    ours = _cert(identity)
    assert ours.version is x509.Version.v3
    assert ours.subject.public_bytes() == GO_CERT.subject.public_bytes()
    assert ours.issuer.public_bytes() == GO_CERT.issuer.public_bytes()
    assert ours.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    assert ours.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "HashiCorp"
    span = ours.not_valid_after_utc - ours.not_valid_before_utc
    assert span == GO_CERT.not_valid_after_utc - GO_CERT.not_valid_before_utc
    assert span == dt.timedelta(hours=262980, seconds=30)
    assert 0 < ours.serial_number < 2**128


def test_properties_spelled_out(identity: Identity) -> None:
    ours = _cert(identity)
    key = ours.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert isinstance(key.curve, CURVE_CLASSES[identity.curve])
    assert identity.curve == _x509.certificate_curve(identity.cert_der)
    san = ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = ours.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    usage = ours.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.key_encipherment
    assert usage.value.key_agreement and usage.value.key_cert_sign
    assert not (usage.value.crl_sign or usage.value.content_commitment)
    constraints = ours.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    hash_name = {"P-256": "sha256", "P-384": "sha384", "P-521": "sha512"}[identity.curve]
    assert ours.signature_hash_algorithm is not None
    assert ours.signature_hash_algorithm.name == hash_name
    # Self-signed: the certificate verifies with its own key.
    ours.verify_directly_issued_by(ours)  # raises if not


def test_validity_is_backdated_thirty_seconds() -> None:
    now = dt.datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    ours = _cert(generate_identity(now=now))
    assert ours.not_valid_before_utc == dt.datetime(2030, 5, 6, 7, 7, 39, tzinfo=dt.timezone.utc)
    assert ours.not_valid_after_utc == now.replace(microsecond=0) + dt.timedelta(hours=262980)


def test_key_pem_is_sec1_and_matches_the_certificate(identity: Identity) -> None:
    assert identity.key_pem.startswith(b"-----BEGIN EC PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(identity.key_pem, None)
    assert key.public_key() == _cert(identity).public_key()
    assert identity.cert_pem == _cert(identity).public_bytes(serialization.Encoding.PEM)
    assert "PRIVATE" not in repr(identity) and identity.curve in repr(identity)


def test_every_identity_is_new() -> None:
    a, b = generate_identity(), generate_identity()
    assert a.cert_der != b.cert_der and a.key_pem != b.key_pem


def test_unknown_curve() -> None:
    with pytest.raises(ValueError, match="P-256"):
        generate_identity("P-192")


def test_grpcio_can_handle_everything_but_p521() -> None:
    p256, p384, p521 = (generate_identity(c) for c in ("P-256", "P-384", "P-521"))
    assert mtls.grpcio_can_handle(p256.cert_der, p384.cert_der)
    assert not mtls.grpcio_can_handle(p256.cert_der, p521.cert_der)
    assert not mtls.grpcio_can_handle(GO_CERT.public_bytes(serialization.Encoding.DER))


# -- contexts -------------------------------------------------------------------------------


def _handshake(client: mtls.MTLSContext, server: mtls.MTLSContext) -> tuple[ssl.SSLObject, ...]:
    """Run a handshake between two in-memory endpoints; OpenSSL's verdict raises SSLError."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.ssl_context.wrap_bio(c_in, c_out, server_hostname=mtls.TLS_SERVER_NAME)
    s = server.ssl_context.wrap_bio(s_in, s_out, server_side=True)
    done = {id(c): False, id(s): False}
    for _ in range(20):
        for obj, out, peer in ((c, c_out, s_in), (s, s_out, c_in)):
            if not done[id(obj)]:
                try:
                    obj.do_handshake()
                    done[id(obj)] = True
                except ssl.SSLWantReadError:
                    pass
            peer.write(out.read())
        if all(done.values()):
            # TLS 1.3: the server's verdict on the client certificate reaches the client
            # with the first read.
            c.write(b"ping")
            s_in.write(c_out.read())
            assert s.read(4) == b"ping"
            return c, s
    raise AssertionError("handshake did not finish")


@pytest.fixture(scope="module")
def pair() -> tuple[Identity, Identity]:
    return generate_identity("P-521"), generate_identity("P-256")


def test_mutual_tls_with_pinned_peers(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    client, server = mtls_client(host, plugin.cert_der), mtls_server(plugin, host.cert_der)
    c, s = _handshake(client, server)
    assert c.version() == "TLSv1.3"
    assert c.selected_alpn_protocol() == s.selected_alpn_protocol() == "h2"
    client.check_peer(c.getpeercert(binary_form=True))
    server.check_peer(s.getpeercert(binary_form=True))


def test_tls12_is_still_accepted(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    client = mtls_client(host, plugin.cert_der)
    client.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
    c, _ = _handshake(client, mtls_server(plugin, host.cert_der))
    assert c.version() == "TLSv1.2"


def test_below_tls12_is_refused(pair: tuple[Identity, Identity]) -> None:
    assert mtls_client(*pair[:1], pair[1].cert_der).ssl_context.minimum_version == (
        ssl.TLSVersion.TLSv1_2
    )
    assert mtls_server(pair[1], pair[0].cert_der).ssl_context.minimum_version == (
        ssl.TLSVersion.TLSv1_2
    )


def test_server_refuses_a_client_with_another_certificate(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    intruder = generate_identity("P-521")
    with pytest.raises(ssl.SSLError):
        _handshake(mtls_client(intruder, plugin.cert_der), mtls_server(plugin, host.cert_der))


def test_server_refuses_a_client_without_certificate(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(cadata=plugin.cert_der)
    anonymous = mtls.MTLSContext(bare, plugin.cert_der, server_side=False)
    with pytest.raises(ssl.SSLError):
        _handshake(anonymous, mtls_server(plugin, host.cert_der))


def test_client_refuses_a_server_with_another_certificate(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    impostor = generate_identity("P-256")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(mtls_client(host, plugin.cert_der), mtls_server(impostor, host.cert_der))


def test_pin_is_the_exact_certificate(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    client = mtls_client(host, plugin.cert_der)
    client.check_peer(plugin.cert_der)
    with pytest.raises(TLSError, match="pinned"):
        client.check_peer(host.cert_der)
    with pytest.raises(TLSError, match="pinned"):
        client.check_peer(None)


def test_unusable_peer_certificate_is_a_tls_error(pair: tuple[Identity, Identity]) -> None:
    with pytest.raises(TLSError, match="unusable"):
        mtls_client(pair[0], b"\x30\x03garbage")


def test_identity_loads_without_memfd(
    pair: tuple[Identity, Identity], monkeypatch: pytest.MonkeyPatch
) -> None:
    # macOS has no memfd_create: the key then passes through a 0600 file that is removed.
    monkeypatch.delattr(os, "memfd_create", raising=False)
    host, plugin = pair
    _handshake(mtls_client(host, plugin.cert_der), mtls_server(plugin, host.cert_der))


def test_grpcio_credentials_are_built_from_pem(pair: tuple[Identity, Identity]) -> None:
    host, plugin = pair
    creds, options = mtls.grpc_channel_credentials(host, plugin.cert_der)
    assert creds is not None and ("grpc.ssl_target_name_override", "localhost") in options
    assert mtls.grpc_server_credentials(plugin, host.cert_der) is not None
