"""The Terraform example's MessagePack: the spec's encodings, round trips, and bytes that
terraform-provider-time v0.14.1 really sent."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples-py" / "terraform"))

from tf_msgpack import UNKNOWN, Ext, packb, unpackb

# duration_parse("1h30m") as terraform-provider-time v0.14.1 answered it (a cty object).
DURATION_1H30M = (
    b"\x86\xa5hours\xcb?\xf8\x00\x00\x00\x00\x00\x00\xacmicroseconds\xcf\x00\x00\x00\x01A\xddv"
    b"\x00\xacmilliseconds\xce\x00Re\xc0\xa7minutesZ\xabnanoseconds\xcf\x00\x00\x04\xe9I\x14\xf0"
    b"\x00\xa7seconds\xcd\x15\x18"
)


def test_what_the_provider_sent_decodes() -> None:
    assert unpackb(DURATION_1H30M) == {
        "hours": 1.5,
        "minutes": 90,
        "seconds": 5400,
        "milliseconds": 5_400_000,
        "microseconds": 5_400_000_000,
        "nanoseconds": 5_400_000_000_000,
    }
    assert unpackb(b"\xd4\x00\x00") == UNKNOWN  # a failed function's result


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, b"\xc0"),
        (False, b"\xc2"),
        (True, b"\xc3"),
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\xcc\x80"),
        (65536, b"\xce\x00\x01\x00\x00"),
        (2**64 - 1, b"\xcf" + b"\xff" * 8),
        (-1, b"\xff"),
        (-32, b"\xe0"),
        (-33, b"\xd0\xdf"),
        (-(2**63), b"\xd3\x80" + b"\x00" * 7),
        (1.5, b"\xcb?\xf8" + b"\x00" * 6),
        ("", b"\xa0"),
        ("1h30m", b"\xa51h30m"),
        ("x" * 32, b"\xd9\x20" + b"x" * 32),
        (b"\x01", b"\xc4\x01\x01"),
        ([], b"\x90"),
        ([1] * 16, b"\xdc\x00\x10" + b"\x01" * 16),
        ({"a": None}, b"\x81\xa1a\xc0"),
        ({str(i): i for i in range(16)}, None),  # map16
        (Ext(0, b"\x00"), b"\xd4\x00\x00"),
        (Ext(5, b"abc"), b"\xc7\x03\x05abc"),
    ],
)
def test_the_spec_s_encodings(value: Any, encoded: bytes | None) -> None:
    data = packb(value)
    if encoded is not None:
        assert data == encoded
    assert unpackb(data) == value


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(values)
def test_round_trip(value: Any) -> None:
    assert unpackb(packb(value)) == value


def test_float32_and_nan_decode() -> None:
    assert unpackb(b"\xca?\xc0\x00\x00") == 1.5
    assert math.isnan(unpackb(packb(math.nan)))


@pytest.mark.parametrize("data", [b"", b"\xa5abc", b"\xcd\x00", b"\x92\x01", b"\xc1", b"\x01\x02"])
def test_malformed_input_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        unpackb(data)


def test_values_msgpack_cannot_carry() -> None:
    with pytest.raises(TypeError):
        packb(object())
    with pytest.raises(OverflowError):
        packb(2**64)
