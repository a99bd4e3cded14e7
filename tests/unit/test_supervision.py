"""The Supervisor's decisions without processes: backoff, limits, resets, permanent failures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from goplugin import RestartPolicy
from goplugin._host.supervision import RestartTracker, describe_failure, is_permanent
from goplugin.errors import (
    ChecksumError,
    IncompatibleVersionError,
    MagicCookieError,
    PluginError,
    PluginExitedError,
    StartTimeoutError,
)


def delays(policy: RestartPolicy, failures: int, draw: float = 0.0) -> list[float | None]:
    tracker = RestartTracker(policy, draw=lambda: draw)
    return [tracker.failed(now=0.0) for _ in range(failures)]


def test_delays_grow_exponentially_up_to_the_cap_then_give_up() -> None:
    policy = RestartPolicy(max_restarts=6, initial_delay=0.5, max_delay=4.0, multiplier=2.0)
    assert delays(policy, 8) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, None, None]


def test_zero_restarts_gives_up_at_the_first_failure() -> None:
    assert delays(RestartPolicy(max_restarts=0), 2) == [None, None]


def test_unlimited_restarts_never_give_up_and_the_delay_stays_finite() -> None:
    policy = RestartPolicy(max_restarts=None, initial_delay=0.1, max_delay=3.0, multiplier=10.0)
    assert delays(policy, 2000)[-1] == 3.0


@given(
    restart=st.integers(1, 100),
    draw=st.floats(0.0, 1.0, exclude_max=True),
    jitter=st.floats(0.0, 1.0),
)
def test_jitter_only_shortens_and_by_at_most_its_fraction(
    restart: int, draw: float, jitter: float
) -> None:
    policy = RestartPolicy(initial_delay=0.2, max_delay=30.0, jitter=jitter)
    full = RestartPolicy(initial_delay=0.2, max_delay=30.0, jitter=0.0).delay(restart, 0.0)
    delay = policy.delay(restart, draw)
    assert full * (1 - jitter) - 1e-12 <= delay <= full


def test_a_run_longer_than_reset_after_starts_the_count_over() -> None:
    policy = RestartPolicy(max_restarts=2, initial_delay=1.0, jitter=0.0, reset_after=10.0)
    tracker = RestartTracker(policy)
    assert tracker.failed(0.0) == 1.0
    tracker.started(1.0)
    assert tracker.failed(2.0) == 2.0  # ran 1 s: still in a row
    tracker.started(3.0)
    assert tracker.failed(20.0) == 1.0  # ran 17 s: healthy, counted afresh
    assert tracker.restarts == 1
    tracker.started(21.0)
    assert tracker.failed(22.0) == 2.0
    tracker.started(23.0)
    assert tracker.failed(24.0) is None


def test_failed_starts_count_in_a_row() -> None:
    # A start that fails never reports started(): no run can reset the count.
    policy = RestartPolicy(max_restarts=3, reset_after=0.0, jitter=0.0)
    tracker = RestartTracker(policy)
    assert [tracker.failed(t) for t in (0.0, 100.0, 200.0, 300.0)][-1] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_restarts": -1},
        {"initial_delay": -0.1},
        {"max_delay": -1.0},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"reset_after": -1.0},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RestartPolicy(**kwargs)  # type: ignore[arg-type]


def test_what_no_restart_can_fix() -> None:
    launch = PluginError("cannot run the plugin")
    launch.__cause__ = FileNotFoundError(2, "No such file")
    assert is_permanent(launch)
    assert is_permanent(FileNotFoundError(2, "No such file"))
    assert is_permanent(ChecksumError("checksums did not match"))
    assert is_permanent(IncompatibleVersionError("no common version"))
    assert not is_permanent(PluginExitedError("exited", returncode=3))
    assert not is_permanent(StartTimeoutError(1.0))


def test_a_refused_magic_cookie_is_not_restarted() -> None:
    """Host and plugin disagree on their HandshakeConfig: every restart would be refused too."""
    refused = MagicCookieError(
        "magic cookie mismatch", sent=("K", "bad"), expected=("K", "good"), returncode=1
    )
    assert is_permanent(refused)


def test_a_failed_start_says_how_it_ended() -> None:
    exited = PluginExitedError("exited", returncode=3, stderr_tail=["boom"])
    assert describe_failure(exited) == (3, ("boom",))
    assert describe_failure(StartTimeoutError(1.0, stderr_tail=["slow"])) == (None, ("slow",))
    assert describe_failure(ValueError("x")) == (None, ())
