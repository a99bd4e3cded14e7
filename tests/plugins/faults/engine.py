"""Call faults that report what a handler sees of its call (serving-engine tests)."""

from __future__ import annotations

from typing import Any

from . import call


@call("remaining")
def remaining(arg: str, context: Any) -> bytes:
    """The caller's deadline as the handler sees it: context.time_remaining(), or "none"."""
    left = context.time_remaining()
    return b"none" if left is None else f"{left:.3f}".encode()


@call("metadata")
def metadata(arg: str, context: Any) -> bytes:
    """The value of invocation metadata key ``arg`` ("" if absent)."""
    found = dict(context.invocation_metadata()).get(arg, "")
    return found if isinstance(found, bytes) else found.encode()
