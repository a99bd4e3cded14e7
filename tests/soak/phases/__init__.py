"""The soak's phases, in the order they run; each is ``run(ctx) -> PhaseResult``."""

from __future__ import annotations

PHASES = ["cycles", "inflight", "load", "streams", "host_death", "deadlines", "tmpdir"]
