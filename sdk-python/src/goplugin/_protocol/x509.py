"""Sans-IO X.509 for AutoMTLS: go-plugin's certificate template as DER, and the little we read back.

go-plugin's ``generateCert`` (mtls.go) always produces the same shape of certificate; only
the key, the serial and the dates change. Encoding that one shape here, instead of going
through ``cryptography.x509``'s builder, keeps ~60 ms of imports off a plugin's start-up: the
only crypto left to a library is key generation and one signature (``_transport/mtls.py``).
Reading is limited to what the transport must decide: a certificate's DER from PEM and its
key's curve.
Everything is a pure function over bytes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import TLSError

__all__ = [
    "CURVES",
    "Curve",
    "build_tbs_certificate",
    "certificate_curve",
    "der_to_pem",
    "ec_private_key_der",
    "pem_to_der",
    "pem_to_ders",
    "sign_certificate",
]


def _encode_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _length(len(value)) + value


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _integer(n: int) -> bytes:
    # DER: minimal two's complement; our integers are never negative.
    raw = n.to_bytes(n.bit_length() // 8 + 1, "big")
    if len(raw) > 1 and raw[0] == 0 and raw[1] < 0x80:
        raw = raw[1:]
    return _tlv(0x02, raw)


def _bit_string(data: bytes, unused_bits: int = 0) -> bytes:
    return _tlv(0x03, bytes([unused_bits]) + data)


@dataclass(frozen=True)
class Curve:
    """A NIST curve as go-plugin's certificates use it: OID, sizes, Go's signature hash."""

    name: str
    oid: bytes  # DER of the namedCurve OID
    key_bytes: int  # length of the private scalar and of each point coordinate
    hash_name: str  # Go's x509 picks the hash by curve size (a cryptography.hashes class)
    signature_algorithm: bytes  # DER AlgorithmIdentifier for ecdsa-with-<hash>
    secg_name: str  # the class in cryptography's ec module


def _curve(name: str, oid: str, bits: int, hash_name: str, sig_oid: str, secg: str) -> Curve:
    return Curve(
        name, _encode_oid(oid), (bits + 7) // 8, hash_name, _seq(_encode_oid(sig_oid)), secg
    )


#: The curves we can make certificates on. go-plugin itself always uses P-521.
CURVES: dict[str, Curve] = {
    c.name: c
    for c in (
        _curve("P-256", "1.2.840.10045.3.1.7", 256, "SHA256", "1.2.840.10045.4.3.2", "SECP256R1"),
        _curve("P-384", "1.3.132.0.34", 384, "SHA384", "1.2.840.10045.4.3.3", "SECP384R1"),
        _curve("P-521", "1.3.132.0.35", 521, "SHA512", "1.2.840.10045.4.3.4", "SECP521R1"),
    )
}
_CURVE_BY_OID = {c.oid[2:]: c.name for c in CURVES.values()}  # keyed by the OID body

_EC_PUBLIC_KEY = _encode_oid("1.2.840.10045.2.1")
_HOST = b"localhost"
_ORGANIZATION = b"HashiCorp"
# Subject = Issuer: O=HashiCorp, CN=localhost, in Go's pkix.Name order, as PrintableStrings.
_NAME = _seq(
    _tlv(0x31, _seq(_encode_oid("2.5.4.10"), _tlv(0x13, _ORGANIZATION))),
    _tlv(0x31, _seq(_encode_oid("2.5.4.3"), _tlv(0x13, _HOST))),
)
_TRUE = _tlv(0x01, b"\xff")
# KeyUsage DigitalSignature|KeyEncipherment|KeyAgreement|CertSign = bits 0,2,4,5 of a BIT
# STRING (bit 0 is the most significant), 6 bits long as Go encodes it.
_KEY_USAGE = _seq(_encode_oid("2.5.29.15"), _TRUE, _tlv(0x04, _bit_string(b"\xac", 2)))
_EXT_KEY_USAGE = _seq(
    _encode_oid("2.5.29.37"),
    _tlv(0x04, _seq(_encode_oid("1.3.6.1.5.5.7.3.2"), _encode_oid("1.3.6.1.5.5.7.3.1"))),
)
_BASIC_CONSTRAINTS = _seq(_encode_oid("2.5.29.19"), _TRUE, _tlv(0x04, _seq(_TRUE)))
_SAN = _seq(_encode_oid("2.5.29.17"), _tlv(0x04, _seq(_tlv(0x82, _HOST))))
_SKI_OID = _encode_oid("2.5.29.14")
_VERSION_3 = _tlv(0xA0, _integer(2))


def _time(moment: _dt.datetime) -> bytes:
    # RFC 5280 (and Go): UTCTime for 1950-2049, GeneralizedTime otherwise; whole seconds.
    moment = moment.astimezone(_dt.timezone.utc)
    if 1950 <= moment.year < 2050:
        return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(0x18, f"{moment.year:04d}{moment.strftime('%m%d%H%M%S')}Z".encode("ascii"))


def _public_point(curve: Curve, x: int, y: int) -> bytes:
    return b"\x04" + x.to_bytes(curve.key_bytes, "big") + y.to_bytes(curve.key_bytes, "big")


def build_tbs_certificate(
    curve: Curve,
    public_x: int,
    public_y: int,
    *,
    serial: int,
    not_before: _dt.datetime,
    not_after: _dt.datetime,
) -> bytes:
    """The to-be-signed part of go-plugin's AutoMTLS certificate for this public key.

    Self-signed CA, subject and issuer ``O=HashiCorp, CN=localhost``, SAN DNS ``localhost``,
    EKU clientAuth+serverAuth, KeyUsage and BasicConstraints critical, and Go's subject key id
    (the first 20 bytes of SHA-256 of the public key); no authority key id, like Go for a
    self-signed certificate.
    """
    if serial <= 0:
        raise ValueError("the serial number must be positive")
    point = _public_point(curve, public_x, public_y)
    spki = _seq(_seq(_EC_PUBLIC_KEY, curve.oid), _bit_string(point))
    ski = _seq(_SKI_OID, _tlv(0x04, _tlv(0x04, hashlib.sha256(point).digest()[:20])))
    extensions = _seq(_KEY_USAGE, _EXT_KEY_USAGE, _BASIC_CONSTRAINTS, ski, _SAN)
    return _seq(
        _VERSION_3,
        _integer(serial),
        curve.signature_algorithm,
        _NAME,
        _seq(_time(not_before), _time(not_after)),
        _NAME,
        spki,
        _tlv(0xA3, extensions),
    )


def sign_certificate(curve: Curve, tbs: bytes, signature: bytes) -> bytes:
    """The certificate's DER: the TBS, the algorithm and the DER ECDSA signature over the TBS."""
    return _seq(tbs, curve.signature_algorithm, _bit_string(signature))


