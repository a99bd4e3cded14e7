"""Every phase of the soak (tests/soak, ``nox -s soak``) at a few cycles: CI runs its code.

Each phase checks the issue's targets itself (typed errors, no hang, deadlines, exit after a
host's death, a long TMPDIR, 0 leaks); here a phase runs at ``TINY`` scale and must meet
them. Where a phase runs per plugin language, protocol and host flavour, the tests take a
pairwise subset (each language, protocol and flavour at least once): the soak runs them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from leaks import hold_grpc
from soak.core import TINY, Context, PhaseResult, Scale
from soak.phases import cycles, deadlines, host_death, inflight, load, streams, tmpdir
from soak.plugins import Kind
from soak.report import terminal

pytestmark = pytest.mark.interop

PAIRWISE = [
    Kind("go", "grpc", "sync"),
    Kind("go", "netrpc", "aio"),
    Kind("python", "grpc", "aio"),
    Kind("python", "netrpc", "sync"),
]
GO_KINDS = [Kind("go", p, f) for p in ("grpc", "netrpc") for f in ("sync", "aio")]

_warmed = False


@pytest.fixture
def ctx(private_tmp: Path, plugin_pythonpath: None, generated: Path) -> Iterator[Context]:
    """TINY scale in a private TMPDIR, after a launch of each host flavour and protocol: what
    lives as long as the process starts then, and is not a phase's leak."""
    global _warmed
    if not _warmed:
        hold_grpc()
        cycles.run(Context(Scale(cycles=1, cycle_concurrency=1), private_tmp), GO_KINDS)
        _warmed = True
    yield Context(TINY, private_tmp, log=lambda _: None)


def passed(result: PhaseResult) -> None:
    from soak.report import Machine

    machine = Machine(0, [], "", "", "", "", "")
    assert result.passed, terminal([result], machine)


def test_cycles(ctx: Context) -> None:
    passed(cycles.run(ctx, PAIRWISE))


def test_calls_in_flight_through_a_sigkill(ctx: Context) -> None:
    passed(inflight.run(ctx, PAIRWISE))


def test_load(ctx: Context) -> None:
    passed(load.run(ctx, PAIRWISE))


def test_streams_up_to_the_limit(ctx: Context) -> None:
    cases = [
        ("python", "sync", "grpc"),
        ("python", "aio", "netrpc"),
        ("go", "sync", "grpc"),
        ("go", "sync", "netrpc"),
    ]
    passed(streams.run(ctx, cases))


def test_plugins_exit_after_their_hosts_sigkill(ctx: Context) -> None:
    passed(host_death.run(ctx))


def test_deadline_precision(ctx: Context) -> None:
    passed(deadlines.run(ctx, GO_KINDS))


def test_a_long_tmpdir(ctx: Context) -> None:
    passed(tmpdir.run(ctx, PAIRWISE))
