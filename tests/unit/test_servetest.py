"""ServeTestConfig: stop() from any thread, before or after serving starts, exactly once."""

from __future__ import annotations

import threading

import pytest

from goplugin import Protocol, ReattachConfig
from goplugin._plugin.testmode import ServeTestConfig


def test_stop_before_the_plugin_serves_is_remembered() -> None:
    test = ServeTestConfig()
    test.stop()
    stopped = threading.Event()
    test.set_stop_trigger(stopped.set)
    assert stopped.is_set() and test.stop_requested


def _race_stops_with_the_trigger() -> int:
    test = ServeTestConfig()
    stopped = threading.Event()
    barrier = threading.Barrier(5)

    def stop() -> None:
        barrier.wait()
        test.stop()

    threads = [threading.Thread(target=stop) for _ in range(4)]
    for t in threads:
        t.start()
    barrier.wait()
    test.set_stop_trigger(stopped.set)
    for t in threads:
        t.join()
    return int(stopped.is_set())


def test_stop_from_many_threads_while_the_trigger_is_set() -> None:
    """Whether a stop() comes before or after serve() registers its trigger, none is lost."""
    assert sum(_race_stops_with_the_trigger() for _ in range(200)) == 200


def test_the_reattach_config_resolves_once() -> None:
    test = ServeTestConfig({"PLUGIN_PROTOCOL_VERSIONS": "1"})
    config = ReattachConfig(Protocol.GRPC, 1, "unix", "/tmp/x", 1, test=True)
    test.serving(config)
    test.failed(RuntimeError("late"))  # serve() ended afterwards: the config stays
    assert test.reattach_config.result(0) == config
    failed = ServeTestConfig()
    failed.failed(ValueError("bad plugin set"))
    with pytest.raises(ValueError, match="bad plugin set"):
        failed.reattach_config.result(0)