def ec_private_key_der(curve: Curve, private_value: int, public_x: int, public_y: int) -> bytes:
    """SEC 1 ``ECPrivateKey`` (PEM type ``EC PRIVATE KEY``), as Go's MarshalECPrivateKey."""
    return _seq(
        _integer(1),
        _tlv(0x04, private_value.to_bytes(curve.key_bytes, "big")),
        _tlv(0xA0, curve.oid),
        _tlv(0xA1, _bit_string(_public_point(curve, public_x, public_y))),
    )


def der_to_pem(der: bytes, label: str = "CERTIFICATE") -> bytes:
    """PEM with 64-character lines, as Go's pem.Encode writes it."""
    text = base64.b64encode(der)
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return b"".join(
        [f"-----BEGIN {label}-----\n".encode(), *(line + b"\n" for line in lines),
         f"-----END {label}-----\n".encode()]
    )  # fmt: skip


_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


def pem_to_ders(pem: bytes | str, label: str = "CERTIFICATE") -> list[bytes]:
    """Every ``label`` block of a PEM text, decoded; other blocks are skipped like Go does."""
    if isinstance(pem, str):
        pem = pem.encode("ascii", "replace")
    found: list[bytes] = []
    for match in _PEM_BLOCK.finditer(pem):
        if match.group(1).decode() != label:
            continue
        body = b"".join(match.group(2).split())
        try:
            found.append(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            raise TLSError(f"malformed base64 in a PEM {label} block") from None
    return found


def pem_to_der(pem: bytes | str) -> bytes:
    """The single certificate of a PEM text (``PLUGIN_CLIENT_CERT``); anything else is an error."""
    ders = pem_to_ders(pem)
    if len(ders) != 1:
        raise TLSError(f"expected one PEM certificate, found {len(ders)}")
    certificate_curve(ders[0])  # refuse garbage now rather than at the first handshake
    return ders[0]


# -- reading -----------------------------------------------------------------------------


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    try:
        tag = data[pos]
        if tag & 0x1F == 0x1F:
            raise TLSError("certificate uses a high tag number")
        first = data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise TLSError("certificate has an unsupported DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
    except IndexError:
        raise TLSError("truncated certificate") from None
    end = pos + length
    if end > len(data):
        raise TLSError("truncated certificate")
    return tag, pos, end


def _children(data: bytes, start: int, end: int) -> Iterable[tuple[int, int, int]]:
    pos = start
    while pos < end:
        tag, value_start, value_end = _read_tlv(data, pos)
        if value_end > end:
            raise TLSError("certificate element overruns its parent")
        yield tag, value_start, value_end
        pos = value_end


def _expect(element: tuple[int, int, int] | None, tag: int, what: str) -> tuple[int, int]:
    if element is None or element[0] != tag:
        raise TLSError(f"not an X.509 certificate: bad {what}")
    return element[1], element[2]


def certificate_curve(der: bytes) -> str:
    """The curve of an ECDSA certificate's key (``"P-521"``…), or the key algorithm's OID.

    This is all a transport needs to choose between grpcio's own TLS (BoringSSL cannot use
    P-521) and the OpenSSL relay, without importing an X.509 library.
    """
    start, end = _expect(next(iter(_children(der, 0, len(der))), None), 0x30, "Certificate")
    start, end = _expect(next(iter(_children(der, start, end)), None), 0x30, "TBSCertificate")
    fields = list(_children(der, start, end))
    if fields and fields[0][0] == 0xA0:  # explicit version
        fields = fields[1:]
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    if len(fields) < 6:
        raise TLSError("not an X.509 certificate: too few TBSCertificate fields")
    start, end = _expect(fields[5], 0x30, "SubjectPublicKeyInfo")
    start, end = _expect(next(iter(_children(der, start, end)), None), 0x30, "AlgorithmIdentifier")
    algorithm = list(_children(der, start, end))
    a_start, a_end = _expect(algorithm[0] if algorithm else None, 0x06, "key algorithm")
    if der[a_start:a_end] != _EC_PUBLIC_KEY[2:]:
        return _dotted(der[a_start:a_end])
    p_start, p_end = _expect(algorithm[1] if len(algorithm) > 1 else None, 0x06, "curve")
    return _CURVE_BY_OID.get(der[p_start:p_end], _dotted(der[p_start:p_end]))


def _dotted(body: bytes) -> str:
    """An OID's body as text, for messages about keys we do not know."""
    values: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            values.append(value)
            value = 0
    if not values:
        return ""
    first = values[0]
    arcs = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in arcs + values[1:])
