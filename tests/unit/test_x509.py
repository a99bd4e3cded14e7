"""The sans-IO DER pieces of AutoMTLS: encoders checked against cryptography's parser, and a
reader that never fails with anything but TLSError on hostile input."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from goplugin._protocol import x509 as _x509
from goplugin._transport.mtls import generate_identity
from goplugin.errors import TLSError

NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.timezone.utc)


def test_oid_encoding_matches_cryptography() -> None:
    for dotted in ("1.2.840.10045.2.1", "1.3.132.0.35", "2.5.29.17", "2.999.3", "1.3.6.1.4.1.311"):
        der = _x509._encode_oid(dotted)
        assert der[0] == 0x06 and der[1] == len(der) - 2
        assert _x509._dotted(der[2:]) == dotted
        assert x509.ObjectIdentifier(dotted).dotted_string == dotted


@given(
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**64), max_size=8),
)
def test_oid_round_trip(first: int, second: int, rest: list[int]) -> None:
    dotted = ".".join(str(a) for a in [first, second, *rest])
    assert _x509._dotted(_x509._encode_oid(dotted)[2:]) == dotted


@given(st.integers(0, 2**600))
def test_integer_is_minimal_twos_complement(n: int) -> None:
    der = _x509._integer(n)
    _, start, end = _x509._read_tlv(der, 0)
    body = der[start:end]
    assert int.from_bytes(body, "big", signed=True) == n
    assert len(body) == max(1, (n.bit_length() + 8) // 8)


@given(st.binary(max_size=70000))
def test_lengths_round_trip(value: bytes) -> None:
    der = _x509._tlv(0x04, value)
    tag, start, end = _x509._read_tlv(der, 0)
    assert (tag, der[start:end], end) == (0x04, value, len(der))


@pytest.mark.parametrize(
    ("moment", "tag", "text"),
    [
        (dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), 0x17, b"260102030405Z"),
        (dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc), 0x17, b"491231235959Z"),
        (dt.datetime(2050, 1, 1, tzinfo=dt.timezone.utc), 0x18, b"20500101000000Z"),
        (dt.datetime(2056, 11, 25, 2, tzinfo=dt.timezone.utc), 0x18, b"20561125020000Z"),
    ],
)
def test_utctime_until_2049_then_generalized_time(
    moment: dt.datetime, tag: int, text: bytes
) -> None:
    assert _x509._time(moment) == bytes([tag, len(text)]) + text


@given(st.binary(max_size=3000), st.sampled_from(["CERTIFICATE", "EC PRIVATE KEY"]))
def test_pem_round_trip(der: bytes, label: str) -> None:
    pem = _x509.der_to_pem(der, label)
    lines = pem.decode().splitlines()
    assert lines[0] == f"-----BEGIN {label}-----" and lines[-1] == f"-----END {label}-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert _x509.pem_to_ders(pem, label) == [der]


def test_pem_to_der_takes_exactly_one_certificate() -> None:
    one = generate_identity()
    assert _x509.pem_to_der(one.cert_pem) == one.cert_der
    assert _x509.pem_to_der(one.cert_pem.decode().replace("\n", "\r\n")) == one.cert_der
    # A key block next to the certificate is skipped, as Go's AppendCertsFromPEM does.
    assert _x509.pem_to_der(one.key_pem + one.cert_pem) == one.cert_der
    with pytest.raises(TLSError, match="found 0"):
        _x509.pem_to_der("not a certificate")
    with pytest.raises(TLSError, match="found 2"):
        _x509.pem_to_der(one.cert_pem + one.cert_pem)
    with pytest.raises(TLSError, match="base64"):
        _x509.pem_to_der(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(TLSError):
        _x509.pem_to_der(_x509.der_to_pem(b"\x30\x03\x02\x01\x01"))


@pytest.mark.parametrize("curve", sorted(_x509.CURVES))
def test_certificate_curve_of_our_certificates(curve: str) -> None:
    assert _x509.certificate_curve(generate_identity(curve).cert_der) == curve


def test_certificate_curve_of_foreign_keys() -> None:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])

    def self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=1))
        )
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    assert _x509.certificate_curve(self_signed(ec.generate_private_key(ec.SECP256K1()))) == (
        "1.3.132.0.10"
    )
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert _x509.certificate_curve(self_signed(rsa_key)) == "1.2.840.113549.1.1.1"


_VALID = generate_identity("P-256").cert_der


@given(st.integers(0, len(_VALID) - 1))
def test_truncated_certificates_are_refused(cut: int) -> None:
    with pytest.raises(TLSError):
        _x509.certificate_curve(_VALID[:cut])


@given(st.binary(max_size=600))
def test_garbage_is_only_ever_a_tls_error(data: bytes) -> None:
    try:
        _x509.certificate_curve(data)
    except TLSError:
        pass


@given(st.integers(0, len(_VALID) - 1), st.integers(0, 255))
def test_corrupted_certificates_are_a_tls_error_or_a_name(pos: int, byte: int) -> None:
    data = bytearray(_VALID)
    data[pos] = byte
    try:
        assert isinstance(_x509.certificate_curve(bytes(data)), str)
    except TLSError:
        pass


def test_serial_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        _x509.build_tbs_certificate(
            _x509.CURVES["P-256"], 1, 2, serial=0, not_before=NOW, not_after=NOW
        )
