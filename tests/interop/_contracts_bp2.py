"""The contract scenarios of _contracts.py over betterproto2 dataclasses (the opt-in flavour).

The vectors are read with protobuf's classes (they are JSON, which only protobuf parses
faithfully), handed to betterproto2 as bytes, and what comes back is read with protobuf's
classes again: so "equal" means the value survived betterproto2 and the plugin, to the byte.
"""

from __future__ import annotations

import datetime
from typing import Any

from _contracts import Flavour, Result, echo_cases
from gen.streaming import streaming_pb2
from gen_bp2 import common, streaming
from gen_bp2 import proto as kv
from gen_bp2.google import protobuf as wkt

#: betterproto2 0.10 reads Timestamp and Duration into datetime/timedelta: microsecond
#: precision (nanoseconds are dropped), and a negative Duration with a fraction comes back
#: with the wrong value (seconds and nanos of opposite signs). The vector that has both:
KNOWN_GAPS = {"well_known_types"}

_originals: dict[int, streaming_pb2.Event] = {}
_cases: list[tuple[str, streaming.Event]] = []


def _echo_cases() -> list[tuple[str, Any]]:
    if not _cases:
        for name, event in echo_cases():
            converted = streaming.Event.parse(event.SerializeToString())
            _originals[id(converted)] = event
            _cases.append((name, converted))
    return list(_cases)


def _echoed(event: streaming.Event, back: streaming.Event) -> Result:
    seen = streaming_pb2.Event.FromString(bytes(back))
    return {
        "equal": seen == _originals[id(event)],
        "hex": seen.SerializeToString(deterministic=True).hex(),
    }


BETTERPROTO2 = Flavour(
    PutRequest=kv.PutRequest,
    GetRequest=kv.GetRequest,
    Event=streaming.Event,
    GenerateRequest=streaming.GenerateRequest,
    empty=wkt.Empty(),
    severity=common.Severity,
    long_wait=lambda: streaming.WaitRequest(duration=datetime.timedelta(seconds=60)),
    echo_cases=_echo_cases,
    echoed=_echoed,
)
